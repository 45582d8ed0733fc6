//! `/api/v1/auth/*` and `/api/v1/me`.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use mcplatform_core::org::Role;
use mcplatform_core::user::PlatformUser;
use serde::{Deserialize, Serialize};

use super::ApiCaller;
use crate::auth::session;
use crate::error::Result;
use crate::extract::AppJson;
use crate::views::client_details;
use crate::{AppState, accounts};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/signup", post(signup))
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/auth/password-reset", post(password_reset))
        .route("/auth/password-reset/confirm", post(password_reset_confirm))
        .route("/me", get(me))
}

#[derive(Debug, Serialize)]
pub struct UserResponse {
    pub id: String,
    pub email: String,
    pub display_name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
}

impl From<&PlatformUser> for UserResponse {
    fn from(user: &PlatformUser) -> Self {
        Self {
            id: user.id.to_string(),
            email: user.email.as_str().to_owned(),
            display_name: user.display_name.as_str().to_owned(),
            created_at: user.created_at,
        }
    }
}

/// A fresh session: the user, and the CSRF token its cookie needs on changes.
#[derive(Debug, Serialize)]
struct SessionResponse {
    user: UserResponse,
    csrf_token: String,
}

#[derive(Debug, Deserialize)]
struct SignupRequest {
    email: String,
    display_name: String,
    password: String,
}

async fn signup(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    AppJson(body): AppJson<SignupRequest>,
) -> Result<Response> {
    let user =
        accounts::signup(&state, peer.ip(), &body.display_name, &body.email, body.password).await?;
    start_session(&state, jar, &headers, peer, &user, StatusCode::CREATED).await
}

#[derive(Debug, Deserialize)]
struct LoginRequest {
    email: String,
    password: String,
}

async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    AppJson(body): AppJson<LoginRequest>,
) -> Result<Response> {
    let user = accounts::login(&state, peer.ip(), &body.email, body.password).await?;
    start_session(&state, jar, &headers, peer, &user, StatusCode::OK).await
}

async fn start_session(
    state: &AppState,
    jar: CookieJar,
    headers: &HeaderMap,
    peer: SocketAddr,
    user: &PlatformUser,
    status: StatusCode,
) -> Result<Response> {
    let (user_agent, ip) = client_details(headers, peer);
    let cookie = session::start(state, &jar, user, user_agent, ip, None).await?;
    let csrf_token = mcplatform_core::crypto::csrf_token_for(cookie.value());
    let body = SessionResponse { user: user.into(), csrf_token };
    Ok((status, jar.add(cookie), AppJson(body)).into_response())
}

async fn logout(
    State(state): State<AppState>,
    _caller: ApiCaller,
    jar: CookieJar,
) -> Result<Response> {
    session::end_current(&state, &jar).await?;
    Ok((StatusCode::NO_CONTENT, jar.add(session::removal_cookie(&state))).into_response())
}

#[derive(Debug, Serialize)]
struct MeResponse {
    user: UserResponse,
    csrf_token: String,
    organizations: Vec<MembershipSummary>,
}

#[derive(Debug, Serialize)]
struct MembershipSummary {
    id: String,
    name: String,
    role: Role,
}

async fn me(State(state): State<AppState>, caller: ApiCaller) -> Result<AppJson<MeResponse>> {
    let current = caller.session()?.clone();
    let organizations = state
        .store
        .list_organizations_for_user(current.user.id)
        .await?
        .into_iter()
        .map(|(org, role)| MembershipSummary {
            id: org.id.to_string(),
            name: org.name.as_str().to_owned(),
            role,
        })
        .collect();
    Ok(AppJson(MeResponse {
        user: (&current.user).into(),
        csrf_token: current.csrf_token,
        organizations,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordResetRequest {
    email: String,
}

/// Always 202: the answer does not tell whether the address has an account.
async fn password_reset(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    AppJson(body): AppJson<PasswordResetRequest>,
) -> Result<StatusCode> {
    accounts::request_password_reset(&state, peer.ip(), &body.email).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordResetConfirm {
    token: String,
    password: String,
}

async fn password_reset_confirm(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    AppJson(body): AppJson<PasswordResetConfirm>,
) -> Result<StatusCode> {
    accounts::complete_password_reset(&state, peer.ip(), &body.token, body.password).await?;
    Ok(StatusCode::NO_CONTENT)
}
