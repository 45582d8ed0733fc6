//! Organizations (tenants) and the roles their members hold.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ValidationError;
use crate::ids::{OrgId, UserId};

/// A display name for an organization: trimmed, 1 to 100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct OrgName(String);

impl OrgName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        parse_display_name("name", input, Self::MAX_CHARS).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Shared rule for human-facing names: trimmed, non-empty, bounded, printable.
pub fn parse_display_name(
    field: &'static str,
    input: &str,
    max_chars: usize,
) -> Result<String, ValidationError> {
    crate::validation::parse_text(field, input, max_chars, false)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub id: OrgId,
    pub name: OrgName,
    /// How long its telemetry and recorded MCP requests are kept.
    pub retention: RetentionDays,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// Days an organization's telemetry and recorded MCP requests are kept: 1 to 3650.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct RetentionDays(u16);

impl RetentionDays {
    pub const DEFAULT: Self = Self(30);
    pub const MAX: u16 = 3650;

    pub fn new(days: i64) -> Result<Self, ValidationError> {
        u16::try_from(days).ok().filter(|days| (1..=Self::MAX).contains(days)).map(Self).ok_or_else(
            || ValidationError::new("telemetry_retention_days", "must be between 1 and 3650 days"),
        )
    }

    pub const fn days(self) -> u16 {
        self.0
    }

    /// The oldest moment still kept at `now`.
    pub fn cutoff(self, now: OffsetDateTime) -> OffsetDateTime {
        now - time::Duration::days(i64::from(self.0))
    }
}

/// What a member may do in an organization. Ordered: an owner can do all an admin can, an admin
/// all a member can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Member,
    Admin,
    Owner,
}

impl Role {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }

    /// Whether this role includes everything `required` allows.
    pub fn at_least(self, required: Role) -> bool {
        self >= required
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "member" => Ok(Self::Member),
            "admin" => Ok(Self::Admin),
            "owner" => Ok(Self::Owner),
            other => Err(ValidationError::new(
                "role",
                format!("unknown role {other:?} (expected owner, admin or member)"),
            )),
        }
    }
}

/// A platform user's place in an organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub organization_id: OrgId,
    pub user_id: UserId,
    pub role: Role,
    pub created_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_names_are_trimmed_and_bounded() {
        assert_eq!(OrgName::parse("  Acme Inc ").unwrap().as_str(), "Acme Inc");
        assert!(OrgName::parse("   ").is_err());
        assert!(OrgName::parse(&"x".repeat(101)).is_err());
        assert!(OrgName::parse(&"é".repeat(100)).is_ok());
        assert!(OrgName::parse("bad\u{7}name").is_err());
    }

    #[test]
    fn roles_are_ordered_by_what_they_allow() {
        assert!(Role::Owner.at_least(Role::Admin));
        assert!(Role::Admin.at_least(Role::Member));
        assert!(!Role::Member.at_least(Role::Admin));
    }

    #[test]
    fn roles_round_trip_through_text_and_reject_unknown_names() {
        for role in [Role::Owner, Role::Admin, Role::Member] {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert_eq!("root".parse::<Role>().unwrap_err().field, "role");
    }
}
