//! Records of MCP requests are collected in memory and written in batches, off the request
//! path: a flusher writes them every [`FLUSH_INTERVAL`], or sooner when [`BATCH`] are waiting.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mcplatform_core::hosting::McpRequestRecord;
use tokio::sync::Notify;

use crate::AppState;

pub const FLUSH_INTERVAL: Duration = Duration::from_millis(250);
/// Records that wake the flusher early.
const BATCH: usize = 500;
/// Records kept while the database is unreachable; past this the oldest are dropped (and
/// counted in the log) rather than the process running out of memory.
const MAX_PENDING: usize = 200_000;

#[derive(Debug, Default)]
pub struct RequestLog {
    pending: Mutex<Vec<McpRequestRecord>>,
    /// The batch being written: still readable until it is stored, so that "memory, then
    /// database" never misses a record in between.
    in_flight: Mutex<Arc<[McpRequestRecord]>>,
    /// Serialises flushes, so that "flush, then read" sees every record queued before it.
    flushing: tokio::sync::Mutex<()>,
    wake: Notify,
}

impl RequestLog {
    pub fn record(&self, record: McpRequestRecord) {
        let mut pending = lock(&self.pending);
        pending.push(record);
        // Once per batch: a backlog the database refused is retried on the interval, not on
        // every new record.
        if pending.len() == BATCH {
            self.wake.notify_one();
        }
    }

    /// The tool calls of `session` recorded but not written yet. Read this before the
    /// database: a record leaves memory only after it is stored.
    pub fn pending_tool_calls(&self, session: &str) -> Vec<McpRequestRecord> {
        let of_session = |r: &&McpRequestRecord| {
            r.method == "tools/call" && r.session_id.as_deref() == Some(session)
        };
        // Both at once, as `flush` and `requeue` take them: a record is in one or the other
        // until it is stored.
        let pending = lock(&self.pending);
        let in_flight = lock(&self.in_flight);
        let calls: Vec<McpRequestRecord> =
            in_flight.iter().chain(pending.iter()).filter(of_session).cloned().collect();
        calls
    }

    /// Writes everything recorded so far; on failure it is kept for the next flush.
    pub async fn flush(&self, state: &AppState) {
        let _one_at_a_time = self.flushing.lock().await;
        let batch = {
            let mut pending = lock(&self.pending);
            let mut in_flight = lock(&self.in_flight);
            *in_flight = Arc::from(std::mem::take(&mut *pending));
            Arc::clone(&in_flight)
        };
        if batch.is_empty() {
            return;
        }
        let mut start = 0;
        while start < batch.len() {
            let end = (start + BATCH).min(batch.len());
            let records = &batch[start..end];
            let exports = crate::telemetry::export::hosted_exports(state, records).await;
            if let Err(err) = state.store.record_mcp_requests(records, &exports).await {
                tracing::warn!(error = ?err, records = batch.len() - start, "could not record MCP requests; will retry");
                self.requeue(batch[start..].to_vec());
                return;
            }
            start = end;
        }
        *lock(&self.in_flight) = Arc::from([]);
    }

    fn requeue(&self, mut records: Vec<McpRequestRecord>) {
        let mut pending = lock(&self.pending);
        let mut in_flight = lock(&self.in_flight);
        records.append(&mut pending);
        if records.len() > MAX_PENDING {
            let dropped = records.len() - MAX_PENDING;
            records.drain(..dropped);
            tracing::error!(dropped, "MCP request records dropped: the database stays unreachable");
        }
        *pending = records;
        *in_flight = Arc::from([]);
    }

    /// Flushes on every interval, or when a batch is waiting, until the task is stopped.
    pub async fn run_flusher(&self, state: &AppState) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(FLUSH_INTERVAL) => {}
                () = self.wake.notified() => {}
            }
            self.flush(state).await;
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
