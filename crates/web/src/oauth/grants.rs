//! `/oauth/grants`: an end user, signed in at a server's authorization pages (the cookie its
//! sign-in left), sees the applications they allowed and revokes them. Revoking withdraws the
//! consent and every token the application holds for them.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum_extra::extract::CookieJar;
use mcplatform_core::crypto::{constant_time_eq, csrf_token_for};
use mcplatform_core::ids::EndUserId;
use mcplatform_core::oauth::grant::describe_scope;
use mcplatform_store::PageRequest;
use serde::Deserialize;

use super::authorize::{END_USER_COOKIE, signed_in_end_user};
use super::pages::{PageForm, error_page, no_cache, same_origin};
use super::{HostedServer, OAuthServer};
use crate::views::format_time;
use crate::{ApiError, AppState};

/// Grants listed (a person allows a handful of applications).
const GRANTS_SHOWN: u32 = 100;

struct GrantRow {
    client_id: String,
    client: String,
    scopes: Vec<&'static str>,
    since: String,
    last_used: String,
}

#[derive(Template)]
#[template(path = "oauth/grants.html")]
struct GrantsView {
    server_name: String,
    signed_in_as: String,
    notice: Option<String>,
    grants: Vec<GrantRow>,
    revoke_action: String,
    csrf_token: String,
}

/// The signed-in end user and the CSRF token of their cookie, or the page saying to sign in.
async fn signed_in(
    state: &AppState,
    hosted: &HostedServer,
    jar: &CookieJar,
) -> Result<Result<(EndUserId, String), Response>, ApiError> {
    let end_user = signed_in_end_user(state, &hosted.server, jar).await?;
    let cookie = jar.get(END_USER_COOKIE);
    Ok(match (end_user, cookie) {
        (Some(end_user), Some(cookie)) => Ok((end_user, csrf_token_for(cookie.value()))),
        _ => Err(error_page(
            StatusCode::UNAUTHORIZED,
            "Not signed in",
            "You are not signed in here in this browser. You sign in when an application \
             connects to this server; then this page lists the applications you allowed.",
        )),
    })
}

async fn page(
    state: &AppState,
    hosted: &HostedServer,
    end_user: EndUserId,
    csrf_token: String,
    notice: Option<String>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let page = PageRequest::new(GRANTS_SHOWN, 0);
    let grants = state.store.list_grants(hosted.server.id, Some(end_user), now, page).await?;
    let mut rows = Vec::with_capacity(grants.items.len());
    for grant in &grants.items {
        let client = super::clients::label(state, &hosted.server, &grant.client_id).await?;
        rows.push(GrantRow {
            client_id: grant.client_id.clone(),
            client,
            scopes: grant.scopes.iter().map(describe_scope).collect(),
            since: format_time(grant.created_at),
            last_used: grant.last_used_at.map_or_else(|| "never".to_owned(), format_time),
        });
    }
    // Each grant carries its person; with none, they are looked up.
    let signed_in_as = match grants.items.first() {
        Some(grant) => grant.end_user.display_name(),
        None => {
            state.store.get_end_user(hosted.server.organization_id, end_user).await?.display_name()
        }
    };
    let view = GrantsView {
        server_name: hosted.server.settings.name.clone(),
        signed_in_as,
        notice,
        grants: rows,
        revoke_action: hosted.origin.url("/oauth/grants/revoke"),
        csrf_token,
    };
    Ok(no_cache(crate::views::render(StatusCode::OK, &view)))
}

pub(super) async fn list(
    State(state): State<AppState>,
    OAuthServer(hosted): OAuthServer,
    jar: CookieJar,
) -> Result<Response, ApiError> {
    match signed_in(&state, &hosted, &jar).await? {
        Ok((end_user, csrf_token)) => page(&state, &hosted, end_user, csrf_token, None).await,
        Err(page) => Ok(page),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct RevokeForm {
    csrf_token: String,
    client_id: String,
}

pub(super) async fn revoke(
    State(state): State<AppState>,
    OAuthServer(hosted): OAuthServer,
    headers: HeaderMap,
    jar: CookieJar,
    PageForm(form): PageForm<RevokeForm>,
) -> Result<Response, ApiError> {
    let (end_user, csrf_token) = match signed_in(&state, &hosted, &jar).await? {
        Ok(signed_in) => signed_in,
        Err(page) => return Ok(page),
    };
    let forged = !constant_time_eq(form.csrf_token.as_bytes(), csrf_token.as_bytes());
    if forged || !same_origin(&headers, &hosted.origin) {
        return Ok(error_page(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "This form was sent from another site or an old page. Open the page again.",
        ));
    }
    let now = state.clock.now();
    let notice =
        match state.store.revoke_grant(hosted.server.id, end_user, &form.client_id, now).await {
            Ok(()) => "Access revoked. The application must ask you again to connect.",
            Err(mcplatform_store::StoreError::NotFound) => "That application had no access.",
            Err(e) => return Err(e.into()),
        };
    page(&state, &hosted, end_user, csrf_token, Some(notice.to_owned())).await
}
