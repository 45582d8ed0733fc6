//! Telemetry forwarding: the customer's OTLP destinations and the queue of accepted requests
//! waiting to reach them.

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mcplatform_core::ids::{McpServerId, OrgId, TelemetryDestinationId, TelemetryExportId};
use mcplatform_core::telemetry::export::{Destination, DestinationStatus, ExportSignal, Signals};
use sqlx::any::AnyRow;
use sqlx::{Any, Row as _, Transaction};
use time::OffsetDateTime;

use super::{Columns, SqlStore, expect_rows, millis};
use crate::error::write_error;
use crate::{
    DestinationWrite, ExportOutcome, ExportRequest, QueuedExport, Result, StoreError,
    StoredDestination, TelemetryExportStore,
};

const TABLE: &str = "telemetry_destinations";
/// The settings columns, in the order [`bind_write`] binds them.
const SETTINGS: &str = "mcp_server_id, name, kind, endpoint, header_names, headers_sealed, \
     encoding, send_traces, send_metrics, send_logs, enabled";
const STATUS: &str = "id, organization_id, created_at, updated_at, last_success_at, last_error, \
     last_error_at, delivered_requests, dropped_requests, consecutive_failures, retry_at";
/// Waiting requests and items per destination, joined to the destinations read.
const BACKLOG: &str = "LEFT JOIN (SELECT destination_id, COUNT(*) AS backlog_requests, \
         CAST(SUM(items) AS BIGINT) AS backlog_items FROM telemetry_exports GROUP BY destination_id) backlog \
     ON backlog.destination_id = d.id";

fn destination_from_row(row: &AnyRow) -> Result<StoredDestination> {
    let c = Columns::new(row, TABLE);
    let header_names = c.text("header_names")?;
    let destination = Destination {
        id: c.parsed("id")?,
        organization_id: c.parsed("organization_id")?,
        mcp_server_id: c.opt_parsed("mcp_server_id")?,
        name: c.text("name")?,
        kind: c.parsed("kind")?,
        endpoint: c.parsed("endpoint")?,
        header_names: header_names.split_whitespace().map(str::to_owned).collect(),
        encoding: c.parsed("encoding")?,
        signals: Signals {
            traces: c.flag("send_traces")?,
            metrics: c.flag("send_metrics")?,
            logs: c.flag("send_logs")?,
        },
        enabled: c.flag("enabled")?,
        created_at: c.time("created_at")?,
        updated_at: c.time("updated_at")?,
        status: DestinationStatus {
            last_success_at: c.opt_time("last_success_at")?,
            last_error: c.opt_text("last_error")?,
            last_error_at: c.opt_time("last_error_at")?,
            delivered_requests: c.int("delivered_requests")?,
            dropped_requests: c.int("dropped_requests")?,
            consecutive_failures: c.int_as("consecutive_failures")?,
            retry_at: c.opt_time("retry_at")?,
            backlog_requests: c.opt_int("backlog_requests")?.unwrap_or(0),
            backlog_items: c.opt_int("backlog_items")?.unwrap_or(0),
        },
    };
    Ok(StoredDestination { destination, headers_sealed: c.base64("headers_sealed")? })
}

fn bind_write<'q>(query: super::AnyQuery<'q>, write: &'q DestinationWrite) -> super::AnyQuery<'q> {
    query
        .bind(write.mcp_server_id.map(|id| id.to_string()))
        .bind(write.name.as_str())
        .bind(write.kind.as_str())
        .bind(write.endpoint.as_str())
        .bind(write.header_names.join(" "))
        .bind(STANDARD.encode(&write.headers_sealed))
        .bind(write.encoding.as_str())
        .bind(i64::from(write.signals.traces))
        .bind(i64::from(write.signals.metrics))
        .bind(i64::from(write.signals.logs))
        .bind(i64::from(write.enabled))
}

/// The column telling whether a destination takes `signal`.
const fn signal_column(signal: ExportSignal) -> &'static str {
    match signal {
        ExportSignal::Traces => "send_traces",
        ExportSignal::Metrics => "send_metrics",
        ExportSignal::Logs => "send_logs",
    }
}

/// Queues `request` once for every enabled destination of the organization that takes its
/// signal and covers the server. A destination backing off gets it after its `retry_at`.
pub(crate) async fn enqueue(
    tx: &mut Transaction<'static, Any>,
    org: OrgId,
    server: McpServerId,
    received_at: OffsetDateTime,
    request: &ExportRequest,
) -> Result<()> {
    let sql = format!(
        "INSERT INTO telemetry_exports \
             (id, destination_id, signal, body, items, created_at, next_attempt_at) \
         SELECT $1, id, $2, $3, $4, $5, $5 FROM telemetry_destinations \
         WHERE organization_id = $6 AND (mcp_server_id IS NULL OR mcp_server_id = $7) \
           AND enabled = 1 AND {} = 1",
        signal_column(request.signal)
    );
    sqlx::query(&sql)
        .bind(request.id.to_string())
        .bind(request.signal.as_str())
        .bind(request.body.as_slice())
        .bind(request.items)
        .bind(millis(received_at))
        .bind(org.to_string())
        .bind(server.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[async_trait]
impl TelemetryExportStore for SqlStore {
    async fn create_destination(
        &self,
        org: OrgId,
        id: TelemetryDestinationId,
        write: &DestinationWrite,
        now: OffsetDateTime,
    ) -> Result<()> {
        // The server must be the organization's: checked in the statement itself.
        let sql = format!(
            "INSERT INTO {TABLE} ({SETTINGS}, id, organization_id, created_at, updated_at) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14 \
             WHERE $1 IS NULL OR EXISTS \
                 (SELECT 1 FROM mcp_servers WHERE id = $1 AND organization_id = $13)"
        );
        let inserted = bind_write(sqlx::query(&sql), write)
            .bind(id.to_string())
            .bind(org.to_string())
            .bind(millis(now))
            .execute(&self.pool)
            .await
            .map_err(write_error("telemetry_destination"))?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::Conflict("the server is not the organization's"));
        }
        Ok(())
    }

    async fn update_destination(
        &self,
        org: OrgId,
        id: TelemetryDestinationId,
        write: &DestinationWrite,
        now: OffsetDateTime,
    ) -> Result<()> {
        if let Some(server) = write.mcp_server_id {
            let owned: Option<i64> = sqlx::query_scalar(
                "SELECT 1 FROM mcp_servers WHERE id = $1 AND organization_id = $2",
            )
            .bind(server.to_string())
            .bind(org.to_string())
            .fetch_optional(&self.pool)
            .await?;
            if owned.is_none() {
                return Err(StoreError::Conflict("the server is not the organization's"));
            }
        }
        // A changed destination is tried again at once.
        let sql = format!(
            "UPDATE {TABLE} SET mcp_server_id = $1, name = $2, kind = $3, endpoint = $4, \
                 header_names = $5, headers_sealed = $6, encoding = $7, send_traces = $8, \
                 send_metrics = $9, send_logs = $10, enabled = $11, updated_at = $12, \
                 retry_at = NULL, consecutive_failures = 0 \
             WHERE id = $13 AND organization_id = $14"
        );
        let updated = bind_write(sqlx::query(&sql), write)
            .bind(millis(now))
            .bind(id.to_string())
            .bind(org.to_string())
            .execute(&self.pool)
            .await
            .map_err(write_error("telemetry_destination"))?;
        expect_rows(updated)
    }

    async fn delete_destination(&self, org: OrgId, id: TelemetryDestinationId) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        // Explicitly, as SQLite enforces the cascade only with foreign keys on.
        sqlx::query(
            "DELETE FROM telemetry_exports WHERE destination_id = \
                 (SELECT id FROM telemetry_destinations WHERE id = $1 AND organization_id = $2)",
        )
        .bind(id.to_string())
        .bind(org.to_string())
        .execute(&mut *tx)
        .await?;
        let deleted =
            sqlx::query(&format!("DELETE FROM {TABLE} WHERE id = $1 AND organization_id = $2"))
                .bind(id.to_string())
                .bind(org.to_string())
                .execute(&mut *tx)
                .await?;
        expect_rows(deleted)?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_destinations(&self, org: OrgId) -> Result<Vec<Destination>> {
        sqlx::query(&format!(
            "SELECT {SETTINGS}, {STATUS}, backlog_requests, backlog_items FROM {TABLE} d {BACKLOG} \
             WHERE organization_id = $1 ORDER BY created_at, id"
        ))
        .bind(org.to_string())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| destination_from_row(row).map(|stored| stored.destination))
        .collect()
    }

    async fn get_destination(
        &self,
        org: OrgId,
        id: TelemetryDestinationId,
    ) -> Result<StoredDestination> {
        let row = sqlx::query(&format!(
            "SELECT {SETTINGS}, {STATUS}, backlog_requests, backlog_items FROM {TABLE} d {BACKLOG} \
             WHERE id = $1 AND organization_id = $2"
        ))
        .bind(id.to_string())
        .bind(org.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        destination_from_row(&row)
    }

    async fn destination_for_sending(
        &self,
        id: TelemetryDestinationId,
    ) -> Result<StoredDestination> {
        let row = sqlx::query(&format!(
            "SELECT {SETTINGS}, {STATUS}, CAST(NULL AS BIGINT) AS backlog_requests, \
                 CAST(NULL AS BIGINT) AS backlog_items FROM {TABLE} WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        destination_from_row(&row)
    }

    async fn export_signals(&self, org: OrgId, server: McpServerId) -> Result<Signals> {
        let row = sqlx::query(&format!(
            "SELECT COALESCE(MAX(send_traces), 0) AS traces, \
                 COALESCE(MAX(send_metrics), 0) AS metrics, COALESCE(MAX(send_logs), 0) AS logs \
             FROM {TABLE} WHERE organization_id = $1 \
               AND (mcp_server_id IS NULL OR mcp_server_id = $2) AND enabled = 1"
        ))
        .bind(org.to_string())
        .bind(server.to_string())
        .fetch_one(&self.pool)
        .await?;
        let c = Columns::new(&row, TABLE);
        Ok(Signals {
            traces: c.flag("traces")?,
            metrics: c.flag("metrics")?,
            logs: c.flag("logs")?,
        })
    }

    async fn claim_due_exports(
        &self,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<QueuedExport>> {
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        // The outer condition is checked again on each row as it is updated, so two senders
        // claiming at once never both get a request.
        sqlx::query(
            "UPDATE telemetry_exports SET next_attempt_at = $2 \
             WHERE next_attempt_at <= $1 AND (destination_id, id) IN \
                 (SELECT e.destination_id, e.id FROM telemetry_exports e \
                  JOIN telemetry_destinations d ON d.id = e.destination_id \
                  WHERE e.next_attempt_at <= $1 AND d.enabled = 1 \
                    AND (d.retry_at IS NULL OR d.retry_at <= $1) \
                  ORDER BY e.created_at, e.id LIMIT $3) \
             RETURNING id, destination_id, signal, body, items, created_at",
        )
        .bind(millis(now))
        .bind(millis(now).saturating_add(lease_ms))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            let c = Columns::new(row, "telemetry_exports");
            Ok(QueuedExport {
                id: c.parsed("id")?,
                destination_id: c.parsed("destination_id")?,
                signal: c.parsed("signal")?,
                body: row.try_get("body").map_err(|e| StoreError::Corrupt {
                    table: "telemetry_exports",
                    detail: format!("body: {e}"),
                })?,
                items: c.int("items")?,
                created_at: c.time("created_at")?,
            })
        })
        .collect::<Result<Vec<_>>>()
        .map(|mut claimed| {
            // RETURNING gives no order.
            claimed.sort_by_key(|export| (export.created_at, export.id));
            claimed
        })
    }

    async fn finish_exports(
        &self,
        destination: TelemetryDestinationId,
        exports: &[TelemetryExportId],
        outcome: &ExportOutcome,
        now: OffsetDateTime,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let count = i64::try_from(exports.len()).unwrap_or(i64::MAX);
        let at = millis(now);
        let delivered = format!(
            "UPDATE {TABLE} SET last_success_at = $2, delivered_requests = delivered_requests + $3, \
                 consecutive_failures = 0, retry_at = NULL WHERE id = $1"
        );
        let refused = format!(
            "UPDATE {TABLE} SET last_error = $2, last_error_at = $3, \
                 dropped_requests = dropped_requests + $4 WHERE id = $1"
        );
        let failed = format!(
            "UPDATE {TABLE} SET last_error = $2, last_error_at = $3, retry_at = $4, \
                 consecutive_failures = consecutive_failures + 1 WHERE id = $1"
        );
        let status = match outcome {
            ExportOutcome::Delivered => {
                sqlx::query(&delivered).bind(destination.to_string()).bind(at).bind(count)
            }
            ExportOutcome::Refused { error } => sqlx::query(&refused)
                .bind(destination.to_string())
                .bind(error.as_str())
                .bind(at)
                .bind(count),
            ExportOutcome::Failed { error, retry_at } => sqlx::query(&failed)
                .bind(destination.to_string())
                .bind(error.as_str())
                .bind(at)
                .bind(millis(*retry_at)),
        };
        expect_rows(status.execute(&mut *tx).await?)?;
        for export in exports {
            let row = match outcome {
                // Waiting again for the destination's retry_at, not for the lease.
                ExportOutcome::Failed { .. } => sqlx::query(
                    "UPDATE telemetry_exports SET next_attempt_at = $3 \
                     WHERE destination_id = $1 AND id = $2",
                )
                .bind(destination.to_string())
                .bind(export.to_string())
                .bind(at),
                _ => sqlx::query(
                    "DELETE FROM telemetry_exports WHERE destination_id = $1 AND id = $2",
                )
                .bind(destination.to_string())
                .bind(export.to_string()),
            };
            row.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn drop_stale_exports(&self, before: OffsetDateTime, now: OffsetDateTime) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(&format!(
            "UPDATE {TABLE} SET dropped_requests = dropped_requests + \
                 (SELECT COUNT(*) FROM telemetry_exports e \
                  WHERE e.destination_id = {TABLE}.id AND e.created_at < $1), \
                 last_error = 'requests waiting longer than a day were given up', \
                 last_error_at = $2 \
             WHERE id IN (SELECT destination_id FROM telemetry_exports WHERE created_at < $1)"
        ))
        .bind(millis(before))
        .bind(millis(now))
        .execute(&mut *tx)
        .await?;
        let deleted = sqlx::query("DELETE FROM telemetry_exports WHERE created_at < $1")
            .bind(millis(before))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(deleted.rows_affected())
    }
}
