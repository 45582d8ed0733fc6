//! A server's support settings in the dashboard: the ticket categories the `get_support` tool
//! offers, the auto-resolve delay, the webhook (its secret shown once, its delivery status, a
//! test message) and whether the viewer hears of every new ticket. Admins change them.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use mcplatform_core::mcp_server::McpServer;
use mcplatform_core::org::Role;
use mcplatform_core::support::SupportSettings;
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::{Layout, PageForm, PageResult, PageSession, format_time, render};
use crate::access::{Actor, OrgAccess};
use crate::auth::CurrentSession;
use crate::{ApiError, AppState, tickets};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs/{org_id}/servers/{server_id}/support", get(settings_get).post(settings_post))
        .route("/orgs/{org_id}/servers/{server_id}/support/webhook-test", post(test_post))
        .route("/orgs/{org_id}/servers/{server_id}/support/watching", post(watching_post))
}

/// The form as shown: what is saved, or what was typed when it was refused.
#[derive(Debug, Default, Deserialize)]
struct SettingsForm {
    /// One category a line.
    #[serde(default)]
    categories: String,
    #[serde(default)]
    auto_resolve_hours: String,
    #[serde(default)]
    webhook_url: String,
    #[serde(default)]
    rotate_webhook_secret: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WatchingForm {
    /// `1` to hear of every new ticket, `0` to stop.
    watching: String,
}

#[derive(Template)]
#[template(path = "servers/support.html")]
struct SupportView {
    layout: Layout,
    org_id: String,
    server_id: String,
    server_name: String,
    can_edit: bool,
    categories: String,
    auto_resolve_hours: String,
    webhook_url: String,
    watching: bool,
    /// A new webhook secret, shown this once.
    new_secret: Option<String>,
    error: Option<String>,
    pending: i64,
    failed: i64,
    last_success: Option<String>,
    last_error: Option<String>,
}

async fn view(
    state: &AppState,
    current: &CurrentSession,
    access: &OrgAccess,
    server: &McpServer,
) -> Result<SupportView, ApiError> {
    let settings = state.store.get_support_settings(access.org.id, server.id).await?.settings;
    let status = state.store.webhook_status(access.org.id, server.id).await?;
    let watchers = state.store.server_watchers(access.org.id, server.id).await?;
    Ok(SupportView {
        layout: Layout::for_session("Support settings", current).in_org(access),
        org_id: access.org.id.to_string(),
        server_id: server.id.to_string(),
        server_name: server.settings.name.clone(),
        can_edit: access.role.at_least(Role::Admin),
        categories: settings.categories.join("\n"),
        auto_resolve_hours: settings.auto_resolve_hours().to_string(),
        webhook_url: settings.webhook_url.map(|u| u.to_string()).unwrap_or_default(),
        watching: watchers.contains(&current.user.id),
        new_secret: None,
        error: None,
        pending: status.pending,
        failed: status.failed,
        last_success: status.last_success_at.map(format_time),
        last_error: status.last_error,
    })
}

async fn settings_get(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, server_id)): Path<(String, String)>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    Ok(render(StatusCode::OK, &view(&state, &current, &access, &server).await?))
}

async fn settings_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, server_id)): Path<(String, String)>,
    PageForm(form): PageForm<SettingsForm>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    access.require(Role::Admin)?;
    let server = access.server(&state, &server_id).await?;
    let categories: Vec<String> = form
        .categories
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect();
    let saved = match form.auto_resolve_hours.trim().parse::<u64>() {
        Ok(hours) => {
            let url = Some(form.webhook_url.trim()).filter(|url| !url.is_empty());
            match SupportSettings::new(&categories, hours, url) {
                Ok(settings) => {
                    tickets::save_settings(
                        &state,
                        &access,
                        &Actor::from(&current),
                        &server,
                        settings,
                        form.rotate_webhook_secret.is_some(),
                    )
                    .await
                }
                Err(err) => Err(err.into()),
            }
        }
        Err(_) => Err(mcplatform_core::ValidationError::new(
            "auto_resolve_hours",
            "must be a whole number of hours (0 turns it off)",
        )
        .into()),
    };
    match saved {
        Ok(secret) => {
            let mut page = view(&state, &current, &access, &server).await?;
            page.new_secret = secret.map(|s| s.expose_secret().to_owned());
            page.layout = page.layout.with_notice(Some("Support settings saved.".into()));
            Ok(render(StatusCode::OK, &page))
        }
        Err(ApiError::Validation(err)) => {
            let mut page = view(&state, &current, &access, &server).await?;
            page.categories = form.categories;
            page.auto_resolve_hours = form.auto_resolve_hours;
            page.webhook_url = form.webhook_url;
            page.error = Some(err.to_string());
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(err) => Err(err.into()),
    }
}

/// Any member chooses whether they hear of every new ticket of the server.
async fn watching_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, server_id)): Path<(String, String)>,
    PageForm(form): PageForm<WatchingForm>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    let watching = form.watching == "1";
    state.store.set_server_watcher(access.org.id, server.id, current.user.id, watching).await?;
    let mut page = view(&state, &current, &access, &server).await?;
    let notice = if watching {
        "You will get an email about every new ticket of this server."
    } else {
        "You no longer get an email about every new ticket of this server."
    };
    page.layout = page.layout.with_notice(Some(notice.into()));
    Ok(render(StatusCode::OK, &page))
}

async fn test_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, server_id)): Path<(String, String)>,
    PageForm(_): PageForm<serde::de::IgnoredAny>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    access.require(Role::Admin)?;
    let server = access.server(&state, &server_id).await?;
    let outcome = tickets::send_test(&state, &access, &server).await;
    let mut page = view(&state, &current, &access, &server).await?;
    match outcome {
        Ok(()) => {
            page.layout = page.layout.with_notice(Some(
                "A test message is on its way; its delivery shows below in a few seconds.".into(),
            ));
            Ok(render(StatusCode::OK, &page))
        }
        Err(ApiError::Validation(err)) => {
            page.error = Some(err.to_string());
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(err) => Err(err.into()),
    }
}
