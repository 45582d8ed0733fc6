//! Walkthroughs delivered over MCP (`reference/seeds.md` §2A): `start_walkthrough` starts or
//! resumes one (the only one without a name; a list to choose from when there are several) and
//! `get_next_step` marks the step done and hands over the next. Both exist only while the
//! server has walkthrough tools on and offers something published.
//!
//! Progress belongs to the end user. An anonymous caller becomes an anonymous end user of its
//! session on first use, so that a walkthrough works on any server; it lasts as long as the
//! session (a tracking URL, an email or a login makes it last).

use std::collections::HashSet;
use std::sync::Arc;

use mcplatform_core::hosting::IdentitySource;
use mcplatform_core::ids::{EndUserId, WalkthroughEventId, WalkthroughStepId};
use mcplatform_core::walkthrough::render::{self, Choice};
use mcplatform_core::walkthrough::{
    EventKind, Progress, ProgressEvent, Standing, Walkthrough, WalkthroughStep,
};
use rmcp::ErrorData as McpError;
use rmcp::handler::server::common::schema_for_type;
use rmcp::model::{CallToolResult, ContentBlock, Tool};
use rmcp::schemars::{self, JsonSchema};
use serde::Deserialize;

use super::handler::Call;
use super::tools::{internal, to_invalid_params};
use super::{Caller, find_session};
use crate::AppState;

pub const START_WALKTHROUGH: &str = "start_walkthrough";
pub const GET_NEXT_STEP: &str = "get_next_step";

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct StartArgs {
    /// The exact title of the walkthrough to start. Leave it out to start the only one there
    /// is, or to get the list to choose from when there are several.
    name: Option<String>,
    /// Start again from the first step, forgetting the progress made. By default an earlier
    /// attempt is resumed where it stopped.
    #[serde(default)]
    restart: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct NextArgs {
    /// The id of the step the user has just finished (the "Current Step ID" of the step's
    /// Course Info): it is marked complete first. Leave it out to get the current step again.
    current_step_id: Option<String>,
}

/// The published walkthroughs the server offers, in its order (briefly cached: `tools/list`
/// asks on every request).
pub(super) async fn offered(
    state: &AppState,
    caller: &Caller,
) -> Result<Arc<Vec<Walkthrough>>, McpError> {
    let server = &caller.server;
    if !server.settings.walkthrough_tool_enabled {
        return Ok(Arc::default());
    }
    if let Some(found) = state.hosting.offered.get(&server.id) {
        return Ok(found);
    }
    let found = Arc::new(
        state
            .store
            .offered_walkthroughs(server.organization_id, server.id)
            .await
            .map_err(internal)?,
    );
    state.hosting.offered.insert(server.id, found.clone());
    Ok(found)
}

pub(super) fn tools(product: &str) -> [Tool; 2] {
    let start = Tool::new(
        START_WALKTHROUGH,
        format!(
            "Start or resume an interactive walkthrough of {product}: a step-by-step guide \
             (quick start, installation, troubleshooting) you take the user through. Call it \
             without a name to start the only one, or to list them when there are several; \
             then call it with the chosen title as `name`. It answers with the first step to \
             do. Set `restart` to start over."
        ),
        schema_for_type::<StartArgs>(),
    )
    .with_title(format!("Start a {product} walkthrough"));
    let next = Tool::new(
        GET_NEXT_STEP,
        "Get the next step of the walkthrough in progress. Pass the id of the step the user \
         has just finished as `currentStepId` to mark it complete; leave it out to see the \
         current step again. Call start_walkthrough first.",
        schema_for_type::<NextArgs>(),
    )
    .with_title("Next walkthrough step");
    [start, next]
}

fn text(result: String) -> Vec<ContentBlock> {
    vec![ContentBlock::text(result)]
}

/// The end user whose progress this is; with `create`, an anonymous one made for the session
/// when the caller is nobody yet.
pub(super) async fn end_user(
    state: &AppState,
    call: &Call<'_>,
    create: bool,
) -> Result<Option<EndUserId>, McpError> {
    let caller = call.caller;
    if let Some(user) = caller.identity.end_user.or_else(|| call.identified_user()) {
        return Ok(Some(user));
    }
    let Some(session) = &call.session_id else {
        return Ok(None);
    };
    // A derived (stateless) session keeps the anonymous person it was given (a stateful one
    // brought theirs as the caller's identity).
    if let Some(user) =
        find_session(state, session).await.map_err(internal)?.and_then(|s| s.end_user_id)
    {
        return Ok(Some(user));
    }
    if !create {
        return Ok(None);
    }
    let org = caller.server.organization_id;
    let user =
        state.store.create_end_user(org, None, None, state.clock.now()).await.map_err(internal)?.id;
    state
        .store
        .identify_mcp_session(session, user, IdentitySource::None)
        .await
        .map_err(internal)?;
    state.hosting.forget_session(session);
    let _first_time = call.identified.set((user, IdentitySource::None));
    Ok(Some(user))
}

/// How a walkthrough stands for someone, as `start_walkthrough` lists it. Completions of
/// steps deleted since do not count.
fn choice(
    walkthrough: &Walkthrough,
    steps: &[WalkthroughStep],
    progress: Option<&Progress>,
) -> Choice {
    let details = &walkthrough.details;
    let none = HashSet::new();
    let standing = Standing::of(steps, progress.map_or(&none, |p| &p.completed_steps));
    Choice {
        title: details.title.clone(),
        description: details.description.clone(),
        kind: details.kind,
        total_steps: standing.total,
        progress_percent: standing.percent(),
        is_started: progress.is_some(),
        is_completed: progress.is_some_and(|p| p.completed_at.is_some()),
        estimated_duration_minutes: details.estimated_minutes,
        tags: details.tags.clone(),
    }
}

async fn choices(
    state: &AppState,
    call: &Call<'_>,
    offered: &[Walkthrough],
    progress: &[Progress],
) -> Result<Vec<Choice>, McpError> {
    let org = call.caller.server.organization_id;
    let mut list = Vec::with_capacity(offered.len());
    for walkthrough in offered {
        let steps =
            state.store.list_walkthrough_steps(org, walkthrough.id).await.map_err(internal)?;
        let mine = progress.iter().find(|p| p.walkthrough_id == walkthrough.id);
        list.push(choice(walkthrough, &steps, mine));
    }
    Ok(list)
}

/// The walkthrough `name` designates: its exact title, else the one title equal to it
/// ignoring case and surrounding spaces.
fn find_by_name<'a>(offered: &'a [Walkthrough], name: &str) -> Option<&'a Walkthrough> {
    offered.iter().find(|w| w.details.title == name).or_else(|| {
        let wanted = name.trim().to_lowercase();
        let mut matches = offered.iter().filter(|w| w.details.title.to_lowercase() == wanted);
        match (matches.next(), matches.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        }
    })
}

/// Runs `start_walkthrough` or `get_next_step`; arguments that do not fit are a `-32602`.
pub(super) async fn call(
    state: &AppState,
    call: &Call<'_>,
    name: &str,
    arguments: &serde_json::Value,
) -> Result<CallToolResult, McpError> {
    if name == START_WALKTHROUGH {
        start(state, call, StartArgs::deserialize(arguments).map_err(to_invalid_params)?).await
    } else {
        next(state, call, NextArgs::deserialize(arguments).map_err(to_invalid_params)?).await
    }
}

async fn start(
    state: &AppState,
    call: &Call<'_>,
    args: StartArgs,
) -> Result<CallToolResult, McpError> {
    let caller = call.caller;
    let offered = offered(state, caller).await?;
    let name = args.name.as_deref().map(str::trim).filter(|name| !name.is_empty());
    let chosen = match name {
        Some(name) => find_by_name(&offered, name),
        None if offered.len() == 1 => offered.first(),
        None => None,
    };
    let Some(walkthrough) = chosen else {
        // A list to choose from, or a name that matches nothing (a tool error the agent can
        // correct, with the list).
        let progress = match end_user(state, call, false).await? {
            Some(user) => state
                .store
                .list_end_user_progress(caller.server.organization_id, user)
                .await
                .map_err(internal)?,
            None => Vec::new(),
        };
        let list = choices(state, call, &offered, &progress).await?;
        return Ok(match name {
            Some(name) => CallToolResult::error(text(render::unknown_name(name, &list))),
            None => CallToolResult::success(text(render::choices(&list))),
        });
    };
    let Some(user) = end_user(state, call, true).await? else {
        return Err(internal("a walkthrough call without a session"));
    };
    let org = caller.server.organization_id;
    let steps = state.store.list_walkthrough_steps(org, walkthrough.id).await.map_err(internal)?;
    if steps.is_empty() {
        return Ok(CallToolResult::error(text(format!(
            "The walkthrough \"{}\" has no steps yet. Tell the user it is not ready.",
            walkthrough.details.title
        ))));
    }
    let all = state.store.list_end_user_progress(org, user).await.map_err(internal)?;
    let existing = all.into_iter().find(|p| p.walkthrough_id == walkthrough.id);
    let now = state.clock.now();
    let mut events = Vec::new();
    let mut progress = match existing {
        Some(progress) if !args.restart => progress,
        existing => {
            let kind = if existing.is_some() { EventKind::Restarted } else { EventKind::Started };
            events.push(kind);
            Progress {
                organization_id: org,
                end_user_id: user,
                walkthrough_id: walkthrough.id,
                completed_steps: HashSet::new(),
                current_step_id: None,
                last_server_id: caller.server.id,
                last_session_id: None,
                started_at: now,
                last_activity_at: now,
                completed_at: None,
            }
        }
    };
    advance(state, call, walkthrough, &steps, &mut progress, events, None).await
}

async fn next(
    state: &AppState,
    call: &Call<'_>,
    args: NextArgs,
) -> Result<CallToolResult, McpError> {
    let caller = call.caller;
    let org = caller.server.organization_id;
    let offered = offered(state, caller).await?;
    let nothing = || {
        Ok(CallToolResult::error(text(
            "No walkthrough is in progress. Call start_walkthrough first.".into(),
        )))
    };
    let Some(user) = end_user(state, call, false).await? else { return nothing() };
    // The active walkthrough: the one of this server worked on last.
    let all = state.store.list_end_user_progress(org, user).await.map_err(internal)?;
    let active = all.into_iter().find_map(|progress| {
        offered.iter().find(|w| w.id == progress.walkthrough_id).map(|w| (w, progress))
    });
    let Some((walkthrough, mut progress)) = active else { return nothing() };
    let steps = state.store.list_walkthrough_steps(org, walkthrough.id).await.map_err(internal)?;
    let mut events = Vec::new();
    let mut completed = None;
    if let Some(raw) = args.current_step_id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let step =
            raw.parse::<WalkthroughStepId>().ok().filter(|id| steps.iter().any(|s| s.id == *id));
        let Some(step) = step else {
            let current = Standing::of(&steps, &progress.completed_steps)
                .next
                .map(|(_, step)| step.id.to_string())
                .unwrap_or_default();
            return Ok(CallToolResult::error(text(format!(
                "\"{raw}\" is not a step of the walkthrough \"{}\"; nothing was marked \
                 complete. The current step is \"{current}\": pass the Current Step ID of the \
                 step the user finished.",
                walkthrough.details.title
            ))));
        };
        if progress.completed_steps.insert(step) {
            events.push(EventKind::StepCompleted);
            completed = Some(step);
        }
    }
    advance(state, call, walkthrough, &steps, &mut progress, events, completed).await
}

/// Brings `progress` up to date (current step, completion), stores it with the events that
/// happened, and renders what comes next.
async fn advance(
    state: &AppState,
    call: &Call<'_>,
    walkthrough: &Walkthrough,
    steps: &[WalkthroughStep],
    progress: &mut Progress,
    mut kinds: Vec<EventKind>,
    completed_step: Option<WalkthroughStepId>,
) -> Result<CallToolResult, McpError> {
    let now = state.clock.now();
    let standing = Standing::of(steps, &progress.completed_steps);
    progress.current_step_id = standing.next.map(|(_, step)| step.id);
    progress.last_activity_at = now;
    progress.last_server_id = call.caller.server.id;
    progress.last_session_id.clone_from(&call.session_id);
    if standing.is_finished() && progress.completed_at.is_none() {
        progress.completed_at = Some(now);
        kinds.push(EventKind::Completed);
    } else if !standing.is_finished() {
        // Finished before, but the author added a step since: there is more to do.
        progress.completed_at = None;
    }
    let events: Vec<ProgressEvent> = kinds
        .into_iter()
        .map(|kind| ProgressEvent {
            id: WalkthroughEventId::new(),
            organization_id: progress.organization_id,
            walkthrough_id: walkthrough.id,
            end_user_id: progress.end_user_id,
            mcp_server_id: call.caller.server.id,
            session_id: call.session_id.clone(),
            kind,
            step_id: (kind == EventKind::StepCompleted).then_some(completed_step).flatten(),
            at: now,
        })
        .collect();
    state.store.record_progress(progress, &events).await.map_err(internal)?;
    let rendered = match standing.next {
        Some((_, step)) => render::step(walkthrough, step, &standing),
        None => render::completion(walkthrough, &standing),
    };
    Ok(CallToolResult::success(text(rendered)))
}
