//! Log records → [`LogRecord`]s.

use mcplatform_core::telemetry::LogRecord;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use serde_json::Value;

use crate::Decoded;
use crate::attributes::{
    any_value, attributes, canonicalize, clip, column_text, id_hex, nanos, resource, text,
};

/// Longest log body kept; a longer one is cut and marked.
const MAX_BODY_CHARS: usize = 32_000;

pub(crate) fn convert(request: ExportLogsServiceRequest) -> Decoded {
    let mut decoded = Decoded::default();
    for resource_logs in request.resource_logs {
        for scope_logs in resource_logs.scope_logs {
            let (resource, service_name) =
                resource(resource_logs.resource.as_ref(), scope_logs.scope.as_ref());
            for log in scope_logs.log_records {
                let body = match log.body {
                    Some(body) => match body.value {
                        Some(any_value::Value::StringValue(text)) => {
                            column_text(clip(text, MAX_BODY_CHARS))
                        }
                        _ => any_value(body).to_string(),
                    },
                    None => String::new(),
                };
                let mut attrs = attributes(log.attributes);
                canonicalize(&mut attrs);
                let observed_ns = nanos(log.observed_time_unix_nano);
                decoded.batch.logs.push(LogRecord {
                    // The spec: use the observed time when the event time is unknown.
                    time_ns: if log.time_unix_nano == 0 {
                        observed_ns
                    } else {
                        nanos(log.time_unix_nano)
                    },
                    observed_ns,
                    severity_number: log.severity_number.clamp(0, 24),
                    severity_text: Some(column_text(log.severity_text)).filter(|t| !t.is_empty()),
                    body,
                    trace_id: id_hex(&log.trace_id, 16),
                    span_id: id_hex(&log.span_id, 8),
                    service_name: service_name.clone(),
                    session_id: text(&attrs, "mcp.session.id")
                        .or_else(|| text(&attrs, "session.id")),
                    attributes: Value::Object(attrs).to_string(),
                    resource: resource.clone(),
                });
            }
        }
    }
    decoded
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::{Encoding, Signal, decode};

    #[test]
    fn bodies_times_and_trace_context_are_kept() {
        let body = json!({"resourceLogs": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "docs"}}]},
            "scopeLogs": [{"logRecords": [
                {"observedTimeUnixNano": "5", "severityText": "WARN", "severityNumber": 13,
                 "body": {"stringValue": "slow tool"},
                 "traceId": "5b8eff7b98038103d269b633813fc60c", "spanId": "0001020304050607",
                 "attributes": [{"key": "mcp.session_id", "value": {"stringValue": "s9"}}]},
                {"timeUnixNano": "7", "body": {"kvlistValue": {"values": [{"key": "a", "value": {"intValue": "1"}}]}}}
            ]}]
        }]});
        let decoded =
            decode(Signal::Logs, Encoding::Json, &serde_json::to_vec(&body).unwrap()).unwrap();
        let [warn, structured] = decoded.batch.logs.as_slice() else { panic!() };
        assert_eq!((warn.time_ns, warn.severity_number), (5, 13));
        assert_eq!(warn.body, "slow tool");
        assert_eq!(warn.session_id.as_deref(), Some("s9"));
        assert_eq!(warn.service_name.as_deref(), Some("docs"));
        assert_eq!(warn.span_id.as_deref(), Some("0001020304050607"));
        assert_eq!((structured.time_ns, structured.body.as_str()), (7, r#"{"a":1}"#));
        assert_eq!(structured.trace_id, None);
    }
}
