//! Invitations: an emailed link that lets one person join an organization with a given role.

use std::time::Duration;

use time::OffsetDateTime;

use crate::ids::{InvitationId, OrgId, UserId};
use crate::org::Role;
use crate::user::EmailAddress;

/// How long an invitation link stays valid.
pub const INVITATION_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
/// Prefix of invitation link secrets.
pub const INVITATION_TOKEN_PREFIX: &str = "mcpi_";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub id: InvitationId,
    pub organization_id: OrgId,
    pub email: EmailAddress,
    pub role: Role,
    pub invited_by: Option<UserId>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub accepted_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Revoked,
    Expired,
}

impl InvitationStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }
}

impl Invitation {
    pub fn status(&self, now: OffsetDateTime) -> InvitationStatus {
        if self.accepted_at.is_some() {
            InvitationStatus::Accepted
        } else if self.revoked_at.is_some() {
            InvitationStatus::Revoked
        } else if now >= self.expires_at {
            InvitationStatus::Expired
        } else {
            InvitationStatus::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_serialize_as_their_names() {
        use InvitationStatus::*;
        for status in [Pending, Accepted, Revoked, Expired] {
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
    }

    #[test]
    fn an_invitation_is_pending_until_accepted_revoked_or_expired() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let mut invitation = Invitation {
            id: InvitationId::new(),
            organization_id: OrgId::new(),
            email: EmailAddress::parse("bob@example.com").unwrap(),
            role: Role::Member,
            invited_by: None,
            created_at: now,
            expires_at: now + INVITATION_LIFETIME,
            accepted_at: None,
            revoked_at: None,
        };
        assert_eq!(invitation.status(now), InvitationStatus::Pending);
        assert_eq!(invitation.status(now + INVITATION_LIFETIME), InvitationStatus::Expired);
        invitation.revoked_at = Some(now);
        assert_eq!(invitation.status(now), InvitationStatus::Revoked);
        invitation.accepted_at = Some(now);
        assert_eq!(invitation.status(now), InvitationStatus::Accepted);
    }
}
