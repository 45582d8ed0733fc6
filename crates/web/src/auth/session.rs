//! Dashboard sessions: a random secret in a cookie, its SHA-256 in the database.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use mcplatform_core::crypto::{NewSecretToken, TokenHash, csrf_token_for};
use mcplatform_core::ids::{OrgId, SessionId};
use mcplatform_core::user::{PlatformSession, PlatformUser};
use secrecy::ExposeSecret;
use time::OffsetDateTime;

use crate::{ApiError, AppState};

/// Prefix of session secrets, so a leaked one is recognisable.
pub const SESSION_TOKEN_PREFIX: &str = "mcps_";

#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// A session unused for this long ends.
    pub idle_timeout: Duration,
    /// No session lives longer than this, however active.
    pub absolute_lifetime: Duration,
    /// Activity is written back at most this often, not on every request.
    pub touch_interval: Duration,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(7 * 24 * 3600),
            absolute_lifetime: Duration::from_secs(30 * 24 * 3600),
            touch_interval: Duration::from_secs(300),
        }
    }
}

/// The cookie names: `__Host-` prefixed over HTTPS, which pins them to our host and path and
/// requires `Secure` (RFC 6265bis §4.1.3.2).
pub(crate) fn session_cookie_name(https: bool) -> &'static str {
    if https { "__Host-mcplatform_session" } else { "mcplatform_session" }
}

/// The logged-in user and session of this request, when there is one.
#[derive(Debug, Clone)]
pub struct CurrentSession {
    pub session: PlatformSession,
    pub user: PlatformUser,
    /// Forms and `x-csrf-token` headers must carry this.
    pub csrf_token: String,
    /// The address this request came from, for the audit log.
    pub client_ip: Option<String>,
}

/// Looks up the session cookie once per request and keeps the result in the extensions.
pub(crate) async fn load_session(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let jar = CookieJar::from_headers(request.headers());
    let cookie_name = session_cookie_name(state.config.is_https());
    if let Some(cookie) = jar.get(cookie_name) {
        match resolve(&state, cookie.value()).await {
            Ok(Some(mut current)) => {
                current.client_ip = client_ip(request.extensions());
                request.extensions_mut().insert(Arc::new(current));
            }
            Ok(None) => {}
            Err(err) => return axum::response::IntoResponse::into_response(err),
        }
    }
    next.run(request).await
}

async fn resolve(state: &AppState, secret: &str) -> Result<Option<CurrentSession>, ApiError> {
    if !secret.starts_with(SESSION_TOKEN_PREFIX) {
        return Ok(None);
    }
    let now = state.clock.now();
    let Some(mut session) = state.store.find_session(&TokenHash::of(secret), now).await? else {
        return Ok(None);
    };
    let settings = &state.config.sessions;
    if now - session.last_seen_at >= settings.touch_interval {
        let expires_at = sliding_expiry(session.created_at, now, settings);
        state.store.touch_session(session.id, now, expires_at).await?;
        session.last_seen_at = now;
        session.expires_at = expires_at;
    }
    let user = state.store.get_user(session.user_id).await?;
    Ok(Some(CurrentSession { session, user, csrf_token: csrf_token_for(secret), client_ip: None }))
}

/// The peer address axum recorded for the connection.
pub(crate) fn client_ip(extensions: &axum::http::Extensions) -> Option<String> {
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|axum::extract::ConnectInfo(peer)| peer.ip().to_string())
}

fn sliding_expiry(
    created_at: OffsetDateTime,
    now: OffsetDateTime,
    settings: &SessionSettings,
) -> OffsetDateTime {
    (now + settings.idle_timeout).min(created_at + settings.absolute_lifetime)
}

/// Starts a new session for `user` and returns the cookie that carries it. Any session the
/// request already had is ended first (rotation on login: a planted session id is worthless).
pub async fn start(
    state: &AppState,
    jar: &CookieJar,
    user: &PlatformUser,
    user_agent: Option<String>,
    ip_address: Option<String>,
    active_organization_id: Option<OrgId>,
) -> Result<Cookie<'static>, ApiError> {
    end_current(state, jar).await?;
    let now = state.clock.now();
    let token = NewSecretToken::generate(SESSION_TOKEN_PREFIX);
    let session = PlatformSession {
        id: SessionId::new(),
        user_id: user.id,
        token_hash: token.hash,
        active_organization_id,
        user_agent: user_agent.map(|ua| ua.chars().take(300).collect()),
        ip_address,
        created_at: now,
        last_seen_at: now,
        expires_at: sliding_expiry(now, now, &state.config.sessions),
    };
    state.store.create_session(&session).await?;
    Ok(session_cookie(state, token.secret.expose_secret().to_owned()))
}

/// Ends the session the request carries, if any.
pub async fn end_current(state: &AppState, jar: &CookieJar) -> Result<(), ApiError> {
    let cookie_name = session_cookie_name(state.config.is_https());
    let Some(cookie) = jar.get(cookie_name) else {
        return Ok(());
    };
    let now = state.clock.now();
    if let Some(session) = state.store.find_session(&TokenHash::of(cookie.value()), now).await? {
        match state.store.delete_session(session.id).await {
            Ok(()) | Err(mcplatform_store::StoreError::NotFound) => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(())
}

fn session_cookie(state: &AppState, value: String) -> Cookie<'static> {
    let lifetime = state.config.sessions.absolute_lifetime;
    Cookie::build((session_cookie_name(state.config.is_https()), value))
        .http_only(true)
        .secure(state.config.is_https())
        .same_site(SameSite::Lax)
        .path("/")
        .max_age(time::Duration::seconds(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX)))
        .build()
}

/// A cookie that tells the browser to forget the session.
pub fn removal_cookie(state: &AppState) -> Cookie<'static> {
    let mut cookie = session_cookie(state, String::new());
    cookie.make_removal();
    cookie
}

/// Requires a logged-in session; rejects with 401 (the HTML layer turns it into a redirect).
impl<S: Send + Sync> FromRequestParts<S> for CurrentSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Arc<CurrentSession>>()
            .map(|current| current.as_ref().clone())
            .ok_or(ApiError::Unauthorized)
    }
}

/// The session when there is one, without rejecting anonymous requests.
#[derive(Debug, Clone)]
pub struct MaybeSession(pub Option<CurrentSession>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeSession {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.extensions.get::<Arc<CurrentSession>>().map(|c| c.as_ref().clone())))
    }
}
