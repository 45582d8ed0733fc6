//! `/oauth/register`: dynamic client registration (RFC 7591 §3), open to any client, as the
//! MCP authorization spec expects of servers without pre-registered clients.

use axum::Json;
use axum::body::Bytes;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mcplatform_core::oauth::client::{ClientMetadata, ClientMetadataInput, RegistrationKind};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use super::OAuthServer;
use super::error::{ErrorCode, OAuthError, no_store};
use crate::AppState;
use crate::oauth_clients::{NewClient, create_client};

/// RFC 7591 §3.2.1: the registered metadata, with the id, its issue time and the secret.
pub fn registration_response(new: &NewClient) -> Value {
    let client = &new.client;
    let mut body = serde_json::to_value(&client.metadata).unwrap_or_else(|_| json!({}));
    if let Value::Object(fields) = &mut body {
        fields.retain(|_, value| !value.is_null());
        fields.insert("client_id".into(), json!(client.client_id));
        fields.insert("client_id_issued_at".into(), json!(client.created_at.unix_timestamp()));
        if let Some(secret) = &new.secret {
            fields.insert("client_secret".into(), json!(secret.expose_secret()));
            // The secret does not expire.
            fields.insert("client_secret_expires_at".into(), json!(0));
        }
    }
    body
}

pub(super) async fn register(
    State(state): State<AppState>,
    hosted: OAuthServer,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    // Registration is open to anyone: each one is a row kept, so it is throttled.
    let server_key = hosted.0.server.id.to_string();
    if let Err(retry_after) = state.registration_limiter.check(peer.ip(), &server_key) {
        return Ok(crate::ApiError::TooManyRequests { retry_after }.into_response());
    }
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return Err(OAuthError::new(
            ErrorCode::InvalidClientMetadata,
            "send the client metadata as application/json (RFC 7591 §3.1)",
        ));
    }
    let input: ClientMetadataInput = serde_json::from_slice(&body).map_err(|e| {
        OAuthError::new(ErrorCode::InvalidClientMetadata, format!("malformed metadata: {e}"))
    })?;
    // RFC 7591 §3.2.2 names two errors: the redirect URIs, or any other field.
    let metadata = ClientMetadata::validate(input).map_err(|e| {
        let code = if e.field == "redirect_uris" {
            ErrorCode::InvalidRedirectUri
        } else {
            ErrorCode::InvalidClientMetadata
        };
        OAuthError::new(code, e.to_string())
    })?;
    let new = create_client(&state, &hosted.0.server, metadata, RegistrationKind::Dynamic).await?;
    tracing::info!(client_id = new.client.client_id, server = %hosted.0.server.id, "client registered");
    Ok((StatusCode::CREATED, no_store(), Json(registration_response(&new))).into_response())
}
