//! The logged-in user's own account.

use askama::Template;
use axum::Router;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;

use mcplatform_store::PageRequest;

use super::{Layout, PageForm, PageResult, PageSession, format_time, render};
use mcplatform_core::audit::action;
use serde::Deserialize;
use serde_json::json;

use crate::access::Actor;
use crate::auth::session;
use crate::{AppState, accounts, audit};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account", get(view_account_get))
        .route("/account/logout-everywhere", post(logout_everywhere))
        .route("/account/identities/unlink", post(unlink_post))
}

/// An outside sign-in as the account page lists it.
struct IdentityRow {
    provider: String,
    /// The configured provider's name, or the raw namespace of one no longer configured.
    label: String,
    subject: String,
    email: String,
    last_login: String,
}

#[derive(Template)]
#[template(path = "auth/account.html")]
struct AccountView {
    layout: Layout,
    /// `(when, action, address)`, newest first.
    activity: Vec<(String, String, String)>,
    display_name: String,
    email: String,
    has_password: bool,
    identities: Vec<IdentityRow>,
    /// `(key, label)` of configured providers not linked yet.
    connectable: Vec<(&'static str, String)>,
}

#[derive(Debug, Default, Deserialize)]
struct AccountQuery {
    connected: Option<String>,
    unlinked: Option<String>,
}

async fn view_account_get(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Query(query): Query<AccountQuery>,
) -> PageResult {
    let linked = state.store.list_user_identities(current.user.id).await?;
    let providers = &state.config.login_providers;
    let label_of = |namespace: &str| {
        providers
            .iter()
            .find(|p| p.identity_namespace() == namespace)
            .map_or_else(|| namespace.to_owned(), |p| p.settings.name.clone())
    };
    let connectable = providers
        .iter()
        .filter(|p| !linked.iter().any(|i| i.provider == p.identity_namespace()))
        .map(|p| (p.key, p.settings.name.clone()))
        .collect();
    let identities = linked
        .into_iter()
        .map(|i| IdentityRow {
            label: label_of(&i.provider),
            provider: i.provider,
            subject: i.subject,
            email: i.email.unwrap_or_default(),
            last_login: format_time(i.last_login_at),
        })
        .collect();
    let notice = match (query.connected, query.unlinked) {
        (Some(_), _) => Some("Connected: you can now log in with it.".to_owned()),
        (_, Some(_)) => Some("Removed: it no longer logs you in.".to_owned()),
        _ => None,
    };
    let events = state.store.list_account_events(current.user.id, PageRequest::new(20, 0)).await?;
    let activity = events
        .into_iter()
        .map(|e| (format_time(e.created_at), e.action, e.ip_address.unwrap_or_default()))
        .collect();
    let view = AccountView {
        activity,
        layout: Layout::for_session("Your account", &current).with_notice(notice),
        display_name: current.user.display_name.as_str().to_owned(),
        email: current.user.email.as_str().to_owned(),
        has_password: current.user.password_hash.is_some(),
        identities,
        connectable,
    };
    Ok(render(StatusCode::OK, &view))
}

async fn logout_everywhere(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    jar: CookieJar,
    PageForm(_): PageForm<serde::de::IgnoredAny>,
) -> PageResult {
    let ended = state.store.delete_user_sessions(current.user.id).await?;
    let actor = Actor::from(&current);
    let target = current.user.email.as_str();
    audit::record(
        &state,
        None,
        &actor,
        action::LOGOUT_EVERYWHERE,
        target,
        json!({ "sessions": ended }),
    )
    .await;
    tracing::info!(user_id = %current.user.id, ended, "logged out everywhere");
    Ok((jar.add(session::removal_cookie(&state)), Redirect::to("/login")).into_response())
}

#[derive(Debug, Deserialize)]
struct UnlinkForm {
    provider: String,
    subject: String,
}

async fn unlink_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    PageForm(form): PageForm<UnlinkForm>,
) -> PageResult {
    accounts::unlink_identity(&state, peer.ip(), &current.user, &form.provider, &form.subject)
        .await?;
    Ok(Redirect::to("/account?unlinked=1").into_response())
}
