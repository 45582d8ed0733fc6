//! Finding the client of a request: one registered with the server (`mcp_client_…`), or one
//! whose `client_id` is the URL of its metadata document (CIMD), fetched through the guarded
//! [`OutboundClient`](crate::outbound::OutboundClient) and kept as HTTP caching allows.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::{HeaderMap, Request, StatusCode, header};
use mcplatform_core::mcp_server::McpServer;
use mcplatform_core::oauth::client::{ClientMetadata, OAuthClient};
use mcplatform_core::oauth::client_document::{
    MAX_DOCUMENT_BYTES, check_client_id_url, document_host, is_document_url, parse_document,
};
use time::{Duration, OffsetDateTime};

use crate::{ApiError, AppState};

/// How long a document without caching headers is kept.
const DEFAULT_FRESHNESS: Duration = Duration::minutes(5);
/// The longest a document is kept, whatever its headers say.
const MAX_FRESHNESS: Duration = Duration::hours(24);
/// A document that could not be used is not fetched again for this long: a stream of
/// authorization requests naming one URL must not become a stream of requests to it.
const FAILURE_FRESHNESS: Duration = Duration::seconds(30);
/// Documents kept at most; past it, the expired ones go, then all.
const MAX_ENTRIES: usize = 1_000;

/// Why no client could be found for a `client_id`.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no application with this client_id is registered with this server")]
    Unknown,
    /// The metadata document could not be fetched or used: the reason, for the person.
    #[error("the client metadata document at {url} cannot be used: {reason}")]
    Document { url: String, reason: String },
    #[error(transparent)]
    Failed(#[from] ApiError),
}

impl From<mcplatform_store::StoreError> for ClientError {
    fn from(err: mcplatform_store::StoreError) -> Self {
        Self::Failed(err.into())
    }
}

/// The client `client_id` names at `server`, if it may use it.
pub(crate) async fn find(
    state: &AppState,
    server: &McpServer,
    client_id: &str,
) -> Result<OAuthClient, ClientError> {
    if !is_document_url(client_id) {
        return state
            .store
            .find_oauth_client(server.id, client_id)
            .await?
            .ok_or(ClientError::Unknown);
    }
    let now = state.clock.now();
    let metadata = state
        .client_documents
        .get(state, client_id, now)
        .await
        .map_err(|reason| ClientError::Document { url: client_id.to_owned(), reason })?;
    Ok(OAuthClient::from_document(client_id, server.organization_id, server.id, metadata, now))
}

/// How a person recognises the client `client_id` names: a registered one by its name, one of
/// a metadata document by the document's host (without fetching it).
pub(crate) async fn label(
    state: &AppState,
    server: &McpServer,
    client_id: &str,
) -> Result<String, ApiError> {
    if let Some(host) = document_host(client_id) {
        return Ok(format!("{host} (metadata document)"));
    }
    Ok(match state.store.find_oauth_client(server.id, client_id).await? {
        Some(client) => client.metadata.display_name(),
        None => client_id.to_owned(),
    })
}

/// Fetched documents by URL, for every server (a document describes its client the same way
/// to all), in this process only.
#[derive(Debug, Default)]
pub struct ClientDocuments {
    entries: Mutex<HashMap<String, Cached>>,
}

#[derive(Debug, Clone)]
struct Cached {
    document: Result<ClientMetadata, String>,
    fresh_until: OffsetDateTime,
    /// The last document that was fetched and valid, and when: served while its host fails
    /// (stale-if-error, RFC 5861 §4), for at most [`MAX_FRESHNESS`] after it was fetched, so
    /// a short outage there does not sign every user of that client out.
    last_good: Option<(ClientMetadata, OffsetDateTime)>,
}

impl ClientDocuments {
    async fn get(
        &self,
        state: &AppState,
        url: &str,
        now: OffsetDateTime,
    ) -> Result<ClientMetadata, String> {
        // Before the cache: only a well-formed URL (bounded in length) becomes a key.
        check_client_id_url(url, state.outbound.policy().allow_private_networks)?;
        let earlier = self.lock().get(url).cloned();
        if let Some(cached) = earlier.as_ref().filter(|c| c.fresh_until > now) {
            return cached.document.clone();
        }
        let last_good = earlier
            .and_then(|cached| cached.last_good)
            .filter(|(_, fetched_at)| now - *fetched_at < MAX_FRESHNESS);
        let (document, freshness, last_good) = match fetch(state, url).await {
            Ok((metadata, freshness)) => (Ok(metadata.clone()), freshness, Some((metadata, now))),
            Err(reason) => match last_good {
                Some((metadata, fetched_at)) => {
                    tracing::warn!(%url, %reason, "client metadata document unavailable: serving the last one fetched");
                    (Ok(metadata.clone()), Some(FAILURE_FRESHNESS), Some((metadata, fetched_at)))
                }
                None => (Err(reason), Some(FAILURE_FRESHNESS), None),
            },
        };
        if let Some(freshness) = freshness {
            let mut entries = self.lock();
            if entries.len() >= MAX_ENTRIES {
                entries.retain(|_, c| c.fresh_until > now);
                if entries.len() >= MAX_ENTRIES {
                    entries.clear();
                }
            }
            let cached =
                Cached { document: document.clone(), fresh_until: now + freshness, last_good };
            entries.insert(url.to_owned(), cached);
        }
        document
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cached>> {
        // A panic while holding the lock leaves a map that is still a valid cache.
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Fetches and checks the document; how long it may be kept (`None`: not at all).
async fn fetch(state: &AppState, url: &str) -> Result<(ClientMetadata, Option<Duration>), String> {
    let request = Request::get(url)
        .header(header::ACCEPT, "application/json")
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    // No redirects are followed, no private address is reached (outside development), and
    // at most MAX_DOCUMENT_BYTES are read.
    let response = state
        .outbound
        .execute_limited(request, MAX_DOCUMENT_BYTES)
        .await
        .map_err(|e| e.to_string())?;
    if response.status() != StatusCode::OK {
        return Err(format!("it answered HTTP {}", response.status().as_u16()));
    }
    let metadata = parse_document(url, response.body())?;
    Ok((metadata, freshness(response.headers())))
}

/// RFC 9111 §5.2.2: `no-store` and `no-cache` (which we would have to revalidate) keep
/// nothing; `s-maxage`, else `max-age`, says how long; without them, a few minutes.
fn freshness(headers: &HeaderMap) -> Option<Duration> {
    let directives: Vec<String> = headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|d| d.trim().to_ascii_lowercase())
        .collect();
    if directives.iter().any(|d| d == "no-store" || d == "no-cache") {
        return None;
    }
    let seconds = |name: &str| {
        directives.iter().find_map(|d| {
            let value = d.strip_prefix(name)?.strip_prefix('=')?;
            value.trim_matches('"').parse::<i64>().ok()
        })
    };
    let age = match seconds("s-maxage").or_else(|| seconds("max-age")) {
        Some(seconds) if seconds <= 0 => return None,
        Some(seconds) => Duration::seconds(seconds),
        None => DEFAULT_FRESHNESS,
    };
    Some(age.min(MAX_FRESHNESS))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(cache_control: &[&str]) -> Option<Duration> {
        let mut headers = HeaderMap::new();
        for value in cache_control {
            headers.append(header::CACHE_CONTROL, value.parse().unwrap());
        }
        freshness(&headers)
    }

    #[test]
    fn freshness_follows_cache_control_within_bounds() {
        assert_eq!(with(&[]), Some(DEFAULT_FRESHNESS));
        assert_eq!(with(&["public, max-age=600"]), Some(Duration::minutes(10)));
        assert_eq!(with(&["max-age=600", "s-maxage=60"]), Some(Duration::minutes(1)));
        assert_eq!(with(&["max-age=99999999"]), Some(MAX_FRESHNESS));
        assert_eq!(with(&["max-age=0"]), None);
        assert_eq!(with(&["no-store"]), None);
        assert_eq!(with(&["max-age=600, No-Cache"]), None);
        assert_eq!(with(&["max-age=\"120\""]), Some(Duration::minutes(2)));
    }
}
