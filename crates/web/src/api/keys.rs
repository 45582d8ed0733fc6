//! `/api/v1/orgs/{org_id}/api-keys`: server and organization API keys.

use axum::extract::State;
use axum::http::StatusCode;
use mcplatform_core::api_key::{ApiKey, ApiKeyScope};
use mcplatform_core::org::Role;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use mcplatform_core::ids::ApiKeyId;

use super::{ApiCaller, PageQuery, Paged, says};
use crate::AppState;
use crate::access::path_id;
use crate::api_keys;
use crate::error::{ErrorBody, Result};
use crate::extract::{AppJson, AppPath, AppQuery};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(list, create)).routes(routes!(revoke))
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ApiKey)]
pub struct KeyResponse {
    #[schema(format = Uuid)]
    id: String,
    name: String,
    /// The first characters of the key, to recognise it.
    prefix: String,
    /// The server of a server key; null for an organization key.
    #[schema(format = Uuid)]
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

/// The organization's API keys, revoked ones included, newest first, a page at a time;
/// admins only.
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/api-keys",
    operation_id = "list_api_keys",
    tag = "api-keys",
    params(("org_id" = Uuid, Path, description = says::ORG_ID), PageQuery),
    security(("session" = []), ("management_key" = [])),
    responses(
        (
            status = OK,
            description = "A page of keys, without their secrets",
            body = Paged<KeyResponse>,
        ),
        (status = BAD_REQUEST, description = says::BAD_PAGE, body = ErrorBody),
        (status = FORBIDDEN, description = says::NOT_ADMIN, body = ErrorBody),
        (status = NOT_FOUND, description = says::NO_ORG, body = ErrorBody),
    ),
)]
async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath(org_id): AppPath<String>,
    AppQuery(page): AppQuery<PageQuery>,
) -> Result<AppJson<Paged<KeyResponse>>> {
    let access = caller.org_access(&state, &org_id).await?;
    access.require(Role::Admin)?;
    let keys = state.store.list_api_keys(access.org.id, page.request()).await?;
    Ok(AppJson(Paged::new(keys, KeyResponse::from)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateKeyRequest {
    /// 1 to 100 characters.
    name: String,
    /// `management` for an organization key; `telemetry:write` and `auth:introspect` for a
    /// server key.
    #[schema(value_type = Vec<ApiKeyScope>)]
    scopes: Vec<String>,
    /// A server key when set; an organization key otherwise.
    #[schema(format = Uuid)]
    mcp_server_id: Option<String>,
}

/// The new key with its secret, which is never shown again.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CreatedApiKey)]
struct CreatedKeyResponse {
    #[serde(flatten)]
    key: KeyResponse,
    /// The key itself (`mcpk_…`): send it as `Authorization: Bearer …`.
    secret: String,
}

/// Creates a key; admins only. The answer is the only place its secret appears.
#[utoipa::path(
    post,
    path = "/orgs/{org_id}/api-keys",
    operation_id = "create_api_key",
    tag = "api-keys",
    params(("org_id" = Uuid, Path, description = says::ORG_ID)),
    request_body = CreateKeyRequest,
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = CREATED, description = "The new key and its secret", body = CreatedKeyResponse),
        (status = FORBIDDEN, description = says::NOT_ADMIN, body = ErrorBody),
        (status = NOT_FOUND, description = says::NO_ORG, body = ErrorBody),
        (
            status = UNPROCESSABLE_ENTITY,
            description = "The name, the scopes or the server is invalid (`invalid_input` naming \
                the `field`)",
            body = ErrorBody,
        ),
    ),
)]
async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath(org_id): AppPath<String>,
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

/// Revokes a key at once; admins only.
#[utoipa::path(
    delete,
    path = "/orgs/{org_id}/api-keys/{key_id}",
    operation_id = "revoke_api_key",
    tag = "api-keys",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("key_id" = Uuid, Path, description = "The key's id"),
    ),
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = NO_CONTENT, description = "Revoked"),
        (status = FORBIDDEN, description = says::NOT_ADMIN, body = ErrorBody),
        (
            status = NOT_FOUND,
            description = "No such organization or unrevoked key, or the caller is not in the \
                organization (`not_found`)",
            body = ErrorBody,
        ),
    ),
)]
async fn revoke(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, key)): AppPath<(String, String)>,
) -> Result<StatusCode> {
    let access = caller.org_access(&state, &org_id).await?;
    api_keys::revoke(&state, &access, &caller.actor(), path_id::<ApiKeyId>(&key)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
