//! Typed identifiers: one UUIDv7 newtype per entity, so an `OrgId` can never be passed where a
//! `UserId` is expected. v7 ids sort by creation time, which keeps indexes append-mostly.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! define_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

define_id!(
    /// An organization (tenant).
    OrgId
);
define_id!(
    /// A platform user: someone who logs in to the dashboard.
    UserId
);
define_id!(
    /// A dashboard login session.
    SessionId
);
define_id!(
    /// A hosted MCP server.
    McpServerId
);
define_id!(
    /// An invitation to join an organization.
    InvitationId
);
define_id!(
    /// A message in the email outbox.
    OutboxEmailId
);
define_id!(
    /// An API key.
    ApiKeyId
);
define_id!(
    /// An entry of the audit log.
    AuditEventId
);
define_id!(
    /// A password reset link.
    PasswordResetId
);
define_id!(
    /// An organization's upstream identity provider (GitHub, Google, OIDC, OAuth 2.0).
    IdentityProviderId
);
define_id!(
    /// A round trip to an upstream identity provider, from redirect to callback.
    UpstreamLoginId
);
define_id!(
    /// A person who signed in to one of an organization's MCP servers (an end user, never a
    /// platform user).
    EndUserId
);
define_id!(
    /// An authorization request (RFC 6749 §4.1.1) between `/oauth/authorize` and its code.
    AuthorizationRequestId
);
define_id!(
    /// Everything issued from one authorization code: its access tokens and refresh-token chain,
    /// revoked together.
    TokenFamilyId
);
define_id!(
    /// One recorded MCP request to a hosted server.
    McpRequestId
);
define_id!(
    /// A support ticket opened from the editor.
    SupportTicketId
);
define_id!(
    /// A walkthrough: a step-by-step course an agent delivers to an end user.
    WalkthroughId
);
define_id!(
    /// One step of a walkthrough.
    WalkthroughStepId
);
define_id!(
    /// One event of an end user's way through a walkthrough (started, step completed, ...).
    WalkthroughEventId
);
define_id!(
    /// One entry of a support ticket's activity stream (a comment, a status change, ...).
    TicketActivityId
);
define_id!(
    /// One outgoing webhook message, kept until delivered.
    WebhookDeliveryId
);
define_id!(
    /// An OTLP endpoint of the customer's that telemetry is forwarded to.
    TelemetryDestinationId
);
define_id!(
    /// One accepted OTLP request queued for forwarding (one row per destination).
    TelemetryExportId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_their_text_form() {
        let id = OrgId::new();
        let parsed: OrgId = id.to_string().parse().unwrap();
        assert_eq!(parsed, id);
        assert_eq!(id.as_uuid().get_version_num(), 7);
    }

    #[test]
    fn ids_created_later_sort_later() {
        let first = McpServerId::new();
        let second = McpServerId::new();
        assert!(first < second);
    }

    #[test]
    fn malformed_ids_are_rejected() {
        assert!("not-a-uuid".parse::<UserId>().is_err());
    }
}
