//! `/api/v1/orgs/{org_id}/servers`: hosted MCP servers, and `/api/v1/slug-availability`.

use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use mcplatform_core::mcp_server::{AuthMode, McpServer, McpServerSettings, Slug};
use mcplatform_core::org::Role;
use serde::{Deserialize, Serialize};

use super::{ApiCaller, PageQuery, Paged};
use crate::error::Result;
use crate::extract::{AppJson, AppQuery};
use crate::servers::{self, ServerUrls, SlugStatus, slug_status};
use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs/{org_id}/servers", get(list).post(create))
        .route("/orgs/{org_id}/servers/{server_id}", get(read).patch(update).delete(delete))
        .route("/slug-availability", get(availability))
}

#[derive(Debug, Serialize)]
pub struct ServerResponse {
    id: String,
    organization_id: String,
    slug: String,
    name: String,
    description: String,
    product_name: String,
    auth_mode: AuthMode,
    support_tool_enabled: bool,
    walkthrough_tool_enabled: bool,
    telemetry_enabled: bool,
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
            support_tool_enabled: settings.support_tool_enabled,
            walkthrough_tool_enabled: settings.walkthrough_tool_enabled,
            telemetry_enabled: settings.telemetry_enabled,
            access_token_ttl_seconds: settings.access_token_ttl.as_secs(),
            refresh_token_ttl_seconds: settings.refresh_token_ttl.as_secs(),
            urls,
            created_at: server.created_at,
            updated_at: server.updated_at,
        }
    }
}

/// Settings to change; absent fields keep their value (on create: their default).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsPatch {
    name: Option<String>,
    description: Option<String>,
    product_name: Option<String>,
    auth_mode: Option<AuthMode>,
    support_tool_enabled: Option<bool>,
    walkthrough_tool_enabled: Option<bool>,
    telemetry_enabled: Option<bool>,
    access_token_ttl_seconds: Option<u64>,
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
        settings.auth_mode = self.auth_mode.unwrap_or(settings.auth_mode);
        settings.support_tool_enabled =
            self.support_tool_enabled.unwrap_or(settings.support_tool_enabled);
        settings.walkthrough_tool_enabled =
            self.walkthrough_tool_enabled.unwrap_or(settings.walkthrough_tool_enabled);
        settings.telemetry_enabled = self.telemetry_enabled.unwrap_or(settings.telemetry_enabled);
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

async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(org_id): Path<String>,
    AppQuery(page): AppQuery<PageQuery>,
) -> Result<AppJson<Paged<ServerResponse>>> {
    let access = caller.org_access(&state, &org_id).await?;
    let servers = state.store.list_mcp_servers(access.org.id, page.request()).await?;
    Ok(AppJson(Paged::new(servers, |s| ServerResponse::new(&state, s))))
}

async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(org_id): Path<String>,
    AppJson(mut body): AppJson<serde_json::Map<String, serde_json::Value>>,
) -> Result<(StatusCode, AppJson<ServerResponse>)> {
    let access = caller.org_access(&state, &org_id).await?;
    access.require(Role::Admin)?;
    // `{"slug": …}` plus the settings; split by hand because serde cannot deny unknown fields
    // through `#[serde(flatten)]`.
    let slug = match body.remove("slug") {
        Some(serde_json::Value::String(slug)) => Slug::parse(&slug)?,
        Some(_) => return Err(ApiError::InvalidBody("slug: expected a string".into())),
        None => return Err(ApiError::InvalidBody("missing field `slug`".into())),
    };
    let patch: SettingsPatch = serde_json::from_value(serde_json::Value::Object(body))
        .map_err(|err| ApiError::InvalidBody(err.to_string()))?;
    let settings = patch.apply(McpServerSettings::default())?;
    let server = servers::create(&state, &access, &caller.actor(), &slug, &settings).await?;
    Ok((StatusCode::CREATED, AppJson(ServerResponse::new(&state, server))))
}

async fn read(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((org_id, server_id)): Path<(String, String)>,
) -> Result<AppJson<ServerResponse>> {
    let access = caller.org_access(&state, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    Ok(AppJson(ServerResponse::new(&state, server)))
}

async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((org_id, server_id)): Path<(String, String)>,
    AppJson(patch): AppJson<SettingsPatch>,
) -> Result<AppJson<ServerResponse>> {
    let access = caller.org_access(&state, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    access.require(Role::Admin)?;
    let settings = patch.apply(server.settings.clone())?;
    let updated = servers::update(&state, &access, &caller.actor(), &server, &settings).await?;
    Ok(AppJson(ServerResponse::new(&state, updated)))
}

async fn delete(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((org_id, server_id)): Path<(String, String)>,
) -> Result<StatusCode> {
    let access = caller.org_access(&state, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    servers::delete(&state, &access, &caller.actor(), &server).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct SlugQuery {
    slug: String,
}

#[derive(Debug, Serialize)]
struct SlugAvailability {
    slug: String,
    #[serde(flatten)]
    status: SlugStatus,
}

async fn availability(
    State(state): State<AppState>,
    ApiCaller(_): ApiCaller,
    AppQuery(query): AppQuery<SlugQuery>,
) -> Result<AppJson<SlugAvailability>> {
    let status = slug_status(&state, &query.slug).await?;
    Ok(AppJson(SlugAvailability { slug: query.slug.trim().to_owned(), status }))
}
