//! Writing the audit log. An event that cannot be written is logged as an error but does not
//! undo or fail the change it describes.

use mcplatform_core::audit::NewAuditEvent;
use mcplatform_core::ids::OrgId;
use serde_json::Value;

use crate::AppState;
use crate::access::Actor;

/// The names of the listed fields whose values differ between `$before` and `$after`, for an
/// audit entry's `changed` list.
macro_rules! changed_fields {
    ($before:expr, $after:expr; $($field:ident),* $(,)?) => {{
        let mut changed: Vec<&'static str> = Vec::new();
        $( if $before.$field != $after.$field { changed.push(stringify!($field)); } )*
        changed
    }};
}
pub(crate) use changed_fields;

pub async fn record(
    state: &AppState,
    org: Option<OrgId>,
    actor: &Actor,
    action: &'static str,
    target: impl Into<String>,
    detail: Value,
) {
    let event = NewAuditEvent {
        organization_id: org,
        actor_user_id: actor.user_id,
        actor_label: actor.label(),
        action,
        target: target.into(),
        detail: detail.to_string(),
        ip_address: actor.ip.clone(),
    };
    if let Err(err) = state.store.record_audit_event(&event, state.clock.now()).await {
        tracing::error!(error = ?err, action, "could not write audit event");
    }
}
