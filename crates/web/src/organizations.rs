//! Organization changes shared by the pages and the API, each written to the audit log.

use mcplatform_core::audit::action;
use mcplatform_core::ids::UserId;
use mcplatform_core::org::{OrgName, Organization, RetentionDays, Role};
use serde_json::json;

use crate::access::{Actor, OrgAccess};
use crate::{ApiError, AppState, audit};

/// Creates an organization with `owner` as its first owner.
pub async fn create(
    state: &AppState,
    owner: UserId,
    actor: &Actor,
    name: &str,
) -> Result<Organization, ApiError> {
    let name = OrgName::parse(name)?;
    let org = state.store.create_organization(&name, owner, state.clock.now()).await?;
    audit::record(state, Some(org.id), actor, action::ORG_CREATED, name.as_str(), json!({})).await;
    Ok(org)
}

/// Renames the organization; admins and owners.
pub async fn rename(
    state: &AppState,
    access: &OrgAccess,
    actor: &Actor,
    name: &str,
) -> Result<Organization, ApiError> {
    access.require(Role::Admin)?;
    let name = OrgName::parse(name)?;
    let org = state.store.rename_organization(access.org.id, &name, state.clock.now()).await?;
    let detail = json!({ "from": access.org.name.as_str(), "to": name.as_str() });
    audit::record(state, Some(org.id), actor, action::ORG_RENAMED, name.as_str(), detail).await;
    Ok(org)
}

/// Sets how many days the organization's telemetry and recorded requests are kept; admins
/// and owners. Data past a shortened retention goes at the job's next round.
pub async fn set_retention(
    state: &AppState,
    access: &OrgAccess,
    actor: &Actor,
    days: i64,
) -> Result<Organization, ApiError> {
    access.require(Role::Admin)?;
    let retention = RetentionDays::new(days)?;
    let org = state.store.set_retention(access.org.id, retention, state.clock.now()).await?;
    let detail = json!({ "from": access.org.retention.days(), "to": retention.days() });
    let summary = format!("{} days", retention.days());
    audit::record(state, Some(org.id), actor, action::ORG_RETENTION_CHANGED, &summary, detail)
        .await;
    Ok(org)
}

/// Deletes the organization and everything it owns (its audit log too); owners only.
pub async fn delete(state: &AppState, access: &OrgAccess, actor: &Actor) -> Result<(), ApiError> {
    access.require(Role::Owner)?;
    state.store.delete_organization(access.org.id).await?;
    tracing::info!(org_id = %access.org.id, actor = %actor.label(), "organization deleted");
    Ok(())
}
