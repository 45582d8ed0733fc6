//! MCP analytics over ingested spans and hosted servers' requests: the overview, a trace's
//! span tree, and log search.

use axum::extract::State;
use mcplatform_core::ValidationError;
use mcplatform_core::ids::McpServerId;
use mcplatform_core::telemetry::analytics::{Overview, Window, at_time};
use mcplatform_core::telemetry::{MetricKind, SpanKind, SpanStatus};
use mcplatform_store::{CallQuery, CallRow, LogQuery, MetricQuery, StoredLog, StoredSpan};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiCaller, Items, parse_time, says};
use crate::access::OrgAccess;
use crate::error::{ErrorBody, Result};
use crate::extract::{AppJson, AppPath, AppQuery};
use crate::{AppState, telemetry};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(overview))
        .routes(routes!(list_calls))
        .routes(routes!(trace))
        .routes(routes!(search_logs))
        .routes(routes!(list_metrics))
        .routes(routes!(metric_points))
}

/// A time window: a preset `range`, or `from` and `to`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct WindowQuery {
    /// `1h`, `24h` (default), `7d` or `30d`, up to now.
    range: Option<String>,
    /// Start of a custom window (RFC 3339); needs `to`.
    from: Option<String>,
    /// End of a custom window (RFC 3339), exclusive.
    to: Option<String>,
    /// Only this server's calls.
    #[param(format = Uuid)]
    server_id: Option<String>,
}

impl WindowQuery {
    fn window(&self, state: &AppState) -> Result<Window> {
        let from = parse_time("from", self.from.as_deref())?;
        let to = parse_time("to", self.to.as_deref())?;
        Ok(telemetry::analytics::window(state.clock.now(), self.range.as_deref(), from, to)?)
    }
}

/// The server named by `server_id`, which must be the organization's.
pub(crate) async fn server_filter(
    state: &AppState,
    access: &OrgAccess,
    server_id: Option<&str>,
) -> Result<Option<McpServerId>> {
    match server_id.filter(|id| !id.is_empty()) {
        Some(id) => Ok(Some(access.server(state, id).await?.id)),
        None => Ok(None),
    }
}

/// Calls, the error split, latency percentiles, tools, clients, users and a chart series for
/// a window, over ingested spans and hosted servers' requests alike.
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/analytics/overview",
    operation_id = "analytics_overview",
    tag = "analytics",
    params(("org_id" = Uuid, Path, description = says::ORG_ID), WindowQuery),
    security(("session" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "The window's analytics", body = Overview),
        (status = BAD_REQUEST, description = "The query has another parameter (`bad_request`)", body = ErrorBody),
        (status = NOT_FOUND, description = "No such organization or server (`not_found`)", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "The window is invalid", body = ErrorBody),
    ),
)]
async fn overview(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath(org_id): AppPath<String>,
    AppQuery(query): AppQuery<WindowQuery>,
) -> Result<AppJson<Overview>> {
    let access = caller.org_access(&state, &org_id).await?;
    let window = query.window(&state)?;
    let server = server_filter(&state, &access, query.server_id.as_deref()).await?;
    Ok(AppJson(telemetry::analytics::overview(&state, access.org.id, server, window).await?))
}

/// Which MCP operations to list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct CallListQuery {
    /// `1h`, `24h` (default), `7d` or `30d`, up to now.
    range: Option<String>,
    /// Start of a custom window (RFC 3339); needs `to`.
    from: Option<String>,
    /// End of a custom window (RFC 3339), exclusive.
    to: Option<String>,
    /// Only this server's operations.
    #[param(format = Uuid)]
    server_id: Option<String>,
    /// Only this session's operations.
    session_id: Option<String>,
    /// Only failed operations (protocol or tool errors).
    #[serde(default)]
    errors: bool,
    /// At most this many, newest first (default 100, at most 1000).
    limit: Option<u32>,
}

/// One MCP operation: an ingested span, or a hosted server's recorded request.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = McpCall)]
pub struct CallResponse {
    #[schema(format = Uuid)]
    server_id: String,
    #[serde(with = "time::serde::rfc3339")]
    time: time::OffsetDateTime,
    method: String,
    tool: Option<String>,
    outcome: mcplatform_core::hosting::RequestOutcome,
    duration_ms: f64,
    client: Option<String>,
    user: Option<String>,
    session_id: Option<String>,
    /// The span's trace (`GET /orgs/{org_id}/traces/{trace_id}`); null for hosted requests.
    trace_id: Option<String>,
    /// `error.type` of a span, or a hosted request's error message.
    error: Option<String>,
}

impl From<CallRow> for CallResponse {
    fn from(row: CallRow) -> Self {
        Self {
            server_id: row.mcp_server_id.to_string(),
            time: at_time(row.at_ns),
            method: row.method,
            tool: row.tool,
            outcome: row.outcome,
            duration_ms: row.duration_ns as f64 / 1e6,
            client: row.client,
            user: row.user,
            session_id: row.session,
            trace_id: row.trace_id,
            error: row.error,
        }
    }
}

/// The most operations one list returns.
pub const MAX_CALLS_LISTED: u32 = 1000;

/// `limit`, 1 to [`MAX_CALLS_LISTED`] (default 100).
pub fn list_limit(limit: Option<u32>) -> Result<u32> {
    let limit = limit.unwrap_or(100);
    if (1..=MAX_CALLS_LISTED).contains(&limit) {
        Ok(limit)
    } else {
        Err(ValidationError::new("limit", "must be between 1 and 1000").into())
    }
}

/// MCP operations of a window, newest first, over ingested spans and hosted servers' requests.
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/analytics/calls",
    operation_id = "list_mcp_calls",
    tag = "analytics",
    params(("org_id" = Uuid, Path, description = says::ORG_ID), CallListQuery),
    security(("session" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "The operations, newest first", body = Items<CallResponse>),
        (status = BAD_REQUEST, description = "The query has another parameter (`bad_request`)", body = ErrorBody),
        (status = NOT_FOUND, description = "No such organization or server (`not_found`)", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "A filter is invalid", body = ErrorBody),
    ),
)]
async fn list_calls(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath(org_id): AppPath<String>,
    AppQuery(query): AppQuery<CallListQuery>,
) -> Result<AppJson<Items<CallResponse>>> {
    let access = caller.org_access(&state, &org_id).await?;
    let CallListQuery { range, from, to, server_id, session_id, errors, limit } = query;
    let window = WindowQuery { range, from, to, server_id: None }.window(&state)?;
    let filter = CallQuery {
        server: server_filter(&state, &access, server_id.as_deref()).await?,
        from_ns: window.from_ns(),
        to_ns: window.to_ns(),
        session: session_id.filter(|s| !s.is_empty()),
        errors_only: errors,
        limit: list_limit(limit)?,
    };
    let calls = state.store.list_mcp_calls(access.org.id, &filter).await?;
    Ok(AppJson(Items { items: calls.into_iter().map(CallResponse::from).collect() }))
}

/// A span as the trace view shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Span)]
pub struct SpanResponse {
    #[schema(format = Uuid)]
    pub(crate) server_id: String,
    pub(crate) trace_id: String,
    pub(crate) span_id: String,
    pub(crate) parent_span_id: Option<String>,
    pub(crate) name: String,
    pub(crate) kind: SpanKind,
    pub(crate) service_name: Option<String>,
    /// Nanoseconds since the Unix epoch, as text (beyond JavaScript's exact integers).
    pub(crate) start_unix_nano: String,
    pub(crate) duration_ms: f64,
    pub(crate) status: SpanStatus,
    pub(crate) status_message: Option<String>,
    /// `mcp.method.name`, `gen_ai.tool.name`, the outcome…: null for other spans.
    pub(crate) mcp_method: Option<String>,
    pub(crate) mcp_target: Option<String>,
    pub(crate) outcome: Option<mcplatform_core::hosting::RequestOutcome>,
    pub(crate) error_type: Option<String>,
    pub(crate) session_id: Option<String>,
    pub(crate) end_user: Option<String>,
    pub(crate) client_name: Option<String>,
    /// How deep in the tree: 0 for a root (or a span whose parent was not received).
    pub(crate) depth: u32,
    #[schema(value_type = Object)]
    pub(crate) attributes: Value,
    #[schema(value_type = Object)]
    pub(crate) resource: Value,
    /// `{"events": […], "links": […]}`, when there are any.
    #[schema(value_type = Option<Object>)]
    pub(crate) events: Option<Value>,
}

fn json_column(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// A trace's spans in tree order: each span right after its parent, siblings by start time.
pub(crate) fn tree_order(mut spans: Vec<StoredSpan>) -> Vec<SpanResponse> {
    use std::collections::HashMap;
    spans.sort_by(|a, b| {
        (a.span.start_ns, &a.span.span_id).cmp(&(b.span.start_ns, &b.span.span_id))
    });
    let ids: std::collections::HashSet<String> =
        spans.iter().map(|s| s.span.span_id.clone()).collect();
    let mut children: HashMap<Option<String>, Vec<StoredSpan>> = HashMap::new();
    for span in spans {
        // A parent that was never received makes the span a root of what we have.
        let parent = span.span.parent_span_id.clone().filter(|p| ids.contains(p));
        children.entry(parent).or_default().push(span);
    }
    let mut ordered = Vec::with_capacity(ids.len());
    let mut stack: Vec<(StoredSpan, u32)> =
        children.remove(&None).unwrap_or_default().into_iter().rev().map(|s| (s, 0)).collect();
    while let Some((stored, depth)) = stack.pop() {
        if let Some(kids) = children.remove(&Some(stored.span.span_id.clone())) {
            stack.extend(kids.into_iter().rev().map(|s| (s, depth + 1)));
        }
        let span = stored.span;
        ordered.push(SpanResponse {
            server_id: stored.mcp_server_id.to_string(),
            duration_ms: span.duration_ns() as f64 / 1e6,
            start_unix_nano: span.start_ns.to_string(),
            trace_id: span.trace_id,
            span_id: span.span_id,
            parent_span_id: span.parent_span_id,
            name: span.name,
            kind: span.kind,
            service_name: span.service_name,
            status: span.status,
            status_message: span.status_message,
            mcp_method: span.mcp.method,
            mcp_target: span.mcp.target,
            outcome: span.mcp.outcome,
            error_type: span.mcp.error_type,
            session_id: span.mcp.session_id,
            end_user: span.mcp.end_user,
            client_name: span.mcp.client_name,
            depth,
            attributes: json_column(&span.attributes),
            resource: json_column(&span.resource),
            events: span.events.as_deref().map(json_column),
        });
    }
    ordered
}

/// 32 hex digits, as OTLP/JSON writes a trace id.
pub(crate) fn is_trace_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A trace's spans as a tree (depth-first, by start time).
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/traces/{trace_id}",
    operation_id = "get_trace",
    tag = "analytics",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("trace_id" = String, Path, description = "32 hex digits"),
    ),
    security(("session" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "The trace's spans", body = Items<SpanResponse>),
        (status = NOT_FOUND, description = "No such organization or trace (`not_found`)", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "The trace id is not 32 hex digits", body = ErrorBody),
    ),
)]
async fn trace(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, trace_id)): AppPath<(String, String)>,
) -> Result<AppJson<Items<SpanResponse>>> {
    let access = caller.org_access(&state, &org_id).await?;
    if !is_trace_id(&trace_id) {
        return Err(ValidationError::new("trace_id", "must be 32 hex digits").into());
    }
    let spans = state.store.trace_spans(access.org.id, &trace_id).await?;
    if spans.is_empty() {
        return Err(crate::ApiError::NotFound);
    }
    Ok(AppJson(Items { items: tree_order(spans) }))
}

/// Which log records to list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct LogSearchQuery {
    /// `1h`, `24h` (default), `7d` or `30d`, up to now.
    range: Option<String>,
    /// Start of a custom window (RFC 3339); needs `to`.
    from: Option<String>,
    /// End of a custom window (RFC 3339), exclusive.
    to: Option<String>,
    /// Only this server's records.
    #[param(format = Uuid)]
    server_id: Option<String>,
    /// Words the body must all contain (any case).
    q: Option<String>,
    /// At least this severity: `trace`, `debug`, `info`, `warn`, `error` or `fatal`.
    severity: Option<String>,
    trace_id: Option<String>,
    /// At most this many, newest first (default 100, at most 1000).
    limit: Option<u32>,
}

/// A log record.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = LogRecord)]
pub struct LogResponse {
    #[schema(format = Uuid)]
    server_id: String,
    #[serde(with = "time::serde::rfc3339")]
    time: time::OffsetDateTime,
    /// Nanoseconds since the Unix epoch, as text.
    time_unix_nano: String,
    severity_number: i32,
    severity_text: Option<String>,
    body: String,
    trace_id: Option<String>,
    span_id: Option<String>,
    service_name: Option<String>,
    session_id: Option<String>,
    #[schema(value_type = Object)]
    attributes: Value,
}

impl From<StoredLog> for LogResponse {
    fn from(stored: StoredLog) -> Self {
        let log = stored.log;
        Self {
            server_id: stored.mcp_server_id.to_string(),
            time: at_time(log.time_ns),
            time_unix_nano: log.time_ns.to_string(),
            severity_number: log.severity_number,
            severity_text: log.severity_text,
            body: log.body,
            trace_id: log.trace_id,
            span_id: log.span_id,
            service_name: log.service_name,
            session_id: log.session_id,
            attributes: json_column(&log.attributes),
        }
    }
}

/// `SeverityNumber` ranges of the log data model (`info` is 9–12, …).
pub(crate) fn min_severity(name: &str) -> Result<i32> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "trace" => 1,
        "debug" => 5,
        "info" => 9,
        "warn" => 13,
        "error" => 17,
        "fatal" => 21,
        _ => {
            return Err(ValidationError::new(
                "severity",
                "must be trace, debug, info, warn, error or fatal",
            )
            .into());
        }
    })
}

/// Log records of a window, newest first, filtered by words, severity, server or trace.
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/logs",
    operation_id = "search_logs",
    tag = "analytics",
    params(("org_id" = Uuid, Path, description = says::ORG_ID), LogSearchQuery),
    security(("session" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "Matching log records", body = Items<LogResponse>),
        (status = BAD_REQUEST, description = "The query has another parameter (`bad_request`)", body = ErrorBody),
        (status = NOT_FOUND, description = "No such organization or server (`not_found`)", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "A filter is invalid", body = ErrorBody),
    ),
)]
async fn search_logs(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath(org_id): AppPath<String>,
    AppQuery(query): AppQuery<LogSearchQuery>,
) -> Result<AppJson<Items<LogResponse>>> {
    let access = caller.org_access(&state, &org_id).await?;
    let LogSearchQuery { range, from, to, server_id, q, severity, trace_id, limit } = query;
    let window = WindowQuery { range, from, to, server_id: None }.window(&state)?;
    let filter = LogQuery {
        server: server_filter(&state, &access, server_id.as_deref()).await?,
        from_ns: window.from_ns(),
        to_ns: window.to_ns(),
        text: q.filter(|q| !q.trim().is_empty()),
        min_severity: severity.as_deref().map(min_severity).transpose()?,
        trace_id: trace_id.filter(|t| !t.is_empty()),
        limit: list_limit(limit)?,
    };
    let logs = state.store.search_logs(access.org.id, &filter).await?;
    Ok(AppJson(Items { items: logs.into_iter().map(LogResponse::from).collect() }))
}

/// A metric stream of the window.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = MetricStream)]
pub struct MetricSummaryResponse {
    name: String,
    /// Durations are stored in seconds (`s`), whatever unit the sender used.
    unit: String,
    kind: MetricKind,
    points: i64,
    #[serde(with = "time::serde::rfc3339")]
    last_point_at: time::OffsetDateTime,
}

/// The metric streams the organization's servers (or one of them) sent in a window.
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/metrics",
    operation_id = "list_metrics",
    tag = "analytics",
    params(("org_id" = Uuid, Path, description = says::ORG_ID), WindowQuery),
    security(("session" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "The metric streams, by name", body = Items<MetricSummaryResponse>),
        (status = BAD_REQUEST, description = "The query has another parameter (`bad_request`)", body = ErrorBody),
        (status = NOT_FOUND, description = "No such organization or server (`not_found`)", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "The window is invalid", body = ErrorBody),
    ),
)]
async fn list_metrics(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath(org_id): AppPath<String>,
    AppQuery(query): AppQuery<WindowQuery>,
) -> Result<AppJson<Items<MetricSummaryResponse>>> {
    let access = caller.org_access(&state, &org_id).await?;
    let window = query.window(&state)?;
    let server = server_filter(&state, &access, query.server_id.as_deref()).await?;
    let streams =
        state.store.list_metrics(access.org.id, server, window.from_ns(), window.to_ns()).await?;
    Ok(AppJson(Items {
        items: streams
            .into_iter()
            .map(|m| MetricSummaryResponse {
                name: m.name,
                unit: m.unit,
                kind: m.kind,
                points: m.points,
                last_point_at: at_time(m.last_time_ns),
            })
            .collect(),
    }))
}

/// Which points of one metric to read.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct MetricPointsQuery {
    /// The metric's name, e.g. `mcp.server.operation.duration`.
    name: String,
    /// `1h`, `24h` (default), `7d` or `30d`, up to now.
    range: Option<String>,
    /// Start of a custom window (RFC 3339); needs `to`.
    from: Option<String>,
    /// End of a custom window (RFC 3339), exclusive.
    to: Option<String>,
    #[param(format = Uuid)]
    server_id: Option<String>,
    /// At most this many, oldest first (default 100, at most 1000).
    limit: Option<u32>,
}

/// A data point of a metric.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = MetricPoint)]
pub struct MetricPointResponse {
    #[schema(format = Uuid)]
    server_id: String,
    #[serde(with = "time::serde::rfc3339")]
    time: time::OffsetDateTime,
    kind: MetricKind,
    unit: String,
    /// A gauge's or sum's value.
    value: Option<f64>,
    /// A histogram's or summary's count, sum, min and max.
    count: Option<i64>,
    sum: Option<f64>,
    min: Option<f64>,
    max: Option<f64>,
    /// Temporality, bucket bounds and counts, or quantiles.
    #[schema(value_type = Option<Object>)]
    details: Option<Value>,
    mcp_method: Option<String>,
    mcp_target: Option<String>,
    error_type: Option<String>,
    service_name: Option<String>,
    #[schema(value_type = Object)]
    attributes: Value,
}

/// One metric's data points in a window, oldest first.
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/metrics/points",
    operation_id = "metric_points",
    tag = "analytics",
    params(("org_id" = Uuid, Path, description = says::ORG_ID), MetricPointsQuery),
    security(("session" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "The points", body = Items<MetricPointResponse>),
        (status = BAD_REQUEST, description = "`name` is missing, or the query has another parameter (`bad_request`)", body = ErrorBody),
        (status = NOT_FOUND, description = "No such organization or server (`not_found`)", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "The window or limit is invalid", body = ErrorBody),
    ),
)]
async fn metric_points(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath(org_id): AppPath<String>,
    AppQuery(query): AppQuery<MetricPointsQuery>,
) -> Result<AppJson<Items<MetricPointResponse>>> {
    let access = caller.org_access(&state, &org_id).await?;
    let MetricPointsQuery { name, range, from, to, server_id, limit } = query;
    let window = WindowQuery { range, from, to, server_id: None }.window(&state)?;
    let filter = MetricQuery {
        server: server_filter(&state, &access, server_id.as_deref()).await?,
        name,
        from_ns: window.from_ns(),
        to_ns: window.to_ns(),
        limit: list_limit(limit)?,
    };
    let points = state.store.metric_points(access.org.id, &filter).await?;
    Ok(AppJson(Items {
        items: points
            .into_iter()
            .map(|stored| {
                let p = stored.point;
                MetricPointResponse {
                    server_id: stored.mcp_server_id.to_string(),
                    time: at_time(p.time_ns),
                    kind: p.kind,
                    unit: p.unit,
                    value: p.value,
                    count: p.count,
                    sum: p.sum,
                    min: p.min,
                    max: p.max,
                    details: p.details.as_deref().map(json_column),
                    mcp_method: p.method,
                    mcp_target: p.target,
                    error_type: p.error_type,
                    service_name: p.service_name,
                    attributes: json_column(&p.attributes),
                }
            })
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use mcplatform_core::ids::McpServerId;
    use mcplatform_core::telemetry::{McpFields, SpanRecord};

    use super::*;

    fn span(id: &str, parent: Option<&str>, start: i64) -> StoredSpan {
        StoredSpan {
            mcp_server_id: McpServerId::new(),
            span: SpanRecord {
                trace_id: "t".into(),
                span_id: id.into(),
                parent_span_id: parent.map(str::to_owned),
                name: id.into(),
                kind: SpanKind::Server,
                service_name: None,
                start_ns: start,
                end_ns: start + 1,
                status: SpanStatus::Unset,
                status_message: None,
                mcp: McpFields::default(),
                attributes: "{}".into(),
                resource: "{}".into(),
                events: None,
            },
        }
    }

    #[test]
    fn spans_come_in_tree_order() {
        let spans = vec![
            span("root", None, 0),
            span("b", Some("root"), 2),
            span("a", Some("root"), 1),
            span("a1", Some("a"), 3),
            span("orphan", Some("missing"), 5),
        ];
        let ordered: Vec<(String, u32)> =
            tree_order(spans).into_iter().map(|s| (s.span_id, s.depth)).collect();
        let expected = [("root", 0), ("a", 1), ("a1", 2), ("b", 1), ("orphan", 0)];
        assert_eq!(ordered, expected.map(|(id, d)| (id.to_owned(), d)));
    }
}
