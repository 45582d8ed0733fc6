//! Dashboard login with the platform's outside providers (GitHub, Google, an OpenID Connect
//! provider the operator configured): the buttons' round trips, and what their callback does.
//! Logged-in people use the same round trip to connect a provider to their account.

use std::net::{IpAddr, SocketAddr};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use mcplatform_core::upstream_login::{LoginPurpose, UPSTREAM_LOGIN_TTL, UpstreamLogin};
use secrecy::{ExposeSecret, SecretString};

use super::upstream::Outcome;
use super::{PageForm, PageResult, PageSession};
use crate::accounts::{self, ExternalLoginError};
use crate::auth::session;
use crate::auth::{AnonymousCsrf, CurrentSession};
use crate::config::PlatformLoginProvider;
use crate::upstream::{self, UpstreamClient};
use crate::{ApiError, AppState};

/// Holds the `state` of the dashboard sign-in this browser began, so only it can finish it.
pub(super) const LOGIN_STATE_COOKIE: &str = "mcplatform_login_state";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login/{provider}", post(login_begin))
        .route("/account/identities/{provider}", post(connect_begin))
}

/// Who is at the other end of the request, for the session and the audit log, with the
/// cookies the browser sent (a session it already has ends when it logs in).
pub(super) struct ClientDetails {
    pub user_agent: Option<String>,
    pub ip: IpAddr,
    pub cookies: CookieJar,
}

impl ClientDetails {
    pub fn of(headers: &HeaderMap, peer: SocketAddr, cookies: CookieJar) -> Self {
        let (user_agent, _) = super::auth::client_details(headers, peer);
        Self { user_agent, ip: peer.ip(), cookies }
    }
}

fn provider<'a>(state: &'a AppState, key: &str) -> Result<&'a PlatformLoginProvider, ApiError> {
    state.config.login_provider(key).ok_or(ApiError::NotFound)
}

/// "Log in with …": off to the provider, with the state in a cookie of this browser.
async fn login_begin(
    State(state): State<AppState>,
    Path(key): Path<String>,
    jar: CookieJar,
    csrf: AnonymousCsrf,
    PageForm(_): PageForm<serde::de::IgnoredAny>,
) -> PageResult {
    let provider = provider(&state, &key)?;
    match begin(&state, provider, None, jar).await? {
        Ok(response) => Ok(response),
        Err(message) => {
            Ok(super::auth::login_page_with_error(&state, csrf, message, StatusCode::BAD_GATEWAY))
        }
    }
}

/// "Connect …" on the account page: the identity will be linked to the logged-in account.
async fn connect_begin(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path(key): Path<String>,
    jar: CookieJar,
    PageForm(_): PageForm<serde::de::IgnoredAny>,
) -> PageResult {
    let provider = provider(&state, &key)?;
    begin(&state, provider, Some(&current), jar).await?.map_err(|m| ApiError::BadRequest(m).into())
}

async fn begin(
    state: &AppState,
    provider: &PlatformLoginProvider,
    current: Option<&CurrentSession>,
    jar: CookieJar,
) -> Result<Result<Response, String>, ApiError> {
    let client = UpstreamClient::Platform(provider);
    let user = current.map(|c| c.user.id);
    let begun = match upstream::begin(state, client, LoginPurpose::DashboardLogin, user, None).await
    {
        Ok(begun) => begun,
        Err(ApiError::Validation(e)) => {
            // The provider could not be reached or is misconfigured: the operator's problem,
            // told plainly to the person who clicked.
            tracing::warn!(provider = provider.key, error = %e.message, "login provider failed");
            let name = &provider.settings.name;
            return Ok(Err(format!("{name} cannot be reached right now. {}", e.message)));
        }
        Err(err) => return Err(err),
    };
    let cookie = state_cookie(state, begun.state);
    Ok(Ok((jar.add(cookie), Redirect::to(begun.url.as_str())).into_response()))
}

fn state_cookie(state: &AppState, login_state: SecretString) -> Cookie<'static> {
    // Lax, not Strict: the provider's redirect back to us is a cross-site navigation.
    let max_age = i64::try_from(UPSTREAM_LOGIN_TTL.as_secs()).unwrap_or(600);
    Cookie::build((LOGIN_STATE_COOKIE, login_state.expose_secret().to_owned()))
        .http_only(true)
        .secure(state.config.is_https())
        .same_site(SameSite::Lax)
        .path(upstream::CALLBACK_PATH)
        .max_age(time::Duration::seconds(max_age))
        .build()
}

pub(super) fn removal_cookie(state: &AppState) -> Cookie<'static> {
    let mut cookie = state_cookie(state, SecretString::from(String::new()));
    cookie.make_removal();
    cookie
}

/// The callback of a dashboard sign-in: logs in (or links the identity to the account that
/// began it), or shows the login page with what went wrong.
pub(super) async fn finish(
    state: &AppState,
    current: Option<CurrentSession>,
    login: &UpstreamLogin,
    key: &str,
    outcome: Outcome,
    client: ClientDetails,
    csrf: AnonymousCsrf,
) -> PageResult {
    let Some(provider) = state.config.login_provider(key) else {
        return Err(ApiError::BadRequest(format!("Log in with {key} is no longer offered.")).into());
    };
    let identity = match outcome.identity(state, login, UpstreamClient::Platform(provider)).await {
        Ok(identity) => identity,
        Err((message, declined)) => {
            if !declined {
                tracing::warn!(provider = provider.key, error = %message, "login provider failed");
            }
            let status = if declined { StatusCode::BAD_REQUEST } else { StatusCode::BAD_GATEWAY };
            let message = format!("Log in with {} did not work. {message}", provider.settings.name);
            return Ok(super::auth::login_page_with_error(state, csrf, message, status));
        }
    };
    if let Some(user_id) = login.user_id {
        let current = current.filter(|c| c.user.id == user_id).ok_or(ApiError::Unauthorized)?;
        return match accounts::link_identity(state, client.ip, &current.user, provider, &identity)
            .await
        {
            Ok(()) => Ok(Redirect::to(&format!("/account?connected={key}")).into_response()),
            Err(ExternalLoginError::Failed(err)) => Err(err.into()),
            Err(refused) => Err(ApiError::BadRequest(refused.to_string()).into()),
        };
    }
    match accounts::login_with_identity(state, client.ip, provider, &identity).await {
        Ok(user) => {
            // Any session this browser had ends: rotation on login, as with a password.
            let ip = Some(client.ip.to_string());
            let cookie =
                session::start(state, &client.cookies, &user, client.user_agent, ip, None).await?;
            Ok((CookieJar::new().add(cookie), Redirect::to("/orgs")).into_response())
        }
        Err(ExternalLoginError::Failed(err)) => Err(err.into()),
        Err(refused) => Ok(super::auth::login_page_with_error(
            state,
            csrf,
            refused.to_string(),
            StatusCode::FORBIDDEN,
        )),
    }
}
