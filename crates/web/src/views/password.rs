//! Resetting a forgotten password by emailed link.

use std::net::SocketAddr;

use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum_extra::extract::CookieJar;
use mcplatform_core::crypto::TokenHash;
use serde::Deserialize;

use super::{Layout, PageForm, PageResult, render};
use crate::auth::AnonymousCsrf;
use crate::{ApiError, AppState, accounts};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/password/forgot", get(view_forgot_get).post(forgot_post))
        .route("/password/reset/{token}", get(view_reset_get).post(reset_post))
}

#[derive(Template)]
#[template(path = "auth/forgot.html")]
struct ForgotView {
    layout: Layout,
    sent: bool,
    error: Option<String>,
}

async fn view_forgot_get(csrf: AnonymousCsrf, jar: CookieJar) -> PageResult {
    let view = ForgotView {
        layout: Layout::anonymous("Forgot password", csrf.token.0),
        sent: false,
        error: None,
    };
    let jar = AnonymousCsrf::set_cookie(csrf.new_cookie, jar);
    Ok((jar, render(StatusCode::OK, &view)).into_response())
}

#[derive(Debug, Deserialize)]
struct ForgotForm {
    #[serde(default)]
    email: String,
}

async fn forgot_post(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    csrf: AnonymousCsrf,
    PageForm(form): PageForm<ForgotForm>,
) -> PageResult {
    let mut view = ForgotView {
        layout: Layout::anonymous("Forgot password", csrf.token.0),
        sent: true,
        error: None,
    };
    match accounts::request_password_reset(&state, peer.ip(), &form.email).await {
        Ok(()) => Ok(render(StatusCode::OK, &view)),
        Err(err @ ApiError::TooManyRequests { .. }) => {
            view.sent = false;
            view.error = Some(err.to_string());
            Ok(render(StatusCode::TOO_MANY_REQUESTS, &view))
        }
        Err(err) => Err(err.into()),
    }
}

#[derive(Template)]
#[template(path = "auth/reset.html")]
struct ResetView {
    layout: Layout,
    token: String,
    valid: bool,
    email: String,
    error: Option<String>,
}

async fn reset_view(state: &AppState, csrf: String, token: String) -> Result<ResetView, ApiError> {
    let user =
        state.store.find_password_reset_user(&TokenHash::of(&token), state.clock.now()).await?;
    Ok(ResetView {
        layout: Layout::anonymous("New password", csrf),
        valid: user.is_some(),
        email: user.map(|u| u.email.as_str().to_owned()).unwrap_or_default(),
        token,
        error: None,
    })
}

async fn view_reset_get(
    State(state): State<AppState>,
    csrf: AnonymousCsrf,
    jar: CookieJar,
    Path(token): Path<String>,
) -> PageResult {
    let view = reset_view(&state, csrf.token.0, token).await?;
    let status = if view.valid { StatusCode::OK } else { StatusCode::NOT_FOUND };
    let jar = AnonymousCsrf::set_cookie(csrf.new_cookie, jar);
    Ok((jar, render(status, &view)).into_response())
}

#[derive(Debug, Deserialize)]
struct ResetForm {
    #[serde(default)]
    password: String,
}

async fn reset_post(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    csrf: AnonymousCsrf,
    jar: CookieJar,
    Path(token): Path<String>,
    PageForm(form): PageForm<ResetForm>,
) -> PageResult {
    match accounts::complete_password_reset(&state, peer.ip(), &token, form.password).await {
        // The sessions of the account ended, this browser's included.
        Ok(_) => Ok((
            jar.add(crate::auth::session::removal_cookie(&state)),
            Redirect::to("/login?reset=done"),
        )
            .into_response()),
        Err(ApiError::Validation(err)) => {
            let mut view = reset_view(&state, csrf.token.0, token).await?;
            view.error = Some(err.message);
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &view))
        }
        Err(ApiError::NotFound) => {
            Ok(render(StatusCode::NOT_FOUND, &reset_view(&state, csrf.token.0, token).await?))
        }
        Err(err) => Err(err.into()),
    }
}
