//! Forwarding telemetry to the customer's own observability stack: OTLP/HTTP destinations
//! (any endpoint, or the Datadog and Grafana Cloud presets) and the delivery rules of the
//! queue that feeds them.
//!
//! A destination takes the base URL of an OTLP/HTTP receiver; each signal goes to
//! `{endpoint}/v1/{signal}`, as `OTEL_EXPORTER_OTLP_ENDPOINT` does (OTLP Exporter
//! Configuration, §Endpoint URLs for OTLP/HTTP).

use std::time::Duration;

use time::OffsetDateTime;
use url::Url;

use crate::ValidationError;
use crate::hosting::text_enum;
use crate::ids::{McpServerId, OrgId, TelemetryDestinationId};
use crate::validation::parse_text;

/// How a destination was set up; the presets fill the endpoint and headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DestinationKind {
    Otlp,
    Datadog,
    GrafanaCloud,
}

text_enum!(DestinationKind, "kind", {
    Otlp => "otlp", Datadog => "datadog", GrafanaCloud => "grafana_cloud",
});

/// The body encoding a destination receives (OTLP/HTTP §Binary Protobuf / §JSON Encoding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ExportEncoding {
    #[default]
    Protobuf,
    Json,
}

text_enum!(ExportEncoding, "encoding", { Protobuf => "protobuf", Json => "json" });

/// The three OTLP signals, as a destination's choice and a queued request's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ExportSignal {
    Traces,
    Metrics,
    Logs,
}

text_enum!(ExportSignal, "signals", { Traces => "traces", Metrics => "metrics", Logs => "logs" });

impl ExportSignal {
    pub const ALL: [Self; 3] = [Self::Traces, Self::Metrics, Self::Logs];
}

/// Which signals a destination receives; at least one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signals {
    pub traces: bool,
    pub metrics: bool,
    pub logs: bool,
}

impl Signals {
    pub const ALL: Self = Self { traces: true, metrics: true, logs: true };

    pub fn from_list(list: &[ExportSignal]) -> Result<Self, ValidationError> {
        if list.is_empty() {
            return Err(ValidationError::new("signals", "choose at least one signal"));
        }
        Ok(Self {
            traces: list.contains(&ExportSignal::Traces),
            metrics: list.contains(&ExportSignal::Metrics),
            logs: list.contains(&ExportSignal::Logs),
        })
    }

    pub const fn includes(self, signal: ExportSignal) -> bool {
        match signal {
            ExportSignal::Traces => self.traces,
            ExportSignal::Metrics => self.metrics,
            ExportSignal::Logs => self.logs,
        }
    }

    pub fn list(self) -> Vec<ExportSignal> {
        ExportSignal::ALL.into_iter().filter(|signal| self.includes(*signal)).collect()
    }
}

/// A destination as stored, without its header values (they are sealed; only their names
/// are shown).
#[derive(Debug, Clone, PartialEq)]
pub struct Destination {
    pub id: TelemetryDestinationId,
    pub organization_id: OrgId,
    /// `None`: every server of the organization.
    pub mcp_server_id: Option<McpServerId>,
    pub name: String,
    pub kind: DestinationKind,
    pub endpoint: Url,
    pub header_names: Vec<String>,
    pub encoding: ExportEncoding,
    pub signals: Signals,
    pub enabled: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub status: DestinationStatus,
}

/// How delivery to a destination goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestinationStatus {
    pub last_success_at: Option<OffsetDateTime>,
    pub last_error: Option<String>,
    pub last_error_at: Option<OffsetDateTime>,
    /// Requests delivered since the destination was created.
    pub delivered_requests: i64,
    /// Requests given up (refused by the destination as bad, or older than [`MAX_AGE`]).
    pub dropped_requests: i64,
    /// Failed attempts since the last success; nothing is sent before `retry_at`.
    pub consecutive_failures: u32,
    pub retry_at: Option<OffsetDateTime>,
    /// Requests waiting, and the spans, points and records in them.
    pub backlog_requests: i64,
    pub backlog_items: i64,
}

/// A header sent with every request to a destination (an API key, a tenant id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportHeader {
    pub name: String,
    pub value: String,
}

/// Where and how to send, as checked input: the endpoint and headers a preset produced, or
/// given as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub kind: DestinationKind,
    pub endpoint: Url,
    pub headers: Vec<ExportHeader>,
    pub encoding: ExportEncoding,
}

/// Datadog sites with an OTLP intake (`https://otlp.{site}`).
pub const DATADOG_SITES: [&str; 7] = [
    "datadoghq.com",
    "us3.datadoghq.com",
    "us5.datadoghq.com",
    "datadoghq.eu",
    "ap1.datadoghq.com",
    "ap2.datadoghq.com",
    "ddog-gov.com",
];

pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_HEADERS: usize = 20;
const MAX_URL_CHARS: usize = 2048;
const MAX_HEADER_VALUE_CHARS: usize = 4096;
/// Headers the sender sets itself.
const RESERVED_HEADERS: [&str; 7] = [
    "host",
    "content-type",
    "content-length",
    "content-encoding",
    "transfer-encoding",
    "connection",
    "te",
];

pub fn parse_name(name: &str) -> Result<String, ValidationError> {
    parse_text("name", name, MAX_NAME_CHARS, false)
}

impl Target {
    /// Any OTLP/HTTP receiver: its base URL and the headers it wants.
    pub fn otlp(
        endpoint: &str,
        headers: Vec<ExportHeader>,
        encoding: ExportEncoding,
    ) -> Result<Self, ValidationError> {
        let endpoint = parse_endpoint("endpoint", endpoint)?;
        let headers = check_headers(headers)?;
        Ok(Self { kind: DestinationKind::Otlp, endpoint, headers, encoding })
    }

    /// Datadog's OTLP intake for `site`, authenticated by an API key (`dd-api-key`); traces
    /// also need `dd-protocol: otlp`, which the other signals ignore.
    pub fn datadog(site: &str, api_key: &str) -> Result<Self, ValidationError> {
        let site = site.trim().to_ascii_lowercase();
        if !DATADOG_SITES.contains(&site.as_str()) {
            return Err(ValidationError::new(
                "site",
                format!("must be one of {}", DATADOG_SITES.join(", ")),
            ));
        }
        let api_key = secret("api_key", api_key)?;
        let endpoint = parse_endpoint("site", &format!("https://otlp.{site}"))?;
        let headers = vec![header("dd-api-key", api_key), header("dd-protocol", "otlp".into())];
        Ok(Self {
            kind: DestinationKind::Datadog,
            endpoint,
            headers,
            encoding: ExportEncoding::Protobuf,
        })
    }

    /// Grafana Cloud's OTLP gateway (`https://otlp-gateway-{zone}.grafana.net/otlp`), with
    /// Basic authentication by instance id and access-policy token.
    pub fn grafana_cloud(
        endpoint: &str,
        instance_id: &str,
        token: &str,
    ) -> Result<Self, ValidationError> {
        use base64::Engine as _;
        let endpoint = parse_endpoint("endpoint", endpoint)?;
        let instance_id = instance_id.trim();
        if instance_id.is_empty() || !instance_id.chars().all(|c| c.is_ascii_digit()) {
            return Err(ValidationError::new(
                "instance_id",
                "must be the stack's numeric instance id",
            ));
        }
        let token = secret("token", token)?;
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("{instance_id}:{token}"));
        Ok(Self {
            kind: DestinationKind::GrafanaCloud,
            endpoint,
            headers: vec![header("authorization", format!("Basic {basic}"))],
            encoding: ExportEncoding::Protobuf,
        })
    }
}

/// The URL a signal is posted to.
pub fn signal_url(endpoint: &Url, signal: ExportSignal) -> String {
    format!("{}/v1/{}", endpoint.as_str().trim_end_matches('/'), signal.as_str())
}

/// Headers written `name=value` one per line or comma-separated, as
/// `OTEL_EXPORTER_OTLP_HEADERS` takes them (values may be percent-encoded).
pub fn parse_header_list(text: &str) -> Result<Vec<ExportHeader>, ValidationError> {
    let invalid = |message: String| ValidationError::new("headers", message);
    text.split(['\n', ','])
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (name, value) = entry
                .split_once('=')
                .or_else(|| entry.split_once(':'))
                .ok_or_else(|| invalid(format!("{entry:?} is not name=value")))?;
            let value = percent_decode(value.trim()).map_err(invalid)?;
            Ok(ExportHeader { name: name.trim().to_owned(), value })
        })
        .collect()
}

fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3).ok_or("a % is not followed by two hex digits")?;
            out.push(
                u8::from_str_radix(hex, 16).map_err(|_| "a % is not followed by two hex digits")?,
            );
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "a header value is not UTF-8".to_owned())
}

fn header(name: &str, value: String) -> ExportHeader {
    ExportHeader { name: name.to_owned(), value }
}

fn secret(field: &'static str, value: &str) -> Result<String, ValidationError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if value.len() > MAX_HEADER_VALUE_CHARS || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ValidationError::new(field, "must be printable ASCII without spaces"));
    }
    Ok(value.to_owned())
}

fn parse_endpoint(field: &'static str, text: &str) -> Result<Url, ValidationError> {
    let invalid = |message: String| ValidationError::new(field, message);
    let text = text.trim();
    if text.chars().count() > MAX_URL_CHARS {
        return Err(invalid("is too long".into()));
    }
    let url = Url::parse(text).map_err(|e| invalid(format!("is not a URL: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(invalid("must be an http(s) URL".into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must not carry credentials; send them as a header".into()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("must be a base URL without ?query or #fragment".into()));
    }
    if url.path().trim_end_matches('/').ends_with("/v1/traces")
        || url.path().trim_end_matches('/').ends_with("/v1/metrics")
        || url.path().trim_end_matches('/').ends_with("/v1/logs")
    {
        return Err(invalid(
            "must be the receiver's base URL: /v1/traces, /v1/metrics and /v1/logs are added"
                .into(),
        ));
    }
    Ok(url)
}

/// Header names are HTTP tokens (RFC 9110 §5.1), kept lowercase; values are visible ASCII
/// and spaces (§5.5), so they can never split a request.
fn check_headers(headers: Vec<ExportHeader>) -> Result<Vec<ExportHeader>, ValidationError> {
    let invalid = |message: String| ValidationError::new("headers", message);
    if headers.len() > MAX_HEADERS {
        return Err(invalid(format!("at most {MAX_HEADERS} headers")));
    }
    let mut checked: Vec<ExportHeader> = Vec::with_capacity(headers.len());
    for ExportHeader { name, value } in headers {
        let name = name.trim().to_ascii_lowercase();
        let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if name.is_empty() || !name.chars().all(token) {
            return Err(invalid(format!("{name:?} is not a header name")));
        }
        if RESERVED_HEADERS.contains(&name.as_str()) {
            return Err(invalid(format!("{name} is set by MCPlatform itself")));
        }
        if checked.iter().any(|h| h.name == name) {
            return Err(invalid(format!("{name} is given twice")));
        }
        let value = value.trim().to_owned();
        if value.len() > MAX_HEADER_VALUE_CHARS
            || !value.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
        {
            return Err(invalid(format!("the value of {name} must be printable ASCII")));
        }
        checked.push(ExportHeader { name, value });
    }
    Ok(checked)
}

/// Queued requests older than this are given up: a destination down for a day gets the
/// recent data when it comes back, not an unbounded backlog.
pub const MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// The wait after the `attempts`-th failed attempt: 5 s doubling up to 10 minutes (OTLP
/// §Retry: exponential backoff), or what the destination asked with `Retry-After`, within
/// the same bounds.
pub fn retry_delay(attempts: u32, retry_after: Option<Duration>) -> Duration {
    const FIRST: Duration = Duration::from_secs(5);
    const LONGEST: Duration = Duration::from_secs(600);
    let backoff = FIRST.saturating_mul(1 << attempts.saturating_sub(1).min(10)).min(LONGEST);
    retry_after.map_or(backoff, |asked| asked.clamp(Duration::from_secs(1), LONGEST))
}

/// Whether an answer with this HTTP status means the data itself was refused (a malformed or
/// oversized request will never be accepted: drop it), rather than a failure that may pass:
/// overload and 5xx (OTLP/HTTP §Retryable Response Codes), and also authentication and
/// addressing errors, which the customer can mend by editing the destination while the data
/// waits.
pub const fn is_refusal(status: u16) -> bool {
    matches!(status, 400 | 413 | 415 | 422)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_fill_endpoint_and_headers() {
        let dd = Target::datadog(" datadoghq.eu ", "abc123").unwrap();
        assert_eq!(
            signal_url(&dd.endpoint, ExportSignal::Traces),
            "https://otlp.datadoghq.eu/v1/traces"
        );
        assert_eq!(dd.headers[0], header("dd-api-key", "abc123".into()));
        assert_eq!(Target::datadog("example.com", "k").unwrap_err().field, "site");
        assert_eq!(Target::datadog("datadoghq.com", " ").unwrap_err().field, "api_key");

        let grafana = Target::grafana_cloud(
            "https://otlp-gateway-prod-eu-west-2.grafana.net/otlp",
            "123456",
            "glc_token",
        )
        .unwrap();
        assert_eq!(
            signal_url(&grafana.endpoint, ExportSignal::Logs),
            "https://otlp-gateway-prod-eu-west-2.grafana.net/otlp/v1/logs"
        );
        // base64("123456:glc_token")
        assert_eq!(grafana.headers[0].value, "Basic MTIzNDU2OmdsY190b2tlbg==");
        let bad = Target::grafana_cloud("https://x.grafana.net/otlp", "stack", "t");
        assert_eq!(bad.unwrap_err().field, "instance_id");
    }

    #[test]
    fn endpoints_are_base_urls() {
        let ok = Target::otlp("http://127.0.0.1:4318/", vec![], ExportEncoding::Json).unwrap();
        assert_eq!(
            signal_url(&ok.endpoint, ExportSignal::Metrics),
            "http://127.0.0.1:4318/v1/metrics"
        );
        for bad in [
            "ftp://example.com",
            "not a url",
            "https://user:pw@example.com",
            "https://example.com/v1/traces",
            "https://example.com/?a=1",
        ] {
            assert_eq!(
                Target::otlp(bad, vec![], ExportEncoding::Protobuf).unwrap_err().field,
                "endpoint",
                "{bad}"
            );
        }
    }

    #[test]
    fn headers_are_checked_and_parsed_like_otel_exporter_otlp_headers() {
        let parsed = parse_header_list("X-Scope-OrgID=tenant-1, api-key = a%3Db\n").unwrap();
        assert_eq!(
            parsed,
            vec![header("X-Scope-OrgID", "tenant-1".into()), header("api-key", "a=b".into())]
        );
        let target = Target::otlp("https://example.com", parsed, ExportEncoding::Protobuf).unwrap();
        assert_eq!(target.headers[0].name, "x-scope-orgid");
        assert!(parse_header_list("novalue").is_err());
        assert!(parse_header_list("a=%zz").is_err());
        for bad in [
            vec![header("content-type", "x".into())],
            vec![header("bad name", "x".into())],
            vec![header("a", "line\r\nbreak".into())],
            vec![header("a", "1".into()), header("A", "2".into())],
        ] {
            assert_eq!(
                Target::otlp("https://example.com", bad, ExportEncoding::Protobuf)
                    .unwrap_err()
                    .field,
                "headers"
            );
        }
    }

    #[test]
    fn retries_back_off_and_refusals_are_told_apart() {
        assert_eq!(retry_delay(1, None), Duration::from_secs(5));
        assert_eq!(retry_delay(3, None), Duration::from_secs(20));
        assert_eq!(retry_delay(40, None), Duration::from_secs(600));
        assert_eq!(retry_delay(1, Some(Duration::from_secs(30))), Duration::from_secs(30));
        assert_eq!(retry_delay(1, Some(Duration::from_secs(86_400))), Duration::from_secs(600));
        assert!(is_refusal(400) && is_refusal(413));
        assert!(!is_refusal(429) && !is_refusal(503) && !is_refusal(401) && !is_refusal(404));
    }

    #[test]
    fn signals_need_one_at_least() {
        assert!(Signals::from_list(&[]).is_err());
        let logs = Signals::from_list(&[ExportSignal::Logs]).unwrap();
        assert_eq!(logs.list(), vec![ExportSignal::Logs]);
        assert!(!logs.includes(ExportSignal::Traces));
    }
}
