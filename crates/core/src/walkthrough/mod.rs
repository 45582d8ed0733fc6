//! Interactive walkthroughs: step-by-step courses (quickstarts, installers, troubleshooting
//! guides) that an agent delivers to an end user in their editor, one step at a time, through
//! the `start_walkthrough` and `get_next_step` tools (`reference/seeds.md` §2A).
//!
//! This module holds the model and its rules; [`render`] is what the agent receives,
//! [`exchange`] the original product's JSON import/export format, and [`analytics`] the funnel
//! and flow computed from progress events.

pub mod analytics;
pub mod exchange;
pub mod render;

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::ValidationError;
use crate::hosting::text_enum;
use crate::ids::{
    EndUserId, McpServerId, OrgId, WalkthroughEventId, WalkthroughId, WalkthroughStepId,
};
use crate::validation::parse_text;

/// What kind of walkthrough it is (the original product's five, each with its label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WalkthroughKind {
    Course,
    Installer,
    Troubleshooting,
    Integration,
    Quickstart,
}

text_enum!(WalkthroughKind, "type", {
    Course => "course", Installer => "installer", Troubleshooting => "troubleshooting",
    Integration => "integration", Quickstart => "quickstart",
});

impl WalkthroughKind {
    pub const ALL: [Self; 5] =
        [Self::Course, Self::Installer, Self::Troubleshooting, Self::Integration, Self::Quickstart];

    pub const fn label(self) -> &'static str {
        match self {
            Self::Course => "📚 Course",
            Self::Installer => "⚙️ Installer",
            Self::Troubleshooting => "🔧 Troubleshooting",
            Self::Integration => "🔗 Integration",
            Self::Quickstart => "⚡ Quickstart",
        }
    }
}

/// Whether a walkthrough reaches end users: only a published one does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WalkthroughStatus {
    Draft,
    Published,
    Archived,
}

text_enum!(WalkthroughStatus, "status", {
    Draft => "draft", Published => "published", Archived => "archived",
});

/// What an author says about a walkthrough, once checked.
#[derive(Debug, Clone, PartialEq)]
pub struct WalkthroughDetails {
    pub title: String,
    /// May be empty.
    pub description: String,
    pub kind: WalkthroughKind,
    pub status: WalkthroughStatus,
    pub estimated_minutes: Option<u32>,
    /// Trimmed, without repeats, in the order given.
    pub tags: Vec<String>,
}

impl WalkthroughDetails {
    pub const MAX_TITLE_CHARS: usize = 200;
    pub const MAX_DESCRIPTION_CHARS: usize = 2_000;
    pub const MAX_MINUTES: u32 = 24 * 60;
    pub const MAX_TAGS: usize = 20;
    pub const MAX_TAG_CHARS: usize = 50;

    pub fn new(
        title: &str,
        description: &str,
        kind: WalkthroughKind,
        status: WalkthroughStatus,
        estimated_minutes: Option<u32>,
        tags: &[String],
    ) -> Result<Self, ValidationError> {
        let title = parse_text("title", title, Self::MAX_TITLE_CHARS, false)?;
        let description = if description.trim().is_empty() {
            String::new()
        } else {
            parse_text("description", description, Self::MAX_DESCRIPTION_CHARS, true)?
        };
        if let Some(minutes) = estimated_minutes
            && !(1..=Self::MAX_MINUTES).contains(&minutes)
        {
            return Err(ValidationError::new(
                "estimatedDurationMinutes",
                format!("must be between 1 and {}", Self::MAX_MINUTES),
            ));
        }
        let mut checked: Vec<String> = Vec::new();
        for tag in tags {
            let tag = parse_text("tags", tag, Self::MAX_TAG_CHARS, false)?;
            if !checked.contains(&tag) {
                checked.push(tag);
            }
            // Refused as soon as there are too many: the duplicate check is quadratic, and a
            // body can hold a hundred thousand tags.
            if checked.len() > Self::MAX_TAGS {
                return Err(ValidationError::new(
                    "tags",
                    format!("must be at most {} tags", Self::MAX_TAGS),
                ));
            }
        }
        Ok(Self { title, description, kind, status, estimated_minutes, tags: checked })
    }
}

/// A walkthrough of an organization.
#[derive(Debug, Clone, PartialEq)]
pub struct Walkthrough {
    pub id: WalkthroughId,
    pub organization_id: OrgId,
    pub details: WalkthroughDetails,
    /// Whatever an imported file carried under `metadata`, kept for its export.
    pub metadata: Map<String, Value>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// What a step says, by content version. `v1` is the original product's four fields
/// (`reference/seeds.md`, "content_fields v1"); a later version is a new variant, and steps
/// written in an older one keep rendering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "version")]
pub enum StepContent {
    #[serde(rename = "v1")]
    V1(ContentV1),
}

/// The `v1` fields. Only `contentForUser` is required: a step always shows the user something.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContentV1 {
    /// For the agent: what the step is for and when it is done.
    #[serde(default)]
    pub introduction_for_agent: String,
    /// For the agent: background to answer questions with, not to recite.
    #[serde(default)]
    pub context_for_agent: String,
    /// For the user, shown verbatim.
    pub content_for_user: String,
    /// For the agent: what to do (edit files, run commands, call tools).
    #[serde(default)]
    pub operations_for_agent: String,
}

impl StepContent {
    pub const MAX_FIELD_CHARS: usize = 50_000;

    /// Checks every field: trimmed, at most [`Self::MAX_FIELD_CHARS`], no control characters
    /// but line breaks and tabs; `contentForUser` not empty.
    pub fn v1(content: ContentV1) -> Result<Self, ValidationError> {
        let optional = |field: &'static str, text: &str| {
            if text.trim().is_empty() {
                Ok(String::new())
            } else {
                parse_text(field, text, Self::MAX_FIELD_CHARS, true)
            }
        };
        Ok(Self::V1(ContentV1 {
            introduction_for_agent: optional(
                "introductionForAgent",
                &content.introduction_for_agent,
            )?,
            context_for_agent: optional("contextForAgent", &content.context_for_agent)?,
            content_for_user: parse_text(
                "contentForUser",
                &content.content_for_user,
                Self::MAX_FIELD_CHARS,
                true,
            )?,
            operations_for_agent: optional("operationsForAgent", &content.operations_for_agent)?,
        }))
    }

    /// The `v1` fields of any version (there is one so far).
    pub fn fields(&self) -> &ContentV1 {
        match self {
            Self::V1(fields) => fields,
        }
    }
}

/// A step title, checked.
pub fn parse_step_title(title: &str) -> Result<String, ValidationError> {
    parse_text("title", title, WalkthroughStep::MAX_TITLE_CHARS, false)
}

#[derive(Debug, Clone, PartialEq)]
pub struct WalkthroughStep {
    pub id: WalkthroughStepId,
    pub walkthrough_id: WalkthroughId,
    pub title: String,
    pub content: StepContent,
    /// Position among the walkthrough's steps, from 0; steps are always kept numbered 0..n.
    pub display_order: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl WalkthroughStep {
    pub const MAX_TITLE_CHARS: usize = 200;
    /// More steps than anyone follows in an editor.
    pub const MAX_STEPS: usize = 200;
}

/// A walkthrough assigned to a server: whether the server offers it, and where in its list.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    pub mcp_server_id: McpServerId,
    pub walkthrough_id: WalkthroughId,
    pub display_order: i64,
    pub enabled: bool,
}

/// Checks that `order` names each of `current` exactly once: a reorder request must be a
/// permutation of what is there, never a way to reach another walkthrough's steps (or
/// another server's walkthroughs).
pub fn check_reorder<T: Eq + std::hash::Hash + Copy>(
    current: &[T],
    order: &[T],
    field: &'static str,
) -> Result<(), ValidationError> {
    let known: HashSet<T> = current.iter().copied().collect();
    let mut seen = HashSet::new();
    for id in order {
        if !known.contains(id) {
            return Err(ValidationError::new(field, "names an item that is not in this list"));
        }
        if !seen.insert(*id) {
            return Err(ValidationError::new(field, "names an item twice"));
        }
    }
    if seen.len() != known.len() {
        return Err(ValidationError::new(field, "must name every item of the list exactly once"));
    }
    Ok(())
}

/// An end user's way through one walkthrough: the steps done in this attempt and the times.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub organization_id: OrgId,
    pub end_user_id: EndUserId,
    pub walkthrough_id: WalkthroughId,
    /// Steps completed since the last (re)start; may name steps deleted since.
    pub completed_steps: HashSet<WalkthroughStepId>,
    /// The step last handed to the user; none once finished.
    pub current_step_id: Option<WalkthroughStepId>,
    /// Where they last worked on it.
    pub last_server_id: McpServerId,
    pub last_session_id: Option<String>,
    pub started_at: OffsetDateTime,
    pub last_activity_at: OffsetDateTime,
    pub completed_at: Option<OffsetDateTime>,
}

/// Where someone stands in a walkthrough as it is now: the next step to do, and how much of it
/// is done. Computed from the steps as they are, so that reordering, adding and deleting steps
/// after people progressed keeps their work: the next step is the first one, in display
/// order, not yet completed (the original product's rule).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Standing<'a> {
    /// The step to do next, and its position from 0; none when every step is done.
    pub next: Option<(usize, &'a WalkthroughStep)>,
    /// Completed steps that still exist.
    pub completed: usize,
    pub total: usize,
}

impl<'a> Standing<'a> {
    /// `steps` in display order.
    pub fn of(steps: &'a [WalkthroughStep], completed: &HashSet<WalkthroughStepId>) -> Self {
        let next = steps.iter().enumerate().find(|(_, step)| !completed.contains(&step.id));
        let done = steps.iter().filter(|step| completed.contains(&step.id)).count();
        Self { next, completed: done, total: steps.len() }
    }

    pub fn is_finished(&self) -> bool {
        self.next.is_none()
    }

    /// Rounded down, so 100 means truly done; an empty walkthrough is 0.
    pub fn percent(&self) -> u32 {
        if self.total == 0 {
            return 0;
        }
        u32::try_from(self.completed * 100 / self.total).unwrap_or(100)
    }
}

/// What happened on an end user's way through a walkthrough. Kept for analytics: a restart
/// clears the progress, never the events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Started,
    Restarted,
    StepCompleted,
    Completed,
}

text_enum!(EventKind, "kind", {
    Started => "started", Restarted => "restarted", StepCompleted => "step_completed",
    Completed => "completed",
});

#[derive(Debug, Clone, PartialEq)]
pub struct ProgressEvent {
    pub id: WalkthroughEventId,
    pub organization_id: OrgId,
    pub walkthrough_id: WalkthroughId,
    pub end_user_id: EndUserId,
    pub mcp_server_id: McpServerId,
    pub session_id: Option<String>,
    pub kind: EventKind,
    /// The step completed, with `StepCompleted`.
    pub step_id: Option<WalkthroughStepId>,
    pub at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn step(order: i64) -> WalkthroughStep {
        let at = OffsetDateTime::UNIX_EPOCH;
        WalkthroughStep {
            id: WalkthroughStepId::new(),
            walkthrough_id: WalkthroughId::from_uuid(uuid::Uuid::nil()),
            title: format!("Step {order}"),
            content: StepContent::V1(ContentV1 {
                content_for_user: format!("content {order}"),
                ..ContentV1::default()
            }),
            display_order: order,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn the_next_step_is_the_first_not_completed_in_display_order() {
        let steps: Vec<_> = (0..4).map(step).collect();
        let mut done = HashSet::new();
        let standing = Standing::of(&steps, &done);
        assert_eq!(standing.next.map(|(i, s)| (i, s.id)), Some((0, steps[0].id)));
        assert_eq!((standing.completed, standing.total, standing.percent()), (0, 4, 0));
        // Steps done out of order leave the earlier one next.
        done.insert(steps[1].id);
        done.insert(steps[2].id);
        let standing = Standing::of(&steps, &done);
        assert_eq!(standing.next.map(|(i, _)| i), Some(0));
        assert_eq!(standing.percent(), 50);
        done.insert(steps[0].id);
        assert_eq!(Standing::of(&steps, &done).next.map(|(i, _)| i), Some(3));
        done.insert(steps[3].id);
        let standing = Standing::of(&steps, &done);
        assert!(standing.is_finished());
        assert_eq!(standing.percent(), 100);
    }

    #[test]
    fn progress_survives_reordering_and_deleting_steps() {
        let steps: Vec<_> = (0..4).map(step).collect();
        let done: HashSet<_> = [steps[0].id, steps[1].id].into();
        // The author moves the last step to the front: it is now the one to do.
        let reordered =
            vec![steps[3].clone(), steps[0].clone(), steps[1].clone(), steps[2].clone()];
        let standing = Standing::of(&reordered, &done);
        assert_eq!(standing.next.map(|(i, s)| (i, s.id)), Some((0, steps[3].id)));
        assert_eq!(standing.completed, 2);
        // A completed step is deleted: it no longer counts, and nothing else moves.
        let without_first = vec![steps[1].clone(), steps[2].clone(), steps[3].clone()];
        let standing = Standing::of(&without_first, &done);
        assert_eq!(standing.next.map(|(_, s)| s.id), Some(steps[2].id));
        assert_eq!((standing.completed, standing.total, standing.percent()), (1, 3, 33));
        // Every remaining step was done: the walkthrough is finished.
        let only_done = vec![steps[0].clone(), steps[1].clone()];
        assert!(Standing::of(&only_done, &done).is_finished());
        // An empty walkthrough has nothing to do and is 0 %.
        assert_eq!(Standing::of(&[], &done).percent(), 0);
    }

    #[test]
    fn details_are_trimmed_and_checked() {
        let tags = vec![" bun ".to_owned(), "bun".to_owned(), "cli".to_owned()];
        let ok = WalkthroughDetails::new(
            " Quick start ",
            "  ",
            WalkthroughKind::Quickstart,
            WalkthroughStatus::Draft,
            Some(20),
            &tags,
        )
        .unwrap();
        assert_eq!((ok.title.as_str(), ok.description.as_str()), ("Quick start", ""));
        assert_eq!(ok.tags, ["bun", "cli"]);
        let err = |title: &str, minutes, tags: &[String]| {
            WalkthroughDetails::new(
                title,
                "",
                WalkthroughKind::Course,
                WalkthroughStatus::Draft,
                minutes,
                tags,
            )
            .unwrap_err()
            .field
        };
        assert_eq!(err("", None, &[]), "title");
        assert_eq!(err("t", Some(0), &[]), "estimatedDurationMinutes");
        assert_eq!(err("t", None, &["a\nb".to_owned()]), "tags");
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        assert_eq!(err("t", None, &many), "tags");
    }

    #[test]
    fn step_content_needs_user_content_and_bounds_every_field() {
        let content = |user: &str, ops: &str| ContentV1 {
            content_for_user: user.to_owned(),
            operations_for_agent: ops.to_owned(),
            ..ContentV1::default()
        };
        let ok = StepContent::v1(content(" Hello ", "  ")).unwrap();
        assert_eq!(ok.fields().content_for_user, "Hello");
        assert_eq!(ok.fields().operations_for_agent, "");
        assert_eq!(StepContent::v1(content(" ", "x")).unwrap_err().field, "contentForUser");
        let huge = "x".repeat(StepContent::MAX_FIELD_CHARS + 1);
        assert_eq!(StepContent::v1(content("x", &huge)).unwrap_err().field, "operationsForAgent");
        // Stored and exported with its version tag.
        let json = serde_json::to_value(&ok).unwrap();
        assert_eq!(json["version"], "v1");
        assert_eq!(json["contentForUser"], "Hello");
    }

    #[test]
    fn a_reorder_must_name_each_item_once() {
        let ids = [1, 2, 3];
        assert!(check_reorder(&ids, &[3, 1, 2], "order").is_ok());
        assert!(check_reorder(&ids, &[3, 1], "order").is_err());
        assert!(check_reorder(&ids, &[3, 1, 1], "order").is_err());
        assert!(check_reorder(&ids, &[3, 1, 2, 4], "order").is_err());
    }
}
