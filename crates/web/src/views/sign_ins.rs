//! A server's sign-ins in the dashboard: who allowed which application what (and revoking it),
//! and the applications registered with it (and revoking them). Members see; admins revoke.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use mcplatform_core::ids::EndUserId;
use mcplatform_core::mcp_server::McpServer;
use mcplatform_core::oauth::client::{OAuthClient, RegistrationKind};
use mcplatform_core::oauth::client_document::document_host;
use mcplatform_core::org::Role;
use mcplatform_store::{GrantSummary, PageRequest};
use serde::Deserialize;

use super::{
    Layout, OffsetQuery, PageForm, PageResult, PageSession, format_time, page_links, render,
};
use crate::access::{Actor, OrgAccess, path_id};
use crate::oauth_clients;
use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs/{org_id}/servers/{server_id}/sign-ins", get(view_sign_ins))
        .route("/orgs/{org_id}/servers/{server_id}/grants/revoke", post(revoke_grant_post))
        .route(
            "/orgs/{org_id}/servers/{server_id}/oauth-clients/{client_id}/revoke",
            post(revoke_client_post),
        )
}

struct GrantRow {
    end_user_id: String,
    person: String,
    verified: bool,
    client_id: String,
    client: String,
    scopes: String,
    since: String,
    last_used: String,
    active_sessions: i64,
}

struct ClientRow {
    client_id: String,
    name: String,
    kind: &'static str,
    confidentiality: &'static str,
    redirect_hosts: String,
    created_at: String,
    revoked: bool,
}

#[derive(Template)]
#[template(path = "servers/sign_ins.html")]
struct SignInsView {
    layout: Layout,
    org_id: String,
    server_id: String,
    server_name: String,
    can_edit: bool,
    grants: Vec<GrantRow>,
    clients: Vec<ClientRow>,
    more_clients: bool,
    previous_offset: Option<u32>,
    next_offset: Option<u32>,
}

/// People shown on one page.
const GRANTS_PAGE: u32 = 50;
/// Registered applications shown (the newest).
const CLIENTS_SHOWN: u32 = 100;

fn client_row(client: &OAuthClient) -> ClientRow {
    ClientRow {
        client_id: client.client_id.clone(),
        name: client.metadata.display_name(),
        kind: match client.kind {
            RegistrationKind::Dynamic => "self-registered",
            RegistrationKind::Preregistered => "created by your organization",
            RegistrationKind::MetadataDocument => "metadata document",
        },
        confidentiality: if client.metadata.token_endpoint_auth_method.is_confidential() {
            "confidential (has a secret)"
        } else {
            "public (PKCE only)"
        },
        redirect_hosts: client.metadata.redirect_hosts().join(", "),
        created_at: format_time(client.created_at),
        revoked: client.revoked_at.is_some(),
    }
}

/// The application a grant is for, as a person recognises it.
fn client_label(grant: &GrantSummary, clients: &[OAuthClient]) -> String {
    if let Some(client) = clients.iter().find(|c| c.client_id == grant.client_id) {
        return client.metadata.display_name();
    }
    if let Some(host) = document_host(&grant.client_id) {
        return format!("{host} (metadata document)");
    }
    grant.client_id.clone()
}

async fn sign_ins_view(
    state: &AppState,
    current: &crate::auth::CurrentSession,
    access: &OrgAccess,
    server: &McpServer,
    offset: u32,
) -> Result<SignInsView, ApiError> {
    let now = state.clock.now();
    let page = PageRequest::new(GRANTS_PAGE, offset);
    let grants = state.store.list_grants(server.id, None, now, page).await?;
    let (previous_offset, next_offset) =
        page_links(offset, GRANTS_PAGE, grants.next_offset.is_some());
    let clients = state
        .store
        .list_oauth_clients(access.org.id, server.id, PageRequest::new(CLIENTS_SHOWN, 0))
        .await?;
    let grant_rows = grants
        .items
        .iter()
        .map(|grant| GrantRow {
            end_user_id: grant.end_user.id.to_string(),
            person: grant.end_user.display_name(),
            verified: grant.end_user.email_verified_at.is_some(),
            client_id: grant.client_id.clone(),
            client: client_label(grant, &clients.items),
            scopes: grant.scopes.to_string(),
            since: format_time(grant.created_at),
            last_used: grant.last_used_at.map_or_else(|| "never".to_owned(), format_time),
            active_sessions: grant.active_sessions,
        })
        .collect();
    Ok(SignInsView {
        layout: Layout::for_session(&format!("Sign-ins · {}", server.settings.name), current)
            .in_org(access),
        org_id: access.org.id.to_string(),
        server_id: server.id.to_string(),
        server_name: server.settings.name.clone(),
        can_edit: access.role.at_least(Role::Admin),
        grants: grant_rows,
        clients: clients.items.iter().map(client_row).collect(),
        more_clients: clients.next_offset.is_some(),
        previous_offset,
        next_offset,
    })
}

async fn view_sign_ins(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, server_id)): Path<(String, String)>,
    Query(query): Query<OffsetQuery>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    let view = sign_ins_view(&state, &current, &access, &server, query.offset).await?;
    Ok(render(StatusCode::OK, &view))
}

fn sign_ins_path(access: &OrgAccess, server: &McpServer) -> String {
    format!("/orgs/{}/servers/{}/sign-ins", access.org.id, server.id)
}

#[derive(Debug, Deserialize)]
struct RevokeGrantForm {
    end_user_id: String,
    client_id: String,
}

async fn revoke_grant_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, server_id)): Path<(String, String)>,
    PageForm(form): PageForm<RevokeGrantForm>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    let end_user: EndUserId = path_id(&form.end_user_id)?;
    let actor = Actor::from(&current);
    oauth_clients::revoke_grant(&state, &access, &actor, &server, end_user, &form.client_id)
        .await?;
    Ok(Redirect::to(&sign_ins_path(&access, &server)).into_response())
}

async fn revoke_client_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, server_id, client_id)): Path<(String, String, String)>,
    PageForm(_): PageForm<serde::de::IgnoredAny>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    // Before the lookup: whether a client exists is for admins to learn.
    access.require(Role::Admin)?;
    let client =
        state.store.find_oauth_client(server.id, &client_id).await?.ok_or(ApiError::NotFound)?;
    oauth_clients::revoke(&state, &access, &Actor::from(&current), &server, &client).await?;
    Ok(Redirect::to(&sign_ins_path(&access, &server)).into_response())
}
