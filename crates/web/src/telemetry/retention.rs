//! Each organization keeps its telemetry and recorded MCP requests for its retention period
//! (`telemetry_retention_days`, 30 by default); this job deletes what is older.

use mcplatform_core::telemetry::analytics::nanos;
use mcplatform_store::StoreError;

use crate::AppState;

/// Deletes, for every organization, what is past its retention at the clock's now; the rows
/// deleted. One organization's failure is logged and the others still go.
pub async fn purge_expired(state: &AppState) -> Result<u64, StoreError> {
    let now = state.clock.now();
    let mut deleted = 0;
    for (org, retention) in state.store.list_retention().await? {
        match state.store.purge_telemetry(org, nanos(retention.cutoff(now))).await {
            Ok(rows) => deleted += rows,
            Err(err) => {
                tracing::warn!(org_id = %org, error = ?err, "cannot delete telemetry past its retention");
            }
        }
    }
    // Requests waiting for an export destination are kept a day, whatever the retention.
    match super::export::drop_stale(state).await {
        Ok(0) => {}
        Ok(dropped) => tracing::warn!(dropped, "queued exports older than a day given up"),
        Err(err) => tracing::warn!(error = ?err, "cannot give up stale exports"),
    }
    Ok(deleted)
}
