//! The logged-in user's own account.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;

use super::{Layout, PageForm, PageResult, PageSession, render};
use crate::AppState;
use crate::auth::session;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account", get(view_account_get))
        .route("/account/logout-everywhere", post(logout_everywhere))
}

#[derive(Template)]
#[template(path = "auth/account.html")]
struct AccountView {
    layout: Layout,
    display_name: String,
    email: String,
}

async fn view_account_get(PageSession(current): PageSession) -> PageResult {
    let view = AccountView {
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
    tracing::info!(user_id = %current.user.id, ended, "logged out everywhere");
    Ok((jar.add(session::removal_cookie(&state)), Redirect::to("/login")).into_response())
}
