//! OTLP/HTTP ingest at `/v1/traces`, `/v1/metrics` and `/v1/logs` (OpenTelemetry Protocol
//! Specification, §OTLP/HTTP), so that `OTEL_EXPORTER_OTLP_ENDPOINT={base URL}` works.
//!
//! A `telemetry:write` server key decides the organization and the server. The rows reach
//! the database through [`writer::TelemetryQueue`] before the answer goes out: a 2xx means
//! stored. Answers are OTLP messages in the request's encoding: `Export*ServiceResponse`
//! (with `partial_success` for dropped items) or a `google.rpc.Status` for errors.

pub mod analytics;
pub mod export;
pub mod retention;
pub mod writer;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use mcplatform_core::api_key::{API_KEY_PREFIX, ApiKey, ApiKeyScope};
use mcplatform_core::ids::TelemetryExportId;
use mcplatform_otlp::{DecodeError, Encoding, Signal, grpc_code};
use mcplatform_store::{ExportRequest, TelemetryWrite};

use self::writer::QueueError;
use crate::{ApiError, AppState, api_keys, extract};

/// Limits of the ingest endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestLimits {
    /// The largest body as sent (compressed or not).
    pub max_body_bytes: usize,
    /// The largest body once its `Content-Encoding` is undone.
    pub max_decompressed_bytes: usize,
    /// Rows waiting to be stored at most; past this requests get 429.
    pub queue_rows: usize,
}

impl Default for IngestLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 8 * 1024 * 1024,
            max_decompressed_bytes: 64 * 1024 * 1024,
            queue_rows: 200_000,
        }
    }
}

/// How long a client told to back off (429, 503) should wait, in seconds.
const RETRY_AFTER_SECS: &str = "1";

const INGEST_PATHS: [&str; 3] = ["/v1/traces", "/v1/metrics", "/v1/logs"];

/// Whether `path` is one of the ingest endpoints (whose bodies may be larger).
pub(crate) fn is_ingest_path(path: &str) -> bool {
    INGEST_PATHS.contains(&path)
}

pub fn router(state: &AppState) -> Router<AppState> {
    let limits = state.config.telemetry;
    Router::new()
        .route(INGEST_PATHS[0], post(traces))
        .route(INGEST_PATHS[1], post(metrics))
        .route(INGEST_PATHS[2], post(logs))
        // `Bytes` reads up to this much (overriding the application's smaller default); the
        // length check in front answers a declared larger body before reading it.
        .route_layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .route_layer(from_fn_with_state(limits.max_body_bytes, refuse_declared_oversize))
}

/// A body whose `Content-Length` is over the limit is refused before it is read, in OTLP's
/// format (the application's own check skips these paths).
async fn refuse_declared_oversize(
    State(limit): State<usize>,
    request: Request,
    next: Next,
) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(length) if length > limit as u64 => {
            Failure::TooLarge(limit).into_response_in(request_encoding(request.headers()))
        }
        _ => next.run(request).await,
    }
}

/// The encoding of a request's body, JSON when it names none OTLP knows (errors about such
/// requests are answered in JSON, which anyone can read).
fn request_encoding(headers: &HeaderMap) -> Encoding {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(Encoding::from_content_type)
        .unwrap_or(Encoding::Json)
}

async fn traces(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    ingest(&state, Signal::Traces, &headers, body).await
}

async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    ingest(&state, Signal::Metrics, &headers, body).await
}

async fn logs(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    ingest(&state, Signal::Logs, &headers, body).await
}

async fn ingest(
    state: &AppState,
    signal: Signal,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let answer = |failure: Failure| failure.into_response_in(request_encoding(headers));
    let key = match authenticate(state, headers).await {
        Ok(key) => key,
        Err(failure) => return answer(failure),
    };
    let Some(server) = key.mcp_server_id else {
        return answer(Failure::Forbidden("only a server key can send telemetry"));
    };
    let Some(encoding) = content_type.and_then(Encoding::from_content_type) else {
        return answer(Failure::UnsupportedMediaType(content_type.unwrap_or("none").to_owned()));
    };
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return answer(Failure::TooLarge(state.config.telemetry.max_body_bytes));
        }
        Err(rejection) => return answer(Failure::Unreadable(rejection.body_text())),
    };
    let content_encoding =
        headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let limit = state.config.telemetry.max_decompressed_bytes;
    let Ok(_decoding) = state.telemetry.decoding() else {
        return answer(Failure::Overloaded);
    };
    let org = key.organization_id;
    let forward =
        state.export_routes.wants(state, org, server, export::export_signal(signal)).await;
    // Decompressing and decoding are CPU work: off the async workers.
    let decoded = tokio::task::spawn_blocking(move || {
        let body = mcplatform_otlp::decompress(&body, content_encoding.as_deref(), limit)?;
        mcplatform_otlp::decode_keeping(signal, encoding, &body, forward)
    })
    .await;
    let mcplatform_otlp::Decoded { batch, rejected, error_message, protobuf } = match decoded {
        Ok(Ok(decoded)) => decoded,
        Ok(Err(err)) => return answer(Failure::Decode(err)),
        Err(join) => {
            tracing::error!(error = %join, "OTLP decoding panicked");
            return answer(Failure::Internal);
        }
    };
    // What the sender sent goes on as sent, items this platform could not store included;
    // a request with no item at all is not worth forwarding.
    let items = i64::try_from(batch.len()).unwrap_or(i64::MAX).saturating_add(rejected);
    let export = protobuf.filter(|_| items > 0).map(|body| ExportRequest {
        id: TelemetryExportId::new(),
        signal: export::export_signal(signal),
        body,
        items,
    });
    let write = TelemetryWrite {
        organization_id: org,
        mcp_server_id: server,
        received_at: state.clock.now(),
        batch,
        export,
    };
    match state.telemetry.store(write).await {
        Ok(()) => {}
        Err(QueueError::Full) => return answer(Failure::Overloaded),
        Err(QueueError::NotStored) => return answer(Failure::Unavailable),
    }
    let body = mcplatform_otlp::response(signal, encoding, rejected, error_message.as_deref());
    ([(header::CONTENT_TYPE, encoding.content_type())], body).into_response()
}

/// The key of a request: `Authorization: Bearer`, `X-API-Key` (Shinzo's exporters) or Basic
/// with the key as either half (OpenObserve-style exporters).
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<ApiKey, Failure> {
    let basic = extract::authorization(headers, "basic").and_then(|encoded| {
        let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
        let pair = String::from_utf8(decoded).ok()?;
        let (user, password) = pair.split_once(':')?;
        [password, user]
            .into_iter()
            .find(|half| half.starts_with(API_KEY_PREFIX))
            .map(str::to_owned)
    });
    let secret = extract::authorization(headers, "bearer")
        .map(str::to_owned)
        .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::to_owned))
        .or(basic)
        .ok_or(Failure::Unauthenticated("send a telemetry:write API key as a Bearer token"))?;
    match api_keys::authenticate(state, secret.trim(), ApiKeyScope::TelemetryWrite).await {
        Ok(key) => Ok(key),
        Err(ApiError::Unauthorized) => Err(Failure::Unauthenticated("unknown or revoked API key")),
        Err(ApiError::Forbidden) => {
            Err(Failure::Forbidden("this API key lacks the telemetry:write scope"))
        }
        Err(other) => {
            tracing::error!(error = ?other, "cannot check an ingest API key");
            Err(Failure::Unavailable)
        }
    }
}

/// Why a request stored nothing.
#[derive(Debug)]
enum Failure {
    /// The body as sent is larger than the limit.
    TooLarge(usize),
    /// The body could not be read (the connection broke, a bad chunk).
    Unreadable(String),
    Unauthenticated(&'static str),
    Forbidden(&'static str),
    UnsupportedMediaType(String),
    Decode(DecodeError),
    Overloaded,
    Unavailable,
    Internal,
}

impl Failure {
    fn into_response_in(self, encoding: Encoding) -> Response {
        let (status, code, message) = match self {
            Self::TooLarge(limit) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                grpc_code::INVALID_ARGUMENT,
                format!("the body is larger than {limit} bytes; send smaller batches"),
            ),
            Self::Unreadable(reason) => {
                (StatusCode::BAD_REQUEST, grpc_code::INVALID_ARGUMENT, reason)
            }
            Self::Unauthenticated(message) => {
                (StatusCode::UNAUTHORIZED, grpc_code::UNAUTHENTICATED, message.to_owned())
            }
            Self::Forbidden(message) => {
                (StatusCode::FORBIDDEN, grpc_code::PERMISSION_DENIED, message.to_owned())
            }
            Self::UnsupportedMediaType(given) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                grpc_code::INVALID_ARGUMENT,
                format!(
                    "Content-Type {given:?} is not OTLP/HTTP: use application/x-protobuf or \
                     application/json"
                ),
            ),
            Self::Decode(err @ DecodeError::TooLarge { .. }) => {
                (StatusCode::PAYLOAD_TOO_LARGE, grpc_code::INVALID_ARGUMENT, err.to_string())
            }
            Self::Decode(err) => {
                (StatusCode::BAD_REQUEST, grpc_code::INVALID_ARGUMENT, err.to_string())
            }
            Self::Overloaded => (
                StatusCode::TOO_MANY_REQUESTS,
                grpc_code::RESOURCE_EXHAUSTED,
                "too much telemetry is waiting to be stored; retry later".to_owned(),
            ),
            Self::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                grpc_code::UNAVAILABLE,
                "the telemetry could not be stored; retry later".to_owned(),
            ),
            Self::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                grpc_code::INTERNAL,
                "internal error".to_owned(),
            ),
        };
        let body = mcplatform_otlp::status(encoding, code, &message);
        let mut response =
            (status, [(header::CONTENT_TYPE, encoding.content_type())], body).into_response();
        let headers = response.headers_mut();
        if matches!(status, StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECS));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
