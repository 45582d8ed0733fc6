//! The JSON API under `/api/v1`: the same operations as the dashboard, for scripts and tools.
//!
//! Callers authenticate with the dashboard session cookie; changes made that way must carry the
//! session's CSRF token in an `x-csrf-token` header.

mod audit;
mod auth;
mod keys;
mod members;
mod orgs;
mod providers;
mod servers;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use mcplatform_core::api_key::{ApiKey, ApiKeyScope};
use mcplatform_core::ids::OrgId;
use mcplatform_core::org::Role;

use crate::access::{Actor, OrgAccess, path_id};
use crate::auth::CurrentSession;
use crate::auth::csrf::verify_header;
use crate::auth::session::client_ip;
use crate::{ApiError, AppState, api_keys};

pub fn router() -> Router<AppState> {
    Router::new().nest(
        "/api/v1",
        Router::new()
            .merge(auth::router())
            .merge(orgs::router())
            .merge(servers::router())
            .merge(members::router())
            .merge(keys::router())
            .merge(providers::router())
            .merge(audit::router()),
    )
}

/// Every list answer: `{"items": [...]}`, so a field can be added beside `items` later.
#[derive(Debug, serde::Serialize)]
pub struct Items<T> {
    pub items: Vec<T>,
}

/// Who is calling the API: a dashboard session, or an organization's management key.
#[derive(Debug, Clone)]
pub enum Caller {
    Session(CurrentSession),
    Key { key: ApiKey, ip: Option<String> },
}

/// An authenticated API caller. `Authorization: Bearer mcpk_…` with the `management` scope
/// acts as an admin of the key's organization; otherwise the session cookie is used, and
/// unsafe methods (anything but GET, HEAD, OPTIONS) also need the CSRF header, since a cookie
/// alone does not prove the request came from our pages or a script.
#[derive(Debug, Clone)]
pub struct ApiCaller(pub Caller);

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        if let Some(secret) = bearer {
            let key = api_keys::authenticate(state, secret.trim(), ApiKeyScope::Management).await?;
            return Ok(Self(Caller::Key { key, ip: client_ip(&parts.extensions) }));
        }
        let current = CurrentSession::from_request_parts(parts, state).await?;
        if !parts.method.is_safe() {
            verify_header(parts, state)?;
        }
        Ok(Self(Caller::Session(current)))
    }
}

impl ApiCaller {
    /// The organization `org_id` as this caller may see it: a member's role, or admin for the
    /// organization's own management key. `NotFound` for anything else.
    pub async fn org_access(&self, state: &AppState, org_id: &str) -> Result<OrgAccess, ApiError> {
        match &self.0 {
            Caller::Session(current) => OrgAccess::load(state, current.user.id, org_id).await,
            Caller::Key { key, .. } => {
                let org: OrgId = path_id(org_id)?;
                if org != key.organization_id {
                    return Err(ApiError::NotFound);
                }
                let org = state.store.get_organization(org).await?;
                Ok(OrgAccess { org, role: Role::Admin })
            }
        }
    }

    /// For what only a person can do (their own account, joining or creating organizations).
    pub fn session(&self) -> Result<&CurrentSession, ApiError> {
        match &self.0 {
            Caller::Session(current) => Ok(current),
            Caller::Key { .. } => Err(ApiError::Forbidden),
        }
    }

    /// Who to name as the author of a change.
    pub fn actor(&self) -> Actor {
        match &self.0 {
            Caller::Session(current) => Actor::from(current),
            Caller::Key { key, ip } => Actor {
                user_id: None,
                name: format!("API key \"{}\"", key.name),
                email: None,
                ip: ip.clone(),
            },
        }
    }
}
