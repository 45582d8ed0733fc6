//! Every hosted MCP server is its own OAuth 2.1 authorization server and protected resource
//! (MCP authorization spec; `shared/reference/mcp-auth.md` §1). This module holds what
//! identifies one (the issuer of the URL form the request came through), its metadata
//! documents and its signing keys.

pub mod authorize;
pub mod clients;
pub mod error;
mod grants;
pub mod introspection;
pub mod keys;
mod login;
mod metadata;
pub(crate) mod pages;
mod params;
pub mod register;
pub(crate) mod token;

use axum::Router;
use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::routing::{get, post};
use mcplatform_core::mcp_server::{AuthMode, McpServer, Slug};
use mcplatform_core::oauth::{ServerOrigin, UrlForm};

use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        // RFC 8414 §3.1 inserts the well-known segment before the issuer's path (`/s/{slug}`);
        // OpenID Connect Discovery appends it. A subdomain request is rewritten to `/s/{slug}`
        // first, so the appended routes serve its root well-known paths too.
        .route(
            "/.well-known/oauth-authorization-server/s/{slug}",
            get(metadata::authorization_server),
        )
        .route("/.well-known/openid-configuration/s/{slug}", get(metadata::authorization_server))
        .route(
            "/s/{slug}/.well-known/oauth-authorization-server",
            get(metadata::authorization_server),
        )
        .route("/s/{slug}/.well-known/openid-configuration", get(metadata::authorization_server))
        // RFC 9728 §3.1: the same insertion before each MCP endpoint's path.
        .route(
            "/.well-known/oauth-protected-resource/s/{slug}/{*resource}",
            get(metadata::protected_resource),
        )
        .route("/s/{slug}/.well-known/oauth-protected-resource", get(metadata::protected_resource))
        .route(
            "/s/{slug}/.well-known/oauth-protected-resource/{*resource}",
            get(metadata::protected_resource),
        )
        .route("/s/{slug}/oauth/jwks", get(keys::jwks))
        .route("/s/{slug}/oauth/register", post(register::register))
        .route("/s/{slug}/oauth/authorize", get(authorize::authorize))
        .route("/s/{slug}/oauth/authorize/decision", post(authorize::decision))
        .route("/s/{slug}/oauth/authorize/continue", get(authorize::resume))
        .route("/s/{slug}/oauth/login", get(login::page))
        .route("/s/{slug}/oauth/login/password", post(login::password))
        .route("/s/{slug}/oauth/login/code", post(login::send_code))
        .route("/s/{slug}/oauth/login/verify", post(login::verify))
        .route("/s/{slug}/oauth/grants", get(grants::list))
        .route("/s/{slug}/oauth/grants/revoke", post(grants::revoke))
        .route("/s/{slug}/oauth/token", post(token::token))
        .route("/s/{slug}/oauth/revoke", post(introspection::revoke))
        .route("/s/{slug}/oauth/introspect", post(introspection::introspect))
        .route(
            "/s/{slug}/oauth/userinfo",
            get(introspection::userinfo).post(introspection::userinfo),
        )
        .route("/api/mcp-auth/validate", post(introspection::validate))
        // 2025-03-26 clients skip discovery and use these on the MCP server's origin (which is
        // the server's own only on its subdomain).
        .route("/s/{slug}/authorize", get(authorize::authorize))
        .route("/s/{slug}/token", post(token::token))
        .route("/s/{slug}/register", post(register::register))
}

/// The server's issuer on both URL forms: its tokens name one of them.
pub(crate) fn server_issuers(state: &AppState, server: &McpServer) -> Vec<String> {
    [UrlForm::Subdomain, UrlForm::Path]
        .into_iter()
        .map(|form| ServerOrigin::new(&state.config.base_url, &server.slug, form).issuer())
        .collect()
}

/// Every MCP endpoint URL of a server, on both URL forms (RFC 8707 resource indicators).
pub(crate) fn server_resources(state: &AppState, server: &McpServer) -> Vec<String> {
    [UrlForm::Subdomain, UrlForm::Path]
        .into_iter()
        .flat_map(|form| ServerOrigin::new(&state.config.base_url, &server.slug, form).resources())
        .collect()
}

/// A hosted server whose end users sign in with OAuth (`platform_oauth` or `custom_oauth`):
/// the only ones with an authorization server. Others answer 404 on its endpoints.
#[derive(Debug, Clone)]
pub struct OAuthServer(pub HostedServer);

impl FromRequestParts<AppState> for OAuthServer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let hosted = HostedServer::from_request_parts(parts, state).await?;
        match hosted.server.settings.auth_mode {
            AuthMode::PlatformOauth | AuthMode::CustomOauth => Ok(Self(hosted)),
            _ => Err(ApiError::NotFound),
        }
    }
}

/// The hosted server a request is for, and the origin (issuer) it was reached through.
#[derive(Debug, Clone)]
pub struct HostedServer {
    pub server: McpServer,
    pub origin: ServerOrigin,
}

impl FromRequestParts<AppState> for HostedServer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound)?;
        let slug = params.iter().find(|(name, _)| *name == "slug").map(|(_, value)| value);
        let slug = slug.and_then(|slug| Slug::parse(slug).ok()).ok_or(ApiError::NotFound)?;
        let server = state.store.find_mcp_server_by_slug(&slug).await?.ok_or(ApiError::NotFound)?;
        let form = parts.extensions.get::<UrlForm>().copied().unwrap_or(UrlForm::Path);
        let origin = ServerOrigin::new(&state.config.base_url, &server.slug, form);
        Ok(Self { server, origin })
    }
}
