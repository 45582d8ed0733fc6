//! The MCP conformance suite's fixture (its "everything" server), for test runs only: with
//! `testing.conformance_fixture` on, the hosted server with the slug `conformance` serves
//! these tools, resources and prompts instead of the product's, through the same routing,
//! transport, sessions and recording. What each answers is what the suite's scenarios check
//! (`@modelcontextprotocol/conformance` 0.2.0-alpha.12, `examples/servers/typescript/
//! everything-server.ts`); nothing here is reachable on a production server.

// Logging, sampling and roots are deprecated in rmcp (SEP-2577) but are what 2025-11-25 tests.
#![allow(deprecated)]

use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, ClientCapabilities,
    ClientResult, CompleteRequestParams, CompleteResult, CompletionInfo, ContentBlock,
    CreateMessageRequestParams, ElicitRequest, ElicitRequestParams, ErrorCode,
    GetPromptRequestParams, GetPromptResponse, GetPromptResult, InputRequests, InputRequiredResult,
    InputResponses, ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult,
    LoggingLevel, LoggingMessageNotificationParam, ProgressNotificationParam, Prompt,
    PromptArgument, PromptMessage, ReadResourceRequestParams, ReadResourceResponse,
    ReadResourceResult, Resource, ResourceContents, ResourceTemplate, Role, SamplingMessage,
    ServerCapabilities, ServerRequest, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer};
use serde_json::{Value, json};

use super::handler::speaks_stateless as modern;
use mcplatform_core::crypto::MasterKey;

const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
const WAV: &str = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=";
const LOGGER: &str = "conformance-test-server";

/// What one session of the fixture remembers (rmcp makes a handler per session).
#[derive(Debug, Default)]
pub struct Fixture {
    /// `logging/setLevel` (2025-11-25); until set, everything is sent.
    log_level: Mutex<Option<LoggingLevel>>,
}

/// The fixture's capabilities: everything in a session; in the stateless revision no
/// subscriptions or list changes (`subscriptions/listen` is not offered).
pub fn capabilities(modern: bool) -> ServerCapabilities {
    if modern {
        ServerCapabilities::builder()
            .enable_tools()
            .enable_prompts()
            .enable_resources()
            .enable_completions()
            .enable_logging()
            .build()
    } else {
        ServerCapabilities::builder()
            .enable_tools()
            .enable_tool_list_changed()
            .enable_prompts()
            .enable_prompts_list_changed()
            .enable_resources()
            .enable_resources_subscribe()
            .enable_resources_list_changed()
            .enable_completions()
            .enable_logging()
            .build()
    }
}

fn parse<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, McpError> {
    serde_json::from_value(value).map_err(|err| McpError::internal_error(err.to_string(), None))
}

fn text(text: impl Into<String>) -> CallToolResponse {
    CallToolResult::success(vec![ContentBlock::text(text.into())]).into()
}

fn no_args_tool(name: &'static str, description: &'static str) -> Tool {
    Tool::new(name, description, rmcp::handler::server::common::schema_for_empty_input())
}

fn tool_with(
    name: &'static str,
    description: &'static str,
    schema: Value,
) -> Result<Tool, McpError> {
    let schema: serde_json::Map<String, Value> = parse(schema)?;
    Ok(Tool::new(name, description, schema))
}

pub fn tools() -> Result<Vec<Tool>, McpError> {
    let string_arg = |name: &str, description: &str| json!({"type": "object", "properties": {name: {"type": "string", "description": description}}, "required": [name]});
    Ok(vec![
        no_args_tool("test_simple_text", "Tests simple text content response"),
        no_args_tool("test_image_content", "Tests image content response"),
        no_args_tool("test_audio_content", "Tests audio content response"),
        no_args_tool("test_embedded_resource", "Tests embedded resource content response"),
        no_args_tool(
            "test_multiple_content_types",
            "Tests response with multiple content types (text, image, resource)",
        ),
        no_args_tool(
            "test_tool_with_logging",
            "Tests tool that emits log messages during execution",
        ),
        no_args_tool("test_tool_with_progress", "Tests tool that reports progress notifications"),
        no_args_tool("test_error_handling", "Tests error response handling"),
        tool_with(
            "test_sampling",
            "Tests server-initiated sampling (LLM completion request)",
            string_arg("prompt", "The prompt to send to the LLM"),
        )?,
        tool_with(
            "test_elicitation",
            "Tests server-initiated elicitation (user input request)",
            string_arg("message", "The message to show the user"),
        )?,
        no_args_tool(
            "test_elicitation_sep1034_defaults",
            "Tests elicitation with default values per SEP-1034",
        ),
        no_args_tool(
            "test_elicitation_sep1330_enums",
            "Tests elicitation with enum schema improvements per SEP-1330",
        ),
        no_args_tool(
            "test_input_required_result_elicitation",
            "Returns InputRequiredResult with an elicitation request",
        ),
        no_args_tool(
            "test_input_required_result_sampling",
            "Returns InputRequiredResult with a sampling request",
        ),
        no_args_tool(
            "test_input_required_result_list_roots",
            "Returns InputRequiredResult with a roots/list request",
        ),
        no_args_tool(
            "test_input_required_result_request_state",
            "Returns InputRequiredResult with requestState",
        ),
        no_args_tool(
            "test_input_required_result_multiple_inputs",
            "Returns InputRequiredResult with multiple input requests",
        ),
        no_args_tool(
            "test_input_required_result_multi_round",
            "Multi-round InputRequiredResult flow",
        ),
        no_args_tool(
            "test_input_required_result_tampered_state",
            "InputRequiredResult with integrity-protected requestState",
        ),
        no_args_tool(
            "test_input_required_result_capabilities",
            "InputRequiredResult honouring client capabilities",
        ),
        no_args_tool("test_missing_capability", "Requires the sampling client capability"),
        no_args_tool(
            "test_streaming_elicitation",
            "Elicitation via InputRequiredResult on the response stream",
        ),
        no_args_tool("test_logging_tool", "Emits log messages only when a log level is requested"),
    ])
}

/// Sends a log message when the level asked for lets it through: the session's
/// (`logging/setLevel`) in 2025-11-25, the request's `_meta` log level in 2026-07-28 (none:
/// nothing is sent).
async fn log(
    fixture: &Fixture,
    context: &RequestContext<RoleServer>,
    level: LoggingLevel,
    data: &str,
) {
    let threshold = if modern(context) {
        match context.meta.log_level() {
            Some(level) => level,
            None => return,
        }
    } else {
        (*fixture.log_level.lock().unwrap_or_else(PoisonError::into_inner))
            .unwrap_or(LoggingLevel::Debug)
    };
    if (level as u8) < (threshold as u8) {
        return;
    }
    let message = LoggingMessageNotificationParam::new(level, json!(data)).with_logger(LOGGER);
    if let Err(err) = context.peer.notify_logging_message(message).await {
        tracing::debug!(error = %err, "fixture log message not delivered");
    }
}

fn service_error(err: rmcp::ServiceError) -> McpError {
    match err {
        rmcp::ServiceError::McpError(err) => err,
        other => McpError::internal_error(other.to_string(), None),
    }
}

async fn elicit(context: &RequestContext<RoleServer>, params: Value) -> Result<Value, McpError> {
    let params: ElicitRequestParams = parse(params)?;
    let reply = context
        .peer
        .send_request(ServerRequest::ElicitRequest(ElicitRequest::new(params)))
        .await
        .map_err(service_error)?;
    match reply {
        ClientResult::ElicitResult(result) => serde_json::to_value(result)
            .map_err(|err| McpError::internal_error(err.to_string(), None)),
        _ => Err(McpError::internal_error("the client answered something else", None)),
    }
}

fn elicited_text(reply: &Value) -> String {
    format!(
        "action={}, content={}",
        reply["action"].as_str().unwrap_or("unknown"),
        reply.get("content").cloned().unwrap_or(Value::Null)
    )
}

pub async fn call_tool(
    fixture: &Fixture,
    request: &CallToolRequestParams,
    context: &RequestContext<RoleServer>,
) -> Result<CallToolResponse, McpError> {
    let arguments = request.arguments.clone().unwrap_or_default();
    let argument =
        |name: &str| arguments.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
    match request.name.as_ref() {
        "test_simple_text" => Ok(text("This is a simple text response for testing.")),
        "test_image_content" => {
            Ok(CallToolResult::success(vec![ContentBlock::image(PNG, "image/png")]).into())
        }
        "test_audio_content" => {
            Ok(CallToolResult::success(vec![ContentBlock::audio(WAV, "audio/wav")]).into())
        }
        "test_embedded_resource" => Ok(CallToolResult::success(vec![ContentBlock::resource(
            ResourceContents::text(
                "This is an embedded resource content.",
                "test://embedded-resource",
            )
            .with_mime_type("text/plain"),
        )])
        .into()),
        "test_multiple_content_types" => Ok(CallToolResult::success(vec![
            ContentBlock::text("Multiple content types test:"),
            ContentBlock::image(PNG, "image/png"),
            ContentBlock::resource(
                ResourceContents::text(
                    r#"{"test":"data","value":123}"#,
                    "test://mixed-content-resource",
                )
                .with_mime_type("application/json"),
            ),
        ])
        .into()),
        "test_error_handling" => Ok(CallToolResult::error(vec![ContentBlock::text(
            "This tool intentionally returns an error for testing",
        )])
        .into()),
        "test_tool_with_logging" | "test_logging_tool" => {
            for (i, message) in
                ["Tool execution started", "Tool processing data", "Tool execution completed"]
                    .into_iter()
                    .enumerate()
            {
                if i > 0 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                log(fixture, context, LoggingLevel::Info, message).await;
            }
            Ok(text("Tool with logging executed successfully"))
        }
        "test_tool_with_progress" => {
            let token = context.meta.get_progress_token();
            for step in [0u32, 50, 100] {
                if step > 0 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                if let Some(token) = &token {
                    let progress = ProgressNotificationParam::new(token.clone(), f64::from(step))
                        .with_total(100.0)
                        .with_message(format!("Completed step {step} of 100"));
                    context.peer.notify_progress(progress).await.map_err(service_error)?;
                }
            }
            let token = token.map(|t| match t.0 {
                rmcp::model::NumberOrString::Number(n) => n.to_string(),
                rmcp::model::NumberOrString::String(s) => s.to_string(),
            });
            Ok(text(token.unwrap_or_default()))
        }
        "test_sampling" => {
            let params = CreateMessageRequestParams::new(
                vec![SamplingMessage::user_text(argument("prompt"))],
                100,
            );
            let answer = match context.peer.create_message(params).await {
                Ok(result) => {
                    let said = result
                        .message
                        .content
                        .first()
                        .and_then(|c| c.as_text())
                        .map(|t| t.text.clone());
                    format!("LLM response: {}", said.unwrap_or_default())
                }
                Err(err) => format!("Sampling not supported or error: {err}"),
            };
            Ok(text(answer))
        }
        "test_elicitation" => {
            let reply = elicit(
                context,
                json!({"mode": "form", "message": argument("message"), "requestedSchema": {
                    "type": "object",
                    "properties": {
                        "username": {"type": "string", "description": "User's response"},
                        "email": {"type": "string", "description": "User's email address"},
                    },
                    "required": ["username", "email"],
                }}),
            )
            .await?;
            Ok(text(format!("User response: {}", elicited_text(&reply))))
        }
        "test_elicitation_sep1034_defaults" => {
            let reply = elicit(
                context,
                json!({"mode": "form", "message": "Please review and update the form fields with defaults",
                    "requestedSchema": {"type": "object", "properties": {
                        "name": {"type": "string", "description": "User name", "default": "John Doe"},
                        "age": {"type": "integer", "description": "User age", "default": 30},
                        "score": {"type": "number", "description": "User score", "default": 95.5},
                        "status": {"type": "string", "description": "User status",
                            "enum": ["active", "inactive", "pending"], "default": "active"},
                        "verified": {"type": "boolean", "description": "Verification status", "default": true},
                    }, "required": []}}),
            )
            .await?;
            Ok(text(format!("Elicitation completed: {}", elicited_text(&reply))))
        }
        "test_elicitation_sep1330_enums" => {
            let titled = |word: &str| {
                json!([
                    {"const": "value1", "title": format!("First {word}")},
                    {"const": "value2", "title": format!("Second {word}")},
                    {"const": "value3", "title": format!("Third {word}")},
                ])
            };
            let (single, multi) = (titled("Option"), titled("Choice"));
            let reply = elicit(
                context,
                json!({"mode": "form", "message": "Please select options from the enum fields",
                    "requestedSchema": {"type": "object", "properties": {
                        "untitledSingle": {"type": "string", "description": "Select one option",
                            "enum": ["option1", "option2", "option3"]},
                        "titledSingle": {"type": "string", "description": "Select one option with titles",
                            "oneOf": single},
                        "legacyEnum": {"type": "string", "description": "Select one option (legacy)",
                            "enum": ["opt1", "opt2", "opt3"],
                            "enumNames": ["Option One", "Option Two", "Option Three"]},
                        "untitledMulti": {"type": "array", "description": "Select multiple options",
                            "minItems": 1, "maxItems": 3,
                            "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
                        "titledMulti": {"type": "array", "description": "Select multiple options with titles",
                            "minItems": 1, "maxItems": 3, "items": {"anyOf": multi}},
                    }, "required": []}}),
            )
            .await?;
            Ok(text(format!("Elicitation completed: {}", elicited_text(&reply))))
        }
        name if name.starts_with("test_input_required_result_")
            || name == "test_missing_capability"
            || name == "test_streaming_elicitation" =>
        {
            input_required_tool(name, request, context)
        }
        other => Err(McpError::invalid_params(format!("Unknown tool: {other}"), None)),
    }
}

// --- 2026-07-28 input-required results (SEP-2322) ------------------------------------------

fn elicitation_request(message: &str, field: &str, kind: &str) -> Value {
    json!({"method": "elicitation/create", "params": {"mode": "form", "message": message,
        "requestedSchema": {"type": "object", "properties": {field: {"type": kind}}, "required": [field]}}})
}

fn sampling_request(prompt: &str, max_tokens: u32) -> Value {
    json!({"method": "sampling/createMessage", "params": {
        "messages": [{"role": "user", "content": {"type": "text", "text": prompt}}],
        "maxTokens": max_tokens}})
}

fn roots_request() -> Value {
    json!({"method": "roots/list", "params": {}})
}

/// An input-required result asking for `requests`, with `state` sealed when given.
fn ask(
    tool: &str,
    requests: Value,
    request_state: Option<Value>,
) -> Result<CallToolResponse, McpError> {
    let requests: InputRequests = parse(requests)?;
    let sealed = request_state.map(|value| seal_state(tool, &value));
    Ok(InputRequiredResult::new(Some(requests), sealed).into())
}

/// The fixture's own key, made per process: what it seals is client-influenced, so never the
/// platform's master key.
fn state_key() -> &'static MasterKey {
    static KEY: OnceLock<MasterKey> = OnceLock::new();
    KEY.get_or_init(MasterKey::generate)
}

/// `requestState` is the client's to echo, not to change: the fixture seals it, bound to the
/// tool, so a changed one fails to open.
fn seal_state(tool: &str, value: &Value) -> String {
    let sealed = state_key().seal(value.to_string().as_bytes(), state_context(tool).as_bytes());
    URL_SAFE_NO_PAD.encode(sealed)
}

fn open_state(tool: &str, sealed: Option<&str>) -> Result<Value, McpError> {
    let invalid = || McpError::invalid_params("Invalid requestState: integrity check failed", None);
    let bytes = URL_SAFE_NO_PAD.decode(sealed.ok_or_else(invalid)?).map_err(|_| invalid())?;
    let opened = state_key().open(&bytes, state_context(tool).as_bytes()).map_err(|_| invalid())?;
    serde_json::from_slice(&opened).map_err(|_| invalid())
}

fn state_context(tool: &str) -> String {
    format!("mcp-conformance-fixture request state {tool}")
}

/// The client's answer for `key`: an object (an elicitation, sampling or roots result).
fn answer<'a>(
    responses: Option<&'a InputResponses>,
    key: &str,
) -> Result<Option<&'a Value>, McpError> {
    match responses.and_then(|r| r.get(key)) {
        None => Ok(None),
        Some(value) if value.is_object() => Ok(Some(value)),
        Some(_) => {
            Err(McpError::invalid_params(format!("inputResponses.{key} must be an object"), None))
        }
    }
}

fn elicited<'a>(value: &'a Value, field: &str) -> Result<&'a str, McpError> {
    if value["action"].as_str().is_none() {
        return Err(McpError::invalid_params("an elicitation result needs an action", None));
    }
    Ok(value["content"][field].as_str().unwrap_or("(declined)"))
}

fn sampled(value: &Value) -> &str {
    value["content"]["text"].as_str().unwrap_or_default()
}

fn require(context: &RequestContext<RoleServer>, needs: &str) -> Result<(), McpError> {
    let capabilities = context.client_capabilities().unwrap_or_default();
    let has = match needs {
        "sampling" => capabilities.sampling.is_some(),
        "elicitation" => capabilities.elicitation.is_some(),
        _ => capabilities.roots.is_some(),
    };
    if has {
        return Ok(());
    }
    let required: ClientCapabilities = parse(json!({ needs: {} }))?;
    let mut error = McpError::missing_required_client_capability(required);
    error.message = format!("Missing required client capability: {needs}").into();
    Err(error)
}

fn input_required_tool(
    tool: &str,
    request: &CallToolRequestParams,
    context: &RequestContext<RoleServer>,
) -> Result<CallToolResponse, McpError> {
    let responses = request.input_responses.as_ref();
    let request_state = request.request_state.as_deref();
    match tool {
        "test_input_required_result_elicitation" => match answer(responses, "user_name")? {
            Some(reply) => Ok(text(format!("Hello, {}!", elicited(reply, "name")?))),
            None => ask(
                tool,
                json!({"user_name": elicitation_request("What is your name?", "name", "string")}),
                None,
            ),
        },
        "test_input_required_result_sampling" => match answer(responses, "capital_question")? {
            Some(reply) => Ok(text(sampled(reply))),
            None => ask(
                tool,
                json!({"capital_question": sampling_request("What is the capital of France?", 100)}),
                None,
            ),
        },
        "test_input_required_result_list_roots" => match answer(responses, "client_roots")? {
            Some(reply) => {
                let roots: Vec<&str> = reply["roots"]
                    .as_array()
                    .map(|roots| roots.iter().filter_map(|r| r["uri"].as_str()).collect())
                    .unwrap_or_default();
                Ok(text(format!("Roots: {}", roots.join(", "))))
            }
            None => ask(tool, json!({"client_roots": roots_request()}), None),
        },
        "test_input_required_result_request_state"
        | "test_input_required_result_tampered_state" => {
            // The state is checked before anything the client answered.
            if request_state.is_some() || responses.is_some() {
                let opened = open_state(tool, request_state)?;
                if let Some(reply) = answer(responses, "confirm")? {
                    elicited(reply, "ok")?;
                    return Ok(text(format!(
                        "state-ok: requestState validated ({})",
                        opened["round"]
                    )));
                }
            }
            ask(
                tool,
                json!({"confirm": elicitation_request("Please confirm", "ok", "boolean")}),
                Some(json!({"round": 1})),
            )
        }
        "test_input_required_result_multiple_inputs" => {
            let mut missing = serde_json::Map::new();
            if request_state.is_some() {
                open_state(tool, request_state)?;
            }
            let name = answer(responses, "user_name")?;
            let greeting = answer(responses, "greeting")?;
            let roots = answer(responses, "client_roots")?;
            if name.is_none() {
                missing.insert(
                    "user_name".into(),
                    elicitation_request("What is your name?", "name", "string"),
                );
            }
            if greeting.is_none() {
                missing.insert("greeting".into(), sampling_request("Generate a greeting", 50));
            }
            if roots.is_none() {
                missing.insert("client_roots".into(), roots_request());
            }
            match (name, greeting, roots) {
                (Some(name), Some(greeting), Some(roots)) => Ok(text(format!(
                    "Name: {}; Greeting: {}; Roots: {}",
                    elicited(name, "name")?,
                    sampled(greeting),
                    roots["roots"].as_array().map_or(0, Vec::len)
                ))),
                _ => ask(tool, Value::Object(missing), Some(json!({"round": 1}))),
            }
        }
        "test_input_required_result_multi_round" => {
            let Some(sealed) = request_state else {
                return ask(
                    tool,
                    json!({"step1": elicitation_request("Step 1: What is your name?", "name", "string")}),
                    Some(json!({"round": 1})),
                );
            };
            let opened = open_state(tool, Some(sealed))?;
            match opened["round"].as_u64() {
                Some(1) => {
                    let reply = answer(responses, "step1")?.ok_or_else(|| {
                        McpError::invalid_params("inputResponses.step1 is missing", None)
                    })?;
                    let name = elicited(reply, "name")?;
                    ask(
                        tool,
                        json!({"step2": elicitation_request("Step 2: What is your favorite color?", "color", "string")}),
                        Some(json!({"round": 2, "name": name})),
                    )
                }
                _ => {
                    let reply = answer(responses, "step2")?.ok_or_else(|| {
                        McpError::invalid_params("inputResponses.step2 is missing", None)
                    })?;
                    Ok(text(format!(
                        "Multi-round complete for {} who likes {}",
                        opened["name"].as_str().unwrap_or_default(),
                        elicited(reply, "color")?
                    )))
                }
            }
        }
        "test_input_required_result_capabilities" => {
            let capabilities = context.client_capabilities().unwrap_or_default();
            let mut requests = serde_json::Map::new();
            if capabilities.sampling.is_some() {
                requests
                    .insert("sampling_request".into(), sampling_request("Summarize the test", 50));
            }
            if capabilities.elicitation.is_some() {
                requests.insert(
                    "elicitation_request".into(),
                    elicitation_request("What should be summarized?", "topic", "string"),
                );
            }
            if capabilities.roots.is_some() {
                requests.insert("roots_request".into(), roots_request());
            }
            if requests.is_empty() {
                require(context, "sampling")?;
            }
            if requests.keys().all(|key| responses.is_some_and(|r| r.contains_key(key))) {
                return Ok(text("All requested inputs received"));
            }
            ask(tool, Value::Object(requests), None)
        }
        "test_missing_capability" => {
            require(context, "sampling")?;
            match answer(responses, "sampling_request")? {
                Some(reply) => Ok(text(sampled(reply))),
                None => {
                    ask(tool, json!({"sampling_request": sampling_request("Say hello", 20)}), None)
                }
            }
        }
        "test_streaming_elicitation" => {
            // The input is asked for in the result, never by a request of the server's own on
            // the response stream.
            require(context, "elicitation")?;
            match answer(responses, "user_input")? {
                Some(reply) => Ok(text(format!("Received: {}", elicited(reply, "value")?))),
                None => ask(
                    tool,
                    json!({"user_input": elicitation_request("Please provide a value", "value", "string")}),
                    None,
                ),
            }
        }
        other => Err(McpError::invalid_params(format!("Unknown tool: {other}"), None)),
    }
}

// --- resources ------------------------------------------------------------------------------

/// A list or read result may be cached by the client for this long (SEP-2549).
const TTL_MS: u64 = 60_000;

pub fn resources() -> ListResourcesResult {
    let resource = |uri: &str, name: &str, title: &str, description: &str, mime: &str| {
        Resource::new(uri, name)
            .with_title(title)
            .with_description(description)
            .with_mime_type(mime)
    };
    ListResourcesResult::with_all_items(vec![
        resource(
            "test://static-text",
            "static-text",
            "Static Text Resource",
            "A static text resource for testing",
            "text/plain",
        ),
        resource(
            "test://static-binary",
            "static-binary",
            "Static Binary Resource",
            "A static binary resource (image) for testing",
            "image/png",
        ),
        resource(
            "test://watched-resource",
            "watched-resource",
            "Watched Resource",
            "A resource clients may subscribe to",
            "text/plain",
        ),
    ])
    .with_ttl_ms(TTL_MS)
    .with_cache_scope(CacheScope::Public)
}

pub fn resource_templates() -> ListResourceTemplatesResult {
    ListResourceTemplatesResult::with_all_items(vec![
        ResourceTemplate::new("test://template/{id}/data", "template")
            .with_title("Resource Template")
            .with_description("A resource template with parameter substitution")
            .with_mime_type("application/json"),
    ])
    .with_ttl_ms(TTL_MS)
    .with_cache_scope(CacheScope::Public)
}

pub fn read_resource(
    request: &ReadResourceRequestParams,
) -> Result<ReadResourceResponse, McpError> {
    let uri = request.uri.as_str();
    let contents = match uri {
        "test://static-text" => {
            ResourceContents::text("This is the content of the static text resource.", uri)
                .with_mime_type("text/plain")
        }
        "test://static-binary" => ResourceContents::blob(PNG, uri).with_mime_type("image/png"),
        "test://watched-resource" => {
            ResourceContents::text("Watched resource content", uri).with_mime_type("text/plain")
        }
        _ => match uri.strip_prefix("test://template/").and_then(|rest| rest.strip_suffix("/data"))
        {
            Some(id) if !id.is_empty() && !id.contains('/') => ResourceContents::text(
                json!({"id": id, "templateTest": true, "data": format!("Data for ID: {id}")})
                    .to_string(),
                uri,
            )
            .with_mime_type("application/json"),
            // SEP-2164: an unknown resource is invalid params, naming it.
            _ => {
                return Err(McpError::new(
                    ErrorCode::INVALID_PARAMS,
                    "Resource not found",
                    Some(json!({"uri": uri})),
                ));
            }
        },
    };
    Ok(ReadResourceResult::new(vec![contents])
        .with_ttl_ms(TTL_MS)
        .with_cache_scope(CacheScope::Public)
        .into())
}

pub fn set_level(fixture: &Fixture, level: LoggingLevel) {
    *fixture.log_level.lock().unwrap_or_else(PoisonError::into_inner) = Some(level);
}

// --- prompts and completion -----------------------------------------------------------------

pub fn prompts() -> ListPromptsResult {
    let argument = |name: &str, description: &str| {
        PromptArgument::new(name).with_description(description).with_required(true)
    };
    ListPromptsResult::with_all_items(vec![
        Prompt::new("test_simple_prompt", Some("A simple prompt without arguments"), None)
            .with_title("Simple Test Prompt"),
        Prompt::new(
            "test_prompt_with_arguments",
            Some("A prompt with required arguments"),
            Some(vec![
                argument("arg1", "First test argument"),
                argument("arg2", "Second test argument"),
            ]),
        )
        .with_title("Prompt With Arguments"),
        Prompt::new(
            "test_prompt_with_embedded_resource",
            Some("A prompt that includes an embedded resource"),
            Some(vec![argument("resourceUri", "URI of the resource to embed")]),
        )
        .with_title("Prompt With Embedded Resource"),
        Prompt::new("test_prompt_with_image", Some("A prompt that includes image content"), None)
            .with_title("Prompt With Image"),
        Prompt::new(
            "test_input_required_result_prompt",
            Some("Prompt that requests elicitation input via InputRequiredResult"),
            None,
        )
        .with_title("Input Required Prompt"),
    ])
    .with_ttl_ms(TTL_MS)
    .with_cache_scope(CacheScope::Public)
}

pub fn get_prompt(request: &GetPromptRequestParams) -> Result<GetPromptResponse, McpError> {
    let arguments = request.arguments.clone().unwrap_or_default();
    let argument = |name: &str| -> Result<String, McpError> {
        arguments.get(name).and_then(Value::as_str).map(str::to_owned).ok_or_else(|| {
            McpError::invalid_params(format!("Missing required argument: {name}"), None)
        })
    };
    let messages = match request.name.as_str() {
        "test_simple_prompt" => {
            vec![PromptMessage::new_text(Role::User, "This is a simple prompt for testing.")]
        }
        "test_prompt_with_arguments" => vec![PromptMessage::new_text(
            Role::User,
            format!(
                "Prompt with arguments: arg1='{}', arg2='{}'",
                argument("arg1")?,
                argument("arg2")?
            ),
        )],
        "test_prompt_with_embedded_resource" => vec![
            PromptMessage::new(
                Role::User,
                ContentBlock::resource(
                    ResourceContents::text(
                        "Embedded resource content for testing.",
                        argument("resourceUri")?,
                    )
                    .with_mime_type("text/plain"),
                ),
            ),
            PromptMessage::new_text(Role::User, "Please process the embedded resource above."),
        ],
        "test_prompt_with_image" => vec![
            PromptMessage::new(Role::User, ContentBlock::image(PNG, "image/png")),
            PromptMessage::new_text(Role::User, "Please analyze the image above."),
        ],
        "test_input_required_result_prompt" => {
            match answer(request.input_responses.as_ref(), "user_context")? {
                Some(reply) => vec![PromptMessage::new_text(
                    Role::User,
                    format!("Prompt with context: {}", elicited(reply, "context")?),
                )],
                None => {
                    let requests: InputRequests =
                        parse(json!({"user_context": elicitation_request(
                    "What context should the prompt use?", "context", "string")}))?;
                    return Ok(InputRequiredResult::new(Some(requests), None).into());
                }
            }
        }
        other => return Err(McpError::invalid_params(format!("Unknown prompt: {other}"), None)),
    };
    Ok(GetPromptResult::new(messages).into())
}

pub fn complete(request: &CompleteRequestParams) -> Result<CompleteResult, McpError> {
    const VALUES: [&str; 4] = ["test", "testing", "test value", "other"];
    let typed = request.argument.value.as_str();
    let values: Vec<String> =
        VALUES.iter().filter(|value| value.starts_with(typed)).map(|v| (*v).to_owned()).collect();
    let info = CompletionInfo::with_all_values(values)
        .map_err(|err| McpError::internal_error(err.to_string(), None))?;
    Ok(CompleteResult::new(info))
}
