//! Composition of every resource router, plus the layers that apply to all of them.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::IntoResponse;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;

use crate::auth::session::load_session;
use crate::middleware::{
    REQUEST_ID, log_server_errors, reject_oversized_bodies, security_headers, trace_layer,
};
use crate::{ApiError, AppState, api, health, metrics, views};

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let max_body_bytes = state.config.max_body_bytes;
    let https = state.config.is_https();
    Router::new()
        .merge(views::router())
        .merge(api::router())
        .route_layer(from_fn_with_state(state.clone(), load_session))
        // Probes and assets skip the session lookup: it costs a query each, and a liveness
        // probe that carries a cookie must not fail because the database is down.
        .merge(health::router())
        .merge(metrics::router())
        .merge(views::assets_router())
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
        .with_state(state)
}
