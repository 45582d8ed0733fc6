//! What a token is worth: introspection (RFC 7662) for resource servers holding an
//! `auth:introspect` key, the same answer at `/api/mcp-auth/validate` for our SDKs, userinfo
//! (OpenID Connect Core §5.3) for clients, and revocation (RFC 7009).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mcplatform_core::api_key::ApiKeyScope;
use mcplatform_core::crypto::TokenHash;
use mcplatform_core::mcp_server::McpServer;
use mcplatform_core::oauth::grant::{
    ACCESS_TOKEN_TYP, AccessTokenClaims, REFRESH_TOKEN_PREFIX, TokenFamily,
};
use mcplatform_core::oauth::signing_key;
use serde_json::{Value, json};

use super::error::{OAuthError, no_store};
use super::params::Params;
use super::token::authenticate_client;
use super::{OAuthServer, server_issuers, server_resources};
use crate::{ApiError, AppState, api_keys, extract};

/// An access token that is ours, for this server, unexpired and not revoked.
#[derive(Debug, Clone)]
pub struct ValidToken {
    pub claims: AccessTokenClaims,
    pub family: TokenFamily,
}

/// Checks a bearer access token for `server` (signature, `typ`, issuer, audience, expiry),
/// then its family: a revoked grant, client or family makes it worthless before it expires.
pub async fn validate_access_token(
    state: &AppState,
    server: &McpServer,
    token: &str,
) -> Result<Option<ValidToken>, ApiError> {
    let now = state.clock.now();
    let issuers = server_issuers(state, server);
    let resources = server_resources(state, server);
    let keys = state.keys.snapshot();
    let issuers: Vec<&str> = issuers.iter().map(String::as_str).collect();
    let audiences: Vec<&str> = resources.iter().map(String::as_str).collect();
    let Ok(claims) = signing_key::verify::<AccessTokenClaims>(
        &keys,
        token,
        ACCESS_TOKEN_TYP,
        &issuers,
        &audiences,
        now,
    ) else {
        return Ok(None);
    };
    let Ok(family_id) = claims.sid.parse() else {
        return Ok(None);
    };
    let family = state.store.find_token_family(family_id).await?;
    Ok(family
        .filter(|f| f.revoked_at.is_none() && f.mcp_server_id == server.id)
        .map(|family| ValidToken { claims, family }))
}

/// RFC 7662 §2.2: `active` and, for an active token, what it grants.
async fn inspect(state: &AppState, server: &McpServer, token: &str) -> Result<Value, ApiError> {
    let inactive = json!({"active": false});
    if token.starts_with(REFRESH_TOKEN_PREFIX) {
        let now = state.clock.now();
        let found = state.store.find_refresh_token(&TokenHash::of(token)).await?;
        return Ok(match found {
            Some((refresh, family))
                if family.mcp_server_id == server.id
                    && family.revoked_at.is_none()
                    && refresh.rotated_at.is_none()
                    && refresh.expires_at > now =>
            {
                json!({
                    "active": true,
                    "token_type": "refresh_token",
                    "scope": family.scopes.to_string(),
                    "client_id": family.client_id,
                    "sub": family.end_user_id.to_string(),
                    "aud": family.resource,
                    "iss": family.issuer,
                    "exp": refresh.expires_at.unix_timestamp(),
                    "iat": refresh.created_at.unix_timestamp(),
                })
            }
            _ => inactive,
        });
    }
    let Some(valid) = validate_access_token(state, server, token).await? else {
        return Ok(inactive);
    };
    let c = valid.claims;
    let mut answer = json!({
        "active": true,
        "token_type": "Bearer",
        "scope": c.scope,
        "client_id": c.client_id,
        "sub": c.sub,
        "aud": c.aud,
        "iss": c.iss,
        "exp": c.exp,
        "iat": c.iat,
        "jti": c.jti,
    });
    // Who the end user is, so a server needs no second call to know them.
    let end_user =
        match state.store.get_end_user(server.organization_id, valid.family.end_user_id).await {
            Ok(end_user) => end_user,
            // Deleted since: nobody for the token to stand for.
            Err(mcplatform_store::StoreError::NotFound) => return Ok(inactive),
            Err(e) => return Err(e.into()),
        };
    answer["email"] = json!(end_user.email);
    answer["email_verified"] = json!(end_user.email_verified_at.is_some());
    answer["name"] = json!(end_user.name);
    Ok(answer)
}

/// How a resource server authenticates to introspect: a Bearer API key.
const RESOURCE_SERVER_CHALLENGE: &str = "Bearer realm=\"introspection\"";

/// The caller of an introspection: a server key with `auth:introspect`, for this server.
async fn authenticate_resource_server(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<mcplatform_core::api_key::ApiKey, Response> {
    let unauthorized = |description: &str| {
        OAuthError::invalid_client(description)
            .with_challenge(RESOURCE_SERVER_CHALLENGE)
            .into_response()
    };
    let secret = extract::authorization(headers, "bearer").ok_or_else(|| {
        unauthorized("present an API key with the auth:introspect scope as a Bearer token")
    })?;
    match api_keys::authenticate(state, secret, ApiKeyScope::AuthIntrospect).await {
        Ok(key) => Ok(key),
        Err(ApiError::Forbidden) => {
            Err(unauthorized("this API key lacks the auth:introspect scope"))
        }
        Err(ApiError::Unauthorized) => Err(unauthorized("unknown or revoked API key")),
        Err(other) => Err(OAuthError::from(other).into_response()),
    }
}

/// The `token` of a form (RFC 7662 §2.1, RFC 7009 §2.1) or of a JSON body.
fn token_parameter(headers: &HeaderMap, body: &Bytes) -> Result<String, OAuthError> {
    let content_type =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if content_type.starts_with("application/json") {
        serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("token").and_then(Value::as_str).map(str::to_owned))
            .filter(|t| !t.is_empty())
            .ok_or_else(|| OAuthError::invalid_request("token is required"))
    } else {
        Params::form(headers, body)?.required("token").map(str::to_owned)
    }
}

/// `POST /oauth/introspect` (RFC 7662).
pub(super) async fn introspect(
    State(state): State<AppState>,
    OAuthServer(hosted): OAuthServer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let key = match authenticate_resource_server(&state, &headers).await {
        Ok(key) => key,
        Err(response) => return Ok(response),
    };
    if key.mcp_server_id != Some(hosted.server.id) {
        return Err(OAuthError::invalid_client("this API key belongs to another server")
            .with_challenge(RESOURCE_SERVER_CHALLENGE));
    }
    let token = token_parameter(&headers, &body)?;
    let answer = inspect(&state, &hosted.server, &token).await?;
    Ok((no_store(), Json(answer)).into_response())
}

/// `POST /api/mcp-auth/validate`: introspection for the server the API key belongs to, so an
/// SDK needs only the platform URL and its key.
pub(crate) async fn validate(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let key = match authenticate_resource_server(&state, &headers).await {
        Ok(key) => key,
        Err(response) => return Ok(response),
    };
    let Some(server_id) = key.mcp_server_id else {
        return Err(OAuthError::invalid_client("use a server key, not an organization key")
            .with_challenge(RESOURCE_SERVER_CHALLENGE));
    };
    let server = state.store.get_mcp_server(key.organization_id, server_id).await?;
    let token = token_parameter(&headers, &body)?;
    let answer = inspect(&state, &server, &token).await?;
    Ok((no_store(), Json(answer)).into_response())
}

/// `GET`/`POST /oauth/userinfo` (OpenID Connect Core §5.3) with the access token: who the end
/// user is, as far as the token's scopes allow.
pub(super) async fn userinfo(
    State(state): State<AppState>,
    OAuthServer(hosted): OAuthServer,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let invalid = |error: &str| {
        let challenge = format!("Bearer error=\"{error}\"");
        let mut response =
            (StatusCode::UNAUTHORIZED, no_store(), Json(json!({"error": error}))).into_response();
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
        }
        response
    };
    let Some(token) = extract::authorization(&headers, "bearer") else {
        return Ok(invalid("invalid_request"));
    };
    let Some(valid) = validate_access_token(&state, &hosted.server, token).await? else {
        return Ok(invalid("invalid_token"));
    };
    let end_user =
        state.store.get_end_user(hosted.server.organization_id, valid.family.end_user_id).await?;
    let scopes = mcplatform_core::oauth::grant::Scopes::from_stored(&valid.claims.scope);
    let mut answer = json!({"sub": valid.claims.sub});
    if scopes.contains("email") {
        answer["email"] = json!(end_user.email);
        answer["email_verified"] = json!(end_user.email_verified_at.is_some());
    }
    if scopes.contains("profile") {
        answer["name"] = json!(end_user.name);
    }
    Ok((no_store(), Json(answer)).into_response())
}

/// `POST /oauth/revoke` (RFC 7009): the client's refresh or access token, and with it every token
/// of its grant. Unknown tokens are answered the same 200 (§2.2).
pub(super) async fn revoke(
    State(state): State<AppState>,
    OAuthServer(hosted): OAuthServer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let form = Params::form(&headers, &body)?;
    let client = authenticate_client(&state, &hosted.server, &headers, &form).await?;
    let token = form.required("token")?;
    let now = state.clock.now();
    let family = if token.starts_with(REFRESH_TOKEN_PREFIX) {
        state.store.find_refresh_token(&TokenHash::of(token)).await?.map(|(_, family)| family)
    } else {
        validate_access_token(&state, &hosted.server, token).await?.map(|valid| valid.family)
    };
    // §2.1: a token of another client is not this client's to revoke (and is not said to exist).
    if let Some(family) =
        family.filter(|f| f.client_id == client.client_id && f.mcp_server_id == hosted.server.id)
    {
        state.store.revoke_token_family(family.id, "revoked_by_client", now).await?;
    }
    Ok((StatusCode::OK, no_store()).into_response())
}
