//! Support tickets in the dashboard: the list (filters by status, priority, server, assignee
//! and date, word search, sorting, pages) and a ticket's page (the activity stream with
//! markdown rendered inert, the reply box for public replies and internal notes, status,
//! assignee, priority, category and text controls, watching, the end user and their session).
//! Every page works without JavaScript.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use mcplatform_core::ids::UserId;
use mcplatform_core::support::activity::{ActivityKind, TicketActivity};
use mcplatform_core::support::lifecycle::{Actor, Party, next_statuses};
use mcplatform_core::support::{SupportTicket, TicketPriority, TicketStatus, markdown};
use mcplatform_store::PageRequest;
use serde::Deserialize;

use super::end_users::{people, person};
use super::{
    Choice, Layout, PageForm, PageResult, PageSession, format_time, page_links, render,
    server_choices, server_names,
};
use crate::access::OrgAccess;
use crate::api::tickets::{FilterWords, ticket_filter, ticket_sort};
use crate::auth::CurrentSession;
use crate::{ApiError, AppState, tickets};

pub fn router() -> Router<AppState> {
    let base = "/orgs/{org_id}/tickets";
    Router::new()
        .route(base, get(list_get))
        .route(&format!("{base}/{{id}}"), get(detail_get).post(edit_post))
        .route(&format!("{base}/{{id}}/comments"), post(comment_post))
        .route(&format!("{base}/{{id}}/comments/{{activity}}"), post(comment_edit_post))
        .route(&format!("{base}/{{id}}/comments/{{activity}}/delete"), post(comment_delete_post))
        .route(&format!("{base}/{{id}}/watch"), post(watch_post))
}

const LIST_PAGE: u32 = 25;

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    server_id: String,
    #[serde(default)]
    assignee: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    offset: u32,
}

impl ListQuery {
    /// The query string of these filters (for the pager), without the offset.
    fn filters(&self) -> String {
        let pairs = [
            ("status", &self.status),
            ("priority", &self.priority),
            ("server_id", &self.server_id),
            ("assignee", &self.assignee),
            ("from", &self.from),
            ("to", &self.to),
            ("q", &self.q),
            ("sort", &self.sort),
        ];
        serde_urlencoded::to_string(pairs.iter().filter(|(_, v)| !v.is_empty()).collect::<Vec<_>>())
            .unwrap_or_default()
    }
}

struct TicketRow {
    id: String,
    title: String,
    summary: String,
    server: String,
    from: String,
    category: String,
    status: &'static str,
    status_label: &'static str,
    priority: &'static str,
    assignee: String,
    created_at: String,
    updated_at: String,
}

#[derive(Template)]
#[template(path = "tickets/list.html")]
struct ListView {
    layout: Layout,
    org_id: String,
    query: ListQuery,
    error: Option<String>,
    tickets: Vec<TicketRow>,
    counts: Vec<(&'static str, &'static str, i64)>,
    statuses: Vec<Choice>,
    priorities: Vec<&'static str>,
    servers: Vec<Choice>,
    members: Vec<Choice>,
    filters: String,
    previous_offset: Option<u32>,
    next_offset: Option<u32>,
}

/// The organization's members by id, with their display names.
async fn member_names(
    state: &AppState,
    access: &OrgAccess,
) -> Result<Vec<(UserId, String)>, ApiError> {
    let members = state.store.list_members(access.org.id, PageRequest::ALL).await?;
    Ok(members
        .items
        .into_iter()
        .map(|m| (m.user.id, m.user.display_name.as_str().to_owned()))
        .collect())
}

async fn list_get(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path(org_id): Path<String>,
    Query(query): Query<ListQuery>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let priority = match query.priority.as_str() {
        "" => Ok(None),
        given => given.parse::<TicketPriority>().map(Some),
    };
    let parsed = priority.map_err(ApiError::from).and_then(|priority| {
        let (from, to) = (date_to_time(&query.from), date_to_time(&query.to));
        let words = FilterWords {
            status: Some(&query.status),
            priority,
            server: Some(&query.server_id),
            assignee: Some(&query.assignee),
            from: Some(&from),
            to: Some(&to),
            search: Some(&query.q),
        };
        let filter = ticket_filter(Some(current.user.id), words)?;
        Ok((filter, ticket_sort(Some(&query.sort))?))
    });
    let (tickets, error) = match parsed {
        Ok((filter, sort)) => {
            let page = PageRequest::new(LIST_PAGE, query.offset);
            (
                Some(state.store.list_support_tickets(access.org.id, &filter, sort, page).await?),
                None,
            )
        }
        Err(ApiError::Validation(err)) => (None, Some(err.to_string())),
        Err(err) => return Err(err.into()),
    };
    let has_more = tickets.as_ref().is_some_and(|t| t.next_offset.is_some());
    let tickets = tickets.map(|t| t.items).unwrap_or_default();
    let (previous_offset, next_offset) = page_links(query.offset, LIST_PAGE, has_more);
    let members = member_names(&state, &access).await?;
    let servers = server_names(&state, &access).await?;
    let names =
        people(&state, &access, tickets.iter().filter_map(|t| t.end_user_id).collect()).await?;
    let member_name = |id: Option<UserId>| match id {
        Some(id) => members
            .iter()
            .find(|(m, _)| *m == id)
            .map_or_else(|| "a former member".to_owned(), |(_, name)| name.clone()),
        None => String::new(),
    };
    let rows = tickets
        .iter()
        .map(|t| TicketRow {
            id: t.id.to_string(),
            title: t.title.clone(),
            summary: t.summary.clone().unwrap_or_default(),
            server: servers.get(&t.mcp_server_id).cloned().unwrap_or_default(),
            from: t
                .email
                .clone()
                .or_else(|| t.end_user_id.map(|id| person(&names, Some(id))))
                .unwrap_or_else(|| "anonymous".into()),
            category: t.category.clone().unwrap_or_default(),
            status: t.status.as_str(),
            status_label: t.status.label(),
            priority: t.priority.as_str(),
            assignee: member_name(t.assignee_id),
            created_at: format_time(t.created_at),
            updated_at: format_time(t.updated_at),
        })
        .collect();
    let counts = state
        .store
        .count_support_tickets(access.org.id, None)
        .await?
        .into_iter()
        .map(|(status, n)| (status.as_str(), status.label(), n))
        .collect();
    let server_choices = server_choices(&servers);
    let view = ListView {
        layout: Layout::for_session("Support tickets", &current).in_org(&access),
        org_id: access.org.id.to_string(),
        filters: query.filters(),
        query,
        error,
        tickets: rows,
        counts,
        statuses: TicketStatus::ALL
            .iter()
            .map(|s| Choice { value: s.as_str().into(), label: s.label().into() })
            .collect(),
        priorities: TicketPriority::ALL.iter().map(|p| p.as_str()).collect(),
        servers: server_choices,
        members: members
            .into_iter()
            .map(|(id, name)| Choice { value: id.to_string(), label: name })
            .collect(),
        previous_offset,
        next_offset,
    };
    Ok(render(StatusCode::OK, &view))
}

/// A `<input type=date>` day as the start of that day (UTC); anything else as given.
fn date_to_time(day: &str) -> String {
    let day = day.trim();
    if day.len() == 10 && day.as_bytes().get(4) == Some(&b'-') {
        format!("{day}T00:00:00Z")
    } else {
        day.to_owned()
    }
}

struct EntryRow {
    id: String,
    kind: &'static str,
    who: String,
    when: String,
    edited: bool,
    /// Safe HTML (markdown rendered inert) for comments and notes.
    html: String,
    /// A sentence for everything else.
    text: String,
    body: String,
    mine: bool,
}

#[derive(Template)]
#[template(path = "tickets/detail.html")]
struct DetailView {
    layout: Layout,
    org_id: String,
    ticket_id: String,
    version: i64,
    title: String,
    summary: String,
    description: String,
    problem_context: String,
    context_json: String,
    category: String,
    categories: Vec<String>,
    email: String,
    status: &'static str,
    status_label: &'static str,
    priority: &'static str,
    priorities: Vec<&'static str>,
    assignee: String,
    members: Vec<Choice>,
    next: Vec<Choice>,
    server_id: String,
    server: String,
    end_user_id: Option<String>,
    person: String,
    session_id: Option<String>,
    created_at: String,
    resolved: String,
    closed: String,
    auto_resolve_at: String,
    watching: bool,
    entries: Vec<EntryRow>,
    error: Option<String>,
}

fn describe(entry: &TicketActivity, member_name: &dyn Fn(UserId) -> String) -> String {
    let field = |key: &str| entry.data.get(key).and_then(|v| v.as_str()).unwrap_or("").to_owned();
    match entry.kind {
        ActivityKind::StatusChange => {
            let to = field("to").parse::<TicketStatus>().map(|s| s.label()).unwrap_or("?");
            let from = field("from").parse::<TicketStatus>().map(|s| s.label()).unwrap_or("?");
            let why = entry.body.as_deref().map(|b| format!(" — {b}")).unwrap_or_default();
            format!("changed the status from {from} to {to}{why}")
        }
        ActivityKind::Assignment => match field("to").parse::<UserId>() {
            Ok(user) => format!("assigned it to {}", member_name(user)),
            Err(_) => "unassigned it".to_owned(),
        },
        ActivityKind::FieldUpdate => {
            let value = |key: &str| match entry.data.get(key) {
                Some(serde_json::Value::String(s)) => format!("\"{s}\""),
                Some(serde_json::Value::Null) | None => "nothing".to_owned(),
                Some(other) => other.to_string(),
            };
            format!("changed the {} from {} to {}", field("field"), value("from"), value("to"))
        }
        _ => entry.body.clone().unwrap_or_default(),
    }
}

async fn detail_view(
    state: &AppState,
    current: &CurrentSession,
    access: &OrgAccess,
    ticket: &SupportTicket,
    error: Option<String>,
) -> Result<DetailView, ApiError> {
    let members = member_names(state, access).await?;
    let member_name = |id: UserId| {
        members
            .iter()
            .find(|(m, _)| *m == id)
            .map_or_else(|| "A former member".to_owned(), |(_, name)| name.clone())
    };
    let server = state.store.get_mcp_server(access.org.id, ticket.mcp_server_id).await?;
    let settings = state.store.get_support_settings(access.org.id, server.id).await?.settings;
    let names = people(state, access, ticket.end_user_id.into_iter().collect()).await?;
    let customer = ticket
        .email
        .clone()
        .or_else(|| ticket.end_user_id.map(|id| person(&names, Some(id))))
        .unwrap_or_else(|| "The customer".into());
    let activity = state.store.list_ticket_activities(access.org.id, ticket.id, true).await?;
    let entries = activity
        .iter()
        .map(|entry| {
            let who = match entry.actor {
                Actor::Member(user) => member_name(user),
                Actor::EndUser(_) => customer.clone(),
                Actor::System => "MCPlatform".to_owned(),
            };
            let written = matches!(entry.kind, ActivityKind::Comment | ActivityKind::InternalNote);
            EntryRow {
                id: entry.id.to_string(),
                kind: entry.kind.as_str(),
                who,
                when: format_time(entry.created_at),
                edited: entry.edited_at.is_some(),
                html: if written {
                    markdown::to_html(entry.body.as_deref().unwrap_or(""))
                } else {
                    String::new()
                },
                text: if written { String::new() } else { describe(entry, &member_name) },
                body: entry.body.clone().unwrap_or_default(),
                mine: entry.is_editable_by(current.user.id),
            }
        })
        .collect();
    let watching =
        state.store.ticket_watchers(access.org.id, ticket.id).await?.contains(&current.user.id);
    let mut categories = settings.categories;
    if let Some(category) = &ticket.category
        && !categories.contains(category)
    {
        categories.push(category.clone());
    }
    Ok(DetailView {
        layout: Layout::for_session(&ticket.title, current).in_org(access),
        org_id: access.org.id.to_string(),
        ticket_id: ticket.id.to_string(),
        version: ticket.version,
        title: ticket.title.clone(),
        summary: ticket.summary.clone().unwrap_or_default(),
        description: ticket.description.clone(),
        problem_context: ticket.problem_context.clone().unwrap_or_default(),
        context_json: serde_json::to_string_pretty(&ticket.session_context).unwrap_or_default(),
        category: ticket.category.clone().unwrap_or_default(),
        categories,
        email: ticket.email.clone().unwrap_or_default(),
        status: ticket.status.as_str(),
        status_label: ticket.status.label(),
        priority: ticket.priority.as_str(),
        priorities: TicketPriority::ALL.iter().map(|p| p.as_str()).collect(),
        assignee: ticket.assignee_id.map(|a| a.to_string()).unwrap_or_default(),
        members: members
            .iter()
            .map(|(id, name)| Choice { value: id.to_string(), label: name.clone() })
            .collect(),
        next: next_statuses(ticket.status, Party::Team)
            .into_iter()
            .map(|s| Choice { value: s.as_str().into(), label: s.label().into() })
            .collect(),
        server_id: server.id.to_string(),
        server: server.settings.name,
        end_user_id: ticket.end_user_id.map(|id| id.to_string()),
        person: customer,
        session_id: ticket.session_id.clone(),
        created_at: format_time(ticket.created_at),
        resolved: match (ticket.resolved_at, ticket.resolved_by) {
            (Some(at), Some(by)) => format!("{} by {}", format_time(at), member_name(by)),
            (Some(at), None) => format!("{} automatically", format_time(at)),
            _ => String::new(),
        },
        closed: match (ticket.closed_at, ticket.closed_by) {
            (Some(at), Some(by)) => format!("{} by {}", format_time(at), member_name(by)),
            (Some(at), None) => format_time(at),
            _ => String::new(),
        },
        auto_resolve_at: ticket.auto_resolve_at.map(format_time).unwrap_or_default(),
        watching,
        entries,
        error,
    })
}

fn ticket_page(access: &OrgAccess, ticket: &SupportTicket) -> String {
    format!("/orgs/{}/tickets/{}", access.org.id, ticket.id)
}

async fn load(
    state: &AppState,
    current: &CurrentSession,
    org_id: &str,
    id: &str,
) -> Result<(OrgAccess, SupportTicket), ApiError> {
    let access = OrgAccess::load(state, current.user.id, org_id).await?;
    let ticket = access.ticket(state, id).await?;
    Ok((access, ticket))
}

async fn detail_get(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, id)): Path<(String, String)>,
) -> PageResult {
    let (access, ticket) = load(&state, &current, &org_id, &id).await?;
    let view = detail_view(&state, &current, &access, &ticket, None).await?;
    Ok(render(StatusCode::OK, &view))
}

/// After a change: back to the ticket, or the ticket with the error when the change was
/// refused (invalid input, a forbidden step, a stale page).
async fn after(
    state: &AppState,
    current: &CurrentSession,
    access: &OrgAccess,
    ticket: &SupportTicket,
    done: Result<(), ApiError>,
) -> PageResult {
    let err = match done {
        Ok(()) => return Ok(Redirect::to(&ticket_page(access, ticket)).into_response()),
        Err(err) => err,
    };
    let status = match &err {
        ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
        ApiError::InUse(_) => StatusCode::CONFLICT,
        ApiError::Forbidden => StatusCode::FORBIDDEN,
        _ => return Err(err.into()),
    };
    let message = Some(err.to_string());
    let fresh = state.store.get_support_ticket(access.org.id, ticket.id).await?;
    let view = detail_view(state, current, access, &fresh, message).await?;
    Ok(render(status, &view))
}

#[derive(Debug, Default, Deserialize)]
struct EditForm {
    status: Option<String>,
    priority: Option<String>,
    assignee: Option<String>,
    category: Option<String>,
    title: Option<String>,
    summary: Option<String>,
    /// The version the page showed: a form of a stale page is refused, not applied over
    /// someone's newer change.
    version: Option<i64>,
}

impl EditForm {
    fn parse(self) -> Result<tickets::Edit, ApiError> {
        Ok(tickets::Edit {
            status: self.status.filter(|s| !s.is_empty()).map(|s| s.parse()).transpose()?,
            priority: self.priority.filter(|s| !s.is_empty()).map(|s| s.parse()).transpose()?,
            assignee: match self.assignee {
                Some(a) if a.is_empty() => Some(None),
                Some(a) => Some(Some(crate::access::path_id(&a)?)),
                None => None,
            },
            category: self.category,
            title: self.title,
            summary: self.summary,
        })
    }
}

async fn edit_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, id)): Path<(String, String)>,
    PageForm(form): PageForm<EditForm>,
) -> PageResult {
    let (access, mut ticket) = load(&state, &current, &org_id, &id).await?;
    if let Some(version) = form.version {
        ticket.version = version;
    }
    let done = match form.parse() {
        Ok(edit) => {
            tickets::edit(&state, &access, current.user.id, ticket.clone(), edit).await.map(drop)
        }
        Err(err) => Err(err),
    };
    after(&state, &current, &access, &ticket, done).await
}

#[derive(Debug, Default, Deserialize)]
struct CommentForm {
    #[serde(default)]
    body: String,
    /// `note` for an internal note.
    #[serde(default)]
    visibility: String,
    #[serde(default)]
    status: String,
}

async fn comment_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, id)): Path<(String, String)>,
    PageForm(form): PageForm<CommentForm>,
) -> PageResult {
    let (access, ticket) = load(&state, &current, &org_id, &id).await?;
    let then = match form.status.as_str() {
        "" => Ok(None),
        given => given.parse::<TicketStatus>().map(Some).map_err(ApiError::from),
    };
    let done = match then {
        Ok(then) => {
            let internal = form.visibility == "note";
            tickets::comment(&state, current.user.id, ticket.clone(), &form.body, internal, then)
                .await
                .map(drop)
        }
        Err(err) => Err(err),
    };
    after(&state, &current, &access, &ticket, done).await
}

#[derive(Debug, Default, Deserialize)]
struct CommentEditForm {
    #[serde(default)]
    body: String,
}

async fn comment_edit_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, id, activity)): Path<(String, String, String)>,
    PageForm(form): PageForm<CommentEditForm>,
) -> PageResult {
    let (access, ticket) = load(&state, &current, &org_id, &id).await?;
    let done = tickets::change_comment(
        &state,
        &access,
        current.user.id,
        &ticket,
        &activity,
        Some(&form.body),
    )
    .await;
    after(&state, &current, &access, &ticket, done).await
}

async fn comment_delete_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, id, activity)): Path<(String, String, String)>,
    PageForm(_): PageForm<serde::de::IgnoredAny>,
) -> PageResult {
    let (access, ticket) = load(&state, &current, &org_id, &id).await?;
    let done =
        tickets::change_comment(&state, &access, current.user.id, &ticket, &activity, None).await;
    after(&state, &current, &access, &ticket, done).await
}

#[derive(Debug, Default, Deserialize)]
struct WatchForm {
    #[serde(default)]
    watching: String,
}

async fn watch_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, id)): Path<(String, String)>,
    PageForm(form): PageForm<WatchForm>,
) -> PageResult {
    let (access, ticket) = load(&state, &current, &org_id, &id).await?;
    let watching = form.watching == "1";
    state.store.set_ticket_watcher(access.org.id, ticket.id, current.user.id, watching).await?;
    Ok(Redirect::to(&ticket_page(&access, &ticket)).into_response())
}
