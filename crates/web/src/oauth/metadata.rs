//! The discovery documents: authorization server metadata (RFC 8414 §2, and the same as an
//! OpenID Provider configuration) and protected resource metadata (RFC 9728 §2).

use axum::Json;
use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use mcplatform_core::oauth::{RESOURCE_PATHS, RESOURCE_SCOPES, SCOPES_SUPPORTED};
use serde_json::{Value, json};
use std::collections::HashMap;

use super::{HostedServer, OAuthServer};
use crate::ApiError;

/// Token endpoint client authentication (RFC 7591 §2 names): public clients use none.
const CLIENT_AUTH_METHODS: [&str; 3] = ["none", "client_secret_basic", "client_secret_post"];

fn document(body: Value) -> Response {
    // Metadata changes rarely; an hour of caching spares clients a round trip per connect.
    ([(header::CACHE_CONTROL, "public, max-age=3600")], Json(body)).into_response()
}

fn server_metadata(hosted: &HostedServer) -> Value {
    let o = &hosted.origin;
    json!({
        "issuer": o.issuer(),
        "authorization_endpoint": o.url("/oauth/authorize"),
        "token_endpoint": o.url("/oauth/token"),
        "registration_endpoint": o.url("/oauth/register"),
        "revocation_endpoint": o.url("/oauth/revoke"),
        "introspection_endpoint": o.url("/oauth/introspect"),
        "userinfo_endpoint": o.url("/oauth/userinfo"),
        "jwks_uri": o.url("/oauth/jwks"),
        "scopes_supported": SCOPES_SUPPORTED,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        // Introspection callers present an `auth:introspect` API key as a bearer token.
        "introspection_endpoint_auth_methods_supported": ["bearer"],
        "code_challenge_methods_supported": ["S256"],
        // RFC 9207 §3.
        "authorization_response_iss_parameter_supported": true,
        // draft-ietf-oauth-client-id-metadata-document: an HTTPS URL may be the client_id.
        "client_id_metadata_document_supported": true,
        // OpenID Connect Discovery 1.0 §3 requires these of a provider configuration.
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "email", "email_verified", "name"],
    })
}

/// `/.well-known/oauth-authorization-server` (RFC 8414 §3), and the same document as
/// `/.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §4) for clients that try
/// OpenID discovery first.
pub(super) async fn authorization_server(OAuthServer(hosted): OAuthServer) -> Response {
    document(server_metadata(&hosted))
}

/// `/.well-known/oauth-protected-resource[/{resource path}]`: which authorization server
/// protects an MCP endpoint. The bare form describes `/mcp`, the main endpoint.
pub(super) async fn protected_resource(
    OAuthServer(hosted): OAuthServer,
    Path(params): Path<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let path = match params.get("resource") {
        Some(resource) => format!("/{resource}"),
        None => "/mcp".to_owned(),
    };
    if !RESOURCE_PATHS.contains(&path.as_str()) {
        return Err(ApiError::NotFound);
    }
    let o = &hosted.origin;
    Ok(document(json!({
        "resource": o.url(&path),
        "authorization_servers": [o.issuer()],
        "scopes_supported": RESOURCE_SCOPES,
        "bearer_methods_supported": ["header"],
        "resource_name": hosted.server.settings.name,
    })))
}
