//! `/api/v1/orgs`: organizations the caller belongs to.

use axum::extract::State;
use axum::http::StatusCode;
use mcplatform_core::org::{Organization, Role};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiCaller, Caller, Items, says};
use crate::error::{ErrorBody, Result};
use crate::extract::AppJson;
use crate::extract::AppPath;
use crate::{AppState, organizations};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(list, create)).routes(routes!(read, update, delete))
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Organization)]
pub struct OrgResponse {
    #[schema(format = Uuid)]
    id: String,
    name: String,
    /// The caller's role in it.
    role: Role,
    /// Days its telemetry and recorded MCP requests are kept (1 to 3650).
    telemetry_retention_days: u16,
    #[serde(with = "time::serde::rfc3339")]
    created_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: time::OffsetDateTime,
}

impl OrgResponse {
    fn new(org: &Organization, role: Role) -> Self {
        Self {
            id: org.id.to_string(),
            name: org.name.as_str().to_owned(),
            role,
            telemetry_retention_days: org.retention.days(),
            created_at: org.created_at,
            updated_at: org.updated_at,
        }
    }
}

/// The organizations the caller belongs to (a management key: its own), oldest first.
#[utoipa::path(
    get,
    path = "/orgs",
    operation_id = "list_organizations",
    tag = "organizations",
    security(("session" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "Every organization of the caller", body = Items<OrgResponse>),
    ),
)]
async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
) -> Result<AppJson<Items<OrgResponse>>> {
    let orgs = match &caller.0 {
        Caller::Session(current) => {
            state.store.list_organizations_for_user(current.user.id).await?
        }
        // A management key sees the one organization it belongs to.
        Caller::Key { key, .. } => {
            vec![(state.store.get_organization(key.organization_id).await?, Role::Admin)]
        }
    };
    Ok(AppJson(Items {
        items: orgs.iter().map(|(org, role)| OrgResponse::new(org, *role)).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct OrgRequest {
    /// 1 to 100 characters.
    name: String,
}

/// Creates an organization with the caller as its owner.
#[utoipa::path(
    post,
    path = "/orgs",
    operation_id = "create_organization",
    tag = "organizations",
    request_body = OrgRequest,
    security(("session" = [], "csrf" = [])),
    responses(
        (status = CREATED, description = "The new organization", body = OrgResponse),
        (
            status = UNPROCESSABLE_ENTITY,
            description = "The name or the retention is invalid (`invalid_input`)",
            body = ErrorBody,
        ),
    ),
)]
async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppJson(body): AppJson<OrgRequest>,
) -> Result<(StatusCode, AppJson<OrgResponse>)> {
    let owner = caller.session()?.user.id;
    let org = organizations::create(&state, owner, &caller.actor(), &body.name).await?;
    Ok((StatusCode::CREATED, AppJson(OrgResponse::new(&org, Role::Owner))))
}

/// One organization the caller belongs to.
#[utoipa::path(
    get,
    path = "/orgs/{org_id}",
    operation_id = "get_organization",
    tag = "organizations",
    params(("org_id" = Uuid, Path, description = says::ORG_ID)),
    security(("session" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "The organization", body = OrgResponse),
        (status = NOT_FOUND, description = says::NO_ORG, body = ErrorBody),
    ),
)]
async fn read(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath(org_id): AppPath<String>,
) -> Result<AppJson<OrgResponse>> {
    let access = caller.org_access(&state, &org_id).await?;
    Ok(AppJson(OrgResponse::new(&access.org, access.role)))
}

/// What an update changes: any of the fields, the others stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct OrgUpdate {
    /// 1 to 100 characters.
    name: Option<String>,
    /// Days telemetry and recorded MCP requests are kept, 1 to 3650; older data is deleted
    /// within the hour.
    telemetry_retention_days: Option<i64>,
}

/// Renames an organization or changes its retention; admins only.
#[utoipa::path(
    patch,
    path = "/orgs/{org_id}",
    operation_id = "update_organization",
    tag = "organizations",
    params(("org_id" = Uuid, Path, description = says::ORG_ID)),
    request_body = OrgUpdate,
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "The updated organization", body = OrgResponse),
        (status = FORBIDDEN, description = says::NOT_ADMIN, body = ErrorBody),
        (status = NOT_FOUND, description = says::NO_ORG, body = ErrorBody),
        (
            status = UNPROCESSABLE_ENTITY,
            description = "The name or the retention is invalid (`invalid_input`)",
            body = ErrorBody,
        ),
    ),
)]
async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath(org_id): AppPath<String>,
    AppJson(body): AppJson<OrgUpdate>,
) -> Result<AppJson<OrgResponse>> {
    let mut access = caller.org_access(&state, &org_id).await?;
    access.require(Role::Admin)?;
    // Both are checked before either is written.
    if let Some(name) = &body.name {
        mcplatform_core::org::OrgName::parse(name)?;
    }
    if let Some(days) = body.telemetry_retention_days {
        mcplatform_core::org::RetentionDays::new(days)?;
        access.org = organizations::set_retention(&state, &access, &caller.actor(), days).await?;
    }
    if let Some(name) = &body.name {
        access.org = organizations::rename(&state, &access, &caller.actor(), name).await?;
    }
    Ok(AppJson(OrgResponse::new(&access.org, access.role)))
}

/// Deletes an organization and everything it owns; owners only.
#[utoipa::path(
    delete,
    path = "/orgs/{org_id}",
    operation_id = "delete_organization",
    tag = "organizations",
    params(("org_id" = Uuid, Path, description = says::ORG_ID)),
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = NO_CONTENT, description = "Deleted"),
        (
            status = FORBIDDEN,
            description = "The caller is not an owner (`forbidden`)",
            body = ErrorBody,
        ),
        (status = NOT_FOUND, description = says::NO_ORG, body = ErrorBody),
    ),
)]
async fn delete(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath(org_id): AppPath<String>,
) -> Result<StatusCode> {
    let access = caller.org_access(&state, &org_id).await?;
    organizations::delete(&state, &access, &caller.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}
