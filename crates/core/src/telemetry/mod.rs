//! Telemetry a customer's MCP servers send over OTLP, as stored: spans, metric points and log
//! records, with the MCP fields the analytics read kept as columns (`reference/observability.md`
//! §2: OTel MCP semantic conventions) and every other attribute kept as JSON.
//!
//! Timestamps are integer nanoseconds since the Unix epoch, as OTLP sends them.

pub mod analytics;
pub mod export;

use serde::Serialize;

use crate::ValidationError;
use crate::hosting::{RequestOutcome, text_enum};

/// OTLP `Span.SpanKind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SpanKind {
    Unspecified,
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

impl SpanKind {
    /// From the OTLP enum number; an unknown number is `Unspecified`.
    pub fn from_otlp(number: i32) -> Self {
        match number {
            1 => Self::Internal,
            2 => Self::Server,
            3 => Self::Client,
            4 => Self::Producer,
            5 => Self::Consumer,
            _ => Self::Unspecified,
        }
    }
}

text_enum!(SpanKind, "kind", {
    Unspecified => "unspecified", Internal => "internal", Server => "server",
    Client => "client", Producer => "producer", Consumer => "consumer",
});

/// OTLP `Status.StatusCode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SpanStatus {
    Unset,
    Ok,
    Error,
}

impl SpanStatus {
    pub fn from_otlp(number: i32) -> Self {
        match number {
            1 => Self::Ok,
            2 => Self::Error,
            _ => Self::Unset,
        }
    }
}

text_enum!(SpanStatus, "status", { Unset => "unset", Ok => "ok", Error => "error" });

/// The MCP facts of a span or log record, read from its attributes after aliases of other SDKs
/// were mapped to the conventions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct McpFields {
    /// `mcp.method.name`.
    pub method: Option<String>,
    /// `gen_ai.tool.name` (or `gen_ai.prompt.name` for `prompts/get`).
    pub target: Option<String>,
    /// `mcp.session.id`, else `session.id`.
    pub session_id: Option<String>,
    /// `user.id`, `enduser.id` or `enduser.pseudo.id`: the customer's name for the end user.
    pub end_user: Option<String>,
    pub client_name: Option<String>,
    pub client_version: Option<String>,
    /// `mcp.protocol.version`.
    pub protocol_version: Option<String>,
    /// How an MCP operation ended; `None` for a span that is no MCP operation.
    pub outcome: Option<RequestOutcome>,
    /// `error.type`: a JSON-RPC code, `tool_error`, `timeout`, `_OTHER`…
    pub error_type: Option<String>,
    /// `rpc.response.status_code`, the JSON-RPC error code.
    pub rpc_code: Option<i64>,
}

/// One span, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanRecord {
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// 16 lowercase hex digits.
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    pub kind: SpanKind,
    /// The resource's `service.name`.
    pub service_name: Option<String>,
    pub start_ns: i64,
    pub end_ns: i64,
    pub status: SpanStatus,
    pub status_message: Option<String>,
    pub mcp: McpFields,
    /// The span's attributes as a JSON object (aliases renamed to the conventions).
    pub attributes: String,
    /// The resource's attributes and the instrumentation scope, as a JSON object.
    pub resource: String,
    /// Events and links as a JSON object (`{"events": […], "links": […]}`), when there are any.
    pub events: Option<String>,
}

impl SpanRecord {
    pub fn duration_ns(&self) -> i64 {
        self.end_ns.saturating_sub(self.start_ns).max(0)
    }
}

/// The shape of a metric's data (`Metric.data` in OTLP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    Gauge,
    Sum,
    Histogram,
    ExponentialHistogram,
    Summary,
}

text_enum!(MetricKind, "kind", {
    Gauge => "gauge", Sum => "sum", Histogram => "histogram",
    ExponentialHistogram => "exponential_histogram", Summary => "summary",
});

/// One data point of a metric, ready to store. Durations are in seconds whatever unit the
/// sender used (`ms` from some SDKs), so that points of one metric compare.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricPointRecord {
    pub name: String,
    pub unit: String,
    pub kind: MetricKind,
    pub service_name: Option<String>,
    pub start_ns: Option<i64>,
    pub time_ns: i64,
    /// A gauge's or sum's value.
    pub value: Option<f64>,
    /// A histogram's or summary's count, sum, min and max.
    pub count: Option<i64>,
    pub sum: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// A sum's temporality, a histogram's bucket bounds and counts, exponential buckets or a
    /// summary's quantiles, as JSON.
    pub details: Option<String>,
    /// `mcp.method.name`, `gen_ai.tool.name` and `error.type` of the point.
    pub method: Option<String>,
    pub target: Option<String>,
    pub error_type: Option<String>,
    pub attributes: String,
    pub resource: String,
}

/// One log record, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    pub time_ns: i64,
    pub observed_ns: i64,
    /// OTLP `SeverityNumber` (1–24; 0 when unset).
    pub severity_number: i32,
    pub severity_text: Option<String>,
    /// A string body as is; any other body as JSON.
    pub body: String,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    pub service_name: Option<String>,
    pub session_id: Option<String>,
    pub attributes: String,
    pub resource: String,
}

/// What one OTLP request carried, normalized.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TelemetryBatch {
    pub spans: Vec<SpanRecord>,
    pub metric_points: Vec<MetricPointRecord>,
    pub logs: Vec<LogRecord>,
}

impl TelemetryBatch {
    pub fn len(&self) -> usize {
        self.spans.len() + self.metric_points.len() + self.logs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn append(&mut self, other: &mut TelemetryBatch) {
        self.spans.append(&mut other.spans);
        self.metric_points.append(&mut other.metric_points);
        self.logs.append(&mut other.logs);
    }
}
