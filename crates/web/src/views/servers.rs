//! MCP servers in the dashboard: create (with a live slug check), view with install snippets,
//! edit, delete.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use mcplatform_core::mcp_server::{AuthMode, McpServer, Slug};
use mcplatform_core::org::Role;
use serde::Deserialize;

use super::{Layout, PageForm, PageResult, PageSession, render};
use crate::access::{Actor, OrgAccess};
use crate::auth::CurrentSession;
use crate::servers::{
    self, FieldErrors, InstallSnippets, ServerUrls, SettingsInput, SlugStatus, slug_status,
};
use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs/{org_id}/servers/new", get(view_new_get).post(view_new_post))
        .route("/orgs/{org_id}/servers/slug-check", get(slug_check_partial))
        .route("/orgs/{org_id}/servers/{server_id}", get(view_server_get).post(view_server_post))
        .route("/orgs/{org_id}/servers/{server_id}/delete", post(view_delete_post))
}

/// The choices of the identification select, in the order shown.
const AUTH_MODES: &[(&str, &str)] = &[
    ("platform_oauth", "OAuth login: email code or password, by MCPlatform"),
    ("custom_oauth", "OAuth login through your identity provider"),
    ("collect_email", "Ask for an email address"),
    ("tracking_id", "Personal tracking URL"),
    ("none", "Anonymous"),
];

/// The settings form as posted. Checkboxes are absent when unticked.
#[derive(Debug, Deserialize)]
struct SettingsForm {
    #[serde(default)]
    slug: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    product_name: String,
    #[serde(default)]
    auth_mode: String,
    #[serde(default)]
    identity_provider_id: String,
    support_tool_enabled: Option<String>,
    walkthrough_tool_enabled: Option<String>,
    telemetry_enabled: Option<String>,
    enabled: Option<String>,
    #[serde(default)]
    access_token_ttl_minutes: String,
    #[serde(default)]
    refresh_token_ttl_days: String,
}

impl SettingsForm {
    fn input(&self, errors: &mut FieldErrors) -> SettingsInput {
        let mut number = |field: &'static str, raw: &str| {
            raw.trim().parse::<i64>().unwrap_or_else(|_| {
                errors.insert(field, "must be a whole number".into());
                0
            })
        };
        SettingsInput {
            name: self.name.clone(),
            description: self.description.clone(),
            product_name: self.product_name.clone(),
            auth_mode: self.auth_mode.clone(),
            identity_provider_id: self.identity_provider_id.clone(),
            support_tool_enabled: self.support_tool_enabled.is_some(),
            walkthrough_tool_enabled: self.walkthrough_tool_enabled.is_some(),
            telemetry_enabled: self.telemetry_enabled.is_some(),
            enabled: self.enabled.is_some(),
            access_token_ttl_minutes: number(
                "access_token_ttl_minutes",
                &self.access_token_ttl_minutes,
            ),
            refresh_token_ttl_days: number("refresh_token_ttl_days", &self.refresh_token_ttl_days),
        }
    }
}

#[derive(Template)]
#[template(path = "servers/new.html")]
struct NewServerView {
    layout: Layout,
    org_id: String,
    base_host: String,
    slug: String,
    slug_error: Option<String>,
    input: SettingsInput,
    errors: FieldErrors,
    auth_modes: &'static [(&'static str, &'static str)],
    /// `(id, name)` of the organization's identity providers, for `custom_oauth`.
    providers: Vec<(String, String)>,
}

/// The organization's identity providers a server can sign its users in with.
async fn provider_choices(
    state: &AppState,
    access: &OrgAccess,
) -> Result<Vec<(String, String)>, ApiError> {
    let providers = state.store.list_identity_providers(access.org.id).await?;
    Ok(providers.into_iter().map(|p| (p.id.to_string(), p.settings.name)).collect())
}

impl NewServerView {
    fn new(
        state: &AppState,
        current: &CurrentSession,
        access: &OrgAccess,
        providers: Vec<(String, String)>,
    ) -> Self {
        Self {
            layout: org_layout("New MCP server", current, access),
            org_id: access.org.id.to_string(),
            base_host: state.config.base_url.host_str().unwrap_or("localhost").to_owned(),
            slug: String::new(),
            slug_error: None,
            input: SettingsInput::default(),
            errors: FieldErrors::new(),
            auth_modes: AUTH_MODES,
            providers,
        }
    }
}

fn org_layout(title: &str, current: &CurrentSession, access: &OrgAccess) -> Layout {
    Layout::for_session(title, current).in_org(access)
}

async fn view_new_get(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path(org_id): Path<String>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    access.require(Role::Admin)?;
    let providers = provider_choices(&state, &access).await?;
    Ok(render(StatusCode::OK, &NewServerView::new(&state, &current, &access, providers)))
}

async fn view_new_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path(org_id): Path<String>,
    PageForm(form): PageForm<SettingsForm>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    access.require(Role::Admin)?;
    let mut errors = FieldErrors::new();
    let input = form.input(&mut errors);
    let slug = Slug::parse(&form.slug);
    let settings = input.validate();
    let providers = provider_choices(&state, &access).await?;
    let mut view = NewServerView::new(&state, &current, &access, providers);
    view.slug = form.slug.clone();
    view.input = input;
    match (slug, settings) {
        (Ok(slug), Ok(settings)) if errors.is_empty() => {
            match servers::create(&state, &access, &Actor::from(&current), &slug, &settings).await {
                Ok(server) => {
                    return Ok(Redirect::to(&format!(
                        "/orgs/{}/servers/{}",
                        access.org.id, server.id
                    ))
                    .into_response());
                }
                Err(ApiError::Conflict("slug")) => {
                    view.slug_error = Some(format!("{slug} is already taken: choose another"))
                }
                Err(ApiError::Validation(e)) => {
                    errors.insert(e.field, e.message);
                }
                Err(err) => return Err(err.into()),
            }
        }
        (slug, settings) => {
            view.slug_error = slug.err().map(|e| e.message);
            if let Err(field_errors) = settings {
                errors.extend(field_errors);
            }
        }
    }
    view.errors = errors;
    Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &view))
}

#[derive(Template)]
#[template(path = "servers/slug_status_partial.html")]
struct SlugStatusPartial {
    slug: String,
    status: SlugStatus,
}

#[derive(Debug, Deserialize)]
struct SlugQuery {
    #[serde(default)]
    slug: String,
}

/// The live availability check behind the slug field (htmx).
async fn slug_check_partial(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path(org_id): Path<String>,
    Query(query): Query<SlugQuery>,
) -> PageResult {
    OrgAccess::load(&state, current.user.id, &org_id).await?;
    let status = slug_status(&state, &query.slug).await?;
    Ok(render(StatusCode::OK, &SlugStatusPartial { slug: query.slug.trim().to_owned(), status }))
}

#[derive(Template)]
#[template(path = "servers/show.html")]
struct ServerView {
    layout: Layout,
    org_id: String,
    server_id: String,
    name: String,
    slug: String,
    urls: ServerUrls,
    snippets: InstallSnippets,
    can_edit: bool,
    input: SettingsInput,
    errors: FieldErrors,
    delete_error: Option<String>,
    auth_modes: &'static [(&'static str, &'static str)],
    providers: Vec<(String, String)>,
}

impl ServerView {
    fn new(
        state: &AppState,
        current: &CurrentSession,
        access: &OrgAccess,
        server: &McpServer,
        providers: Vec<(String, String)>,
    ) -> Self {
        let urls = ServerUrls::new(&state.config.base_url, &server.slug);
        let snippets = InstallSnippets::new(&server.slug, &urls.mcp_url);
        Self {
            layout: org_layout(&server.settings.name, current, access),
            org_id: access.org.id.to_string(),
            server_id: server.id.to_string(),
            name: server.settings.name.clone(),
            slug: server.slug.to_string(),
            urls,
            snippets,
            can_edit: access.role.at_least(Role::Admin),
            input: SettingsInput::from_settings(&server.settings),
            errors: FieldErrors::new(),
            delete_error: None,
            auth_modes: AUTH_MODES,
            providers,
        }
    }
}

async fn view_server_get(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, server_id)): Path<(String, String)>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    let providers = provider_choices(&state, &access).await?;
    Ok(render(StatusCode::OK, &ServerView::new(&state, &current, &access, &server, providers)))
}

async fn view_server_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, server_id)): Path<(String, String)>,
    PageForm(form): PageForm<SettingsForm>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    access.require(Role::Admin)?;
    let mut errors = FieldErrors::new();
    let input = form.input(&mut errors);
    let providers = provider_choices(&state, &access).await?;
    match input.validate_over(Some(&server.settings)) {
        Ok(settings) if errors.is_empty() => {
            let actor = Actor::from(&current);
            match servers::update(&state, &access, &actor, &server, &settings).await {
                Ok(updated) => {
                    let mut view = ServerView::new(&state, &current, &access, &updated, providers);
                    view.layout = view.layout.with_notice(Some("Settings saved.".into()));
                    return Ok(render(StatusCode::OK, &view));
                }
                Err(ApiError::Validation(e)) => {
                    errors.insert(e.field, e.message);
                }
                Err(err) => return Err(err.into()),
            }
        }
        Ok(_) => {}
        Err(field_errors) => errors.extend(field_errors),
    }
    let mut view = ServerView::new(&state, &current, &access, &server, providers);
    view.input = input;
    view.errors = errors;
    Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &view))
}

#[derive(Debug, Deserialize)]
struct DeleteForm {
    #[serde(default)]
    confirm: String,
}

async fn view_delete_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, server_id)): Path<(String, String)>,
    PageForm(form): PageForm<DeleteForm>,
) -> PageResult<Response> {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    access.require(Role::Admin)?;
    if form.confirm.trim() != server.slug.as_str() {
        let providers = provider_choices(&state, &access).await?;
        let mut view = ServerView::new(&state, &current, &access, &server, providers);
        view.delete_error = Some("type the server's slug exactly to confirm".into());
        return Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &view));
    }
    servers::delete(&state, &access, &Actor::from(&current), &server).await?;
    Ok(Redirect::to(&format!("/orgs/{}", access.org.id)).into_response())
}

// The identification modes shown must cover every mode the domain knows.
const _: () = assert!(AUTH_MODES.len() == AuthMode::ALL.len());
