//! Ingested telemetry: multi-row inserts in one transaction, and the analytics' reads.

use std::collections::HashSet;

use async_trait::async_trait;
use mcplatform_core::hosting::RequestOutcome;
use mcplatform_core::ids::{McpServerId, OrgId};
use mcplatform_core::telemetry::analytics::CallSample;
use mcplatform_core::telemetry::{LogRecord, McpFields, MetricPointRecord, SpanRecord};
use sqlx::any::AnyRow;

use super::{Columns, Conditions, Param, SqlStore, like_pattern, millis};
use crate::{
    Backend, CallQuery, CallRow, LogQuery, MAX_TRACE_SPANS, MetricQuery, MetricSummary, Result,
    StoredLog, StoredMetricPoint, StoredSpan, TelemetryStore, TelemetryWrite,
};

/// Rows per statement: each statement binds one JSON document of this many rows.
const ROWS_PER_STATEMENT: usize = 5_000;

/// How a column is read back out of a row's JSON array.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Int,
    Float,
}

use Kind::{Float, Int, Text};

const SPAN_COLUMNS: &[(&str, Kind)] = &[
    ("organization_id", Text),
    ("mcp_server_id", Text),
    ("trace_id", Text),
    ("span_id", Text),
    ("parent_span_id", Text),
    ("name", Text),
    ("kind", Text),
    ("service_name", Text),
    ("start_ns", Int),
    ("end_ns", Int),
    ("status", Text),
    ("status_message", Text),
    ("mcp_method", Text),
    ("mcp_target", Text),
    ("session_id", Text),
    ("end_user", Text),
    ("client_name", Text),
    ("client_version", Text),
    ("protocol_version", Text),
    ("outcome", Text),
    ("error_type", Text),
    ("rpc_code", Int),
    ("attributes", Text),
    ("resource", Text),
    ("events", Text),
    ("received_at", Int),
];

const METRIC_COLUMNS: &[(&str, Kind)] = &[
    ("organization_id", Text),
    ("mcp_server_id", Text),
    ("name", Text),
    ("unit", Text),
    ("kind", Text),
    ("service_name", Text),
    ("start_ns", Int),
    ("time_ns", Int),
    ("value", Float),
    ("count", Int),
    ("sum", Float),
    ("min", Float),
    ("max", Float),
    ("details", Text),
    ("mcp_method", Text),
    ("mcp_target", Text),
    ("error_type", Text),
    ("attributes", Text),
    ("resource", Text),
    ("received_at", Int),
];

const LOG_COLUMNS: &[(&str, Kind)] = &[
    ("organization_id", Text),
    ("mcp_server_id", Text),
    ("time_ns", Int),
    ("observed_ns", Int),
    ("severity_number", Int),
    ("severity_text", Text),
    ("body", Text),
    ("trace_id", Text),
    ("span_id", Text),
    ("service_name", Text),
    ("session_id", Text),
    ("attributes", Text),
    ("resource", Text),
    ("received_at", Int),
];

fn names(columns: &[(&str, Kind)]) -> String {
    columns.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ")
}

/// `INSERT INTO table (…) SELECT … FROM` the rows of one bound JSON array of arrays: one
/// parameter whatever the row count, unpacked by the database's own JSON functions (binding
/// every value of thousands of rows costs far more).
fn insert_sql(backend: Backend, table: &str, columns: &[(&str, Kind)]) -> String {
    let values: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, (_, kind))| match (backend, kind) {
            // SQLite's `->>` gives JSON numbers back as INTEGER or REAL, exactly.
            (Backend::Sqlite, _) => format!("value ->> {i}"),
            (Backend::Postgres, Text) => format!("value ->> {i}"),
            (Backend::Postgres, Int) => format!("(value ->> {i})::BIGINT"),
            (Backend::Postgres, Float) => format!("(value ->> {i})::DOUBLE PRECISION"),
        })
        .collect();
    let rows = match backend {
        Backend::Sqlite => "json_each($1)",
        Backend::Postgres => "json_array_elements($1::json) AS rows (value)",
    };
    format!("INSERT INTO {table} ({}) SELECT {} FROM {rows}", names(columns), values.join(", "))
}

/// A JSON array of rows, each an array of its columns' values.
struct JsonRows(Vec<u8>);

impl JsonRows {
    fn new() -> Self {
        Self(b"[".to_vec())
    }

    fn row(&mut self) -> &mut Self {
        if self.0.len() > 1 {
            self.0.push(b',');
        }
        self.0.push(b'[');
        self
    }

    /// One value; a non-finite float (NaN, infinity: JSON has none) is written as null.
    fn value(&mut self, value: &impl serde::Serialize) -> &mut Self {
        if self.0.last() != Some(&b'[') {
            self.0.push(b',');
        }
        // Writing strings and numbers into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.0, value);
        self
    }

    fn end_row(&mut self) {
        self.0.push(b']');
    }

    fn finish(mut self) -> String {
        self.0.push(b']');
        // serde_json writes UTF-8 only.
        String::from_utf8(self.0).unwrap_or_default()
    }
}

/// Inserts `items` in statements of [`ROWS_PER_STATEMENT`] rows, each row written by `row`.
async fn insert_all<'a, T: 'a>(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    sql: &str,
    items: &[(&'a TelemetryWrite, &'a T)],
    row: impl Fn(&mut JsonRows, &TelemetryWrite, &T),
) -> Result<()> {
    for chunk in items.chunks(ROWS_PER_STATEMENT) {
        let mut rows = JsonRows::new();
        for (write, item) in chunk {
            row(rows.row(), write, item);
            rows.end_row();
        }
        sqlx::query(sql).bind(rows.finish()).execute(&mut **tx).await?;
    }
    Ok(())
}

fn span_row(rows: &mut JsonRows, write: &TelemetryWrite, span: &SpanRecord) {
    let mcp = &span.mcp;
    rows.value(&write.organization_id.to_string())
        .value(&write.mcp_server_id.to_string())
        .value(&span.trace_id)
        .value(&span.span_id)
        .value(&span.parent_span_id)
        .value(&span.name)
        .value(&span.kind.as_str())
        .value(&span.service_name)
        .value(&span.start_ns)
        .value(&span.end_ns)
        .value(&span.status.as_str())
        .value(&span.status_message)
        .value(&mcp.method)
        .value(&mcp.target)
        .value(&mcp.session_id)
        .value(&mcp.end_user)
        .value(&mcp.client_name)
        .value(&mcp.client_version)
        .value(&mcp.protocol_version)
        .value(&mcp.outcome.map(RequestOutcome::as_str))
        .value(&mcp.error_type)
        .value(&mcp.rpc_code)
        .value(&span.attributes)
        .value(&span.resource)
        .value(&span.events)
        .value(&millis(write.received_at));
}

fn metric_row(rows: &mut JsonRows, write: &TelemetryWrite, p: &MetricPointRecord) {
    rows.value(&write.organization_id.to_string())
        .value(&write.mcp_server_id.to_string())
        .value(&p.name)
        .value(&p.unit)
        .value(&p.kind.as_str())
        .value(&p.service_name)
        .value(&p.start_ns)
        .value(&p.time_ns)
        .value(&p.value)
        .value(&p.count)
        .value(&p.sum)
        .value(&p.min)
        .value(&p.max)
        .value(&p.details)
        .value(&p.method)
        .value(&p.target)
        .value(&p.error_type)
        .value(&p.attributes)
        .value(&p.resource)
        .value(&millis(write.received_at));
}

fn log_row(rows: &mut JsonRows, write: &TelemetryWrite, l: &LogRecord) {
    rows.value(&write.organization_id.to_string())
        .value(&write.mcp_server_id.to_string())
        .value(&l.time_ns)
        .value(&l.observed_ns)
        .value(&l.severity_number)
        .value(&l.severity_text)
        .value(&l.body)
        .value(&l.trace_id)
        .value(&l.span_id)
        .value(&l.service_name)
        .value(&l.session_id)
        .value(&l.attributes)
        .value(&l.resource)
        .value(&millis(write.received_at));
}

/// ` AND {column} = {param}` when the filter is given, else a condition that only mentions the
/// parameter (a bound parameter must appear in the statement).
fn filter(given: bool, param: &str, column: &str) -> String {
    if given { format!(" AND {column} = {param}") } else { format!(" AND {param} IS NULL") }
}

#[async_trait]
impl TelemetryStore for SqlStore {
    async fn insert_telemetry(&self, writes: &[TelemetryWrite]) -> Result<()> {
        if writes.iter().all(|write| write.batch.is_empty() && write.export.is_none()) {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        // A server deleted since its key was checked takes its telemetry with it.
        let mut live = HashSet::new();
        for write in writes {
            let key = (write.organization_id, write.mcp_server_id);
            if live.contains(&key) {
                continue;
            }
            let exists: Option<i64> = sqlx::query_scalar(
                "SELECT 1 FROM mcp_servers WHERE id = $1 AND organization_id = $2",
            )
            .bind(write.mcp_server_id.to_string())
            .bind(write.organization_id.to_string())
            .fetch_optional(&mut *tx)
            .await?;
            if exists.is_some() {
                live.insert(key);
            }
        }
        let writes: Vec<&TelemetryWrite> = writes
            .iter()
            .filter(|w| live.contains(&(w.organization_id, w.mcp_server_id)))
            .collect();

        let spans: Vec<_> =
            writes.iter().flat_map(|w| w.batch.spans.iter().map(move |s| (*w, s))).collect();
        let sql = insert_sql(self.backend, "telemetry_spans", SPAN_COLUMNS);
        insert_all(&mut tx, &sql, &spans, span_row).await?;
        let points: Vec<_> = writes
            .iter()
            .flat_map(|w| w.batch.metric_points.iter().map(move |p| (*w, p)))
            .collect();
        let sql = insert_sql(self.backend, "telemetry_metric_points", METRIC_COLUMNS);
        insert_all(&mut tx, &sql, &points, metric_row).await?;
        let logs: Vec<_> =
            writes.iter().flat_map(|w| w.batch.logs.iter().map(move |l| (*w, l))).collect();
        let sql = insert_sql(self.backend, "telemetry_logs", LOG_COLUMNS);
        insert_all(&mut tx, &sql, &logs, log_row).await?;
        for write in &writes {
            if let Some(request) = &write.export {
                let (org, server) = (write.organization_id, write.mcp_server_id);
                super::telemetry_export::enqueue(&mut tx, org, server, write.received_at, request)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn mcp_calls(
        &self,
        org: OrgId,
        server: Option<McpServerId>,
        from_ns: i64,
        to_ns: i64,
    ) -> Result<Vec<CallSample>> {
        // Hosted requests are kept in milliseconds; a request in the window's first partial
        // millisecond is counted (the dashboard's windows are whole seconds anyway).
        let (from_ms, to_ms) = (from_ns.div_euclid(1_000_000), to_ns.div_euclid(1_000_000));
        let server_filter = |column: &str| filter(server.is_some(), "$4", column);
        let sql = format!(
            "SELECT start_ns AS at_ns, mcp_method AS method, mcp_target AS tool, outcome, \
                 end_ns - start_ns AS duration_ns, client_name AS client, end_user AS user_key, \
                 session_id AS session \
             FROM telemetry_spans \
             WHERE organization_id = $1 AND start_ns >= $2 AND start_ns < $3{spans} \
               AND mcp_method IS NOT NULL AND kind <> 'client' \
             UNION ALL \
             SELECT r.started_at * 1000000, r.method, r.tool_name, r.outcome, \
                 r.duration_us * 1000, s.client_name, \
                 COALESCE(e.email, 'hosted:' || r.end_user_id), r.session_id \
             FROM mcp_requests r LEFT JOIN mcp_sessions s ON s.id = r.session_id \
               LEFT JOIN end_users e ON e.id = r.end_user_id \
             WHERE r.organization_id = $1 AND r.started_at >= $5 AND r.started_at < $6{hosted}",
            spans = server_filter("mcp_server_id"),
            hosted = server_filter("r.mcp_server_id"),
        );
        let rows = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(from_ns)
            .bind(to_ns)
            .bind(server.map(|s| s.to_string()))
            .bind(from_ms)
            .bind(to_ms)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let c = Columns::new(row, "telemetry_spans");
                Ok(CallSample {
                    at_ns: c.int("at_ns")?,
                    method: c.text("method")?,
                    tool: c.opt_text("tool")?,
                    outcome: c.parsed("outcome")?,
                    duration_ns: c.int("duration_ns")?,
                    client: c.opt_text("client")?,
                    user: c.opt_text("user_key")?,
                    session: c.opt_text("session")?,
                })
            })
            .collect()
    }

    async fn trace_spans(&self, org: OrgId, trace_id: &str) -> Result<Vec<StoredSpan>> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM telemetry_spans WHERE organization_id = $1 AND trace_id = $2 \
             ORDER BY start_ns, span_id LIMIT {MAX_TRACE_SPANS}",
            names(SPAN_COLUMNS)
        ))
        .bind(org.to_string())
        .bind(trace_id.to_ascii_lowercase())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(span_from_row).collect()
    }

    async fn purge_telemetry(&self, org: OrgId, before_ns: i64) -> Result<u64> {
        // (table, its time column, nanoseconds per unit of that column); each has an
        // (organization_id, time) index.
        const TABLES: [(&str, &str, i64); 4] = [
            ("telemetry_spans", "start_ns", 1),
            ("telemetry_metric_points", "time_ns", 1),
            ("telemetry_logs", "time_ns", 1),
            ("mcp_requests", "started_at", 1_000_000),
        ];
        const DAY_NS: i64 = 86_400 * 1_000_000_000;
        let mut deleted = 0;
        for (table, column, unit) in TABLES {
            let before = before_ns.div_euclid(unit);
            loop {
                let oldest: Option<i64> = sqlx::query_scalar(&format!(
                    "SELECT MIN({column}) FROM {table} WHERE organization_id = $1"
                ))
                .bind(org.to_string())
                .fetch_one(&self.pool)
                .await?;
                let Some(oldest) = oldest.filter(|oldest| *oldest < before) else { break };
                // One day of data at a time keeps each write short, on SQLite above all.
                let upto = oldest.saturating_add(DAY_NS / unit).min(before);
                let done = sqlx::query(&format!(
                    "DELETE FROM {table} WHERE organization_id = $1 AND {column} < $2"
                ))
                .bind(org.to_string())
                .bind(upto)
                .execute(&self.pool)
                .await?;
                deleted += done.rows_affected();
            }
        }
        Ok(deleted)
    }

    async fn list_mcp_calls(&self, org: OrgId, query: &CallQuery) -> Result<Vec<CallRow>> {
        // Each side is cut to the limit by its own time index before the two are merged.
        let (from_ms, to_ms) =
            (query.from_ns.div_euclid(1_000_000), query.to_ns.div_euclid(1_000_000));
        let (server, session) = (query.server.is_some(), query.session.is_some());
        let errors = |column: &str| {
            if query.errors_only { format!(" AND {column} <> 'ok'") } else { String::new() }
        };
        let limit = query.limit.max(1);
        let sql = format!(
            "SELECT * FROM (SELECT mcp_server_id, start_ns AS at_ns, mcp_method AS method, \
                 mcp_target AS tool, outcome, end_ns - start_ns AS duration_ns, \
                 client_name AS client, end_user AS user_key, session_id AS session, trace_id, \
                 error_type AS error \
               FROM telemetry_spans \
               WHERE organization_id = $1 AND start_ns >= $2 AND start_ns < $3{s_server}{s_session} \
                 AND mcp_method IS NOT NULL AND kind <> 'client'{s_errors} \
               ORDER BY start_ns DESC LIMIT {limit}) spans \
             UNION ALL \
             SELECT * FROM (SELECT r.mcp_server_id, r.started_at * 1000000 AS at_ns, r.method, \
                 r.tool_name AS tool, r.outcome, r.duration_us * 1000 AS duration_ns, \
                 s.client_name AS client, e.email AS user_key, r.session_id AS session, \
                 CAST(NULL AS TEXT) AS trace_id, r.error_message AS error \
               FROM mcp_requests r LEFT JOIN mcp_sessions s ON s.id = r.session_id \
                 LEFT JOIN end_users e ON e.id = r.end_user_id \
               WHERE r.organization_id = $1 AND r.started_at >= $6 AND r.started_at < $7\
                 {h_server}{h_session}{h_errors} \
               ORDER BY r.started_at DESC LIMIT {limit}) hosted \
             ORDER BY at_ns DESC LIMIT {limit}",
            s_server = filter(server, "$4", "mcp_server_id"),
            s_session = filter(session, "$5", "session_id"),
            s_errors = errors("outcome"),
            h_server = filter(server, "$4", "r.mcp_server_id"),
            h_session = filter(session, "$5", "r.session_id"),
            h_errors = errors("r.outcome"),
        );
        let rows = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(query.from_ns)
            .bind(query.to_ns)
            .bind(query.server.map(|s| s.to_string()))
            .bind(query.session.as_deref())
            .bind(from_ms)
            .bind(to_ms)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let c = Columns::new(row, "telemetry_spans");
                Ok(CallRow {
                    mcp_server_id: c.parsed("mcp_server_id")?,
                    at_ns: c.int("at_ns")?,
                    method: c.text("method")?,
                    tool: c.opt_text("tool")?,
                    outcome: c.parsed("outcome")?,
                    duration_ns: c.int("duration_ns")?,
                    client: c.opt_text("client")?,
                    user: c.opt_text("user_key")?,
                    session: c.opt_text("session")?,
                    trace_id: c.opt_text("trace_id")?,
                    error: c.opt_text("error")?,
                })
            })
            .collect()
    }

    async fn list_metrics(
        &self,
        org: OrgId,
        server: Option<McpServerId>,
        from_ns: i64,
        to_ns: i64,
    ) -> Result<Vec<MetricSummary>> {
        let sql = format!(
            "SELECT name, unit, kind, COUNT(*) AS points, MAX(time_ns) AS last_time_ns \
             FROM telemetry_metric_points \
             WHERE organization_id = $1 AND time_ns >= $2 AND time_ns < $3{} \
             GROUP BY name, unit, kind ORDER BY name, unit, kind",
            filter(server.is_some(), "$4", "mcp_server_id"),
        );
        let rows = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(from_ns)
            .bind(to_ns)
            .bind(server.map(|s| s.to_string()))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let c = Columns::new(row, "telemetry_metric_points");
                Ok(MetricSummary {
                    name: c.text("name")?,
                    unit: c.text("unit")?,
                    kind: c.parsed("kind")?,
                    points: c.int("points")?,
                    last_time_ns: c.int("last_time_ns")?,
                })
            })
            .collect()
    }

    async fn metric_points(
        &self,
        org: OrgId,
        query: &MetricQuery,
    ) -> Result<Vec<StoredMetricPoint>> {
        let sql = format!(
            "SELECT {METRIC_READ_COLUMNS} FROM telemetry_metric_points \
             WHERE organization_id = $1 AND name = $2 AND time_ns >= $3 AND time_ns < $4{} \
             ORDER BY time_ns LIMIT {}",
            filter(query.server.is_some(), "$5", "mcp_server_id"),
            query.limit.max(1),
        );
        let rows = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(query.name.as_str())
            .bind(query.from_ns)
            .bind(query.to_ns)
            .bind(query.server.map(|s| s.to_string()))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(metric_point_from_row).collect()
    }

    async fn search_logs(&self, org: OrgId, query: &LogQuery) -> Result<Vec<StoredLog>> {
        let mut c = Conditions::new("organization_id", org);
        let from = c.bind(Param::Int(query.from_ns));
        let to = c.bind(Param::Int(query.to_ns));
        c.and(&format!("time_ns >= {from} AND time_ns < {to}"));
        if let Some(server) = query.server {
            let p = c.bind(Param::Text(server.to_string()));
            c.and(&format!("mcp_server_id = {p}"));
        }
        if let Some(trace) = &query.trace_id {
            let p = c.bind(Param::Text(trace.to_ascii_lowercase()));
            c.and(&format!("trace_id = {p}"));
        }
        for word in query.text.iter().flat_map(|t| t.split_whitespace()).take(8) {
            let p = c.bind(Param::Text(like_pattern(word)));
            c.and(&format!("LOWER(body) LIKE {p} ESCAPE '\\'"));
        }
        if let Some(severity) = query.min_severity {
            let p = c.bind(Param::Int(i64::from(severity)));
            c.and(&format!("severity_number >= {p}"));
        }
        let sql = format!(
            "SELECT {} FROM telemetry_logs WHERE {} ORDER BY time_ns DESC LIMIT {}",
            names(LOG_COLUMNS),
            c.sql,
            query.limit.max(1)
        );
        let rows = c.bind_to(sqlx::query(&sql)).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                let c = Columns::new(row, "telemetry_logs");
                Ok(StoredLog {
                    mcp_server_id: c.parsed("mcp_server_id")?,
                    log: LogRecord {
                        time_ns: c.int("time_ns")?,
                        observed_ns: c.int("observed_ns")?,
                        severity_number: c.int_as("severity_number")?,
                        severity_text: c.opt_text("severity_text")?,
                        body: c.text("body")?,
                        trace_id: c.opt_text("trace_id")?,
                        span_id: c.opt_text("span_id")?,
                        service_name: c.opt_text("service_name")?,
                        session_id: c.opt_text("session_id")?,
                        attributes: c.text("attributes")?,
                        resource: c.text("resource")?,
                    },
                })
            })
            .collect()
    }
}

const METRIC_READ_COLUMNS: &str = "mcp_server_id, name, unit, kind, service_name, start_ns, \
     time_ns, value, count, sum, min, max, details, mcp_method, mcp_target, error_type, \
     attributes, resource";

fn metric_point_from_row(row: &AnyRow) -> Result<StoredMetricPoint> {
    let c = Columns::new(row, "telemetry_metric_points");
    Ok(StoredMetricPoint {
        mcp_server_id: c.parsed("mcp_server_id")?,
        point: MetricPointRecord {
            name: c.text("name")?,
            unit: c.text("unit")?,
            kind: c.parsed("kind")?,
            service_name: c.opt_text("service_name")?,
            start_ns: c.opt_int("start_ns")?,
            time_ns: c.int("time_ns")?,
            value: c.opt_float("value")?,
            count: c.opt_int("count")?,
            sum: c.opt_float("sum")?,
            min: c.opt_float("min")?,
            max: c.opt_float("max")?,
            details: c.opt_text("details")?,
            method: c.opt_text("mcp_method")?,
            target: c.opt_text("mcp_target")?,
            error_type: c.opt_text("error_type")?,
            attributes: c.text("attributes")?,
            resource: c.text("resource")?,
        },
    })
}

fn span_from_row(row: &AnyRow) -> Result<StoredSpan> {
    let c = Columns::new(row, "telemetry_spans");
    Ok(StoredSpan {
        mcp_server_id: c.parsed("mcp_server_id")?,
        span: SpanRecord {
            trace_id: c.text("trace_id")?,
            span_id: c.text("span_id")?,
            parent_span_id: c.opt_text("parent_span_id")?,
            name: c.text("name")?,
            kind: c.parsed("kind")?,
            service_name: c.opt_text("service_name")?,
            start_ns: c.int("start_ns")?,
            end_ns: c.int("end_ns")?,
            status: c.parsed("status")?,
            status_message: c.opt_text("status_message")?,
            mcp: McpFields {
                method: c.opt_text("mcp_method")?,
                target: c.opt_text("mcp_target")?,
                session_id: c.opt_text("session_id")?,
                end_user: c.opt_text("end_user")?,
                client_name: c.opt_text("client_name")?,
                client_version: c.opt_text("client_version")?,
                protocol_version: c.opt_text("protocol_version")?,
                outcome: c.opt_parsed("outcome")?,
                error_type: c.opt_text("error_type")?,
                rpc_code: c.opt_int("rpc_code")?,
            },
            attributes: c.text("attributes")?,
            resource: c.text("resource")?,
            events: c.opt_text("events")?,
        },
    })
}
