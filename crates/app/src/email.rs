//! Delivering the outbox through SMTP: a background loop sends what is due and retries
//! failures with growing delays, so a mail server outage loses nothing.

use std::time::Duration;

use anyhow::Context as _;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use mcplatform_core::outbox::OutboxEmail;
use mcplatform_web::AppState;
use secrecy::ExposeSecret;

use crate::config::EmailConfig;

/// Messages sent per round; the rest wait for the next round.
const BATCH: u32 = 20;
/// Retry delays double from a minute up to six hours.
const FIRST_RETRY: Duration = Duration::from_secs(60);
const LAST_RETRY: Duration = Duration::from_secs(6 * 3600);

pub struct EmailSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl EmailSender {
    /// The sender for the configured mail server; `None` when none is configured.
    pub fn from_config(config: &EmailConfig) -> anyhow::Result<Option<Self>> {
        let Some(url) = &config.smtp_url else { return Ok(None) };
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
            .context("invalid email.smtp_url")?
            .timeout(Some(Duration::from_secs(20)))
            .build();
        let from = config.from.parse().context("invalid email.from")?;
        Ok(Some(Self { transport, from }))
    }

    /// Sends every message that is due now (in batches), recording each outcome.
    pub async fn send_due(&self, state: &AppState) {
        loop {
            let due = match state.store.due_emails(state.clock.now(), BATCH).await {
                Ok(due) => due,
                Err(err) => {
                    tracing::warn!(error = ?err, "cannot read the outbox");
                    return;
                }
            };
            let count = due.len();
            for email in due {
                self.send_one(state, &email).await;
            }
            if count < BATCH as usize {
                return;
            }
        }
    }

    async fn send_one(&self, state: &AppState, email: &OutboxEmail) {
        let outcome = match self.message(email) {
            Ok(message) => self.transport.send(message).await.map(drop).map_err(|e| e.to_string()),
            Err(err) => Err(err.to_string()),
        };
        let now = state.clock.now();
        let recorded = match outcome {
            Ok(()) => state.store.mark_email_sent(email.id, now).await,
            Err(error) => {
                let retry_at = now + retry_delay(email.attempts);
                tracing::warn!(to = %email.to, attempts = email.attempts + 1, error, "email not delivered; will retry");
                state.store.mark_email_failed(email.id, &error, retry_at).await
            }
        };
        if let Err(err) = recorded {
            tracing::error!(error = ?err, email_id = %email.id, "cannot record an email delivery outcome");
        }
    }

    fn message(&self, email: &OutboxEmail) -> anyhow::Result<Message> {
        Ok(Message::builder()
            .from(self.from.clone())
            .to(email.to.as_str().parse()?)
            .subject(email.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(email.body_text.clone())?)
    }
}

fn retry_delay(previous_attempts: i64) -> Duration {
    let doublings = u32::try_from(previous_attempts.clamp(0, 16)).unwrap_or(16);
    FIRST_RETRY.saturating_mul(2u32.saturating_pow(doublings)).min(LAST_RETRY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_from_a_minute_to_six_hours() {
        assert_eq!(retry_delay(0), Duration::from_secs(60));
        assert_eq!(retry_delay(1), Duration::from_secs(120));
        assert_eq!(retry_delay(5), Duration::from_secs(32 * 60));
        assert_eq!(retry_delay(40), LAST_RETRY);
    }
}
