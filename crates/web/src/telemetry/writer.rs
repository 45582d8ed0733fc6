//! The ingest queue: requests hand their rows to one writer, which stores whatever has queued
//! up in one transaction (group commit) and then answers each request. An answer comes only
//! after the commit, so a 2xx means the rows are in the database; the queue is bounded in
//! rows, and a request that finds it full is told to come back later (429).

use std::sync::{Arc, Mutex, PoisonError};

use mcplatform_store::{Store, TelemetryWrite};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, SemaphorePermit, mpsc, oneshot};

/// Requests decoded at once per core; more are told to come back later.
const DECODERS_PER_CORE: usize = 4;

/// Rows stored per transaction at most; more waiting go in the next one.
const MAX_ROWS_PER_COMMIT: usize = 50_000;

#[derive(Debug)]
pub struct TelemetryQueue {
    /// Requests decompressing and decoding at once: each holds up to
    /// `telemetry.max_decompressed_bytes` (and a JSON tree several times that), so their number
    /// is bounded too.
    decoders: Semaphore,
    sender: mpsc::UnboundedSender<Job>,
    receiver: Mutex<Option<mpsc::UnboundedReceiver<Job>>>,
    /// One permit per queued row: the bound on memory.
    room: Arc<Semaphore>,
    capacity: usize,
}

#[derive(Debug)]
struct Job {
    write: TelemetryWrite,
    done: oneshot::Sender<Result<(), ()>>,
    /// The queue room its rows take, given back once it is answered.
    room: OwnedSemaphorePermit,
}

#[derive(Debug, PartialEq, Eq)]
pub enum QueueError {
    /// More rows are waiting than the queue holds, or more requests are decoding than
    /// allowed: retry later.
    Full,
    /// The database refused the transaction (logged); nothing of it was stored.
    NotStored,
}

impl TelemetryQueue {
    /// A queue holding at most `capacity` rows.
    pub fn new(capacity: usize) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        Self {
            decoders: Semaphore::new(cores * DECODERS_PER_CORE),
            sender,
            receiver: Mutex::new(Some(receiver)),
            room: Arc::new(Semaphore::new(capacity)),
            capacity,
        }
    }

    /// A decoding slot, or `Full` when every one is taken.
    pub fn decoding(&self) -> Result<SemaphorePermit<'_>, QueueError> {
        self.decoders.try_acquire().map_err(|_| QueueError::Full)
    }

    /// Queues a request's rows and waits until they are stored.
    pub async fn store(&self, write: TelemetryWrite) -> Result<(), QueueError> {
        // A request larger than the whole queue waits for the queue to be empty.
        let rows = write.batch.len().clamp(1, self.capacity);
        let room = Arc::clone(&self.room)
            .try_acquire_many_owned(u32::try_from(rows).unwrap_or(u32::MAX))
            .map_err(|_| QueueError::Full)?;
        let (done, stored) = oneshot::channel();
        self.sender.send(Job { write, done, room }).map_err(|_| QueueError::NotStored)?;
        match stored.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(())) | Err(_) => Err(QueueError::NotStored),
        }
    }

    /// Stores queued rows until the process stops. Only the first call runs; the queue has
    /// one writer.
    pub async fn run_writer(&self, store: Arc<dyn Store>) {
        let receiver = self.receiver.lock().unwrap_or_else(PoisonError::into_inner).take();
        let Some(mut receiver) = receiver else {
            return;
        };
        let mut jobs = Vec::new();
        while let Some(first) = receiver.recv().await {
            let mut rows = first.write.batch.len();
            jobs.push(first);
            while rows < MAX_ROWS_PER_COMMIT {
                let Ok(next) = receiver.try_recv() else { break };
                rows += next.write.batch.len();
                jobs.push(next);
            }
            let (writes, answers): (Vec<TelemetryWrite>, Vec<_>) =
                jobs.drain(..).map(|job| (job.write, (job.done, job.room))).unzip();
            let outcomes = store_each_or_all(store.as_ref(), &writes).await;
            for ((done, _room), outcome) in answers.into_iter().zip(outcomes) {
                let _ = done.send(outcome);
            }
        }
    }
}

/// Stores `writes` in one transaction; if the database refuses it, each write alone, so that
/// one request the database cannot take fails only itself. One outcome per write.
async fn store_each_or_all(store: &dyn Store, writes: &[TelemetryWrite]) -> Vec<Result<(), ()>> {
    let rows = || writes.iter().map(|w| w.batch.len()).sum::<usize>();
    match store.insert_telemetry(writes).await {
        Ok(()) => return vec![Ok(()); writes.len()],
        Err(err) if writes.len() == 1 => {
            tracing::error!(error = ?err, rows = rows(), "cannot store telemetry");
            return vec![Err(())];
        }
        Err(err) => {
            tracing::warn!(error = ?err, requests = writes.len(), rows = rows(), "cannot store telemetry together: storing each request alone");
        }
    }
    let mut outcomes = Vec::with_capacity(writes.len());
    for write in writes {
        let outcome = store.insert_telemetry(std::slice::from_ref(write)).await.map_err(|err| {
            tracing::error!(error = ?err, rows = write.batch.len(), "cannot store telemetry");
        });
        outcomes.push(outcome);
    }
    outcomes
}
