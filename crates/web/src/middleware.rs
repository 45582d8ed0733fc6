//! Cross-cutting layers: request ids, tracing, error logging, security headers, body limits.

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{DefaultOnResponse, MakeSpan, TraceLayer};
use tracing::{Level, Span};

use crate::ApiError;
use crate::error::ServerErrorDetail;

pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// One span per request, carrying its id. Only the path is recorded: query strings can carry
/// codes and tokens.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &axum::http::Request<B>) -> Span {
        let request_id = request
            .headers()
            .get(&REQUEST_ID)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        let path = loggable_path(request.uri().path());
        // `otel.*` name the span and its kind when it is exported (self-telemetry).
        tracing::info_span!(
            "request",
            method = %request.method(),
            path = %path,
            request_id,
            otel.name = %format_args!("{} {}", request.method(), path),
            otel.kind = "server",
        )
    }
}

/// Paths whose last segment is a bearer secret (a password reset or invitation link): the
/// log gets the path with that segment hidden, so log readers cannot use the link.
const SECRET_PATHS: [&str; 2] = ["/password/reset/", "/invitations/"];

fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    match SECRET_PATHS.iter().find(|prefix| path.starts_with(**prefix)) {
        Some(prefix) => {
            let rest = &path[prefix.len()..];
            let tail = rest.find('/').map_or("", |i| &rest[i..]);
            format!("{prefix}…{tail}").into()
        }
        None => path.into(),
    }
}

#[cfg(test)]
#[test]
fn secret_link_segments_are_hidden_from_the_log() {
    assert_eq!(loggable_path("/password/reset/mcpr_abc"), "/password/reset/…");
    assert_eq!(loggable_path("/invitations/mcpi_abc/accept"), "/invitations/…/accept");
    assert_eq!(loggable_path("/orgs/1/members"), "/orgs/1/members");
}

pub(crate) fn trace_layer() -> TraceLayer<
    SharedClassifier<ServerErrorsAsFailures>,
    RequestSpan,
    (),
    DefaultOnResponse,
    (),
    (),
    (),
> {
    TraceLayer::new_for_http()
        .make_span_with(RequestSpan)
        .on_request(())
        .on_response(DefaultOnResponse::new().level(Level::INFO))
        .on_body_chunk(())
        .on_eos(())
        // Server errors are logged once, with their cause, by `log_server_errors`.
        .on_failure(())
}

/// Logs the cause of every 5xx produced by an [`ApiError`], inside the request's span.
pub(crate) async fn log_server_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if let Some(ServerErrorDetail(detail)) = response.extensions().get::<ServerErrorDetail>() {
        tracing::error!(status = response.status().as_u16(), error = %detail, "request failed");
    }
    response
}

/// Refuses bodies announced larger than the limit before anything reads them. Bodies without a
/// length are bounded by the extractors' `DefaultBodyLimit`. The OTLP ingest paths have their
/// own, larger limit, and answer in OTLP's format ([`crate::telemetry`]).
pub(crate) async fn reject_oversized_bodies(
    State(max_body_bytes): State<usize>,
    request: Request,
    next: Next,
) -> Response {
    if crate::telemetry::is_ingest_path(request.uri().path()) {
        return next.run(request).await;
    }
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    match announced {
        Some(length) if length > max_body_bytes as u64 => ApiError::PayloadTooLarge.into_response(),
        _ => next.run(request).await,
    }
}

/// Browser hardening for every response; a handler may set its own value first (for example a
/// page that needs a wider `Content-Security-Policy`).
pub(crate) async fn security_headers(
    State(https): State<bool>,
    request: Request,
    next: Next,
) -> Response {
    const CSP: &str = "default-src 'self'; img-src 'self' data:; object-src 'none'; \
                       base-uri 'none'; frame-ancestors 'none'";
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let defaults = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // OAuth redirects carry codes in URLs: never leak them to another site through
        // Referer. (`no-referrer` would also make browsers send `Origin: null` on our own forms.)
        (header::REFERRER_POLICY, "same-origin"),
        (header::CONTENT_SECURITY_POLICY, CSP),
        (HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
    ];
    for (name, value) in defaults {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    }
    if https {
        headers
            .entry(header::STRICT_TRANSPORT_SECURITY)
            .or_insert(HeaderValue::from_static("max-age=31536000; includeSubDomains"));
    }
    response
}
