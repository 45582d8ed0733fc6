//! The support tools: `get_support` opens a ticket (`reference/seeds.md` §2A, with the
//! server's categories), and `list_my_tickets`, `get_ticket` and `reply_to_ticket` let the
//! conversation go on from the editor. A ticket is only ever its own end user's: an anonymous
//! caller of a stateful session becomes an anonymous end user of it, and a caller nobody knows
//! sees no ticket.

use std::sync::Arc;

use mcplatform_core::hosting::{IdentitySource, McpRequestRecord, client_text};
use mcplatform_core::ids::{EndUserId, SupportTicketId};
use mcplatform_core::mcp_server::AuthMode;
use mcplatform_core::support::activity::ActivityKind;
use mcplatform_core::support::lifecycle::Actor;
use mcplatform_core::support::{SupportTicket, TicketPriority, TicketRequest, TicketStatus};
use mcplatform_core::user::EmailAddress;
use mcplatform_store::{PageRequest, StoreError, TicketFilter, TicketSort};
use rmcp::ErrorData as McpError;
use rmcp::handler::server::common::schema_for_type;
use rmcp::model::{CallToolResult, ContentBlock, JsonObject, Tool};
use rmcp::schemars::{self, JsonSchema};
use serde::Deserialize;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;

use super::handler::Call;
use super::tools::{internal, to_invalid_params};
use super::walkthroughs;
use super::{Caller, MAX_CLIENT_NAME, MAX_CLIENT_VERSION};
use crate::{ApiError, AppState, tickets};

pub const GET_SUPPORT: &str = "get_support";
pub const LIST_MY_TICKETS: &str = "list_my_tickets";
pub const GET_TICKET: &str = "get_ticket";
pub const REPLY_TO_TICKET: &str = "reply_to_ticket";
pub const SUPPORT_TOOLS: [&str; 4] = [GET_SUPPORT, LIST_MY_TICKETS, GET_TICKET, REPLY_TO_TICKET];
/// Tool calls of the session a ticket carries, for whoever answers it.
const TICKET_RECENT_CALLS: u32 = 10;
/// Tickets `list_my_tickets` shows.
const MY_TICKETS: u32 = 20;

/// `get_support`'s arguments (`reference/seeds.md`: title, problemDescription, problemContext,
/// and email when the user is not known; category from the server's settings).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SupportArgs {
    /// A short summary of the problem, like an issue title.
    title: String,
    /// What is going wrong, in detail: what the user tried, what happened, and any error
    /// messages verbatim.
    problem_description: String,
    /// Anything else that helps: relevant code, configuration, versions, what has been ruled
    /// out. Do not repeat the description, and never include secrets, keys or passwords.
    problem_context: Option<String>,
    /// What kind of request this is.
    category: Option<String>,
    /// The user's email address, so that the support team can reply. Ask the user for it.
    email: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ListArgs {
    /// Also list resolved and closed tickets.
    #[serde(default)]
    include_closed: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TicketArgs {
    /// The ticket's id, as get_support or list_my_tickets gave it.
    ticket_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ReplyArgs {
    /// The ticket's id, as get_support or list_my_tickets gave it.
    ticket_id: String,
    /// The user's answer or new information, in markdown. Never include secrets.
    message: Option<String>,
    /// The user's email address, when the ticket is waiting for one.
    email: Option<String>,
}

fn text(result: String) -> Vec<ContentBlock> {
    vec![ContentBlock::text(result)]
}

fn tool_error(message: impl Into<String>) -> CallToolResult {
    CallToolResult::error(text(message.into()))
}

/// The end user's known address, if any.
async fn known_email(
    state: &AppState,
    caller: &Caller,
    user: Option<EndUserId>,
) -> Result<Option<String>, McpError> {
    let Some(user) = user.or(caller.identity.end_user) else { return Ok(None) };
    let user =
        state.store.get_end_user(caller.server.organization_id, user).await.map_err(internal)?;
    Ok(user.email)
}

/// The support tools, `get_support`'s schema fitted to the caller and the server: categories
/// as an enum, and no `email` for someone whose address is known.
pub(super) async fn tools(state: &AppState, caller: &Caller) -> Result<Vec<Tool>, McpError> {
    let org = caller.server.organization_id;
    let settings =
        state.store.get_support_settings(org, caller.server.id).await.map_err(internal)?;
    let mut schema: JsonObject = (*schema_for_type::<SupportArgs>()).clone();
    if let Some(Value::Object(properties)) = schema.get_mut("properties") {
        if known_email(state, caller, None).await?.is_some() {
            properties.remove("email");
        }
        if settings.settings.categories.is_empty() {
            properties.remove("category");
        } else {
            properties.insert(
                "category".into(),
                json!({
                    "type": "string",
                    "enum": settings.settings.categories,
                    "description": "What kind of request this is.",
                }),
            );
        }
    }
    let product = &caller.server.settings.product_name;
    let get_support = Tool::new(
        GET_SUPPORT,
        format!(
            "Get help from the {product} support team. Call this when the user hits an error or \
             a problem with {product} that you cannot resolve, or when they are frustrated and \
             want a human to look at it. It opens a support ticket; the team replies by email \
             and in the ticket (see get_ticket)."
        ),
        Arc::new(schema),
    )
    .with_title(format!("Get support about {product}"));
    let list = Tool::new(
        LIST_MY_TICKETS,
        format!("List the user's support tickets with the {product} team and their status."),
        schema_for_type::<ListArgs>(),
    )
    .with_title("List my support tickets");
    let get = Tool::new(
        GET_TICKET,
        format!(
            "Show one of the user's {product} support tickets: its status and the conversation \
             with the support team."
        ),
        schema_for_type::<TicketArgs>(),
    )
    .with_title("Show a support ticket");
    let reply = Tool::new(
        REPLY_TO_TICKET,
        format!(
            "Reply to one of the user's {product} support tickets: answer the team's question, \
             add information, or reopen a resolved ticket. Also gives the ticket the user's \
             email address when it waits for one."
        ),
        schema_for_type::<ReplyArgs>(),
    )
    .with_title("Reply to a support ticket");
    Ok(vec![get_support, list, get, reply])
}

pub(super) async fn call(
    state: &AppState,
    call: &Call<'_>,
    name: &str,
    arguments: &Value,
) -> Result<CallToolResult, McpError> {
    match name {
        GET_SUPPORT => {
            let args = SupportArgs::deserialize(arguments).map_err(to_invalid_params)?;
            get_support(state, call, args).await
        }
        LIST_MY_TICKETS => {
            let args = ListArgs::deserialize(arguments).map_err(to_invalid_params)?;
            list_my_tickets(state, call, args).await
        }
        GET_TICKET => {
            let args = TicketArgs::deserialize(arguments).map_err(to_invalid_params)?;
            get_ticket(state, call, args).await
        }
        _ => {
            let args = ReplyArgs::deserialize(arguments).map_err(to_invalid_params)?;
            reply_to_ticket(state, call, args).await
        }
    }
}

/// Who the caller is, for tickets: their identity, or the person a tool learned of, or (with
/// `create`, in a stateful session only — a derived one may be shared by everyone behind one
/// address) an anonymous end user made for the session.
async fn ticket_owner(
    state: &AppState,
    call: &Call<'_>,
    create: bool,
) -> Result<Option<EndUserId>, McpError> {
    if call.caller.session_id.is_none() {
        return Ok(call.caller.identity.end_user.or_else(|| call.identified_user()));
    }
    walkthroughs::end_user(state, call, create).await
}

fn mcp_error(err: ApiError) -> McpError {
    match err {
        ApiError::Validation(err) => to_invalid_params(err),
        ApiError::InUse(message) => McpError::invalid_params(message, None),
        other => internal(other),
    }
}

async fn get_support(
    state: &AppState,
    call: &Call<'_>,
    args: SupportArgs,
) -> Result<CallToolResult, McpError> {
    let caller = call.caller;
    let org = caller.server.organization_id;
    let request =
        TicketRequest::new(&args.title, &args.problem_description, args.problem_context.as_deref())
            .map_err(to_invalid_params)?;
    let settings =
        state.store.get_support_settings(org, caller.server.id).await.map_err(internal)?;
    let category = match args.category.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(given) => Some(settings.settings.category(given).map_err(to_invalid_params)?),
        None => None,
    };
    let given = parse_email(args.email.as_deref())?;
    let identified = match &given {
        Some(email) => identify_by_email(state, call, email.as_str()).await?,
        None => None,
    };
    let end_user = match identified {
        Some(user) => Some(user),
        None => ticket_owner(state, call, true).await?,
    };
    let email = match &given {
        Some(email) => Some(email.as_str().to_owned()),
        None => known_email(state, caller, end_user).await?,
    };
    if email.is_none() && end_user.is_none() {
        // Nobody could follow such a ticket up, nor answer it: ask first, as the original
        // contract does.
        return Ok(tool_error(
            "No ticket was opened: the support team needs an email address to reply to. Ask \
             the user for their email address, then call get_support again with it in `email`.",
        ));
    }
    let recent = match &call.session_id {
        Some(session) => recent_tool_calls(state, caller, session).await?,
        None => Vec::new(),
    };
    let context = call.context;
    let client = context.client_info();
    let now = state.clock.now();
    let ticket = SupportTicket {
        id: SupportTicketId::new(),
        organization_id: org,
        mcp_server_id: caller.server.id,
        end_user_id: end_user,
        session_id: call.session_id.clone(),
        title: request.title,
        summary: None,
        description: request.description,
        problem_context: request.problem_context,
        category,
        email: email.clone(),
        status: if email.is_some() { TicketStatus::New } else { TicketStatus::NeedsEmail },
        priority: TicketPriority::Medium,
        assignee_id: None,
        session_context: json!({
            "session_id": call.session_id,
            "client": client.map(|c| json!({
                "name": client_text(&c.name, MAX_CLIENT_NAME),
                "version": client_text(&c.version, MAX_CLIENT_VERSION),
            })),
            "protocol_version": context.protocol_version().map(|v| v.to_string()),
            "end_user_id": end_user.map(|id| id.to_string()),
            "user_agent": caller.user_agent,
            "recent_tool_calls": recent.iter().map(call_summary).collect::<Vec<_>>(),
        }),
        created_at: now,
        updated_at: now,
        resolved_at: None,
        resolved_by: None,
        closed_at: None,
        closed_by: None,
        auto_resolve_at: None,
        version: 0,
    };
    let actor = end_user.map_or(Actor::System, Actor::EndUser);
    let id = ticket.id;
    tickets::open(state, ticket, actor).await.map_err(mcp_error)?;
    if let (Some(user), Some(email)) = (end_user, &given) {
        // Earlier tickets of theirs that waited for an address go to the team now.
        tickets::email_arrived(state, org, user, email.as_str()).await.map_err(mcp_error)?;
    }
    let product = &caller.server.settings.product_name;
    let follow_up =
        if end_user.is_some() { " Their answer will also show in get_ticket." } else { "" };
    Ok(CallToolResult::success(text(match email {
        Some(email) => format!(
            "Support ticket {id} was opened with the {product} team. They will reply to \
             {email}.{follow_up} Tell the user their request was received."
        ),
        None => format!(
            "Support ticket {id} was saved, but the {product} team cannot answer without an \
             email address. Ask the user for their email address, then call reply_to_ticket \
             with ticketId \"{id}\" and the address in `email`."
        ),
    })))
}

fn parse_email(email: Option<&str>) -> Result<Option<EmailAddress>, McpError> {
    email
        .map(str::trim)
        .filter(|email| !email.is_empty())
        .map(|email| EmailAddress::parse(email).map_err(to_invalid_params))
        .transpose()
}

const NO_TICKETS: &str =
    "The user has no support tickets here yet (or is not identified in this session).";

/// The session a caller's tickets are limited to. A person known only by an address they
/// typed (`collect_email`: claiming an address is no proof of owning it) sees the tickets of
/// this session, not every ticket ever opened with that address.
fn claim_scope<'c>(call: &'c Call<'_>) -> Option<Option<&'c str>> {
    (call.caller.identity.source == IdentitySource::Email || call.identified.get().is_some())
        .then_some(call.caller.session_id.as_deref())
}

/// The caller's own ticket `id`; `None` when it is not theirs (or does not exist: the two are
/// told apart by nobody).
async fn own_ticket(
    state: &AppState,
    call: &Call<'_>,
    id: &str,
) -> Result<Option<(EndUserId, SupportTicket)>, McpError> {
    let Ok(id) = id.trim().parse::<SupportTicketId>() else { return Ok(None) };
    let Some(owner) = ticket_owner(state, call, false).await? else { return Ok(None) };
    let org = call.caller.server.organization_id;
    match state.store.get_support_ticket(org, id).await {
        Ok(ticket)
            if ticket.end_user_id == Some(owner)
                && ticket.mcp_server_id == call.caller.server.id
                && claim_scope(call).is_none_or(|session| {
                    session.is_some() && ticket.session_id.as_deref() == session
                }) =>
        {
            Ok(Some((owner, ticket)))
        }
        Ok(_) | Err(StoreError::NotFound) => Ok(None),
        Err(err) => Err(internal(err)),
    }
}

fn no_such_ticket(id: &str) -> CallToolResult {
    tool_error(format!(
        "There is no ticket {id} of this user. Call list_my_tickets to see their tickets."
    ))
}

fn when(at: time::OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

async fn list_my_tickets(
    state: &AppState,
    call: &Call<'_>,
    args: ListArgs,
) -> Result<CallToolResult, McpError> {
    let Some(owner) = ticket_owner(state, call, false).await? else {
        return Ok(CallToolResult::success(text(NO_TICKETS.into())));
    };
    let scope = claim_scope(call);
    if scope == Some(None) {
        // Known by a claimed address without a session: nothing is theirs for sure.
        return Ok(CallToolResult::success(text(NO_TICKETS.into())));
    }
    let filter = TicketFilter {
        server: Some(call.caller.server.id),
        end_user: Some(owner),
        session_id: scope.flatten().map(str::to_owned),
        statuses: if args.include_closed {
            Vec::new()
        } else {
            TicketStatus::ALL.into_iter().filter(|s| s.is_open()).collect()
        },
        ..TicketFilter::default()
    };
    let org = call.caller.server.organization_id;
    let page = state
        .store
        .list_support_tickets(
            org,
            &filter,
            TicketSort::RecentlyUpdated,
            PageRequest::new(MY_TICKETS, 0),
        )
        .await
        .map_err(internal)?;
    let tickets: Vec<Value> = page
        .items
        .iter()
        .map(|t| {
            json!({
                "ticketId": t.id.to_string(),
                "title": t.title,
                "status": t.status.as_str(),
                "category": t.category,
                "openedAt": when(t.created_at),
                "updatedAt": when(t.updated_at),
            })
        })
        .collect();
    let summary = if tickets.is_empty() {
        "The user has no open support tickets.".to_owned()
    } else {
        format!(
            "The user's support tickets, most recently updated first:\n{}",
            Value::Array(tickets)
        )
    };
    Ok(CallToolResult::success(text(summary)))
}

async fn get_ticket(
    state: &AppState,
    call: &Call<'_>,
    args: TicketArgs,
) -> Result<CallToolResult, McpError> {
    let Some((_, ticket)) = own_ticket(state, call, &args.ticket_id).await? else {
        return Ok(no_such_ticket(&args.ticket_id));
    };
    let org = call.caller.server.organization_id;
    let stream =
        state.store.list_ticket_activities(org, ticket.id, false).await.map_err(internal)?;
    let conversation: Vec<Value> = stream
        .iter()
        .filter_map(|entry| {
            let from = match entry.actor {
                Actor::Member(_) => "support team",
                Actor::EndUser(_) => "user",
                Actor::System => "system",
            };
            let message = match entry.kind {
                ActivityKind::Comment => entry.body.clone()?,
                ActivityKind::StatusChange => format!(
                    "Status changed to {}.{}",
                    entry.data.get("to").and_then(Value::as_str).unwrap_or("?"),
                    entry.body.as_deref().map(|b| format!(" {b}")).unwrap_or_default()
                ),
                // Assignments, field edits and notes are the team's business.
                _ => return None,
            };
            Some(json!({"at": when(entry.created_at), "from": from, "message": message}))
        })
        .collect();
    let shown = json!({
        "ticketId": ticket.id.to_string(),
        "title": ticket.title,
        "status": ticket.status.as_str(),
        "category": ticket.category,
        "description": ticket.description,
        "email": ticket.email,
        "openedAt": when(ticket.created_at),
        "resolvedAt": ticket.resolved_at.map(when),
        "conversation": conversation,
    });
    let hint = match ticket.status {
        TicketStatus::NeedsEmail => {
            "It waits for the user's email address: ask for it and give it with reply_to_ticket."
        }
        TicketStatus::AwaitingCustomer => {
            "The team waits for the user's answer: reply with reply_to_ticket."
        }
        TicketStatus::Resolved => "It is resolved; replying with reply_to_ticket reopens it.",
        TicketStatus::Closed => "It is closed; open a new ticket with get_support if needed.",
        _ => "The team is on it.",
    };
    Ok(CallToolResult::success(text(format!("{shown}\n\n{hint}"))))
}

async fn reply_to_ticket(
    state: &AppState,
    call: &Call<'_>,
    args: ReplyArgs,
) -> Result<CallToolResult, McpError> {
    let message = args.message.as_deref().map(str::trim).filter(|m| !m.is_empty());
    let email = parse_email(args.email.as_deref())?;
    if message.is_none() && email.is_none() {
        return Err(to_invalid_params("give a `message`, an `email`, or both"));
    }
    let Some((mut owner, mut ticket)) = own_ticket(state, call, &args.ticket_id).await? else {
        return Ok(no_such_ticket(&args.ticket_id));
    };
    let org = call.caller.server.organization_id;
    let mut said = Vec::new();
    if let Some(email) = &email {
        // On a `collect_email` server the address may name someone else, into whom the
        // session's anonymous person (and this ticket) was merged.
        if let Some(identified) = identify_by_email(state, call, email.as_str()).await? {
            owner = identified;
        }
        let moved =
            tickets::email_arrived(state, org, owner, email.as_str()).await.map_err(mcp_error)?;
        if moved > 0 {
            said.push(format!("The team now has the address {email} and will answer there."));
            ticket = state.store.get_support_ticket(org, ticket.id).await.map_err(internal)?;
        } else if message.is_none() {
            said.push(format!(
                "Ticket {} already has an address; nothing changed. The team answers there.",
                ticket.id
            ));
        }
    }
    if let Some(message) = message {
        let after =
            tickets::end_user_reply(state, ticket, owner, message).await.map_err(mcp_error)?;
        said.push(match after.status {
            TicketStatus::NeedsEmail => "The reply was added; the ticket still needs an email \
                 address for the team to answer."
                .to_owned(),
            _ => format!(
                "The reply was added to ticket {}; it is now {}.",
                after.id,
                after.status.as_str()
            ),
        });
    }
    Ok(CallToolResult::success(text(said.join(" "))))
}

/// The session's latest tool calls, newest first: those still waiting to be written, then the
/// stored ones (no flush on the request path).
async fn recent_tool_calls(
    state: &AppState,
    caller: &Caller,
    session: &str,
) -> Result<Vec<McpRequestRecord>, McpError> {
    let mut recent = state.hosting.log.pending_tool_calls(session);
    let stored = state
        .store
        .recent_tool_calls(caller.server.organization_id, session, TICKET_RECENT_CALLS)
        .await
        .map_err(internal)?;
    for record in stored {
        if !recent.iter().any(|pending| pending.id == record.id) {
            recent.push(record);
        }
    }
    recent.sort_by_key(|record| std::cmp::Reverse(record.started_at));
    recent.truncate(TICKET_RECENT_CALLS as usize);
    Ok(recent)
}

fn call_summary(record: &McpRequestRecord) -> Value {
    json!({
        "tool": record.tool_name,
        "at": record.started_at.unix_timestamp(),
        "outcome": record.outcome.as_str(),
        "arguments": record.arguments,
        "error": record.error_message,
    })
}

/// The end user behind an address the user gave. A known user gets it noted (where they had
/// none). On a `collect_email` server it identifies an unknown user: found by the address among
/// the organization's end users nobody verified (claiming an address is no proof of owning
/// it), or new, and remembered for the stateful session. Elsewhere an unknown user stays
/// unknown: the address goes on the ticket only.
async fn identify_by_email(
    state: &AppState,
    call: &Call<'_>,
    email: &str,
) -> Result<Option<EndUserId>, McpError> {
    let caller = call.caller;
    let org = caller.server.organization_id;
    // The anonymous person of a session is nobody yet: an address does not make them someone
    // unless the server collects addresses.
    let placeholder =
        caller.identity.end_user.filter(|_| caller.identity.source == IdentitySource::None);
    if let Some(user) = caller.identity.end_user.filter(|_| placeholder.is_none()) {
        state.store.set_end_user_email(org, user, email).await.map_err(internal)?;
        return Ok(Some(user));
    }
    if caller.server.settings.auth_mode != AuthMode::CollectEmail {
        return Ok(None);
    }
    let found = state.store.find_end_user_by_email(org, email, true).await.map_err(internal)?;
    let user = match found {
        Some(user) => user.id,
        None => {
            let now = state.clock.now();
            state.store.create_end_user(org, Some(email), None, now).await.map_err(internal)?.id
        }
    };
    if let Some(placeholder) = placeholder {
        // What the anonymous person did (a ticket waiting for this address) becomes theirs.
        state.store.merge_end_users(org, placeholder, user).await.map_err(internal)?;
    }
    let _first_time = call.identified.set((user, IdentitySource::Email));
    // Only a stateful session is the caller's own; a derived one of an anonymous caller may be
    // shared by everyone behind one address.
    if let Some(session) = &caller.session_id {
        state
            .store
            .identify_mcp_session(session, user, IdentitySource::Email)
            .await
            .map_err(internal)?;
        state.hosting.forget_session(session);
    }
    Ok(Some(user))
}
