//! The members page: who is in the organization, invitations, roles, removal; and the outbox.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use mcplatform_core::ids::{InvitationId, UserId};
use mcplatform_core::org::Role;
use mcplatform_store::PageRequest;
use serde::Deserialize;

use super::{
    Layout, OffsetQuery, PageForm, PageResult, PageSession, format_time, page_links, render,
};
use crate::access::{Actor, OrgAccess, path_id};
use crate::auth::CurrentSession;
use crate::{ApiError, AppState, members};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs/{org_id}/members", get(view_members_get))
        .route("/orgs/{org_id}/members/invite", post(invite_post))
        .route("/orgs/{org_id}/members/{user_id}/role", post(role_post))
        .route("/orgs/{org_id}/members/{user_id}/remove", post(remove_post))
        .route("/orgs/{org_id}/invitations/{invitation_id}/resend", post(resend_post))
        .route("/orgs/{org_id}/invitations/{invitation_id}/revoke", post(revoke_post))
        .route("/orgs/{org_id}/outbox", get(view_outbox_get))
}

const ROLES: [&str; 3] = ["member", "admin", "owner"];

struct MemberRow {
    user_id: String,
    display_name: String,
    email: String,
    role: &'static str,
    is_you: bool,
    can_change_role: bool,
    role_choices: &'static [&'static str],
    can_remove: bool,
}

struct InvitationRow {
    id: String,
    email: String,
    role: &'static str,
    status: &'static str,
    open: bool,
}

#[derive(Template)]
#[template(path = "orgs/members.html")]
struct MembersView {
    layout: Layout,
    org_id: String,
    members: Vec<MemberRow>,
    invitations: Vec<InvitationRow>,
    can_invite: bool,
    invite_roles: &'static [&'static str],
    invite_email: String,
    invite_error: Option<String>,
    error: Option<String>,
    previous_offset: Option<u32>,
    next_offset: Option<u32>,
}

#[derive(Debug, Deserialize)]
struct MembersQuery {
    /// What the page says after a change it redirected from (fixed texts, never reflected
    /// input).
    done: Option<String>,
    #[serde(default)]
    offset: u32,
}

/// Members shown on one page.
const MEMBERS_PAGE: u32 = 50;

fn notice(done: Option<&str>) -> Option<String> {
    let text = match done? {
        "invited" => "Invitation sent. The email is in the outbox.",
        "resent" => "Invitation sent again with a new link.",
        "revoked" => "Invitation revoked.",
        "role" => "Role changed.",
        "removed" => "Member removed.",
        _ => return None,
    };
    Some(text.to_owned())
}

/// The members page showing the members from `offset` on.
async fn members_view(
    state: &AppState,
    current: &CurrentSession,
    access: &OrgAccess,
    offset: u32,
) -> Result<MembersView, ApiError> {
    let is_owner = access.role.at_least(Role::Owner);
    let is_admin = access.role.at_least(Role::Admin);
    let page =
        state.store.list_members(access.org.id, PageRequest::new(MEMBERS_PAGE, offset)).await?;
    let (previous_offset, next_offset) =
        page_links(offset, MEMBERS_PAGE, page.next_offset.is_some());
    let members = page
        .items
        .into_iter()
        .map(|member| {
            let is_you = member.user.id == current.user.id;
            let touches_owner = member.role == Role::Owner;
            MemberRow {
                user_id: member.user.id.to_string(),
                display_name: member.user.display_name.as_str().to_owned(),
                email: member.user.email.as_str().to_owned(),
                role: member.role.as_str(),
                is_you,
                can_change_role: is_owner || (is_admin && !touches_owner),
                role_choices: if is_owner { &ROLES } else { &ROLES[..2] },
                can_remove: is_you || is_owner || (is_admin && !touches_owner),
            }
        })
        .collect();
    let now = state.clock.now();
    let invitations = if is_admin {
        state
            .store
            .list_invitations(access.org.id)
            .await?
            .into_iter()
            .map(|invitation| {
                let status = invitation.status(now);
                InvitationRow {
                    id: invitation.id.to_string(),
                    email: invitation.email.as_str().to_owned(),
                    role: invitation.role.as_str(),
                    status: status.as_str(),
                    open: invitation.accepted_at.is_none() && invitation.revoked_at.is_none(),
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(MembersView {
        layout: Layout::for_session("Members", current).in_org(access),
        org_id: access.org.id.to_string(),
        members,
        invitations,
        can_invite: is_admin,
        invite_roles: if is_owner { &ROLES } else { &ROLES[..2] },
        invite_email: String::new(),
        invite_error: None,
        error: None,
        previous_offset,
        next_offset,
    })
}

async fn view_members_get(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path(org_id): Path<String>,
    Query(query): Query<MembersQuery>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let mut view = members_view(&state, &current, &access, query.offset).await?;
    view.layout = view.layout.with_notice(notice(query.done.as_deref()));
    Ok(render(StatusCode::OK, &view))
}

fn back_to_members(access: &OrgAccess, done: &str) -> Response {
    Redirect::to(&format!("/orgs/{}/members?done={done}", access.org.id)).into_response()
}

#[derive(Debug, Deserialize)]
struct InviteForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

async fn invite_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path(org_id): Path<String>,
    PageForm(form): PageForm<InviteForm>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    access.require(Role::Admin)?;
    let role = form.role.parse::<Role>().map_err(ApiError::from)?;
    match members::invite(&state, &access, &Actor::from(&current), &form.email, role).await {
        Ok(_) => Ok(back_to_members(&access, "invited")),
        Err(err @ (ApiError::Validation(_) | ApiError::Conflict(_))) => {
            let mut view = members_view(&state, &current, &access, 0).await?;
            view.invite_email = form.email;
            view.invite_error = Some(match err {
                ApiError::Conflict("member") => "this person is already a member".to_owned(),
                ApiError::Conflict(_) => {
                    "an invitation to this address is already open: resend it instead".to_owned()
                }
                ApiError::Validation(err) => err.message,
                other => other.to_string(),
            });
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &view))
        }
        Err(err) => Err(err.into()),
    }
}

#[derive(Debug, Deserialize)]
struct RoleForm {
    #[serde(default)]
    role: String,
}

/// Re-renders the members page with a problem that is not about a single field.
async fn members_problem(
    state: &AppState,
    current: &CurrentSession,
    access: &OrgAccess,
    err: ApiError,
) -> PageResult {
    match err {
        ApiError::BadRequest(message) => {
            let mut view = members_view(state, current, access, 0).await?;
            view.error = Some(message);
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &view))
        }
        other => Err(other.into()),
    }
}

async fn role_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, target)): Path<(String, String)>,
    PageForm(form): PageForm<RoleForm>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let role = form.role.parse::<Role>().map_err(ApiError::from)?;
    match members::change_role(
        &state,
        &access,
        &Actor::from(&current),
        path_id::<UserId>(&target)?,
        role,
    )
    .await
    {
        Ok(_) => Ok(back_to_members(&access, "role")),
        Err(err) => members_problem(&state, &current, &access, err).await,
    }
}

async fn remove_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, target)): Path<(String, String)>,
    PageForm(_): PageForm<serde::de::IgnoredAny>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let target = path_id::<UserId>(&target)?;
    match members::remove(&state, &access, &Actor::from(&current), target).await {
        Ok(()) if target == current.user.id => Ok(Redirect::to("/orgs").into_response()),
        Ok(()) => Ok(back_to_members(&access, "removed")),
        Err(err) => members_problem(&state, &current, &access, err).await,
    }
}

async fn resend_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, invitation)): Path<(String, String)>,
    PageForm(_): PageForm<serde::de::IgnoredAny>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    members::resend(&state, &access, &Actor::from(&current), path_id::<InvitationId>(&invitation)?)
        .await?;
    Ok(back_to_members(&access, "resent"))
}

async fn revoke_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, invitation)): Path<(String, String)>,
    PageForm(_): PageForm<serde::de::IgnoredAny>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    members::revoke(&state, &access, &Actor::from(&current), path_id::<InvitationId>(&invitation)?)
        .await?;
    Ok(back_to_members(&access, "revoked"))
}

struct EmailRow {
    subject: String,
    to: String,
    created_at: String,
    delivery: String,
    body: String,
}

#[derive(Template)]
#[template(path = "orgs/outbox.html")]
struct OutboxView {
    layout: Layout,
    org_id: String,
    emails: Vec<EmailRow>,
    previous_offset: Option<u32>,
    next_offset: Option<u32>,
    delivery: bool,
}

const OUTBOX_PAGE: u32 = 20;

async fn view_outbox_get(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path(org_id): Path<String>,
    Query(query): Query<OffsetQuery>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    access.require(Role::Admin)?;
    let page =
        state.store.list_outbox(access.org.id, PageRequest::new(OUTBOX_PAGE, query.offset)).await?;
    let has_more = page.next_offset.is_some();
    let emails = page
        .items
        .into_iter()
        .map(|email| EmailRow {
            subject: email.subject,
            to: email.to.as_str().to_owned(),
            created_at: format_time(email.created_at),
            delivery: match (email.sent_at, email.last_error) {
                (Some(_), _) => "delivered".to_owned(),
                (None, Some(error)) => format!("not delivered yet: {error}"),
                (None, None) if state.config.email_delivery => "waiting to be sent".to_owned(),
                (None, None) => "not delivered (no mail server)".to_owned(),
            },
            body: email.body_text,
        })
        .collect();
    let (newer, older) = page_links(query.offset, OUTBOX_PAGE, has_more);
    let view = OutboxView {
        layout: Layout::for_session("Outbox", &current).in_org(&access),
        org_id: access.org.id.to_string(),
        emails,
        previous_offset: newer,
        next_offset: older,
        delivery: state.config.email_delivery,
    };
    Ok(render(StatusCode::OK, &view))
}
