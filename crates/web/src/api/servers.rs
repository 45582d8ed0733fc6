//! `/api/v1/orgs/{org_id}/servers`: hosted MCP servers, and `/api/v1/slug-availability`.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use mcplatform_core::ValidationError;
use mcplatform_core::mcp_server::{AuthMode, McpServer, McpServerSettings, Slug};
use mcplatform_core::org::Role;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiCaller, PageQuery, Paged, says};
use crate::AppState;
use crate::error::{ErrorBody, Result};
use crate::extract::{AppJson, AppPath, AppQuery};
use crate::servers::{self, ServerUrls, SlugStatus, slug_status};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list, create))
        .routes(routes!(read, update, delete))
        .routes(routes!(availability))
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = McpServer)]
pub struct ServerResponse {
    #[schema(format = Uuid)]
    id: String,
    #[schema(format = Uuid)]
    organization_id: String,
    slug: String,
    name: String,
    description: String,
    product_name: String,
    auth_mode: AuthMode,
    /// The identity provider `custom_oauth` users sign in with; null in other modes.
    #[schema(format = Uuid)]
    identity_provider_id: Option<String>,
    support_tool_enabled: bool,
    walkthrough_tool_enabled: bool,
    telemetry_enabled: bool,
    /// A disabled server's MCP endpoint answers 404; its data and settings are kept.
    enabled: bool,
    access_token_ttl_seconds: u64,
    refresh_token_ttl_seconds: u64,
    #[serde(flatten)]
    urls: ServerUrls,
    #[serde(with = "time::serde::rfc3339")]
    created_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: time::OffsetDateTime,
}

impl ServerResponse {
    fn new(state: &AppState, server: McpServer) -> Self {
        let urls = ServerUrls::new(&state.config.base_url, &server.slug);
        let settings = server.settings;
        Self {
            id: server.id.to_string(),
            organization_id: server.organization_id.to_string(),
            slug: server.slug.to_string(),
            name: settings.name,
            description: settings.description,
            product_name: settings.product_name,
            auth_mode: settings.auth_mode,
            identity_provider_id: settings.identity_provider_id.map(|id| id.to_string()),
            support_tool_enabled: settings.support_tool_enabled,
            walkthrough_tool_enabled: settings.walkthrough_tool_enabled,
            telemetry_enabled: settings.telemetry_enabled,
            enabled: settings.enabled,
            access_token_ttl_seconds: settings.access_token_ttl.as_secs(),
            refresh_token_ttl_seconds: settings.refresh_token_ttl.as_secs(),
            urls,
            created_at: server.created_at,
            updated_at: server.updated_at,
        }
    }
}

/// Settings to change; absent fields keep their value.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SettingsPatch {
    /// 1 to 100 characters.
    name: Option<String>,
    /// At most 2000 characters.
    description: Option<String>,
    /// The name tools use for the product ("Ask Acme support…"); empty means the name.
    product_name: Option<String>,
    auth_mode: Option<AuthMode>,
    /// The organization's identity provider `custom_oauth` users sign in with (required in
    /// that mode, refused in others; switching to another mode lets go of it).
    #[schema(format = Uuid)]
    identity_provider_id: Option<String>,
    support_tool_enabled: Option<bool>,
    walkthrough_tool_enabled: Option<bool>,
    telemetry_enabled: Option<bool>,
    /// False switches the server's MCP endpoint off (404) without deleting anything.
    enabled: Option<bool>,
    /// 60 to 86400.
    access_token_ttl_seconds: Option<u64>,
    /// At least the access token's, at most 365 days.
    refresh_token_ttl_seconds: Option<u64>,
}

impl SettingsPatch {
    fn apply(self, mut settings: McpServerSettings) -> Result<McpServerSettings> {
        if let Some(name) = self.name {
            settings.name = name.trim().to_owned();
        }
        if let Some(description) = self.description {
            settings.description = description.trim().to_owned();
        }
        if let Some(product_name) = self.product_name {
            settings.product_name = product_name.trim().to_owned();
        }
        if settings.product_name.is_empty() {
            settings.product_name.clone_from(&settings.name);
        }
        if let Some(mode) = self.auth_mode {
            if mode != AuthMode::CustomOauth {
                settings.identity_provider_id = None;
            }
            settings.auth_mode = mode;
        }
        if let Some(id) = self.identity_provider_id {
            let id = id.parse().map_err(|_| {
                ValidationError::new("identity_provider_id", "is not an identity provider id")
            })?;
            settings.identity_provider_id = Some(id);
        }
        settings.support_tool_enabled =
            self.support_tool_enabled.unwrap_or(settings.support_tool_enabled);
        settings.walkthrough_tool_enabled =
            self.walkthrough_tool_enabled.unwrap_or(settings.walkthrough_tool_enabled);
        settings.telemetry_enabled = self.telemetry_enabled.unwrap_or(settings.telemetry_enabled);
        settings.enabled = self.enabled.unwrap_or(settings.enabled);
        if let Some(secs) = self.access_token_ttl_seconds {
            settings.access_token_ttl = Duration::from_secs(secs);
        }
        if let Some(secs) = self.refresh_token_ttl_seconds {
            settings.refresh_token_ttl = Duration::from_secs(secs);
        }
        settings.validate()?;
        Ok(settings)
    }
}

/// A new server: its slug, a name, and any other settings; absent ones take their default.
// The fields of `SettingsPatch` plus the slug, spelt out because serde cannot deny unknown
// fields through `#[serde(flatten)]`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateServerRequest {
    /// The server's address (`{slug}.{base host}`): 3 to 63 lowercase letters, digits and
    /// hyphens, unique across the platform.
    slug: String,
    /// 1 to 100 characters; needed.
    name: Option<String>,
    /// At most 2000 characters.
    description: Option<String>,
    /// The name tools use for the product ("Ask Acme support…"); empty means the name.
    product_name: Option<String>,
    auth_mode: Option<AuthMode>,
    /// The organization's identity provider `custom_oauth` users sign in with (required in
    /// that mode, refused in others; switching to another mode lets go of it).
    #[schema(format = Uuid)]
    identity_provider_id: Option<String>,
    support_tool_enabled: Option<bool>,
    walkthrough_tool_enabled: Option<bool>,
    telemetry_enabled: Option<bool>,
    /// False creates the server switched off (its MCP endpoint answers 404).
    enabled: Option<bool>,
    /// 60 to 86400.
    access_token_ttl_seconds: Option<u64>,
    /// At least the access token's, at most 365 days.
    refresh_token_ttl_seconds: Option<u64>,
}

impl CreateServerRequest {
    /// The slug, and the settings to apply to the defaults. Every field is named on both
    /// sides, so a setting added to one struct and not the other does not compile.
    fn split(self) -> (String, SettingsPatch) {
        let Self {
            slug,
            name,
            description,
            product_name,
            auth_mode,
            identity_provider_id,
            support_tool_enabled,
            walkthrough_tool_enabled,
            telemetry_enabled,
            enabled,
            access_token_ttl_seconds,
            refresh_token_ttl_seconds,
        } = self;
        let patch = SettingsPatch {
            name,
            description,
            product_name,
            auth_mode,
            identity_provider_id,
            support_tool_enabled,
            walkthrough_tool_enabled,
            telemetry_enabled,
            enabled,
            access_token_ttl_seconds,
            refresh_token_ttl_seconds,
        };
        (slug, patch)
    }
}

/// The organization's servers by name, a page at a time.
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/servers",
    operation_id = "list_servers",
    tag = "servers",
    params(("org_id" = Uuid, Path, description = says::ORG_ID), PageQuery),
    security(("session" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "A page of servers", body = Paged<ServerResponse>),
        (status = BAD_REQUEST, description = says::BAD_PAGE, body = ErrorBody),
        (status = NOT_FOUND, description = says::NO_ORG, body = ErrorBody),
    ),
)]
async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath(org_id): AppPath<String>,
    AppQuery(page): AppQuery<PageQuery>,
) -> Result<AppJson<Paged<ServerResponse>>> {
    let access = caller.org_access(&state, &org_id).await?;
    let servers = state.store.list_mcp_servers(access.org.id, page.request()).await?;
    Ok(AppJson(Paged::new(servers, |s| ServerResponse::new(&state, s))))
}

/// Creates a server; admins only.
#[utoipa::path(
    post,
    path = "/orgs/{org_id}/servers",
    operation_id = "create_server",
    tag = "servers",
    params(("org_id" = Uuid, Path, description = says::ORG_ID)),
    request_body = CreateServerRequest,
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = CREATED, description = "The new server", body = ServerResponse),
        (status = FORBIDDEN, description = says::NOT_ADMIN, body = ErrorBody),
        (status = NOT_FOUND, description = says::NO_ORG, body = ErrorBody),
        (status = CONFLICT, description = "The slug is taken (`conflict`)", body = ErrorBody),
        (
            status = UNPROCESSABLE_ENTITY,
            description = "A setting or the slug is invalid (`invalid_input` naming the `field`)",
            body = ErrorBody,
        ),
    ),
)]
async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath(org_id): AppPath<String>,
    AppJson(body): AppJson<CreateServerRequest>,
) -> Result<(StatusCode, AppJson<ServerResponse>)> {
    let access = caller.org_access(&state, &org_id).await?;
    access.require(Role::Admin)?;
    let (slug, patch) = body.split();
    let slug = Slug::parse(&slug)?;
    let settings = patch.apply(McpServerSettings::default())?;
    let server = servers::create(&state, &access, &caller.actor(), &slug, &settings).await?;
    Ok((StatusCode::CREATED, AppJson(ServerResponse::new(&state, server))))
}

/// One server of the organization.
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/servers/{server_id}",
    operation_id = "get_server",
    tag = "servers",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("server_id" = Uuid, Path, description = "The server's id"),
    ),
    security(("session" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "The server", body = ServerResponse),
        (
            status = NOT_FOUND,
            description = "No such organization or server, or the caller is not in the \
                organization (`not_found`)",
            body = ErrorBody,
        ),
    ),
)]
async fn read(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, server_id)): AppPath<(String, String)>,
) -> Result<AppJson<ServerResponse>> {
    let access = caller.org_access(&state, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    Ok(AppJson(ServerResponse::new(&state, server)))
}

/// Changes a server's settings; admins only. Absent fields keep their value.
#[utoipa::path(
    patch,
    path = "/orgs/{org_id}/servers/{server_id}",
    operation_id = "update_server",
    tag = "servers",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("server_id" = Uuid, Path, description = "The server's id"),
    ),
    request_body = SettingsPatch,
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "The server as it is now", body = ServerResponse),
        (status = FORBIDDEN, description = says::NOT_ADMIN, body = ErrorBody),
        (
            status = NOT_FOUND,
            description = "No such organization or server, or the caller is not in the \
                organization (`not_found`)",
            body = ErrorBody,
        ),
        (
            status = UNPROCESSABLE_ENTITY,
            description = "A setting is invalid (`invalid_input` naming the `field`)",
            body = ErrorBody,
        ),
    ),
)]
async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, server_id)): AppPath<(String, String)>,
    AppJson(patch): AppJson<SettingsPatch>,
) -> Result<AppJson<ServerResponse>> {
    let access = caller.org_access(&state, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    access.require(Role::Admin)?;
    let settings = patch.apply(server.settings.clone())?;
    let updated = servers::update(&state, &access, &caller.actor(), &server, &settings).await?;
    Ok(AppJson(ServerResponse::new(&state, updated)))
}

/// Deletes a server and its keys; admins only.
#[utoipa::path(
    delete,
    path = "/orgs/{org_id}/servers/{server_id}",
    operation_id = "delete_server",
    tag = "servers",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("server_id" = Uuid, Path, description = "The server's id"),
    ),
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = NO_CONTENT, description = "Deleted"),
        (status = FORBIDDEN, description = says::NOT_ADMIN, body = ErrorBody),
        (
            status = NOT_FOUND,
            description = "No such organization or server, or the caller is not in the \
                organization (`not_found`)",
            body = ErrorBody,
        ),
    ),
)]
async fn delete(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, server_id)): AppPath<(String, String)>,
) -> Result<StatusCode> {
    let access = caller.org_access(&state, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    servers::delete(&state, &access, &caller.actor(), &server).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SlugQuery {
    /// The slug to check.
    slug: String,
}

#[derive(Debug, Serialize, ToSchema)]
struct SlugAvailability {
    /// The slug checked, trimmed.
    slug: String,
    #[serde(flatten)]
    status: SlugStatus,
}

/// Whether a slug can be used for a new server.
#[utoipa::path(
    get,
    path = "/slug-availability",
    operation_id = "slug_availability",
    tag = "servers",
    params(SlugQuery),
    security(("session" = []), ("management_key" = [])),
    responses(
        (
            status = OK,
            description = "`available`, `taken`, or `invalid` with the reason",
            body = SlugAvailability,
        ),
        (
            status = BAD_REQUEST,
            description = "No `slug` parameter (`bad_request`)",
            body = ErrorBody,
        ),
    ),
)]
async fn availability(
    State(state): State<AppState>,
    ApiCaller(_): ApiCaller,
    AppQuery(query): AppQuery<SlugQuery>,
) -> Result<AppJson<SlugAvailability>> {
    let status = slug_status(&state, &query.slug).await?;
    Ok(AppJson(SlugAvailability { slug: query.slug.trim().to_owned(), status }))
}
