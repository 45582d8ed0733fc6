//! `/oauth/upstream/callback`: where every upstream identity provider sends the browser back.
//! The `state` finds the round trip begun in [`crate::upstream::begin`], usable once; what
//! happens next depends on why it was begun.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use mcplatform_core::crypto::TokenHash;
use mcplatform_core::org::Role;
use mcplatform_core::upstream_login::LoginPurpose;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{Layout, PageResult, PageSession, render};
use crate::access::OrgAccess;
use crate::upstream::{self, UpstreamIdentity};
use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new().route("/oauth/upstream/callback", get(callback))
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
    PageSession(current): PageSession,
    Query(query): Query<CallbackQuery>,
) -> PageResult {
    let stale = || {
        ApiError::BadRequest(
            "This sign-in has expired or was already completed. Start it again.".into(),
        )
    };
    let login_state = query.state.as_deref().ok_or_else(stale)?;
    let now = state.clock.now();
    let login = state
        .store
        .consume_upstream_login(&TokenHash::of(login_state), Some(current.user.id), now)
        .await?
        .ok_or_else(stale)?;
    match login.purpose {
        LoginPurpose::ProviderTest => {
            // Only the admin who began the test may see what the provider said (the store
            // found the login for this user only; this is a second lock on that door).
            if login.user_id != Some(current.user.id) {
                return Err(stale().into());
            }
            let access =
                OrgAccess::load(&state, current.user.id, &login.organization_id.to_string())
                    .await?;
            access.require(Role::Admin)?;
            let provider =
                state.store.get_identity_provider(access.org.id, login.provider_id).await?;
            // The person declining at the provider is not the provider failing.
            let declined = query.error.is_some();
            let outcome = match (query.error, query.code) {
                (Some(error), _) => Err(format!(
                    "The provider answered {error}{}",
                    query.error_description.map(|d| format!(": {d}")).unwrap_or_default()
                )),
                (None, Some(code)) => upstream::finish(
                    &state,
                    &login,
                    &provider,
                    code.expose_secret(),
                    query.iss.as_deref(),
                )
                .await
                .map_err(|e| e.0),
                (None, None) => Err("The provider sent neither a code nor an error.".into()),
            };
            let status = match &outcome {
                Ok(_) => StatusCode::OK,
                Err(_) if declined => StatusCode::BAD_REQUEST,
                Err(_) => StatusCode::BAD_GATEWAY,
            };
            let view = TestResultView {
                layout: Layout::for_session("Test sign-in", &current).in_org(&access),
                org_id: access.org.id.to_string(),
                provider_id: provider.id.to_string(),
                provider_name: provider.settings.name,
                outcome,
            };
            Ok(render(status, &view))
        }
    }
}
