//! `/api/v1/orgs/{org_id}/servers/{server_id}/tracking-links`: personal tracking URLs.

use axum::extract::State;
use axum::http::StatusCode;
use mcplatform_core::hosting::TrackingLink;
use mcplatform_core::mcp_server::McpServer;
use mcplatform_core::org::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiCaller, PageQuery, Paged, says};
use crate::error::{ErrorBody, Result};
use crate::extract::{AppJson, AppPath, AppQuery};
use crate::{AppState, tracking_links};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(list, create)).routes(routes!(revoke))
}

/// A personal MCP URL: requests through it are its end user's.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = TrackingLink)]
struct LinkResponse {
    /// `trk_` and 32 hex digits.
    tracking_id: String,
    /// `{scheme}://{slug}.{base host}/api/mcpserver/{tracking_id}/mcp`
    url: String,
    /// `{base}/s/{slug}/api/mcpserver/{tracking_id}/mcp`
    path_url: String,
    #[schema(format = Uuid)]
    end_user_id: String,
    label: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    last_used_at: Option<time::OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    revoked_at: Option<time::OffsetDateTime>,
}

impl LinkResponse {
    fn new(state: &AppState, server: &McpServer, link: TrackingLink) -> Self {
        let (url, path_url) = tracking_links::urls(state, server, &link);
        Self {
            tracking_id: link.tracking_id.to_string(),
            url,
            path_url,
            end_user_id: link.end_user_id.to_string(),
            label: link.label,
            created_at: link.created_at,
            last_used_at: link.last_used_at,
            revoked_at: link.revoked_at,
        }
    }
}

/// Who the link is for. With `email`, the organization's end user with that address (or a
/// new one) gets the link; without, a new end user known by the label.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateLinkRequest {
    /// Up to 200 characters, shown in the dashboard ("Ada at Initech").
    label: Option<String>,
    email: Option<String>,
}

/// The server's tracking links, newest first; admins only (a link is a credential).
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/servers/{server_id}/tracking-links",
    operation_id = "list_tracking_links",
    tag = "servers",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("server_id" = Uuid, Path, description = "The server's id"),
        PageQuery,
    ),
    security(("session" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "A page of links", body = Paged<LinkResponse>),
        (status = BAD_REQUEST, description = says::BAD_PAGE, body = ErrorBody),
        (status = FORBIDDEN, description = says::NOT_ADMIN, body = ErrorBody),
        (status = NOT_FOUND, description = "No such organization or server (`not_found`)", body = ErrorBody),
    ),
)]
async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, server_id)): AppPath<(String, String)>,
    AppQuery(page): AppQuery<PageQuery>,
) -> Result<AppJson<Paged<LinkResponse>>> {
    let access = caller.org_access(&state, &org_id).await?;
    access.require(Role::Admin)?;
    let server = access.server(&state, &server_id).await?;
    let links = state.store.list_tracking_links(access.org.id, server.id, page.request()).await?;
    Ok(AppJson(Paged::new(links, |link| LinkResponse::new(&state, &server, link))))
}

/// Makes a tracking link for one end user; admins only.
#[utoipa::path(
    post,
    path = "/orgs/{org_id}/servers/{server_id}/tracking-links",
    operation_id = "create_tracking_link",
    tag = "servers",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("server_id" = Uuid, Path, description = "The server's id"),
    ),
    request_body = CreateLinkRequest,
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = CREATED, description = "The new link", body = LinkResponse),
        (status = FORBIDDEN, description = says::NOT_ADMIN, body = ErrorBody),
        (status = NOT_FOUND, description = "No such organization or server (`not_found`)", body = ErrorBody),
        (
            status = UNPROCESSABLE_ENTITY,
            description = "The label or email is invalid (`invalid_input` naming the `field`)",
            body = ErrorBody,
        ),
    ),
)]
async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, server_id)): AppPath<(String, String)>,
    AppJson(request): AppJson<CreateLinkRequest>,
) -> Result<(StatusCode, AppJson<LinkResponse>)> {
    let access = caller.org_access(&state, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    let link = tracking_links::create(
        &state,
        &access,
        &caller.actor(),
        &server,
        request.label.as_deref(),
        request.email.as_deref(),
    )
    .await?;
    Ok((StatusCode::CREATED, AppJson(LinkResponse::new(&state, &server, link))))
}

/// Ends a tracking link at once: its MCP requests answer 404 from now on. Admins only.
#[utoipa::path(
    delete,
    path = "/orgs/{org_id}/servers/{server_id}/tracking-links/{tracking_id}",
    operation_id = "revoke_tracking_link",
    tag = "servers",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("server_id" = Uuid, Path, description = "The server's id"),
        ("tracking_id" = String, Path, description = "The link's tracking id"),
    ),
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = NO_CONTENT, description = "Revoked (or it already was)"),
        (status = FORBIDDEN, description = says::NOT_ADMIN, body = ErrorBody),
        (status = NOT_FOUND, description = "No such organization, server or link (`not_found`)", body = ErrorBody),
    ),
)]
async fn revoke(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, server_id, tracking_id)): AppPath<(String, String, String)>,
) -> Result<StatusCode> {
    let access = caller.org_access(&state, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    tracking_links::revoke(&state, &access, &caller.actor(), &server, &tracking_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
