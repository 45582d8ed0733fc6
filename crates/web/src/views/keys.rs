//! API keys in the dashboard: list, create (the secret shown once), revoke. Admins only.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mcplatform_core::org::Role;
use mcplatform_store::PageRequest;
use secrecy::ExposeSecret;

use super::{
    Layout, OffsetQuery, PageForm, PageResult, PageSession, format_time, page_links, render,
};
use crate::access::{Actor, OrgAccess, path_id};
use crate::api_keys;
use crate::auth::CurrentSession;
use crate::{ApiError, AppState};
use mcplatform_core::ids::ApiKeyId;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs/{org_id}/api-keys", get(view_keys_get).post(create_post))
        .route("/orgs/{org_id}/api-keys/{key_id}/revoke", post(revoke_post))
}

struct KeyRow {
    id: String,
    name: String,
    prefix: String,
    target: String,
    scopes: String,
    created_at: String,
    last_used_at: String,
    revoked: bool,
}

#[derive(Template)]
#[template(path = "keys/list.html")]
struct KeysView {
    layout: Layout,
    org_id: String,
    keys: Vec<KeyRow>,
    /// `(id, slug)` of the organization's servers.
    servers: Vec<(String, String)>,
    new_secret: Option<String>,
    name: String,
    error: Option<String>,
    previous_offset: Option<u32>,
    next_offset: Option<u32>,
}

/// Keys shown on one page.
const KEYS_PAGE: u32 = 50;

/// The API keys page showing the keys from `offset` on, newest first.
async fn keys_view(
    state: &AppState,
    current: &CurrentSession,
    access: &OrgAccess,
    offset: u32,
) -> Result<KeysView, ApiError> {
    access.require(Role::Admin)?;
    // Every server: the create form offers each, and a key names the server it is for.
    let servers = state.store.list_mcp_servers(access.org.id, PageRequest::ALL).await?.items;
    let page =
        state.store.list_api_keys(access.org.id, PageRequest::new(KEYS_PAGE, offset)).await?;
    let (previous_offset, next_offset) = page_links(offset, KEYS_PAGE, page.next_offset.is_some());
    let keys = page
        .items
        .into_iter()
        .map(|key| KeyRow {
            id: key.id.to_string(),
            name: key.name,
            prefix: key.visible_prefix,
            target: match key.mcp_server_id {
                Some(id) => servers.iter().find(|s| s.id == id).map_or_else(
                    || "an MCP server".to_owned(),
                    |s| format!("MCP server {}", s.slug),
                ),
                None => "the organization".to_owned(),
            },
            scopes: key.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
            created_at: format_time(key.created_at),
            last_used_at: key.last_used_at.map_or_else(|| "never".to_owned(), format_time),
            revoked: key.revoked_at.is_some(),
        })
        .collect();
    Ok(KeysView {
        layout: Layout::for_session("API keys", current).in_org(access),
        org_id: access.org.id.to_string(),
        keys,
        servers: servers.into_iter().map(|s| (s.id.to_string(), s.slug.to_string())).collect(),
        new_secret: None,
        name: String::new(),
        error: None,
        previous_offset,
        next_offset,
    })
}

/// A key created a moment ago travels from the POST to the page that shows it in a cookie
/// sealed with the master key and bound to this session and organization (post/redirect/get:
/// reloading the page neither creates a second key nor shows this one again).
const NEW_KEY_COOKIE: &str = "mcplatform_new_key";

fn new_key_context(current: &CurrentSession, access: &OrgAccess) -> String {
    format!("new-api-key:{}:{}", current.session.id, access.org.id)
}

fn new_key_cookie(path: String, value: String, https: bool) -> Cookie<'static> {
    Cookie::build((NEW_KEY_COOKIE, value))
        .http_only(true)
        .secure(https)
        .same_site(SameSite::Strict)
        .path(path)
        .max_age(time::Duration::minutes(2))
        .build()
}

async fn view_keys_get(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path(org_id): Path<String>,
    Query(query): Query<OffsetQuery>,
    jar: CookieJar,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let mut view = keys_view(&state, &current, &access, query.offset).await?;
    let path = format!("/orgs/{}/api-keys", access.org.id);
    let Some(cookie) = jar.get(NEW_KEY_COOKIE) else {
        return Ok(render(StatusCode::OK, &view));
    };
    view.new_secret = URL_SAFE_NO_PAD
        .decode(cookie.value())
        .ok()
        .and_then(|sealed| {
            state.master_key.open(&sealed, new_key_context(&current, &access).as_bytes()).ok()
        })
        .and_then(|secret| String::from_utf8(secret).ok());
    let mut removal = new_key_cookie(path, String::new(), state.config.is_https());
    removal.make_removal();
    Ok((jar.add(removal), render(StatusCode::OK, &view)).into_response())
}

/// The create form as pairs: scopes repeat (`scope=a&scope=b`).
async fn create_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path(org_id): Path<String>,
    jar: CookieJar,
    PageForm(fields): PageForm<Vec<(String, String)>>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    access.require(Role::Admin)?;
    let field = |name: &str| {
        fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or_default()
    };
    let scopes: Vec<String> =
        fields.iter().filter(|(k, _)| k == "scope").map(|(_, v)| v.clone()).collect();
    let target = Some(field("target")).filter(|t| !t.is_empty());
    let created =
        api_keys::create(&state, &access, &Actor::from(&current), field("name"), target, &scopes)
            .await;
    match created {
        Ok(created) => {
            let context = new_key_context(&current, &access);
            let sealed = state
                .master_key
                .seal(created.secret.expose_secret().as_bytes(), context.as_bytes());
            let path = format!("/orgs/{}/api-keys", access.org.id);
            let cookie = new_key_cookie(
                path.clone(),
                URL_SAFE_NO_PAD.encode(sealed),
                state.config.is_https(),
            );
            Ok((jar.add(cookie), Redirect::to(&path)).into_response())
        }
        Err(ApiError::Validation(err)) => {
            // Only now: on success the page is not shown, and a failure to build it must not
            // hide a key that exists.
            let mut view = keys_view(&state, &current, &access, 0).await?;
            view.name = field("name").to_owned();
            view.error = Some(format!("{}: {}", err.field.replace('_', " "), err.message));
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &view))
        }
        Err(err) => Err(err.into()),
    }
}

async fn revoke_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, key)): Path<(String, String)>,
    PageForm(_): PageForm<serde::de::IgnoredAny>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    api_keys::revoke(&state, &access, &Actor::from(&current), path_id::<ApiKeyId>(&key)?).await?;
    Ok(Redirect::to(&format!("/orgs/{}/api-keys", access.org.id)).into_response())
}
