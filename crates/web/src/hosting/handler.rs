//! The MCP side of a hosted server: its identity, its tools, and the record of each request
//! (method, tool, redacted arguments and result, outcome per the OTel MCP conventions).

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use mcplatform_core::hosting::{
    IdentitySource, McpRequestRecord, RequestOutcome, client_text, redact,
};
use mcplatform_core::ids::{EndUserId, McpRequestId};
use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestMethod,
    CompleteRequestParams, CompleteResult, ConstString, CustomRequest, CustomResult,
    DiscoverResult, ErrorCode, GetPromptRequestMethod, GetPromptRequestParams, GetPromptResponse,
    Implementation, InitializeRequestParams, InitializeResult, ListPromptsRequestMethod,
    ListPromptsResult, ListResourceTemplatesRequestMethod, ListResourceTemplatesResult,
    ListResourcesRequestMethod, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ProtocolVersion, ReadResourceRequestMethod, ReadResourceRequestParams, ReadResourceResponse,
    ServerCapabilities, ServerConfig, ServerResult, SetLevelRequestMethod, SubscribeRequestMethod,
    SubscribeRequestParams, UnsubscribeRequestMethod, UnsubscribeRequestParams,
};
// logging/setLevel is deprecated by SEP-2577, but it is what 2025-11-25 has.
#[allow(deprecated)]
use rmcp::model::SetLevelRequestParams;
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::SessionRestoreMarker;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::Value;
use time::OffsetDateTime;

use super::fixture::{self, Fixture};
use super::{Caller, sessions, tools};
use crate::AppState;

/// The longest tool name, request id and error message kept in a record.
const MAX_RECORDED_NAME: usize = 200;
const MAX_RECORDED_ERROR: usize = 1000;

#[derive(Debug, Clone)]
pub struct HostedHandler {
    state: AppState,
    /// Test runs only: this session serves the conformance suite's fixture.
    fixture: Option<Arc<Fixture>>,
}

/// A request as a tool sees it: who calls, in which session, through which MCP context.
pub(super) struct Call<'a> {
    pub caller: &'a Caller,
    /// The stateful session, or the derived one of a stateless request.
    pub session_id: Option<String>,
    pub context: &'a RequestContext<RoleServer>,
    /// Set by a tool that learned who the anonymous caller is: the call is theirs.
    pub identified: Arc<OnceLock<(EndUserId, IdentitySource)>>,
}

impl Call<'_> {
    /// The end user a tool identified the caller as during this call.
    pub fn identified_user(&self) -> Option<EndUserId> {
        self.identified.get().map(|(user, _)| *user)
    }
}

impl HostedHandler {
    pub fn new(state: AppState) -> Self {
        Self { state, fixture: None }
    }

    /// The conformance suite's fixture (`testing.conformance_fixture`), a session of it.
    pub fn fixture(state: AppState) -> Self {
        Self { state, fixture: Some(Arc::default()) }
    }

    /// What the server says of itself: its name, what it offers, and how to use it.
    fn server_config(&self, caller: &Caller, modern: bool) -> ServerConfig {
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
        let capabilities = match &self.fixture {
            Some(_) => fixture::capabilities(modern),
            None => ServerCapabilities::builder().enable_tools().build(),
        };
        ServerConfig::new(capabilities).with_server_info(info).with_instructions(instructions)
    }

    /// The fixture of a conformance session; for a product server, the method is unknown.
    fn fixture_only<M: ConstString>(&self) -> Result<&Fixture, McpError> {
        self.fixture.as_deref().ok_or_else(McpError::method_not_found::<M>)
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
        if let Some((user, source)) = identified.get() {
            record.end_user_id = Some(*user);
            record.identity_source = *source;
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
        identity_source: caller.identity.source,
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
impl Outcome for ListResourcesResult {}
impl Outcome for ListResourceTemplatesResult {}
impl Outcome for ListPromptsResult {}
impl Outcome for CompleteResult {}

/// A response rmcp does not serialize itself, recorded as the result it sends.
struct AsSent<T>(T);

impl<T: Clone + Into<ServerResult>> serde::Serialize for AsSent<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.clone().into().serialize(serializer)
    }
}

impl Outcome for AsSent<CallToolResponse> {
    fn outcome(&self) -> RequestOutcome {
        match &self.0 {
            CallToolResponse::Complete(result) => result.outcome(),
            _ => RequestOutcome::Ok,
        }
    }
}
impl Outcome for AsSent<ReadResourceResponse> {}
impl Outcome for AsSent<GetPromptResponse> {}

/// Whether the request speaks the stateless revision (2026-07-28 or later).
pub(super) fn speaks_stateless(context: &RequestContext<RoleServer>) -> bool {
    context.protocol_version().is_some_and(|version| !version.has_initialize())
}

/// A known method whose parameters did not parse reaches rmcp's custom-request hook: that is
/// invalid params (-32602), not an unknown method; unless the server does not offer it, or the
/// revision removed it (SEP-2575).
fn malformed(request: &CustomRequest, fixture: bool, stateless: bool) -> McpError {
    const TOOLS: &[&str] = &["tools/list", "tools/call"];
    const FIXTURE: &[&str] = &[
        "resources/list",
        "resources/templates/list",
        "resources/read",
        "prompts/list",
        "prompts/get",
        "completion/complete",
    ];
    const FIXTURE_IN_SESSIONS: &[&str] =
        &["logging/setLevel", "resources/subscribe", "resources/unsubscribe"];
    let method = request.method.as_str();
    let known = TOOLS.contains(&method)
        || (fixture && FIXTURE.contains(&method))
        || (fixture && !stateless && FIXTURE_IN_SESSIONS.contains(&method));
    if known {
        McpError::invalid_params(format!("Invalid params for {method}"), None)
    } else {
        McpError::new(ErrorCode::METHOD_NOT_FOUND, request.method.clone(), None)
    }
}

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
        let capabilities = match &self.fixture {
            Some(_) => fixture::capabilities(false),
            None => ServerCapabilities::builder().enable_tools().build(),
        };
        ServerConfig::new(capabilities)
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
            self.server_config(&caller, false).with_protocol_version(negotiated.protocol_version)
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
            Ok(DiscoverResult::from_server_info(versions, self.server_config(call.caller, true)))
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
            match &self.fixture {
                Some(_) => Ok(ListToolsResult::with_all_items(fixture::tools()?)
                    .with_ttl_ms(0)
                    .with_cache_scope(CacheScope::Private)),
                None => Ok(ListToolsResult::with_all_items(
                    tools::list(&self.state, call.caller).await?,
                )),
            }
        })
        .await
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let caller = caller(&context)?;
        if let Some(fixture) = &self.fixture {
            let arguments = Value::Object(request.arguments.clone().unwrap_or_default());
            let name = request.name.clone();
            let context = &context;
            return self
                .recorded(
                    context,
                    &caller,
                    "tools/call",
                    Some(&name),
                    Some(&arguments),
                    |_| async { fixture::call_tool(fixture, &request, context).await.map(AsSent) },
                )
                .await
                .map(|AsSent(response)| response);
        }
        let arguments = Value::Object(request.arguments.unwrap_or_default());
        let name = request.name;
        let result = self
            .recorded(&context, &caller, "tools/call", Some(&name), Some(&arguments), |call| {
                tools::call(&self.state, call, &name, &arguments)
            })
            .await?;
        Ok(CallToolResponse::from(result))
    }

    // Resources, prompts, completion and logging: the conformance fixture's only (a product
    // server declares none of them, so they are unknown methods there).

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let caller = caller(&context)?;
        self.fixture_only::<ListResourcesRequestMethod>()?;
        self.recorded(&context, &caller, "resources/list", None, None, |_| async {
            Ok(fixture::resources())
        })
        .await
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        let caller = caller(&context)?;
        self.fixture_only::<ListResourceTemplatesRequestMethod>()?;
        self.recorded(&context, &caller, "resources/templates/list", None, None, |_| async {
            Ok(fixture::resource_templates())
        })
        .await
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let caller = caller(&context)?;
        self.fixture_only::<ReadResourceRequestMethod>()?;
        let uri = Value::String(request.uri.clone());
        self.recorded(&context, &caller, "resources/read", None, Some(&uri), |_| async {
            fixture::read_resource(&request).map(AsSent)
        })
        .await
        .map(|AsSent(response)| response)
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let caller = caller(&context)?;
        self.fixture_only::<SubscribeRequestMethod>()?;
        // The fixture's resources never change: a subscription is acknowledged, no more.
        let uri = Value::String(request.uri);
        self.recorded(&context, &caller, "resources/subscribe", None, Some(&uri), |_| async {
            Ok(())
        })
        .await
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let caller = caller(&context)?;
        self.fixture_only::<UnsubscribeRequestMethod>()?;
        let uri = Value::String(request.uri);
        self.recorded(&context, &caller, "resources/unsubscribe", None, Some(&uri), |_| async {
            Ok(())
        })
        .await
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        let caller = caller(&context)?;
        self.fixture_only::<ListPromptsRequestMethod>()?;
        self.recorded(&context, &caller, "prompts/list", None, None, |_| async {
            Ok(fixture::prompts())
        })
        .await
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let caller = caller(&context)?;
        self.fixture_only::<GetPromptRequestMethod>()?;
        let arguments = request.arguments.clone().map(Value::Object);
        self.recorded(&context, &caller, "prompts/get", None, arguments.as_ref(), |_| async {
            fixture::get_prompt(&request).map(AsSent)
        })
        .await
        .map(|AsSent(response)| response)
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        let caller = caller(&context)?;
        self.fixture_only::<CompleteRequestMethod>()?;
        self.recorded(&context, &caller, "completion/complete", None, None, |_| async {
            fixture::complete(&request)
        })
        .await
    }

    #[allow(deprecated)] // logging/setLevel is what 2025-11-25 has
    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let caller = caller(&context)?;
        let fixture = self.fixture_only::<SetLevelRequestMethod>()?;
        self.recorded(&context, &caller, "logging/setLevel", None, None, |_| async {
            fixture::set_level(fixture, request.level);
            Ok(())
        })
        .await
    }

    async fn on_custom_request(
        &self,
        request: CustomRequest,
        context: RequestContext<RoleServer>,
    ) -> Result<CustomResult, McpError> {
        Err(malformed(&request, self.fixture.is_some(), speaks_stateless(&context)))
    }
}
