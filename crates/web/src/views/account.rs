//! The logged-in user's own account.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;

use mcplatform_store::PageRequest;

use super::{Layout, PageForm, PageResult, PageSession, format_time, render};
use mcplatform_core::audit::action;
use serde_json::json;

use crate::access::Actor;
use crate::auth::session;
use crate::{AppState, audit};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account", get(view_account_get))
        .route("/account/logout-everywhere", post(logout_everywhere))
}

#[derive(Template)]
#[template(path = "auth/account.html")]
struct AccountView {
    layout: Layout,
    /// `(when, action, address)`, newest first.
    activity: Vec<(String, String, String)>,
    display_name: String,
    email: String,
}

async fn view_account_get(
    State(state): State<AppState>,
    PageSession(current): PageSession,
) -> PageResult {
    let events = state.store.list_account_events(current.user.id, PageRequest::new(20, 0)).await?;
    let activity = events
        .into_iter()
        .map(|e| (format_time(e.created_at), e.action, e.ip_address.unwrap_or_default()))
        .collect();
    let view = AccountView {
        activity,
        layout: Layout::for_session("Your account", &current),
        display_name: current.user.display_name.as_str().to_owned(),
        email: current.user.email.as_str().to_owned(),
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
