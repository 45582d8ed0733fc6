//! What the agent receives: markdown with the step's fields in XML-ish blocks, each with a
//! sentence saying what it is for, and a footer with the course's state — the original
//! product's template (`reference/seeds.md`, "Walkthrough step template"). The dashboard's
//! preview shows exactly this text.

use std::fmt::Write as _;

use serde::Serialize;

use super::{Standing, Walkthrough, WalkthroughStep};
use crate::walkthrough::WalkthroughKind;

/// One walkthrough offered by a server, as `start_walkthrough` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Choice {
    pub title: String,
    pub description: String,
    #[serde(rename = "type")]
    pub kind: WalkthroughKind,
    pub total_steps: usize,
    pub progress_percent: u32,
    pub is_started: bool,
    pub is_completed: bool,
    pub estimated_duration_minutes: Option<u32>,
    pub tags: Vec<String>,
}

/// A block of agent-facing text, left out when its field is empty.
fn block(out: &mut String, tag: &str, framing: &str, text: &str) {
    if text.trim().is_empty() {
        return;
    }
    let _ = write!(out, "{framing}\n<{tag}>\n{text}\n</{tag}>\n\n");
}

fn course_info(out: &mut String, walkthrough: &Walkthrough, standing: &Standing<'_>) {
    let _ = write!(
        out,
        "## Course Info\n\
         - Walkthrough ID: {}\n\
         - Progress: {}% ({} of {} steps completed)\n\
         - Completed: {}\n",
        walkthrough.id,
        standing.percent(),
        standing.completed,
        standing.total,
        standing.is_finished(),
    );
    if let Some((_, step)) = standing.next {
        let _ = writeln!(out, "- Current Step ID: {}", step.id);
    }
}

/// A step as the agent receives it. `standing` is the user's, with `step` as its next.
pub fn step(walkthrough: &Walkthrough, step: &WalkthroughStep, standing: &Standing<'_>) -> String {
    let position = standing.next.map_or(0, |(index, _)| index) + 1;
    let fields = step.content.fields();
    let mut out = format!(
        "# Walkthrough: {}\n\n## Step {position} of {}: {}\n\n",
        walkthrough.details.title, standing.total, step.title
    );
    let _ = write!(
        out,
        "You are guiding the user through this walkthrough one step at a time. Work through \
         this step with them. When it is done, ask the user whether they are ready to move on; \
         only when they are, call `get_next_step` with `currentStepId` set to \"{}\".\n\n",
        step.id
    );
    block(
        &mut out,
        "step_information_and_objectives",
        "What this step is for, and when it is done:",
        &fields.introduction_for_agent,
    );
    block(
        &mut out,
        "background_information_context",
        "Background for you, to answer the user's questions with; do not recite it:",
        &fields.context_for_agent,
    );
    block(
        &mut out,
        "operations_to_perform",
        "What to do for the user in this step (edit files, run commands, call tools):",
        &fields.operations_for_agent,
    );
    block(
        &mut out,
        "step_content",
        "VERY IMPORTANT: before anything else, show the user the content below VERBATIM, \
         exactly as written, without summarizing, shortening or rewording it:",
        &fields.content_for_user,
    );
    course_info(&mut out, walkthrough, standing);
    out
}

/// The answer once every step is done.
pub fn completion(walkthrough: &Walkthrough, standing: &Standing<'_>) -> String {
    let mut out = format!(
        "# Walkthrough Complete!\n\nThe user has finished \"{}\". Congratulate them, sum up \
         in a few words what they did, and ask whether they need anything else. To go through \
         it again, call `start_walkthrough` with its title as `name` and `restart` set to \
         true.\n\n",
        walkthrough.details.title
    );
    course_info(&mut out, walkthrough, standing);
    out
}

/// The walkthroughs a server offers, for the agent to choose from with the user.
pub fn choices(choices: &[Choice]) -> String {
    let list = serde_json::to_string_pretty(&serde_json::json!({ "walkthroughs": choices }))
        .unwrap_or_default();
    format!(
        "These walkthroughs are available. Show them to the user and ask which one they want \
         to follow, then call `start_walkthrough` again with its exact title as `name`.\n\n\
         ```json\n{list}\n```\n"
    )
}

/// A name that matches no walkthrough: the list, and what went wrong.
pub fn unknown_name(name: &str, available: &[Choice]) -> String {
    format!("There is no walkthrough named \"{name}\". {}", choices(available))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use serde_json::Map;
    use time::OffsetDateTime;

    use super::*;
    use crate::ids::{OrgId, WalkthroughId};
    use crate::walkthrough::tests::step as numbered_step;
    use crate::walkthrough::{ContentV1, StepContent, WalkthroughDetails, WalkthroughStatus};

    fn walkthrough() -> Walkthrough {
        Walkthrough {
            id: WalkthroughId::new(),
            organization_id: OrgId::new(),
            details: WalkthroughDetails::new(
                "Acme quick start",
                "",
                WalkthroughKind::Quickstart,
                WalkthroughStatus::Published,
                None,
                &[],
            )
            .unwrap(),
            metadata: Map::new(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_step_renders_every_filled_field_with_the_verbatim_rule_and_the_footer() {
        let course = walkthrough();
        let mut steps: Vec<_> = (0..3).map(numbered_step).collect();
        steps[1].title = "Install the CLI".into();
        steps[1].content = StepContent::V1(ContentV1 {
            introduction_for_agent: "Get the CLI installed.".into(),
            context_for_agent: String::new(),
            content_for_user: "Run `curl acme.sh | sh`.".into(),
            operations_for_agent: "Run the installer.".into(),
        });
        let done: HashSet<_> = [steps[0].id].into();
        let standing = Standing::of(&steps, &done);
        let text = step(&course, &steps[1], &standing);
        let expected = format!(
            "# Walkthrough: Acme quick start\n\n## Step 2 of 3: Install the CLI\n\n\
             You are guiding the user through this walkthrough one step at a time. Work through \
             this step with them. When it is done, ask the user whether they are ready to move \
             on; only when they are, call `get_next_step` with `currentStepId` set to \"{step}\".\n\n\
             What this step is for, and when it is done:\n\
             <step_information_and_objectives>\nGet the CLI installed.\n</step_information_and_objectives>\n\n\
             What to do for the user in this step (edit files, run commands, call tools):\n\
             <operations_to_perform>\nRun the installer.\n</operations_to_perform>\n\n\
             VERY IMPORTANT: before anything else, show the user the content below VERBATIM, \
             exactly as written, without summarizing, shortening or rewording it:\n\
             <step_content>\nRun `curl acme.sh | sh`.\n</step_content>\n\n\
             ## Course Info\n- Walkthrough ID: {id}\n- Progress: 33% (1 of 3 steps completed)\n\
             - Completed: false\n- Current Step ID: {step}\n",
            step = steps[1].id,
            id = course.id,
        );
        assert_eq!(text, expected);
        // The empty context field has no block at all.
        assert!(!text.contains("background_information_context"));
    }

    #[test]
    fn completion_says_so_and_has_no_current_step() {
        let course = walkthrough();
        let steps: Vec<_> = (0..2).map(numbered_step).collect();
        let done: HashSet<_> = steps.iter().map(|s| s.id).collect();
        let text = completion(&course, &Standing::of(&steps, &done));
        assert!(text.starts_with("# Walkthrough Complete!\n"));
        assert!(text.contains("- Progress: 100% (2 of 2 steps completed)\n- Completed: true\n"));
        assert!(!text.contains("Current Step ID"));
    }

    #[test]
    fn choices_list_the_original_fields_as_json() {
        let choice = Choice {
            title: "Bun".into(),
            description: "d".into(),
            kind: WalkthroughKind::Quickstart,
            total_steps: 12,
            progress_percent: 25,
            is_started: true,
            is_completed: false,
            estimated_duration_minutes: Some(20),
            tags: vec!["bun".into()],
        };
        let text = unknown_name("Deno", &[choice]);
        assert!(text.starts_with("There is no walkthrough named \"Deno\". "));
        let json = text.split("```json\n").nth(1).and_then(|rest| rest.split("\n```").next());
        let value: serde_json::Value = serde_json::from_str(json.unwrap()).unwrap();
        assert_eq!(
            value["walkthroughs"][0],
            serde_json::json!({
                "title": "Bun", "description": "d", "type": "quickstart", "totalSteps": 12,
                "progressPercent": 25, "isStarted": true, "isCompleted": false,
                "estimatedDurationMinutes": 20, "tags": ["bun"],
            })
        );
    }
}
