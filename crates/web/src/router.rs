//! Composition of every resource router, plus the layers that apply to all of them.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::Request;
use axum::http::{HeaderName, Uri, header};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::IntoResponse;
use mcplatform_core::mcp_server::Slug;
use mcplatform_core::oauth::UrlForm;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;

use crate::auth::session::load_session;
use crate::middleware::{
    REQUEST_ID, log_server_errors, reject_oversized_bodies, security_headers, trace_layer,
};
use crate::{ApiError, AppState, api, health, hosting, metrics, oauth, telemetry, views};

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let max_body_bytes = state.config.max_body_bytes;
    let https = state.config.is_https();
    // Only a domain name has subdomains (`acme.127.0.0.1` is no name at all).
    let base_domain = state.config.base_url.domain().map(str::to_ascii_lowercase);
    let routes = Router::new()
        .merge(views::router())
        .merge(api::router())
        .route_layer(from_fn_with_state(state.clone(), load_session))
        // Probes and assets skip the session lookup: it costs a query each, and a liveness
        // probe that carries a cookie must not fail because the database is down.
        .merge(health::router())
        .merge(metrics::router())
        .merge(oauth::router())
        .merge(hosting::router(&state))
        .merge(views::assets_router())
        // OTLP batches are larger than anything else: the ingest routes have their own limit.
        .merge(telemetry::router(&state))
        .route_layer(from_fn_with_state(state.metrics.clone(), metrics::track_http))
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(
            // Outermost first: the id exists before the span that records it.
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(SetSensitiveRequestHeadersLayer::new([
                    header::AUTHORIZATION,
                    header::COOKIE,
                    HeaderName::from_static("x-api-key"),
                ]))
                .layer(trace_layer())
                .layer(from_fn(log_server_errors))
                // A panic in a handler or a library answers 500 (and is logged) instead of
                // dropping the connection.
                .layer(CatchPanicLayer::custom(|_| {
                    ApiError::Internal("a request handler panicked".into()).into_response()
                }))
                .layer(from_fn_with_state(https, security_headers))
                .layer(from_fn_with_state(max_body_bytes, reject_oversized_bodies))
                .layer(DefaultBodyLimit::max(max_body_bytes)),
        )
        .with_state(state);
    // Routing looks at the path only: a hosted server's subdomain becomes its path form first.
    Router::new().fallback_service(
        ServiceBuilder::new()
            .map_request(move |request| match &base_domain {
                Some(domain) => subdomain_to_path(domain, request),
                None => request,
            })
            .service(routes),
    )
}

/// The host a request was sent to: its `Host` header, or (HTTP/2) the host of its URI.
pub(crate) fn request_host<'r>(headers: &'r axum::http::HeaderMap, uri: &'r Uri) -> &'r str {
    headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .or_else(|| uri.host())
        .unwrap_or_default()
}

/// `{slug}.{base domain}/x` is served as `/s/{slug}/x`, marked [`UrlForm::Subdomain`] so the
/// server's issuer and URLs keep the subdomain form. Only one label deep, and only a label
/// that can be a slug: anything else is left alone (and finds no dashboard route on that
/// host's paths other than the base's own).
fn subdomain_to_path(base_domain: &str, mut request: Request) -> Request {
    let host = request_host(request.headers(), request.uri());
    // An IP literal has no subdomains; in `acme.localhost:3000` the port is not part of the name.
    if host.starts_with('[') {
        return request;
    }
    let name = host.split(':').next().unwrap_or_default().to_ascii_lowercase();
    let label = name
        .strip_suffix(base_domain)
        .and_then(|rest| rest.strip_suffix('.'))
        .and_then(|label| Slug::parse(label).ok());
    if let Some(label) = label {
        let path_and_query = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
        let rewritten = format!("/s/{label}{path_and_query}");
        if let Ok(uri) = rewritten.parse::<Uri>() {
            *request.uri_mut() = uri;
            request.extensions_mut().insert(UrlForm::Subdomain);
        }
    }
    request
}
