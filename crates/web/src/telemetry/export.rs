//! Forwarding accepted telemetry to the customer's OTLP destinations.
//!
//! The ingest handler keeps a request as protobuf when some destination wants its signal,
//! and the store queues it per destination in the transaction that stores the rows. The
//! sender here claims queued requests, concatenates each destination's into requests of at
//! most [`MAX_REQUEST_BYTES`], and posts them gzipped in the destination's encoding.
//! Delivered or refused requests leave the queue; other failures make the destination wait
//! (backoff, or its `Retry-After`) and the requests stay, up to a day.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::http::header;
use mcplatform_core::ValidationError;
use mcplatform_core::audit::action;
use mcplatform_core::hosting::McpRequestRecord;
use mcplatform_core::ids::{McpServerId, OrgId, TelemetryDestinationId, TelemetryExportId};
use mcplatform_core::org::Role;
use mcplatform_core::telemetry::export::{
    Destination, DestinationKind, ExportEncoding, ExportHeader, ExportSignal, MAX_AGE, Signals,
    Target, is_refusal, parse_name, retry_delay, signal_url,
};
use mcplatform_otlp::{Encoding, Signal};
use mcplatform_store::{
    DestinationWrite, ExportOutcome, ExportRequest, ExportWrite, QueuedExport, StoredDestination,
};
use serde_json::json;

use crate::access::{Actor, OrgAccess, path_id};
use crate::{ApiError, AppState, audit};

/// The most bytes (protobuf, before compression) posted to a destination at once; a single
/// larger queued request goes alone.
const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;
/// Queued requests claimed per round.
const BATCH: u32 = 200;
/// A claimed request is no other sender's for this long: several request timeouts.
const LEASE: Duration = Duration::from_secs(120);
/// How much of an error answer's body is kept as the destination's last error.
const MAX_ERROR_CHARS: usize = 300;

/// Which signals each server's destinations take, as the ingest handler asks for every
/// request; read from the database at most every [`ExportRoutes::TTL`], and forgotten at once
/// when this node changes a destination.
#[derive(Debug, Default)]
pub struct ExportRoutes {
    known: Mutex<HashMap<McpServerId, (Instant, Signals)>>,
}

impl ExportRoutes {
    const TTL: Duration = Duration::from_secs(5);

    /// Whether some destination wants `signal` from `server`. A database error counts as
    /// yes: the store decides exactly, in the insert, and an unneeded copy costs little.
    pub async fn wants(
        &self,
        state: &AppState,
        org: OrgId,
        server: McpServerId,
        signal: ExportSignal,
    ) -> bool {
        let cached = {
            let known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
            known.get(&server).filter(|(at, _)| at.elapsed() < Self::TTL).map(|(_, s)| *s)
        };
        let signals = match cached {
            Some(signals) => signals,
            None => match state.store.export_signals(org, server).await {
                Ok(signals) => {
                    let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
                    known.insert(server, (Instant::now(), signals));
                    signals
                }
                Err(err) => {
                    tracing::warn!(error = ?err, "cannot read the export destinations");
                    Signals::ALL
                }
            },
        };
        signals.includes(signal)
    }

    fn forget(&self) {
        self.known.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }
}

pub const fn export_signal(signal: Signal) -> ExportSignal {
    match signal {
        Signal::Traces => ExportSignal::Traces,
        Signal::Metrics => ExportSignal::Metrics,
        Signal::Logs => ExportSignal::Logs,
    }
}

const fn otlp_signal(signal: ExportSignal) -> Signal {
    match signal {
        ExportSignal::Traces => Signal::Traces,
        ExportSignal::Metrics => Signal::Metrics,
        ExportSignal::Logs => Signal::Logs,
    }
}

/// How a destination connects: new endpoint and headers, or the saved ones.
#[derive(Debug, Clone)]
pub enum Connection {
    New(Target),
    /// The saved endpoint and headers; an `otlp` destination may change its encoding.
    Keep {
        encoding: Option<ExportEncoding>,
    },
}

/// A destination's settings as a page or the API gives them.
#[derive(Debug, Clone)]
pub struct Settings {
    pub name: String,
    pub server: Option<McpServerId>,
    pub signals: Signals,
    pub enabled: bool,
    pub connection: Connection,
}

fn seal_context(id: TelemetryDestinationId) -> Vec<u8> {
    format!("telemetry_destination:{id}").into_bytes()
}

/// The write for `settings`, sealing new headers; `current` supplies what is kept.
fn to_write(
    state: &AppState,
    id: TelemetryDestinationId,
    settings: Settings,
    current: Option<&StoredDestination>,
) -> Result<DestinationWrite, ApiError> {
    let (kind, endpoint, header_names, headers_sealed, encoding) = match settings.connection {
        Connection::New(target) => {
            state
                .outbound
                .check_url(&target.endpoint)
                .map_err(|e| ValidationError::new("endpoint", e.to_string()))?;
            let pairs: Vec<[&str; 2]> =
                target.headers.iter().map(|h| [h.name.as_str(), h.value.as_str()]).collect();
            let sealed = state.master_key.seal(
                serde_json::to_string(&pairs).unwrap_or_default().as_bytes(),
                &seal_context(id),
            );
            let names = target.headers.into_iter().map(|h| h.name).collect();
            (target.kind, target.endpoint, names, sealed, target.encoding)
        }
        Connection::Keep { encoding } => {
            let current = current.ok_or_else(|| {
                ValidationError::new("endpoint", "a new destination needs its endpoint")
            })?;
            let saved = &current.destination;
            let encoding = match encoding {
                Some(asked) if asked != saved.encoding && saved.kind != DestinationKind::Otlp => {
                    return Err(ValidationError::new(
                        "encoding",
                        "presets send protobuf; only an otlp destination can choose",
                    )
                    .into());
                }
                Some(asked) => asked,
                None => saved.encoding,
            };
            (
                saved.kind,
                saved.endpoint.clone(),
                saved.header_names.clone(),
                current.headers_sealed.clone(),
                encoding,
            )
        }
    };
    Ok(DestinationWrite {
        mcp_server_id: settings.server,
        name: parse_name(&settings.name)?,
        kind,
        endpoint,
        header_names,
        headers_sealed,
        encoding,
        signals: settings.signals,
        enabled: settings.enabled,
    })
}

/// Checks that `server` (when one is named) is the organization's.
async fn check_server(
    state: &AppState,
    access: &OrgAccess,
    server: Option<McpServerId>,
) -> Result<(), ApiError> {
    if let Some(server) = server {
        state.store.get_mcp_server(access.org.id, server).await.map_err(|_| {
            ApiError::from(ValidationError::new(
                "server_id",
                "is not a server of this organization",
            ))
        })?;
    }
    Ok(())
}

/// Adds a destination; admins only. It receives what is accepted from now on.
pub async fn create(
    state: &AppState,
    access: &OrgAccess,
    actor: &Actor,
    settings: Settings,
) -> Result<Destination, ApiError> {
    access.require(Role::Admin)?;
    check_server(state, access, settings.server).await?;
    let id = TelemetryDestinationId::new();
    let write = to_write(state, id, settings, None)?;
    state.store.create_destination(access.org.id, id, &write, state.clock.now()).await?;
    state.export_routes.forget();
    audit::record(
        state,
        Some(access.org.id),
        actor,
        action::EXPORT_DESTINATION_CREATED,
        format!("export destination {}", write.name),
        json!({ "kind": write.kind.as_str(), "endpoint": write.endpoint.as_str() }),
    )
    .await;
    Ok(state.store.get_destination(access.org.id, id).await?.destination)
}

/// The organization's destination `id`; `NotFound` for anyone else's.
pub async fn find(
    state: &AppState,
    access: &OrgAccess,
    id: &str,
) -> Result<StoredDestination, ApiError> {
    let id: TelemetryDestinationId = path_id(id)?;
    Ok(state.store.get_destination(access.org.id, id).await?)
}

/// Saves new settings; admins only. Its queue stays, and a failing destination is tried
/// again at once.
pub async fn update(
    state: &AppState,
    access: &OrgAccess,
    actor: &Actor,
    current: &StoredDestination,
    settings: Settings,
) -> Result<Destination, ApiError> {
    access.require(Role::Admin)?;
    check_server(state, access, settings.server).await?;
    let id = current.destination.id;
    let write = to_write(state, id, settings, Some(current))?;
    state.store.update_destination(access.org.id, id, &write, state.clock.now()).await?;
    state.export_routes.forget();
    audit::record(
        state,
        Some(access.org.id),
        actor,
        action::EXPORT_DESTINATION_UPDATED,
        format!("export destination {}", write.name),
        json!({ "endpoint": write.endpoint.as_str(), "enabled": write.enabled }),
    )
    .await;
    Ok(state.store.get_destination(access.org.id, id).await?.destination)
}

/// Removes a destination and what waits for it; admins only.
pub async fn delete(
    state: &AppState,
    access: &OrgAccess,
    actor: &Actor,
    destination: &Destination,
) -> Result<(), ApiError> {
    access.require(Role::Admin)?;
    state.store.delete_destination(access.org.id, destination.id).await?;
    state.export_routes.forget();
    audit::record(
        state,
        Some(access.org.id),
        actor,
        action::EXPORT_DESTINATION_DELETED,
        format!("export destination {}", destination.name),
        json!({ "dropped_backlog": destination.status.backlog_requests }),
    )
    .await;
    Ok(())
}

/// What a test message to one signal's URL got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestResult {
    pub signal: ExportSignal,
    pub url: String,
    /// `None` when delivered.
    pub error: Option<String>,
}

/// Sends a span, a gauge point or a log record (one per signal the destination takes) now,
/// and records the outcome as the destination's status; admins only. A success lets a
/// destination that was backing off send its queue at once.
pub async fn send_test(
    state: &AppState,
    access: &OrgAccess,
    stored: &StoredDestination,
) -> Result<Vec<TestResult>, ApiError> {
    access.require(Role::Admin)?;
    let destination = &stored.destination;
    let headers = open_headers(state, stored)?;
    let now = state.clock.now();
    let now_ns = u64::try_from(now.unix_timestamp_nanos()).unwrap_or_default();
    let mut results = Vec::new();
    for signal in destination.signals.list() {
        let body = mcplatform_otlp::test_request(otlp_signal(signal), now_ns);
        let error =
            post(state, destination, &headers, signal, &body).await.err().map(|f| f.message);
        results.push(TestResult { signal, url: signal_url(&destination.endpoint, signal), error });
    }
    let outcome = match results.iter().find_map(|r| r.error.as_ref()) {
        None => ExportOutcome::Delivered,
        Some(error) => ExportOutcome::Failed { error: format!("test: {error}"), retry_at: now },
    };
    state.store.finish_exports(destination.id, &[], &outcome, state.clock.now()).await?;
    Ok(results)
}

fn open_headers(
    state: &AppState,
    stored: &StoredDestination,
) -> Result<Vec<ExportHeader>, ApiError> {
    let context = seal_context(stored.destination.id);
    let opened = state.master_key.open(&stored.headers_sealed, &context).map_err(|err| {
        tracing::error!(error = %err, destination = %stored.destination.id, "cannot open a destination's headers");
        ApiError::Internal(Box::new(err))
    })?;
    let pairs: Vec<[String; 2]> =
        serde_json::from_slice(&opened).map_err(|err| ApiError::Internal(Box::new(err)))?;
    Ok(pairs.into_iter().map(|[name, value]| ExportHeader { name, value }).collect())
}

/// Why a post failed, and whether the data itself was refused.
#[derive(Debug)]
struct PostFailure {
    message: String,
    refused: bool,
    retry_after: Option<Duration>,
}

/// Posts one protobuf request to a destination, in its encoding, gzipped.
async fn post(
    state: &AppState,
    destination: &Destination,
    headers: &[ExportHeader],
    signal: ExportSignal,
    protobuf: &[u8],
) -> Result<(), PostFailure> {
    let failure =
        |message: String, refused: bool| PostFailure { message, refused, retry_after: None };
    let encoding = match destination.encoding {
        ExportEncoding::Protobuf => Encoding::Protobuf,
        ExportEncoding::Json => Encoding::Json,
    };
    // Queued bodies were checked when accepted; one that no longer decodes cannot be sent.
    let body = mcplatform_otlp::encode_as(otlp_signal(signal), encoding, protobuf)
        .map_err(|e| failure(format!("cannot re-encode the queued request: {e}"), true))?;
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let body = gzip
        .write_all(&body)
        .and_then(|()| gzip.finish())
        .map_err(|e| failure(format!("cannot compress: {e}"), false))?;
    let mut request = axum::http::Request::builder()
        .method("POST")
        .uri(signal_url(&destination.endpoint, signal))
        .header(header::CONTENT_TYPE, encoding.content_type())
        .header(header::CONTENT_ENCODING, "gzip")
        .header(header::USER_AGENT, concat!("MCPlatform-Export/", env!("CARGO_PKG_VERSION")));
    for ExportHeader { name, value } in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request.body(body).map_err(|e| failure(e.to_string(), false))?;
    let answer = state
        .outbound
        .execute_limited(request, 64 * 1024)
        .await
        .map_err(|e| failure(mcplatform_core::error_chain(&e), false))?;
    let status = answer.status();
    if status.is_success() {
        return Ok(());
    }
    let retry_after = answer
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let said: String = String::from_utf8_lossy(answer.body())
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_ERROR_CHARS)
        .collect();
    let message = if said.trim().is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {said}")
    };
    Err(PostFailure { message, refused: is_refusal(status.as_u16()), retry_after })
}

/// What one round of sending did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    pub claimed: usize,
    pub delivered: usize,
}

impl Round {
    /// Whether the queue may hold more due requests right now.
    pub const fn was_full(self) -> bool {
        self.claimed >= BATCH as usize
    }
}

/// Claims due requests and sends them, every destination at once; requests of one signal go
/// together up to [`MAX_REQUEST_BYTES`].
pub async fn deliver_due(state: &AppState) -> Result<Round, ApiError> {
    let claimed = state.store.claim_due_exports(state.clock.now(), LEASE, BATCH).await?;
    let mut round = Round { claimed: claimed.len(), delivered: 0 };
    let mut by_destination: HashMap<TelemetryDestinationId, Vec<QueuedExport>> = HashMap::new();
    for export in claimed {
        by_destination.entry(export.destination_id).or_default().push(export);
    }
    let mut sending = tokio::task::JoinSet::new();
    for (destination, exports) in by_destination {
        let state = state.clone();
        sending.spawn(async move { deliver_to(&state, destination, exports).await });
    }
    while let Some(done) = sending.join_next().await {
        match done {
            Ok(Ok(delivered)) => round.delivered += delivered,
            Ok(Err(err)) => tracing::warn!(error = ?err, "cannot record an export attempt"),
            Err(err) => tracing::error!(error = %err, "an export task failed"),
        }
    }
    Ok(round)
}

/// Sends one destination its claimed requests, oldest first, stopping at the first failure
/// (the rest wait with it); the requests delivered.
async fn deliver_to(
    state: &AppState,
    id: TelemetryDestinationId,
    exports: Vec<QueuedExport>,
) -> Result<usize, ApiError> {
    let stored = state.store.destination_for_sending(id).await?;
    let destination = &stored.destination;
    let headers = match open_headers(state, &stored) {
        Ok(headers) => headers,
        Err(err) => {
            let retry_at =
                state.clock.now() + retry_delay(destination.status.consecutive_failures + 1, None);
            let ids: Vec<_> = exports.iter().map(|e| e.id).collect();
            let error = format!("cannot open the destination's headers: {err:?}");
            let outcome = ExportOutcome::Failed { error, retry_at };
            state.store.finish_exports(id, &ids, &outcome, state.clock.now()).await?;
            return Ok(0);
        }
    };
    let chunks = chunks(&exports);
    let mut delivered = 0;
    for (index, (signal, chunk)) in chunks.iter().enumerate() {
        let ids: Vec<_> = chunk.iter().map(|e| e.id).collect();
        let body: Vec<u8> = chunk.iter().flat_map(|e| e.body.iter().copied()).collect();
        let now = state.clock.now();
        match post(state, destination, &headers, *signal, &body).await {
            Ok(()) => {
                state.store.finish_exports(id, &ids, &ExportOutcome::Delivered, now).await?;
                delivered += ids.len();
            }
            Err(failure) if failure.refused => {
                tracing::warn!(destination = %id, error = %failure.message, "export refused: dropped");
                let outcome = ExportOutcome::Refused { error: failure.message };
                state.store.finish_exports(id, &ids, &outcome, now).await?;
            }
            Err(failure) => {
                let failures = destination.status.consecutive_failures + 1;
                let retry_at = now + retry_delay(failures, failure.retry_after);
                tracing::info!(destination = %id, error = %failure.message, %retry_at, "export failed: will retry");
                let waiting: Vec<_> =
                    chunks[index..].iter().flat_map(|(_, c)| c.iter().map(|e| e.id)).collect();
                let outcome = ExportOutcome::Failed { error: failure.message, retry_at };
                state.store.finish_exports(id, &waiting, &outcome, now).await?;
                return Ok(delivered);
            }
        }
    }
    Ok(delivered)
}

/// The requests to post: per signal, in order, as many as fit in [`MAX_REQUEST_BYTES`] (a
/// larger one alone).
fn chunks(exports: &[QueuedExport]) -> Vec<(ExportSignal, Vec<&QueuedExport>)> {
    let mut chunks: Vec<(ExportSignal, Vec<&QueuedExport>)> = Vec::new();
    for signal in ExportSignal::ALL {
        let mut current: Vec<&QueuedExport> = Vec::new();
        let mut size = 0;
        for export in exports.iter().filter(|e| e.signal == signal) {
            if !current.is_empty() && size + export.body.len() > MAX_REQUEST_BYTES {
                chunks.push((signal, std::mem::take(&mut current)));
                size = 0;
            }
            size += export.body.len();
            current.push(export);
        }
        if !current.is_empty() {
            chunks.push((signal, current));
        }
    }
    chunks
}

/// The hosted servers' recorded requests as export requests (spans per the MCP conventions),
/// one per server some destination takes traces from.
pub async fn hosted_exports(state: &AppState, records: &[McpRequestRecord]) -> Vec<ExportWrite> {
    let mut by_server: BTreeMap<(OrgId, McpServerId), Vec<&McpRequestRecord>> = BTreeMap::new();
    for record in records {
        by_server.entry((record.organization_id, record.mcp_server_id)).or_default().push(record);
    }
    let mut exports = Vec::new();
    for ((org, server), records) in by_server {
        if !state.export_routes.wants(state, org, server, ExportSignal::Traces).await {
            continue;
        }
        // A server gone since has its records dropped too.
        let Ok(hosted) = state.store.get_mcp_server(org, server).await else { continue };
        let body =
            mcplatform_otlp::hosted_spans(hosted.slug.as_str(), &server.to_string(), &records);
        exports.push(ExportWrite {
            organization_id: org,
            mcp_server_id: server,
            received_at: state.clock.now(),
            request: ExportRequest {
                id: TelemetryExportId::new(),
                signal: ExportSignal::Traces,
                body,
                items: i64::try_from(records.len()).unwrap_or(i64::MAX),
            },
        });
    }
    exports
}

/// Gives up queued requests older than [`MAX_AGE`]; how many.
pub async fn drop_stale(state: &AppState) -> Result<u64, ApiError> {
    let now = state.clock.now();
    Ok(state.store.drop_stale_exports(now - MAX_AGE, now).await?)
}
