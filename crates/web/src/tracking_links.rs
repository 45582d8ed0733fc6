//! Personal tracking URLs (`/api/mcpserver/{tracking_id}/mcp`): the customer makes one per end
//! user, and every request through it is that user's.

use mcplatform_core::audit::action;
use mcplatform_core::hosting::{TrackingId, TrackingLink};
use mcplatform_core::mcp_server::McpServer;
use mcplatform_core::oauth::{ServerOrigin, UrlForm};
use mcplatform_core::org::{Role, parse_display_name};
use mcplatform_core::user::EmailAddress;
use serde_json::json;

use crate::access::Actor;
use crate::access::OrgAccess;
use crate::audit;
use crate::{ApiError, AppState};

/// A link's URLs: on the server's subdomain, and in the path form.
pub fn urls(state: &AppState, server: &McpServer, link: &TrackingLink) -> (String, String) {
    let path = format!("/api/mcpserver/{}/mcp", link.tracking_id);
    let url = |form| ServerOrigin::new(&state.config.base_url, &server.slug, form).url(&path);
    (url(UrlForm::Subdomain), url(UrlForm::Path))
}

/// A new link for a new end user, known by `label` and, when given, `email`; admins only.
pub async fn create(
    state: &AppState,
    access: &OrgAccess,
    actor: &Actor,
    server: &McpServer,
    label: Option<&str>,
    email: Option<&str>,
) -> Result<TrackingLink, ApiError> {
    access.require(Role::Admin)?;
    let label = label
        .map(str::trim)
        .filter(|label| !label.is_empty())
        .map(|label| parse_display_name("label", label, 200))
        .transpose()?;
    let email = email
        .map(str::trim)
        .filter(|email| !email.is_empty())
        .map(EmailAddress::parse)
        .transpose()?;
    let now = state.clock.now();
    let end_user = match &email {
        Some(email) => {
            match state.store.find_end_user_by_email(access.org.id, email.as_str(), false).await? {
                Some(user) => user,
                None => {
                    state
                        .store
                        .create_end_user(access.org.id, Some(email.as_str()), label.as_deref(), now)
                        .await?
                }
            }
        }
        None => state.store.create_end_user(access.org.id, None, label.as_deref(), now).await?,
    };
    let link = TrackingLink {
        tracking_id: TrackingId::generate(),
        organization_id: access.org.id,
        mcp_server_id: server.id,
        end_user_id: end_user.id,
        label,
        created_at: now,
        last_used_at: None,
        revoked_at: None,
    };
    state.store.create_tracking_link(&link).await?;
    audit::record(
        state,
        Some(access.org.id),
        actor,
        action::TRACKING_LINK_CREATED,
        format!("server {}", server.slug),
        json!({ "end_user_id": end_user.id.to_string(), "label": link.label }),
    )
    .await;
    Ok(link)
}

/// Ends a link at once (its requests answer 404); admins only.
pub async fn revoke(
    state: &AppState,
    access: &OrgAccess,
    actor: &Actor,
    server: &McpServer,
    tracking_id: &str,
) -> Result<(), ApiError> {
    access.require(Role::Admin)?;
    let id = TrackingId::parse(tracking_id).map_err(|_| ApiError::NotFound)?;
    state.store.revoke_tracking_link(access.org.id, server.id, &id, state.clock.now()).await?;
    state.hosting.forget_link(&id);
    audit::record(
        state,
        Some(access.org.id),
        actor,
        action::TRACKING_LINK_REVOKED,
        format!("server {}", server.slug),
        json!({ "tracking_id": id.to_string() }),
    )
    .await;
    Ok(())
}
