//! Spans → [`SpanRecord`]s.

use mcplatform_core::telemetry::{SpanKind, SpanRecord, SpanStatus};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::{Value, json};

use crate::Decoded;
use crate::attributes::{
    attributes, canonicalize, column_text, id_hex, mcp_fields, nanos, resource,
};

pub(crate) fn convert(request: ExportTraceServiceRequest) -> Decoded {
    let mut decoded = Decoded::default();
    for resource_spans in request.resource_spans {
        for scope_spans in resource_spans.scope_spans {
            let (resource, service_name) =
                resource(resource_spans.resource.as_ref(), scope_spans.scope.as_ref());
            for span in scope_spans.spans {
                match record(span, &resource, &service_name) {
                    Ok(span) => decoded.batch.spans.push(span),
                    Err(reason) => decoded.reject(reason),
                }
            }
        }
    }
    decoded
}

fn record(span: Span, resource: &str, service_name: &Option<String>) -> Result<SpanRecord, String> {
    let trace_id = id_hex(&span.trace_id, 16)
        .ok_or_else(|| format!("span {:?} has no valid 16-byte trace id", span.name))?;
    let span_id = id_hex(&span.span_id, 8)
        .ok_or_else(|| format!("span {:?} has no valid 8-byte span id", span.name))?;
    let status = span.status.as_ref().map_or(SpanStatus::Unset, |s| SpanStatus::from_otlp(s.code));
    let status_message = span.status.map(|s| s.message).filter(|message| !message.is_empty());
    let mut attrs = attributes(span.attributes);
    canonicalize(&mut attrs);
    let mcp = mcp_fields(&attrs, Some(&span.name), status == SpanStatus::Error);
    let events: Vec<Value> = span
        .events
        .into_iter()
        .map(|event| {
            json!({
                "name": event.name,
                "time_unix_nano": nanos(event.time_unix_nano),
                "attributes": attributes(event.attributes),
            })
        })
        .collect();
    let links: Vec<Value> = span
        .links
        .into_iter()
        .map(|link| {
            json!({
                "trace_id": hex::encode(link.trace_id),
                "span_id": hex::encode(link.span_id),
                "attributes": attributes(link.attributes),
            })
        })
        .collect();
    let events = (!events.is_empty() || !links.is_empty())
        .then(|| json!({"events": events, "links": links}).to_string());
    let start_ns = nanos(span.start_time_unix_nano);
    Ok(SpanRecord {
        trace_id,
        span_id,
        parent_span_id: id_hex(&span.parent_span_id, 8),
        name: column_text(span.name),
        kind: SpanKind::from_otlp(span.kind),
        service_name: service_name.clone(),
        start_ns,
        // An end before the start (clock trouble in the sender) is a zero-length span.
        end_ns: nanos(span.end_time_unix_nano).max(start_ns),
        status,
        status_message,
        mcp,
        attributes: Value::Object(attrs).to_string(),
        resource: resource.to_owned(),
        events,
    })
}

#[cfg(test)]
mod tests {
    use mcplatform_core::hosting::RequestOutcome;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Status};
    use prost::Message;

    use super::*;
    use crate::{Encoding, Signal, decode};

    fn string(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(any_value::Value::StringValue(value.into())) }),
            ..KeyValue::default()
        }
    }

    #[test]
    fn protobuf_spans_become_records_and_bad_ids_are_rejected() {
        let span = |id: u8, attributes| Span {
            trace_id: vec![1; 16],
            span_id: vec![id; 8],
            name: "tools/call search".into(),
            kind: 2,
            start_time_unix_nano: 1_000,
            end_time_unix_nano: 5_000,
            attributes,
            status: Some(Status { code: 2, message: "boom".into() }),
            ..Span::default()
        };
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![string("service.name", "docs-mcp")],
                    ..Resource::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans: vec![
                        span(
                            2,
                            vec![
                                string("mcp.method.name", "tools/call"),
                                string("error.type", "tool_error"),
                            ],
                        ),
                        span(0, vec![]),
                    ],
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        };
        let decoded = decode(Signal::Traces, Encoding::Protobuf, &request.encode_to_vec()).unwrap();
        assert_eq!(decoded.rejected, 1);
        assert!(decoded.error_message.unwrap().contains("span id"));
        let span = &decoded.batch.spans[0];
        assert_eq!(span.trace_id, "01".repeat(16));
        assert_eq!(span.service_name.as_deref(), Some("docs-mcp"));
        assert_eq!((span.kind, span.status), (SpanKind::Server, SpanStatus::Error));
        assert_eq!(span.duration_ns(), 4_000);
        assert_eq!(span.mcp.target.as_deref(), Some("search"));
        assert_eq!(span.mcp.outcome, Some(RequestOutcome::ToolError));
        assert_eq!(span.status_message.as_deref(), Some("boom"));
        assert!(span.resource.contains("docs-mcp"));
    }

    #[test]
    fn truncated_protobuf_is_an_error() {
        let request =
            ExportTraceServiceRequest { resource_spans: vec![ResourceSpans::default(); 3] };
        let bytes = request.encode_to_vec();
        let error = decode(Signal::Traces, Encoding::Protobuf, &bytes[..bytes.len() - 1]);
        assert!(error.unwrap_err().to_string().starts_with("invalid protobuf"));
    }
}
