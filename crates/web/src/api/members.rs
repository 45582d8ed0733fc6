//! `/api/v1/orgs/{org_id}/members`, `…/invitations`, `…/outbox` and `/api/v1/invitations/accept`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use mcplatform_core::ids::{InvitationId, UserId};
use mcplatform_core::invitation::Invitation;
use mcplatform_core::org::{Membership, Role};
use mcplatform_core::outbox::OutboxEmail;
use mcplatform_store::PageRequest;
use serde::{Deserialize, Serialize};

use super::auth::UserResponse;
use super::{ApiCaller, Items, PageQuery, Paged};
use crate::access::path_id;
use crate::error::Result;
use crate::extract::{AppJson, AppQuery};
use crate::{AppState, members};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs/{org_id}/members", get(list_members))
        .route("/orgs/{org_id}/members/{user_id}", patch(change_role).delete(remove))
        .route("/orgs/{org_id}/invitations", get(list_invitations).post(invite))
        .route("/orgs/{org_id}/invitations/{invitation_id}", axum::routing::delete(revoke))
        .route("/orgs/{org_id}/invitations/{invitation_id}/resend", post(resend))
        .route("/orgs/{org_id}/outbox", get(outbox))
        .route("/invitations/accept", post(accept))
}

#[derive(Debug, Serialize)]
struct MemberResponse {
    user: UserResponse,
    role: Role,
    #[serde(with = "time::serde::rfc3339")]
    since: time::OffsetDateTime,
}

async fn list_members(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(org_id): Path<String>,
    AppQuery(page): AppQuery<PageQuery>,
) -> Result<AppJson<Paged<MemberResponse>>> {
    let access = caller.org_access(&state, &org_id).await?;
    let members = state.store.list_members(access.org.id, page.request()).await?;
    Ok(AppJson(Paged::new(members, |m| MemberResponse {
        user: (&m.user).into(),
        role: m.role,
        since: m.since,
    })))
}

#[derive(Debug, Serialize)]
struct MembershipResponse {
    organization_id: String,
    user_id: String,
    role: Role,
}

impl From<Membership> for MembershipResponse {
    fn from(m: Membership) -> Self {
        Self {
            organization_id: m.organization_id.to_string(),
            user_id: m.user_id.to_string(),
            role: m.role,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleRequest {
    role: Role,
}

async fn change_role(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((org_id, target)): Path<(String, String)>,
    AppJson(body): AppJson<RoleRequest>,
) -> Result<AppJson<MembershipResponse>> {
    let access = caller.org_access(&state, &org_id).await?;
    let membership = members::change_role(
        &state,
        &access,
        &caller.actor(),
        path_id::<UserId>(&target)?,
        body.role,
    )
    .await?;
    Ok(AppJson(membership.into()))
}

async fn remove(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((org_id, target)): Path<(String, String)>,
) -> Result<StatusCode> {
    let access = caller.org_access(&state, &org_id).await?;
    members::remove(&state, &access, &caller.actor(), path_id::<UserId>(&target)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize)]
struct InvitationResponse {
    id: String,
    email: String,
    role: Role,
    status: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    created_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: time::OffsetDateTime,
}

impl InvitationResponse {
    fn new(invitation: &Invitation, now: time::OffsetDateTime) -> Self {
        Self {
            id: invitation.id.to_string(),
            email: invitation.email.as_str().to_owned(),
            role: invitation.role,
            status: invitation.status(now).as_str(),
            created_at: invitation.created_at,
            expires_at: invitation.expires_at,
        }
    }
}

async fn list_invitations(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(org_id): Path<String>,
) -> Result<AppJson<Items<InvitationResponse>>> {
    let access = caller.org_access(&state, &org_id).await?;
    access.require(Role::Admin)?;
    let now = state.clock.now();
    let invitations = state.store.list_invitations(access.org.id).await?;
    Ok(AppJson(Items {
        items: invitations.iter().map(|i| InvitationResponse::new(i, now)).collect(),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InviteRequest {
    email: String,
    #[serde(default = "member")]
    role: Role,
}

fn member() -> Role {
    Role::Member
}

/// Invites someone; the link goes out by email (see the outbox), never in this response.
async fn invite(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(org_id): Path<String>,
    AppJson(body): AppJson<InviteRequest>,
) -> Result<(StatusCode, AppJson<InvitationResponse>)> {
    let access = caller.org_access(&state, &org_id).await?;
    let invitation =
        members::invite(&state, &access, &caller.actor(), &body.email, body.role).await?;
    Ok((StatusCode::CREATED, AppJson(InvitationResponse::new(&invitation, state.clock.now()))))
}

async fn resend(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((org_id, invitation)): Path<(String, String)>,
) -> Result<AppJson<InvitationResponse>> {
    let access = caller.org_access(&state, &org_id).await?;
    let invitation =
        members::resend(&state, &access, &caller.actor(), path_id::<InvitationId>(&invitation)?)
            .await?;
    Ok(AppJson(InvitationResponse::new(&invitation, state.clock.now())))
}

async fn revoke(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((org_id, invitation)): Path<(String, String)>,
) -> Result<StatusCode> {
    let access = caller.org_access(&state, &org_id).await?;
    members::revoke(&state, &access, &caller.actor(), path_id::<InvitationId>(&invitation)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AcceptRequest {
    token: String,
}

async fn accept(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppJson(body): AppJson<AcceptRequest>,
) -> Result<AppJson<MembershipResponse>> {
    let membership = members::accept(&state, caller.session()?, &body.token).await?;
    Ok(AppJson(membership.into()))
}

#[derive(Debug, Serialize)]
struct EmailResponse {
    id: String,
    to: String,
    subject: String,
    body_text: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    sent_at: Option<time::OffsetDateTime>,
}

impl From<OutboxEmail> for EmailResponse {
    fn from(email: OutboxEmail) -> Self {
        Self {
            id: email.id.to_string(),
            to: email.to.as_str().to_owned(),
            subject: email.subject,
            body_text: email.body_text,
            created_at: email.created_at,
            sent_at: email.sent_at,
        }
    }
}

#[derive(Debug, Deserialize)]
struct OutboxQuery {
    #[serde(default = "default_limit")]
    limit: u32,
    #[serde(default)]
    offset: u32,
}

fn default_limit() -> u32 {
    50
}

async fn outbox(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(org_id): Path<String>,
    AppQuery(page): AppQuery<OutboxQuery>,
) -> Result<AppJson<Items<EmailResponse>>> {
    let access = caller.org_access(&state, &org_id).await?;
    access.require(Role::Admin)?;
    let emails =
        state.store.list_outbox(access.org.id, PageRequest::new(page.limit, page.offset)).await?;
    Ok(AppJson(Items { items: emails.into_iter().map(EmailResponse::from).collect() }))
}
