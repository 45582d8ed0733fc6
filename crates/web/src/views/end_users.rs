//! Who used the hosted servers, in the dashboard: the organization's Users page, a server's end
//! users with its tracking-URL generator and latest sessions, a session's timeline, and the
//! support tickets. Members read; admins make and revoke tracking URLs (they are credentials).

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use mcplatform_core::hosting::{
    IdentitySource, McpRequestRecord, McpSession, RequestOutcome, TrackingLink, recorded_json,
};
use mcplatform_core::ids::EndUserId;
use mcplatform_core::mcp_server::{AuthMode, McpServer};
use mcplatform_core::org::Role;
use mcplatform_store::{EndUserActivity, PageRequest};
use serde::Deserialize;

use super::{
    Layout, OffsetQuery, PageForm, PageResult, PageSession, format_time, page_links, render,
};
use crate::access::{Actor, OrgAccess};
use crate::auth::CurrentSession;
use crate::{ApiError, AppState, tracking_links};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs/{org_id}/users", get(view_org_users))
        .route("/orgs/{org_id}/servers/{server_id}/users", get(view_server_users))
        .route("/orgs/{org_id}/servers/{server_id}/tracking-links", post(create_link_post))
        .route(
            "/orgs/{org_id}/servers/{server_id}/tracking-links/{tracking_id}/revoke",
            post(revoke_link_post),
        )
        .route("/orgs/{org_id}/servers/{server_id}/sessions/{session_id}", get(view_session))
}

/// End users shown on one page.
const USERS_PAGE: u32 = 50;
/// Latest sessions on a server's page.
const SESSIONS_SHOWN: u32 = 25;
/// Tracking links on a server's page (the newest).
const LINKS_SHOWN: u32 = 100;
/// Requests on one page of a timeline.
const TIMELINE_PAGE: u32 = 50;

fn source_label(source: IdentitySource) -> &'static str {
    match source {
        IdentitySource::Oauth => "signed in",
        IdentitySource::Tracking => "tracking URL",
        IdentitySource::Email => "gave an address",
        IdentitySource::None => "anonymous",
    }
}

fn seen(at: Option<time::OffsetDateTime>) -> String {
    at.map_or_else(|| "never".to_owned(), format_time)
}

struct UserRow {
    id: String,
    person: String,
    verified: bool,
    identified_by: String,
    first_seen: String,
    last_seen: String,
    sessions: i64,
    tool_calls: i64,
    tickets: i64,
}

impl From<&EndUserActivity> for UserRow {
    fn from(activity: &EndUserActivity) -> Self {
        let sources: Vec<&str> = activity.identified_by().into_iter().map(source_label).collect();
        Self {
            id: activity.end_user.id.to_string(),
            person: activity.end_user.display_name(),
            verified: activity.end_user.email_verified_at.is_some(),
            identified_by: if sources.is_empty() {
                "named by your organization".to_owned()
            } else {
                sources.join(", ")
            },
            first_seen: seen(activity.first_seen_at),
            last_seen: seen(activity.last_seen_at),
            sessions: activity.sessions,
            tool_calls: activity.tool_calls,
            tickets: activity.tickets,
        }
    }
}

#[derive(Template)]
#[template(path = "end_users/org.html")]
struct OrgUsersView {
    layout: Layout,
    /// Where nobody has been yet, and the pages' address (for the shared table).
    empty_where: &'static str,
    pager_base: String,
    users: Vec<UserRow>,
    previous_offset: Option<u32>,
    next_offset: Option<u32>,
}

async fn view_org_users(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path(org_id): Path<String>,
    Query(query): Query<OffsetQuery>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let page = PageRequest::new(USERS_PAGE, query.offset);
    let users = state.store.list_end_user_activity(access.org.id, None, page).await?;
    let (previous_offset, next_offset) =
        page_links(query.offset, USERS_PAGE, users.next_offset.is_some());
    let view = OrgUsersView {
        layout: Layout::for_session("Users", &current).in_org(&access),
        empty_where: "your servers",
        pager_base: format!("/orgs/{}/users", access.org.id),
        users: users.items.iter().map(UserRow::from).collect(),
        previous_offset,
        next_offset,
    };
    Ok(render(StatusCode::OK, &view))
}

struct SessionRow {
    id: String,
    person: String,
    client: String,
    protocol_version: String,
    kind: &'static str,
    first_seen: String,
    last_seen: String,
    closed: bool,
}

struct LinkRow {
    tracking_id: String,
    label: String,
    person: String,
    url: String,
    created_at: String,
    last_used: String,
    revoked: bool,
}

/// A link just made, shown at the top of the page.
struct NewLink {
    label: String,
    url: String,
    path_url: String,
}

#[derive(Default)]
struct LinkForm {
    label: String,
    email: String,
    error: Option<(&'static str, String)>,
}

#[derive(Template)]
#[template(path = "end_users/server.html")]
struct ServerUsersView {
    layout: Layout,
    org_id: String,
    server_id: String,
    server_name: String,
    empty_where: &'static str,
    pager_base: String,
    /// Tracking links only mean something on a `tracking_id` server, but work on any.
    tracking_mode: bool,
    can_edit: bool,
    users: Vec<UserRow>,
    previous_offset: Option<u32>,
    next_offset: Option<u32>,
    sessions: Vec<SessionRow>,
    links: Vec<LinkRow>,
    new_link: Option<NewLink>,
    form: LinkForm,
}

fn client_label(session: &McpSession) -> String {
    match (&session.client_name, &session.client_version) {
        (Some(name), Some(version)) => format!("{name} {version}"),
        (Some(name), None) => name.clone(),
        (None, _) => "unknown client".to_owned(),
    }
}

/// Display names of end users, in one query.
pub(super) async fn people(
    state: &AppState,
    access: &OrgAccess,
    mut ids: Vec<EndUserId>,
) -> Result<HashMap<EndUserId, String>, ApiError> {
    ids.sort_unstable();
    ids.dedup();
    let found = state.store.get_end_users(access.org.id, &ids).await?;
    Ok(found.into_iter().map(|user| (user.id, user.display_name())).collect())
}

pub(super) fn person(names: &HashMap<EndUserId, String>, id: Option<EndUserId>) -> String {
    match id {
        Some(id) => names.get(&id).cloned().unwrap_or_else(|| "a removed end user".to_owned()),
        None => "anonymous".to_owned(),
    }
}

async fn server_users_view(
    state: &AppState,
    current: &CurrentSession,
    access: &OrgAccess,
    server: &McpServer,
    offset: u32,
    new_link: Option<NewLink>,
    form: LinkForm,
) -> Result<ServerUsersView, ApiError> {
    let page = PageRequest::new(USERS_PAGE, offset);
    let users = state.store.list_end_user_activity(access.org.id, Some(server.id), page).await?;
    let (previous_offset, next_offset) =
        page_links(offset, USERS_PAGE, users.next_offset.is_some());
    let sessions = state
        .store
        .list_mcp_sessions(access.org.id, server.id, None, PageRequest::new(SESSIONS_SHOWN, 0))
        .await?;
    let can_edit = access.role.at_least(Role::Admin);
    // A link is a credential: only admins see them.
    let links: Vec<TrackingLink> = if can_edit {
        state
            .store
            .list_tracking_links(access.org.id, server.id, PageRequest::new(LINKS_SHOWN, 0))
            .await?
            .items
    } else {
        Vec::new()
    };
    let ids = sessions
        .items
        .iter()
        .filter_map(|s| s.end_user_id)
        .chain(links.iter().map(|l| l.end_user_id))
        .collect();
    let names = people(state, access, ids).await?;
    let session_rows = sessions
        .items
        .iter()
        .map(|session| SessionRow {
            id: session.id.clone(),
            person: person(&names, session.end_user_id),
            client: client_label(session),
            protocol_version: session.protocol_version.clone(),
            kind: match session.kind {
                mcplatform_core::hosting::SessionKind::Stateful => "session",
                mcplatform_core::hosting::SessionKind::Derived => "stateless requests",
            },
            first_seen: format_time(session.first_seen_at),
            last_seen: format_time(session.last_seen_at),
            closed: session.closed_at.is_some(),
        })
        .collect();
    let link_rows = links
        .iter()
        .map(|link| LinkRow {
            tracking_id: link.tracking_id.to_string(),
            label: link.label.clone().unwrap_or_default(),
            person: person(&names, Some(link.end_user_id)),
            url: tracking_links::urls(state, server, link).0,
            created_at: format_time(link.created_at),
            last_used: seen(link.last_used_at),
            revoked: link.revoked_at.is_some(),
        })
        .collect();
    Ok(ServerUsersView {
        layout: Layout::for_session(&format!("Users · {}", server.settings.name), current)
            .in_org(access),
        org_id: access.org.id.to_string(),
        server_id: server.id.to_string(),
        server_name: server.settings.name.clone(),
        empty_where: "this server",
        pager_base: format!("/orgs/{}/servers/{}/users", access.org.id, server.id),
        tracking_mode: server.settings.auth_mode == AuthMode::TrackingId,
        can_edit,
        users: users.items.iter().map(UserRow::from).collect(),
        previous_offset,
        next_offset,
        sessions: session_rows,
        links: link_rows,
        new_link,
        form,
    })
}

async fn view_server_users(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, server_id)): Path<(String, String)>,
    Query(query): Query<OffsetQuery>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    let view = server_users_view(
        &state,
        &current,
        &access,
        &server,
        query.offset,
        None,
        LinkForm::default(),
    )
    .await?;
    Ok(no_store(render(StatusCode::OK, &view)))
}

#[derive(Debug, Deserialize)]
struct CreateLinkForm {
    #[serde(default)]
    label: String,
    #[serde(default)]
    email: String,
}

async fn create_link_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, server_id)): Path<(String, String)>,
    PageForm(input): PageForm<CreateLinkForm>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    let actor = Actor::from(&current);
    let made = tracking_links::create(
        &state,
        &access,
        &actor,
        &server,
        Some(&input.label),
        Some(&input.email),
    )
    .await;
    let (status, new_link, form) = match made {
        Ok(link) => {
            let (url, path_url) = tracking_links::urls(&state, &server, &link);
            let label = link.label.clone().unwrap_or_else(|| input.email.trim().to_owned());
            (StatusCode::CREATED, Some(NewLink { label, url, path_url }), LinkForm::default())
        }
        Err(ApiError::Validation(err)) => {
            let form = LinkForm {
                label: input.label,
                email: input.email,
                error: Some((err.field, err.message)),
            };
            (StatusCode::UNPROCESSABLE_ENTITY, None, form)
        }
        Err(err) => return Err(err.into()),
    };
    let view = server_users_view(&state, &current, &access, &server, 0, new_link, form).await?;
    Ok(no_store(render(status, &view)))
}

async fn revoke_link_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, server_id, tracking_id)): Path<(String, String, String)>,
    PageForm(_): PageForm<serde::de::IgnoredAny>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    tracking_links::revoke(&state, &access, &Actor::from(&current), &server, &tracking_id).await?;
    Ok(Redirect::to(&format!("/orgs/{}/servers/{}/users", access.org.id, server.id))
        .into_response())
}

/// Pages with tracking URLs (credentials) are not kept by browsers or proxies.
fn no_store(mut page: axum::response::Response) -> axum::response::Response {
    page.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    page
}

struct RequestRow {
    at: String,
    /// Milliseconds since the session began.
    offset_ms: i64,
    method: String,
    tool: String,
    outcome: &'static str,
    failed: bool,
    duration_ms: String,
    arguments: String,
    result: String,
    error: String,
}

impl RequestRow {
    fn new(record: &McpRequestRecord, session: &McpSession) -> Self {
        let offset = record.started_at - session.first_seen_at;
        Self {
            at: format_time(record.started_at),
            offset_ms: i64::try_from(offset.whole_milliseconds()).unwrap_or(i64::MAX),
            method: record.method.clone(),
            tool: record.tool_name.clone().unwrap_or_default(),
            outcome: match record.outcome {
                RequestOutcome::Ok => "ok",
                RequestOutcome::ToolError => "tool error",
                RequestOutcome::ProtocolError => "protocol error",
            },
            failed: record.outcome != RequestOutcome::Ok,
            duration_ms: format!("{:.1}", record.duration_us as f64 / 1000.0),
            arguments: pretty(record.arguments.as_deref()),
            result: pretty(record.result.as_deref()),
            error: match (record.error_code, &record.error_message) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_string(),
                (None, Some(message)) => message.clone(),
                (None, None) => String::new(),
            },
        }
    }
}

/// Stored JSON, indented for reading; anything else as it is.
fn pretty(stored: Option<&str>) -> String {
    match stored.map(recorded_json) {
        None => String::new(),
        Some(serde_json::Value::String(text)) => text,
        Some(value) => serde_json::to_string_pretty(&value).unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "end_users/session.html")]
struct SessionView {
    layout: Layout,
    org_id: String,
    server_id: String,
    server_name: String,
    session_id: String,
    person: String,
    identity: &'static str,
    client: String,
    protocol_version: String,
    ip: String,
    user_agent: String,
    first_seen: String,
    last_seen: String,
    closed: Option<String>,
    requests: Vec<RequestRow>,
    previous_offset: Option<u32>,
    next_offset: Option<u32>,
}

async fn view_session(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, server_id, session_id)): Path<(String, String, String)>,
    Query(query): Query<OffsetQuery>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    let session = access.mcp_session(&state, server.id, &session_id).await?;
    let page = PageRequest::new(TIMELINE_PAGE, query.offset);
    let requests = state.store.list_session_requests(access.org.id, &session.id, page).await?;
    let (previous_offset, next_offset) =
        page_links(query.offset, TIMELINE_PAGE, requests.next_offset.is_some());
    let names = people(&state, &access, session.end_user_id.into_iter().collect()).await?;
    let view = SessionView {
        layout: Layout::for_session(&format!("Session · {}", server.settings.name), &current)
            .in_org(&access),
        org_id: access.org.id.to_string(),
        server_id: server.id.to_string(),
        server_name: server.settings.name.clone(),
        session_id: session.id.clone(),
        person: person(&names, session.end_user_id),
        identity: source_label(session.identity_source),
        client: client_label(&session),
        protocol_version: session.protocol_version.clone(),
        ip: session.ip.clone().unwrap_or_default(),
        user_agent: session.user_agent.clone().unwrap_or_default(),
        first_seen: format_time(session.first_seen_at),
        last_seen: format_time(session.last_seen_at),
        closed: session.closed_at.map(format_time),
        requests: requests.items.iter().map(|r| RequestRow::new(r, &session)).collect(),
        previous_offset,
        next_offset,
    };
    Ok(render(StatusCode::OK, &view))
}
