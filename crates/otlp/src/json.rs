//! OTLP/JSON, mended before decoding. `opentelemetry-proto` 0.33 rejects or silently empties
//! what real exporters send (`reference/observability.md` §4.2, measured): enum names instead of
//! numbers, `null` fields, base64 ids, snake_case keys (decoded as an empty request!) and
//! `{low, high}` timestamps of old JavaScript exporters. [`normalize`] turns all of them into
//! the form the spec defines, so no body is accepted while its data is lost.

use base64::Engine;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::{DecodeError, Signal};

/// Parses, mends and decodes a JSON `Export*ServiceRequest`.
pub(crate) fn decode<T: DeserializeOwned>(signal: Signal, body: &[u8]) -> Result<T, DecodeError> {
    let mut value: Value = serde_json::from_slice(body)
        .map_err(|e| DecodeError::Invalid(format!("invalid JSON: {e}")))?;
    let Value::Object(request) = &mut value else {
        return Err(DecodeError::Invalid("the body must be a JSON object".into()));
    };
    normalize_object(request);
    let expected = match signal {
        Signal::Traces => "resourceSpans",
        Signal::Metrics => "resourceMetrics",
        Signal::Logs => "resourceLogs",
    };
    // Unknown fields are ignored by the spec; a body with none of the one field that matters
    // is a request for another signal (or no OTLP at all), not an empty export.
    if !request.is_empty() && !request.contains_key(expected) {
        let keys: Vec<&str> = request.keys().map(String::as_str).collect();
        return Err(DecodeError::Invalid(format!(
            "no {expected} in the body (found {}); is this the right /v1 endpoint?",
            keys.join(", ")
        )));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        DecodeError::Invalid(format!("invalid OTLP/JSON at {}: {}", e.path(), e.inner()))
    })
}

fn normalize_object(object: &mut Map<String, Value>) {
    let entries = std::mem::take(object);
    for (key, mut value) in entries {
        if value.is_null() {
            continue;
        }
        let key = camel_case(key);
        normalize_field(&key, &mut value);
        object.insert(key, value);
    }
}

fn normalize_value(value: &mut Value) {
    match value {
        Value::Object(object) => normalize_object(object),
        Value::Array(items) => {
            items.retain(|item| !item.is_null());
            items.iter_mut().for_each(normalize_value);
        }
        _ => {}
    }
}

fn normalize_field(key: &str, value: &mut Value) {
    let replacement = match (key, &*value) {
        ("kind", Value::String(name)) => enum_number(name, "SPAN_KIND_", SPAN_KINDS),
        ("code", Value::String(name)) => enum_number(name, "STATUS_CODE_", STATUS_CODES),
        ("aggregationTemporality", Value::String(name)) => {
            enum_number(name, "AGGREGATION_TEMPORALITY_", TEMPORALITIES)
        }
        ("severityNumber", Value::String(name)) => {
            enum_number(name, "SEVERITY_NUMBER_", SEVERITIES)
        }
        ("traceId", Value::String(id)) => hex_id(id, 16),
        ("spanId" | "parentSpanId", Value::String(id)) => hex_id(id, 8),
        (key, Value::Object(parts)) if key.ends_with("TimeUnixNano") || key == "timeUnixNano" => {
            low_high(parts).map(|nanos| Value::String(nanos.to_string()))
        }
        _ => None,
    };
    match replacement {
        Some(replacement) => *value = replacement,
        None => normalize_value(value),
    }
}

/// `resource_spans` → `resourceSpans`. OTLP/JSON object keys are all proto field names
/// (attribute keys are values of `key`), so every key can be converted.
fn camel_case(key: String) -> String {
    if !key.contains('_') {
        return key;
    }
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' {
            upper = !out.is_empty();
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

const SPAN_KINDS: &[&str] =
    &["UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"];
const STATUS_CODES: &[&str] = &["UNSET", "OK", "ERROR"];
const TEMPORALITIES: &[&str] = &["UNSPECIFIED", "DELTA", "CUMULATIVE"];
const SEVERITIES: &[&str] = &[
    "UNSPECIFIED",
    "TRACE",
    "TRACE2",
    "TRACE3",
    "TRACE4",
    "DEBUG",
    "DEBUG2",
    "DEBUG3",
    "DEBUG4",
    "INFO",
    "INFO2",
    "INFO3",
    "INFO4",
    "WARN",
    "WARN2",
    "WARN3",
    "WARN4",
    "ERROR",
    "ERROR2",
    "ERROR3",
    "ERROR4",
    "FATAL",
    "FATAL2",
    "FATAL3",
    "FATAL4",
];

/// An enum given by name (`SPAN_KIND_SERVER`, or `SERVER`) or as a number in a string, as its
/// number. An unknown name is left for the decoder to report.
fn enum_number(name: &str, prefix: &str, names: &[&str]) -> Option<Value> {
    if let Ok(number) = name.parse::<i64>() {
        return Some(Value::from(number));
    }
    let bare = name.strip_prefix(prefix).unwrap_or(name);
    names.iter().position(|known| known.eq_ignore_ascii_case(bare)).map(Value::from)
}

/// Ids are hex in OTLP/JSON; some exporters send the protobuf JSON mapping's base64 instead.
/// An id that is neither is left for the decoder to report.
fn hex_id(id: &str, bytes: usize) -> Option<Value> {
    if id.len() == bytes * 2 || id.is_empty() {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(id).ok()?;
    (decoded.len() == bytes).then(|| Value::String(hex::encode(decoded)))
}

/// `{low, high}`: a 64-bit integer as JavaScript's `Long` of old exporters sent it.
fn low_high(parts: &Map<String, Value>) -> Option<u64> {
    let half = |key: &str| parts.get(key).and_then(Value::as_i64).map(|n| u64::from(n as u32));
    Some((half("high")? << 32) | half("low")?)
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    use serde_json::json;

    use super::*;

    fn traces(body: Value) -> Result<ExportTraceServiceRequest, DecodeError> {
        decode(Signal::Traces, &serde_json::to_vec(&body).unwrap())
    }

    #[test]
    fn enum_names_nulls_and_base64_ids_are_mended() {
        let request =
            traces(json!({"resourceSpans": [{"resource": null, "scopeSpans": [{"spans": [{
                "traceId": "W47/95gDgQPSabYzgT/GDA==",
                "spanId": "AAECAwQFBgc=",
                "name": "tools/call search",
                "kind": "SPAN_KIND_SERVER",
                "startTimeUnixNano": {"low": 1, "high": 1},
                "endTimeUnixNano": "4294967300",
                "attributes": null,
                "status": {"code": "STATUS_CODE_ERROR", "message": null}
            }]}]}]}))
            .unwrap();
        let span = &request.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(hex::encode(&span.trace_id), "5b8efff798038103d269b633813fc60c");
        assert_eq!(hex::encode(&span.span_id), "0001020304050607");
        assert_eq!((span.kind, span.status.as_ref().unwrap().code), (2, 2));
        assert_eq!(span.start_time_unix_nano, (1 << 32) + 1);
        assert_eq!(span.end_time_unix_nano, 4_294_967_300);
    }

    #[test]
    fn snake_case_keys_decode_rather_than_vanish() {
        let request = traces(json!({"resource_spans": [{"scope_spans": [{"spans": [{
            "trace_id": "5b8eff7b98038103d269b633813fc60c",
            "span_id": "0001020304050607",
            "name": "x",
            "start_time_unix_nano": "1",
            "end_time_unix_nano": "2"
        }]}]}]}))
        .unwrap();
        assert_eq!(request.resource_spans[0].scope_spans[0].spans[0].end_time_unix_nano, 2);
    }

    #[test]
    fn temporality_names_keep_the_metric_data() {
        let body = json!({"resourceMetrics": [{"scopeMetrics": [{"metrics": [{
            "name": "calls", "sum": {"aggregationTemporality": "AGGREGATION_TEMPORALITY_CUMULATIVE",
                "isMonotonic": true, "dataPoints": [{"asInt": "5", "timeUnixNano": "1"}]}
        }]}]}]});
        let request: ExportMetricsServiceRequest =
            decode(Signal::Metrics, &serde_json::to_vec(&body).unwrap()).unwrap();
        let Some(Data::Sum(sum)) = &request.resource_metrics[0].scope_metrics[0].metrics[0].data
        else {
            panic!("the sum was lost");
        };
        assert_eq!(sum.aggregation_temporality, 2);
        let body = json!({"resourceLogs": [{"scopeLogs": [{"logRecords": [
            {"severityNumber": "SEVERITY_NUMBER_WARN", "body": {"stringValue": "hi"}}
        ]}]}]});
        let request: ExportLogsServiceRequest =
            decode(Signal::Logs, &serde_json::to_vec(&body).unwrap()).unwrap();
        assert_eq!(request.resource_logs[0].scope_logs[0].log_records[0].severity_number, 13);
    }

    #[test]
    fn the_wrong_signal_or_garbage_is_an_error_with_a_reason() {
        let wrong = traces(json!({"resourceLogs": []})).unwrap_err();
        assert!(wrong.to_string().contains("no resourceSpans"), "{wrong}");
        let garbage = decode::<ExportTraceServiceRequest>(Signal::Traces, b"{nope").unwrap_err();
        assert!(garbage.to_string().starts_with("invalid JSON"), "{garbage}");
        let bad_id = traces(json!({"resourceSpans": [{"scopeSpans": [{"spans": [
            {"traceId": "zz", "spanId": "0001020304050607"}
        ]}]}]}))
        .unwrap_err();
        assert!(bad_id.to_string().contains("traceId"), "{bad_id}");
        assert!(traces(json!({})).unwrap().resource_spans.is_empty());
        assert!(traces(json!([1])).is_err());
    }
}
