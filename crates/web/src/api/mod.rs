//! The JSON API under `/api/v1`: the same operations as the dashboard, for scripts and tools.
//!
//! Callers authenticate with the dashboard session cookie; changes made that way must carry the
//! session's CSRF token in an `x-csrf-token` header.

mod auth;
mod members;
mod orgs;
mod servers;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::auth::CurrentSession;
use crate::auth::csrf::verify_header;
use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new().nest(
        "/api/v1",
        Router::new()
            .merge(auth::router())
            .merge(orgs::router())
            .merge(servers::router())
            .merge(members::router()),
    )
}

/// An authenticated API caller. Unsafe methods (anything but GET, HEAD, OPTIONS) also need the
/// CSRF header, since a cookie alone does not prove the request came from our pages or a script.
#[derive(Debug, Clone)]
pub struct ApiCaller(pub CurrentSession);

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let current = CurrentSession::from_request_parts(parts, state).await?;
        if !parts.method.is_safe() {
            verify_header(parts, state)?;
        }
        Ok(Self(current))
    }
}
