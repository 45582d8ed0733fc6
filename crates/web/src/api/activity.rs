//! What end users did on the organization's hosted servers: who they are, their sessions, each
//! session's requests in order. Members read all of it. (Their tickets: [`super::tickets`].)

use axum::extract::State;
use mcplatform_core::end_user::EndUser;
use mcplatform_core::hosting::{
    IdentitySource, McpRequestRecord, McpSession, RequestOutcome, SessionKind, recorded_json,
};
use mcplatform_core::ids::EndUserId;
use mcplatform_store::{EndUserActivity, PageRequest};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiCaller, Limit, PageQuery, Paged, says};
use crate::error::{ErrorBody, Result};
use crate::extract::{AppJson, AppPath, AppQuery};
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list_end_users))
        .routes(routes!(list_server_end_users))
        .routes(routes!(list_sessions))
        .routes(routes!(get_session))
        .routes(routes!(list_session_requests))
}

/// Someone who used the organization's hosted servers, with what they did.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = EndUser)]
pub struct EndUserResponse {
    #[schema(format = Uuid)]
    id: String,
    /// As given by their identity provider, the built-in login, the customer (tracking link)
    /// or themselves (`collect_email`).
    email: Option<String>,
    /// Whether a login proved the address.
    email_verified: bool,
    name: Option<String>,
    /// How they became known: `oauth` (signed in), `tracking` (a personal tracking URL),
    /// `email` (gave an address to a tool). Empty for someone only named by an admin.
    identified_by: Vec<IdentitySource>,
    #[serde(with = "time::serde::rfc3339::option")]
    first_seen_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    last_seen_at: Option<OffsetDateTime>,
    sessions: i64,
    tool_calls: i64,
    tickets: i64,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
}

impl From<EndUserActivity> for EndUserResponse {
    fn from(activity: EndUserActivity) -> Self {
        let identified_by = activity.identified_by();
        let EndUser { id, email, email_verified_at, name, created_at, .. } = activity.end_user;
        Self {
            id: id.to_string(),
            email,
            email_verified: email_verified_at.is_some(),
            name,
            identified_by,
            first_seen_at: activity.first_seen_at,
            last_seen_at: activity.last_seen_at,
            sessions: activity.sessions,
            tool_calls: activity.tool_calls,
            tickets: activity.tickets,
            created_at,
        }
    }
}

/// A client's connection to a hosted server.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = McpSession)]
pub struct SessionResponse {
    /// The `Mcp-Session-Id`, or the id of a derived session.
    id: String,
    #[schema(format = Uuid)]
    server_id: String,
    #[schema(format = Uuid)]
    end_user_id: Option<String>,
    identity_source: IdentitySource,
    kind: SessionKind,
    protocol_version: String,
    client_name: Option<String>,
    client_version: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    first_seen_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    last_seen_at: OffsetDateTime,
    /// When the client ended it (DELETE); derived sessions just go quiet.
    #[serde(with = "time::serde::rfc3339::option")]
    closed_at: Option<OffsetDateTime>,
}

impl From<McpSession> for SessionResponse {
    fn from(session: McpSession) -> Self {
        Self {
            id: session.id,
            server_id: session.mcp_server_id.to_string(),
            end_user_id: session.end_user_id.map(|id| id.to_string()),
            identity_source: session.identity_source,
            kind: session.kind,
            protocol_version: session.protocol_version,
            client_name: session.client_name,
            client_version: session.client_version,
            ip: session.ip,
            user_agent: session.user_agent,
            first_seen_at: session.first_seen_at,
            last_seen_at: session.last_seen_at,
            closed_at: session.closed_at,
        }
    }
}

/// One MCP request as recorded: secret-looking values redacted, long text cut.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = McpRequest)]
pub struct RequestResponse {
    #[schema(format = Uuid)]
    id: String,
    /// `initialize`, `tools/list`, `tools/call`…
    method: String,
    tool_name: Option<String>,
    /// The JSON-RPC id, as text.
    jsonrpc_id: Option<String>,
    protocol_version: Option<String>,
    /// The call's arguments (JSON).
    arguments: Option<Value>,
    /// What the server answered (JSON).
    result: Option<Value>,
    /// `ok`, `tool_error` (the tool ran and failed) or `protocol_error` (a JSON-RPC error).
    outcome: RequestOutcome,
    /// The JSON-RPC error code of a protocol error.
    error_code: Option<i64>,
    error_message: Option<String>,
    duration_us: i64,
    #[serde(with = "time::serde::rfc3339")]
    started_at: OffsetDateTime,
}

impl From<McpRequestRecord> for RequestResponse {
    fn from(record: McpRequestRecord) -> Self {
        Self {
            id: record.id.to_string(),
            method: record.method,
            tool_name: record.tool_name,
            jsonrpc_id: record.jsonrpc_id,
            protocol_version: record.protocol_version,
            arguments: record.arguments.as_deref().map(recorded_json),
            result: record.result.as_deref().map(recorded_json),
            outcome: record.outcome,
            error_code: record.error_code,
            error_message: record.error_message,
            duration_us: record.duration_us,
            started_at: record.started_at,
        }
    }
}

/// The organization's end users across its servers, most recently seen first.
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/end-users",
    operation_id = "list_end_users",
    tag = "end-users",
    params(("org_id" = Uuid, Path, description = says::ORG_ID), PageQuery),
    security(("session" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "A page of end users", body = Paged<EndUserResponse>),
        (status = BAD_REQUEST, description = says::BAD_PAGE, body = ErrorBody),
        (status = NOT_FOUND, description = "No such organization (`not_found`)", body = ErrorBody),
    ),
)]
async fn list_end_users(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath(org_id): AppPath<String>,
    AppQuery(page): AppQuery<PageQuery>,
) -> Result<AppJson<Paged<EndUserResponse>>> {
    let access = caller.org_access(&state, &org_id).await?;
    let users = state.store.list_end_user_activity(access.org.id, None, page.request()).await?;
    Ok(AppJson(Paged::new(users, EndUserResponse::from)))
}

/// The server's end users (who had a session, a tracking link or a ticket on it), with what
/// they did on it, most recently seen first.
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/servers/{server_id}/end-users",
    operation_id = "list_server_end_users",
    tag = "end-users",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("server_id" = Uuid, Path, description = "The server's id"),
        PageQuery,
    ),
    security(("session" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "A page of end users", body = Paged<EndUserResponse>),
        (status = BAD_REQUEST, description = says::BAD_PAGE, body = ErrorBody),
        (status = NOT_FOUND, description = "No such organization or server (`not_found`)", body = ErrorBody),
    ),
)]
async fn list_server_end_users(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, server_id)): AppPath<(String, String)>,
    AppQuery(page): AppQuery<PageQuery>,
) -> Result<AppJson<Paged<EndUserResponse>>> {
    let access = caller.org_access(&state, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    let users =
        state.store.list_end_user_activity(access.org.id, Some(server.id), page.request()).await?;
    Ok(AppJson(Paged::new(users, EndUserResponse::from)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct SessionsQuery {
    /// Only this end user's sessions.
    #[param(format = Uuid)]
    end_user_id: Option<String>,
    // Beside the filter rather than a flattened `PageQuery`: serde's flatten would read the
    // numbers of a query string as text.
    #[serde(default)]
    #[param(schema_with = Limit::schema)]
    limit: Limit,
    /// How many sessions to skip: 0 for the first page, then the previous page's `next_offset`.
    #[serde(default)]
    #[param(minimum = 0)]
    offset: u32,
}

/// The server's sessions, most recently seen first.
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/servers/{server_id}/sessions",
    operation_id = "list_mcp_sessions",
    tag = "end-users",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("server_id" = Uuid, Path, description = "The server's id"),
        SessionsQuery,
    ),
    security(("session" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "A page of sessions", body = Paged<SessionResponse>),
        (status = BAD_REQUEST, description = "A bad page or end user id (`bad_request`)", body = ErrorBody),
        (status = NOT_FOUND, description = "No such organization or server (`not_found`)", body = ErrorBody),
    ),
)]
async fn list_sessions(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, server_id)): AppPath<(String, String)>,
    AppQuery(query): AppQuery<SessionsQuery>,
) -> Result<AppJson<Paged<SessionResponse>>> {
    let access = caller.org_access(&state, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    let end_user: Option<EndUserId> = match query.end_user_id.as_deref() {
        Some(raw) => Some(
            raw.parse().map_err(|_| ApiError::BadRequest("end_user_id must be an id".into()))?,
        ),
        None => None,
    };
    let page = PageRequest::new(query.limit.get(), query.offset);
    let sessions = state.store.list_mcp_sessions(access.org.id, server.id, end_user, page).await?;
    Ok(AppJson(Paged::new(sessions, SessionResponse::from)))
}

/// One session.
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/servers/{server_id}/sessions/{session_id}",
    operation_id = "get_mcp_session",
    tag = "end-users",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("server_id" = Uuid, Path, description = "The server's id"),
        ("session_id" = String, Path, description = "The session's id"),
    ),
    security(("session" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "The session", body = SessionResponse),
        (status = NOT_FOUND, description = "No such organization, server or session (`not_found`)", body = ErrorBody),
    ),
)]
async fn get_session(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, server_id, session_id)): AppPath<(String, String, String)>,
) -> Result<AppJson<SessionResponse>> {
    let access = caller.org_access(&state, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    let session = access.mcp_session(&state, server.id, &session_id).await?;
    Ok(AppJson(session.into()))
}

/// A session's requests in the order they came: its timeline. Requests reach this list within
/// a second of being answered (they are written in batches).
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/servers/{server_id}/sessions/{session_id}/requests",
    operation_id = "list_mcp_session_requests",
    tag = "end-users",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("server_id" = Uuid, Path, description = "The server's id"),
        ("session_id" = String, Path, description = "The session's id"),
        PageQuery,
    ),
    security(("session" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "A page of requests, oldest first", body = Paged<RequestResponse>),
        (status = BAD_REQUEST, description = says::BAD_PAGE, body = ErrorBody),
        (status = NOT_FOUND, description = "No such organization, server or session (`not_found`)", body = ErrorBody),
    ),
)]
async fn list_session_requests(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, server_id, session_id)): AppPath<(String, String, String)>,
    AppQuery(page): AppQuery<PageQuery>,
) -> Result<AppJson<Paged<RequestResponse>>> {
    let access = caller.org_access(&state, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    let session = access.mcp_session(&state, server.id, &session_id).await?;
    let requests =
        state.store.list_session_requests(access.org.id, &session.id, page.request()).await?;
    Ok(AppJson(Paged::new(requests, RequestResponse::from)))
}
