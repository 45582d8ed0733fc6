//! API keys: bearer secrets (`mcpk_…`) for machines. A server key lets a customer's own MCP
//! server send telemetry or introspect tokens; an organization key drives the management API.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ValidationError;
use crate::ids::{ApiKeyId, McpServerId, OrgId, UserId};

pub const API_KEY_PREFIX: &str = "mcpk_";
/// How many characters of a key stay visible after creation (`mcpk_AbCd…`), to tell keys apart.
pub const VISIBLE_KEY_CHARS: usize = 9;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ApiKeyScope {
    /// Send OpenTelemetry to `/v1/{traces,metrics,logs}` for one server.
    #[serde(rename = "telemetry:write")]
    TelemetryWrite,
    /// Introspect the server's access tokens (RFC 7662).
    #[serde(rename = "auth:introspect")]
    AuthIntrospect,
    /// Everything an organization admin may do through `/api/v1`.
    #[serde(rename = "management")]
    Management,
}

impl ApiKeyScope {
    pub const SERVER_SCOPES: [ApiKeyScope; 2] = [Self::TelemetryWrite, Self::AuthIntrospect];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::TelemetryWrite => "telemetry:write",
            Self::AuthIntrospect => "auth:introspect",
            Self::Management => "management",
        }
    }

    /// Whether the scope belongs on a server key (else on an organization key).
    pub const fn is_server_scope(self) -> bool {
        !matches!(self, Self::Management)
    }
}

impl fmt::Display for ApiKeyScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ApiKeyScope {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "telemetry:write" => Ok(Self::TelemetryWrite),
            "auth:introspect" => Ok(Self::AuthIntrospect),
            "management" => Ok(Self::Management),
            other => Err(ValidationError::new("scopes", format!("unknown scope {other:?}"))),
        }
    }
}

/// The scopes of a key, validated against what the key is for.
pub fn parse_scopes(raw: &[String], for_server: bool) -> Result<Vec<ApiKeyScope>, ValidationError> {
    let mut scopes = raw.iter().map(|s| s.parse()).collect::<Result<Vec<ApiKeyScope>, _>>()?;
    scopes.sort();
    scopes.dedup();
    if scopes.is_empty() {
        return Err(ValidationError::new("scopes", "choose at least one scope"));
    }
    if let Some(wrong) = scopes.iter().find(|scope| scope.is_server_scope() != for_server) {
        let message = if for_server {
            format!("{wrong} is for organization keys, not server keys")
        } else {
            format!("{wrong} is for server keys, not organization keys")
        };
        return Err(ValidationError::new("scopes", message));
    }
    Ok(scopes)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub organization_id: OrgId,
    /// Set for server keys; `None` for organization (management) keys.
    pub mcp_server_id: Option<McpServerId>,
    pub name: String,
    /// The first characters of the secret (`mcpk_AbCd`), safe to show.
    pub visible_prefix: String,
    pub scopes: Vec<ApiKeyScope>,
    pub created_by: Option<UserId>,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

impl ApiKey {
    pub fn allows(&self, scope: ApiKeyScope) -> bool {
        self.revoked_at.is_none() && self.scopes.contains(&scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn scopes_are_checked_against_the_kind_of_key() {
        let server = parse_scopes(
            &strings(&["auth:introspect", "telemetry:write", "telemetry:write"]),
            true,
        );
        assert_eq!(server.unwrap(), vec![ApiKeyScope::TelemetryWrite, ApiKeyScope::AuthIntrospect]);
        assert!(parse_scopes(&strings(&["management"]), true).is_err());
        assert!(parse_scopes(&strings(&["telemetry:write"]), false).is_err());
        assert_eq!(
            parse_scopes(&strings(&["management"]), false).unwrap(),
            vec![ApiKeyScope::Management]
        );
        assert!(parse_scopes(&[], false).is_err());
        assert_eq!(parse_scopes(&strings(&["root"]), false).unwrap_err().field, "scopes");
    }
}
