//! The tools a hosted server offers, from its settings, with the original products' contracts
//! (`reference/seeds.md` §2A): the support tools ([`support`]: `get_support` opens a ticket,
//! `list_my_tickets`, `get_ticket` and `reply_to_ticket` continue the conversation) and
//! `start_walkthrough` / `get_next_step` ([`walkthroughs`]). Arguments are checked against the
//! tool's own type (the schema is generated from it), and anything wrong is a `-32602` naming
//! the field.

use rmcp::ErrorData as McpError;
use rmcp::model::{CallToolResult, Tool};
use serde_json::Value;

use super::Caller;
use super::handler::Call;
use super::support::{self, SUPPORT_TOOLS};
use super::walkthroughs::{self, GET_NEXT_STEP, START_WALKTHROUGH};
use crate::AppState;

pub(super) fn to_invalid_params(err: impl std::fmt::Display) -> McpError {
    McpError::invalid_params(format!("invalid arguments: {err}"), None)
}

pub(super) fn internal(err: impl std::fmt::Debug) -> McpError {
    tracing::error!(error = ?err, "a hosted tool failed");
    McpError::internal_error("the tool failed; please try again later", None)
}

pub async fn list(state: &AppState, caller: &Caller) -> Result<Vec<Tool>, McpError> {
    let settings = &caller.server.settings;
    let mut tools = Vec::new();
    if settings.support_tool_enabled {
        tools.extend(support::tools(state, caller).await?);
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
        name if SUPPORT_TOOLS.contains(&name)
            && call.caller.server.settings.support_tool_enabled =>
        {
            support::call(state, &call, name, arguments).await
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
