//! Creating and checking API keys, and remembering when they were last used without a database
//! write per request: uses collect in memory and a background task writes them in batches.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use mcplatform_core::ValidationError;
use mcplatform_core::api_key::{
    API_KEY_PREFIX, ApiKey, ApiKeyScope, VISIBLE_KEY_CHARS, parse_scopes,
};
use mcplatform_core::audit::action;
use mcplatform_core::crypto::{NewSecretToken, TokenHash};
use mcplatform_core::ids::ApiKeyId;
use mcplatform_core::org::parse_display_name;
use mcplatform_store::NewApiKey;
use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;

use serde_json::json;

use crate::access::{Actor, OrgAccess};
use crate::{ApiError, AppState, audit};

/// Last-use times not yet written to the database.
#[derive(Debug, Default)]
pub struct KeyUsage {
    pending: Mutex<HashMap<ApiKeyId, OffsetDateTime>>,
}

impl KeyUsage {
    pub fn record(&self, key: ApiKeyId, at: OffsetDateTime) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = pending.entry(key).or_insert(at);
        *entry = (*entry).max(at);
    }

    fn drain(&self) -> Vec<(ApiKeyId, OffsetDateTime)> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner).drain().collect()
    }

    /// Writes what was collected; on failure the times are kept for the next flush.
    pub async fn flush(&self, state: &AppState) {
        let batch = self.drain();
        if batch.is_empty() {
            return;
        }
        if let Err(err) = state.store.record_api_key_usage(&batch).await {
            tracing::warn!(error = ?err, keys = batch.len(), "could not record API key usage; will retry");
            for (key, at) in batch {
                self.record(key, at);
            }
        }
    }
}

/// A key just created, with its secret: shown once, never stored.
#[derive(Debug)]
pub struct CreatedKey {
    pub key: ApiKey,
    pub secret: SecretString,
}

/// Creates a key for the organization, or for one of its servers. Admins only.
pub async fn create(
    state: &AppState,
    access: &OrgAccess,
    actor: &Actor,
    name: &str,
    server: Option<&str>,
    scopes: &[String],
) -> Result<CreatedKey, ApiError> {
    access.require(mcplatform_core::org::Role::Admin)?;
    let name = parse_display_name("name", name, 100)?;
    let name = name.as_str();
    let server = match server.map(str::trim).filter(|s| !s.is_empty()) {
        Some(id) => Some(access.server(state, id).await.map_err(|err| match err {
            ApiError::NotFound => ApiError::Validation(ValidationError::new(
                "mcp_server_id",
                "no such server in this organization",
            )),
            other => other,
        })?),
        None => None,
    };
    let scopes = parse_scopes(scopes, server.is_some())?;
    let token = NewSecretToken::generate(API_KEY_PREFIX);
    let visible_prefix: String =
        token.secret.expose_secret().chars().take(VISIBLE_KEY_CHARS).collect();
    let new = NewApiKey {
        organization_id: access.org.id,
        mcp_server_id: server.map(|s| s.id),
        name: name.to_owned(),
        visible_prefix,
        token_hash: token.hash,
        scopes,
        created_by: actor.user_id,
    };
    let key = state.store.create_api_key(&new, state.clock.now()).await?;
    let scopes: Vec<_> = key.scopes.iter().map(|s| s.as_str()).collect();
    let detail = json!({ "scopes": scopes, "prefix": key.visible_prefix });
    audit::record(
        state,
        Some(access.org.id),
        actor,
        action::API_KEY_CREATED,
        format!("API key {}", key.name),
        detail,
    )
    .await;
    Ok(CreatedKey { key, secret: token.secret })
}

/// Revokes a key of the organization; admins only.
pub async fn revoke(
    state: &AppState,
    access: &OrgAccess,
    actor: &Actor,
    key: ApiKeyId,
) -> Result<(), ApiError> {
    access.require(mcplatform_core::org::Role::Admin)?;
    let existing = state.store.get_api_key(access.org.id, key).await?;
    state.store.revoke_api_key(access.org.id, key, state.clock.now()).await?;
    let target = format!("API key {}", existing.name);
    audit::record(state, Some(access.org.id), actor, action::API_KEY_REVOKED, target, json!({}))
        .await;
    Ok(())
}

/// The active key a bearer secret belongs to, if it carries `scope`. Records the use.
pub async fn authenticate(
    state: &AppState,
    secret: &str,
    scope: ApiKeyScope,
) -> Result<ApiKey, ApiError> {
    if !secret.starts_with(API_KEY_PREFIX) {
        return Err(ApiError::Unauthorized);
    }
    let key = state
        .store
        .find_active_api_key(&TokenHash::of(secret))
        .await?
        .ok_or(ApiError::Unauthorized)?;
    if !key.allows(scope) {
        return Err(ApiError::Forbidden);
    }
    state.key_usage.record(key.id, state.clock.now());
    Ok(key)
}
