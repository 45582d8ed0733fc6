//! MCPlatform's own traces over OTLP/HTTP protobuf, configured by the standard OpenTelemetry
//! environment variables (OpenTelemetry Specification, SDK Environment Variables and OTLP
//! Exporter Configuration): `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (the full URL), else
//! `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`; `OTEL_EXPORTER_OTLP_TRACES_HEADERS` or
//! `OTEL_EXPORTER_OTLP_HEADERS` (`name=value,…`, values percent-encoded); `OTEL_SERVICE_NAME`
//! (`mcplatform` by default), `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`, the batch
//! processor's `OTEL_BSP_*`; `OTEL_SDK_DISABLED=true` turns it off. Every HTTP request the
//! platform serves is a span.

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanData, SpanExporter};
use prost::Message;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};

/// How long one export may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum SelfTelemetryError {
    #[error("invalid {variable}: {message}")]
    Invalid { variable: &'static str, message: String },
    #[error("cannot build the OTLP HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// The exporting tracer provider, when the environment asks for one; shut it down before the
/// runtime goes, so the last spans are sent.
pub struct SelfTelemetry {
    provider: SdkTracerProvider,
}

impl SelfTelemetry {
    /// Reads the environment through `var`; `None` when no OTLP endpoint is set (or the SDK
    /// is disabled). Exports run on `runtime`.
    pub fn from_env(
        var: impl Fn(&str) -> Option<String>,
        runtime: tokio::runtime::Handle,
    ) -> Result<Option<Self>, SelfTelemetryError> {
        if var("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
            return Ok(None);
        }
        let url =
            match (var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), var("OTEL_EXPORTER_OTLP_ENDPOINT")) {
                (Some(url), _) if !url.trim().is_empty() => url.trim().to_owned(),
                (_, Some(base)) if !base.trim().is_empty() => {
                    format!("{}/v1/traces", base.trim().trim_end_matches('/'))
                }
                _ => return Ok(None),
            };
        let parsed = url::Url::parse(&url).map_err(|e| SelfTelemetryError::Invalid {
            variable: "OTEL_EXPORTER_OTLP_ENDPOINT",
            message: e.to_string(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(SelfTelemetryError::Invalid {
                variable: "OTEL_EXPORTER_OTLP_ENDPOINT",
                message: "must be an http:// or https:// URL".into(),
            });
        }
        if let Some(protocol) = var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            .or_else(|| var("OTEL_EXPORTER_OTLP_PROTOCOL"))
            .filter(|p| p.trim() != "http/protobuf")
        {
            return Err(SelfTelemetryError::Invalid {
                variable: "OTEL_EXPORTER_OTLP_PROTOCOL",
                message: format!("{protocol:?} is not supported; use http/protobuf"),
            });
        }
        let headers_var = var("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
            .or_else(|| var("OTEL_EXPORTER_OTLP_HEADERS"))
            .unwrap_or_default();
        let headers = parse_headers(&headers_var)?;
        let client = reqwest::Client::builder().timeout(EXPORT_TIMEOUT).build()?;
        let exporter = OtlpHttpExporter {
            url,
            headers,
            client,
            runtime,
            resource: ResourceAttributesWithSchema::default(),
        };
        let service = var("OTEL_SERVICE_NAME").filter(|s| !s.trim().is_empty());
        let mut resource = Resource::builder();
        if service.is_none() {
            resource = resource.with_service_name("mcplatform");
        }
        let resource = resource
            .with_attribute(opentelemetry::KeyValue::new(
                "service.version",
                env!("CARGO_PKG_VERSION"),
            ))
            .build();
        let provider = SdkTracerProvider::builder()
            .with_resource(resource)
            .with_batch_exporter(exporter)
            .build();
        Ok(Some(Self { provider }))
    }

    pub fn tracer(&self) -> SdkTracer {
        self.provider.tracer("mcplatform")
    }

    /// Sends what is still buffered, then stops.
    pub fn shutdown(&self) {
        if let Err(err) = self.provider.shutdown() {
            tracing::warn!(error = %err, "the last spans could not be exported");
        }
    }
}

/// `name=value,name=value` with percent-encoded values (the W3C Baggage format the variable
/// uses).
fn parse_headers(input: &str) -> Result<HeaderMap, SelfTelemetryError> {
    let invalid = |message: String| SelfTelemetryError::Invalid {
        variable: "OTEL_EXPORTER_OTLP_HEADERS",
        message,
    };
    let mut headers = HeaderMap::new();
    for pair in input.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, value) =
            pair.split_once('=').ok_or_else(|| invalid(format!("{pair:?} is not name=value")))?;
        let name = HeaderName::from_bytes(percent_decode(name.trim()).as_bytes())
            .map_err(|_| invalid(format!("{name:?} is not a header name")))?;
        let value = HeaderValue::from_str(&percent_decode(value.trim()))
            .map_err(|_| invalid(format!("the value of {name} is not a header value")))?;
        headers.append(name, value);
    }
    Ok(headers)
}

fn percent_decode(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Posts each batch as an `ExportTraceServiceRequest` in protobuf, on the application's
/// runtime (the SDK's batch processor runs on a thread of its own).
#[derive(Debug)]
struct OtlpHttpExporter {
    url: String,
    headers: HeaderMap,
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
    resource: ResourceAttributesWithSchema,
}

impl SpanExporter for OtlpHttpExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let request = ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(batch, &self.resource),
        };
        let builder = self
            .client
            .post(&self.url)
            .headers(self.headers.clone())
            .header(CONTENT_TYPE, "application/x-protobuf")
            .body(request.encode_to_vec());
        // Sending starts timers: inside the runtime, not on the processor's thread.
        let status = self
            .runtime
            .spawn(async move { builder.send().await.map(|response| response.status()) })
            .await
            .map_err(|e| OTelSdkError::InternalFailure(e.to_string()))?
            .map_err(|e| OTelSdkError::InternalFailure(e.to_string()))?;
        if status.is_success() {
            Ok(())
        } else {
            Err(OTelSdkError::InternalFailure(format!("the OTLP endpoint answered {status}")))
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = ResourceAttributesWithSchema::from(resource);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_name_value_pairs_with_percent_encoded_values() {
        let headers = parse_headers("Authorization=Bearer%20mcpk_x, X-Scope=a%2Cb ,").unwrap();
        assert_eq!(headers["authorization"], "Bearer mcpk_x");
        assert_eq!(headers["x-scope"], "a,b");
        assert!(parse_headers("novalue").is_err());
        assert!(parse_headers("bad name=1").is_err());
    }

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn nothing_is_exported_without_an_endpoint_and_only_http_protobuf_is() {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let handle = || runtime.handle().clone();
        assert!(SelfTelemetry::from_env(env(&[]), handle()).unwrap().is_none());
        const DISABLED: &[(&str, &str)] =
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://x"), ("OTEL_SDK_DISABLED", "true")];
        assert!(SelfTelemetry::from_env(env(DISABLED), handle()).unwrap().is_none());
        const GRPC: &[(&str, &str)] =
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://x"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")];
        let err = SelfTelemetry::from_env(env(GRPC), handle()).err().unwrap();
        assert!(err.to_string().contains("use http/protobuf"), "{err}");
        const FTP: &[(&str, &str)] = &[("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://x")];
        assert!(SelfTelemetry::from_env(env(FTP), handle()).is_err());
    }
}
