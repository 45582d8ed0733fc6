//! MCP analytics in the dashboard: the overview of a window (organization-wide or one server),
//! a session's timeline, a trace's span tree and the log search. Every page is rendered on the
//! server; `analytics.js` draws the charts and refreshes the overview while it is open.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use mcplatform_core::ValidationError;
use mcplatform_core::hosting::RequestOutcome;
use mcplatform_core::ids::McpServerId;
use mcplatform_core::telemetry::analytics::{Latency, Overview, RangePreset, Window, at_time};
use mcplatform_store::{CallQuery, CallRow, LogQuery, MetricQuery};
use serde::Deserialize;
use time::OffsetDateTime;

use super::{
    Choice, Layout, PageResult, PageSession, format_time, render, script_json, server_choices,
    server_names,
};
use crate::access::OrgAccess;
use crate::api::analytics::{SpanResponse, is_trace_id, min_severity, server_filter, tree_order};
use crate::{ApiError, AppState, telemetry};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs/{org_id}/analytics", get(overview_get))
        .route("/orgs/{org_id}/analytics/sessions/{session_id}", get(session_get))
        .route("/orgs/{org_id}/analytics/traces/{trace_id}", get(trace_get))
        .route("/orgs/{org_id}/analytics/logs", get(logs_get))
        .route("/orgs/{org_id}/analytics/metrics", get(metric_get))
}

/// Failed operations listed on the overview.
const ERRORS_LISTED: u32 = 20;
/// Operations on a session's timeline.
const TIMELINE_CALLS: u32 = 1000;
/// Log records on one search page.
const LOGS_LISTED: u32 = 200;

/// The window and server the pages show, as the filter form sends them.
#[derive(Debug, Default, Clone, Deserialize)]
struct WindowForm {
    /// `1h`, `24h`, `7d`, `30d` or `custom`.
    #[serde(default)]
    range: String,
    /// First day of a custom window (`YYYY-MM-DD`, UTC).
    #[serde(default)]
    from: String,
    /// Last day of a custom window, included.
    #[serde(default)]
    to: String,
    #[serde(default)]
    server_id: String,
}

impl WindowForm {
    fn is_custom(&self) -> bool {
        self.range == "custom"
    }

    /// The window asked for, or the last 24 hours with the reason the form was not usable.
    fn window(&self, now: OffsetDateTime) -> (Window, Option<String>) {
        let asked = if self.is_custom() {
            let day = |field: &'static str, text: &str| {
                time::Date::parse(
                    text.trim(),
                    time::macros::format_description!("[year]-[month]-[day]"),
                )
                .map(|date| date.midnight().assume_utc())
                .map_err(|_| ValidationError::new(field, "choose a day"))
            };
            day("from", &self.from).and_then(|from| {
                let to = day("to", &self.to)? + time::Duration::DAY;
                Window::custom(from, to)
            })
        } else {
            let range = Some(self.range.as_str()).filter(|r| !r.is_empty());
            telemetry::analytics::window(now, range, None, None)
        };
        match asked {
            Ok(window) => (window, None),
            Err(err) => (
                Window::last(RangePreset::Day, now),
                Some(format!("{err}; showing the last 24 hours.")),
            ),
        }
    }

    /// The query string that shows the same window and server again.
    fn query_string(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("range", &self.range)
            .append_pair("from", &self.from)
            .append_pair("to", &self.to)
            .append_pair("server_id", &self.server_id)
            .finish()
    }
}

fn ms(value: f64) -> String {
    if value >= 1000.0 {
        format!("{:.2} s", value / 1000.0)
    } else if value >= 10.0 {
        format!("{value:.0} ms")
    } else {
        format!("{value:.1} ms")
    }
}

fn percent(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

/// p50, p95 and p99 as the tables show them.
fn percentiles(latency: Option<&Latency>) -> [String; 3] {
    latency.map_or_else(
        || ["—".to_owned(), "—".to_owned(), "—".to_owned()],
        |l| [ms(l.p50_ms), ms(l.p95_ms), ms(l.p99_ms)],
    )
}

fn outcome_label(outcome: RequestOutcome) -> &'static str {
    match outcome {
        RequestOutcome::Ok => "ok",
        RequestOutcome::ToolError => "tool error",
        RequestOutcome::ProtocolError => "protocol error",
    }
}

struct ToolRow {
    name: String,
    calls: u64,
    tool_errors: u64,
    protocol_errors: u64,
    error_rate: String,
    latency: [String; 3],
}

struct ClientRow {
    name: String,
    calls: u64,
    users: u64,
    share: String,
}

struct MethodRow {
    method: String,
    calls: u64,
    errors: u64,
}

struct SessionRow {
    id: String,
    /// Its timeline; derived sessions (calls without a session id) have none.
    url: Option<String>,
    user: String,
    client: String,
    calls: u64,
    errors: u64,
    first_call: String,
    last_call: String,
}

/// One MCP operation in a table.
struct CallLine {
    time: String,
    server: String,
    method: String,
    tool: String,
    outcome: &'static str,
    failed: bool,
    duration: String,
    user: String,
    error: String,
    trace_url: Option<String>,
    session_url: Option<String>,
}

impl CallLine {
    fn of(row: CallRow, org_id: &str, servers: &HashMap<McpServerId, String>) -> Self {
        Self {
            time: format_time(at_time(row.at_ns)),
            server: servers.get(&row.mcp_server_id).cloned().unwrap_or_default(),
            method: row.method,
            tool: row.tool.unwrap_or_default(),
            outcome: outcome_label(row.outcome),
            failed: row.outcome != RequestOutcome::Ok,
            duration: ms(row.duration_ns as f64 / 1e6),
            user: row.user.unwrap_or_default(),
            error: row.error.unwrap_or_default(),
            trace_url: row.trace_id.map(|t| format!("/orgs/{org_id}/analytics/traces/{t}")),
            session_url: row.session.map(|s| session_url(org_id, &s)),
        }
    }
}

fn session_url(org_id: &str, session: &str) -> String {
    // A path segment: form encoding's `+` for a space would stay a `+` in the path.
    let id: String = url::form_urlencoded::byte_serialize(session.as_bytes()).collect();
    format!("/orgs/{org_id}/analytics/sessions/{}", id.replace('+', "%20"))
}

#[derive(Template)]
#[template(path = "analytics/overview.html")]
struct OverviewView {
    layout: Layout,
    org_id: String,
    window: WindowForm,
    query_string: String,
    servers: Vec<Choice>,
    error: Option<String>,
    window_label: String,
    overview: Overview,
    error_rate: String,
    latency: [String; 3],
    tool_latency: [String; 3],
    tools: Vec<ToolRow>,
    clients: Vec<ClientRow>,
    methods: Vec<MethodRow>,
    sessions: Vec<SessionRow>,
    failures: Vec<CallLine>,
    /// The chart series as JSON (read by `analytics.js`, never executed).
    series_json: String,
    metrics: Vec<MetricRow>,
}

/// A metric stream on the overview.
struct MetricRow {
    name: String,
    unit: String,
    kind: &'static str,
    points: i64,
    url: String,
}

fn window_label(form: &WindowForm, window: &Window) -> String {
    let span = match form.range.as_str() {
        "1h" => "The last hour".to_owned(),
        "7d" => "The last 7 days".to_owned(),
        "30d" => "The last 30 days".to_owned(),
        "custom" => format!("{} to {}", format_time(window.from), format_time(window.to)),
        _ => "The last 24 hours".to_owned(),
    };
    let minutes = window.bucket.whole_minutes();
    let bucket = match minutes {
        m if m % 1440 == 0 => format!("{} day(s)", m / 1440),
        m if m % 60 == 0 => format!("{} hour(s)", m / 60),
        m => format!("{m} minute(s)"),
    };
    format!("{span}, in steps of {bucket} (UTC).")
}

async fn overview_get(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path(org_id): Path<String>,
    Query(form): Query<WindowForm>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let names = server_names(&state, &access).await?;
    let server = server_filter(&state, &access, Some(&form.server_id)).await?;
    let (window, error) = form.window(state.clock.now());
    let overview = telemetry::analytics::overview(&state, access.org.id, server, window).await?;
    let failures = state
        .store
        .list_mcp_calls(
            access.org.id,
            &CallQuery {
                server,
                from_ns: window.from_ns(),
                to_ns: window.to_ns(),
                session: None,
                errors_only: true,
                limit: ERRORS_LISTED,
            },
        )
        .await?;
    let org = access.org.id.to_string();
    let metrics = state
        .store
        .list_metrics(access.org.id, server, window.from_ns(), window.to_ns())
        .await?
        .into_iter()
        .map(|m| MetricRow {
            url: format!("/orgs/{org}/analytics/metrics?{}", metric_query(&m.name, &form)),
            kind: m.kind.as_str(),
            name: m.name,
            unit: m.unit,
            points: m.points,
        })
        .collect();
    let tools = overview
        .tools
        .iter()
        .map(|t| ToolRow {
            name: t.name.clone(),
            calls: t.counts.calls,
            tool_errors: t.counts.tool_errors,
            protocol_errors: t.counts.protocol_errors,
            error_rate: percent(t.error_rate),
            latency: percentiles(t.latency.as_ref()),
        })
        .collect();
    let total = overview.counts.calls.max(1) as f64;
    let clients = overview
        .clients
        .iter()
        .map(|c| ClientRow {
            name: c.name.clone().unwrap_or_else(|| "(unknown)".to_owned()),
            calls: c.calls,
            users: c.users,
            share: percent(c.calls as f64 / total),
        })
        .collect();
    let methods = overview
        .methods
        .iter()
        .map(|m| MethodRow {
            method: m.method.clone(),
            calls: m.counts.calls,
            errors: m.counts.protocol_errors + m.counts.tool_errors,
        })
        .collect();
    let sessions = overview
        .recent_sessions
        .iter()
        .map(|s| SessionRow {
            id: s.id.clone(),
            url: (!s.derived).then(|| session_url(&org, &s.id)),
            user: s.user.clone().unwrap_or_default(),
            client: s.client.clone().unwrap_or_default(),
            calls: s.counts.calls,
            errors: s.counts.protocol_errors + s.counts.tool_errors,
            first_call: format_time(s.first_call),
            last_call: format_time(s.last_call),
        })
        .collect();
    let view = OverviewView {
        layout: Layout::for_session("Analytics", &current).in_org(&access),
        org_id: org.clone(),
        query_string: form.query_string(),
        servers: server_choices(&names),
        error,
        window_label: window_label(&form, &window),
        error_rate: percent(overview.error_rate),
        latency: percentiles(overview.latency.as_ref()),
        tool_latency: percentiles(overview.tool_latency.as_ref()),
        tools,
        clients,
        methods,
        sessions,
        failures: failures.into_iter().map(|row| CallLine::of(row, &org, &names)).collect(),
        series_json: script_json(&overview.series),
        metrics,
        overview,
        window: form,
    };
    Ok(render(StatusCode::OK, &view))
}

#[derive(Template)]
#[template(path = "analytics/session.html")]
struct SessionView {
    layout: Layout,
    org_id: String,
    session_id: String,
    calls: Vec<CallLine>,
    /// The timeline was cut at [`TIMELINE_CALLS`].
    truncated: bool,
    hosted_url: Option<String>,
}

async fn session_get(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, session_id)): Path<(String, String)>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let names = server_names(&state, &access).await?;
    let mut rows = state
        .store
        .list_mcp_calls(
            access.org.id,
            &CallQuery {
                server: None,
                from_ns: i64::MIN,
                to_ns: i64::MAX,
                session: Some(session_id.clone()),
                errors_only: false,
                limit: TIMELINE_CALLS,
            },
        )
        .await?;
    if rows.is_empty() {
        return Err(ApiError::NotFound.into());
    }
    // A hosted session also has its own page, with the calls' inputs and outputs.
    let hosted_url = rows.iter().find(|r| r.trace_id.is_none()).map(|r| {
        format!("/orgs/{}/servers/{}/sessions/{}", access.org.id, r.mcp_server_id, session_id)
    });
    rows.reverse();
    let org = access.org.id.to_string();
    let view = SessionView {
        layout: Layout::for_session("Session", &current).in_org(&access),
        truncated: rows.len() >= TIMELINE_CALLS as usize,
        calls: rows.into_iter().map(|row| CallLine::of(row, &org, &names)).collect(),
        org_id: org,
        session_id,
        hosted_url,
    };
    Ok(render(StatusCode::OK, &view))
}

/// A span of the trace page, with its place on the waterfall.
struct SpanLine {
    span: SpanResponse,
    server: String,
    indent: u32,
    /// Left edge and width of its bar, in percent of the trace's duration.
    offset: String,
    width: String,
    start: String,
    duration: String,
    attributes: String,
    resource: String,
    events: Option<String>,
}

#[derive(Template)]
#[template(path = "analytics/trace.html")]
struct TraceView {
    layout: Layout,
    org_id: String,
    trace_id: String,
    duration: String,
    spans: Vec<SpanLine>,
}

fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

async fn trace_get(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, trace_id)): Path<(String, String)>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    if !is_trace_id(&trace_id) {
        return Err(ApiError::NotFound.into());
    }
    let names = server_names(&state, &access).await?;
    let spans = state.store.trace_spans(access.org.id, &trace_id).await?;
    let start = spans.iter().map(|s| s.span.start_ns).min().ok_or(ApiError::NotFound)?;
    let end = spans.iter().map(|s| s.span.end_ns).max().unwrap_or(start);
    let total = (end - start).max(1) as f64;
    let spans = tree_order(spans)
        .into_iter()
        .map(|span| {
            let begin: i64 = span.start_unix_nano.parse().unwrap_or(start);
            let offset = (begin - start) as f64 / total * 100.0;
            let width = (span.duration_ms * 1e6 / total * 100.0).max(0.3);
            SpanLine {
                server: span
                    .server_id
                    .parse()
                    .ok()
                    .and_then(|id| names.get(&id).cloned())
                    .unwrap_or_default(),
                indent: span.depth.min(20),
                offset: format!("{offset:.2}"),
                width: format!("{:.2}", width.min(100.0 - offset).max(0.3)),
                start: format_time(at_time(begin)),
                duration: ms(span.duration_ms),
                attributes: pretty(&span.attributes),
                resource: pretty(&span.resource),
                events: span.events.as_ref().map(pretty),
                span,
            }
        })
        .collect();
    let view = TraceView {
        layout: Layout::for_session("Trace", &current).in_org(&access),
        org_id: access.org.id.to_string(),
        duration: ms(total / 1e6),
        trace_id: trace_id.to_ascii_lowercase(),
        spans,
    };
    Ok(render(StatusCode::OK, &view))
}

/// `name=` and the window's query string.
fn metric_query(name: &str, window: &WindowForm) -> String {
    let name: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
    format!("name={name}&{}", window.query_string())
}

/// Points a metric page reads.
const METRIC_POINTS: u32 = 1000;

#[derive(Debug, Default, Deserialize)]
struct MetricForm {
    #[serde(flatten)]
    window: WindowForm,
    #[serde(default)]
    name: String,
}

/// A point as the metric page lists it.
struct PointLine {
    time: String,
    server: String,
    /// The value, or the count, sum, min and max of a distribution.
    reading: String,
    attributes: String,
}

/// A point of the metric chart: the value, or a distribution's mean and count.
#[derive(serde::Serialize)]
struct ChartPoint {
    #[serde(with = "time::serde::rfc3339")]
    time: OffsetDateTime,
    value: Option<f64>,
    count: Option<i64>,
}

#[derive(Template)]
#[template(path = "analytics/metric.html")]
struct MetricView {
    layout: Layout,
    org_id: String,
    window: WindowForm,
    servers: Vec<Choice>,
    error: Option<String>,
    window_label: String,
    name: String,
    unit: String,
    kind: String,
    /// Whether the chart shows a distribution's mean (histograms, summaries).
    distribution: bool,
    points: Vec<PointLine>,
    truncated: bool,
    chart_json: String,
}

fn number(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_owned(), |v| format!("{v}"))
}

async fn metric_get(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path(org_id): Path<String>,
    Query(form): Query<MetricForm>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let names = server_names(&state, &access).await?;
    let server = server_filter(&state, &access, Some(&form.window.server_id)).await?;
    let (window, error) = form.window.window(state.clock.now());
    let query = MetricQuery {
        server,
        name: form.name.clone(),
        from_ns: window.from_ns(),
        to_ns: window.to_ns(),
        limit: METRIC_POINTS,
    };
    let stored = state.store.metric_points(access.org.id, &query).await?;
    let unit = stored.first().map(|s| s.point.unit.clone()).unwrap_or_default();
    let kind = stored.first().map(|s| s.point.kind.as_str()).unwrap_or_default();
    let distribution = stored.iter().any(|s| s.point.count.is_some());
    let chart: Vec<ChartPoint> = stored
        .iter()
        .map(|s| {
            let p = &s.point;
            let mean = match (p.sum, p.count) {
                (Some(sum), Some(count)) if count > 0 => Some(sum / count as f64),
                _ => None,
            };
            ChartPoint { time: at_time(p.time_ns), value: p.value.or(mean), count: p.count }
        })
        .collect();
    let points = stored
        .iter()
        .rev()
        .take(100)
        .map(|s| {
            let p = &s.point;
            let reading = match (p.value, p.count) {
                (Some(value), _) => format!("{value}"),
                (None, Some(count)) => format!(
                    "count {count}, sum {}, min {}, max {}",
                    number(p.sum),
                    number(p.min),
                    number(p.max)
                ),
                (None, None) => "—".to_owned(),
            };
            PointLine {
                time: format_time(at_time(p.time_ns)),
                server: names.get(&s.mcp_server_id).cloned().unwrap_or_default(),
                reading,
                attributes: p.attributes.clone(),
            }
        })
        .collect();
    let view = MetricView {
        layout: Layout::for_session("Metric", &current).in_org(&access),
        org_id: access.org.id.to_string(),
        servers: server_choices(&names),
        error,
        window_label: window_label(&form.window, &window),
        unit,
        kind: kind.to_owned(),
        distribution,
        truncated: stored.len() >= METRIC_POINTS as usize,
        points,
        chart_json: script_json(&chart),
        name: form.name,
        window: form.window,
    };
    Ok(render(StatusCode::OK, &view))
}

#[derive(Debug, Default, Deserialize)]
struct LogForm {
    #[serde(flatten)]
    window: WindowForm,
    #[serde(default)]
    q: String,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    trace_id: String,
}

struct LogLine {
    time: String,
    server: String,
    severity: String,
    /// `error`, `warn`… for the row's style.
    level: &'static str,
    service: String,
    body: String,
    trace_url: Option<String>,
    session_url: Option<String>,
}

fn level(severity_number: i32) -> &'static str {
    match severity_number {
        n if n >= 17 => "error",
        n if n >= 13 => "warn",
        n if n >= 9 => "info",
        _ => "debug",
    }
}

#[derive(Template)]
#[template(path = "analytics/logs.html")]
struct LogsView {
    layout: Layout,
    org_id: String,
    window: WindowForm,
    q: String,
    severity: String,
    trace_id: String,
    servers: Vec<Choice>,
    error: Option<String>,
    window_label: String,
    logs: Vec<LogLine>,
    limit: u32,
}

async fn logs_get(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path(org_id): Path<String>,
    Query(form): Query<LogForm>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let names = server_names(&state, &access).await?;
    let server = server_filter(&state, &access, Some(&form.window.server_id)).await?;
    let (window, mut error) = form.window.window(state.clock.now());
    let min_severity = match form.severity.as_str() {
        "" => None,
        name => match min_severity(name) {
            Ok(n) => Some(n),
            Err(err) => {
                error = Some(err.to_string());
                None
            }
        },
    };
    let trace = form.trace_id.trim().to_ascii_lowercase();
    let query = LogQuery {
        server,
        from_ns: window.from_ns(),
        to_ns: window.to_ns(),
        text: Some(form.q.clone()).filter(|q| !q.trim().is_empty()),
        min_severity,
        trace_id: Some(trace).filter(|t| !t.is_empty()),
        limit: LOGS_LISTED,
    };
    let org = access.org.id.to_string();
    let logs = state
        .store
        .search_logs(access.org.id, &query)
        .await?
        .into_iter()
        .map(|stored| {
            let log = stored.log;
            LogLine {
                time: format_time(at_time(log.time_ns)),
                server: names.get(&stored.mcp_server_id).cloned().unwrap_or_default(),
                severity: log
                    .severity_text
                    .clone()
                    .unwrap_or_else(|| level(log.severity_number).to_ascii_uppercase()),
                level: level(log.severity_number),
                service: log.service_name.unwrap_or_default(),
                body: log.body,
                trace_url: log.trace_id.map(|t| format!("/orgs/{org}/analytics/traces/{t}")),
                session_url: log.session_id.map(|s| session_url(&org, &s)),
            }
        })
        .collect();
    let view = LogsView {
        layout: Layout::for_session("Logs", &current).in_org(&access),
        org_id: org,
        servers: server_choices(&names),
        error,
        window_label: window_label(&form.window, &window),
        logs,
        limit: LOGS_LISTED,
        window: form.window,
        q: form.q,
        severity: form.severity,
        trace_id: form.trace_id,
    };
    Ok(render(StatusCode::OK, &view))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(ms(0.25), "0.2 ms");
        assert_eq!(ms(12.4), "12 ms");
        assert_eq!(ms(1500.0), "1.50 s");
        assert_eq!(percent(0.125), "12.5%");
    }

    #[test]
    fn session_ids_are_path_segments() {
        assert_eq!(session_url("o", "a b+c/d"), "/orgs/o/analytics/sessions/a%20b%2Bc%2Fd");
    }

    #[test]
    fn a_custom_window_runs_through_its_last_day() {
        let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        let form = WindowForm {
            range: "custom".into(),
            from: "2026-11-01".into(),
            to: "2026-11-02".into(),
            server_id: String::new(),
        };
        let (window, error) = form.window(now);
        assert_eq!(error, None);
        assert_eq!(window.to - window.from, time::Duration::days(2));
        let bad = WindowForm { to: "yesterday".into(), ..form };
        let (window, error) = bad.window(now);
        assert!(error.unwrap().contains("showing the last 24 hours"));
        assert_eq!(window.to, now);
    }
}
