//! A ticket's activity stream: what people wrote (comments for everyone, internal notes for
//! the team) and what happened (status changes, assignments, field edits), each with who and
//! when.

use serde_json::Value;
use time::OffsetDateTime;

use super::lifecycle::Actor;
use crate::ValidationError;
use crate::hosting::text_enum;
use crate::ids::{OrgId, SupportTicketId, TicketActivityId, UserId};
use crate::validation::parse_text;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    /// A reply the end user sees (or the end user's own reply).
    Comment,
    /// Written by the team for the team; never shown to the end user.
    InternalNote,
    StatusChange,
    Assignment,
    /// Title, summary, priority or category edited: `data` holds field, from and to.
    FieldUpdate,
    /// Something the platform did or noticed (an email arrived, a webhook was set up).
    System,
}

text_enum!(ActivityKind, "kind", {
    Comment => "comment", InternalNote => "internal_note", StatusChange => "status_change",
    Assignment => "assignment", FieldUpdate => "field_update", System => "system",
});

#[derive(Debug, Clone, PartialEq)]
pub struct TicketActivity {
    pub id: TicketActivityId,
    pub organization_id: OrgId,
    pub ticket_id: SupportTicketId,
    pub kind: ActivityKind,
    pub actor: Actor,
    /// Markdown for comments and notes; a sentence for system entries.
    pub body: Option<String>,
    /// What changed, for status changes, assignments and field edits.
    pub data: Value,
    pub created_at: OffsetDateTime,
    pub edited_at: Option<OffsetDateTime>,
}

impl TicketActivity {
    pub const MAX_BODY_CHARS: usize = 20_000;

    pub fn new(
        organization_id: OrgId,
        ticket_id: SupportTicketId,
        kind: ActivityKind,
        actor: Actor,
        body: Option<String>,
        data: Value,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            id: TicketActivityId::new(),
            organization_id,
            ticket_id,
            kind,
            actor,
            body,
            data,
            created_at: now,
            edited_at: None,
        }
    }

    /// Whether the end user may see it.
    pub fn is_public(&self) -> bool {
        self.kind != ActivityKind::InternalNote
    }

    /// Whether `member` may edit or delete it: their own comments and notes only.
    pub fn is_editable_by(&self, member: UserId) -> bool {
        matches!(self.kind, ActivityKind::Comment | ActivityKind::InternalNote)
            && self.actor == Actor::Member(member)
    }
}

/// A comment or note as written: markdown, trimmed, at most 20,000 characters.
pub fn parse_comment(body: &str) -> Result<String, ValidationError> {
    parse_text("body", body, TicketActivity::MAX_BODY_CHARS, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_author_edits_and_notes_stay_internal() {
        let (me, other) = (UserId::new(), UserId::new());
        let at = OffsetDateTime::UNIX_EPOCH;
        let entry = |kind, actor| {
            TicketActivity::new(
                OrgId::new(),
                SupportTicketId::new(),
                kind,
                actor,
                None,
                Value::Null,
                at,
            )
        };
        assert!(entry(ActivityKind::Comment, Actor::Member(me)).is_editable_by(me));
        assert!(entry(ActivityKind::InternalNote, Actor::Member(me)).is_editable_by(me));
        assert!(!entry(ActivityKind::Comment, Actor::Member(other)).is_editable_by(me));
        assert!(!entry(ActivityKind::StatusChange, Actor::Member(me)).is_editable_by(me));
        assert!(!entry(ActivityKind::InternalNote, Actor::Member(me)).is_public());
        assert!(entry(ActivityKind::Assignment, Actor::System).is_public());
        assert_eq!(parse_comment(" \n ").unwrap_err().field, "body");
        assert!(parse_comment(&"x".repeat(20_001)).is_err());
        assert_eq!(parse_comment(" **hi**\n").unwrap(), "**hi**");
    }
}
