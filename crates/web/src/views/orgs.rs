//! Choosing, creating, viewing, renaming and deleting organizations.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use mcplatform_core::org::{OrgName, Role};
use mcplatform_store::PageRequest;
use serde::Deserialize;

use super::{Layout, OffsetQuery, PageForm, PageResult, PageSession, page_links, render};
use crate::access::{Actor, OrgAccess};
use crate::auth::CurrentSession;
use crate::{ApiError, AppState, organizations};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs", get(view_orgs_get))
        .route("/orgs/new", get(view_new_org_get).post(view_new_org_post))
        .route("/orgs/{org_id}", get(view_org_get))
        .route("/orgs/{org_id}/settings", get(view_settings_get).post(view_settings_post))
        .route("/orgs/{org_id}/settings/retention", post(view_retention_post))
        .route("/orgs/{org_id}/delete", post(view_delete_post))
}

struct OrgChoice {
    id: String,
    name: String,
    role: Role,
}

#[derive(Template)]
#[template(path = "orgs/list.html")]
struct OrgListView {
    layout: Layout,
    orgs: Vec<OrgChoice>,
}

async fn view_orgs_get(
    State(state): State<AppState>,
    PageSession(current): PageSession,
) -> PageResult {
    let orgs = state.store.list_organizations_for_user(current.user.id).await?;
    if orgs.is_empty() {
        return Ok(Redirect::to("/orgs/new").into_response());
    }
    let orgs = orgs
        .into_iter()
        .map(|(org, role)| OrgChoice {
            id: org.id.to_string(),
            name: org.name.as_str().to_owned(),
            role,
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &OrgListView { layout: Layout::for_session("Organizations", &current), orgs },
    ))
}

#[derive(Template)]
#[template(path = "orgs/new.html")]
struct NewOrgView {
    layout: Layout,
    first: bool,
    name: String,
    error: Option<String>,
}

async fn view_new_org_get(
    State(state): State<AppState>,
    PageSession(current): PageSession,
) -> PageResult {
    let first = state.store.list_organizations_for_user(current.user.id).await?.is_empty();
    let view = NewOrgView {
        layout: Layout::for_session("New organization", &current),
        first,
        name: String::new(),
        error: None,
    };
    Ok(render(StatusCode::OK, &view))
}

#[derive(Debug, Deserialize)]
struct OrgNameForm {
    name: String,
}

async fn view_new_org_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    PageForm(form): PageForm<OrgNameForm>,
) -> PageResult {
    let name = match OrgName::parse(&form.name) {
        Ok(name) => name,
        Err(err) => {
            let first = state.store.list_organizations_for_user(current.user.id).await?.is_empty();
            let view = NewOrgView {
                layout: Layout::for_session("New organization", &current),
                first,
                name: form.name,
                error: Some(err.message),
            };
            return Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &view));
        }
    };
    let org = organizations::create(&state, current.user.id, &Actor::from(&current), name.as_str())
        .await?;
    state.store.set_session_organization(current.session.id, Some(org.id)).await?;
    Ok(Redirect::to(&format!("/orgs/{}", org.id)).into_response())
}

struct ServerRow {
    id: String,
    name: String,
    slug: String,
    auth_mode: &'static str,
}

#[derive(Template)]
#[template(path = "orgs/overview.html")]
struct OverviewView {
    layout: Layout,
    org_id: String,
    org_name: String,
    can_create: bool,
    servers: Vec<ServerRow>,
    previous_offset: Option<u32>,
    next_offset: Option<u32>,
    /// Tickets in each status that has any: (status, label, count).
    ticket_counts: Vec<(&'static str, &'static str, i64)>,
}

/// Servers shown on one page of the overview.
const SERVERS_PAGE: u32 = 50;

async fn view_org_get(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path(org_id): Path<String>,
    Query(query): Query<OffsetQuery>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    if current.session.active_organization_id != Some(access.org.id) {
        state.store.set_session_organization(current.session.id, Some(access.org.id)).await?;
    }
    let page = state
        .store
        .list_mcp_servers(access.org.id, PageRequest::new(SERVERS_PAGE, query.offset))
        .await?;
    let (previous_offset, next_offset) =
        page_links(query.offset, SERVERS_PAGE, page.next_offset.is_some());
    let servers = page
        .items
        .into_iter()
        .map(|s| ServerRow {
            id: s.id.to_string(),
            name: s.settings.name,
            slug: s.slug.to_string(),
            auth_mode: s.settings.auth_mode.as_str(),
        })
        .collect();
    let view = OverviewView {
        layout: Layout::for_session(access.org.name.as_str(), &current).in_org(&access),
        org_id: access.org.id.to_string(),
        org_name: access.org.name.as_str().to_owned(),
        can_create: access.role.at_least(Role::Admin),
        servers,
        previous_offset,
        next_offset,
        ticket_counts: state
            .store
            .count_support_tickets(access.org.id, None)
            .await?
            .into_iter()
            .map(|(status, n)| (status.as_str(), status.label(), n))
            .collect(),
    };
    Ok(render(StatusCode::OK, &view))
}

#[derive(Template)]
#[template(path = "orgs/settings.html")]
struct SettingsView {
    layout: Layout,
    org_id: String,
    name: String,
    can_rename: bool,
    can_delete: bool,
    name_error: Option<String>,
    delete_error: Option<String>,
    /// As shown in the field: what was typed, after a refused change.
    retention_days: String,
    retention_error: Option<String>,
}

impl SettingsView {
    fn new(current: &CurrentSession, access: &OrgAccess) -> Self {
        Self {
            layout: Layout::for_session("Organization settings", current).in_org(access),
            org_id: access.org.id.to_string(),
            name: access.org.name.as_str().to_owned(),
            can_rename: access.role.at_least(Role::Admin),
            can_delete: access.role.at_least(Role::Owner),
            name_error: None,
            delete_error: None,
            retention_days: access.org.retention.days().to_string(),
            retention_error: None,
        }
    }
}

async fn view_settings_get(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path(org_id): Path<String>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    Ok(render(StatusCode::OK, &SettingsView::new(&current, &access)))
}

async fn view_settings_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path(org_id): Path<String>,
    PageForm(form): PageForm<OrgNameForm>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    match organizations::rename(&state, &access, &Actor::from(&current), &form.name).await {
        Ok(org) => {
            let renamed = OrgAccess { org, role: access.role };
            let mut view = SettingsView::new(&current, &renamed);
            view.layout = view.layout.with_notice(Some("Organization renamed.".into()));
            Ok(render(StatusCode::OK, &view))
        }
        Err(ApiError::Validation(err)) => {
            let mut view = SettingsView::new(&current, &access);
            view.name = form.name;
            view.name_error = Some(err.message);
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &view))
        }
        Err(err) => Err(err.into()),
    }
}

#[derive(Debug, Deserialize)]
struct RetentionForm {
    days: String,
}

async fn view_retention_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path(org_id): Path<String>,
    PageForm(form): PageForm<RetentionForm>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let days = form.days.trim().parse::<i64>().unwrap_or(0);
    match organizations::set_retention(&state, &access, &Actor::from(&current), days).await {
        Ok(org) => {
            let changed = OrgAccess { org, role: access.role };
            let mut view = SettingsView::new(&current, &changed);
            view.layout = view.layout.with_notice(Some("Retention saved.".into()));
            Ok(render(StatusCode::OK, &view))
        }
        Err(ApiError::Validation(err)) => {
            let mut view = SettingsView::new(&current, &access);
            view.retention_days = form.days;
            view.retention_error = Some(err.message);
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &view))
        }
        Err(err) => Err(err.into()),
    }
}

#[derive(Debug, Deserialize)]
struct DeleteForm {
    confirm: String,
}

async fn view_delete_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path(org_id): Path<String>,
    PageForm(form): PageForm<DeleteForm>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    access.require(Role::Owner)?;
    if form.confirm.trim() != access.org.name.as_str() {
        let mut view = SettingsView::new(&current, &access);
        view.delete_error = Some("type the organization's exact name to confirm".into());
        return Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &view));
    }
    organizations::delete(&state, &access, &Actor::from(&current)).await?;
    Ok(Redirect::to("/orgs").into_response())
}
