use async_trait::async_trait;
use mcplatform_core::ids::{OrgId, OutboxEmailId};
use mcplatform_core::outbox::{NewEmail, OutboxEmail};
use mcplatform_core::user::EmailAddress;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use super::{Columns, SqlStore, expect_rows, millis};
use crate::error::write_error;
use crate::{OutboxStore, Page, PageRequest, Result, StoreError};

const EMAIL_COLUMNS: &str = "id, organization_id, to_address, subject, body_text, created_at, sent_at, \
     attempts, last_error";

fn email_from_row(row: &AnyRow) -> Result<OutboxEmail> {
    let c = Columns::new(row, "outbox_emails");
    Ok(OutboxEmail {
        id: c.parsed("id")?,
        organization_id: c.opt_parsed("organization_id")?,
        to: c.validated("to_address", EmailAddress::from_stored)?,
        subject: c.text("subject")?,
        body_text: c.text("body_text")?,
        created_at: c.time("created_at")?,
        sent_at: c.opt_time("sent_at")?,
        attempts: c.int("attempts")?,
        last_error: c.opt_text("last_error")?,
    })
}

/// Queues a message on `conn`, which may be a transaction's (the message is then sent only if
/// what it tells about is committed).
pub(super) async fn insert_email(
    conn: &mut sqlx::AnyConnection,
    email: &NewEmail,
    now: OffsetDateTime,
) -> Result<OutboxEmailId> {
    let id = OutboxEmailId::new();
    sqlx::query(
        "INSERT INTO outbox_emails (id, organization_id, to_address, subject, body_text, \
             created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(id.to_string())
    .bind(email.organization_id.map(|org| org.to_string()))
    .bind(email.to.as_str())
    .bind(email.subject.as_str())
    .bind(email.body_text.as_str())
    .bind(millis(now))
    .execute(&mut *conn)
    .await
    .map_err(write_error("email"))?;
    Ok(id)
}

#[async_trait]
impl OutboxStore for SqlStore {
    async fn enqueue_email(&self, email: &NewEmail, now: OffsetDateTime) -> Result<OutboxEmail> {
        let mut conn = self.pool.acquire().await?;
        let id = insert_email(&mut conn, email, now).await?;
        let row = sqlx::query(&format!("SELECT {EMAIL_COLUMNS} FROM outbox_emails WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        email_from_row(&row)
    }

    async fn list_outbox(&self, org: OrgId, page: PageRequest) -> Result<Page<OutboxEmail>> {
        let emails = sqlx::query(&format!(
            "SELECT {EMAIL_COLUMNS} FROM outbox_emails WHERE organization_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
        ))
        .bind(org.to_string())
        .bind(page.probe_limit())
        .bind(i64::from(page.offset))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(email_from_row)
        .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_probe(emails, page))
    }

    async fn due_emails(&self, now: OffsetDateTime, limit: u32) -> Result<Vec<OutboxEmail>> {
        sqlx::query(&format!(
            "SELECT {EMAIL_COLUMNS} FROM outbox_emails WHERE sent_at IS NULL AND next_attempt_at <= $1 \
             ORDER BY next_attempt_at, id LIMIT $2"
        ))
        .bind(millis(now))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(email_from_row)
        .collect()
    }

    async fn mark_email_sent(&self, email: OutboxEmailId, now: OffsetDateTime) -> Result<()> {
        let updated = sqlx::query(
            "UPDATE outbox_emails SET sent_at = $2, attempts = attempts + 1, last_error = NULL \
             WHERE id = $1",
        )
        .bind(email.to_string())
        .bind(millis(now))
        .execute(&self.pool)
        .await?;
        expect_rows(updated)
    }

    async fn mark_email_failed(
        &self,
        email: OutboxEmailId,
        error: &str,
        retry_at: OffsetDateTime,
    ) -> Result<()> {
        let updated = sqlx::query(
            "UPDATE outbox_emails SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3 \
             WHERE id = $1",
        )
        .bind(email.to_string())
        .bind(error)
        .bind(millis(retry_at))
        .execute(&self.pool)
        .await?;
        expect_rows(updated)
    }
}
