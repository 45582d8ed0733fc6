//! The organization's audit log, for admins: filter by area and by person, newest first.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use mcplatform_core::audit::AREAS;
use mcplatform_core::org::Role;
use mcplatform_store::{AuditFilter, PageRequest};
use serde::Deserialize;

use super::{Layout, PageResult, PageSession, format_time, page_links, render};
use crate::AppState;
use crate::access::OrgAccess;

pub fn router() -> Router<AppState> {
    Router::new().route("/orgs/{org_id}/audit", get(view_audit_get))
}

const PAGE: u32 = 50;

pub(crate) struct EventRow {
    when: String,
    actor: String,
    action: String,
    target: String,
    detail: String,
    ip: String,
}

#[derive(Template)]
#[template(path = "orgs/audit.html")]
struct AuditView {
    layout: Layout,
    org_id: String,
    events: Vec<EventRow>,
    areas: &'static [&'static str],
    area: String,
    /// `(user id, label)` of the organization's members.
    actors: Vec<(String, String)>,
    actor: String,
    previous_offset: Option<u32>,
    next_offset: Option<u32>,
}

#[derive(Debug, Deserialize)]
struct AuditQuery {
    #[serde(default)]
    area: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    offset: u32,
}

async fn view_audit_get(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path(org_id): Path<String>,
    Query(query): Query<AuditQuery>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    access.require(Role::Admin)?;
    let filter = AuditFilter {
        area: AREAS.contains(&query.area.as_str()).then(|| query.area.clone()),
        actor: query.actor.parse().ok(),
    };
    let events = state
        .store
        .list_audit_events(access.org.id, &filter, PageRequest::new(PAGE, query.offset))
        .await?;
    let has_more = events.next_offset.is_some();
    let events = events.items;
    let actors = state
        .store
        .list_members(access.org.id, PageRequest::ALL)
        .await?
        .items
        .into_iter()
        .map(|m| {
            (m.user.id.to_string(), format!("{} ({})", m.user.display_name.as_str(), m.user.email))
        })
        .collect();
    let (newer, older) = page_links(query.offset, PAGE, has_more);
    let view = AuditView {
        layout: Layout::for_session("Audit log", &current).in_org(&access),
        org_id: access.org.id.to_string(),
        events: events
            .into_iter()
            .map(|e| EventRow {
                when: format_time(e.created_at),
                actor: e.actor_label,
                action: e.action,
                target: e.target,
                detail: if e.detail == "{}" { String::new() } else { e.detail },
                ip: e.ip_address.unwrap_or_default(),
            })
            .collect(),
        areas: &AREAS,
        area: filter.area.unwrap_or_default(),
        actors,
        actor: filter.actor.map(|a| a.to_string()).unwrap_or_default(),
        previous_offset: newer,
        next_offset: older,
    };
    Ok(render(StatusCode::OK, &view))
}
