//! The OAuth clients of an organization's servers as the organization manages them:
//! pre-registered clients (MCP authorization spec "Preregistration"), revocation of any
//! client, dynamic ones included, and of one end user's consent to one client.

use mcplatform_core::audit::action;
use mcplatform_core::crypto::NewSecretToken;
use mcplatform_core::ids::EndUserId;
use mcplatform_core::mcp_server::McpServer;
use mcplatform_core::oauth::client::{
    CLIENT_ID_PREFIX, CLIENT_SECRET_PREFIX, ClientMetadata, ClientMetadataInput, OAuthClient,
    RegistrationKind,
};
use mcplatform_core::org::Role;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::access::{Actor, OrgAccess};
use crate::{ApiError, AppState, audit};

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

/// Creates a client of `server` from RFC 7591 metadata; admins only. The answer carries the
/// secret of a confidential client, shown this once.
pub async fn create(
    state: &AppState,
    access: &OrgAccess,
    actor: &Actor,
    server: &McpServer,
    metadata: ClientMetadataInput,
) -> Result<NewClient, ApiError> {
    access.require(Role::Admin)?;
    let metadata = ClientMetadata::validate(metadata)?;
    let new = create_client(state, server, metadata, RegistrationKind::Preregistered).await?;
    audit::record(
        state,
        Some(access.org.id),
        actor,
        action::OAUTH_CLIENT_CREATED,
        format!("OAuth client {}", new.client),
        json!({"server": server.slug, "client_id": new.client.client_id}),
    )
    .await;
    Ok(new)
}

/// Revokes a client of `server` and every token it holds; admins only.
pub async fn revoke(
    state: &AppState,
    access: &OrgAccess,
    actor: &Actor,
    server: &McpServer,
    client: &OAuthClient,
) -> Result<(), ApiError> {
    access.require(Role::Admin)?;
    let now = state.clock.now();
    state.store.revoke_oauth_client(access.org.id, server.id, &client.client_id, now).await?;
    audit::record(
        state,
        Some(access.org.id),
        actor,
        action::OAUTH_CLIENT_REVOKED,
        format!("OAuth client {client}"),
        json!({"server": server.slug, "client_id": client.client_id}),
    )
    .await;
    Ok(())
}

/// Withdraws an end user's consent to a client on the server and revokes the tokens the
/// client holds for them: the next use of an access token fails, and the client must ask again.
pub async fn revoke_grant(
    state: &AppState,
    access: &OrgAccess,
    actor: &Actor,
    server: &McpServer,
    end_user: EndUserId,
    client_id: &str,
) -> Result<(), ApiError> {
    access.require(Role::Admin)?;
    // The end user must be the organization's (a grant of another's cannot be on its server,
    // but the audit entry names them).
    let person = state.store.get_end_user(access.org.id, end_user).await?;
    state.store.revoke_grant(server.id, end_user, client_id, state.clock.now()).await?;
    let who = person.display_name();
    audit::record(
        state,
        Some(access.org.id),
        actor,
        action::OAUTH_GRANT_REVOKED,
        format!("{who}'s access for {client_id}"),
        json!({"server": server.slug, "client_id": client_id, "end_user_id": end_user}),
    )
    .await;
    Ok(())
}
