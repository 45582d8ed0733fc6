//! Email the platform sends. Every message is stored first; with no mail server configured it
//! stays in the outbox, where the dashboard shows it, so the embedded setup is complete.

use time::OffsetDateTime;

use crate::ids::{OrgId, OutboxEmailId};
use crate::user::EmailAddress;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEmail {
    pub id: OutboxEmailId,
    /// The organization the message is about, when there is one (its admins can read it).
    pub organization_id: Option<OrgId>,
    pub to: EmailAddress,
    pub subject: String,
    pub body_text: String,
    pub created_at: OffsetDateTime,
    pub sent_at: Option<OffsetDateTime>,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// A message to queue.
#[derive(Debug, Clone)]
pub struct NewEmail {
    pub organization_id: Option<OrgId>,
    pub to: EmailAddress,
    pub subject: String,
    pub body_text: String,
}
