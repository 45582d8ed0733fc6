//! `/api/v1/orgs/{org_id}/audit-events`: the audit log, for admins.

use axum::extract::State;
use mcplatform_core::audit::{AREAS, AuditEvent};
use mcplatform_core::org::Role;
use mcplatform_store::{AuditFilter, PageRequest};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiCaller, Limit, Paged, says};
use crate::error::{ErrorBody, Result};
use crate::extract::{AppJson, AppPath, AppQuery};
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(list))
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AuditEvent)]
struct EventResponse {
    #[schema(format = Uuid)]
    id: String,
    /// The person who acted; null for an API key.
    #[schema(format = Uuid)]
    actor_user_id: Option<String>,
    /// Who acted, as shown in the log.
    actor: String,
    /// What happened, `{area}.{what}` (`member.invited`, `api_key.revoked`, …).
    action: String,
    /// What it happened to.
    target: String,
    /// More about the change; its fields depend on the action.
    #[schema(value_type = Object)]
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

/// The `area` filter's schema, listing the areas [`AREAS`] names (the check below uses them too).
fn area_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .description(Some("Only actions of this area"))
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(AREAS))
        .build()
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AuditQuery {
    #[param(schema_with = area_schema)]
    area: Option<String>,
    /// Only what this person did (a user id).
    #[param(format = Uuid)]
    actor: Option<String>,
    // Beside the filters rather than a flattened `PageQuery`: serde's flatten would read the
    // numbers of a query string as text.
    #[serde(default)]
    #[param(schema_with = Limit::schema)]
    limit: Limit,
    /// How many events to skip: 0 for the first page, then the previous page's `next_offset`.
    #[serde(default)]
    #[param(minimum = 0)]
    offset: u32,
}

/// The organization's audit log, newest first; admins only.
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/audit-events",
    operation_id = "list_audit_events",
    tag = "audit",
    params(("org_id" = Uuid, Path, description = says::ORG_ID), AuditQuery),
    security(("session" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "A page of events", body = Paged<EventResponse>),
        (
            status = BAD_REQUEST,
            description = "An unknown area, an actor that is not a user id, `limit` or `offset` \
                out of range or not a number, or another parameter (`bad_request`)",
            body = ErrorBody,
        ),
        (status = FORBIDDEN, description = says::NOT_ADMIN, body = ErrorBody),
        (status = NOT_FOUND, description = says::NO_ORG, body = ErrorBody),
    ),
)]
async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath(org_id): AppPath<String>,
    AppQuery(query): AppQuery<AuditQuery>,
) -> Result<AppJson<Paged<EventResponse>>> {
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
        .list_audit_events(
            access.org.id,
            &filter,
            PageRequest::new(query.limit.get(), query.offset),
        )
        .await?;
    Ok(AppJson(Paged::new(events, EventResponse::from)))
}
