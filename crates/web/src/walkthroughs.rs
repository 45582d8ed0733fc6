//! Walkthrough authoring as the pages and the API share it: who may do what, the rules that
//! span several rows (a published walkthrough has steps), the audit trail, and telling the
//! hosted servers when what they offer changed.
//!
//! Any member writes, publishes and assigns walkthroughs; deleting one is for admins.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use mcplatform_core::ValidationError;
use mcplatform_core::audit::action;
use mcplatform_core::end_user::EndUser;
use mcplatform_core::ids::{McpServerId, WalkthroughId, WalkthroughStepId};
use mcplatform_core::mcp_server::McpServer;
use mcplatform_core::org::Role;
use mcplatform_core::walkthrough::analytics::{self, Report};
use mcplatform_core::walkthrough::exchange::{self, Document};
use mcplatform_core::walkthrough::{Progress, Standing, render};
use mcplatform_core::walkthrough::{
    StepContent, Walkthrough, WalkthroughDetails, WalkthroughStatus, WalkthroughStep, check_reorder,
};
use mcplatform_store::{Page, PageRequest};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::access::{Actor, OrgAccess, path_id};
use crate::{ApiError, AppState, audit};

/// Servers offering `walkthrough` read their list again.
async fn forget_offers(
    state: &AppState,
    access: &OrgAccess,
    walkthrough: WalkthroughId,
) -> Result<(), ApiError> {
    for assignment in state.store.list_walkthrough_assignments(access.org.id, walkthrough).await? {
        state.hosting.forget_offered(assignment.mcp_server_id);
    }
    Ok(())
}

fn needs_steps() -> ApiError {
    ApiError::Validation(ValidationError::new(
        "status",
        "a walkthrough needs at least one step to be published",
    ))
}

async fn record(
    state: &AppState,
    access: &OrgAccess,
    actor: &Actor,
    what: &'static str,
    walkthrough: &Walkthrough,
    detail: Value,
) {
    let target = format!("walkthrough \"{}\"", walkthrough.details.title);
    audit::record(state, Some(access.org.id), actor, what, target, detail).await;
}

/// A new walkthrough with its steps in order (none, when written in the editor).
pub async fn create(
    state: &AppState,
    access: &OrgAccess,
    actor: &Actor,
    details: WalkthroughDetails,
    metadata: Map<String, Value>,
    steps: &[(String, StepContent)],
    imported: bool,
) -> Result<(Walkthrough, Vec<WalkthroughStep>), ApiError> {
    access.require(Role::Member)?;
    if details.status == WalkthroughStatus::Published && steps.is_empty() {
        return Err(needs_steps());
    }
    let now = state.clock.now();
    let walkthrough = Walkthrough {
        id: WalkthroughId::new(),
        organization_id: access.org.id,
        details,
        metadata,
        created_at: now,
        updated_at: now,
    };
    let steps = state.store.create_walkthrough(&walkthrough, steps).await?;
    let what = if imported { action::WALKTHROUGH_IMPORTED } else { action::WALKTHROUGH_CREATED };
    record(state, access, actor, what, &walkthrough, json!({ "steps": steps.len() })).await;
    Ok((walkthrough, steps))
}

/// Reads a file in the original product's format and creates what it describes, all or
/// nothing; an error names the offending field.
pub async fn import(
    state: &AppState,
    access: &OrgAccess,
    actor: &Actor,
    file: &[u8],
) -> Result<(Walkthrough, Vec<WalkthroughStep>), ApiError> {
    access.require(Role::Member)?;
    let imported = exchange::import(file)?;
    create(state, access, actor, imported.details, imported.metadata, &imported.steps, true).await
}

pub async fn export(
    state: &AppState,
    access: &OrgAccess,
    walkthrough: &Walkthrough,
) -> Result<Document, ApiError> {
    let steps = state.store.list_walkthrough_steps(access.org.id, walkthrough.id).await?;
    Ok(exchange::export(walkthrough, &steps, state.clock.now()))
}

pub async fn update(
    state: &AppState,
    access: &OrgAccess,
    actor: &Actor,
    walkthrough: &Walkthrough,
    details: &WalkthroughDetails,
) -> Result<Walkthrough, ApiError> {
    access.require(Role::Member)?;
    if details.status == WalkthroughStatus::Published
        && state.store.list_walkthrough_steps(access.org.id, walkthrough.id).await?.is_empty()
    {
        return Err(needs_steps());
    }
    let updated = state
        .store
        .update_walkthrough(access.org.id, walkthrough.id, details, state.clock.now())
        .await?;
    // Servers offering it show its title, description and status: they read it again.
    forget_offers(state, access, walkthrough.id).await?;
    let changed = audit::changed_fields!(walkthrough.details, details;
        title, description, kind, status, estimated_minutes, tags);
    if !changed.is_empty() {
        record(
            state,
            access,
            actor,
            action::WALKTHROUGH_UPDATED,
            &updated,
            json!({ "changed": changed, "status": details.status.as_str() }),
        )
        .await;
    }
    Ok(updated)
}

/// Deletes it with its steps, assignments and everyone's progress; admins only.
pub async fn delete(
    state: &AppState,
    access: &OrgAccess,
    actor: &Actor,
    walkthrough: &Walkthrough,
) -> Result<(), ApiError> {
    access.require(Role::Admin)?;
    let assignments =
        state.store.list_walkthrough_assignments(access.org.id, walkthrough.id).await?;
    state.store.delete_walkthrough(access.org.id, walkthrough.id).await?;
    for assignment in assignments {
        state.hosting.forget_offered(assignment.mcp_server_id);
    }
    record(state, access, actor, action::WALKTHROUGH_DELETED, walkthrough, json!({})).await;
    Ok(())
}

pub async fn add_step(
    state: &AppState,
    access: &OrgAccess,
    walkthrough: &Walkthrough,
    title: &str,
    content: &StepContent,
) -> Result<WalkthroughStep, ApiError> {
    access.require(Role::Member)?;
    let now = state.clock.now();
    match state.store.add_walkthrough_step(access.org.id, walkthrough.id, title, content, now).await
    {
        Err(mcplatform_store::StoreError::Conflict("steps")) => {
            Err(ApiError::Validation(ValidationError::new(
                "steps",
                format!("a walkthrough has at most {} steps", WalkthroughStep::MAX_STEPS),
            )))
        }
        other => Ok(other?),
    }
}

pub async fn update_step(
    state: &AppState,
    access: &OrgAccess,
    walkthrough: &Walkthrough,
    step: &str,
    title: &str,
    content: &StepContent,
) -> Result<WalkthroughStep, ApiError> {
    access.require(Role::Member)?;
    let step: WalkthroughStepId = path_id(step)?;
    let now = state.clock.now();
    Ok(state
        .store
        .update_walkthrough_step(access.org.id, walkthrough.id, step, title, content, now)
        .await?)
}

/// Deletes a step. People who did it keep the rest of their progress; the last step of a
/// published walkthrough stays (unpublish it first).
pub async fn delete_step(
    state: &AppState,
    access: &OrgAccess,
    walkthrough: &Walkthrough,
    step: &str,
) -> Result<(), ApiError> {
    access.require(Role::Member)?;
    let step: WalkthroughStepId = path_id(step)?;
    let steps = state.store.list_walkthrough_steps(access.org.id, walkthrough.id).await?;
    if !steps.iter().any(|s| s.id == step) {
        return Err(ApiError::NotFound);
    }
    if walkthrough.details.status == WalkthroughStatus::Published && steps.len() == 1 {
        return Err(ApiError::InUse(
            "this is the only step of a published walkthrough: unpublish it first".into(),
        ));
    }
    let now = state.clock.now();
    Ok(state.store.delete_walkthrough_step(access.org.id, walkthrough.id, step, now).await?)
}

/// Puts the steps in the order given, which must name each of them exactly once.
pub async fn reorder_steps(
    state: &AppState,
    access: &OrgAccess,
    walkthrough: &Walkthrough,
    order: &[String],
) -> Result<Vec<WalkthroughStep>, ApiError> {
    access.require(Role::Member)?;
    let order = parse_ids::<WalkthroughStepId>(order, "step_ids")?;
    let steps = state.store.list_walkthrough_steps(access.org.id, walkthrough.id).await?;
    let current: Vec<WalkthroughStepId> = steps.iter().map(|s| s.id).collect();
    check_reorder(&current, &order, "step_ids")?;
    let now = state.clock.now();
    match state.store.reorder_walkthrough_steps(access.org.id, walkthrough.id, &order, now).await {
        // The steps changed between the check and the write.
        Err(mcplatform_store::StoreError::Conflict(_)) => {
            return Err(ApiError::InUse(
                "the steps changed meanwhile; reload and try again".into(),
            ));
        }
        other => other?,
    }
    Ok(state.store.list_walkthrough_steps(access.org.id, walkthrough.id).await?)
}

fn parse_ids<T: std::str::FromStr>(
    ids: &[String],
    field: &'static str,
) -> Result<Vec<T>, ApiError> {
    ids.iter()
        .map(|id| {
            id.parse().map_err(|_| {
                ApiError::Validation(ValidationError::new(field, format!("{id:?} is not an id")))
            })
        })
        .collect()
}

pub async fn assign(
    state: &AppState,
    access: &OrgAccess,
    actor: &Actor,
    server: &McpServer,
    walkthrough: &Walkthrough,
) -> Result<(), ApiError> {
    access.require(Role::Member)?;
    state
        .store
        .assign_walkthrough(access.org.id, server.id, walkthrough.id, state.clock.now())
        .await?;
    state.hosting.forget_offered(server.id);
    let detail = json!({ "server": server.slug.as_str() });
    record(state, access, actor, action::WALKTHROUGH_ASSIGNED, walkthrough, detail).await;
    Ok(())
}

pub async fn set_enabled(
    state: &AppState,
    access: &OrgAccess,
    server: &McpServer,
    walkthrough: WalkthroughId,
    enabled: bool,
) -> Result<(), ApiError> {
    access.require(Role::Member)?;
    state.store.set_assignment_enabled(access.org.id, server.id, walkthrough, enabled).await?;
    state.hosting.forget_offered(server.id);
    Ok(())
}

pub async fn unassign(
    state: &AppState,
    access: &OrgAccess,
    actor: &Actor,
    server: &McpServer,
    walkthrough: &Walkthrough,
) -> Result<(), ApiError> {
    access.require(Role::Member)?;
    state.store.unassign_walkthrough(access.org.id, server.id, walkthrough.id).await?;
    state.hosting.forget_offered(server.id);
    let detail = json!({ "server": server.slug.as_str() });
    record(state, access, actor, action::WALKTHROUGH_UNASSIGNED, walkthrough, detail).await;
    Ok(())
}

/// Puts the server's walkthroughs in the order given (each exactly once).
pub async fn reorder_assignments(
    state: &AppState,
    access: &OrgAccess,
    server: &McpServer,
    order: &[String],
) -> Result<(), ApiError> {
    access.require(Role::Member)?;
    let order = parse_ids::<WalkthroughId>(order, "walkthrough_ids")?;
    let current: Vec<WalkthroughId> = state
        .store
        .list_server_walkthroughs(access.org.id, server.id)
        .await?
        .iter()
        .map(|(a, _)| a.walkthrough_id)
        .collect();
    check_reorder(&current, &order, "walkthrough_ids")?;
    match state.store.reorder_server_walkthroughs(access.org.id, server.id, &order).await {
        Err(mcplatform_store::StoreError::Conflict(_)) => {
            return Err(ApiError::InUse(
                "the server's walkthroughs changed meanwhile; reload and try again".into(),
            ));
        }
        other => other?,
    }
    state.hosting.forget_offered(server.id);
    Ok(())
}

/// The rendered step `step_id` (or a new last step), with `draft` in place of what is saved:
/// what someone who did every step before it receives.
pub fn preview(
    walkthrough: &Walkthrough,
    mut steps: Vec<WalkthroughStep>,
    step_id: Option<&str>,
    draft: Option<(String, StepContent)>,
) -> Result<String, ApiError> {
    let index = match step_id.filter(|id| !id.is_empty()) {
        Some(id) => steps.iter().position(|s| s.id.to_string() == id).ok_or(ApiError::NotFound)?,
        None => {
            let Some((title, content)) = draft.clone() else {
                return Err(ApiError::BadRequest(
                    "give step_id, or title and content_fields".into(),
                ));
            };
            let at = walkthrough.created_at;
            steps.push(WalkthroughStep {
                id: WalkthroughStepId::new(),
                walkthrough_id: walkthrough.id,
                title,
                content,
                display_order: i64::try_from(steps.len()).unwrap_or(i64::MAX),
                created_at: at,
                updated_at: at,
            });
            steps.len() - 1
        }
    };
    if let Some((title, content)) = draft {
        steps[index].title = title;
        steps[index].content = content;
    }
    let done = steps[..index].iter().map(|s| s.id).collect();
    let standing = Standing::of(&steps, &done);
    Ok(render::step(walkthrough, &steps[index], &standing))
}

/// The most events one report reads.
pub const MAX_REPORT_EVENTS: u32 = 200_000;

/// A walkthrough's analytics over `[from, to]`.
#[derive(Debug)]
pub struct RangeReport {
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
    /// The range held more than [`MAX_REPORT_EVENTS`]; the report covers its beginning.
    pub truncated: bool,
    pub report: Report,
}

pub async fn report(
    state: &AppState,
    access: &OrgAccess,
    walkthrough: &Walkthrough,
    server: Option<McpServerId>,
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> Result<RangeReport, ApiError> {
    let org = access.org.id;
    let steps = state.store.list_walkthrough_steps(org, walkthrough.id).await?;
    let events = state
        .store
        .list_walkthrough_events(org, walkthrough.id, server, from, to, MAX_REPORT_EVENTS)
        .await?;
    let truncated = events.len() >= MAX_REPORT_EVENTS as usize;
    let report = analytics::report(&events, &steps, state.clock.now());
    Ok(RangeReport { from, to, truncated, report })
}

/// Someone following a walkthrough, with how far they are in it as it is now.
#[derive(Debug)]
pub struct Follower {
    pub progress: Progress,
    /// None when the person is gone.
    pub person: Option<EndUser>,
    /// Steps of this attempt done that still exist, of how many.
    pub completed_steps: usize,
    pub total_steps: usize,
    pub percent: u32,
}

/// The people following a walkthrough, latest activity first.
pub async fn followers(
    state: &AppState,
    access: &OrgAccess,
    walkthrough: WalkthroughId,
    page: PageRequest,
) -> Result<Page<Follower>, ApiError> {
    let org = access.org.id;
    let steps = state.store.list_walkthrough_steps(org, walkthrough).await?;
    let rows = state.store.list_walkthrough_progress(org, walkthrough, page).await?;
    let ids: Vec<_> = rows.items.iter().map(|p| p.end_user_id).collect();
    let people = state.store.get_end_users(org, &ids).await?;
    let items = rows
        .items
        .into_iter()
        .map(|progress| {
            let standing = Standing::of(&steps, &progress.completed_steps);
            Follower {
                person: people.iter().find(|u| u.id == progress.end_user_id).cloned(),
                completed_steps: standing.completed,
                total_steps: standing.total,
                percent: standing.percent(),
                progress,
            }
        })
        .collect();
    Ok(Page { items, next_offset: rows.next_offset })
}

/// A walkthrough file as a download named after its title.
pub fn download(walkthrough: &Walkthrough, document: &Document) -> Response {
    let stem = walkthrough
        .details
        .title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(str::to_ascii_lowercase)
        .collect::<Vec<_>>()
        .join("-");
    let stem = if stem.is_empty() { "walkthrough".to_owned() } else { stem };
    let body = serde_json::to_string_pretty(document).unwrap_or_default();
    let disposition = format!("attachment; filename=\"{stem}-walkthrough.json\"");
    (
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response()
}
