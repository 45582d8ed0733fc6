//! The OAuth clients of an organization's servers as the organization manages them:
//! pre-registered clients (MCP authorization spec "Preregistration") and revocation of any
//! client, dynamic ones included.

use mcplatform_core::audit::action;
use mcplatform_core::mcp_server::McpServer;
use mcplatform_core::oauth::client::{
    ClientMetadata, ClientMetadataInput, OAuthClient, RegistrationKind,
};
use mcplatform_core::org::Role;
use serde_json::json;

use crate::access::{Actor, OrgAccess};
use crate::oauth::register::{self, NewClient};
use crate::{ApiError, AppState, audit};

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
    let new =
        register::create_client(state, server, metadata, RegistrationKind::Preregistered).await?;
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
