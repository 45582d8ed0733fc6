//! The hosted servers' recorded MCP requests as OTLP spans, so that an export destination
//! gets them like the telemetry customers send: one server span per request, named and
//! attributed per the OTel MCP semantic conventions (`reference/observability.md` §2.2).
//! Arguments and results are opt-in there and stay out.

use mcplatform_core::hosting::{McpRequestRecord, RequestOutcome};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status,
};
use prost::Message;

/// `service.name` of the hosted servers' spans.
pub const HOSTED_SERVICE: &str = "mcplatform-hosted";

fn text(key: &str, value: impl Into<String>) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(value.into())) }),
        ..KeyValue::default()
    }
}

fn nanos(at: time::OffsetDateTime) -> u64 {
    u64::try_from(at.unix_timestamp_nanos()).unwrap_or_default()
}

/// An `ExportTraceServiceRequest` (protobuf) with one span per record, all of one server
/// (`server` names it in the resource, with its id).
pub fn hosted_spans(server: &str, server_id: &str, records: &[&McpRequestRecord]) -> Vec<u8> {
    let spans = records.iter().map(|record| span_of(record)).collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    text("service.name", HOSTED_SERVICE),
                    text("mcplatform.server.slug", server),
                    text("mcplatform.server.id", server_id),
                ],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "mcplatform".to_owned(),
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    ..InstrumentationScope::default()
                }),
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
    .encode_to_vec()
}

fn span_of(record: &McpRequestRecord) -> Span {
    // The request's UUIDv7 is unique: its 16 bytes are the trace id, its last 8 the span id.
    let id = record.id.as_uuid().as_bytes();
    let mut attributes = vec![text("mcp.method.name", record.method.as_str())];
    let mut name = record.method.clone();
    if let Some(tool) = &record.tool_name {
        name = format!("{} {tool}", record.method);
        attributes.push(text("gen_ai.tool.name", tool.as_str()));
        attributes.push(text("gen_ai.operation.name", "execute_tool"));
    }
    let optional = [
        ("mcp.session.id", record.session_id.as_deref()),
        ("jsonrpc.request.id", record.jsonrpc_id.as_deref()),
        ("mcp.protocol.version", record.protocol_version.as_deref()),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            attributes.push(text(key, value));
        }
    }
    let status = match record.outcome {
        RequestOutcome::Ok => None,
        RequestOutcome::ToolError => {
            attributes.push(text("error.type", "tool_error"));
            Some(record.error_message.clone().unwrap_or_default())
        }
        RequestOutcome::ProtocolError => {
            let code = record.error_code.map_or_else(|| "_OTHER".to_owned(), |c| c.to_string());
            if record.error_code.is_some() {
                attributes.push(text("rpc.response.status_code", code.as_str()));
            }
            attributes.push(text("error.type", code));
            Some(record.error_message.clone().unwrap_or_default())
        }
    };
    let start = nanos(record.started_at);
    let duration = u64::try_from(record.duration_us).unwrap_or_default().saturating_mul(1_000);
    Span {
        trace_id: id.to_vec(),
        span_id: id[8..].to_vec(),
        name,
        kind: span::SpanKind::Server as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: start.saturating_add(duration),
        attributes,
        status: status.map(|message| Status { message, code: status::StatusCode::Error as i32 }),
        ..Span::default()
    }
}

#[cfg(test)]
mod tests {
    use mcplatform_core::ids::{McpRequestId, McpServerId, OrgId};

    use super::*;
    use crate::{Encoding, Signal, decode};

    fn record(tool: Option<&str>, outcome: RequestOutcome, code: Option<i64>) -> McpRequestRecord {
        McpRequestRecord {
            id: McpRequestId::new(),
            organization_id: OrgId::new(),
            mcp_server_id: McpServerId::new(),
            session_id: Some("s-1".into()),
            end_user_id: None,
            identity_source: mcplatform_core::hosting::IdentitySource::None,
            method: if tool.is_some() { "tools/call" } else { "tools/list" }.into(),
            tool_name: tool.map(str::to_owned),
            jsonrpc_id: Some("7".into()),
            protocol_version: Some("2025-06-18".into()),
            arguments: Some(r#"{"secret":"never exported"}"#.into()),
            result: None,
            outcome,
            error_code: code,
            error_message: code.map(|_| "bad params".to_owned()),
            duration_us: 1_500,
            started_at: time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
        }
    }

    #[test]
    fn recorded_requests_decode_back_as_the_same_mcp_operations() {
        let ok = record(Some("search"), RequestOutcome::Ok, None);
        let tool_error = record(Some("search"), RequestOutcome::ToolError, None);
        let protocol = record(None, RequestOutcome::ProtocolError, Some(-32602));
        let body = hosted_spans("docs", "server-id", &[&ok, &tool_error, &protocol]);
        assert!(!String::from_utf8_lossy(&body).contains("never exported"));
        let decoded = decode(Signal::Traces, Encoding::Protobuf, &body).unwrap();
        assert_eq!(decoded.rejected, 0);
        let spans = decoded.batch.spans;
        assert_eq!(spans.len(), 3);
        assert_eq!(spans[0].name, "tools/call search");
        assert_eq!(spans[0].mcp.target.as_deref(), Some("search"));
        assert_eq!(spans[0].mcp.session_id.as_deref(), Some("s-1"));
        assert_eq!(spans[0].mcp.outcome, Some(RequestOutcome::Ok));
        assert_eq!(spans[0].end_ns - spans[0].start_ns, 1_500_000);
        assert_eq!(spans[0].service_name.as_deref(), Some(HOSTED_SERVICE));
        assert_eq!(spans[0].trace_id, ok.id.as_uuid().simple().to_string());
        assert_eq!(spans[1].mcp.outcome, Some(RequestOutcome::ToolError));
        assert_eq!(spans[2].mcp.outcome, Some(RequestOutcome::ProtocolError));
        assert_eq!(spans[2].mcp.error_type.as_deref(), Some("-32602"));
    }
}
