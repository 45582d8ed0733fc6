//! Sessions of hosted servers, kept in the database: rmcp restores a stateful session from its
//! stored `initialize` parameters on any node (or after a restart), and stateless (2026-07-28)
//! requests are grouped into derived sessions.

use std::sync::Arc;

use mcplatform_core::clock::Clock;
use mcplatform_core::crypto::TokenHash;
use mcplatform_core::hosting::{
    DERIVED_SESSION_IDLE, IdentitySource, McpSession, SessionKind, client_text, public_session_id,
};
use mcplatform_core::ids::McpServerId;
use mcplatform_store::{Store, StoreError};
use rmcp::model::Implementation;
use rmcp::transport::streamable_http_server::session::{
    SessionState, SessionStore as RmcpSessionStore, SessionStoreError,
};

use super::{Caller, Identity, MAX_CLIENT_NAME, MAX_CLIENT_VERSION};
use crate::AppState;

/// rmcp's external session store, on our `mcp_sessions` table.
#[derive(Debug)]
pub struct StoredSessions {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
}

#[async_trait::async_trait]
impl RmcpSessionStore for StoredSessions {
    async fn load(&self, session_id: &str) -> Result<Option<SessionState>, SessionStoreError> {
        let id = public_session_id(session_id);
        let Some(state) = self.store.mcp_session_state(&id).await? else { return Ok(None) };
        match serde_json::from_str(&state) {
            Ok(state) => Ok(Some(state)),
            // Written by another version of rmcp, say: the client starts a new session.
            Err(err) => {
                tracing::warn!(error = %err, "a stored MCP session cannot be restored");
                Ok(None)
            }
        }
    }

    /// Nothing to do: the endpoint writes the session's row, state included, when the
    /// `initialize` answer goes out (the row needs the caller, which this call does not have).
    async fn store(&self, _: &str, _: &SessionState) -> Result<(), SessionStoreError> {
        Ok(())
    }

    async fn delete(&self, session_id: &str) -> Result<(), SessionStoreError> {
        Ok(self.store.close_mcp_session(&public_session_id(session_id), self.clock.now()).await?)
    }
}

/// The derived session of a stateless request: the same user (or, anonymous, the same address
/// and user agent) with the same client, seen within [`DERIVED_SESSION_IDLE`], is one session.
pub async fn derived_session(
    state: &AppState,
    caller: &Caller,
    protocol_version: &str,
    client: Option<&Implementation>,
) -> Result<String, StoreError> {
    let who = match caller.identity.end_user {
        Some(user) => format!("user:{user}"),
        None => format!(
            "anonymous:{}:{}",
            caller.ip.as_deref().unwrap_or_default(),
            caller.user_agent.as_deref().unwrap_or_default()
        ),
    };
    let client_name = client.map(|c| client_text(&c.name, MAX_CLIENT_NAME));
    // Hashed: it is looked up by an index, whatever the client put in its name.
    let key =
        TokenHash::of(&format!("{who}|{}", client_name.as_deref().unwrap_or_default())).to_hex();
    let server = caller.server.id;
    let cache_key: (McpServerId, String) = (server, key.clone());
    if let Some(id) = state.hosting.derived.get(&cache_key) {
        return Ok(id);
    }
    let now = state.clock.now();
    let found = state.store.find_derived_session(server, &key, now - DERIVED_SESSION_IDLE).await?;
    let id = match found {
        Some(session) => session.id,
        None => {
            let session = McpSession {
                id: format!("drv_{}", uuid::Uuid::now_v7().simple()),
                organization_id: caller.server.organization_id,
                mcp_server_id: server,
                end_user_id: caller.identity.end_user,
                identity_source: caller.identity.source,
                kind: SessionKind::Derived,
                protocol_version: client_text(protocol_version, MAX_CLIENT_VERSION),
                client_name,
                client_version: client.map(|c| client_text(&c.version, MAX_CLIENT_VERSION)),
                ip: caller.ip.clone(),
                user_agent: caller.user_agent.clone(),
                derivation_key: Some(key),
                first_seen_at: now,
                last_seen_at: now,
                closed_at: None,
            };
            state.store.create_mcp_session(&session, None).await?;
            session.id
        }
    };
    state.hosting.derived.insert(cache_key, id.clone());
    Ok(id)
}

/// Whether a stored session may serve this caller: the same server, open, and the same end
/// user (MCP security best practices, "Session Hijacking": bind sessions to the user).
pub fn belongs_to(session: &McpSession, server: McpServerId, caller: Identity) -> bool {
    session.mcp_server_id == server
        && session.closed_at.is_none()
        && match (session.end_user_id, caller.end_user) {
            (Some(bound), Some(user)) => bound == user,
            // Bound to someone, presented by nobody: only an identity made in this session (an
            // address given for collect_email, or the anonymous person a walkthrough needed)
            // binds without a credential, and then the session carries it.
            (Some(_), None) => {
                matches!(session.identity_source, IdentitySource::Email | IdentitySource::None)
            }
            // An anonymous session is nobody's: a caller who is someone has sessions of their own.
            (None, user) => user.is_none(),
        }
}
