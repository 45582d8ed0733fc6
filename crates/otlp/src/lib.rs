//! OTLP/HTTP decoding (protobuf and JSON) into MCPlatform telemetry rows, and the OTLP answers.
//!
//! The pipeline (`reference/observability.md` §4.2): undo the `Content-Encoding` within a size
//! limit, decode protobuf, or JSON after [`json::normalize`] mended what other exporters send,
//! then map each span, data point and log record to a row with the MCP conventions' fields
//! (aliases of other MCP SDKs renamed, duration units made seconds). Items that cannot be
//! stored (an invalid trace id, a metric without data) are counted for `partial_success`.

mod attributes;
mod export;
mod hosted;
mod json;
mod logs;
mod metrics;
mod traces;

use std::borrow::Cow;
use std::io::Read;

use mcplatform_core::telemetry::TelemetryBatch;
use prost::Message;

pub use self::export::{encode_as, test_request};
pub use self::hosted::{HOSTED_SERVICE, hosted_spans};

/// The three OTLP/HTTP signals (`/v1/traces`, `/v1/metrics`, `/v1/logs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Traces,
    Metrics,
    Logs,
}

impl Signal {
    /// What the signal's items are called in messages.
    pub const fn items(self) -> &'static str {
        match self {
            Self::Traces => "spans",
            Self::Metrics => "data points",
            Self::Logs => "log records",
        }
    }
}

/// How a request body is encoded (OTLP/HTTP §Binary Protobuf Encoding, §JSON Protobuf Encoding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    /// From a `Content-Type` header; `None` for anything OTLP/HTTP does not define.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let media_type = content_type.split(';').next().unwrap_or_default().trim();
        match media_type.to_ascii_lowercase().as_str() {
            "application/x-protobuf" | "application/protobuf" => Some(Self::Protobuf),
            "application/json" => Some(Self::Json),
            _ => None,
        }
    }

    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Protobuf => "application/x-protobuf",
            Self::Json => "application/json",
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// The body is not a valid request of its encoding; the message says why.
    #[error("{0}")]
    Invalid(String),
    /// The body, once decompressed, is larger than allowed.
    #[error("the decompressed body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    /// A `Content-Encoding` other than identity, gzip, deflate and zstd.
    #[error("unsupported Content-Encoding {0:?}; use gzip, deflate or zstd")]
    UnsupportedCompression(String),
}

/// The body with its `Content-Encoding` undone (borrowed when there was none), at most `limit`
/// bytes.
pub fn decompress<'b>(
    body: &'b [u8],
    content_encoding: Option<&str>,
    limit: usize,
) -> Result<Cow<'b, [u8]>, DecodeError> {
    let encoding = content_encoding.map(|e| e.trim().to_ascii_lowercase());
    let reader: Box<dyn Read + '_> = match encoding.as_deref() {
        None | Some("" | "identity") => {
            return if body.len() > limit {
                Err(DecodeError::TooLarge { limit })
            } else {
                Ok(Cow::Borrowed(body))
            };
        }
        Some("gzip" | "x-gzip") => Box::new(flate2::read::MultiGzDecoder::new(body)),
        Some("deflate") => Box::new(flate2::read::ZlibDecoder::new(body)),
        Some("zstd") => Box::new(
            ruzstd::decoding::StreamingDecoder::new(body)
                .map_err(|e| DecodeError::Invalid(format!("invalid zstd body: {e}")))?,
        ),
        Some(other) => return Err(DecodeError::UnsupportedCompression(other.to_owned())),
    };
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
    // One byte past the limit tells "exactly the limit" from "larger".
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| DecodeError::Invalid(format!("invalid compressed body: {e}")))?;
    if out.len() > limit {
        return Err(DecodeError::TooLarge { limit });
    }
    Ok(Cow::Owned(out))
}

/// A decoded request: what to store, and what was dropped and why.
#[derive(Debug, Default, PartialEq)]
pub struct Decoded {
    pub batch: TelemetryBatch,
    /// Items that could not be stored (`rejected_spans`, `rejected_data_points`,
    /// `rejected_log_records`).
    pub rejected: i64,
    pub error_message: Option<String>,
    /// The request as protobuf, when asked for (to forward it): the body itself, or the JSON
    /// body re-encoded.
    pub protobuf: Option<Vec<u8>>,
}

impl Decoded {
    fn reject(&mut self, message: impl Into<String>) {
        self.rejected += 1;
        if self.error_message.is_none() {
            self.error_message = Some(message.into());
        }
    }
}

/// Decodes an `Export*ServiceRequest` of `signal` from a decompressed body.
pub fn decode(signal: Signal, encoding: Encoding, body: &[u8]) -> Result<Decoded, DecodeError> {
    decode_keeping(signal, encoding, body, false)
}

/// [`decode`], also keeping the request as protobuf in [`Decoded::protobuf`] when
/// `keep_protobuf`.
pub fn decode_keeping(
    signal: Signal,
    encoding: Encoding,
    body: &[u8],
    keep_protobuf: bool,
) -> Result<Decoded, DecodeError> {
    use opentelemetry_proto::tonic::collector as otlp;
    match signal {
        Signal::Traces => convert_kept(
            parse::<otlp::trace::v1::ExportTraceServiceRequest>(signal, encoding, body)?,
            traces::convert,
            keep_protobuf.then_some((encoding, body)),
        ),
        Signal::Metrics => convert_kept(
            parse::<otlp::metrics::v1::ExportMetricsServiceRequest>(signal, encoding, body)?,
            metrics::convert,
            keep_protobuf.then_some((encoding, body)),
        ),
        Signal::Logs => convert_kept(
            parse::<otlp::logs::v1::ExportLogsServiceRequest>(signal, encoding, body)?,
            logs::convert,
            keep_protobuf.then_some((encoding, body)),
        ),
    }
}

fn parse<M: Message + Default + serde::de::DeserializeOwned>(
    signal: Signal,
    encoding: Encoding,
    body: &[u8],
) -> Result<M, DecodeError> {
    match encoding {
        Encoding::Protobuf => M::decode(body).map_err(bad_protobuf),
        Encoding::Json => json::decode(signal, body),
    }
}

/// Rows of `message`, and the request as protobuf when `keep` holds the body as sent.
fn convert_kept<M: Message>(
    message: M,
    convert: fn(M) -> Decoded,
    keep: Option<(Encoding, &[u8])>,
) -> Result<Decoded, DecodeError> {
    let protobuf = keep.map(|(encoding, body)| match encoding {
        Encoding::Protobuf => body.to_vec(),
        Encoding::Json => message.encode_to_vec(),
    });
    Ok(Decoded { protobuf, ..convert(message) })
}

fn bad_protobuf(err: prost::DecodeError) -> DecodeError {
    DecodeError::Invalid(format!("invalid protobuf: {err}"))
}

/// The `Export*ServiceResponse` for a request, with `partial_success` when items were dropped
/// (OTLP/HTTP §Partial Success).
pub fn response(
    signal: Signal,
    encoding: Encoding,
    rejected: i64,
    error_message: Option<&str>,
) -> Vec<u8> {
    use opentelemetry_proto::tonic::collector::{logs, metrics, trace};
    let message = error_message.unwrap_or_default().to_owned();
    let dropped = rejected > 0;
    match signal {
        Signal::Traces => encode(
            encoding,
            &trace::v1::ExportTraceServiceResponse {
                partial_success: dropped.then_some(trace::v1::ExportTracePartialSuccess {
                    rejected_spans: rejected,
                    error_message: message,
                }),
            },
        ),
        Signal::Metrics => encode(
            encoding,
            &metrics::v1::ExportMetricsServiceResponse {
                partial_success: dropped.then_some(metrics::v1::ExportMetricsPartialSuccess {
                    rejected_data_points: rejected,
                    error_message: message,
                }),
            },
        ),
        Signal::Logs => encode(
            encoding,
            &logs::v1::ExportLogsServiceResponse {
                partial_success: dropped.then_some(logs::v1::ExportLogsPartialSuccess {
                    rejected_log_records: rejected,
                    error_message: message,
                }),
            },
        ),
    }
}

fn encode<M: Message + serde::Serialize>(encoding: Encoding, message: &M) -> Vec<u8> {
    match encoding {
        Encoding::Protobuf => message.encode_to_vec(),
        Encoding::Json => {
            // Serializing a generated message cannot fail (no maps with non-string keys). An
            // absent field is left out rather than sent as `null`.
            let mut value = serde_json::to_value(message).unwrap_or_default();
            if let serde_json::Value::Object(fields) = &mut value {
                fields.retain(|_, field| !field.is_null());
            }
            value.to_string().into_bytes()
        }
    }
}

/// `google.rpc.Status`, the body of an OTLP/HTTP error answer (OTLP/HTTP §Failures).
#[derive(Clone, PartialEq, Message, serde::Serialize)]
pub struct Status {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

/// gRPC status codes the HTTP answers correspond to.
pub mod grpc_code {
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const PERMISSION_DENIED: i32 = 7;
    pub const RESOURCE_EXHAUSTED: i32 = 8;
    pub const INTERNAL: i32 = 13;
    pub const UNAVAILABLE: i32 = 14;
    pub const UNAUTHENTICATED: i32 = 16;
}

/// An error answer's body in the request's encoding.
pub fn status(encoding: Encoding, code: i32, message: &str) -> Vec<u8> {
    encode(encoding, &Status { code, message: message.to_owned() })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn content_types_follow_otlp_http() {
        assert_eq!(Encoding::from_content_type("application/x-protobuf"), Some(Encoding::Protobuf));
        assert_eq!(
            Encoding::from_content_type("Application/JSON; charset=utf-8"),
            Some(Encoding::Json)
        );
        assert_eq!(Encoding::from_content_type("text/plain"), None);
    }

    #[test]
    fn decompression_is_bounded() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&[b'a'; 10_000]).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(decompress(&gz, Some("gzip"), 10_000).unwrap().len(), 10_000);
        assert_eq!(
            decompress(&gz, Some("gzip"), 9_999),
            Err(DecodeError::TooLarge { limit: 9_999 })
        );
        assert!(matches!(decompress(b"not gzip", Some("gzip"), 100), Err(DecodeError::Invalid(_))));
        assert!(matches!(
            decompress(b"x", Some("br"), 100),
            Err(DecodeError::UnsupportedCompression(_))
        ));
        assert_eq!(decompress(b"abc", None, 2), Err(DecodeError::TooLarge { limit: 2 }));
    }

    #[test]
    fn zstd_bodies_decode() {
        // `printf 'hello otlp' | zstd -c | xxd -i`
        let frame = [
            0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x58, 0x51, 0x00, 0x00, 0x68, 0x65, 0x6c, 0x6c, 0x6f,
            0x20, 0x6f, 0x74, 0x6c, 0x70, 0xc1, 0x32, 0x39, 0x8b,
        ];
        assert_eq!(&*decompress(&frame, Some("zstd"), 100).unwrap(), b"hello otlp");
    }

    #[test]
    fn answers_carry_partial_success_only_when_something_was_dropped() {
        assert_eq!(response(Signal::Traces, Encoding::Json, 0, None), b"{}");
        assert!(response(Signal::Traces, Encoding::Protobuf, 0, None).is_empty());
        let dropped = response(Signal::Traces, Encoding::Json, 1, Some("bad trace id"));
        let json: serde_json::Value = serde_json::from_slice(&dropped).unwrap();
        assert_eq!(json["partialSuccess"]["rejectedSpans"], 1);
        assert_eq!(json["partialSuccess"]["errorMessage"], "bad trace id");
        let status: serde_json::Value =
            serde_json::from_slice(&status(Encoding::Json, 3, "nope")).unwrap();
        assert_eq!(status, serde_json::json!({"code": 3, "message": "nope"}));
    }
}
