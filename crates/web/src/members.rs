//! Team management shared by the pages and the API: invitations (sent through the outbox),
//! role changes and removals, with who-may-do-what enforced here on the server.

use mcplatform_core::crypto::{NewSecretToken, TokenHash};
use mcplatform_core::ids::{InvitationId, UserId};
use mcplatform_core::invitation::{
    INVITATION_LIFETIME, INVITATION_TOKEN_PREFIX, Invitation, InvitationStatus,
};
use mcplatform_core::org::{Membership, Role};
use mcplatform_core::outbox::NewEmail;
use mcplatform_core::user::EmailAddress;
use mcplatform_store::{NewInvitation, StoreError};
use secrecy::ExposeSecret;

use crate::access::{Actor, OrgAccess};
use crate::auth::CurrentSession;
use mcplatform_core::audit::action;
use serde_json::json;

use crate::{ApiError, AppState, audit};

/// Admins invite; only owners may invite another owner.
pub async fn invite(
    state: &AppState,
    access: &OrgAccess,
    inviter: &Actor,
    email: &str,
    role: Role,
) -> Result<Invitation, ApiError> {
    access.require(Role::Admin)?;
    if role == Role::Owner {
        access.require(Role::Owner)?;
    }
    let email = EmailAddress::parse(email)?;
    if let Some(existing) = state.store.find_user_by_email(&email).await? {
        match state.store.get_membership(access.org.id, existing.id).await {
            Ok(_) => return Err(ApiError::Conflict("member")),
            Err(StoreError::NotFound) => {}
            Err(other) => return Err(other.into()),
        }
    }
    let now = state.clock.now();
    let token = NewSecretToken::generate(INVITATION_TOKEN_PREFIX);
    let new = NewInvitation {
        organization_id: access.org.id,
        email,
        role,
        invited_by: inviter.user_id,
        token_hash: token.hash.clone(),
        expires_at: now + INVITATION_LIFETIME,
    };
    let invitation = state.store.create_invitation(&new, now).await?;
    send_invitation(state, access, inviter, &invitation, token.secret.expose_secret()).await?;
    let detail = json!({ "role": role.as_str() });
    audit::record(
        state,
        Some(access.org.id),
        inviter,
        action::MEMBER_INVITED,
        invitation.email.as_str(),
        detail,
    )
    .await;
    Ok(invitation)
}

/// A new link and a fresh week for an open invitation, emailed again.
pub async fn resend(
    state: &AppState,
    access: &OrgAccess,
    inviter: &Actor,
    invitation: InvitationId,
) -> Result<Invitation, ApiError> {
    access.require(Role::Admin)?;
    let token = NewSecretToken::generate(INVITATION_TOKEN_PREFIX);
    let expires_at = state.clock.now() + INVITATION_LIFETIME;
    let invitation =
        state.store.renew_invitation(access.org.id, invitation, &token.hash, expires_at).await?;
    send_invitation(state, access, inviter, &invitation, token.secret.expose_secret()).await?;
    let target = invitation.email.as_str();
    audit::record(
        state,
        Some(access.org.id),
        inviter,
        action::INVITATION_RESENT,
        target,
        json!({}),
    )
    .await;
    Ok(invitation)
}

pub async fn revoke(
    state: &AppState,
    access: &OrgAccess,
    actor: &Actor,
    invitation: InvitationId,
) -> Result<(), ApiError> {
    access.require(Role::Admin)?;
    let existing = state.store.get_invitation(access.org.id, invitation).await?;
    state.store.revoke_invitation(access.org.id, invitation, state.clock.now()).await?;
    let target = existing.email.as_str();
    audit::record(state, Some(access.org.id), actor, action::INVITATION_REVOKED, target, json!({}))
        .await;
    Ok(())
}

async fn send_invitation(
    state: &AppState,
    access: &OrgAccess,
    inviter: &Actor,
    invitation: &Invitation,
    secret: &str,
) -> Result<(), ApiError> {
    let mut link = state.config.base_url.clone();
    link.set_path(&format!("/invitations/{secret}"));
    let days = INVITATION_LIFETIME.as_secs() / 86_400;
    let who = inviter.label();
    let email = NewEmail {
        organization_id: Some(access.org.id),
        to: invitation.email.clone(),
        subject: format!(
            "{} invited you to {} on MCPlatform",
            inviter.name,
            access.org.name.as_str()
        ),
        body_text: format!(
            "{who} invited you to join {} on MCPlatform as {} {}.\n\n\
             Accept the invitation here (the link works for {days} days):\n{link}\n\n\
             If you were not expecting this, ignore this message.\n",
            access.org.name.as_str(),
            if invitation.role == Role::Admin { "an" } else { "a" },
            invitation.role,
        ),
    };
    crate::mail::queue(state, email).await?;
    Ok(())
}

/// Changes a member's role. Admins manage members and admins; anything touching the owner
/// role needs an owner. The store refuses to leave the organization without an owner.
pub async fn change_role(
    state: &AppState,
    access: &OrgAccess,
    actor: &Actor,
    target: UserId,
    role: Role,
) -> Result<Membership, ApiError> {
    access.require(Role::Admin)?;
    let current = state.store.get_membership(access.org.id, target).await?;
    if current.role == Role::Owner || role == Role::Owner {
        access.require(Role::Owner)?;
    }
    let membership =
        state.store.set_member_role(access.org.id, target, role).await.map_err(last_owner)?;
    let who = state.store.get_user(target).await?;
    let detail = json!({ "from": current.role.as_str(), "to": role.as_str() });
    audit::record(
        state,
        Some(access.org.id),
        actor,
        action::MEMBER_ROLE_CHANGED,
        who.email.as_str(),
        detail,
    )
    .await;
    Ok(membership)
}

/// Removes a member, or lets anyone leave. Removing an owner needs an owner.
pub async fn remove(
    state: &AppState,
    access: &OrgAccess,
    actor: &Actor,
    target: UserId,
) -> Result<(), ApiError> {
    let leaving = Some(target) == actor.user_id;
    if !leaving {
        access.require(Role::Admin)?;
        let current = state.store.get_membership(access.org.id, target).await?;
        if current.role == Role::Owner {
            access.require(Role::Owner)?;
        }
    }
    let who = state.store.get_user(target).await?;
    state.store.remove_member(access.org.id, target).await.map_err(last_owner)?;
    let what = if leaving { action::MEMBER_LEFT } else { action::MEMBER_REMOVED };
    audit::record(state, Some(access.org.id), actor, what, who.email.as_str(), json!({})).await;
    Ok(())
}

fn last_owner(err: StoreError) -> ApiError {
    match err {
        StoreError::Conflict("last_owner") => ApiError::BadRequest(
            "an organization needs an owner: make someone else owner first".into(),
        ),
        other => other.into(),
    }
}

/// Why an invitation link cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    #[error("this invitation link is not valid")]
    Unknown,
    #[error("this invitation was {}", .0.as_str())]
    Closed(InvitationStatus),
    #[error("this invitation was sent to {0}: log in with that address to accept it")]
    OtherAddress(EmailAddress),
    #[error(transparent)]
    Failed(ApiError),
}

/// The open invitation behind a link.
pub async fn open_invitation(state: &AppState, secret: &str) -> Result<Invitation, AcceptError> {
    let found = state.store.find_invitation_by_token(&TokenHash::of(secret)).await;
    let invitation =
        found.map_err(|e| AcceptError::Failed(e.into()))?.ok_or(AcceptError::Unknown)?;
    match invitation.status(state.clock.now()) {
        InvitationStatus::Pending => Ok(invitation),
        closed => Err(AcceptError::Closed(closed)),
    }
}

/// Accepts the invitation behind `secret` for the logged-in user, whose address must be the
/// invited one: a forwarded link does not let someone else in.
pub async fn accept(
    state: &AppState,
    current: &CurrentSession,
    secret: &str,
) -> Result<Membership, AcceptError> {
    let invitation = open_invitation(state, secret).await?;
    if invitation.email != current.user.email {
        return Err(AcceptError::OtherAddress(invitation.email));
    }
    match state.store.accept_invitation(invitation.id, current.user.id, state.clock.now()).await {
        Ok(membership) => {
            let detail = json!({ "role": membership.role.as_str() });
            let target = current.user.email.as_str();
            let actor = Actor::from(current);
            let org = Some(membership.organization_id);
            audit::record(state, org, &actor, action::INVITATION_ACCEPTED, target, detail).await;
            Ok(membership)
        }
        // Closed between our look and the accept (a concurrent accept or revoke).
        Err(StoreError::NotFound) => Err(AcceptError::Unknown),
        Err(err) => Err(AcceptError::Failed(err.into())),
    }
}

impl From<AcceptError> for ApiError {
    fn from(err: AcceptError) -> Self {
        match err {
            AcceptError::Unknown | AcceptError::Closed(_) => ApiError::NotFound,
            AcceptError::OtherAddress(_) => ApiError::Forbidden,
            AcceptError::Failed(err) => err,
        }
    }
}
