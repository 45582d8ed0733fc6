//! The signing keys in memory, kept rotated, and the JWK Set every issuer publishes.

use std::sync::{Arc, RwLock};

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use mcplatform_core::oauth::signing_key::{self, SigningKey};
use serde_json::json;

use crate::{ApiError, AppState};

/// The published keys, as last read from the store. Readers take a cheap shared snapshot.
#[derive(Debug, Clone, Default)]
pub struct KeyRing(Arc<RwLock<Arc<[SigningKey]>>>);

impl KeyRing {
    pub fn snapshot(&self) -> Arc<[SigningKey]> {
        self.0.read().map(|keys| Arc::clone(&keys)).unwrap_or_else(|_| Arc::from(Vec::new()))
    }

    fn replace(&self, keys: Vec<SigningKey>) {
        if let Ok(mut current) = self.0.write() {
            *current = keys.into();
        }
    }
}

/// Makes sure a key signs now and its successor is published a day before it takes over,
/// then reloads the ring from the store (which other nodes may have rotated too).
pub async fn rotate(state: &AppState) -> Result<(), ApiError> {
    let now = state.clock.now();
    let keys = state.store.list_signing_keys(now).await?;
    if let Some(activates_at) = signing_key::next_activation(&keys, now) {
        let key = SigningKey::generate(&state.master_key, now, activates_at)
            .map_err(|e| ApiError::Internal(Box::new(e)))?;
        state.store.create_signing_key(&key).await?;
        tracing::info!(kid = key.kid, activates_at = %activates_at, "new signing key");
    }
    state.keys.replace(state.store.list_signing_keys(now).await?);
    Ok(())
}

/// `jwks_uri` (RFC 7517 §5): every published key, the next one included. One platform set,
/// served under each existing server's issuer.
pub async fn jwks(State(state): State<AppState>, _server: super::OAuthServer) -> impl IntoResponse {
    let now = state.clock.now();
    let keys = state.keys.snapshot();
    let set: Vec<_> = signing_key::published(&keys, now).into_iter().map(SigningKey::jwk).collect();
    ([(header::CACHE_CONTROL, "public, max-age=3600")], Json(json!({ "keys": set })))
}
