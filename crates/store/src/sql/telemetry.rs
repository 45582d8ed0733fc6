//! Ingested telemetry: multi-row inserts in one transaction, and the analytics' reads.

use std::collections::HashSet;

use async_trait::async_trait;
use mcplatform_core::hosting::RequestOutcome;
use mcplatform_core::ids::{McpServerId, OrgId};
use mcplatform_core::telemetry::analytics::CallSample;
use mcplatform_core::telemetry::{LogRecord, McpFields, SpanRecord};
use sqlx::any::AnyRow;

use super::{AnyQuery, Columns, Conditions, Param, SqlStore, like_pattern, millis};
use crate::{
    CallQuery, CallRow, LogQuery, MAX_TRACE_SPANS, Result, StoredLog, StoredSpan, TelemetryStore,
    TelemetryWrite,
};

/// Bound parameters per statement: under SQLite's 32,766 and PostgreSQL's 65,535.
const MAX_BINDS: usize = 30_000;

const SPAN_COLUMNS: &[&str] = &[
    "organization_id",
    "mcp_server_id",
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "kind",
    "service_name",
    "start_ns",
    "end_ns",
    "status",
    "status_message",
    "mcp_method",
    "mcp_target",
    "session_id",
    "end_user",
    "client_name",
    "client_version",
    "protocol_version",
    "outcome",
    "error_type",
    "rpc_code",
    "attributes",
    "resource",
    "events",
    "received_at",
];

const METRIC_COLUMNS: &[&str] = &[
    "organization_id",
    "mcp_server_id",
    "name",
    "unit",
    "kind",
    "service_name",
    "start_ns",
    "time_ns",
    "value",
    "count",
    "sum",
    "min",
    "max",
    "details",
    "mcp_method",
    "mcp_target",
    "error_type",
    "attributes",
    "resource",
    "received_at",
];

const LOG_COLUMNS: &[&str] = &[
    "organization_id",
    "mcp_server_id",
    "time_ns",
    "observed_ns",
    "severity_number",
    "severity_text",
    "body",
    "trace_id",
    "span_id",
    "service_name",
    "session_id",
    "attributes",
    "resource",
    "received_at",
];

/// `INSERT INTO table (columns) VALUES ($1, …), ($n, …)` for `rows` rows.
fn insert_sql(table: &str, columns: &[&str], rows: usize) -> String {
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    let mut n = 0;
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..columns.len() {
            n += 1;
            if column > 0 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&n.to_string());
        }
        sql.push(')');
    }
    sql
}

/// Inserts `items` in statements of as many rows as the bind limit allows.
async fn insert_all<'a, T: 'a>(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    table: &str,
    columns: &[&str],
    items: &[(&'a TelemetryWrite, &'a T)],
    bind: impl for<'q> Fn(AnyQuery<'q>, &'q TelemetryWrite, &'q T) -> AnyQuery<'q>,
) -> Result<()> {
    let per_statement = MAX_BINDS / columns.len();
    let mut full_sql = None;
    for chunk in items.chunks(per_statement) {
        let sql = if chunk.len() == per_statement {
            full_sql.get_or_insert_with(|| insert_sql(table, columns, per_statement)).clone()
        } else {
            insert_sql(table, columns, chunk.len())
        };
        let mut query = sqlx::query(&sql);
        for (write, item) in chunk {
            query = bind(query, write, item);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

fn bind_span<'q>(
    query: AnyQuery<'q>,
    write: &'q TelemetryWrite,
    span: &'q SpanRecord,
) -> AnyQuery<'q> {
    let mcp = &span.mcp;
    query
        .bind(write.organization_id.to_string())
        .bind(write.mcp_server_id.to_string())
        .bind(span.trace_id.as_str())
        .bind(span.span_id.as_str())
        .bind(span.parent_span_id.as_deref())
        .bind(span.name.as_str())
        .bind(span.kind.as_str())
        .bind(span.service_name.as_deref())
        .bind(span.start_ns)
        .bind(span.end_ns)
        .bind(span.status.as_str())
        .bind(span.status_message.as_deref())
        .bind(mcp.method.as_deref())
        .bind(mcp.target.as_deref())
        .bind(mcp.session_id.as_deref())
        .bind(mcp.end_user.as_deref())
        .bind(mcp.client_name.as_deref())
        .bind(mcp.client_version.as_deref())
        .bind(mcp.protocol_version.as_deref())
        .bind(mcp.outcome.map(RequestOutcome::as_str))
        .bind(mcp.error_type.as_deref())
        .bind(mcp.rpc_code)
        .bind(span.attributes.as_str())
        .bind(span.resource.as_str())
        .bind(span.events.as_deref())
        .bind(millis(write.received_at))
}

#[async_trait]
impl TelemetryStore for SqlStore {
    async fn insert_telemetry(&self, writes: &[TelemetryWrite]) -> Result<()> {
        if writes.iter().all(|write| write.batch.is_empty()) {
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
        insert_all(&mut tx, "telemetry_spans", SPAN_COLUMNS, &spans, bind_span).await?;

        let points: Vec<_> = writes
            .iter()
            .flat_map(|w| w.batch.metric_points.iter().map(move |p| (*w, p)))
            .collect();
        insert_all(&mut tx, "telemetry_metric_points", METRIC_COLUMNS, &points, |q, w, p| {
            q.bind(w.organization_id.to_string())
                .bind(w.mcp_server_id.to_string())
                .bind(p.name.as_str())
                .bind(p.unit.as_str())
                .bind(p.kind.as_str())
                .bind(p.service_name.as_deref())
                .bind(p.start_ns)
                .bind(p.time_ns)
                .bind(p.value)
                .bind(p.count)
                .bind(p.sum)
                .bind(p.min)
                .bind(p.max)
                .bind(p.details.as_deref())
                .bind(p.method.as_deref())
                .bind(p.target.as_deref())
                .bind(p.error_type.as_deref())
                .bind(p.attributes.as_str())
                .bind(p.resource.as_str())
                .bind(millis(w.received_at))
        })
        .await?;

        let logs: Vec<_> =
            writes.iter().flat_map(|w| w.batch.logs.iter().map(move |l| (*w, l))).collect();
        insert_all(&mut tx, "telemetry_logs", LOG_COLUMNS, &logs, |q, w, l| {
            q.bind(w.organization_id.to_string())
                .bind(w.mcp_server_id.to_string())
                .bind(l.time_ns)
                .bind(l.observed_ns)
                .bind(l.severity_number)
                .bind(l.severity_text.as_deref())
                .bind(l.body.as_str())
                .bind(l.trace_id.as_deref())
                .bind(l.span_id.as_deref())
                .bind(l.service_name.as_deref())
                .bind(l.session_id.as_deref())
                .bind(l.attributes.as_str())
                .bind(l.resource.as_str())
                .bind(millis(w.received_at))
        })
        .await?;
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
        let server_filter = |column: &str| {
            if server.is_some() { format!(" AND {column} = $4") } else { " AND $4 IS NULL".into() }
        };
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
            SPAN_COLUMNS.join(", ")
        ))
        .bind(org.to_string())
        .bind(trace_id.to_ascii_lowercase())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(span_from_row).collect()
    }

    async fn purge_telemetry(&self, org: OrgId, before_ns: i64) -> Result<u64> {
        // (table, time column, nanoseconds per unit of that column)
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
        let optional =
            |param: &str, column: &str| format!(" AND ({param} IS NULL OR {column} = {param})");
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
            s_server = optional("$4", "mcp_server_id"),
            s_session = optional("$5", "session_id"),
            s_errors = errors("outcome"),
            h_server = optional("$4", "r.mcp_server_id"),
            h_session = optional("$5", "r.session_id"),
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
            LOG_COLUMNS.join(", "),
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
