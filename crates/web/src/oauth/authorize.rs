//! `/oauth/authorize` (OAuth 2.1 §4.1.1 with PKCE, RFC 8707 resources, RFC 9207 `iss`), our
//! own consent page, the end-user login it leads to, and the code it ends with.
//!
//! Order of events, per the MCP spec's confused-deputy rules: the request is checked; the
//! person sees which client asks for what and decides on our page (CSRF-protected, bound to
//! their browser); only then are they sent to sign in (the customer's IdP, or ours); back from
//! there, the same browser gets the code.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use mcplatform_core::crypto::{NewSecretToken, TokenHash, constant_time_eq, csrf_token_for};
use mcplatform_core::end_user::{EndUser, EndUserLogin};
use mcplatform_core::ids::{AuthorizationRequestId, EndUserId, TokenFamilyId};
use mcplatform_core::mcp_server::{AuthMode, McpServer};
use mcplatform_core::oauth::client::{OAuthClient, redirect_host};
use mcplatform_core::oauth::client_document::document_host;
use mcplatform_core::oauth::grant::{
    AUTHORIZATION_CODE_PREFIX, AUTHORIZATION_CODE_TTL, AUTHORIZATION_REQUEST_TTL,
    AuthorizationCode, AuthorizationRequest, Scopes, check_code_challenge, describe_scope,
};
use mcplatform_core::upstream_login::{ProviderRef, UpstreamLogin};
use secrecy::ExposeSecret;
use serde::Deserialize;
use url::Url;

use super::pages::{PageForm, PageQuery, cookie, error_page, no_cache, same_origin};
use super::params::Params;
use super::{OAuthServer, error::ErrorCode};
use crate::upstream::{self, UpstreamClient};
use crate::views::Outcome;
use crate::{ApiError, AppState};

/// Binds an authorization request to the browser that made it (its hash is stored with it).
pub(super) const BROWSER_COOKIE: &str = "mcp_oauth_browser";
/// An end user's sign-in at one server's authorization pages.
pub(super) const END_USER_COOKIE: &str = "mcp_end_user";
/// The longest client `state` accepted (it is stored with the request and sent back).
const MAX_STATE_LEN: usize = 1024;
/// How long an end user stays signed in at a server's authorization pages.
const END_USER_SESSION_TTL: std::time::Duration = std::time::Duration::from_secs(14 * 24 * 3600);

// ---------------------------------------------------------------------------------------------
// Pages

#[derive(Template)]
#[template(path = "oauth/consent.html")]
struct ConsentView {
    server_name: String,
    client_name: String,
    client_uri: Option<String>,
    redirect_host: String,
    /// The host serving the client's metadata document, when its `client_id` is one (CIMD).
    document_host: Option<String>,
    /// Every redirect URI is on this machine (RFC 8252 loopback): worth a word of caution.
    loopback_only: bool,
    scopes: Vec<(String, &'static str)>,
    action: String,
    request_id: String,
    csrf_token: String,
}

// ---------------------------------------------------------------------------------------------
// Responses to the client

/// The authorization response, success or error, as a redirect to the client: the client's
/// `state` as it came and our `iss` (RFC 9207 §2) on every one.
fn to_client(
    redirect_uri: &str,
    params: &[(&str, &str)],
    state: Option<&str>,
    iss: &str,
) -> Response {
    let Ok(mut url) = Url::parse(redirect_uri) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Invalid redirect",
            "The redirect URI is not a URL.",
        );
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            query.append_pair(name, value);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", iss);
    }
    Redirect::to(url.as_str()).into_response()
}

pub(super) fn error_to_client(
    redirect_uri: &str,
    code: ErrorCode,
    description: &str,
    state: Option<&str>,
    iss: &str,
) -> Response {
    let description = super::error::error_description(description);
    to_client(
        redirect_uri,
        &[("error", code.as_str()), ("error_description", &description)],
        state,
        iss,
    )
}

// ---------------------------------------------------------------------------------------------
// GET /oauth/authorize

/// The resource the tokens will be for (RFC 8707 §2): one of this server's MCP endpoint URLs,
/// on either URL form; the main endpoint of the form in use when none is named.
pub(crate) fn check_resource(
    state: &AppState,
    hosted: &super::HostedServer,
    requested: &[&str],
) -> Result<String, String> {
    let resource = match requested {
        [] => return Ok(hosted.origin.url("/mcp")),
        [one] => *one,
        [first, rest @ ..] if rest.iter().all(|r| r == first) => *first,
        _ => return Err("ask for one resource at a time".into()),
    };
    if super::server_resources(state, &hosted.server).iter().any(|r| r == resource) {
        Ok(resource.to_owned())
    } else {
        Err(format!("{resource:?} is not an MCP endpoint of this server"))
    }
}

pub(super) async fn authorize(
    State(state): State<AppState>,
    OAuthServer(hosted): OAuthServer,
    jar: CookieJar,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let bad = |message: String| error_page(StatusCode::BAD_REQUEST, "Invalid request", message);
    let params = match Params::parse(query.unwrap_or_default().as_bytes()) {
        Ok(params) => params,
        Err(e) => return Ok(bad(e.description)),
    };

    // Until the client and its redirect URI are known good, errors stay on our page.
    let client_id = match params.one("client_id") {
        Ok(Some(id)) => id,
        Ok(None) => return Ok(bad("The request names no client_id.".into())),
        Err(e) => return Ok(bad(e.description)),
    };
    let client = match super::clients::find(&state, &hosted.server, client_id).await {
        Ok(client) => client,
        Err(super::clients::ClientError::Unknown) => {
            return Ok(bad(format!(
                "No application with client_id {client_id:?} is registered with this server."
            )));
        }
        Err(super::clients::ClientError::Failed(e)) => return Err(e),
        Err(document_error) => return Ok(bad(format!("{document_error}."))),
    };
    let requested_redirect = match params.one("redirect_uri") {
        Ok(uri) => uri,
        Err(e) => return Ok(bad(e.description)),
    };
    let Some(redirect_uri) = client.metadata.match_redirect_uri(requested_redirect) else {
        return Ok(bad(match requested_redirect {
            Some(uri) => {
                format!("The redirect URI {uri:?} is not registered for this application.")
            }
            None => "The application has several redirect URIs and named none.".into(),
        }));
    };

    // From here, errors go back to the client (RFC 6749 §4.1.2.1), with its state and our iss.
    let iss = hosted.origin.issuer();
    let state_param = params.one("state");
    // RFC 6749 Appendix A.5: printable ASCII, returned as it came; we also bound its length.
    let state_ok =
        |s: &&str| s.len() <= MAX_STATE_LEN && s.bytes().all(|b| (0x20..=0x7e).contains(&b));
    let client_state =
        state_param.as_ref().ok().copied().flatten().filter(state_ok).map(str::to_owned);
    let fail = |code: ErrorCode, description: &str| {
        Ok(error_to_client(&redirect_uri, code, description, client_state.as_deref(), &iss))
    };
    match state_param {
        Ok(Some(s)) if !state_ok(&s) => {
            return fail(
                ErrorCode::InvalidRequest,
                &format!("state must be at most {MAX_STATE_LEN} printable ASCII characters"),
            );
        }
        // RFC 6749 §3.1: a parameter may not be repeated.
        Err(e) => return fail(ErrorCode::InvalidRequest, &e.description),
        Ok(_) => {}
    }
    let one = |name: &str| params.one(name).map_err(|e| e.description);
    let checked = (|| {
        let response_type = one("response_type")?;
        let challenge = one("code_challenge")?;
        let method = one("code_challenge_method")?;
        let scope = one("scope")?;
        Ok::<_, String>((response_type, challenge, method, scope))
    })();
    let (response_type, challenge, method, scope) = match checked {
        Ok(values) => values,
        Err(e) => return fail(ErrorCode::InvalidRequest, &e),
    };
    match response_type {
        Some("code") => {}
        None => return fail(ErrorCode::InvalidRequest, "response_type is required"),
        Some(other) => {
            return fail(
                ErrorCode::UnsupportedResponseType,
                &format!("response_type {other:?} is not supported: use code"),
            );
        }
    }
    if let Err(e) = check_code_challenge(challenge, method) {
        return fail(ErrorCode::InvalidRequest, &e);
    }
    let scopes = match Scopes::for_client(scope, client.metadata.scope.as_deref()) {
        Ok(scopes) => scopes,
        Err(e) => return fail(ErrorCode::InvalidScope, &e),
    };
    let resource = match check_resource(&state, &hosted, &params.all("resource")) {
        Ok(resource) => resource,
        Err(e) => return fail(ErrorCode::InvalidTarget, &e),
    };

    let now = state.clock.now();
    let (browser_secret, jar) = match jar.get(BROWSER_COOKIE) {
        Some(cookie) => (cookie.value().to_owned(), jar),
        None => {
            let secret = NewSecretToken::generate("").secret.expose_secret().to_owned();
            let jar = jar.add(cookie(&state, &hosted.origin, BROWSER_COOKIE, secret.clone()));
            (secret, jar)
        }
    };
    let request = AuthorizationRequest {
        id: AuthorizationRequestId::new(),
        organization_id: hosted.server.organization_id,
        mcp_server_id: hosted.server.id,
        issuer: iss.clone(),
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.clone(),
        redirect_uri_given: requested_redirect.is_some(),
        scopes,
        resource,
        state: client_state.clone(),
        code_challenge: challenge.unwrap_or_default().to_owned(),
        browser_hash: TokenHash::of(&browser_secret),
        end_user_id: None,
        handoff_hash: None,
        created_at: now,
        expires_at: now + AUTHORIZATION_REQUEST_TTL,
    };
    state.store.create_authorization_request(&request).await?;

    // Someone already signed in here who allowed this client these scopes: no need to ask again.
    if let Some(end_user) = signed_in_end_user(&state, &hosted.server, &jar).await?
        && let Some(granted) =
            state.store.find_grant(hosted.server.id, end_user, &client.client_id).await?
        && request.scopes.is_subset_of(&granted)
    {
        return Ok((jar, issue_code(&state, &request, end_user).await?).into_response());
    }
    let page = consent_page(&hosted, &client, &request, &browser_secret);
    Ok((jar, no_cache(page)).into_response())
}

fn consent_page(
    hosted: &super::HostedServer,
    client: &OAuthClient,
    request: &AuthorizationRequest,
    browser_secret: &str,
) -> Response {
    let redirect_host = redirect_host(&request.redirect_uri).unwrap_or_default();
    let view = ConsentView {
        server_name: hosted.server.settings.name.clone(),
        client_name: client.metadata.display_name(),
        client_uri: client.metadata.client_uri.clone(),
        redirect_host,
        document_host: document_host(&client.client_id),
        loopback_only: client.metadata.loopback_only(),
        scopes: request.scopes.iter().map(|s| (s.to_owned(), describe_scope(s))).collect(),
        action: hosted.origin.url("/oauth/authorize/decision"),
        request_id: request.id.to_string(),
        csrf_token: csrf_token_for(browser_secret),
    };
    crate::views::render(StatusCode::OK, &view)
}

pub(super) async fn signed_in_end_user(
    state: &AppState,
    server: &McpServer,
    jar: &CookieJar,
) -> Result<Option<EndUserId>, ApiError> {
    let Some(cookie) = jar.get(END_USER_COOKIE) else {
        return Ok(None);
    };
    let token = TokenHash::of(cookie.value());
    Ok(state.store.find_end_user_session(server.id, &token, state.clock.now()).await?)
}

// ---------------------------------------------------------------------------------------------
// POST /oauth/authorize/decision

#[derive(Debug, Deserialize)]
pub(super) struct Decision {
    request: String,
    csrf_token: String,
    decision: String,
}

/// The open request this browser made: the cookie must be the one the request was bound to
/// and, for a form, the token derived from it (so a page elsewhere cannot submit it).
pub(super) async fn own_request(
    state: &AppState,
    hosted: &super::HostedServer,
    jar: &CookieJar,
    request_id: &str,
    csrf_token: Option<&str>,
) -> Result<AuthorizationRequest, Response> {
    let stale = || {
        error_page(
            StatusCode::FORBIDDEN,
            "This sign-in has expired",
            "This authorization was started in another browser, has expired or was already \
             completed. Go back to your application and connect again.",
        )
    };
    let Ok(id) = request_id.parse::<AuthorizationRequestId>() else {
        return Err(stale());
    };
    let Some(cookie) = jar.get(BROWSER_COOKIE) else {
        return Err(stale());
    };
    let request = match state.store.get_authorization_request(id, state.clock.now()).await {
        Ok(Some(request)) if request.mcp_server_id == hosted.server.id => request,
        Ok(_) => return Err(stale()),
        Err(e) => return Err(crate::views::PageError(e.into()).into_response()),
    };
    let bound = TokenHash::of(cookie.value()) == request.browser_hash;
    let token_ok = csrf_token.is_none_or(|token| {
        constant_time_eq(token.as_bytes(), csrf_token_for(cookie.value()).as_bytes())
    });
    if bound && token_ok { Ok(request) } else { Err(stale()) }
}

pub(super) async fn decision(
    State(state): State<AppState>,
    OAuthServer(hosted): OAuthServer,
    headers: HeaderMap,
    jar: CookieJar,
    PageForm(form): PageForm<Decision>,
) -> Result<Response, ApiError> {
    if !same_origin(&headers, &hosted.origin) {
        return Ok(error_page(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "This form was sent from another site.",
        ));
    }
    let request =
        match own_request(&state, &hosted, &jar, &form.request, Some(&form.csrf_token)).await {
            Ok(request) => request,
            Err(page) => return Ok(page),
        };
    if form.decision != "allow" {
        state.store.close_authorization_request(request.id, state.clock.now()).await?;
        return Ok(error_to_client(
            &request.redirect_uri,
            ErrorCode::AccessDenied,
            "the user declined",
            request.state.as_deref(),
            &request.issuer,
        ));
    }
    if let Some(end_user) = signed_in_end_user(&state, &hosted.server, &jar).await? {
        return issue_code(&state, &request, end_user).await;
    }
    match hosted.server.settings.auth_mode {
        AuthMode::CustomOauth => {
            let provider_id = hosted.server.settings.identity_provider_id.ok_or_else(|| {
                ApiError::Internal("a custom_oauth server without a provider".into())
            })?;
            let provider = state
                .store
                .get_identity_provider(hosted.server.organization_id, provider_id)
                .await?;
            let begun = upstream::begin(
                &state,
                UpstreamClient::Organization(&provider),
                mcplatform_core::upstream_login::LoginPurpose::EndUserLogin,
                None,
                Some(request.id),
            )
            .await;
            match begun {
                Ok(begun) => Ok(Redirect::to(begun.url.as_str()).into_response()),
                Err(e) => {
                    tracing::warn!(error = %e, server = %hosted.server.id, "cannot reach the identity provider");
                    Ok(error_to_client(
                        &request.redirect_uri,
                        ErrorCode::TemporarilyUnavailable,
                        "the identity provider cannot be reached",
                        request.state.as_deref(),
                        &request.issuer,
                    ))
                }
            }
        }
        AuthMode::PlatformOauth => {
            Ok(Redirect::to(&super::login::page_url(&hosted, request.id)).into_response())
        }
        // `OAuthServer` lets only the OAuth modes through.
        AuthMode::None | AuthMode::TrackingId | AuthMode::CollectEmail => {
            Err(ApiError::Internal("an authorization request to a server without OAuth".into()))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Back from the identity provider

/// The upstream callback of an end-user login (on the platform's host): records who signed in
/// on the request, then sends the browser back to the server's own host, where its cookie shows
/// it is the browser that asked.
pub(crate) async fn finish_upstream_login(
    state: &AppState,
    login: &UpstreamLogin,
    outcome: Outcome,
) -> Response {
    match finish_upstream(state, login, outcome).await {
        Ok(response) | Err(response) => response,
    }
}

async fn finish_upstream(
    state: &AppState,
    login: &UpstreamLogin,
    outcome: Outcome,
) -> Result<Response, Response> {
    let stale = || {
        error_page(
            StatusCode::BAD_REQUEST,
            "This sign-in has expired",
            "Go back to your application and connect again.",
        )
    };
    let page_error = |e: ApiError| crate::views::PageError(e).into_response();
    let (Some(request_id), ProviderRef::Organization { organization_id, provider_id }) =
        (login.authorization_request_id, &login.provider)
    else {
        return Err(stale());
    };
    let now = state.clock.now();
    let request = state
        .store
        .get_authorization_request(request_id, now)
        .await
        .map_err(|e| page_error(e.into()))?
        .filter(|r| r.organization_id == *organization_id)
        .ok_or_else(stale)?;
    let to_client_error = |code: ErrorCode, description: &str| {
        error_to_client(
            &request.redirect_uri,
            code,
            description,
            request.state.as_deref(),
            &request.issuer,
        )
    };
    let provider = state
        .store
        .get_identity_provider(*organization_id, *provider_id)
        .await
        .map_err(|e| page_error(e.into()))?;
    let (identity, tokens) =
        match outcome.finish(state, login, UpstreamClient::Organization(&provider)).await {
            Ok(done) => done,
            Err((message, declined)) => {
                tracing::info!(%message, declined, "end-user sign-in did not complete");
                return Err(if declined {
                    to_client_error(ErrorCode::AccessDenied, "the user did not sign in")
                } else {
                    to_client_error(ErrorCode::ServerError, "the identity provider sign-in failed")
                });
            }
        };
    let login = EndUserLogin::new(
        provider.id.to_string(),
        identity.subject,
        identity.email,
        identity.email_verified,
        identity.name,
        identity.claims,
    )
    .map_err(|e| {
        tracing::warn!(error = %e, provider = %provider.id, "unusable user id from the provider");
        to_client_error(ErrorCode::ServerError, "the identity provider's user id cannot be used")
    })?;
    let end_user = state
        .store
        .record_end_user_login(*organization_id, &login, now)
        .await
        .map_err(|e| page_error(e.into()))?;
    let sealed = tokens.seal(&state.master_key, end_user.id, provider.id, now);
    state
        .store
        .store_upstream_tokens(end_user.id, provider.id, &sealed, now)
        .await
        .map_err(|e| page_error(e.into()))?;
    // Whoever finished the sign-in gets the one link that completes the request: a browser
    // that only holds the request's cookie (the one that asked) cannot complete someone
    // else's sign-in, and the person who signed in cannot complete it without that browser.
    let handoff = NewSecretToken::generate("");
    match state
        .store
        .set_authorization_request_user(request.id, end_user.id, &handoff.hash, now)
        .await
    {
        Ok(()) => {}
        Err(mcplatform_store::StoreError::NotFound) => return Err(stale()),
        Err(e) => return Err(page_error(e.into())),
    }
    let mut next = Url::parse(&format!("{}/oauth/authorize/continue", request.issuer))
        .map_err(|e| page_error(ApiError::Internal(Box::new(e))))?;
    next.query_pairs_mut()
        .append_pair("request", &request.id.to_string())
        .append_pair("handoff", handoff.secret.expose_secret());
    Ok(Redirect::to(next.as_str()).into_response())
}

#[derive(Debug, Deserialize)]
pub(super) struct ContinueQuery {
    request: String,
    handoff: String,
}

/// `GET /oauth/authorize/continue`: the browser back on the server's host after signing in.
pub(super) async fn resume(
    State(state): State<AppState>,
    OAuthServer(hosted): OAuthServer,
    jar: CookieJar,
    PageQuery(query): PageQuery<ContinueQuery>,
) -> Result<Response, ApiError> {
    let request = match own_request(&state, &hosted, &jar, &query.request, None).await {
        Ok(request) => request,
        Err(page) => return Ok(page),
    };
    let handed_off = request.handoff_hash.as_ref().is_some_and(|h| h.matches(&query.handoff));
    let (Some(end_user_id), true) = (request.end_user_id, handed_off) else {
        return Ok(error_page(
            StatusCode::FORBIDDEN,
            "Not signed in here",
            "This sign-in was not completed in this browser. Go back to your application and \
             connect again.",
        ));
    };
    let end_user = state.store.get_end_user(hosted.server.organization_id, end_user_id).await?;
    sign_in(&state, &hosted, jar, &request, &end_user).await
}

/// The person is who they said: they stay signed in at this server's pages (a cookie), and the
/// client gets its code.
pub(super) async fn sign_in(
    state: &AppState,
    hosted: &super::HostedServer,
    jar: CookieJar,
    request: &AuthorizationRequest,
    end_user: &EndUser,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let session = NewSecretToken::generate("");
    state
        .store
        .create_end_user_session(
            hosted.server.id,
            end_user,
            &session.hash,
            now,
            now + END_USER_SESSION_TTL,
        )
        .await?;
    let mut session_cookie =
        cookie(state, &hosted.origin, END_USER_COOKIE, session.secret.expose_secret().to_owned());
    session_cookie.set_max_age(time::Duration::try_from(END_USER_SESSION_TTL).ok());
    let response = issue_code(state, request, end_user.id).await?;
    Ok((jar.add(session_cookie), response).into_response())
}

/// Closes the request with a fresh code (remembering the consent) and sends it to the client.
async fn issue_code(
    state: &AppState,
    request: &AuthorizationRequest,
    end_user: EndUserId,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let code = NewSecretToken::generate(AUTHORIZATION_CODE_PREFIX);
    let stored = AuthorizationCode {
        code_hash: code.hash,
        organization_id: request.organization_id,
        mcp_server_id: request.mcp_server_id,
        issuer: request.issuer.clone(),
        client_id: request.client_id.clone(),
        end_user_id: end_user,
        redirect_uri: request.redirect_uri.clone(),
        redirect_uri_given: request.redirect_uri_given,
        scopes: request.scopes.clone(),
        resource: request.resource.clone(),
        code_challenge: request.code_challenge.clone(),
        family_id: TokenFamilyId::new(),
        created_at: now,
        expires_at: now + AUTHORIZATION_CODE_TTL,
    };
    match state.store.issue_authorization_code(request.id, &stored, now).await {
        Ok(()) => {}
        Err(mcplatform_store::StoreError::NotFound) => {
            return Ok(error_page(
                StatusCode::BAD_REQUEST,
                "Already completed",
                "This authorization was already completed. Go back to your application.",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(to_client(
        &request.redirect_uri,
        &[("code", code.secret.expose_secret())],
        request.state.as_deref(),
        &request.issuer,
    ))
}
