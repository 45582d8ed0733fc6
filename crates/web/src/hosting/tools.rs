//! The tools a hosted server offers, from its settings, with the original products' contracts
//! (`reference/seeds.md` §2A): `get_support` opens a ticket; `start_walkthrough` and
//! `get_next_step` deliver walkthroughs ([`walkthroughs`]). Arguments are checked against the
//! tool's own type (the schema is generated from it), and anything wrong is a `-32602` naming
//! the field.

use std::sync::Arc;

use mcplatform_core::hosting::{IdentitySource, McpRequestRecord, client_text};
use mcplatform_core::ids::{EndUserId, SupportTicketId};
use mcplatform_core::mcp_server::AuthMode;
use mcplatform_core::support::{SupportTicket, TicketPriority, TicketRequest, TicketStatus};
use mcplatform_core::user::EmailAddress;
use rmcp::ErrorData as McpError;
use rmcp::handler::server::common::schema_for_type;
use rmcp::model::{CallToolResult, ContentBlock, JsonObject, Tool};
use rmcp::schemars::{self, JsonSchema};
use serde::Deserialize;
use serde_json::{Value, json};

use super::handler::Call;
use super::walkthroughs::{self, GET_NEXT_STEP, START_WALKTHROUGH};
use super::{Caller, MAX_CLIENT_NAME, MAX_CLIENT_VERSION};
use crate::AppState;

pub const GET_SUPPORT: &str = "get_support";
/// Tool calls of the session a ticket carries, for whoever answers it.
const TICKET_RECENT_CALLS: u32 = 10;

/// `get_support`'s arguments (`reference/seeds.md`: title, problemDescription, problemContext,
/// and email when the user is not known).
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
    /// The user's email address, so that the support team can reply. Ask the user for it.
    email: Option<String>,
}

pub(super) fn to_invalid_params(err: impl std::fmt::Display) -> McpError {
    McpError::invalid_params(format!("invalid arguments: {err}"), None)
}

pub(super) fn internal(err: impl std::fmt::Debug) -> McpError {
    tracing::error!(error = ?err, "a hosted tool failed");
    McpError::internal_error("the tool failed; please try again later", None)
}

/// The end user's known address, if any.
async fn known_email(state: &AppState, caller: &Caller) -> Result<Option<String>, McpError> {
    let Some(user) = caller.identity.end_user else { return Ok(None) };
    let user =
        state.store.get_end_user(caller.server.organization_id, user).await.map_err(internal)?;
    Ok(user.email)
}

pub async fn list(state: &AppState, caller: &Caller) -> Result<Vec<Tool>, McpError> {
    let settings = &caller.server.settings;
    let mut tools = Vec::new();
    if settings.support_tool_enabled {
        let mut schema = schema_for_type::<SupportArgs>();
        // A user whose address is known is not asked for it.
        if known_email(state, caller).await?.is_some() {
            let mut without_email: JsonObject = (*schema).clone();
            if let Some(Value::Object(properties)) = without_email.get_mut("properties") {
                properties.remove("email");
            }
            schema = Arc::new(without_email);
        }
        let product = &settings.product_name;
        let tool = Tool::new(
            GET_SUPPORT,
            format!(
                "Get help from the {product} support team. Call this when the user hits an error \
                 or a problem with {product} that you cannot resolve, or when they are \
                 frustrated and want a human to look at it. It opens a support ticket; the team \
                 replies by email."
            ),
            schema,
        )
        .with_title(format!("Get support about {product}"));
        tools.push(tool);
    }
    if !walkthroughs::offered(state, caller).await?.is_empty() {
        tools.extend(walkthroughs::tools(&settings.product_name));
    }
    Ok(tools)
}

pub async fn call(
    state: &AppState,
    call: Call<'_>,
    name: &str,
    arguments: &Value,
) -> Result<CallToolResult, McpError> {
    match name {
        GET_SUPPORT if call.caller.server.settings.support_tool_enabled => {
            let args = SupportArgs::deserialize(arguments).map_err(to_invalid_params)?;
            get_support(state, &call, args).await
        }
        START_WALKTHROUGH | GET_NEXT_STEP
            if !walkthroughs::offered(state, call.caller).await?.is_empty() =>
        {
            walkthroughs::call(state, &call, name, arguments).await
        }
        // MCP tools spec, "Error Handling": an unknown tool is a protocol error.
        other => Err(McpError::invalid_params(format!("unknown tool: {other}"), None)),
    }
}

fn text(result: String) -> Vec<ContentBlock> {
    vec![ContentBlock::text(result)]
}

async fn get_support(
    state: &AppState,
    call: &Call<'_>,
    args: SupportArgs,
) -> Result<CallToolResult, McpError> {
    let caller = call.caller;
    let ticket =
        TicketRequest::new(&args.title, &args.problem_description, args.problem_context.as_deref())
            .map_err(to_invalid_params)?;
    let given = args
        .email
        .as_deref()
        .map(str::trim)
        .filter(|email| !email.is_empty())
        .map(|email| EmailAddress::parse(email).map_err(to_invalid_params))
        .transpose()?;
    let (end_user, email) = match &given {
        Some(email) => {
            let user = identify_by_email(state, call, email.as_str()).await?;
            (user, email.as_str().to_owned())
        }
        None => match known_email(state, caller).await? {
            Some(known) => (caller.identity.end_user, known),
            None => {
                return Ok(CallToolResult::error(text(
                    "No ticket was opened: the support team needs an email address to reply \
                     to. Ask the user for their email address, then call get_support again \
                     with it in `email`."
                        .into(),
                )));
            }
        },
    };
    let recent = match &call.session_id {
        Some(session) => recent_tool_calls(state, caller, session).await?,
        None => Vec::new(),
    };
    let context = call.context;
    let client = context.client_info();
    let now = state.clock.now();
    let stored = SupportTicket {
        id: SupportTicketId::new(),
        organization_id: caller.server.organization_id,
        mcp_server_id: caller.server.id,
        end_user_id: end_user,
        session_id: call.session_id.clone(),
        title: ticket.title,
        description: ticket.description,
        problem_context: ticket.problem_context,
        email: email.clone(),
        status: TicketStatus::Pending,
        priority: TicketPriority::Medium,
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
    };
    state.store.create_support_ticket(&stored).await.map_err(internal)?;
    let product = &caller.server.settings.product_name;
    Ok(CallToolResult::success(text(format!(
        "Support ticket {} was opened with the {product} team. They will reply to {email}. \
         Tell the user their request was received.",
        stored.id
    ))))
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
    if let Some(user) = caller.identity.end_user {
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
    let _first_time = call.identified.set(user);
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
