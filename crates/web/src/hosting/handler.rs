//! The MCP side of a hosted server: its identity, its tools, and the record of each request
//! (method, tool, redacted arguments and result, outcome per the OTel MCP conventions).

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use mcplatform_core::hosting::{McpRequestRecord, RequestOutcome, client_text, redact};
use mcplatform_core::ids::{EndUserId, McpRequestId};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, DiscoverResult, Implementation,
    InitializeRequestParams, InitializeResult, ListToolsResult, PaginatedRequestParams,
    ProtocolVersion, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::SessionRestoreMarker;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::Value;
use time::OffsetDateTime;

use super::{Caller, sessions, tools};
use crate::AppState;

/// The longest tool name, request id and error message kept in a record.
const MAX_RECORDED_NAME: usize = 200;
const MAX_RECORDED_ERROR: usize = 1000;

#[derive(Debug, Clone)]
pub struct HostedHandler {
    state: AppState,
}

/// A request as a tool sees it: who calls, in which session, through which MCP context.
pub(super) struct Call<'a> {
    pub caller: &'a Caller,
    /// The stateful session, or the derived one of a stateless request.
    pub session_id: Option<String>,
    pub context: &'a RequestContext<RoleServer>,
    /// Set by a tool that learned who the anonymous caller is: the call is theirs.
    pub identified: Arc<OnceLock<EndUserId>>,
}

impl HostedHandler {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }

    /// What the server says of itself: its name, and how to use it.
    fn server_config(caller: &Caller) -> ServerConfig {
        let settings = &caller.server.settings;
        let mut info = Implementation::new(caller.server.slug.as_str(), env!("CARGO_PKG_VERSION"));
        info.title = Some(settings.name.clone());
        let instructions = if settings.description.is_empty() {
            format!(
                "Tools of {}: ask for help or follow guided walkthroughs.",
                settings.product_name
            )
        } else {
            settings.description.clone()
        };
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(info)
            .with_instructions(instructions)
    }

    /// The session a request belongs to: its stateful one, or the derived one of a stateless
    /// request (resolved once, for the tool and the record alike).
    async fn session_of(
        &self,
        caller: &Caller,
        context: &RequestContext<RoleServer>,
    ) -> Option<String> {
        if let Some(id) = &caller.session_id {
            return Some(id.clone());
        }
        let version = context.protocol_version().unwrap_or(ProtocolVersion::V_2026_07_28);
        let client = context.client_info();
        match sessions::derived_session(&self.state, caller, version.as_str(), client.as_ref())
            .await
        {
            Ok(id) => Some(id),
            Err(err) => {
                tracing::warn!(error = ?err, "cannot derive a session for a stateless request");
                None
            }
        }
    }

    /// Runs `work` in the caller's session and records it.
    async fn recorded<'a, T, F, Fut>(
        &self,
        context: &'a RequestContext<RoleServer>,
        caller: &'a Caller,
        method: &str,
        tool_name: Option<&str>,
        arguments: Option<&Value>,
        work: F,
    ) -> Result<T, McpError>
    where
        T: serde::Serialize + Outcome,
        F: FnOnce(Call<'a>) -> Fut,
        Fut: Future<Output = Result<T, McpError>>,
    {
        let session_id = self.session_of(caller, context).await;
        let started_at = self.state.clock.now();
        let started = Instant::now();
        let identified = Arc::new(OnceLock::new());
        let call = Call {
            caller,
            session_id: session_id.clone(),
            context,
            identified: identified.clone(),
        };
        let result = work(call).await;
        let mut record = new_record(caller, context, method, started_at, started);
        record.session_id = session_id;
        if let Some(user) = identified.get() {
            record.end_user_id = Some(*user);
        }
        record.tool_name = tool_name.map(|name| client_text(name, MAX_RECORDED_NAME));
        record.arguments = arguments.map(redact);
        finish(&mut record, &result);
        self.state.hosting.log.record(record);
        result
    }
}

/// A record of `method` by `caller`, begun at `started_at`, taking until now.
fn new_record(
    caller: &Caller,
    context: &RequestContext<RoleServer>,
    method: &str,
    started_at: OffsetDateTime,
    started: Instant,
) -> McpRequestRecord {
    McpRequestRecord {
        id: McpRequestId::new(),
        organization_id: caller.server.organization_id,
        mcp_server_id: caller.server.id,
        session_id: None,
        end_user_id: caller.identity.end_user,
        method: method.to_owned(),
        tool_name: None,
        jsonrpc_id: Some(client_text(&context.id.to_string(), MAX_RECORDED_NAME)),
        protocol_version: context.protocol_version().map(|v| v.to_string()),
        arguments: None,
        result: None,
        outcome: RequestOutcome::Ok,
        error_code: None,
        error_message: None,
        duration_us: i64::try_from(started.elapsed().as_micros()).unwrap_or(i64::MAX),
        started_at,
    }
}

/// The outcome, and the result or error, of a record.
fn finish<T: serde::Serialize + Outcome>(
    record: &mut McpRequestRecord,
    result: &Result<T, McpError>,
) {
    match result {
        Ok(value) => {
            record.outcome = value.outcome();
            record.result = serde_json::to_value(value).ok().as_ref().map(redact);
        }
        Err(err) => {
            record.outcome = RequestOutcome::ProtocolError;
            record.error_code = Some(i64::from(err.code.0));
            record.error_message = Some(client_text(&err.message, MAX_RECORDED_ERROR));
        }
    }
}

/// How a result counts: a tool result flagged `isError` is a tool error.
pub trait Outcome {
    fn outcome(&self) -> RequestOutcome {
        RequestOutcome::Ok
    }
}

impl Outcome for CallToolResult {
    fn outcome(&self) -> RequestOutcome {
        if self.is_error == Some(true) { RequestOutcome::ToolError } else { RequestOutcome::Ok }
    }
}
impl Outcome for InitializeResult {}
impl Outcome for ListToolsResult {}
impl Outcome for DiscoverResult {}
impl Outcome for () {}

/// The caller our endpoint put in the HTTP request's extensions.
pub(super) fn caller(context: &RequestContext<RoleServer>) -> Result<Caller, McpError> {
    context
        .extensions
        .get::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Caller>())
        .cloned()
        .ok_or_else(|| McpError::internal_error("the request reached MCP without its caller", None))
}

impl ServerHandler for HostedHandler {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, McpError> {
        let caller = caller(&context)?;
        let started_at = self.state.clock.now();
        let started = Instant::now();
        let result = self.negotiate_initialize(&request).map(|negotiated| {
            Self::server_config(&caller).with_protocol_version(negotiated.protocol_version)
        });
        // A session restored on this node replays its `initialize`: not a new request.
        if context.extensions.get::<SessionRestoreMarker>().is_some() {
            return result;
        }
        let mut record = new_record(&caller, &context, "initialize", started_at, started);
        record.arguments = serde_json::to_value(&request).ok().as_ref().map(redact);
        if let Ok(result) = &result {
            record.protocol_version = Some(result.protocol_version.to_string());
        }
        finish(&mut record, &result);
        // Recorded by the endpoint, with the session its answer opens.
        *caller.initialize.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((request, record));
        result
    }

    async fn discover(
        &self,
        context: RequestContext<RoleServer>,
    ) -> Result<DiscoverResult, McpError> {
        let caller = caller(&context)?;
        let versions = self.supported_protocol_versions().into_owned();
        self.recorded(&context, &caller, "server/discover", None, None, |call| async move {
            Ok(DiscoverResult::from_server_info(versions, Self::server_config(call.caller)))
        })
        .await
    }

    async fn ping(&self, context: RequestContext<RoleServer>) -> Result<(), McpError> {
        let caller = caller(&context)?;
        self.recorded(&context, &caller, "ping", None, None, |_| async { Ok(()) }).await
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let caller = caller(&context)?;
        self.recorded(&context, &caller, "tools/list", None, None, |call| async move {
            let tools = tools::list(&self.state, call.caller).await?;
            Ok(ListToolsResult::with_all_items(tools))
        })
        .await
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let caller = caller(&context)?;
        let arguments = Value::Object(request.arguments.unwrap_or_default());
        let name = request.name;
        let result = self
            .recorded(&context, &caller, "tools/call", Some(&name), Some(&arguments), |call| {
                tools::call(&self.state, call, &name, &arguments)
            })
            .await?;
        Ok(CallToolResponse::from(result))
    }
}
