//! `/api/v1/orgs/{org_id}/api-keys`: server and organization API keys.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use mcplatform_core::api_key::{ApiKey, ApiKeyScope};
use mcplatform_core::org::Role;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use mcplatform_core::ids::ApiKeyId;

use super::{ApiCaller, PageQuery, Paged};
use crate::AppState;
use crate::access::path_id;
use crate::api_keys;
use crate::error::Result;
use crate::extract::{AppJson, AppQuery};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs/{org_id}/api-keys", get(list).post(create))
        .route("/orgs/{org_id}/api-keys/{key_id}", delete(revoke))
}

#[derive(Debug, Serialize)]
pub struct KeyResponse {
    id: String,
    name: String,
    /// The first characters of the key, to recognise it.
    prefix: String,
    mcp_server_id: Option<String>,
    scopes: Vec<ApiKeyScope>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    last_used_at: Option<time::OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    revoked_at: Option<time::OffsetDateTime>,
}

impl From<ApiKey> for KeyResponse {
    fn from(key: ApiKey) -> Self {
        Self {
            id: key.id.to_string(),
            name: key.name,
            prefix: key.visible_prefix,
            mcp_server_id: key.mcp_server_id.map(|id| id.to_string()),
            scopes: key.scopes,
            created_at: key.created_at,
            last_used_at: key.last_used_at,
            revoked_at: key.revoked_at,
        }
    }
}

async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(org_id): Path<String>,
    AppQuery(page): AppQuery<PageQuery>,
) -> Result<AppJson<Paged<KeyResponse>>> {
    let access = caller.org_access(&state, &org_id).await?;
    access.require(Role::Admin)?;
    let keys = state.store.list_api_keys(access.org.id, page.request()).await?;
    Ok(AppJson(Paged::new(keys, KeyResponse::from)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateKeyRequest {
    name: String,
    scopes: Vec<String>,
    /// A server key when set; an organization key otherwise.
    mcp_server_id: Option<String>,
}

/// The new key with its secret, which is never shown again.
#[derive(Debug, Serialize)]
struct CreatedKeyResponse {
    #[serde(flatten)]
    key: KeyResponse,
    secret: String,
}

async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(org_id): Path<String>,
    AppJson(body): AppJson<CreateKeyRequest>,
) -> Result<(StatusCode, AppJson<CreatedKeyResponse>)> {
    let access = caller.org_access(&state, &org_id).await?;
    let created = api_keys::create(
        &state,
        &access,
        &caller.actor(),
        &body.name,
        body.mcp_server_id.as_deref(),
        &body.scopes,
    )
    .await?;
    let secret = created.secret.expose_secret().to_owned();
    Ok((StatusCode::CREATED, AppJson(CreatedKeyResponse { key: created.key.into(), secret })))
}

async fn revoke(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((org_id, key)): Path<(String, String)>,
) -> Result<StatusCode> {
    let access = caller.org_access(&state, &org_id).await?;
    api_keys::revoke(&state, &access, &caller.actor(), path_id::<ApiKeyId>(&key)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
