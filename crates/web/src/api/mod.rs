//! The JSON API under `/api/v1`: the same operations as the dashboard, for scripts and tools.
//!
//! Callers authenticate with the dashboard session cookie; changes made that way must carry the
//! session's CSRF token in an `x-csrf-token` header.
//!
//! Every route is added through `utoipa_axum::routes!` from a handler's `#[utoipa::path]`, so
//! the OpenAPI document served at `/api/v1/openapi.json` lists exactly what the router answers.

mod activity;
pub(crate) mod analytics;
mod audit;
mod auth;
mod destinations;
mod keys;
mod members;
mod oauth_clients;
mod openapi;
mod orgs;
mod providers;
mod servers;
pub(crate) mod tickets;
mod tracking_links;
pub(crate) mod walkthroughs;

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::{Extension, Router};
use mcplatform_core::api_key::{ApiKey, ApiKeyScope};
use mcplatform_core::ids::{OrgId, UserId};
use mcplatform_core::org::Role;
use mcplatform_store::{Page, PageRequest};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;

use crate::access::{Actor, OrgAccess, path_id};
use crate::auth::CurrentSession;
use crate::auth::csrf::verify_header;
use crate::auth::session::client_ip;
use crate::{ApiError, AppState, api_keys};

pub fn router() -> Router<AppState> {
    let (router, document) = api_router().split_for_parts();
    router.layer(Extension(Arc::new(openapi::finish(document))))
}

/// The API's routes with their OpenAPI description.
fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi()).nest(
        "/api/v1",
        OpenApiRouter::default()
            .merge(auth::router())
            .merge(orgs::router())
            .merge(servers::router())
            .merge(tracking_links::router())
            .merge(activity::router())
            .merge(walkthroughs::router())
            .merge(tickets::router())
            .merge(analytics::router())
            .merge(destinations::router())
            .merge(members::router())
            .merge(keys::router())
            .merge(oauth_clients::router())
            .merge(providers::router())
            .merge(audit::router())
            .merge(openapi::router()),
    )
}

/// For a field that can be left out, set, or cleared: `null` → `Some(None)`, absent → `None`
/// (with `#[serde(default, deserialize_with = "super::double_option")]`).
pub(crate) fn double_option<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(deserializer).map(Some)
}

/// An optional RFC 3339 query parameter; blank is absent.
pub(crate) fn parse_time(
    field: &'static str,
    value: Option<&str>,
) -> crate::error::Result<Option<time::OffsetDateTime>> {
    value
        .filter(|v| !v.trim().is_empty())
        .map(|v| {
            time::OffsetDateTime::parse(v.trim(), &time::format_description::well_known::Rfc3339)
                .map_err(|_| {
                    mcplatform_core::ValidationError::new(field, "must be an RFC 3339 time").into()
                })
        })
        .transpose()
}

/// Descriptions that many operations' OpenAPI annotations share.
mod says {
    pub const ORG_ID: &str = "The organization's id";
    pub const NO_ORG: &str = "No such organization, or the caller is not in it (`not_found`)";
    pub const NOT_ADMIN: &str = "The caller is not an admin (`forbidden`)";
    pub const BAD_PAGE: &str = "`limit` or `offset` is out of range or not a number, or the \
        query has another parameter (`bad_request`)";
}

/// A whole list.
// An object rather than a bare array, so a field can be added beside `items` later.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Items<T> {
    pub items: Vec<T>,
}

/// One page of a list.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Paged<T> {
    pub items: Vec<T>,
    /// The `offset` of the next page; null on the last page.
    #[schema(minimum = 0)]
    pub next_offset: Option<u32>,
}

impl<T> Paged<T> {
    pub fn new<U>(page: Page<U>, item: impl FnMut(U) -> T) -> Self {
        Self { items: page.items.into_iter().map(item).collect(), next_offset: page.next_offset }
    }
}

/// `?limit=&offset=` of a paged list.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    #[serde(default)]
    #[param(schema_with = Limit::schema)]
    limit: Limit,
    /// How many items to skip: 0 for the first page, then the previous page's `next_offset`.
    #[serde(default)]
    #[param(minimum = 0)]
    offset: u32,
}

impl PageQuery {
    pub fn request(self) -> PageRequest {
        PageRequest::new(self.limit.0, self.offset)
    }
}

/// How many items a page holds: 1 to [`PageRequest::MAX_LIMIT`], 50 when not said. Out of
/// range is a 400, not quietly clamped, so a caller learns the bound.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
#[serde(try_from = "u32")]
pub(super) struct Limit(u32);

impl Limit {
    const DEFAULT: u32 = 50;

    pub(super) fn get(self) -> u32 {
        self.0
    }

    /// Its OpenAPI schema, from the same bounds [`Limit::try_from`] checks.
    pub(super) fn schema() -> utoipa::openapi::Object {
        ObjectBuilder::new()
            .description(Some("How many items to answer at most"))
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
            .minimum(Some(1))
            .maximum(Some(PageRequest::MAX_LIMIT))
            .default(Some(Self::DEFAULT.into()))
            .build()
    }
}

impl Default for Limit {
    fn default() -> Self {
        Self(Self::DEFAULT)
    }
}

impl TryFrom<u32> for Limit {
    type Error = String;

    fn try_from(limit: u32) -> Result<Self, Self::Error> {
        if (1..=PageRequest::MAX_LIMIT).contains(&limit) {
            Ok(Self(limit))
        } else {
            Err(format!("must be between 1 and {}", PageRequest::MAX_LIMIT))
        }
    }
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
        let bearer = crate::extract::authorization(&parts.headers, "bearer");
        if let Some(secret) = bearer {
            let key = api_keys::authenticate(state, secret, ApiKeyScope::Management).await?;
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
    /// The member a ticket change is made by: the signed-in person, or the person who made
    /// the key (while they are still a member).
    pub async fn member(&self, state: &AppState, access: &OrgAccess) -> Result<UserId, ApiError> {
        let user = match &self.0 {
            Caller::Session(current) => current.user.id,
            Caller::Key { key, .. } => key.created_by.ok_or_else(|| {
                ApiError::BadRequest("this key has no creator to act as; use a newer key".into())
            })?,
        };
        match state.store.get_membership(access.org.id, user).await {
            Ok(_) => Ok(user),
            Err(mcplatform_store::StoreError::NotFound) => Err(ApiError::BadRequest(
                "the person who made this key is no longer a member; use another key".into(),
            )),
            Err(err) => Err(err.into()),
        }
    }

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
