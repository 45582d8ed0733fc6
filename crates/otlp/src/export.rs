//! What forwarding needs from OTLP: requests kept as protobuf (the queue's one encoding),
//! turned into OTLP/JSON for destinations that want it, and a small test request per signal.
//!
//! Protobuf makes batching free: the encodings of two messages of one type, concatenated,
//! are the encoding of their merge, and every `Export*ServiceRequest` is one repeated field,
//! so queued requests concatenated are one request with all their items (Protocol Buffers
//! Encoding, §Last One Wins / merging of repeated fields).

use opentelemetry_proto::tonic::collector::{logs, metrics, trace};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, span};
use prost::Message;

use crate::{DecodeError, Encoding, Signal, bad_protobuf, encode};

/// A protobuf `Export*ServiceRequest` of `signal` in `encoding` (protobuf as is).
pub fn encode_as(
    signal: Signal,
    encoding: Encoding,
    protobuf: &[u8],
) -> Result<Vec<u8>, DecodeError> {
    if encoding == Encoding::Protobuf {
        return Ok(protobuf.to_vec());
    }
    Ok(match signal {
        Signal::Traces => encode(
            encoding,
            &trace::v1::ExportTraceServiceRequest::decode(protobuf).map_err(bad_protobuf)?,
        ),
        Signal::Metrics => encode(
            encoding,
            &metrics::v1::ExportMetricsServiceRequest::decode(protobuf).map_err(bad_protobuf)?,
        ),
        Signal::Logs => encode(
            encoding,
            &logs::v1::ExportLogsServiceRequest::decode(protobuf).map_err(bad_protobuf)?,
        ),
    })
}

/// A request with one span, one gauge point or one log record, named so that whoever finds
/// it at the destination knows where it came from.
pub fn test_request(signal: Signal, now_ns: u64) -> Vec<u8> {
    let text = |key: &str, value: &str| KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(value.to_owned())) }),
        ..KeyValue::default()
    };
    let resource = Some(Resource {
        attributes: vec![text("service.name", "mcplatform-export-test")],
        ..Resource::default()
    });
    let scope = Some(opentelemetry_proto::tonic::common::v1::InstrumentationScope {
        name: "mcplatform".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        ..Default::default()
    });
    let message = "A test message from MCPlatform: this destination works.";
    match signal {
        Signal::Traces => {
            // Ids only need to be unique enough: the time, spread over 16 and 8 bytes.
            let mut trace_id = vec![0x4d; 8];
            trace_id.extend_from_slice(&now_ns.to_be_bytes());
            trace::v1::ExportTraceServiceRequest {
                resource_spans: vec![ResourceSpans {
                    resource,
                    scope_spans: vec![ScopeSpans {
                        scope,
                        spans: vec![Span {
                            trace_id,
                            span_id: now_ns.to_be_bytes().to_vec(),
                            name: "mcplatform.export.test".to_owned(),
                            kind: span::SpanKind::Internal as i32,
                            start_time_unix_nano: now_ns,
                            end_time_unix_nano: now_ns + 1_000_000,
                            attributes: vec![text("mcplatform.message", message)],
                            ..Span::default()
                        }],
                        ..ScopeSpans::default()
                    }],
                    ..ResourceSpans::default()
                }],
            }
            .encode_to_vec()
        }
        Signal::Metrics => metrics::v1::ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource,
                scope_metrics: vec![ScopeMetrics {
                    scope,
                    metrics: vec![Metric {
                        name: "mcplatform.export.test".to_owned(),
                        description: message.to_owned(),
                        unit: "1".to_owned(),
                        data: Some(metric::Data::Gauge(Gauge {
                            data_points: vec![NumberDataPoint {
                                time_unix_nano: now_ns,
                                value: Some(number_data_point::Value::AsInt(1)),
                                ..NumberDataPoint::default()
                            }],
                        })),
                        ..Metric::default()
                    }],
                    ..ScopeMetrics::default()
                }],
                ..ResourceMetrics::default()
            }],
        }
        .encode_to_vec(),
        Signal::Logs => logs::v1::ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource,
                scope_logs: vec![ScopeLogs {
                    scope,
                    log_records: vec![LogRecord {
                        time_unix_nano: now_ns,
                        observed_time_unix_nano: now_ns,
                        // SeverityNumber INFO.
                        severity_number: 9,
                        severity_text: "INFO".to_owned(),
                        body: Some(AnyValue {
                            value: Some(any_value::Value::StringValue(message.to_owned())),
                        }),
                        ..LogRecord::default()
                    }],
                    ..ScopeLogs::default()
                }],
                ..ResourceLogs::default()
            }],
        }
        .encode_to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode;

    #[test]
    fn concatenated_requests_decode_as_one_with_every_item() {
        let one = test_request(Signal::Traces, 1_700_000_000_000_000_000);
        let two = test_request(Signal::Traces, 1_700_000_000_000_000_001);
        let both = [one, two].concat();
        let decoded = decode(Signal::Traces, Encoding::Protobuf, &both).unwrap();
        assert_eq!(decoded.batch.spans.len(), 2);
        assert_eq!(decoded.rejected, 0);
    }

    #[test]
    fn test_requests_re_encode_as_otlp_json_that_decodes_back() {
        for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
            let protobuf = test_request(signal, 1_700_000_000_000_000_000);
            let json = encode_as(signal, Encoding::Json, &protobuf).unwrap();
            let text = String::from_utf8(json.clone()).unwrap();
            assert!(text.starts_with("{\"resource"), "{text}");
            let from_json = decode(signal, Encoding::Json, &json).unwrap();
            let from_protobuf = decode(signal, Encoding::Protobuf, &protobuf).unwrap();
            assert_eq!(from_json, from_protobuf, "{signal:?}");
            assert_eq!(from_json.batch.len(), 1);
        }
    }

    #[test]
    fn a_json_request_is_kept_as_the_protobuf_of_the_same_rows() {
        let protobuf = test_request(Signal::Logs, 1_700_000_000_000_000_000);
        let json = encode_as(Signal::Logs, Encoding::Json, &protobuf).unwrap();
        let kept = crate::decode_keeping(Signal::Logs, Encoding::Json, &json, true).unwrap();
        let again = decode(Signal::Logs, Encoding::Protobuf, kept.protobuf.as_ref().unwrap());
        assert_eq!(again.unwrap().batch, kept.batch);
        let as_sent = crate::decode_keeping(Signal::Logs, Encoding::Protobuf, &protobuf, true);
        assert_eq!(as_sent.unwrap().protobuf.as_deref(), Some(&protobuf[..]));
        assert_eq!(decode(Signal::Logs, Encoding::Json, &json).unwrap().protobuf, None);
    }

    #[test]
    fn garbage_is_not_re_encoded() {
        assert!(encode_as(Signal::Logs, Encoding::Json, b"\xff\xff\xff").is_err());
    }
}
