//! Prometheus metrics, exposed at `/metrics` in the OpenMetrics text format. The registry lives
//! in [`AppState`], not in a global, so every app instance (and every test) has its own.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::AppState;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    /// The route template (`/s/{slug}/mcp`), never the raw path, to keep cardinality bounded.
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DurationLabels {
    method: String,
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    http_requests: Family<RequestLabels, Counter>,
    http_request_duration: HistogramFamily<DurationLabels>,
}

fn latency_histogram() -> Histogram {
    // 1 ms to ~16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("mcplatform");
        let http_requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests answered", http_requests.clone());
        let http_request_duration: HistogramFamily<DurationLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "Time to produce an HTTP response",
            http_request_duration.clone(),
        );
        let build_info = Family::<BuildLabels, Gauge>::default();
        build_info.get_or_create(&BuildLabels { version: env!("CARGO_PKG_VERSION").into() }).set(1);
        registry.register("build_info", "The running version", build_info);
        Self { registry, http_requests, http_request_duration }
    }

    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }

    fn observe(&self, method: &str, route: &str, status: StatusCode, started: Instant) {
        let labels =
            RequestLabels { method: method.into(), route: route.into(), status: status.as_u16() };
        self.http_requests.get_or_create(&labels).inc();
        let labels = DurationLabels { method: labels.method, route: labels.route };
        self.http_request_duration.get_or_create(&labels).observe(started.elapsed().as_secs_f64());
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(render))
}

async fn render(State(state): State<AppState>) -> Response {
    match state.metrics.encode() {
        Ok(text) => {
            let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
            ([(header::CONTENT_TYPE, HeaderValue::from_static(content_type))], text).into_response()
        }
        Err(err) => crate::ApiError::Internal(Box::new(err)).into_response(),
    }
}

/// Counts and times every request that matched a route (installed as a route layer, where the
/// matched route template is known).
pub(crate) async fn track_http(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let response = next.run(request).await;
    metrics.observe(&method, &route, response.status(), started);
    response
}
