//! Hosted MCP servers: each answers on `{slug}.{base host}` and under `/s/{slug}`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ValidationError;
use crate::ids::{IdentityProviderId, McpServerId, OrgId};
use crate::org::parse_display_name;

/// Names that would collide with the platform's own hosts or paths.
const RESERVED_SLUGS: &[&str] = &[
    "admin",
    "api",
    "app",
    "assets",
    "auth",
    "dashboard",
    "docs",
    "help",
    "login",
    "mail",
    "mcp",
    "metrics",
    "oauth",
    "platform",
    "s",
    "static",
    "status",
    "support",
    "www",
];

/// A server's DNS label: 3 to 63 lowercase letters, digits and hyphens, starting with a letter,
/// not ending with a hyphen (RFC 1035 §2.3.1), and not one of the reserved names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Slug(String);

impl Slug {
    pub const MIN_LEN: usize = 3;
    pub const MAX_LEN: usize = 63;

    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let err = |message: &str| Err(ValidationError::new("slug", message));
        let slug = input.trim();
        if slug.len() < Self::MIN_LEN || slug.len() > Self::MAX_LEN {
            return err("must be 3 to 63 characters long");
        }
        if !slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return err("may contain only lowercase letters, digits and hyphens");
        }
        if !slug.starts_with(|c: char| c.is_ascii_lowercase()) {
            return err("must start with a letter");
        }
        if slug.ends_with('-') {
            return err("must not end with a hyphen");
        }
        if slug.contains("--") {
            return err("must not contain two hyphens in a row");
        }
        if RESERVED_SLUGS.contains(&slug) {
            return err("is reserved");
        }
        Ok(Self(slug.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How end users of a server are identified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// Anonymous: nobody is identified.
    None,
    /// A personal URL (`/api/mcpserver/{trackingId}/mcp`) identifies the user.
    TrackingId,
    /// The server asks for an email address through a tool.
    CollectEmail,
    /// OAuth 2.1 through the platform's own end-user login.
    PlatformOauth,
    /// OAuth 2.1 through the customer's identity provider.
    CustomOauth,
}

impl AuthMode {
    pub const ALL: [AuthMode; 5] =
        [Self::None, Self::TrackingId, Self::CollectEmail, Self::PlatformOauth, Self::CustomOauth];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::TrackingId => "tracking_id",
            Self::CollectEmail => "collect_email",
            Self::PlatformOauth => "platform_oauth",
            Self::CustomOauth => "custom_oauth",
        }
    }
}

impl FromStr for AuthMode {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|mode| mode.as_str() == s)
            .ok_or_else(|| ValidationError::new("auth_mode", format!("unknown auth mode {s:?}")))
    }
}

/// The editable settings of a server, validated as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpServerSettings {
    pub name: String,
    pub description: String,
    /// The product name used in tool descriptions ("Ask Acme support…").
    pub product_name: String,
    pub auth_mode: AuthMode,
    /// The organization's identity provider `custom_oauth` users sign in with (only then set).
    pub identity_provider_id: Option<IdentityProviderId>,
    pub support_tool_enabled: bool,
    pub walkthrough_tool_enabled: bool,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub telemetry_enabled: bool,
    /// A disabled server keeps its data and settings, but its MCP endpoint answers 404.
    pub enabled: bool,
}

impl McpServerSettings {
    pub const MIN_ACCESS_TOKEN_TTL: Duration = Duration::from_secs(60);
    pub const MAX_ACCESS_TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);
    pub const MAX_REFRESH_TOKEN_TTL: Duration = Duration::from_secs(365 * 24 * 3600);

    /// Defaults for a new server named `name`.
    pub fn new(name: &str) -> Result<Self, ValidationError> {
        let name = parse_display_name("name", name, 100)?;
        Ok(Self { product_name: name.clone(), name, ..Self::default() })
    }

    pub fn validate(&self) -> Result<(), ValidationError> {
        parse_display_name("name", &self.name, 100)?;
        parse_display_name("product_name", &self.product_name, 100)?;
        if self.description.chars().count() > 2000 {
            return Err(ValidationError::new("description", "must be at most 2000 characters"));
        }
        // Line breaks and tabs are text; other control characters (NUL among them, which
        // PostgreSQL cannot store) are not.
        if self.description.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
            return Err(ValidationError::new(
                "description",
                "must not contain control characters other than line breaks and tabs",
            ));
        }
        match (self.auth_mode, self.identity_provider_id) {
            (AuthMode::CustomOauth, None) => {
                return Err(ValidationError::new(
                    "identity_provider_id",
                    "choose the identity provider your users sign in with",
                ));
            }
            (mode, Some(_)) if mode != AuthMode::CustomOauth => {
                return Err(ValidationError::new(
                    "identity_provider_id",
                    "only servers that sign users in with your identity provider (custom_oauth) use one",
                ));
            }
            _ => {}
        }
        if !(Self::MIN_ACCESS_TOKEN_TTL..=Self::MAX_ACCESS_TOKEN_TTL)
            .contains(&self.access_token_ttl)
        {
            return Err(ValidationError::new(
                "access_token_ttl",
                "must be between 1 minute and 24 hours",
            ));
        }
        if self.refresh_token_ttl < self.access_token_ttl
            || self.refresh_token_ttl > Self::MAX_REFRESH_TOKEN_TTL
        {
            return Err(ValidationError::new(
                "refresh_token_ttl",
                "must be at least the access token lifetime and at most 365 days",
            ));
        }
        Ok(())
    }
}

/// The defaults of a new server; the name (and so the product name) is still empty.
impl Default for McpServerSettings {
    fn default() -> Self {
        Self {
            name: String::new(),
            description: String::new(),
            product_name: String::new(),
            auth_mode: AuthMode::PlatformOauth,
            identity_provider_id: None,
            support_tool_enabled: true,
            walkthrough_tool_enabled: true,
            access_token_ttl: Duration::from_secs(3600),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            telemetry_enabled: true,
            enabled: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpServer {
    pub id: McpServerId,
    pub organization_id: OrgId,
    pub slug: Slug,
    pub settings: McpServerSettings,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_slugs_are_accepted() {
        for good in ["acme", "acme-docs", "a1b", "x".repeat(63).as_str()] {
            assert_eq!(Slug::parse(good).unwrap().as_str(), good);
        }
    }

    #[test]
    fn invalid_slugs_say_why() {
        let cases = [
            ("ab", "3 to 63"),
            ("Acme", "lowercase"),
            ("acme_docs", "lowercase"),
            ("1acme", "start with a letter"),
            ("acme-", "end with a hyphen"),
            ("ac--me", "two hyphens"),
            ("www", "reserved"),
            ("admin", "reserved"),
        ];
        for (input, expected) in cases {
            let err = Slug::parse(input).unwrap_err();
            assert!(err.message.contains(expected), "{input}: {}", err.message);
        }
        assert!(Slug::parse(&"x".repeat(64)).is_err());
    }

    #[test]
    fn auth_modes_round_trip_through_text() {
        for mode in AuthMode::ALL {
            assert_eq!(mode.as_str().parse::<AuthMode>().unwrap(), mode);
        }
        assert!("oauth".parse::<AuthMode>().is_err());
    }

    #[test]
    fn settings_reject_token_lifetimes_out_of_range() {
        let mut settings = McpServerSettings::new("Acme").unwrap();
        assert!(settings.validate().is_ok());
        settings.access_token_ttl = Duration::from_secs(10);
        assert_eq!(settings.validate().unwrap_err().field, "access_token_ttl");
        settings.access_token_ttl = Duration::from_secs(3600);
        settings.refresh_token_ttl = Duration::from_secs(60);
        assert_eq!(settings.validate().unwrap_err().field, "refresh_token_ttl");
    }
}
