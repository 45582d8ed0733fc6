//! Queuing email. Every message goes to the outbox table first, and the binary's sender delivers
//! it when a mail server is configured. Without one, each queued message is also written to the
//! log, where the operator of a local installation finds links (invitations, password resets)
//! to pass on.

use mcplatform_core::outbox::{NewEmail, OutboxEmail};

use crate::{ApiError, AppState};

pub async fn queue(state: &AppState, email: NewEmail) -> Result<OutboxEmail, ApiError> {
    let queued = state.store.enqueue_email(&email, state.clock.now()).await?;
    if state.config.email_delivery {
        return Ok(queued);
    }
    tracing::info!(
        to = %queued.to,
        subject = %queued.subject,
        body = %queued.body_text,
        "email queued in the outbox (no mail server configured)"
    );
    Ok(queued)
}
