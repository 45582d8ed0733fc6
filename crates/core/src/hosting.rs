//! Hosted MCP servers at work: how end users are recognised (tracking links, OAuth, a given
//! email), the sessions their clients hold, and the record of every request.

use std::fmt;

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::ValidationError;
use crate::ids::{EndUserId, McpRequestId, McpServerId, OrgId};

/// A stateless client (2026-07-28) keeps one derived session while it calls at least this often
/// (OTel MCP semconv; `reference/observability.md` §0.3).
pub const DERIVED_SESSION_IDLE: time::Duration = time::Duration::minutes(30);

/// The personal part of a tracking URL (`/api/mcpserver/{tracking_id}/mcp`): `trk_` and 32 hex
/// digits (128 random bits), so that nobody finds someone else's by guessing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TrackingId(String);

impl TrackingId {
    const PREFIX: &'static str = "trk_";
    const HEX_DIGITS: usize = 32;

    pub fn generate() -> Self {
        use rand::RngCore as _;
        let mut bytes = [0u8; Self::HEX_DIGITS / 2];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Self(format!("{}{hex}", Self::PREFIX))
    }

    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let hex = input.strip_prefix(Self::PREFIX).ok_or_else(Self::invalid)?;
        if hex.len() != Self::HEX_DIGITS
            || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(Self::invalid());
        }
        Ok(Self(input.to_owned()))
    }

    fn invalid() -> ValidationError {
        ValidationError::new("tracking_id", "is not a tracking id")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TrackingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A personal URL handed to one end user of one server.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackingLink {
    pub tracking_id: TrackingId,
    pub organization_id: OrgId,
    pub mcp_server_id: McpServerId,
    pub end_user_id: EndUserId,
    /// Who it was made for, as the customer wrote it ("Ada at Initech").
    pub label: Option<String>,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

/// How a session's end user became known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum IdentitySource {
    /// Not known (a `none` server, or a `collect_email` one before the address was given).
    None,
    /// A bearer token from the server's authorization server.
    Oauth,
    /// A personal tracking URL.
    Tracking,
    /// An address the user gave a tool.
    Email,
}

/// How a session came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    /// A Streamable HTTP session (`Mcp-Session-Id`, 2025-06-18 and 2025-11-25).
    Stateful,
    /// Stateless requests (2026-07-28) of one user and client, grouped by inactivity.
    Derived,
}

macro_rules! text_enum {
    ($name:ident, $field:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $name {
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = ValidationError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    other => Err(ValidationError::new($field, format!("unknown value {other:?}"))),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use text_enum;

text_enum!(IdentitySource, "identity_source", {
    None => "none", Oauth => "oauth", Tracking => "tracking", Email => "email",
});
text_enum!(SessionKind, "kind", { Stateful => "stateful", Derived => "derived" });
text_enum!(RequestOutcome, "outcome", {
    Ok => "ok", ToolError => "tool_error", ProtocolError => "protocol_error",
});

/// A client's connection to a hosted server.
#[derive(Debug, Clone, PartialEq)]
pub struct McpSession {
    /// The `Mcp-Session-Id` (stateful), or a generated id (derived).
    pub id: String,
    pub organization_id: OrgId,
    pub mcp_server_id: McpServerId,
    pub end_user_id: Option<EndUserId>,
    pub identity_source: IdentitySource,
    pub kind: SessionKind,
    pub protocol_version: String,
    pub client_name: Option<String>,
    pub client_version: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// What groups a derived session's requests: the user (or, anonymous, the address and
    /// user agent) and the client.
    pub derivation_key: Option<String>,
    pub first_seen_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    pub closed_at: Option<OffsetDateTime>,
}

/// How a request ended, per the OTel MCP conventions (`reference/observability.md` §2.2): a
/// JSON-RPC error is a protocol error; a result with `isError` is a tool error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RequestOutcome {
    Ok,
    ToolError,
    ProtocolError,
}

/// One MCP request a hosted server answered, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct McpRequestRecord {
    pub id: McpRequestId,
    pub organization_id: OrgId,
    pub mcp_server_id: McpServerId,
    pub session_id: Option<String>,
    pub end_user_id: Option<EndUserId>,
    /// How the end user was known for this request: the caller's identity, or `Email` when
    /// a tool was given their address (a stateless caller has no session to keep that).
    pub identity_source: IdentitySource,
    /// `mcp.method.name`: `tools/call`, `initialize`, `server/discover`…
    pub method: String,
    /// `gen_ai.tool.name`, for `tools/call`.
    pub tool_name: Option<String>,
    /// `jsonrpc.request.id`, as text.
    pub jsonrpc_id: Option<String>,
    pub protocol_version: Option<String>,
    /// Redacted and truncated JSON ([`redact`]).
    pub arguments: Option<String>,
    /// Redacted and truncated JSON ([`redact`]).
    pub result: Option<String>,
    pub outcome: RequestOutcome,
    /// The JSON-RPC error code (`rpc.response.status_code`) of a protocol error.
    pub error_code: Option<i64>,
    pub error_message: Option<String>,
    pub duration_us: i64,
    pub started_at: OffsetDateTime,
}

/// Object keys whose values are secrets, once lowercased without `-` and `_`: these exactly,
/// or any key ending in one of [`SECRET_KEY_ENDINGS`] (`access_token`, `x-api-key`…).
const SECRET_KEYS: &[&str] = &["key", "auth", "pwd", "pass", "pin", "otp"];
const SECRET_KEY_ENDINGS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "accesskey",
    "privatekey",
    "sessionkey",
    "authorization",
    "cookie",
    "credential",
    "credentials",
];
/// The longest string kept whole inside recorded JSON.
pub const MAX_RECORDED_STRING_CHARS: usize = 2_000;
/// The longest recorded document; a longer one is cut and marked.
pub const MAX_RECORDED_JSON_BYTES: usize = 16_000;
const REDACTED: &str = "[redacted]";

/// What [`redact`] recorded, read back: the JSON, or the text of one that was cut.
pub fn recorded_json(stored: &str) -> Value {
    serde_json::from_str(stored).unwrap_or_else(|_| Value::String(stored.to_owned()))
}

/// Recorded form of arguments or a result: values under secret-looking keys replaced, long
/// strings shortened, the whole capped at [`MAX_RECORDED_JSON_BYTES`] (then no longer valid
/// JSON, and ending in `…[truncated]`).
pub fn redact(value: &Value) -> String {
    let text = redacted_value(value).to_string();
    if text.len() <= MAX_RECORDED_JSON_BYTES {
        return text;
    }
    let mut end = MAX_RECORDED_JSON_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…[truncated]", &text[..end])
}

fn is_secret_key(key: &str) -> bool {
    let key: String =
        key.chars().filter(|c| !matches!(c, '-' | '_')).collect::<String>().to_lowercase();
    SECRET_KEYS.contains(&key.as_str())
        || SECRET_KEY_ENDINGS.iter().any(|ending| key.ends_with(ending))
}

/// The id a stateful session is stored, recorded and shown under: the SHA-256 (hex) of its
/// `Mcp-Session-Id`. The header value is the session's credential (for anonymous and
/// address-only callers, the only one), so neither the database nor the dashboard, the API or
/// a webhook holds it.
pub fn public_session_id(header_value: &str) -> String {
    crate::crypto::TokenHash::of(header_value).to_hex()
}

/// Text a client sent (its name, a tool name, a request id) as we keep it: control characters
/// (NUL among them, which PostgreSQL cannot store) removed, at most `max_chars`.
pub fn client_text(text: &str, max_chars: usize) -> String {
    text.chars().filter(|c| !c.is_control()).take(max_chars).collect()
}

fn redacted_value(value: &Value) -> Value {
    match value {
        Value::Object(object) => Value::Object(
            object
                .iter()
                .map(|(key, value)| {
                    let kept = if is_secret_key(key) && !value.is_null() {
                        Value::String(REDACTED.into())
                    } else {
                        redacted_value(value)
                    };
                    (key.clone(), kept)
                })
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redacted_value).collect()),
        Value::String(text) if text.chars().count() > MAX_RECORDED_STRING_CHARS => {
            let kept: String = text.chars().take(MAX_RECORDED_STRING_CHARS).collect();
            Value::String(format!("{kept}…[truncated]"))
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn recorded_json_comes_back_as_json_and_a_cut_document_as_its_text() {
        assert_eq!(recorded_json(r#"{"a":1}"#), json!({"a": 1}));
        assert_eq!(recorded_json("{\"a\":…"), Value::String("{\"a\":…".into()));
    }

    #[test]
    fn tracking_ids_are_random_and_parse_back() {
        let a = TrackingId::generate();
        assert_ne!(a, TrackingId::generate());
        assert_eq!(TrackingId::parse(a.as_str()).unwrap(), a);
        for bad in ["", "trk_", "trk_XYZ", "abc_0123456789abcdef0123456789abcdef", "trk_0123"] {
            assert!(TrackingId::parse(bad).is_err(), "{bad}");
        }
        assert!(TrackingId::parse(&format!("trk_{}", "A".repeat(32))).is_err());
    }

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let recorded = redact(&json!({
            "title": "login fails",
            "apiKey": "sk-123",
            "nested": [{"Authorization": "Bearer x", "password": "hunter2", "ok": 1}],
            "refresh_token": null,
        }));
        let parsed: Value = serde_json::from_str(&recorded).unwrap();
        assert_eq!(parsed["title"], "login fails");
        assert_eq!(parsed["apiKey"], "[redacted]");
        assert_eq!(parsed["nested"][0]["Authorization"], "[redacted]");
        assert_eq!(parsed["nested"][0]["password"], "[redacted]");
        assert_eq!(parsed["nested"][0]["ok"], 1);
        assert_eq!(parsed["refresh_token"], Value::Null);
        assert!(!recorded.contains("hunter2") && !recorded.contains("sk-123"));
    }

    #[test]
    fn only_keys_that_name_a_secret_are_redacted() {
        for secret in ["access_token", "X-Api-Key", "client_secret", "key", "privateKey", "pwd"] {
            assert!(is_secret_key(secret), "{secret}");
        }
        for plain in ["max_tokens", "token_count", "monkey", "keyword", "author", "title"] {
            assert!(!is_secret_key(plain), "{plain}");
        }
    }

    #[test]
    fn client_text_loses_control_characters_and_length() {
        assert_eq!(client_text("cur\0sor\n", 100), "cursor");
        assert_eq!(client_text("ééé", 2), "éé");
    }

    #[test]
    fn long_values_are_truncated() {
        let long = "é".repeat(MAX_RECORDED_STRING_CHARS + 10);
        let parsed: Value = serde_json::from_str(&redact(&json!({ "text": long }))).unwrap();
        let kept = parsed["text"].as_str().unwrap();
        assert!(kept.ends_with("…[truncated]"));
        assert_eq!(
            kept.chars().count(),
            MAX_RECORDED_STRING_CHARS + "…[truncated]".chars().count()
        );

        let many: Vec<String> = (0..100).map(|_| "x".repeat(1000)).collect();
        let recorded = redact(&json!(many));
        assert!(recorded.len() <= MAX_RECORDED_JSON_BYTES + "…[truncated]".len());
        assert!(recorded.ends_with("…[truncated]"));
    }

    #[test]
    fn stored_text_is_what_the_api_shows() {
        // `as_str` (the database) and serde (the API) spell each value on their own.
        for outcome in
            [RequestOutcome::Ok, RequestOutcome::ToolError, RequestOutcome::ProtocolError]
        {
            assert_eq!(serde_json::to_value(outcome).unwrap(), outcome.as_str());
            assert_eq!(outcome.as_str().parse::<RequestOutcome>().unwrap(), outcome);
        }
        for source in [
            IdentitySource::None,
            IdentitySource::Oauth,
            IdentitySource::Tracking,
            IdentitySource::Email,
        ] {
            assert_eq!(serde_json::to_value(source).unwrap(), source.as_str());
        }
        for kind in [SessionKind::Stateful, SessionKind::Derived] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        assert!("fine".parse::<RequestOutcome>().is_err());
    }
}
