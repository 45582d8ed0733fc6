//! `/api/v1/auth/*` and `/api/v1/me`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use mcplatform_core::org::Role;
use mcplatform_core::user::PlatformUser;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiCaller;
use crate::auth::session;
use crate::error::{ErrorBody, Result};
use crate::extract::AppJson;
use crate::views::client_details;
use crate::{AppState, accounts};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(signup))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(password_reset))
        .routes(routes!(password_reset_confirm))
        .routes(routes!(me))
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = User)]
pub struct UserResponse {
    #[schema(format = Uuid)]
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
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Session)]
struct SessionResponse {
    user: UserResponse,
    csrf_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SignupRequest {
    #[schema(format = Email)]
    email: String,
    display_name: String,
    #[schema(format = Password)]
    password: String,
}

/// Creates an account and logs it in: the answer sets the session cookie.
#[utoipa::path(
    post,
    path = "/auth/signup",
    operation_id = "signup",
    tag = "auth",
    request_body = SignupRequest,
    responses(
        (
            status = CREATED,
            description = "The account exists and is logged in",
            body = SessionResponse,
            headers(("set-cookie" = String, description = "The session cookie")),
        ),
        (
            status = CONFLICT,
            description = "The address has an account already (`conflict`)",
            body = ErrorBody,
        ),
        (
            status = UNPROCESSABLE_ENTITY,
            description = "A field is invalid (`invalid_input` naming the `field`)",
            body = ErrorBody,
        ),
        (
            status = TOO_MANY_REQUESTS,
            description = "Too many attempts from this address (`too_many_requests`)",
            body = ErrorBody,
            headers(("retry-after" = u64, description = "Seconds to wait")),
        ),
    ),
)]
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    #[schema(format = Email)]
    email: String,
    #[schema(format = Password)]
    password: String,
}

/// Logs in: the answer sets the session cookie.
#[utoipa::path(
    post,
    path = "/auth/login",
    operation_id = "login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (
            status = OK,
            description = "Logged in",
            body = SessionResponse,
            headers(("set-cookie" = String, description = "The session cookie")),
        ),
        (
            status = UNAUTHORIZED,
            description = "Wrong address or password (`unauthorized`)",
            body = ErrorBody,
        ),
        (
            status = TOO_MANY_REQUESTS,
            description = "Too many attempts for this address or from this client \
                (`too_many_requests`)",
            body = ErrorBody,
            headers(("retry-after" = u64, description = "Seconds to wait")),
        ),
    ),
)]
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

/// Ends the session and clears its cookie.
#[utoipa::path(
    post,
    path = "/auth/logout",
    operation_id = "logout",
    tag = "auth",
    security(("session" = [], "csrf" = [])),
    responses((status = NO_CONTENT, description = "Logged out")),
)]
async fn logout(
    State(state): State<AppState>,
    caller: ApiCaller,
    jar: CookieJar,
) -> Result<Response> {
    // Only a session (checked for CSRF) logs itself out; a key cannot end a cookie's session.
    caller.session()?;
    session::end_current(&state, &jar).await?;
    Ok((StatusCode::NO_CONTENT, jar.add(session::removal_cookie(&state))).into_response())
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Me)]
struct MeResponse {
    user: UserResponse,
    csrf_token: String,
    organizations: Vec<MembershipSummary>,
}

/// An organization the caller belongs to, and the role held in it.
#[derive(Debug, Serialize, ToSchema)]
struct MembershipSummary {
    #[schema(format = Uuid)]
    id: String,
    name: String,
    role: Role,
}

/// The logged-in person, the session's CSRF token and their organizations.
#[utoipa::path(
    get,
    path = "/me",
    operation_id = "me",
    tag = "auth",
    security(("session" = [])),
    responses((status = OK, description = "The caller", body = MeResponse)),
)]
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PasswordResetRequest {
    #[schema(format = Email)]
    email: String,
}

/// Emails a reset link if the address has an account. Always 202: the answer does not tell
/// whether it has one.
#[utoipa::path(
    post,
    path = "/auth/password-reset",
    operation_id = "request_password_reset",
    tag = "auth",
    request_body = PasswordResetRequest,
    responses(
        (status = ACCEPTED, description = "A link is on its way if the address has an account"),
        (
            status = TOO_MANY_REQUESTS,
            description = "Too many attempts (`too_many_requests`)",
            body = ErrorBody,
            headers(("retry-after" = u64, description = "Seconds to wait")),
        ),
    ),
)]
async fn password_reset(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    AppJson(body): AppJson<PasswordResetRequest>,
) -> Result<StatusCode> {
    accounts::request_password_reset(&state, peer.ip(), &body.email).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PasswordResetConfirm {
    /// The secret from the emailed link.
    token: String,
    #[schema(format = Password)]
    password: String,
}

/// Sets a new password with a reset link's token; every session of the account ends.
#[utoipa::path(
    post,
    path = "/auth/password-reset/confirm",
    operation_id = "confirm_password_reset",
    tag = "auth",
    request_body = PasswordResetConfirm,
    responses(
        (status = NO_CONTENT, description = "The password is changed"),
        (
            status = NOT_FOUND,
            description = "The link is unknown, used or expired (`not_found`)",
            body = ErrorBody,
        ),
        (
            status = UNPROCESSABLE_ENTITY,
            description = "The password is not acceptable (`invalid_input`)",
            body = ErrorBody,
        ),
    ),
)]
async fn password_reset_confirm(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    AppJson(body): AppJson<PasswordResetConfirm>,
) -> Result<StatusCode> {
    accounts::complete_password_reset(&state, peer.ip(), &body.token, body.password).await?;
    Ok(StatusCode::NO_CONTENT)
}
