//! Support tickets over the API: lists with filters, a ticket with its activity stream, the
//! team's changes (status through the lifecycle, assignee, fields), comments and internal
//! notes, watching, and each server's support settings (categories, auto-resolve, webhook).
//! Any member works on tickets; settings are for admins.

use axum::extract::State;
use axum::http::StatusCode;
use mcplatform_core::ValidationError;
use mcplatform_core::ids::UserId;
use mcplatform_core::org::Role;
use mcplatform_core::support::activity::{ActivityKind, TicketActivity};
use mcplatform_core::support::lifecycle::{Actor, Party, next_statuses};
use mcplatform_core::support::{SupportSettings, SupportTicket, TicketPriority, TicketStatus};
use mcplatform_store::{AssigneeFilter, TicketFilter, TicketSort};
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiCaller, Limit, PageQuery, Paged, parse_time, says};
use crate::access::path_id;
use crate::error::{ErrorBody, Result};
use crate::extract::{AppJson, AppPath, AppQuery};
use crate::{ApiError, AppState, tickets};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list_tickets))
        .routes(routes!(list_server_tickets))
        .routes(routes!(get_ticket, update_ticket))
        .routes(routes!(add_comment))
        .routes(routes!(edit_comment, delete_comment))
        .routes(routes!(watch, unwatch))
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(test_webhook))
}

/// A request for help sent from an editor with `get_support`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SupportTicket)]
pub struct TicketResponse {
    #[schema(format = Uuid)]
    id: String,
    #[schema(format = Uuid)]
    server_id: String,
    #[schema(format = Uuid)]
    end_user_id: Option<String>,
    session_id: Option<String>,
    title: String,
    /// The team's digest.
    summary: Option<String>,
    description: String,
    problem_context: Option<String>,
    category: Option<String>,
    /// Where the answer goes; none while the ticket needs an email.
    email: Option<String>,
    status: TicketStatus,
    priority: TicketPriority,
    #[schema(format = Uuid)]
    assignee_id: Option<String>,
    /// The session when the ticket was opened: client, end user, recent tool calls.
    session_context: Value,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    resolved_at: Option<OffsetDateTime>,
    /// The member who resolved it; none when it resolved by itself.
    #[schema(format = Uuid)]
    resolved_by: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    closed_at: Option<OffsetDateTime>,
    #[schema(format = Uuid)]
    closed_by: Option<String>,
    /// When an `awaiting_customer` ticket resolves by itself.
    #[serde(with = "time::serde::rfc3339::option")]
    auto_resolve_at: Option<OffsetDateTime>,
    /// Grows with every change; send it back with an update to have it refused (409) if
    /// someone changed the ticket since.
    version: i64,
}

impl From<SupportTicket> for TicketResponse {
    fn from(ticket: SupportTicket) -> Self {
        let id = |user: Option<UserId>| user.map(|u| u.to_string());
        Self {
            id: ticket.id.to_string(),
            server_id: ticket.mcp_server_id.to_string(),
            end_user_id: ticket.end_user_id.map(|id| id.to_string()),
            session_id: ticket.session_id,
            title: ticket.title,
            summary: ticket.summary,
            description: ticket.description,
            problem_context: ticket.problem_context,
            category: ticket.category,
            email: ticket.email,
            status: ticket.status,
            priority: ticket.priority,
            assignee_id: id(ticket.assignee_id),
            session_context: ticket.session_context,
            created_at: ticket.created_at,
            updated_at: ticket.updated_at,
            resolved_at: ticket.resolved_at,
            resolved_by: id(ticket.resolved_by),
            closed_at: ticket.closed_at,
            closed_by: id(ticket.closed_by),
            auto_resolve_at: ticket.auto_resolve_at,
            version: ticket.version,
        }
    }
}

/// One entry of a ticket's activity stream.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = TicketActivity)]
pub struct ActivityResponse {
    #[schema(format = Uuid)]
    id: String,
    kind: ActivityKind,
    /// `member`, `end_user` or `system`.
    actor_type: &'static str,
    #[schema(format = Uuid)]
    actor_id: Option<String>,
    /// Markdown for comments and notes; a sentence for system entries.
    body: Option<String>,
    /// What changed: `from` and `to` (and `field` for field edits).
    data: Value,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    edited_at: Option<OffsetDateTime>,
}

impl From<TicketActivity> for ActivityResponse {
    fn from(entry: TicketActivity) -> Self {
        let (actor_type, actor_id) = match entry.actor {
            Actor::Member(user) => ("member", Some(user.to_string())),
            Actor::EndUser(user) => ("end_user", Some(user.to_string())),
            Actor::System => ("system", None),
        };
        Self {
            id: entry.id.to_string(),
            kind: entry.kind,
            actor_type,
            actor_id,
            body: entry.body,
            data: entry.data,
            created_at: entry.created_at,
            edited_at: entry.edited_at,
        }
    }
}

/// A ticket with everything the team sees about it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketDetailResponse {
    ticket: TicketResponse,
    /// Oldest first, internal notes included.
    activity: Vec<ActivityResponse>,
    /// Members told about replies.
    #[schema(value_type = Vec<String>)]
    watchers: Vec<String>,
    /// Where a member can move it from here.
    next_statuses: Vec<TicketStatus>,
}

/// Filters of a ticket list; every one narrows it.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct TicketQuery {
    /// Statuses, comma-separated (`new,in_progress`).
    status: Option<String>,
    priority: Option<TicketPriority>,
    #[param(format = Uuid)]
    server_id: Option<String>,
    /// `me`, `none`, or a member's id.
    assignee: Option<String>,
    /// Opened at or after (RFC 3339).
    from: Option<String>,
    /// Opened before (RFC 3339).
    to: Option<String>,
    /// Words that must all appear in the title, summary, description, email, category or a
    /// comment.
    q: Option<String>,
    /// `newest` (default), `oldest`, `updated` or `priority`.
    sort: Option<String>,
    #[serde(default)]
    #[param(schema_with = Limit::schema)]
    limit: Limit,
    #[serde(default)]
    #[param(minimum = 0)]
    offset: u32,
}

/// The filter words of a ticket list, as the list page and the API take them.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FilterWords<'a> {
    pub status: Option<&'a str>,
    pub priority: Option<TicketPriority>,
    pub server: Option<&'a str>,
    pub assignee: Option<&'a str>,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub search: Option<&'a str>,
}

/// Reads filter words; `me` is who `assignee=me` means.
pub(crate) fn ticket_filter(me: Option<UserId>, words: FilterWords<'_>) -> Result<TicketFilter> {
    let FilterWords { status, priority, server, assignee, from, to, search } = words;
    let given = status
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<TicketStatus>())
        .collect::<std::result::Result<Vec<_>, _>>()?;
    // Each status once, however often it was named: the query binds one parameter per status.
    let statuses = TicketStatus::ALL.into_iter().filter(|s| given.contains(s)).collect();
    let server = server.filter(|s| !s.is_empty()).map(path_id).transpose()?;
    let assignee = match assignee.map(str::trim).unwrap_or_default() {
        "" | "any" => None,
        "none" => Some(AssigneeFilter::Unassigned),
        "me" => Some(AssigneeFilter::Member(me.ok_or_else(|| {
            ValidationError::new("assignee", "`me` needs a person: this key has none to act as")
        })?)),
        id => Some(AssigneeFilter::Member(
            id.parse()
                .map_err(|_| ValidationError::new("assignee", "must be me, none or an id"))?,
        )),
    };
    Ok(TicketFilter {
        server,
        statuses,
        priority,
        assignee,
        end_user: None,
        session_id: None,
        opened_from: parse_time("from", from)?,
        opened_before: parse_time("to", to)?,
        search: search.map(str::trim).filter(|q| !q.is_empty()).map(str::to_owned),
    })
}

pub(crate) fn ticket_sort(sort: Option<&str>) -> Result<TicketSort> {
    Ok(match sort.unwrap_or_default() {
        "" | "newest" => TicketSort::Newest,
        "oldest" => TicketSort::Oldest,
        "updated" => TicketSort::RecentlyUpdated,
        "priority" => TicketSort::Priority,
        _ => {
            return Err(ValidationError::new(
                "sort",
                "must be newest, oldest, updated or priority",
            )
            .into());
        }
    })
}

/// The organization's support tickets, filtered and sorted.
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/support-tickets",
    operation_id = "list_support_tickets",
    tag = "support",
    params(("org_id" = Uuid, Path, description = says::ORG_ID), TicketQuery),
    security(("session" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "A page of tickets", body = Paged<TicketResponse>),
        (status = BAD_REQUEST, description = says::BAD_PAGE, body = ErrorBody),
        (status = NOT_FOUND, description = "No such organization (`not_found`)", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "A filter is invalid", body = ErrorBody),
    ),
)]
async fn list_tickets(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath(org_id): AppPath<String>,
    AppQuery(query): AppQuery<TicketQuery>,
) -> Result<AppJson<Paged<TicketResponse>>> {
    let access = caller.org_access(&state, &org_id).await?;
    let me = caller.member(&state, &access).await.ok();
    let words = FilterWords {
        status: query.status.as_deref(),
        priority: query.priority,
        server: query.server_id.as_deref(),
        assignee: query.assignee.as_deref(),
        from: query.from.as_deref(),
        to: query.to.as_deref(),
        search: query.q.as_deref(),
    };
    let filter = ticket_filter(me, words)?;
    let sort = ticket_sort(query.sort.as_deref())?;
    let page = mcplatform_store::PageRequest::new(query.limit.get(), query.offset);
    let tickets = state.store.list_support_tickets(access.org.id, &filter, sort, page).await?;
    Ok(AppJson(Paged::new(tickets, TicketResponse::from)))
}

/// The server's support tickets, newest first.
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/servers/{server_id}/support-tickets",
    operation_id = "list_server_support_tickets",
    tag = "support",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("server_id" = Uuid, Path, description = "The server's id"),
        PageQuery,
    ),
    security(("session" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "A page of tickets", body = Paged<TicketResponse>),
        (status = BAD_REQUEST, description = says::BAD_PAGE, body = ErrorBody),
        (status = NOT_FOUND, description = "No such organization or server (`not_found`)", body = ErrorBody),
    ),
)]
async fn list_server_tickets(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, server_id)): AppPath<(String, String)>,
    AppQuery(page): AppQuery<PageQuery>,
) -> Result<AppJson<Paged<TicketResponse>>> {
    let access = caller.org_access(&state, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    let filter = TicketFilter { server: Some(server.id), ..TicketFilter::default() };
    let tickets = state
        .store
        .list_support_tickets(access.org.id, &filter, TicketSort::Newest, page.request())
        .await?;
    Ok(AppJson(Paged::new(tickets, TicketResponse::from)))
}

async fn detail(
    state: &AppState,
    access: &crate::access::OrgAccess,
    ticket: SupportTicket,
) -> Result<TicketDetailResponse> {
    let activity = state.store.list_ticket_activities(access.org.id, ticket.id, true).await?;
    let watchers = state.store.ticket_watchers(access.org.id, ticket.id).await?;
    let next = next_statuses(ticket.status, Party::Team);
    Ok(TicketDetailResponse {
        ticket: ticket.into(),
        activity: activity.into_iter().map(ActivityResponse::from).collect(),
        watchers: watchers.iter().map(|w| w.to_string()).collect(),
        next_statuses: next,
    })
}

/// A ticket with its activity stream (internal notes included) and watchers.
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/support-tickets/{ticket_id}",
    operation_id = "get_support_ticket",
    tag = "support",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("ticket_id" = Uuid, Path, description = "The ticket's id"),
    ),
    security(("session" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "The ticket", body = TicketDetailResponse),
        (status = NOT_FOUND, description = "No such organization or ticket (`not_found`)", body = ErrorBody),
    ),
)]
async fn get_ticket(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, ticket_id)): AppPath<(String, String)>,
) -> Result<AppJson<TicketDetailResponse>> {
    let access = caller.org_access(&state, &org_id).await?;
    let ticket = access.ticket(&state, &ticket_id).await?;
    Ok(AppJson(detail(&state, &access, ticket).await?))
}

/// What to change on a ticket; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TicketUpdate {
    /// Moves the ticket through its lifecycle (409 `conflict` when that step is not allowed).
    status: Option<TicketStatus>,
    priority: Option<TicketPriority>,
    title: Option<String>,
    /// Empty clears it.
    summary: Option<String>,
    /// One of the server's categories; empty clears it.
    category: Option<String>,
    /// A member's id; `null` unassigns.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<String>, format = Uuid)]
    assignee_id: Option<Option<String>>,
    /// The `version` the change was made on; when someone changed the ticket since, the update
    /// is refused (409 `conflict`) instead of undoing their change.
    version: Option<i64>,
}

/// Changes a ticket: status through the lifecycle, assignee, title, summary, priority,
/// category. Each change is recorded in the activity stream.
#[utoipa::path(
    patch,
    path = "/orgs/{org_id}/support-tickets/{ticket_id}",
    operation_id = "update_support_ticket",
    tag = "support",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("ticket_id" = Uuid, Path, description = "The ticket's id"),
    ),
    request_body = TicketUpdate,
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "The ticket as changed", body = TicketDetailResponse),
        (status = NOT_FOUND, description = "No such organization or ticket (`not_found`)", body = ErrorBody),
        (status = CONFLICT, description = "The lifecycle forbids that status, or someone changed the ticket meanwhile (`conflict`)", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "A field is invalid (`invalid_input`)", body = ErrorBody),
    ),
)]
async fn update_ticket(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, ticket_id)): AppPath<(String, String)>,
    AppJson(update): AppJson<TicketUpdate>,
) -> Result<AppJson<TicketDetailResponse>> {
    let access = caller.org_access(&state, &org_id).await?;
    let member = caller.member(&state, &access).await?;
    let mut ticket = access.ticket(&state, &ticket_id).await?;
    if let Some(version) = update.version {
        ticket.version = version;
    }
    let assignee = match update.assignee_id {
        Some(Some(id)) => Some(Some(
            id.parse().map_err(|_| ValidationError::new("assignee_id", "must be a member's id"))?,
        )),
        Some(None) => Some(None),
        None => None,
    };
    let edit = tickets::Edit {
        status: update.status,
        priority: update.priority,
        title: update.title,
        summary: update.summary,
        category: update.category,
        assignee,
    };
    let ticket = tickets::edit(&state, &access, member, ticket, edit).await?;
    Ok(AppJson(detail(&state, &access, ticket).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CommentRequest {
    /// Markdown, at most 20,000 characters.
    body: String,
    /// An internal note: never shown to the end user.
    #[serde(default)]
    internal: bool,
    /// Moves the ticket in the same change (reply and wait for the customer, say).
    status: Option<TicketStatus>,
}

/// Adds a reply (the end user sees it and gets it by email) or an internal note.
#[utoipa::path(
    post,
    path = "/orgs/{org_id}/support-tickets/{ticket_id}/comments",
    operation_id = "add_support_ticket_comment",
    tag = "support",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("ticket_id" = Uuid, Path, description = "The ticket's id"),
    ),
    request_body = CommentRequest,
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = CREATED, description = "The new entry", body = ActivityResponse),
        (status = NOT_FOUND, description = "No such organization or ticket (`not_found`)", body = ErrorBody),
        (status = CONFLICT, description = "The lifecycle forbids that status (`conflict`)", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "The body is empty or too long (`invalid_input`)", body = ErrorBody),
    ),
)]
async fn add_comment(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, ticket_id)): AppPath<(String, String)>,
    AppJson(request): AppJson<CommentRequest>,
) -> Result<(StatusCode, AppJson<ActivityResponse>)> {
    let access = caller.org_access(&state, &org_id).await?;
    let member = caller.member(&state, &access).await?;
    let ticket = access.ticket(&state, &ticket_id).await?;
    let entry =
        tickets::comment(&state, member, ticket, &request.body, request.internal, request.status)
            .await?;
    Ok((StatusCode::CREATED, AppJson(entry.into())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CommentEdit {
    body: String,
}

/// Rewrites one of the caller's own comments or notes.
#[utoipa::path(
    patch,
    path = "/orgs/{org_id}/support-tickets/{ticket_id}/comments/{activity_id}",
    operation_id = "edit_support_ticket_comment",
    tag = "support",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("ticket_id" = Uuid, Path, description = "The ticket's id"),
        ("activity_id" = Uuid, Path, description = "The comment's id"),
    ),
    request_body = CommentEdit,
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = NO_CONTENT, description = "Edited"),
        (status = FORBIDDEN, description = "Not the caller's comment (`forbidden`)", body = ErrorBody),
        (status = NOT_FOUND, description = "No such ticket or comment (`not_found`)", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "The body is empty or too long", body = ErrorBody),
    ),
)]
async fn edit_comment(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, ticket_id, activity_id)): AppPath<(String, String, String)>,
    AppJson(edit): AppJson<CommentEdit>,
) -> Result<StatusCode> {
    let access = caller.org_access(&state, &org_id).await?;
    let member = caller.member(&state, &access).await?;
    let ticket = access.ticket(&state, &ticket_id).await?;
    tickets::change_comment(&state, &access, member, &ticket, &activity_id, Some(&edit.body))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes one of the caller's own comments or notes.
#[utoipa::path(
    delete,
    path = "/orgs/{org_id}/support-tickets/{ticket_id}/comments/{activity_id}",
    operation_id = "delete_support_ticket_comment",
    tag = "support",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("ticket_id" = Uuid, Path, description = "The ticket's id"),
        ("activity_id" = Uuid, Path, description = "The comment's id"),
    ),
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = NO_CONTENT, description = "Deleted"),
        (status = FORBIDDEN, description = "Not the caller's comment (`forbidden`)", body = ErrorBody),
        (status = NOT_FOUND, description = "No such ticket or comment (`not_found`)", body = ErrorBody),
    ),
)]
async fn delete_comment(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, ticket_id, activity_id)): AppPath<(String, String, String)>,
) -> Result<StatusCode> {
    let access = caller.org_access(&state, &org_id).await?;
    let member = caller.member(&state, &access).await?;
    let ticket = access.ticket(&state, &ticket_id).await?;
    tickets::change_comment(&state, &access, member, &ticket, &activity_id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller starts watching the ticket (emails about replies and notes).
#[utoipa::path(
    put,
    path = "/orgs/{org_id}/support-tickets/{ticket_id}/watchers/me",
    operation_id = "watch_support_ticket",
    tag = "support",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("ticket_id" = Uuid, Path, description = "The ticket's id"),
    ),
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = NO_CONTENT, description = "Watching"),
        (status = NOT_FOUND, description = "No such ticket (`not_found`)", body = ErrorBody),
    ),
)]
async fn watch(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, ticket_id)): AppPath<(String, String)>,
) -> Result<StatusCode> {
    set_watch(&state, &caller, &org_id, &ticket_id, true).await
}

/// The caller stops watching the ticket.
#[utoipa::path(
    delete,
    path = "/orgs/{org_id}/support-tickets/{ticket_id}/watchers/me",
    operation_id = "unwatch_support_ticket",
    tag = "support",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("ticket_id" = Uuid, Path, description = "The ticket's id"),
    ),
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = NO_CONTENT, description = "Not watching"),
        (status = NOT_FOUND, description = "No such ticket (`not_found`)", body = ErrorBody),
    ),
)]
async fn unwatch(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, ticket_id)): AppPath<(String, String)>,
) -> Result<StatusCode> {
    set_watch(&state, &caller, &org_id, &ticket_id, false).await
}

async fn set_watch(
    state: &AppState,
    caller: &ApiCaller,
    org_id: &str,
    ticket_id: &str,
    watching: bool,
) -> Result<StatusCode> {
    let access = caller.org_access(state, org_id).await?;
    let member = caller.member(state, &access).await?;
    let ticket = access.ticket(state, ticket_id).await?;
    state.store.set_ticket_watcher(access.org.id, ticket.id, member, watching).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A server's support settings, and how its webhook is doing.
#[derive(Debug, Serialize, ToSchema)]
pub struct SupportSettingsResponse {
    categories: Vec<String>,
    /// 0: tickets awaiting the customer never resolve by themselves.
    auto_resolve_hours: u64,
    webhook_url: Option<String>,
    /// Only in the answer that created or rotated it: verify `webhook-signature` with it
    /// (Standard Webhooks).
    webhook_secret: Option<String>,
    webhook_pending: i64,
    webhook_failed: i64,
    #[serde(with = "time::serde::rfc3339::option")]
    webhook_last_success_at: Option<OffsetDateTime>,
    webhook_last_error: Option<String>,
    /// Whether the caller hears of every new ticket of the server.
    watching: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SupportSettingsRequest {
    categories: Vec<String>,
    auto_resolve_hours: u64,
    webhook_url: Option<String>,
    /// A new webhook secret (the old one stops working).
    #[serde(default)]
    rotate_webhook_secret: bool,
    /// Email the caller about every new ticket of the server.
    watching: Option<bool>,
}

async fn settings_response(
    state: &AppState,
    access: &crate::access::OrgAccess,
    server: &mcplatform_core::mcp_server::McpServer,
    me: Option<UserId>,
    secret: Option<String>,
) -> Result<SupportSettingsResponse> {
    let settings = state.store.get_support_settings(access.org.id, server.id).await?.settings;
    let status = state.store.webhook_status(access.org.id, server.id).await?;
    let watchers = state.store.server_watchers(access.org.id, server.id).await?;
    Ok(SupportSettingsResponse {
        auto_resolve_hours: settings.auto_resolve_hours(),
        categories: settings.categories,
        webhook_url: settings.webhook_url.map(|u| u.to_string()),
        webhook_secret: secret,
        webhook_pending: status.pending,
        webhook_failed: status.failed,
        webhook_last_success_at: status.last_success_at,
        webhook_last_error: status.last_error,
        watching: me.is_some_and(|me| watchers.contains(&me)),
    })
}

/// A server's support settings: categories, auto-resolve delay, webhook.
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/servers/{server_id}/support-settings",
    operation_id = "get_support_settings",
    tag = "support",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("server_id" = Uuid, Path, description = "The server's id"),
    ),
    security(("session" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "The settings", body = SupportSettingsResponse),
        (status = NOT_FOUND, description = "No such organization or server (`not_found`)", body = ErrorBody),
    ),
)]
async fn get_settings(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, server_id)): AppPath<(String, String)>,
) -> Result<AppJson<SupportSettingsResponse>> {
    let access = caller.org_access(&state, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    let me = caller.member(&state, &access).await.ok();
    Ok(AppJson(settings_response(&state, &access, &server, me, None).await?))
}

/// Replaces a server's support settings (admins). Setting a webhook URL the first time, or
/// `rotate_webhook_secret`, answers with the new secret, once.
#[utoipa::path(
    put,
    path = "/orgs/{org_id}/servers/{server_id}/support-settings",
    operation_id = "put_support_settings",
    tag = "support",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("server_id" = Uuid, Path, description = "The server's id"),
    ),
    request_body = SupportSettingsRequest,
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "The settings", body = SupportSettingsResponse),
        (status = FORBIDDEN, description = "Admins only (`forbidden`)", body = ErrorBody),
        (status = NOT_FOUND, description = "No such organization or server (`not_found`)", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "A field is invalid (`invalid_input`)", body = ErrorBody),
    ),
)]
async fn put_settings(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, server_id)): AppPath<(String, String)>,
    AppJson(request): AppJson<SupportSettingsRequest>,
) -> Result<AppJson<SupportSettingsResponse>> {
    let access = caller.org_access(&state, &org_id).await?;
    if !access.role.at_least(Role::Admin) {
        return Err(ApiError::Forbidden);
    }
    let server = access.server(&state, &server_id).await?;
    let settings = SupportSettings::new(
        &request.categories,
        request.auto_resolve_hours,
        request.webhook_url.as_deref(),
    )?;
    let secret = tickets::save_settings(
        &state,
        &access,
        &caller.actor(),
        &server,
        settings,
        request.rotate_webhook_secret,
    )
    .await?;
    let me = caller.member(&state, &access).await.ok();
    if let (Some(watching), Some(me)) = (request.watching, me) {
        state.store.set_server_watcher(access.org.id, server.id, me, watching).await?;
    }
    let secret = secret.map(|s| s.expose_secret().to_owned());
    Ok(AppJson(settings_response(&state, &access, &server, me, secret).await?))
}

/// Queues a `webhook.test` message to the server's webhook.
#[utoipa::path(
    post,
    path = "/orgs/{org_id}/servers/{server_id}/support-settings/webhook-test",
    operation_id = "test_support_webhook",
    tag = "support",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("server_id" = Uuid, Path, description = "The server's id"),
    ),
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = ACCEPTED, description = "Queued"),
        (status = FORBIDDEN, description = "Admins only (`forbidden`)", body = ErrorBody),
        (status = NOT_FOUND, description = "No such organization or server (`not_found`)", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "The server has no webhook", body = ErrorBody),
    ),
)]
async fn test_webhook(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, server_id)): AppPath<(String, String)>,
) -> Result<StatusCode> {
    let access = caller.org_access(&state, &org_id).await?;
    // As the settings it tests: admins only (each call queues a message to an outside URL).
    access.require(Role::Admin)?;
    let server = access.server(&state, &server_id).await?;
    tickets::send_test(&state, &access, &server).await?;
    Ok(StatusCode::ACCEPTED)
}
