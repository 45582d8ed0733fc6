//! `/oauth/upstream/callback`: where every upstream identity provider sends the browser back.
//! The `state` finds the round trip begun in [`crate::upstream::begin`], usable once; what
//! happens next depends on why it was begun.

use std::net::SocketAddr;

use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum_extra::extract::CookieJar;
use mcplatform_core::crypto::{TokenHash, constant_time_eq};
use mcplatform_core::ids::OrgId;
use mcplatform_core::org::Role;
use mcplatform_core::upstream_login::{LoginPurpose, ProviderRef, UpstreamLogin};
use mcplatform_store::LoginClaimant;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::external_login::{self, ClientDetails, LOGIN_STATE_COOKIE};
use super::{Layout, PageResult, render};
use crate::access::OrgAccess;
use crate::auth::session::MaybeSession;
use crate::auth::{AnonymousCsrf, CurrentSession};
use crate::upstream::{self, UpstreamClient, UpstreamIdentity, UpstreamTokens};
use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new().route(upstream::CALLBACK_PATH, get(callback))
}

/// RFC 6749 §4.1.2 (success) and §4.1.2.1 (error) parameters, and RFC 9207 `iss`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CallbackQuery {
    /// A bearer credential until exchanged: kept out of `Debug`.
    code: Option<SecretString>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    iss: Option<String>,
}

#[derive(Template)]
#[template(path = "providers/test_result.html")]
struct TestResultView {
    layout: Layout,
    org_id: String,
    provider_id: String,
    provider_name: String,
    outcome: Result<UpstreamIdentity, String>,
}

impl TestResultView {
    fn claims_json(&self) -> String {
        match &self.outcome {
            Ok(identity) => serde_json::to_string_pretty(&identity.claims).unwrap_or_default(),
            Err(_) => String::new(),
        }
    }
}

async fn callback(
    State(state): State<AppState>,
    MaybeSession(current): MaybeSession,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    csrf: AnonymousCsrf,
    Query(query): Query<CallbackQuery>,
) -> PageResult {
    let login_state = query.state.as_deref().ok_or_else(stale)?;
    let bound_to_browser = jar
        .get(LOGIN_STATE_COOKIE)
        .is_some_and(|cookie| constant_time_eq(cookie.value().as_bytes(), login_state.as_bytes()));
    let now = state.clock.now();
    let claimant =
        LoginClaimant { user: current.as_ref().map(|c| c.user.id), same_browser: bound_to_browser };
    let Some(login) =
        state.store.consume_upstream_login(&TokenHash::of(login_state), claimant, now).await?
    else {
        return Err(if current.is_none() && !bound_to_browser {
            ApiError::BadRequest(
                "This sign-in was started in another browser, has expired or was already \
                 completed. Start it again here."
                    .into(),
            )
        } else {
            stale()
        }
        .into());
    };
    let outcome = Outcome::of(&query);
    match (login.purpose, &login.provider) {
        (LoginPurpose::ProviderTest, ProviderRef::Organization { organization_id, .. }) => {
            // Only the admin who began the test may see what the provider said (the store
            // found the login for this user only; this is a second lock on that door).
            let current = current.filter(|c| login.user_id == Some(c.user.id)).ok_or_else(stale)?;
            provider_test(&state, &current, &login, *organization_id, outcome).await
        }
        (LoginPurpose::DashboardLogin, ProviderRef::Platform(key)) => {
            // Login CSRF (RFC 6749 §10.12): a sign-in begun without a user was found only for
            // the browser holding its state cookie, so nobody can log a victim into the
            // attacker's account by sending them the callback link.
            let removal = external_login::removal_cookie(&state);
            let client = ClientDetails::of(&headers, peer, jar);
            let response =
                external_login::finish(&state, current, &login, key, outcome, client, csrf).await?;
            Ok((CookieJar::new().add(removal), response).into_response())
        }
        (LoginPurpose::EndUserLogin, ProviderRef::Organization { .. }) => {
            Ok(crate::oauth::authorize::finish_upstream_login(&state, &login, outcome).await)
        }
        _ => Err(stale().into()),
    }
}

fn stale() -> ApiError {
    ApiError::BadRequest(
        "This sign-in has expired or was already completed. Start it again.".into(),
    )
}

/// What the provider sent back: a code to exchange, or the reason it refused.
pub(crate) enum Outcome {
    Code {
        code: SecretString,
        iss: Option<String>,
    },
    /// The person declined, or the provider refused (RFC 6749 §4.1.2.1).
    Refused(String),
}

impl Outcome {
    fn of(query: &CallbackQuery) -> Self {
        match (&query.error, &query.code) {
            (Some(error), _) => Self::Refused(format!(
                "The provider answered {error}{}",
                query.error_description.as_ref().map(|d| format!(": {d}")).unwrap_or_default()
            )),
            (None, Some(code)) => Self::Code { code: code.clone(), iss: query.iss.clone() },
            (None, None) => Self::Refused("The provider sent neither a code nor an error.".into()),
        }
    }

    /// Exchanges the code: who signed in and the provider's tokens, or why not (with `true`
    /// when the person declined, which is not the provider failing).
    pub(crate) async fn finish(
        self,
        state: &AppState,
        login: &UpstreamLogin,
        provider: UpstreamClient<'_>,
    ) -> Result<(UpstreamIdentity, UpstreamTokens), (String, bool)> {
        match self {
            Self::Refused(message) => Err((message, true)),
            Self::Code { code, iss } => {
                upstream::finish(state, login, provider, code.expose_secret(), iss.as_deref())
                    .await
                    .map_err(|e| (e.0, false))
            }
        }
    }

    /// [`Self::finish`] for callers that only need to know who signed in.
    pub(super) async fn identity(
        self,
        state: &AppState,
        login: &UpstreamLogin,
        provider: UpstreamClient<'_>,
    ) -> Result<UpstreamIdentity, (String, bool)> {
        self.finish(state, login, provider).await.map(|(identity, _)| identity)
    }
}

async fn provider_test(
    state: &AppState,
    current: &CurrentSession,
    login: &UpstreamLogin,
    organization_id: OrgId,
    outcome: Outcome,
) -> PageResult {
    let access = OrgAccess::load(state, current.user.id, &organization_id.to_string()).await?;
    access.require(Role::Admin)?;
    let ProviderRef::Organization { provider_id, .. } = login.provider else {
        return Err(stale().into());
    };
    let provider = state.store.get_identity_provider(access.org.id, provider_id).await?;
    let outcome = outcome.identity(state, login, UpstreamClient::Organization(&provider)).await;
    let status = match &outcome {
        Ok(_) => StatusCode::OK,
        Err((_, true)) => StatusCode::BAD_REQUEST,
        Err((_, false)) => StatusCode::BAD_GATEWAY,
    };
    let view = TestResultView {
        layout: Layout::for_session("Test sign-in", current).in_org(&access),
        org_id: access.org.id.to_string(),
        provider_id: provider.id.to_string(),
        provider_name: provider.settings.name,
        outcome: outcome.map_err(|(message, _)| message),
    };
    Ok(render(status, &view))
}
