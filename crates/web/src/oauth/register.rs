//! `/oauth/register`: dynamic client registration (RFC 7591 §3), open to any client, as the
//! MCP authorization spec expects of servers without pre-registered clients.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mcplatform_core::crypto::NewSecretToken;
use mcplatform_core::oauth::client::{
    CLIENT_ID_PREFIX, CLIENT_SECRET_PREFIX, ClientMetadata, ClientMetadataInput, OAuthClient,
    RegistrationKind,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::OAuthServer;
use super::error::{ErrorCode, OAuthError, no_store};
use crate::AppState;

/// A client just made, with its secret (if confidential) in the clear for the one answer that
/// shows it.
pub struct NewClient {
    pub client: OAuthClient,
    pub secret: Option<SecretString>,
}

/// Stores a new client of `server` with checked metadata.
pub async fn create_client(
    state: &AppState,
    server: &mcplatform_core::mcp_server::McpServer,
    metadata: ClientMetadata,
    kind: RegistrationKind,
) -> Result<NewClient, crate::ApiError> {
    // The id is random, not a secret: 256 bits make it unguessable all the same.
    let client_id = NewSecretToken::generate(CLIENT_ID_PREFIX).secret.expose_secret().to_owned();
    let secret = metadata
        .token_endpoint_auth_method
        .is_confidential()
        .then(|| NewSecretToken::generate(CLIENT_SECRET_PREFIX));
    let client = OAuthClient {
        client_id,
        organization_id: server.organization_id,
        mcp_server_id: server.id,
        secret_hash: secret.as_ref().map(|s| s.hash.clone()),
        metadata,
        kind,
        created_at: state.clock.now(),
        revoked_at: None,
    };
    state.store.create_oauth_client(&client).await?;
    Ok(NewClient { client, secret: secret.map(|s| s.secret) })
}

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
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
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
