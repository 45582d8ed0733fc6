//! Walkthroughs in the dashboard: the list (create, import), the three-panel editor (steps
//! navigator, step editor, preview of exactly what the agent receives), publication, export,
//! deletion, assignment to servers (and their order on each server), and the analytics page.
//!
//! Every page works without JavaScript (reorder with ↑/↓, preview of the saved step);
//! `static/walkthroughs.js` adds drag-and-drop, the live preview and the charts.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use mcplatform_core::ValidationError;
use mcplatform_core::ids::McpServerId;
use mcplatform_core::mcp_server::McpServer;
use mcplatform_core::org::Role;
use mcplatform_core::walkthrough::analytics::ABANDON_AFTER;
use mcplatform_core::walkthrough::{
    ContentV1, StepContent, Walkthrough, WalkthroughDetails, WalkthroughKind, WalkthroughStatus,
    WalkthroughStep, parse_step_title,
};
use mcplatform_store::PageRequest;
use serde::Deserialize;
use serde_json::Map;
use time::Duration;

use super::{
    Layout, OffsetQuery, PageForm, PageResult, PageSession, format_time, page_links, render,
};
use crate::access::{Actor, OrgAccess};
use crate::auth::CurrentSession;
use crate::{ApiError, AppState, walkthroughs};

pub fn router() -> Router<AppState> {
    let base = "/orgs/{org_id}/walkthroughs";
    Router::new()
        .route(base, get(list_get).post(create_post))
        .route(&format!("{base}/import"), post(import_post))
        .route(&format!("{base}/{{id}}"), get(editor_get).post(details_post))
        .route(&format!("{base}/{{id}}/delete"), post(delete_post))
        .route(&format!("{base}/{{id}}/export"), get(export_get))
        .route(&format!("{base}/{{id}}/assign"), post(assign_post))
        .route(&format!("{base}/{{id}}/analytics"), get(analytics_get))
        .route(&format!("{base}/{{id}}/steps"), post(add_step_post))
        .route(&format!("{base}/{{id}}/steps/{{step}}"), post(save_step_post))
        .route(&format!("{base}/{{id}}/steps/{{step}}/delete"), post(delete_step_post))
        .route(&format!("{base}/{{id}}/steps/{{step}}/move"), post(move_step_post))
        .route(
            "/orgs/{org_id}/servers/{server_id}/walkthroughs",
            get(server_get).post(server_assign_post),
        )
        .route(
            "/orgs/{org_id}/servers/{server_id}/walkthroughs/{id}/{action}",
            post(server_change_post),
        )
}

const LIST_PAGE: u32 = 50;
const PROGRESS_PAGE: u32 = 50;

fn status_label(status: WalkthroughStatus) -> &'static str {
    match status {
        WalkthroughStatus::Draft => "Draft",
        WalkthroughStatus::Published => "Published",
        WalkthroughStatus::Archived => "Archived",
    }
}

struct KindOption {
    value: &'static str,
    label: &'static str,
}

fn kinds() -> Vec<KindOption> {
    WalkthroughKind::ALL
        .iter()
        .map(|k| KindOption { value: k.as_str(), label: k.label() })
        .collect()
}

struct Row {
    id: String,
    title: String,
    kind: &'static str,
    status: &'static str,
    steps: i64,
    servers: i64,
    updated: String,
}

#[derive(Template)]
#[template(path = "walkthroughs/list.html")]
struct ListView {
    layout: Layout,
    org_id: String,
    rows: Vec<Row>,
    kinds: Vec<KindOption>,
    previous_offset: Option<u32>,
    next_offset: Option<u32>,
    /// The create form as typed, and what is wrong with it.
    title: String,
    create_error: Option<String>,
    document: String,
    import_error: Option<String>,
}

async fn list_view(
    state: &AppState,
    current: &CurrentSession,
    access: &OrgAccess,
    offset: u32,
) -> Result<ListView, ApiError> {
    let page =
        state.store.list_walkthroughs(access.org.id, PageRequest::new(LIST_PAGE, offset)).await?;
    let (previous_offset, next_offset) = page_links(offset, LIST_PAGE, page.next_offset.is_some());
    Ok(ListView {
        layout: Layout::for_session("Walkthroughs", current).in_org(access),
        org_id: access.org.id.to_string(),
        rows: page
            .items
            .into_iter()
            .map(|s| Row {
                id: s.walkthrough.id.to_string(),
                title: s.walkthrough.details.title,
                kind: s.walkthrough.details.kind.label(),
                status: status_label(s.walkthrough.details.status),
                steps: s.steps,
                servers: s.servers,
                updated: format_time(s.walkthrough.updated_at),
            })
            .collect(),
        kinds: kinds(),
        previous_offset,
        next_offset,
        title: String::new(),
        create_error: None,
        document: String::new(),
        import_error: None,
    })
}

async fn list_get(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path(org_id): Path<String>,
    Query(query): Query<OffsetQuery>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let view = list_view(&state, &current, &access, query.offset).await?;
    Ok(render(StatusCode::OK, &view))
}

#[derive(Debug, Deserialize)]
struct CreateForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    kind: String,
}

fn editor_url(access: &OrgAccess, walkthrough: impl std::fmt::Display) -> String {
    format!("/orgs/{}/walkthroughs/{walkthrough}", access.org.id)
}

/// A validation failure as text for a form.
fn invalid(err: &ApiError) -> Option<String> {
    match err {
        ApiError::Validation(e) => Some(format!("{}: {}", e.field, e.message)),
        ApiError::InvalidField { field, message } if field.is_empty() => Some(message.clone()),
        ApiError::InvalidField { field, message } => Some(format!("{field}: {message}")),
        ApiError::InUse(message) => Some(message.clone()),
        _ => None,
    }
}

async fn create_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path(org_id): Path<String>,
    PageForm(form): PageForm<CreateForm>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let created = async {
        let kind: WalkthroughKind = form.kind.parse()?;
        let details =
            WalkthroughDetails::new(&form.title, "", kind, WalkthroughStatus::Draft, None, &[])?;
        walkthroughs::create(
            &state,
            &access,
            &Actor::from(&current),
            details,
            Map::new(),
            &[],
            false,
        )
        .await
    }
    .await;
    match created {
        Ok((walkthrough, _)) => {
            Ok(Redirect::to(&format!("{}?step=new", editor_url(&access, walkthrough.id)))
                .into_response())
        }
        Err(err) => match invalid(&err) {
            Some(message) => {
                let mut view = list_view(&state, &current, &access, 0).await?;
                view.title = form.title;
                view.create_error = Some(message);
                Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &view))
            }
            None => Err(err.into()),
        },
    }
}

#[derive(Debug, Deserialize)]
struct ImportForm {
    #[serde(default)]
    document: String,
}

async fn import_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path(org_id): Path<String>,
    PageForm(form): PageForm<ImportForm>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let actor = Actor::from(&current);
    match walkthroughs::import(&state, &access, &actor, form.document.as_bytes()).await {
        Ok((walkthrough, _)) => {
            Ok(Redirect::to(&editor_url(&access, walkthrough.id)).into_response())
        }
        Err(err) => match invalid(&err) {
            Some(message) => {
                let mut view = list_view(&state, &current, &access, 0).await?;
                view.document = form.document;
                view.import_error = Some(message);
                Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &view))
            }
            None => Err(err.into()),
        },
    }
}

struct StepLink {
    id: String,
    number: usize,
    title: String,
    selected: bool,
}

/// The step editor's fields, as saved or as typed.
#[derive(Debug, Default, Deserialize)]
struct StepForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    introduction_for_agent: String,
    #[serde(default)]
    context_for_agent: String,
    #[serde(default)]
    content_for_user: String,
    #[serde(default)]
    operations_for_agent: String,
}

impl StepForm {
    fn of(step: &WalkthroughStep) -> Self {
        let f = step.content.fields();
        Self {
            title: step.title.clone(),
            introduction_for_agent: f.introduction_for_agent.clone(),
            context_for_agent: f.context_for_agent.clone(),
            content_for_user: f.content_for_user.clone(),
            operations_for_agent: f.operations_for_agent.clone(),
        }
    }

    fn parse(&self) -> Result<(String, StepContent), ValidationError> {
        Ok((
            parse_step_title(&self.title)?,
            StepContent::v1(ContentV1 {
                introduction_for_agent: self.introduction_for_agent.clone(),
                context_for_agent: self.context_for_agent.clone(),
                content_for_user: self.content_for_user.clone(),
                operations_for_agent: self.operations_for_agent.clone(),
            })?,
        ))
    }
}

/// The walkthrough's own fields, as saved or as typed.
#[derive(Debug, Default, Deserialize)]
struct DetailsForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    minutes: String,
    #[serde(default)]
    tags: String,
}

impl DetailsForm {
    fn of(details: &WalkthroughDetails) -> Self {
        Self {
            title: details.title.clone(),
            description: details.description.clone(),
            kind: details.kind.as_str().to_owned(),
            status: details.status.as_str().to_owned(),
            minutes: details.estimated_minutes.map(|m| m.to_string()).unwrap_or_default(),
            tags: details.tags.join(", "),
        }
    }

    fn parse(&self) -> Result<WalkthroughDetails, ValidationError> {
        let minutes = match self.minutes.trim() {
            "" => None,
            text => Some(text.parse::<u32>().map_err(|_| {
                ValidationError::new(
                    "estimatedDurationMinutes",
                    "must be a whole number of minutes",
                )
            })?),
        };
        let tags: Vec<String> = self
            .tags
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect();
        WalkthroughDetails::new(
            &self.title,
            &self.description,
            self.kind.parse()?,
            self.status.parse()?,
            minutes,
            &tags,
        )
    }
}

struct ServerOption {
    id: String,
    name: String,
    assigned: bool,
}

#[derive(Template)]
#[template(path = "walkthroughs/editor.html")]
struct EditorView {
    layout: Layout,
    org_id: String,
    id: String,
    title: String,
    status: &'static str,
    is_admin: bool,
    kinds: Vec<KindOption>,
    details: DetailsForm,
    details_error: Option<String>,
    steps: Vec<StepLink>,
    /// The step being edited: its id, or none for a new one.
    step_id: Option<String>,
    step_number: usize,
    step: StepForm,
    step_error: Option<String>,
    preview: String,
    servers: Vec<ServerOption>,
    notice_error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct EditorQuery {
    /// A step id, or `new`.
    #[serde(default)]
    step: String,
}

async fn editor_view(
    state: &AppState,
    current: &CurrentSession,
    access: &OrgAccess,
    walkthrough: &Walkthrough,
    selected: &str,
) -> Result<EditorView, ApiError> {
    let steps = state.store.list_walkthrough_steps(access.org.id, walkthrough.id).await?;
    let chosen = if selected == "new" {
        None
    } else {
        steps.iter().position(|s| s.id.to_string() == selected).or(if steps.is_empty() {
            None
        } else {
            Some(0)
        })
    };
    let step_id = chosen.map(|i| steps[i].id.to_string());
    let step = chosen.map(|i| StepForm::of(&steps[i])).unwrap_or_default();
    let preview = match &step_id {
        Some(id) => walkthroughs::preview(walkthrough, steps.clone(), Some(id), None)?,
        None => "Write the step and save it to see what the agent receives.".to_owned(),
    };
    let assigned = state.store.list_walkthrough_assignments(access.org.id, walkthrough.id).await?;
    let servers = state
        .store
        .list_mcp_servers(access.org.id, PageRequest::new(PageRequest::MAX_LIMIT, 0))
        .await?;
    Ok(EditorView {
        layout: Layout::for_session(&walkthrough.details.title, current).in_org(access),
        org_id: access.org.id.to_string(),
        id: walkthrough.id.to_string(),
        title: walkthrough.details.title.clone(),
        status: status_label(walkthrough.details.status),
        is_admin: access.role.at_least(Role::Admin),
        kinds: kinds(),
        details: DetailsForm::of(&walkthrough.details),
        details_error: None,
        steps: steps
            .iter()
            .enumerate()
            .map(|(i, s)| StepLink {
                id: s.id.to_string(),
                number: i + 1,
                title: s.title.clone(),
                selected: chosen == Some(i),
            })
            .collect(),
        step_number: chosen.map_or(steps.len() + 1, |i| i + 1),
        step_id,
        step,
        step_error: None,
        preview,
        servers: servers
            .items
            .into_iter()
            .map(|s| ServerOption {
                assigned: assigned.iter().any(|a| a.mcp_server_id == s.id),
                id: s.id.to_string(),
                name: s.settings.name,
            })
            .collect(),
        notice_error: None,
    })
}

async fn load(
    state: &AppState,
    current: &CurrentSession,
    org_id: &str,
    id: &str,
) -> Result<(OrgAccess, Walkthrough), ApiError> {
    let access = OrgAccess::load(state, current.user.id, org_id).await?;
    let walkthrough = access.walkthrough(state, id).await?;
    Ok((access, walkthrough))
}

async fn editor_get(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, id)): Path<(String, String)>,
    Query(query): Query<EditorQuery>,
) -> PageResult {
    let (access, walkthrough) = load(&state, &current, &org_id, &id).await?;
    let view = editor_view(&state, &current, &access, &walkthrough, &query.step).await?;
    Ok(render(StatusCode::OK, &view))
}

async fn details_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, id)): Path<(String, String)>,
    PageForm(form): PageForm<DetailsForm>,
) -> PageResult {
    let (access, walkthrough) = load(&state, &current, &org_id, &id).await?;
    let saved = match form.parse() {
        Ok(details) => {
            walkthroughs::update(&state, &access, &Actor::from(&current), &walkthrough, &details)
                .await
                .map(drop)
        }
        Err(err) => Err(err.into()),
    };
    match saved {
        Ok(()) => Ok(Redirect::to(&editor_url(&access, walkthrough.id)).into_response()),
        Err(err) => match invalid(&err) {
            Some(message) => {
                let mut view = editor_view(&state, &current, &access, &walkthrough, "").await?;
                view.details = form;
                view.details_error = Some(message);
                Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &view))
            }
            None => Err(err.into()),
        },
    }
}

#[derive(Debug, Deserialize)]
struct ConfirmForm {
    #[serde(default)]
    confirm: String,
}

async fn delete_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, id)): Path<(String, String)>,
    PageForm(form): PageForm<ConfirmForm>,
) -> PageResult {
    let (access, walkthrough) = load(&state, &current, &org_id, &id).await?;
    access.require(Role::Admin)?;
    if form.confirm.trim() != walkthrough.details.title {
        let mut view = editor_view(&state, &current, &access, &walkthrough, "").await?;
        view.notice_error = Some("Type the walkthrough's title exactly to delete it.".into());
        return Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &view));
    }
    walkthroughs::delete(&state, &access, &Actor::from(&current), &walkthrough).await?;
    Ok(Redirect::to(&format!("/orgs/{}/walkthroughs", access.org.id)).into_response())
}

async fn export_get(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, id)): Path<(String, String)>,
) -> PageResult {
    let (access, walkthrough) = load(&state, &current, &org_id, &id).await?;
    let document = walkthroughs::export(&state, &access, &walkthrough).await?;
    Ok(walkthroughs::download(&walkthrough, &document))
}

#[derive(Debug, Deserialize)]
struct ServerForm {
    #[serde(default)]
    server_id: String,
}

async fn assign_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, id)): Path<(String, String)>,
    PageForm(form): PageForm<ServerForm>,
) -> PageResult {
    let (access, walkthrough) = load(&state, &current, &org_id, &id).await?;
    let server = access.server(&state, &form.server_id).await?;
    match walkthroughs::assign(&state, &access, &Actor::from(&current), &server, &walkthrough).await
    {
        Ok(()) | Err(ApiError::Conflict(_)) => {}
        Err(err) => return Err(err.into()),
    }
    Ok(Redirect::to(&server_page(&access, server.id)).into_response())
}

async fn add_step_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, id)): Path<(String, String)>,
    PageForm(form): PageForm<StepForm>,
) -> PageResult {
    let (access, walkthrough) = load(&state, &current, &org_id, &id).await?;
    let added = match form.parse() {
        Ok((title, content)) => {
            walkthroughs::add_step(&state, &access, &walkthrough, &title, &content).await
        }
        Err(err) => Err(err.into()),
    };
    step_saved(&state, &current, &access, &walkthrough, added, form, "new").await
}

/// Back to the saved step, or the editor again with what was typed and what is wrong.
async fn step_saved(
    state: &AppState,
    current: &CurrentSession,
    access: &OrgAccess,
    walkthrough: &Walkthrough,
    saved: Result<WalkthroughStep, ApiError>,
    form: StepForm,
    selected: &str,
) -> PageResult {
    match saved {
        Ok(step) => {
            Ok(Redirect::to(&format!("{}?step={}", editor_url(access, walkthrough.id), step.id))
                .into_response())
        }
        Err(err) => match invalid(&err) {
            Some(message) => {
                let mut view = editor_view(state, current, access, walkthrough, selected).await?;
                view.step = form;
                view.step_error = Some(message);
                Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &view))
            }
            None => Err(err.into()),
        },
    }
}

async fn save_step_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, id, step)): Path<(String, String, String)>,
    PageForm(form): PageForm<StepForm>,
) -> PageResult {
    let (access, walkthrough) = load(&state, &current, &org_id, &id).await?;
    let saved = match form.parse() {
        Ok((title, content)) => {
            walkthroughs::update_step(&state, &access, &walkthrough, &step, &title, &content).await
        }
        Err(err) => Err(err.into()),
    };
    step_saved(&state, &current, &access, &walkthrough, saved, form, &step).await
}

async fn delete_step_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, id, step)): Path<(String, String, String)>,
    PageForm(_): PageForm<serde::de::IgnoredAny>,
) -> PageResult {
    let (access, walkthrough) = load(&state, &current, &org_id, &id).await?;
    match walkthroughs::delete_step(&state, &access, &walkthrough, &step).await {
        Ok(()) => Ok(Redirect::to(&editor_url(&access, walkthrough.id)).into_response()),
        Err(ApiError::InUse(message)) => {
            let mut view = editor_view(&state, &current, &access, &walkthrough, &step).await?;
            view.step_error = Some(message);
            Ok(render(StatusCode::CONFLICT, &view))
        }
        Err(err) => Err(err.into()),
    }
}

#[derive(Debug, Deserialize)]
struct MoveForm {
    #[serde(default)]
    direction: String,
}

/// `ids` with the one at `index` moved one place up or down (unchanged at the ends).
fn moved(mut ids: Vec<String>, index: usize, direction: &str) -> Vec<String> {
    match direction {
        "up" if index > 0 => ids.swap(index, index - 1),
        "down" if index + 1 < ids.len() => ids.swap(index, index + 1),
        _ => {}
    }
    ids
}

async fn move_step_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, id, step)): Path<(String, String, String)>,
    PageForm(form): PageForm<MoveForm>,
) -> PageResult {
    let (access, walkthrough) = load(&state, &current, &org_id, &id).await?;
    let steps = state.store.list_walkthrough_steps(access.org.id, walkthrough.id).await?;
    let ids: Vec<String> = steps.iter().map(|s| s.id.to_string()).collect();
    let index = ids.iter().position(|s| *s == step).ok_or(ApiError::NotFound)?;
    let order = moved(ids, index, &form.direction);
    walkthroughs::reorder_steps(&state, &access, &walkthrough, &order).await?;
    Ok(Redirect::to(&format!("{}?step={step}", editor_url(&access, walkthrough.id)))
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
struct AnalyticsQuery {
    #[serde(default)]
    server_id: String,
    #[serde(default)]
    days: Option<i64>,
    #[serde(default)]
    offset: u32,
}

struct FunnelRow {
    number: usize,
    title: String,
    reached: u64,
    completed: u64,
    dropped_off: u64,
    /// Of those who started, in percent.
    share: u64,
}

struct ProgressRow {
    person: String,
    progress: String,
    state: &'static str,
    last_activity: String,
    /// The timeline of their last session.
    session_url: Option<String>,
}

#[derive(Template)]
#[template(path = "walkthroughs/analytics.html")]
struct AnalyticsView {
    layout: Layout,
    org_id: String,
    id: String,
    title: String,
    servers: Vec<ServerOption>,
    server_id: String,
    days: i64,
    starts: u64,
    restarts: u64,
    users: u64,
    completions: u64,
    completion_rate: String,
    median: String,
    truncated: bool,
    funnel: Vec<FunnelRow>,
    /// The report as JSON for the charts (read by `walkthroughs.js`, never executed).
    report_json: String,
    people: Vec<ProgressRow>,
    previous_offset: Option<u32>,
    next_offset: Option<u32>,
}

fn duration_text(seconds: i64) -> String {
    match seconds {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

async fn analytics_get(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, id)): Path<(String, String)>,
    Query(query): Query<AnalyticsQuery>,
) -> PageResult {
    let (access, walkthrough) = load(&state, &current, &org_id, &id).await?;
    let server: Option<McpServerId> = match query.server_id.as_str() {
        "" => None,
        id => Some(access.server(&state, id).await?.id),
    };
    let days = query.days.unwrap_or(30).clamp(1, 365);
    let to = state.clock.now();
    let data =
        walkthroughs::report(&state, &access, &walkthrough, server, to - Duration::days(days), to)
            .await?;
    let r = &data.report;
    let funnel = r
        .funnel
        .iter()
        .enumerate()
        .map(|(i, f)| FunnelRow {
            number: i + 1,
            title: f.title.clone(),
            reached: f.reached,
            completed: f.completed,
            dropped_off: f.dropped_off,
            share: (f.reached * 100).checked_div(r.users).unwrap_or(0),
        })
        .collect();
    let page = PageRequest::new(PROGRESS_PAGE, query.offset);
    let progress = walkthroughs::followers(&state, &access, walkthrough.id, page).await?;
    let (previous_offset, next_offset) =
        page_links(query.offset, PROGRESS_PAGE, progress.next_offset.is_some());
    let now = state.clock.now();
    let people = progress
        .items
        .into_iter()
        .map(|f| ProgressRow {
            person: f.person.and_then(|u| u.email.or(u.name)).unwrap_or_else(|| "anonymous".into()),
            progress: format!("{} of {} steps ({}%)", f.completed_steps, f.total_steps, f.percent),
            state: if f.progress.completed_at.is_some() {
                "completed"
            } else if now - f.progress.last_activity_at > ABANDON_AFTER {
                "dropped off"
            } else {
                "in progress"
            },
            last_activity: format_time(f.progress.last_activity_at),
            session_url: f.progress.last_session_id.map(|session| {
                format!(
                    "/orgs/{}/servers/{}/sessions/{}",
                    access.org.id,
                    f.progress.last_server_id,
                    url::form_urlencoded::byte_serialize(session.as_bytes()).collect::<String>()
                )
            }),
        })
        .collect();
    let servers = state
        .store
        .list_mcp_servers(access.org.id, PageRequest::new(PageRequest::MAX_LIMIT, 0))
        .await?;
    let view = AnalyticsView {
        layout: Layout::for_session(&format!("Analytics: {}", walkthrough.details.title), &current)
            .in_org(&access),
        org_id: access.org.id.to_string(),
        id: walkthrough.id.to_string(),
        title: walkthrough.details.title.clone(),
        servers: servers
            .items
            .into_iter()
            .map(|s| ServerOption {
                assigned: server == Some(s.id),
                id: s.id.to_string(),
                name: s.settings.name,
            })
            .collect(),
        server_id: query.server_id.clone(),
        days,
        starts: r.starts,
        restarts: r.restarts,
        users: r.users,
        completions: r.completions,
        completion_rate: r
            .completion_rate
            .map_or_else(|| "—".to_owned(), |rate| format!("{:.0}%", rate * 100.0)),
        median: r.median_seconds_to_complete.map_or_else(|| "—".to_owned(), duration_text),
        truncated: data.truncated,
        funnel,
        report_json: super::script_json(&serde_json::json!({
            "funnel": r.funnel, "flow": r.flow, "completions_by_day": r.completions_by_day,
        })),
        people,
        previous_offset,
        next_offset,
    };
    Ok(render(StatusCode::OK, &view))
}

struct AssignedRow {
    id: String,
    title: String,
    status: &'static str,
    published: bool,
    enabled: bool,
    first: bool,
    last: bool,
}

#[derive(Template)]
#[template(path = "walkthroughs/server.html")]
struct ServerView {
    layout: Layout,
    org_id: String,
    server_id: String,
    server_name: String,
    tools_enabled: bool,
    rows: Vec<AssignedRow>,
    available: Vec<ServerOption>,
}

fn server_page(access: &OrgAccess, server: McpServerId) -> String {
    format!("/orgs/{}/servers/{server}/walkthroughs", access.org.id)
}

async fn server_get(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, server_id)): Path<(String, String)>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    Ok(render(StatusCode::OK, &server_view(&state, &current, &access, &server).await?))
}

async fn server_view(
    state: &AppState,
    current: &CurrentSession,
    access: &OrgAccess,
    server: &McpServer,
) -> Result<ServerView, ApiError> {
    let assigned = state.store.list_server_walkthroughs(access.org.id, server.id).await?;
    let all = state
        .store
        .list_walkthroughs(access.org.id, PageRequest::new(PageRequest::MAX_LIMIT, 0))
        .await?;
    let count = assigned.len();
    Ok(ServerView {
        layout: Layout::for_session(&format!("Walkthroughs of {}", server.settings.name), current)
            .in_org(access),
        org_id: access.org.id.to_string(),
        server_id: server.id.to_string(),
        server_name: server.settings.name.clone(),
        tools_enabled: server.settings.walkthrough_tool_enabled,
        rows: assigned
            .iter()
            .enumerate()
            .map(|(i, (a, w))| AssignedRow {
                id: w.id.to_string(),
                title: w.details.title.clone(),
                status: status_label(w.details.status),
                published: w.details.status == WalkthroughStatus::Published,
                enabled: a.enabled,
                first: i == 0,
                last: i + 1 == count,
            })
            .collect(),
        available: all
            .items
            .into_iter()
            .filter(|s| !assigned.iter().any(|(_, w)| w.id == s.walkthrough.id))
            .map(|s| ServerOption {
                id: s.walkthrough.id.to_string(),
                name: s.walkthrough.details.title,
                assigned: false,
            })
            .collect(),
    })
}

#[derive(Debug, Deserialize)]
struct WalkthroughForm {
    #[serde(default)]
    walkthrough_id: String,
}

async fn server_assign_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, server_id)): Path<(String, String)>,
    PageForm(form): PageForm<WalkthroughForm>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    let walkthrough = access.walkthrough(&state, &form.walkthrough_id).await?;
    match walkthroughs::assign(&state, &access, &Actor::from(&current), &server, &walkthrough).await
    {
        Ok(()) | Err(ApiError::Conflict(_)) => {}
        Err(err) => return Err(err.into()),
    }
    Ok(Redirect::to(&server_page(&access, server.id)).into_response())
}

/// `enable`, `disable`, `up`, `down` or `remove` one of the server's walkthroughs.
async fn server_change_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, server_id, id, action)): Path<(String, String, String, String)>,
    PageForm(_): PageForm<serde::de::IgnoredAny>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    let walkthrough = access.walkthrough(&state, &id).await?;
    match action.as_str() {
        "enable" | "disable" => {
            walkthroughs::set_enabled(&state, &access, &server, walkthrough.id, action == "enable")
                .await?;
        }
        "up" | "down" => {
            let ids: Vec<String> = state
                .store
                .list_server_walkthroughs(access.org.id, server.id)
                .await?
                .iter()
                .map(|(a, _)| a.walkthrough_id.to_string())
                .collect();
            let index = ids.iter().position(|w| *w == id).ok_or(ApiError::NotFound)?;
            let order = moved(ids, index, &action);
            walkthroughs::reorder_assignments(&state, &access, &server, &order).await?;
        }
        "remove" => {
            walkthroughs::unassign(&state, &access, &Actor::from(&current), &server, &walkthrough)
                .await?;
        }
        _ => return Err(ApiError::NotFound.into()),
    }
    Ok(Redirect::to(&server_page(&access, server.id)).into_response())
}

/// The script of these pages.
pub fn assets_router() -> Router<AppState> {
    Router::new().route(
        "/static/walkthroughs.js",
        get(|| async { super::script(include_str!("../../static/walkthroughs.js")) }),
    )
}
