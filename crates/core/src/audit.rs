//! The audit log: who did what, to what, and when.

use time::OffsetDateTime;

use crate::ids::{AuditEventId, OrgId, UserId};

/// The kinds of event, named `area.verb`; the area is what the log filters on.
pub mod action {
    pub const LOGIN: &str = "account.login";
    pub const LOGIN_FAILED: &str = "account.login_failed";
    pub const LOGOUT_EVERYWHERE: &str = "account.logout_everywhere";
    pub const SIGNUP: &str = "account.signup";
    pub const PASSWORD_RESET_REQUESTED: &str = "account.password_reset_requested";
    pub const PASSWORD_RESET: &str = "account.password_reset";
    pub const IDENTITY_LINKED: &str = "account.identity_linked";
    pub const IDENTITY_UNLINKED: &str = "account.identity_unlinked";
    pub const ORG_CREATED: &str = "organization.created";
    pub const ORG_RENAMED: &str = "organization.renamed";
    pub const ORG_RETENTION_CHANGED: &str = "organization.retention_changed";
    pub const MEMBER_INVITED: &str = "member.invited";
    pub const INVITATION_RESENT: &str = "member.invitation_resent";
    pub const INVITATION_REVOKED: &str = "member.invitation_revoked";
    pub const INVITATION_ACCEPTED: &str = "member.joined";
    pub const MEMBER_ROLE_CHANGED: &str = "member.role_changed";
    pub const MEMBER_REMOVED: &str = "member.removed";
    pub const MEMBER_LEFT: &str = "member.left";
    pub const SERVER_CREATED: &str = "server.created";
    pub const SERVER_UPDATED: &str = "server.updated";
    pub const SERVER_DELETED: &str = "server.deleted";
    /// Support categories, auto-resolve or the webhook (where every ticket event goes).
    pub const SUPPORT_SETTINGS_UPDATED: &str = "server.support_settings_updated";
    pub const TRACKING_LINK_CREATED: &str = "server.tracking_link_created";
    pub const TRACKING_LINK_REVOKED: &str = "server.tracking_link_revoked";
    pub const API_KEY_CREATED: &str = "api_key.created";
    pub const API_KEY_REVOKED: &str = "api_key.revoked";
    pub const IDP_CREATED: &str = "identity_provider.created";
    pub const IDP_UPDATED: &str = "identity_provider.updated";
    pub const IDP_DELETED: &str = "identity_provider.deleted";
    pub const OAUTH_CLIENT_CREATED: &str = "oauth_client.created";
    pub const OAUTH_CLIENT_REVOKED: &str = "oauth_client.revoked";
    /// An end user's consent to a client, withdrawn by the organization.
    pub const OAUTH_GRANT_REVOKED: &str = "oauth_client.grant_revoked";
    pub const WALKTHROUGH_CREATED: &str = "walkthrough.created";
    pub const WALKTHROUGH_IMPORTED: &str = "walkthrough.imported";
    pub const WALKTHROUGH_UPDATED: &str = "walkthrough.updated";
    pub const WALKTHROUGH_DELETED: &str = "walkthrough.deleted";
    pub const WALKTHROUGH_ASSIGNED: &str = "walkthrough.assigned";
    pub const WALKTHROUGH_UNASSIGNED: &str = "walkthrough.unassigned";
    pub const EXPORT_DESTINATION_CREATED: &str = "telemetry.destination_created";
    pub const EXPORT_DESTINATION_UPDATED: &str = "telemetry.destination_updated";
    pub const EXPORT_DESTINATION_DELETED: &str = "telemetry.destination_deleted";
}

/// The areas the log can be filtered by.
pub const AREAS: [&str; 9] = [
    "account",
    "organization",
    "member",
    "server",
    "api_key",
    "identity_provider",
    "oauth_client",
    "walkthrough",
    "telemetry",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: AuditEventId,
    pub organization_id: Option<OrgId>,
    pub actor_user_id: Option<UserId>,
    /// How the actor is shown: a name and email, or `API key "ci"`.
    pub actor_label: String,
    pub action: String,
    /// What was acted on, in words (`server acme-docs`, `bob@example.com`).
    pub target: String,
    /// Facts worth keeping, as JSON text (`{"from":"member","to":"admin"}`).
    pub detail: String,
    pub ip_address: Option<String>,
    pub created_at: OffsetDateTime,
}

/// An event to record.
#[derive(Debug, Clone)]
pub struct NewAuditEvent {
    pub organization_id: Option<OrgId>,
    pub actor_user_id: Option<UserId>,
    pub actor_label: String,
    pub action: &'static str,
    pub target: String,
    pub detail: String,
    pub ip_address: Option<String>,
}
