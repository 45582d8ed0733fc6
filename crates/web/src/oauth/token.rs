//! `/oauth/token` (OAuth 2.1 §3.2): the authorization code grant with PKCE and the refresh
//! token grant with rotation; access tokens are RFC 9068 JWTs signed with the current key.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mcplatform_core::crypto::{NewSecretToken, TokenHash};
use mcplatform_core::ids::TokenFamilyId;
use mcplatform_core::mcp_server::McpServer;
use mcplatform_core::oauth::client::OAuthClient;
use mcplatform_core::oauth::grant::{
    ACCESS_TOKEN_TYP, AccessTokenClaims, REFRESH_TOKEN_PREFIX, RefreshToken, Scopes, TokenFamily,
    verify_code_verifier,
};
use mcplatform_core::oauth::signing_key;
use secrecy::ExposeSecret;
use serde_json::json;
use time::OffsetDateTime;

use super::OAuthServer;
use super::error::{ErrorCode, OAuthError, no_store};
use super::params::{Params, decode};
use crate::{AppState, extract};

/// RFC 6749 §2.3.1: `client_secret_basic` (id and secret form-urlencoded, then Basic), or
/// `client_secret_post`, or for a public client its `client_id` alone.
pub(super) async fn authenticate_client(
    state: &AppState,
    server: &McpServer,
    headers: &HeaderMap,
    params: &Params,
) -> Result<OAuthClient, OAuthError> {
    let basic = match extract::authorization(headers, "basic") {
        Some(credentials) => {
            let decoded = STANDARD
                .decode(credentials)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .and_then(|pair| {
                    let (id, secret) = pair.split_once(':')?;
                    Some((decode(id.as_bytes()).ok()?, decode(secret.as_bytes()).ok()?))
                });
            let Some(pair) = decoded else {
                return Err(OAuthError::invalid_client("malformed Basic credentials"));
            };
            Some(pair)
        }
        None => None,
    };
    let reject = OAuthError::invalid_client;
    let (form_client_id, form_secret) = (params.one("client_id")?, params.one("client_secret")?);
    let (client_id, secret) = match (&basic, form_client_id, form_secret) {
        (Some(_), _, Some(_)) => {
            return Err(OAuthError::invalid_request("use one client authentication method"));
        }
        (Some((id, _)), Some(form_id), None) if form_id != id => {
            return Err(OAuthError::invalid_request("client_id differs from the credentials"));
        }
        (Some((id, secret)), _, None) => (id.as_str(), Some(secret.as_str())),
        (None, Some(id), secret) => (id, secret),
        (None, None, _) => return Err(reject("client authentication is required")),
    };
    let client = match super::clients::find(state, server, client_id).await {
        Ok(client) => client,
        Err(super::clients::ClientError::Failed(e)) => return Err(e.into()),
        Err(e) => return Err(reject(&e.to_string())),
    };
    match (&client.secret_hash, secret) {
        (Some(hash), Some(secret)) if hash.matches(secret) => Ok(client),
        (Some(_), _) => Err(reject("wrong or missing client secret")),
        (None, None) => Ok(client),
        (None, Some(_)) => Err(reject("this client is public: it has no secret")),
    }
}

pub(super) async fn token(
    State(state): State<AppState>,
    OAuthServer(hosted): OAuthServer,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, OAuthError> {
    let form = Params::form(&headers, &body)?;
    let grant_type = form.required("grant_type")?;
    let client = authenticate_client(&state, &hosted.server, &headers, &form).await?;
    let issued = match grant_type {
        "authorization_code" => authorization_code(&state, &hosted.server, &client, &form).await?,
        "refresh_token" => {
            if !client.metadata.allows_refresh() {
                return Err(OAuthError::new(
                    ErrorCode::UnauthorizedClient,
                    "this client did not register the refresh_token grant",
                ));
            }
            refresh_token(&state, &hosted.server, &client, &form).await?
        }
        other => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                format!("grant_type {other:?} is not supported"),
            ));
        }
    };
    Ok((no_store(), Json(issued)).into_response())
}

/// RFC 6749 §4.1.3 with RFC 7636 §4.5 and RFC 8707 §2.2.
async fn authorization_code(
    state: &AppState,
    server: &McpServer,
    client: &OAuthClient,
    form: &Params,
) -> Result<serde_json::Value, OAuthError> {
    let code_text = form.required("code")?;
    let verifier = form.required("code_verifier")?;
    let now = state.clock.now();
    let hash = TokenHash::of(code_text);
    let Some(stored) = state.store.find_authorization_code(&hash).await? else {
        return Err(OAuthError::invalid_grant("the code is not valid"));
    };
    let code = stored.code;
    if code.mcp_server_id != server.id || code.client_id != client.client_id {
        return Err(OAuthError::invalid_grant("the code was not issued to this client"));
    }
    if stored.used_at.is_some() {
        // OAuth 2.1 §4.1.3: a code used twice was stolen; what it issued is revoked.
        state.store.revoke_token_family(code.family_id, "code_reused", now).await?;
        tracing::warn!(
            client_id = client.client_id,
            "authorization code replayed: its tokens are revoked"
        );
        return Err(OAuthError::invalid_grant("the code was already used"));
    }
    if code.expires_at <= now {
        return Err(OAuthError::invalid_grant("the code has expired"));
    }
    let redirect_uri = form.one("redirect_uri")?;
    let redirect_ok = match redirect_uri {
        Some(uri) => uri == code.redirect_uri,
        None => !code.redirect_uri_given,
    };
    if !redirect_ok {
        return Err(OAuthError::invalid_grant(
            "redirect_uri differs from the authorization request",
        ));
    }
    if !verify_code_verifier(&code.code_challenge, verifier) {
        return Err(OAuthError::invalid_grant(
            "the code_verifier does not match the code_challenge",
        ));
    }
    if let Some(resource) = form.one("resource")?
        && resource != code.resource
    {
        return Err(OAuthError::new(
            ErrorCode::InvalidTarget,
            "resource differs from the authorization request",
        ));
    }
    let settings = &server.settings;
    let refresh =
        client.metadata.allows_refresh().then(|| new_refresh(code.family_id, now, settings));
    let family = TokenFamily {
        id: code.family_id,
        organization_id: code.organization_id,
        mcp_server_id: code.mcp_server_id,
        issuer: code.issuer,
        client_id: code.client_id,
        end_user_id: code.end_user_id,
        scopes: code.scopes,
        resource: code.resource,
        created_at: now,
        last_used_at: now,
        expires_at: refresh.as_ref().map_or(now + settings.access_token_ttl, |(r, _)| r.expires_at),
        revoked_at: None,
    };
    // Signed before the code is spent: a failure to sign must leave the code usable, not turn
    // the client's retry into a replay that revokes everything.
    let access_token = sign_access_token(state, server, &family, &family.scopes, now)?;
    if !state
        .store
        .redeem_authorization_code(&hash, &family, refresh.as_ref().map(|(r, _)| r), now)
        .await?
    {
        // Used a moment ago by a concurrent request: a replay all the same.
        state.store.revoke_token_family(family.id, "code_reused", now).await?;
        return Err(OAuthError::invalid_grant("the code was already used"));
    }
    Ok(token_response(server, access_token, &family.scopes, refresh.map(|(_, secret)| secret)))
}

fn new_refresh(
    family: TokenFamilyId,
    now: OffsetDateTime,
    settings: &mcplatform_core::mcp_server::McpServerSettings,
) -> (RefreshToken, String) {
    let token = NewSecretToken::generate(REFRESH_TOKEN_PREFIX);
    let refresh = RefreshToken {
        token_hash: token.hash,
        family_id: family,
        created_at: now,
        expires_at: now + settings.refresh_token_ttl,
        rotated_at: None,
    };
    (refresh, token.secret.expose_secret().to_owned())
}

/// RFC 6749 §6 with rotation (OAuth 2.1 §4.3.1): a new refresh token each time; a rotated one
/// presented again revokes the family.
async fn refresh_token(
    state: &AppState,
    server: &McpServer,
    client: &OAuthClient,
    form: &Params,
) -> Result<serde_json::Value, OAuthError> {
    let presented = TokenHash::of(form.required("refresh_token")?);
    let now = state.clock.now();
    let Some((token, family)) = state.store.find_refresh_token(&presented).await? else {
        return Err(OAuthError::invalid_grant("the refresh token is not valid"));
    };
    if family.client_id != client.client_id || family.mcp_server_id != server.id {
        return Err(OAuthError::invalid_grant("the refresh token was not issued to this client"));
    }
    if family.revoked_at.is_some() {
        return Err(OAuthError::invalid_grant("the refresh token was revoked"));
    }
    if token.rotated_at.is_some() {
        state.store.revoke_token_family(family.id, "refresh_token_reused", now).await?;
        tracing::warn!(client_id = client.client_id, "refresh token reused: its family is revoked");
        return Err(OAuthError::invalid_grant("the refresh token was already used"));
    }
    if token.expires_at <= now {
        return Err(OAuthError::invalid_grant("the refresh token has expired"));
    }
    let scopes = match form.one("scope")? {
        None => family.scopes.clone(),
        Some(requested) => {
            let requested = Scopes::parse(Some(requested))
                .map_err(|e| OAuthError::new(ErrorCode::InvalidScope, e))?;
            if !requested.is_subset_of(&family.scopes) {
                return Err(OAuthError::new(
                    ErrorCode::InvalidScope,
                    "a refresh may narrow the granted scopes, not widen them",
                ));
            }
            requested
        }
    };
    if let Some(resource) = form.one("resource")?
        && resource != family.resource
    {
        return Err(OAuthError::new(
            ErrorCode::InvalidTarget,
            "resource differs from the one the tokens were issued for",
        ));
    }
    // Signed before the rotation, for the same reason as codes.
    let access_token = sign_access_token(state, server, &family, &scopes, now)?;
    let (next, secret) = new_refresh(family.id, now, &server.settings);
    if !state.store.rotate_refresh_token(&presented, &next, now).await? {
        state.store.revoke_token_family(family.id, "refresh_token_reused", now).await?;
        return Err(OAuthError::invalid_grant("the refresh token was already used"));
    }
    Ok(token_response(server, access_token, &scopes, Some(secret)))
}

/// A fresh RFC 9068 access token for the family, signed with the current key.
fn sign_access_token(
    state: &AppState,
    server: &McpServer,
    family: &TokenFamily,
    scopes: &Scopes,
    now: OffsetDateTime,
) -> Result<String, OAuthError> {
    let ttl = server.settings.access_token_ttl;
    let claims = AccessTokenClaims {
        iss: family.issuer.clone(),
        sub: family.end_user_id.to_string(),
        aud: family.resource.clone(),
        client_id: family.client_id.clone(),
        scope: scopes.to_string(),
        exp: (now + ttl).unix_timestamp(),
        iat: now.unix_timestamp(),
        jti: uuid::Uuid::now_v7().to_string(),
        sid: family.id.to_string(),
    };
    let keys = state.keys.snapshot();
    let key = signing_key::current(&keys, now).ok_or_else(|| {
        tracing::error!("no signing key is current: tokens cannot be issued");
        OAuthError::new(ErrorCode::TemporarilyUnavailable, "no signing key is ready; try again")
    })?;
    let signer = key.signer(&state.master_key).map_err(|e| {
        tracing::error!(error = %e, kid = key.kid, "cannot open the signing key");
        OAuthError::new(ErrorCode::ServerError, "cannot sign tokens")
    })?;
    signer.sign(ACCESS_TOKEN_TYP, &claims).map_err(|e| {
        tracing::error!(error = %e, "cannot sign an access token");
        OAuthError::new(ErrorCode::ServerError, "cannot sign tokens")
    })
}

/// RFC 6749 §5.1.
fn token_response(
    server: &McpServer,
    access_token: String,
    scopes: &Scopes,
    refresh: Option<String>,
) -> serde_json::Value {
    let ttl = server.settings.access_token_ttl;
    let mut body = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": ttl.as_secs(),
        "scope": scopes.to_string(),
    });
    if let Some(refresh) = refresh {
        body["refresh_token"] = json!(refresh);
    }
    body
}
