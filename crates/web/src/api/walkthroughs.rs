//! Walkthroughs through the API: authoring (walkthroughs, steps, order), import and export in
//! the original product's file format, assignment to servers, a preview of what the agent
//! receives, and analytics. Members do all of it; deleting a walkthrough is for admins.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use mcplatform_core::ValidationError;
use mcplatform_core::walkthrough::analytics::Report;
use mcplatform_core::walkthrough::{
    Assignment, ContentV1, StepContent, Walkthrough, WalkthroughDetails, WalkthroughKind,
    WalkthroughStatus, WalkthroughStep, parse_step_title,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiCaller, Items, PageQuery, Paged, says};
use crate::error::{ErrorBody, Result};
use crate::extract::{AppJson, AppPath, AppQuery};
use crate::{ApiError, AppState, walkthroughs};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list, create))
        .routes(routes!(import))
        .routes(routes!(read, update, delete))
        .routes(routes!(export))
        .routes(routes!(add_step))
        .routes(routes!(update_step, delete_step))
        .routes(routes!(reorder_steps))
        .routes(routes!(preview))
        .routes(routes!(analytics_report))
        .routes(routes!(list_progress))
        .routes(routes!(list_assignments, assign))
        .routes(routes!(update_assignment, unassign))
        .routes(routes!(reorder_assignments))
}

const NO_WALKTHROUGH: &str = "No such organization or walkthrough, or the caller is not in the \
    organization (`not_found`)";
const NO_SERVER: &str = "No such organization, server or walkthrough, or the caller is not in \
    the organization (`not_found`)";

/// A walkthrough: a step-by-step course an agent delivers through `start_walkthrough` and
/// `get_next_step`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Walkthrough)]
pub struct WalkthroughResponse {
    #[schema(format = Uuid)]
    id: String,
    title: String,
    description: String,
    #[serde(rename = "type")]
    kind: WalkthroughKind,
    /// Only a published walkthrough reaches end users.
    status: WalkthroughStatus,
    estimated_duration_minutes: Option<u32>,
    tags: Vec<String>,
    /// Kept from an imported file, and exported again.
    metadata: Map<String, Value>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

impl From<Walkthrough> for WalkthroughResponse {
    fn from(w: Walkthrough) -> Self {
        let d = w.details;
        Self {
            id: w.id.to_string(),
            title: d.title,
            description: d.description,
            kind: d.kind,
            status: d.status,
            estimated_duration_minutes: d.estimated_minutes,
            tags: d.tags,
            metadata: w.metadata,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WalkthroughSummary)]
pub struct SummaryResponse {
    #[serde(flatten)]
    walkthrough: WalkthroughResponse,
    steps: i64,
    /// Servers it is assigned to.
    servers: i64,
}

/// A step's content, version `v1`: the original product's four fields.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContentFields {
    /// `v1`, the only version so far.
    #[schema(example = "v1")]
    version: String,
    /// For the agent: what the step is for and when it is done.
    #[serde(default)]
    introduction_for_agent: String,
    /// For the agent: background to answer questions with.
    #[serde(default)]
    context_for_agent: String,
    /// For the user: shown verbatim. Required.
    content_for_user: String,
    /// For the agent: what to do (edit files, run commands, call tools).
    #[serde(default)]
    operations_for_agent: String,
}

impl ContentFields {
    fn parse(self) -> Result<StepContent, ValidationError> {
        if self.version != "v1" {
            return Err(ValidationError::new("content_fields.version", "must be \"v1\""));
        }
        StepContent::v1(ContentV1 {
            introduction_for_agent: self.introduction_for_agent,
            context_for_agent: self.context_for_agent,
            content_for_user: self.content_for_user,
            operations_for_agent: self.operations_for_agent,
        })
    }
}

impl From<&StepContent> for ContentFields {
    fn from(content: &StepContent) -> Self {
        let f = content.fields();
        Self {
            version: "v1".into(),
            introduction_for_agent: f.introduction_for_agent.clone(),
            context_for_agent: f.context_for_agent.clone(),
            content_for_user: f.content_for_user.clone(),
            operations_for_agent: f.operations_for_agent.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WalkthroughStep)]
pub struct StepResponse {
    #[schema(format = Uuid)]
    id: String,
    title: String,
    /// Position from 0.
    display_order: i64,
    content_fields: ContentFields,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

impl From<&WalkthroughStep> for StepResponse {
    fn from(step: &WalkthroughStep) -> Self {
        Self {
            id: step.id.to_string(),
            title: step.title.clone(),
            display_order: step.display_order,
            content_fields: ContentFields::from(&step.content),
            created_at: step.created_at,
            updated_at: step.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WalkthroughAssignment)]
pub struct AssignmentResponse {
    #[schema(format = Uuid)]
    server_id: String,
    #[schema(format = Uuid)]
    walkthrough_id: String,
    /// Position in the server's list, from 0.
    display_order: i64,
    /// Whether the server offers it (when published).
    enabled: bool,
}

impl From<&Assignment> for AssignmentResponse {
    fn from(a: &Assignment) -> Self {
        Self {
            server_id: a.mcp_server_id.to_string(),
            walkthrough_id: a.walkthrough_id.to_string(),
            display_order: a.display_order,
            enabled: a.enabled,
        }
    }
}

/// A walkthrough with its steps in order and the servers it is assigned to.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WalkthroughWithSteps)]
pub struct FullResponse {
    #[serde(flatten)]
    walkthrough: WalkthroughResponse,
    steps: Vec<StepResponse>,
    assignments: Vec<AssignmentResponse>,
}

async fn full(
    state: &AppState,
    org: mcplatform_core::ids::OrgId,
    walkthrough: Walkthrough,
    steps: &[WalkthroughStep],
) -> Result<FullResponse> {
    let assignments = state.store.list_walkthrough_assignments(org, walkthrough.id).await?;
    Ok(FullResponse {
        walkthrough: walkthrough.into(),
        steps: steps.iter().map(StepResponse::from).collect(),
        assignments: assignments.iter().map(AssignmentResponse::from).collect(),
    })
}

/// A walkthrough's description, as written.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DetailsRequest {
    title: String,
    #[serde(default)]
    description: String,
    #[serde(rename = "type")]
    kind: WalkthroughKind,
    /// `draft` when not given. Publishing needs at least one step.
    #[serde(default)]
    status: Option<WalkthroughStatus>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1440)]
    estimated_duration_minutes: Option<u32>,
    #[serde(default)]
    tags: Vec<String>,
}

/// Changes to a walkthrough; absent fields keep their value.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DetailsPatch {
    title: Option<String>,
    description: Option<String>,
    #[serde(rename = "type")]
    kind: Option<WalkthroughKind>,
    status: Option<WalkthroughStatus>,
    /// Null clears it.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<u32>)]
    estimated_duration_minutes: Option<Option<u32>>,
    tags: Option<Vec<String>>,
}

impl DetailsPatch {
    fn apply(self, current: &WalkthroughDetails) -> Result<WalkthroughDetails, ValidationError> {
        WalkthroughDetails::new(
            self.title.as_deref().unwrap_or(&current.title),
            self.description.as_deref().unwrap_or(&current.description),
            self.kind.unwrap_or(current.kind),
            self.status.unwrap_or(current.status),
            self.estimated_duration_minutes.unwrap_or(current.estimated_minutes),
            self.tags.as_deref().unwrap_or(&current.tags),
        )
    }
}

/// The organization's walkthroughs, most recently changed first.
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/walkthroughs",
    operation_id = "list_walkthroughs",
    tag = "walkthroughs",
    params(("org_id" = Uuid, Path, description = says::ORG_ID), PageQuery),
    security(("session" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "A page of walkthroughs", body = Paged<SummaryResponse>),
        (status = BAD_REQUEST, description = says::BAD_PAGE, body = ErrorBody),
        (status = NOT_FOUND, description = says::NO_ORG, body = ErrorBody),
    ),
)]
async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath(org_id): AppPath<String>,
    AppQuery(page): AppQuery<PageQuery>,
) -> Result<AppJson<Paged<SummaryResponse>>> {
    let access = caller.org_access(&state, &org_id).await?;
    let page = state.store.list_walkthroughs(access.org.id, page.request()).await?;
    Ok(AppJson(Paged::new(page, |s| SummaryResponse {
        walkthrough: s.walkthrough.into(),
        steps: s.steps,
        servers: s.servers,
    })))
}

/// Creates a walkthrough without steps (a draft until it has some).
#[utoipa::path(
    post,
    path = "/orgs/{org_id}/walkthroughs",
    operation_id = "create_walkthrough",
    tag = "walkthroughs",
    params(("org_id" = Uuid, Path, description = says::ORG_ID)),
    request_body = DetailsRequest,
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = CREATED, description = "The new walkthrough", body = FullResponse),
        (status = NOT_FOUND, description = says::NO_ORG, body = ErrorBody),
        (
            status = UNPROCESSABLE_ENTITY,
            description = "A field is invalid (`invalid_input` naming the `field`)",
            body = ErrorBody,
        ),
    ),
)]
async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath(org_id): AppPath<String>,
    AppJson(body): AppJson<DetailsRequest>,
) -> Result<(StatusCode, AppJson<FullResponse>)> {
    let access = caller.org_access(&state, &org_id).await?;
    let details = WalkthroughDetails::new(
        &body.title,
        &body.description,
        body.kind,
        body.status.unwrap_or(WalkthroughStatus::Draft),
        body.estimated_duration_minutes,
        &body.tags,
    )?;
    let (walkthrough, steps) =
        walkthroughs::create(&state, &access, &caller.actor(), details, Map::new(), &[], false)
            .await?;
    Ok((StatusCode::CREATED, AppJson(full(&state, access.org.id, walkthrough, &steps).await?)))
}

/// Imports a walkthrough file in the original product's format (`{version: "1.0", exportedAt,
/// walkthrough: {...}, steps: [{title, contentFields, displayOrder}]}`), all or nothing.
#[utoipa::path(
    post,
    path = "/orgs/{org_id}/walkthroughs/import",
    operation_id = "import_walkthrough",
    tag = "walkthroughs",
    params(("org_id" = Uuid, Path, description = says::ORG_ID)),
    request_body(content = Object, description = "A walkthrough file", content_type = "application/json"),
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = CREATED, description = "The imported walkthrough", body = FullResponse),
        (status = NOT_FOUND, description = says::NO_ORG, body = ErrorBody),
        (status = PAYLOAD_TOO_LARGE, description = "The file is too large", body = ErrorBody),
        (
            status = UNPROCESSABLE_ENTITY,
            description = "The file is not valid; `field` is the path of the offending field \
                (`steps[3].contentFields.contentForUser`), empty for the file as a whole",
            body = ErrorBody,
        ),
    ),
)]
async fn import(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath(org_id): AppPath<String>,
    body: Bytes,
) -> Result<(StatusCode, AppJson<FullResponse>)> {
    let access = caller.org_access(&state, &org_id).await?;
    let (walkthrough, steps) =
        walkthroughs::import(&state, &access, &caller.actor(), &body).await?;
    Ok((StatusCode::CREATED, AppJson(full(&state, access.org.id, walkthrough, &steps).await?)))
}

/// A walkthrough with its steps in order.
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/walkthroughs/{walkthrough_id}",
    operation_id = "get_walkthrough",
    tag = "walkthroughs",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("walkthrough_id" = Uuid, Path, description = "The walkthrough's id"),
    ),
    security(("session" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "The walkthrough", body = FullResponse),
        (status = NOT_FOUND, description = NO_WALKTHROUGH, body = ErrorBody),
    ),
)]
async fn read(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, walkthrough_id)): AppPath<(String, String)>,
) -> Result<AppJson<FullResponse>> {
    let access = caller.org_access(&state, &org_id).await?;
    let walkthrough = access.walkthrough(&state, &walkthrough_id).await?;
    let steps = state.store.list_walkthrough_steps(access.org.id, walkthrough.id).await?;
    Ok(AppJson(full(&state, access.org.id, walkthrough, &steps).await?))
}

/// Changes a walkthrough's title, description, type, status, duration or tags.
#[utoipa::path(
    patch,
    path = "/orgs/{org_id}/walkthroughs/{walkthrough_id}",
    operation_id = "update_walkthrough",
    tag = "walkthroughs",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("walkthrough_id" = Uuid, Path, description = "The walkthrough's id"),
    ),
    request_body = DetailsPatch,
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "The walkthrough as it is now", body = WalkthroughResponse),
        (status = NOT_FOUND, description = NO_WALKTHROUGH, body = ErrorBody),
        (
            status = UNPROCESSABLE_ENTITY,
            description = "A field is invalid, or publishing a walkthrough without steps \
                (`invalid_input` naming the `field`)",
            body = ErrorBody,
        ),
    ),
)]
async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, walkthrough_id)): AppPath<(String, String)>,
    AppJson(patch): AppJson<DetailsPatch>,
) -> Result<AppJson<WalkthroughResponse>> {
    let access = caller.org_access(&state, &org_id).await?;
    let walkthrough = access.walkthrough(&state, &walkthrough_id).await?;
    let details = patch.apply(&walkthrough.details)?;
    let updated =
        walkthroughs::update(&state, &access, &caller.actor(), &walkthrough, &details).await?;
    Ok(AppJson(updated.into()))
}

/// Deletes a walkthrough with its steps, assignments and everyone's progress; admins only.
#[utoipa::path(
    delete,
    path = "/orgs/{org_id}/walkthroughs/{walkthrough_id}",
    operation_id = "delete_walkthrough",
    tag = "walkthroughs",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("walkthrough_id" = Uuid, Path, description = "The walkthrough's id"),
    ),
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = NO_CONTENT, description = "Deleted"),
        (status = FORBIDDEN, description = says::NOT_ADMIN, body = ErrorBody),
        (status = NOT_FOUND, description = NO_WALKTHROUGH, body = ErrorBody),
    ),
)]
async fn delete(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, walkthrough_id)): AppPath<(String, String)>,
) -> Result<StatusCode> {
    let access = caller.org_access(&state, &org_id).await?;
    let walkthrough = access.walkthrough(&state, &walkthrough_id).await?;
    walkthroughs::delete(&state, &access, &caller.actor(), &walkthrough).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The walkthrough as a file in the original product's format, for import elsewhere.
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/walkthroughs/{walkthrough_id}/export",
    operation_id = "export_walkthrough",
    tag = "walkthroughs",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("walkthrough_id" = Uuid, Path, description = "The walkthrough's id"),
    ),
    security(("session" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "The walkthrough file (an attachment)", body = Object),
        (status = NOT_FOUND, description = NO_WALKTHROUGH, body = ErrorBody),
    ),
)]
async fn export(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, walkthrough_id)): AppPath<(String, String)>,
) -> Result<Response> {
    let access = caller.org_access(&state, &org_id).await?;
    let walkthrough = access.walkthrough(&state, &walkthrough_id).await?;
    let document = walkthroughs::export(&state, &access, &walkthrough).await?;
    Ok(walkthroughs::download(&walkthrough, &document))
}

/// A step as written.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepRequest {
    title: String,
    content_fields: ContentFields,
}

impl StepRequest {
    fn parse(self) -> Result<(String, StepContent), ValidationError> {
        Ok((parse_step_title(&self.title)?, self.content_fields.parse()?))
    }
}

/// Adds a step at the end.
#[utoipa::path(
    post,
    path = "/orgs/{org_id}/walkthroughs/{walkthrough_id}/steps",
    operation_id = "add_walkthrough_step",
    tag = "walkthroughs",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("walkthrough_id" = Uuid, Path, description = "The walkthrough's id"),
    ),
    request_body = StepRequest,
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = CREATED, description = "The new step", body = StepResponse),
        (status = NOT_FOUND, description = NO_WALKTHROUGH, body = ErrorBody),
        (
            status = UNPROCESSABLE_ENTITY,
            description = "A field is invalid, or the walkthrough has 200 steps already \
                (`invalid_input` naming the `field`)",
            body = ErrorBody,
        ),
    ),
)]
async fn add_step(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, walkthrough_id)): AppPath<(String, String)>,
    AppJson(body): AppJson<StepRequest>,
) -> Result<(StatusCode, AppJson<StepResponse>)> {
    let access = caller.org_access(&state, &org_id).await?;
    let walkthrough = access.walkthrough(&state, &walkthrough_id).await?;
    let (title, content) = body.parse()?;
    let step = walkthroughs::add_step(&state, &access, &walkthrough, &title, &content).await?;
    Ok((StatusCode::CREATED, AppJson(StepResponse::from(&step))))
}

/// Replaces a step's title and content.
#[utoipa::path(
    put,
    path = "/orgs/{org_id}/walkthroughs/{walkthrough_id}/steps/{step_id}",
    operation_id = "update_walkthrough_step",
    tag = "walkthroughs",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("walkthrough_id" = Uuid, Path, description = "The walkthrough's id"),
        ("step_id" = Uuid, Path, description = "The step's id"),
    ),
    request_body = StepRequest,
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "The step as it is now", body = StepResponse),
        (status = NOT_FOUND, description = "No such walkthrough or step (`not_found`)", body = ErrorBody),
        (
            status = UNPROCESSABLE_ENTITY,
            description = "A field is invalid (`invalid_input` naming the `field`)",
            body = ErrorBody,
        ),
    ),
)]
async fn update_step(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, walkthrough_id, step_id)): AppPath<(String, String, String)>,
    AppJson(body): AppJson<StepRequest>,
) -> Result<AppJson<StepResponse>> {
    let access = caller.org_access(&state, &org_id).await?;
    let walkthrough = access.walkthrough(&state, &walkthrough_id).await?;
    let (title, content) = body.parse()?;
    let step = walkthroughs::update_step(&state, &access, &walkthrough, &step_id, &title, &content)
        .await?;
    Ok(AppJson(StepResponse::from(&step)))
}

/// Deletes a step; the steps after it move up. People keep the rest of their progress.
#[utoipa::path(
    delete,
    path = "/orgs/{org_id}/walkthroughs/{walkthrough_id}/steps/{step_id}",
    operation_id = "delete_walkthrough_step",
    tag = "walkthroughs",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("walkthrough_id" = Uuid, Path, description = "The walkthrough's id"),
        ("step_id" = Uuid, Path, description = "The step's id"),
    ),
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = NO_CONTENT, description = "Deleted"),
        (status = NOT_FOUND, description = "No such walkthrough or step (`not_found`)", body = ErrorBody),
        (
            status = CONFLICT,
            description = "It is the only step of a published walkthrough (`conflict`)",
            body = ErrorBody,
        ),
    ),
)]
async fn delete_step(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, walkthrough_id, step_id)): AppPath<(String, String, String)>,
) -> Result<StatusCode> {
    let access = caller.org_access(&state, &org_id).await?;
    let walkthrough = access.walkthrough(&state, &walkthrough_id).await?;
    walkthroughs::delete_step(&state, &access, &walkthrough, &step_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new order of the walkthrough's steps: every step id exactly once.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepOrder {
    step_ids: Vec<String>,
}

/// Puts the steps in a new order. Progress survives: each person's next step is their first
/// one not done, in the new order.
#[utoipa::path(
    put,
    path = "/orgs/{org_id}/walkthroughs/{walkthrough_id}/step-order",
    operation_id = "reorder_walkthrough_steps",
    tag = "walkthroughs",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("walkthrough_id" = Uuid, Path, description = "The walkthrough's id"),
    ),
    request_body = StepOrder,
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "The steps in their new order", body = Items<StepResponse>),
        (status = NOT_FOUND, description = NO_WALKTHROUGH, body = ErrorBody),
        (status = CONFLICT, description = "The steps changed meanwhile (`conflict`)", body = ErrorBody),
        (
            status = UNPROCESSABLE_ENTITY,
            description = "`step_ids` does not name each step of this walkthrough exactly once \
                (`invalid_input`)",
            body = ErrorBody,
        ),
    ),
)]
async fn reorder_steps(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, walkthrough_id)): AppPath<(String, String)>,
    AppJson(body): AppJson<StepOrder>,
) -> Result<AppJson<Items<StepResponse>>> {
    let access = caller.org_access(&state, &org_id).await?;
    let walkthrough = access.walkthrough(&state, &walkthrough_id).await?;
    let steps = walkthroughs::reorder_steps(&state, &access, &walkthrough, &body.step_ids).await?;
    Ok(AppJson(Items { items: steps.iter().map(StepResponse::from).collect() }))
}

/// A step to preview: as saved (`step_id`), or as being written (`title` and
/// `content_fields`, with `step_id` naming its place when it exists).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    #[schema(format = Uuid)]
    step_id: Option<String>,
    title: Option<String>,
    content_fields: Option<ContentFields>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewResponse {
    /// Exactly what `start_walkthrough` or `get_next_step` would answer for someone who has
    /// done every step before this one.
    text: String,
}

/// What the agent receives for a step.
#[utoipa::path(
    post,
    path = "/orgs/{org_id}/walkthroughs/{walkthrough_id}/preview",
    operation_id = "preview_walkthrough_step",
    tag = "walkthroughs",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("walkthrough_id" = Uuid, Path, description = "The walkthrough's id"),
    ),
    request_body = PreviewRequest,
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "The rendered step", body = PreviewResponse),
        (status = NOT_FOUND, description = "No such walkthrough or step (`not_found`)", body = ErrorBody),
        (
            status = UNPROCESSABLE_ENTITY,
            description = "A field is invalid (`invalid_input` naming the `field`)",
            body = ErrorBody,
        ),
    ),
)]
async fn preview(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, walkthrough_id)): AppPath<(String, String)>,
    AppJson(body): AppJson<PreviewRequest>,
) -> Result<AppJson<PreviewResponse>> {
    let access = caller.org_access(&state, &org_id).await?;
    let walkthrough = access.walkthrough(&state, &walkthrough_id).await?;
    let steps = state.store.list_walkthrough_steps(access.org.id, walkthrough.id).await?;
    let draft = match (body.title, body.content_fields) {
        (Some(title), Some(fields)) => Some((parse_step_title(&title)?, fields.parse()?)),
        (None, None) => None,
        _ => {
            return Err(ApiError::BadRequest(
                "give both title and content_fields, or neither".into(),
            ));
        }
    };
    let text = walkthroughs::preview(&walkthrough, steps, body.step_id.as_deref(), draft)?;
    Ok(AppJson(PreviewResponse { text }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AnalyticsQuery {
    /// Only what happened on this server.
    #[param(format = Uuid)]
    server_id: Option<String>,
    /// Start of the range (RFC 3339); 30 days before `to` when not given.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<OffsetDateTime>,
    /// End of the range (RFC 3339, included); now when not given.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<OffsetDateTime>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WalkthroughAnalytics)]
pub struct AnalyticsResponse {
    #[serde(with = "time::serde::rfc3339")]
    from: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    to: OffsetDateTime,
    /// The range held more events than one report reads; narrow it.
    truncated: bool,
    #[serde(flatten)]
    report: Report,
}

impl From<walkthroughs::RangeReport> for AnalyticsResponse {
    fn from(r: walkthroughs::RangeReport) -> Self {
        Self { from: r.from, to: r.to, truncated: r.truncated, report: r.report }
    }
}

/// Starts, completions, completion rate, median time to complete, the funnel of how far people
/// got, the step transitions (Sankey nodes and links), and completions per day.
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/walkthroughs/{walkthrough_id}/analytics",
    operation_id = "walkthrough_analytics",
    tag = "walkthroughs",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("walkthrough_id" = Uuid, Path, description = "The walkthrough's id"),
        AnalyticsQuery,
    ),
    security(("session" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "The report", body = AnalyticsResponse),
        (status = BAD_REQUEST, description = "A bad range or parameter (`bad_request`)", body = ErrorBody),
        (status = NOT_FOUND, description = NO_SERVER, body = ErrorBody),
    ),
)]
async fn analytics_report(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, walkthrough_id)): AppPath<(String, String)>,
    AppQuery(query): AppQuery<AnalyticsQuery>,
) -> Result<AppJson<AnalyticsResponse>> {
    let access = caller.org_access(&state, &org_id).await?;
    let walkthrough = access.walkthrough(&state, &walkthrough_id).await?;
    let server = match &query.server_id {
        Some(id) => Some(access.server(&state, id).await?.id),
        None => None,
    };
    let to = query.to.unwrap_or_else(|| state.clock.now());
    let from = query.from.unwrap_or(to - Duration::days(30));
    if from >= to {
        return Err(ApiError::BadRequest("`from` must be before `to`".into()));
    }
    let report = walkthroughs::report(&state, &access, &walkthrough, server, from, to).await?;
    Ok(AppJson(report.into()))
}

/// Someone's way through a walkthrough.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WalkthroughProgress)]
pub struct ProgressResponse {
    #[schema(format = Uuid)]
    end_user_id: String,
    email: Option<String>,
    name: Option<String>,
    /// Steps of this attempt done that still exist, and how many there are.
    completed_steps: usize,
    total_steps: usize,
    progress_percent: u32,
    #[schema(format = Uuid)]
    current_step_id: Option<String>,
    #[schema(format = Uuid)]
    last_server_id: String,
    /// The session of their last step, for its timeline.
    last_session_id: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    last_activity_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    completed_at: Option<OffsetDateTime>,
}

impl From<walkthroughs::Follower> for ProgressResponse {
    fn from(f: walkthroughs::Follower) -> Self {
        let p = f.progress;
        Self {
            end_user_id: p.end_user_id.to_string(),
            email: f.person.as_ref().and_then(|u| u.email.clone()),
            name: f.person.and_then(|u| u.name),
            completed_steps: f.completed_steps,
            total_steps: f.total_steps,
            progress_percent: f.percent,
            current_step_id: p.current_step_id.map(|id| id.to_string()),
            last_server_id: p.last_server_id.to_string(),
            last_session_id: p.last_session_id,
            started_at: p.started_at,
            last_activity_at: p.last_activity_at,
            completed_at: p.completed_at,
        }
    }
}

/// Who follows the walkthrough and how far they are, latest activity first.
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/walkthroughs/{walkthrough_id}/progress",
    operation_id = "list_walkthrough_progress",
    tag = "walkthroughs",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("walkthrough_id" = Uuid, Path, description = "The walkthrough's id"),
        PageQuery,
    ),
    security(("session" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "A page of progress", body = Paged<ProgressResponse>),
        (status = BAD_REQUEST, description = says::BAD_PAGE, body = ErrorBody),
        (status = NOT_FOUND, description = NO_WALKTHROUGH, body = ErrorBody),
    ),
)]
async fn list_progress(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, walkthrough_id)): AppPath<(String, String)>,
    AppQuery(page): AppQuery<PageQuery>,
) -> Result<AppJson<Paged<ProgressResponse>>> {
    let access = caller.org_access(&state, &org_id).await?;
    let walkthrough = access.walkthrough(&state, &walkthrough_id).await?;
    let followers =
        walkthroughs::followers(&state, &access, walkthrough.id, page.request()).await?;
    Ok(AppJson(Paged::new(followers, ProgressResponse::from)))
}

/// A walkthrough as a server lists it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ServerWalkthrough)]
pub struct ServerWalkthroughResponse {
    #[serde(flatten)]
    assignment: AssignmentResponse,
    walkthrough: WalkthroughResponse,
}

/// The server's walkthroughs in its order. It offers the enabled, published ones (when its
/// walkthrough tools are on).
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/servers/{server_id}/walkthroughs",
    operation_id = "list_server_walkthroughs",
    tag = "walkthroughs",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("server_id" = Uuid, Path, description = "The server's id"),
    ),
    security(("session" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "The server's walkthroughs", body = Items<ServerWalkthroughResponse>),
        (status = NOT_FOUND, description = NO_SERVER, body = ErrorBody),
    ),
)]
async fn list_assignments(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, server_id)): AppPath<(String, String)>,
) -> Result<AppJson<Items<ServerWalkthroughResponse>>> {
    let access = caller.org_access(&state, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    let list = state.store.list_server_walkthroughs(access.org.id, server.id).await?;
    let items = list
        .into_iter()
        .map(|(a, w)| ServerWalkthroughResponse {
            assignment: AssignmentResponse::from(&a),
            walkthrough: w.into(),
        })
        .collect();
    Ok(AppJson(Items { items }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    #[schema(format = Uuid)]
    walkthrough_id: String,
}

/// Assigns a walkthrough to the server, last in its list and enabled.
#[utoipa::path(
    post,
    path = "/orgs/{org_id}/servers/{server_id}/walkthroughs",
    operation_id = "assign_walkthrough",
    tag = "walkthroughs",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("server_id" = Uuid, Path, description = "The server's id"),
    ),
    request_body = AssignRequest,
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = CREATED, description = "Assigned"),
        (status = NOT_FOUND, description = NO_SERVER, body = ErrorBody),
        (status = CONFLICT, description = "It is assigned already (`conflict`)", body = ErrorBody),
    ),
)]
async fn assign(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, server_id)): AppPath<(String, String)>,
    AppJson(body): AppJson<AssignRequest>,
) -> Result<StatusCode> {
    let access = caller.org_access(&state, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    let walkthrough = access.walkthrough(&state, &body.walkthrough_id).await?;
    walkthroughs::assign(&state, &access, &caller.actor(), &server, &walkthrough).await?;
    Ok(StatusCode::CREATED)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentPatch {
    enabled: bool,
}

/// Turns the server's offer of a walkthrough on or off.
#[utoipa::path(
    patch,
    path = "/orgs/{org_id}/servers/{server_id}/walkthroughs/{walkthrough_id}",
    operation_id = "update_walkthrough_assignment",
    tag = "walkthroughs",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("server_id" = Uuid, Path, description = "The server's id"),
        ("walkthrough_id" = Uuid, Path, description = "The walkthrough's id"),
    ),
    request_body = AssignmentPatch,
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = NO_CONTENT, description = "Changed"),
        (status = NOT_FOUND, description = NO_SERVER, body = ErrorBody),
    ),
)]
async fn update_assignment(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, server_id, walkthrough_id)): AppPath<(String, String, String)>,
    AppJson(body): AppJson<AssignmentPatch>,
) -> Result<StatusCode> {
    let access = caller.org_access(&state, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    let walkthrough = access.walkthrough(&state, &walkthrough_id).await?;
    walkthroughs::set_enabled(&state, &access, &server, walkthrough.id, body.enabled).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes a walkthrough off the server; the rest move up.
#[utoipa::path(
    delete,
    path = "/orgs/{org_id}/servers/{server_id}/walkthroughs/{walkthrough_id}",
    operation_id = "unassign_walkthrough",
    tag = "walkthroughs",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("server_id" = Uuid, Path, description = "The server's id"),
        ("walkthrough_id" = Uuid, Path, description = "The walkthrough's id"),
    ),
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = NO_CONTENT, description = "Removed"),
        (status = NOT_FOUND, description = NO_SERVER, body = ErrorBody),
    ),
)]
async fn unassign(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, server_id, walkthrough_id)): AppPath<(String, String, String)>,
) -> Result<StatusCode> {
    let access = caller.org_access(&state, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    let walkthrough = access.walkthrough(&state, &walkthrough_id).await?;
    walkthroughs::unassign(&state, &access, &caller.actor(), &server, &walkthrough).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentOrder {
    walkthrough_ids: Vec<String>,
}

/// Puts the server's walkthroughs in a new order: every assigned walkthrough exactly once.
#[utoipa::path(
    put,
    path = "/orgs/{org_id}/servers/{server_id}/walkthrough-order",
    operation_id = "reorder_server_walkthroughs",
    tag = "walkthroughs",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("server_id" = Uuid, Path, description = "The server's id"),
    ),
    request_body = AssignmentOrder,
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = NO_CONTENT, description = "Reordered"),
        (status = NOT_FOUND, description = NO_SERVER, body = ErrorBody),
        (status = CONFLICT, description = "The list changed meanwhile (`conflict`)", body = ErrorBody),
        (
            status = UNPROCESSABLE_ENTITY,
            description = "`walkthrough_ids` does not name each assigned walkthrough exactly \
                once (`invalid_input`)",
            body = ErrorBody,
        ),
    ),
)]
async fn reorder_assignments(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, server_id)): AppPath<(String, String)>,
    AppJson(body): AppJson<AssignmentOrder>,
) -> Result<StatusCode> {
    let access = caller.org_access(&state, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    walkthroughs::reorder_assignments(&state, &access, &server, &body.walkthrough_ids).await?;
    Ok(StatusCode::NO_CONTENT)
}
