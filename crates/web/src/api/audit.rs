//! `/api/v1/orgs/{org_id}/audit-events`: the audit log, for admins.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use mcplatform_core::audit::{AREAS, AuditEvent};
use mcplatform_core::org::Role;
use mcplatform_store::{AuditFilter, PageRequest};
use serde::{Deserialize, Serialize};

use super::{ApiCaller, Items};
use crate::error::Result;
use crate::extract::{AppJson, AppQuery};
use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new().route("/orgs/{org_id}/audit-events", get(list))
}

#[derive(Debug, Serialize)]
struct EventResponse {
    id: String,
    actor_user_id: Option<String>,
    actor: String,
    action: String,
    target: String,
    detail: serde_json::Value,
    ip_address: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: time::OffsetDateTime,
}

impl From<AuditEvent> for EventResponse {
    fn from(e: AuditEvent) -> Self {
        Self {
            id: e.id.to_string(),
            actor_user_id: e.actor_user_id.map(|u| u.to_string()),
            actor: e.actor_label,
            action: e.action,
            target: e.target,
            detail: serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::Null),
            ip_address: e.ip_address,
            created_at: e.created_at,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    area: Option<String>,
    actor: Option<String>,
    #[serde(default = "default_limit")]
    limit: u32,
    #[serde(default)]
    offset: u32,
}

fn default_limit() -> u32 {
    50
}

async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(org_id): Path<String>,
    AppQuery(query): AppQuery<AuditQuery>,
) -> Result<AppJson<Items<EventResponse>>> {
    let access = caller.org_access(&state, &org_id).await?;
    access.require(Role::Admin)?;
    if let Some(area) = query.area.as_deref().filter(|a| !AREAS.contains(a)) {
        return Err(ApiError::BadRequest(format!(
            "unknown area {area:?} (one of {})",
            AREAS.join(", ")
        )));
    }
    let actor = match query.actor.as_deref() {
        Some(raw) => {
            Some(raw.parse().map_err(|_| ApiError::BadRequest("actor must be a user id".into()))?)
        }
        None => None,
    };
    let filter = AuditFilter { area: query.area, actor };
    let events = state
        .store
        .list_audit_events(access.org.id, &filter, PageRequest::new(query.limit, query.offset))
        .await?;
    Ok(AppJson(Items { items: events.into_iter().map(EventResponse::from).collect() }))
}
