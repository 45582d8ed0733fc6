//! Liveness and readiness probes for load balancers and orchestrators.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use mcplatform_core::error_chain;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz))
}

/// The process is up and serving HTTP. Says nothing about dependencies, on purpose: a database
/// outage must not make an orchestrator restart healthy processes.
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// Ready to serve traffic: the database answers a query within the readiness timeout.
async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let ping = tokio::time::timeout(state.config.readiness_timeout, state.store.ping()).await;
    let problem = match ping {
        Ok(Ok(())) => None,
        Ok(Err(err)) => Some(error_chain(&err)),
        Err(_) => Some("timed out".to_owned()),
    };
    match problem {
        None => (StatusCode::OK, Json(json!({ "status": "ready", "database": "ok" }))),
        Some(problem) => {
            tracing::warn!(backend = state.store.backend().as_str(), problem, "database not ready");
            let body = json!({ "status": "unavailable", "database": "unreachable" });
            (StatusCode::SERVICE_UNAVAILABLE, Json(body))
        }
    }
}
