//! End users: the people who sign in to an organization's MCP servers. They never meet
//! platform users (DESIGN.md "Security model"): other tables, cookies and tokens.

use serde_json::Value;
use time::OffsetDateTime;

use crate::ids::{EndUserId, IdentityProviderId, OrgId};

/// The identity provider key of the built-in end-user login (`platform_oauth`); an
/// organization's provider is keyed by its id.
pub const PLATFORM_PROVIDER: &str = "platform";

#[derive(Debug, Clone, PartialEq)]
pub struct EndUser {
    pub id: EndUserId,
    pub organization_id: OrgId,
    pub email: Option<String>,
    /// Set when the provider vouched for the address (or the built-in login confirmed it).
    pub email_verified_at: Option<OffsetDateTime>,
    pub name: Option<String>,
    /// What the provider last said about them (ID token and userinfo claims).
    pub profile: Value,
    pub created_at: OffsetDateTime,
    pub last_login_at: OffsetDateTime,
}

impl EndUser {
    /// Associated data binding a sealed upstream token (`kind`: `access`, `refresh`) to its end
    /// user and provider.
    pub fn upstream_token_context(
        end_user: EndUserId,
        provider: IdentityProviderId,
        kind: &str,
    ) -> Vec<u8> {
        format!("upstream_token.{kind}:{end_user}:{provider}").into_bytes()
    }
}

/// A sign-in as a provider reported it: who, by which provider, with what profile.
#[derive(Debug, Clone, PartialEq)]
pub struct EndUserLogin {
    /// [`PLATFORM_PROVIDER`] or an identity provider id.
    pub provider: String,
    /// The provider's stable id for the person.
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub profile: Value,
}
