//! `/api/v1/orgs`: organizations the caller belongs to.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use mcplatform_core::org::{Organization, Role};
use serde::{Deserialize, Serialize};

use super::{ApiCaller, Caller, Items};
use crate::error::Result;
use crate::extract::AppJson;
use crate::{AppState, organizations};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs", get(list).post(create))
        .route("/orgs/{org_id}", get(read).patch(update).delete(delete))
}

#[derive(Debug, Serialize)]
pub struct OrgResponse {
    id: String,
    name: String,
    /// The caller's role in it.
    role: Role,
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
            created_at: org.created_at,
            updated_at: org.updated_at,
        }
    }
}

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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgRequest {
    name: String,
}

async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppJson(body): AppJson<OrgRequest>,
) -> Result<(StatusCode, AppJson<OrgResponse>)> {
    let owner = caller.session()?.user.id;
    let org = organizations::create(&state, owner, &caller.actor(), &body.name).await?;
    Ok((StatusCode::CREATED, AppJson(OrgResponse::new(&org, Role::Owner))))
}

async fn read(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(org_id): Path<String>,
) -> Result<AppJson<OrgResponse>> {
    let access = caller.org_access(&state, &org_id).await?;
    Ok(AppJson(OrgResponse::new(&access.org, access.role)))
}

async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(org_id): Path<String>,
    AppJson(body): AppJson<OrgRequest>,
) -> Result<AppJson<OrgResponse>> {
    let access = caller.org_access(&state, &org_id).await?;
    let org = organizations::rename(&state, &access, &caller.actor(), &body.name).await?;
    Ok(AppJson(OrgResponse::new(&org, access.role)))
}

async fn delete(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(org_id): Path<String>,
) -> Result<StatusCode> {
    let access = caller.org_access(&state, &org_id).await?;
    organizations::delete(&state, &access, &caller.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}
