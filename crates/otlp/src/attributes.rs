//! Attributes as JSON, with the names other MCP SDKs use mapped to the OTel MCP conventions
//! (`reference/observability.md` §1.4 and §2.2).

use base64::Engine;
use mcplatform_core::hosting::RequestOutcome;
use mcplatform_core::telemetry::McpFields;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde_json::{Map, Value};

pub(crate) type Attributes = Map<String, Value>;

/// Longest string kept in an attribute; longer ones are cut (a tool's whole result can arrive
/// as one attribute).
const MAX_STRING_CHARS: usize = 4_000;

pub(crate) fn any_value(value: AnyValue) -> Value {
    match value.value {
        Some(any_value::Value::StringValue(s)) => Value::String(clip(s, MAX_STRING_CHARS)),
        Some(any_value::Value::BoolValue(b)) => Value::Bool(b),
        Some(any_value::Value::IntValue(i)) => Value::from(i),
        Some(any_value::Value::DoubleValue(d)) => serde_json::Number::from_f64(d)
            .map_or_else(|| Value::String(d.to_string()), Value::Number),
        Some(any_value::Value::ArrayValue(array)) => {
            Value::Array(array.values.into_iter().map(any_value).collect())
        }
        Some(any_value::Value::KvlistValue(list)) => Value::Object(attributes(list.values)),
        Some(any_value::Value::BytesValue(bytes)) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
        // Profiles only; "treat as absent" per its proto comment.
        Some(any_value::Value::StringValueStrindex(_)) | None => Value::Null,
    }
}

/// `text` cut to at most `max` bytes (on a character boundary) and marked, when longer.
pub(crate) fn clip(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("…[truncated]");
    }
    text
}

pub(crate) fn attributes(list: Vec<KeyValue>) -> Attributes {
    list.into_iter().map(|kv| (kv.key, kv.value.map_or(Value::Null, any_value))).collect()
}

/// A resource's attributes plus the instrumentation scope (as `otel.scope.name` and
/// `otel.scope.version`, the names for a scope outside OTLP), and its `service.name`.
pub(crate) fn resource(
    resource: Option<&Resource>,
    scope: Option<&InstrumentationScope>,
) -> (String, Option<String>) {
    let mut attrs = resource.map(|r| attributes(r.attributes.clone())).unwrap_or_default();
    if let Some(scope) = scope {
        if !scope.name.is_empty() {
            attrs.insert("otel.scope.name".into(), Value::String(scope.name.clone()));
        }
        if !scope.version.is_empty() {
            attrs.insert("otel.scope.version".into(), Value::String(scope.version.clone()));
        }
    }
    let service = text(&attrs, "service.name");
    (Value::Object(attrs).to_string(), service)
}

/// Text as a column keeps it: without NUL, which PostgreSQL cannot store in `TEXT` (JSON
/// columns are safe: serialization escapes it).
pub(crate) fn column_text(text: String) -> String {
    if text.contains('\0') { text.replace('\0', "") } else { text }
}

/// A string attribute, or a number or boolean one as text, fit for a column.
pub(crate) fn text(attrs: &Attributes, key: &str) -> Option<String> {
    match attrs.get(key)? {
        Value::String(s) if !s.is_empty() => Some(column_text(s.clone())),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Other SDKs' names → the conventions' names. Applied only where the conventional name is
/// absent, so a sender that sets both keeps its conventional value.
const ALIASES: &[(&str, &str)] = &[
    // Sentry, Shinzo.
    ("mcp.tool.name", "gen_ai.tool.name"),
    ("mcp.request.id", "jsonrpc.request.id"),
    ("mcp.prompt.name", "gen_ai.prompt.name"),
    ("mcp.tool.result.content", "gen_ai.tool.call.result"),
    // MCPcat.
    ("mcp.session_id", "mcp.session.id"),
    ("mcp.actor_id", "user.id"),
    ("mcp.client_name", "mcp.client.name"),
    ("mcp.client_version", "mcp.client.version"),
    // Older semantic conventions.
    ("enduser.id", "user.id"),
];

/// Sentry's and Shinzo's per-argument attributes (`mcp.request.argument.<name>`).
const ARGUMENT_PREFIX: &str = "mcp.request.argument.";

/// Renames the aliases of [`ALIASES`], gathers per-argument attributes into
/// `gen_ai.tool.call.arguments`, and turns Sentry's `mcp.tool.result.is_error` into
/// `error.type = tool_error`.
pub(crate) fn canonicalize(attrs: &mut Attributes) {
    for (alias, canonical) in ALIASES {
        if let Some(value) = attrs.remove(*alias)
            && !attrs.contains_key(*canonical)
        {
            attrs.insert((*canonical).to_owned(), value);
        }
    }
    // MCPcat names the target of any operation `mcp.resource_name`: a tool for `tools/call`.
    if text(attrs, "mcp.method.name").as_deref() == Some("tools/call")
        && !attrs.contains_key("gen_ai.tool.name")
        && let Some(name) = attrs.remove("mcp.resource_name")
    {
        attrs.insert("gen_ai.tool.name".into(), name);
    }
    if attrs.keys().any(|key| key.starts_with(ARGUMENT_PREFIX)) {
        let keys: Vec<String> =
            attrs.keys().filter(|key| key.starts_with(ARGUMENT_PREFIX)).cloned().collect();
        let mut arguments = Map::new();
        for key in keys {
            if let Some(value) = attrs.remove(&key) {
                arguments.insert(key[ARGUMENT_PREFIX.len()..].to_owned(), value);
            }
        }
        attrs.entry("gen_ai.tool.call.arguments").or_insert(Value::Object(arguments));
    }
    if let Some(is_error) = attrs.remove("mcp.tool.result.is_error")
        && (is_error == Value::Bool(true) || is_error == Value::String("true".into()))
    {
        attrs.entry("error.type").or_insert(Value::String("tool_error".into()));
    }
}

/// Methods of the MCP conventions' `mcp.method.name`, to recognise a span named after one
/// when the attribute is missing.
const MCP_METHODS: &[&str] = &[
    "initialize",
    "notifications/initialized",
    "ping",
    "tools/list",
    "tools/call",
    "notifications/tools/list_changed",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "notifications/resources/updated",
    "notifications/resources/list_changed",
    "prompts/list",
    "prompts/get",
    "notifications/prompts/list_changed",
    "completion/complete",
    "logging/setLevel",
    "notifications/message",
    "notifications/progress",
    "notifications/cancelled",
    "sampling/createMessage",
    "roots/list",
    "notifications/roots/list_changed",
    "elicitation/create",
    "server/discover",
    "subscriptions/listen",
    "notifications/subscriptions/acknowledged",
];

/// JSON-RPC codes are at most this long as text; a longer "code" is something else.
const MAX_CODE_CHARS: usize = 12;

/// The MCP facts of a span or data point. `span_name` is the fallback for the method and
/// target (`{mcp.method.name} {target}`, the conventions' span name); `failed` is whether the
/// span's status is an error.
pub(crate) fn mcp_fields(attrs: &Attributes, span_name: Option<&str>, failed: bool) -> McpFields {
    let (name_method, name_target) = span_name
        .and_then(|name| {
            let (method, target) = name.split_once(' ').unwrap_or((name, ""));
            MCP_METHODS.contains(&method).then_some((method, target))
        })
        .map_or((None, None), |(m, t)| (Some(m.to_owned()), (!t.is_empty()).then(|| t.to_owned())));
    let method = text(attrs, "mcp.method.name").or(name_method);
    let target = text(attrs, "gen_ai.tool.name")
        .or_else(|| text(attrs, "gen_ai.prompt.name"))
        .or_else(|| name_target.filter(|_| method.is_some()));
    let error_type = text(attrs, "error.type");
    let rpc_code = text(attrs, "rpc.response.status_code")
        .or_else(|| error_type.clone())
        .filter(|code| code.len() <= MAX_CODE_CHARS)
        .and_then(|code| code.parse::<i64>().ok());
    let outcome = method.as_ref().map(|_| {
        if error_type.as_deref() == Some("tool_error") {
            RequestOutcome::ToolError
        } else if error_type.is_some() || rpc_code.is_some() || failed {
            RequestOutcome::ProtocolError
        } else {
            RequestOutcome::Ok
        }
    });
    McpFields {
        method,
        target,
        session_id: text(attrs, "mcp.session.id").or_else(|| text(attrs, "session.id")),
        end_user: text(attrs, "user.id").or_else(|| text(attrs, "enduser.pseudo.id")),
        client_name: text(attrs, "mcp.client.name"),
        client_version: text(attrs, "mcp.client.version"),
        protocol_version: text(attrs, "mcp.protocol.version"),
        outcome,
        error_type,
        rpc_code,
    }
}

/// Lowercase hex of an id of exactly `bytes` bytes that is not all zeros (an invalid id, per
/// the trace spec).
pub(crate) fn id_hex(id: &[u8], bytes: usize) -> Option<String> {
    (id.len() == bytes && id.iter().any(|b| *b != 0)).then(|| hex::encode(id))
}

/// OTLP's unsigned nanoseconds as stored (signed; past 2262 saturates).
pub(crate) fn nanos(unix_nano: u64) -> i64 {
    i64::try_from(unix_nano).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn attrs(value: Value) -> Attributes {
        let Value::Object(map) = value else { unreachable!() };
        map
    }

    #[test]
    fn other_sdks_names_become_the_conventions() {
        let mut sentry = attrs(json!({
            "mcp.method.name": "tools/call", "mcp.tool.name": "search",
            "mcp.request.argument.query": "\"rust\"", "mcp.tool.result.is_error": true,
            "mcp.session_id": "s1", "mcp.client_name": "cursor"
        }));
        canonicalize(&mut sentry);
        assert_eq!(sentry["gen_ai.tool.name"], "search");
        assert_eq!(sentry["gen_ai.tool.call.arguments"], json!({"query": "\"rust\""}));
        assert_eq!(sentry["error.type"], "tool_error");
        assert!(!sentry.contains_key("mcp.tool.name"));
        let fields = mcp_fields(&sentry, None, false);
        assert_eq!(fields.outcome, Some(RequestOutcome::ToolError));
        assert_eq!(fields.session_id.as_deref(), Some("s1"));
        assert_eq!(fields.client_name.as_deref(), Some("cursor"));

        let mut mcpcat =
            attrs(json!({"mcp.method.name": "tools/call", "mcp.resource_name": "fetch"}));
        canonicalize(&mut mcpcat);
        assert_eq!(mcpcat["gen_ai.tool.name"], "fetch");
        let mut both = attrs(json!({"gen_ai.tool.name": "real", "mcp.tool.name": "alias"}));
        canonicalize(&mut both);
        assert_eq!(both["gen_ai.tool.name"], "real");
    }

    #[test]
    fn outcomes_follow_the_conventions() {
        let fields = |value: Value, failed| mcp_fields(&attrs(value), Some("tools/call x"), failed);
        let ok = fields(json!({}), false);
        assert_eq!((ok.method.as_deref(), ok.target.as_deref()), (Some("tools/call"), Some("x")));
        assert_eq!(ok.outcome, Some(RequestOutcome::Ok));
        let rpc = fields(json!({"error.type": "-32602"}), true);
        assert_eq!(
            (rpc.outcome, rpc.rpc_code),
            (Some(RequestOutcome::ProtocolError), Some(-32602))
        );
        let status_only = fields(json!({}), true);
        assert_eq!(status_only.outcome, Some(RequestOutcome::ProtocolError));
        let coded = fields(json!({"rpc.response.status_code": -32603}), false);
        assert_eq!(coded.rpc_code, Some(-32603));
        let other = mcp_fields(&attrs(json!({})), Some("GET /health"), true);
        assert_eq!((other.method, other.outcome), (None, None));
    }

    #[test]
    fn values_and_ids_convert() {
        use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};
        let kv = |key: &str, value| KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            ..KeyValue::default()
        };
        let list = vec![
            kv("i", any_value::Value::IntValue(7)),
            kv("d", any_value::Value::DoubleValue(f64::NAN)),
            kv("b", any_value::Value::BytesValue(vec![1, 2])),
            kv(
                "a",
                any_value::Value::ArrayValue(ArrayValue {
                    values: vec![AnyValue { value: Some(any_value::Value::BoolValue(true)) }],
                }),
            ),
            kv(
                "m",
                any_value::Value::KvlistValue(KeyValueList {
                    values: vec![kv("s", any_value::Value::StringValue("x".repeat(5000)))],
                }),
            ),
        ];
        let map = attributes(list);
        assert_eq!(
            (map["i"].clone(), map["d"].clone(), map["b"].clone()),
            (json!(7), json!("NaN"), json!("AQI="))
        );
        assert_eq!(map["a"], json!([true]));
        assert!(map["m"]["s"].as_str().unwrap().ends_with("…[truncated]"));
        assert_eq!(id_hex(&[0; 8], 8), None);
        assert_eq!(id_hex(&[1; 4], 8), None);
        assert_eq!(id_hex(&[0xab; 8], 8).as_deref(), Some("abababababababab"));
    }
}
