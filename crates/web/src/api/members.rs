//! `/api/v1/orgs/{org_id}/members`, `…/invitations`, `…/outbox` and `/api/v1/invitations/accept`.

use axum::extract::State;
use axum::http::StatusCode;
use mcplatform_core::ids::{InvitationId, UserId};
use mcplatform_core::invitation::{Invitation, InvitationStatus};
use mcplatform_core::org::{Membership, Role};
use mcplatform_core::outbox::OutboxEmail;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::UserResponse;
use super::{ApiCaller, Items, PageQuery, Paged, says};
use crate::access::path_id;
use crate::error::{ErrorBody, Result};
use crate::extract::{AppJson, AppPath, AppQuery};
use crate::{AppState, members};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list_members))
        .routes(routes!(change_role, remove))
        .routes(routes!(list_invitations, invite))
        .routes(routes!(revoke))
        .routes(routes!(resend))
        .routes(routes!(outbox))
        .routes(routes!(accept))
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Member)]
struct MemberResponse {
    user: UserResponse,
    role: Role,
    /// When they joined.
    #[serde(with = "time::serde::rfc3339")]
    since: time::OffsetDateTime,
}

/// The organization's members, longest-standing first, a page at a time.
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/members",
    operation_id = "list_members",
    tag = "members",
    params(("org_id" = Uuid, Path, description = says::ORG_ID), PageQuery),
    security(("session" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "A page of members", body = Paged<MemberResponse>),
        (status = BAD_REQUEST, description = says::BAD_PAGE, body = ErrorBody),
        (status = NOT_FOUND, description = says::NO_ORG, body = ErrorBody),
    ),
)]
async fn list_members(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath(org_id): AppPath<String>,
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

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Membership)]
struct MembershipResponse {
    #[schema(format = Uuid)]
    organization_id: String,
    #[schema(format = Uuid)]
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RoleRequest {
    role: Role,
}

/// Changes a member's role: admins change members and admins, owners anyone. The last owner
/// stays an owner.
#[utoipa::path(
    patch,
    path = "/orgs/{org_id}/members/{user_id}",
    operation_id = "change_member_role",
    tag = "members",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("user_id" = Uuid, Path, description = "The member's user id"),
    ),
    request_body = RoleRequest,
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "The membership as it is now", body = MembershipResponse),
        (
            status = BAD_REQUEST,
            description = "It would leave the organization without an owner (`bad_request`)",
            body = ErrorBody,
        ),
        (
            status = FORBIDDEN,
            description = "The caller's role does not allow this change (`forbidden`)",
            body = ErrorBody,
        ),
        (
            status = NOT_FOUND,
            description = "No such organization or member, or the caller is not in the \
                organization (`not_found`)",
            body = ErrorBody,
        ),
    ),
)]
async fn change_role(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, target)): AppPath<(String, String)>,
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

/// Removes a member; anyone may remove themselves (leave), admins remove members and admins,
/// owners anyone. The last owner cannot leave.
#[utoipa::path(
    delete,
    path = "/orgs/{org_id}/members/{user_id}",
    operation_id = "remove_member",
    tag = "members",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("user_id" = Uuid, Path, description = "The member's user id"),
    ),
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = NO_CONTENT, description = "Removed"),
        (
            status = BAD_REQUEST,
            description = "It would leave the organization without an owner (`bad_request`)",
            body = ErrorBody,
        ),
        (
            status = FORBIDDEN,
            description = "The caller's role does not allow this (`forbidden`)",
            body = ErrorBody,
        ),
        (
            status = NOT_FOUND,
            description = "No such organization or member, or the caller is not in the \
                organization (`not_found`)",
            body = ErrorBody,
        ),
    ),
)]
async fn remove(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, target)): AppPath<(String, String)>,
) -> Result<StatusCode> {
    let access = caller.org_access(&state, &org_id).await?;
    members::remove(&state, &access, &caller.actor(), path_id::<UserId>(&target)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Invitation)]
struct InvitationResponse {
    #[schema(format = Uuid)]
    id: String,
    #[schema(format = Email)]
    email: String,
    role: Role,
    status: InvitationStatus,
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
            status: invitation.status(now),
            created_at: invitation.created_at,
            expires_at: invitation.expires_at,
        }
    }
}

/// Every invitation of the organization, newest first; admins only.
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/invitations",
    operation_id = "list_invitations",
    tag = "members",
    params(("org_id" = Uuid, Path, description = says::ORG_ID)),
    security(("session" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "The invitations", body = Items<InvitationResponse>),
        (status = FORBIDDEN, description = says::NOT_ADMIN, body = ErrorBody),
        (status = NOT_FOUND, description = says::NO_ORG, body = ErrorBody),
    ),
)]
async fn list_invitations(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath(org_id): AppPath<String>,
) -> Result<AppJson<Items<InvitationResponse>>> {
    let access = caller.org_access(&state, &org_id).await?;
    access.require(Role::Admin)?;
    let now = state.clock.now();
    let invitations = state.store.list_invitations(access.org.id).await?;
    Ok(AppJson(Items {
        items: invitations.iter().map(|i| InvitationResponse::new(i, now)).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct InviteRequest {
    #[schema(format = Email)]
    email: String,
    /// `member` when left out; only owners invite owners.
    #[serde(default = "member")]
    role: Role,
}

fn member() -> Role {
    Role::Member
}

/// Invites someone; the link goes out by email (see the outbox), never in this response.
#[utoipa::path(
    post,
    path = "/orgs/{org_id}/invitations",
    operation_id = "invite_member",
    tag = "members",
    params(("org_id" = Uuid, Path, description = says::ORG_ID)),
    request_body = InviteRequest,
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = CREATED, description = "The invitation", body = InvitationResponse),
        (
            status = FORBIDDEN,
            description = "The caller is not an admin, or invites an owner without being one \
                (`forbidden`)",
            body = ErrorBody,
        ),
        (status = NOT_FOUND, description = says::NO_ORG, body = ErrorBody),
        (
            status = CONFLICT,
            description = "The person is a member already, or an invitation to the address is \
                open (`conflict`)",
            body = ErrorBody,
        ),
        (
            status = UNPROCESSABLE_ENTITY,
            description = "The address is invalid (`invalid_input`)",
            body = ErrorBody,
        ),
    ),
)]
async fn invite(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath(org_id): AppPath<String>,
    AppJson(body): AppJson<InviteRequest>,
) -> Result<(StatusCode, AppJson<InvitationResponse>)> {
    let access = caller.org_access(&state, &org_id).await?;
    let invitation =
        members::invite(&state, &access, &caller.actor(), &body.email, body.role).await?;
    Ok((StatusCode::CREATED, AppJson(InvitationResponse::new(&invitation, state.clock.now()))))
}

/// Sends an open invitation again, with a new link; admins only.
#[utoipa::path(
    post,
    path = "/orgs/{org_id}/invitations/{invitation_id}/resend",
    operation_id = "resend_invitation",
    tag = "members",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("invitation_id" = Uuid, Path, description = "The invitation's id"),
    ),
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (
            status = OK,
            description = "The invitation, with its new expiry",
            body = InvitationResponse,
        ),
        (status = FORBIDDEN, description = says::NOT_ADMIN, body = ErrorBody),
        (
            status = NOT_FOUND,
            description = "No such organization or open invitation, or the caller is not in the \
                organization (`not_found`)",
            body = ErrorBody,
        ),
    ),
)]
async fn resend(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, invitation)): AppPath<(String, String)>,
) -> Result<AppJson<InvitationResponse>> {
    let access = caller.org_access(&state, &org_id).await?;
    let invitation =
        members::resend(&state, &access, &caller.actor(), path_id::<InvitationId>(&invitation)?)
            .await?;
    Ok(AppJson(InvitationResponse::new(&invitation, state.clock.now())))
}

/// Revokes an open invitation; admins only.
#[utoipa::path(
    delete,
    path = "/orgs/{org_id}/invitations/{invitation_id}",
    operation_id = "revoke_invitation",
    tag = "members",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("invitation_id" = Uuid, Path, description = "The invitation's id"),
    ),
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = NO_CONTENT, description = "Revoked"),
        (status = FORBIDDEN, description = says::NOT_ADMIN, body = ErrorBody),
        (
            status = NOT_FOUND,
            description = "No such organization or open invitation, or the caller is not in the \
                organization (`not_found`)",
            body = ErrorBody,
        ),
    ),
)]
async fn revoke(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, invitation)): AppPath<(String, String)>,
) -> Result<StatusCode> {
    let access = caller.org_access(&state, &org_id).await?;
    members::revoke(&state, &access, &caller.actor(), path_id::<InvitationId>(&invitation)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AcceptRequest {
    /// The secret from the emailed link (`mcpi_…`).
    token: String,
}

/// Joins an organization with an invitation's token, signed in as the invited address.
#[utoipa::path(
    post,
    path = "/invitations/accept",
    operation_id = "accept_invitation",
    tag = "members",
    request_body = AcceptRequest,
    security(("session" = [], "csrf" = [])),
    responses(
        (status = OK, description = "The caller's membership", body = MembershipResponse),
        (
            status = FORBIDDEN,
            description = "The invitation is for another address (`forbidden`)",
            body = ErrorBody,
        ),
        (
            status = NOT_FOUND,
            description = "The invitation is unknown, used, revoked or expired (`not_found`)",
            body = ErrorBody,
        ),
    ),
)]
async fn accept(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppJson(body): AppJson<AcceptRequest>,
) -> Result<AppJson<MembershipResponse>> {
    let membership = members::accept(&state, caller.session()?, &body.token).await?;
    Ok(AppJson(membership.into()))
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = OutboxEmail)]
struct EmailResponse {
    #[schema(format = Uuid)]
    id: String,
    #[schema(format = Email)]
    to: String,
    subject: String,
    body_text: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: time::OffsetDateTime,
    /// When it was delivered; null until then.
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

/// Email the organization caused, newest first; admins only.
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/outbox",
    operation_id = "list_outbox",
    tag = "members",
    params(("org_id" = Uuid, Path, description = says::ORG_ID), PageQuery),
    security(("session" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "A page of messages", body = Paged<EmailResponse>),
        (status = BAD_REQUEST, description = says::BAD_PAGE, body = ErrorBody),
        (status = FORBIDDEN, description = says::NOT_ADMIN, body = ErrorBody),
        (status = NOT_FOUND, description = says::NO_ORG, body = ErrorBody),
    ),
)]
async fn outbox(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath(org_id): AppPath<String>,
    AppQuery(page): AppQuery<PageQuery>,
) -> Result<AppJson<Paged<EmailResponse>>> {
    let access = caller.org_access(&state, &org_id).await?;
    access.require(Role::Admin)?;
    let emails = state.store.list_outbox(access.org.id, page.request()).await?;
    Ok(AppJson(Paged::new(emails, EmailResponse::from)))
}
