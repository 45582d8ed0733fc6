use async_trait::async_trait;
use mcplatform_core::audit::{AuditEvent, NewAuditEvent};
use mcplatform_core::ids::{AuditEventId, OrgId, UserId};
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use super::{Columns, SqlStore, millis};
use crate::error::write_error;
use crate::{AuditFilter, AuditStore, Page, PageRequest, Result};

const EVENT_COLUMNS: &str = "id, organization_id, actor_user_id, actor_label, action, target, detail, \
     ip_address, created_at";

fn event_from_row(row: &AnyRow) -> Result<AuditEvent> {
    let c = Columns::new(row, "audit_events");
    Ok(AuditEvent {
        id: c.parsed("id")?,
        organization_id: c.opt_parsed("organization_id")?,
        actor_user_id: c.opt_parsed("actor_user_id")?,
        actor_label: c.text("actor_label")?,
        action: c.text("action")?,
        target: c.text("target")?,
        detail: c.text("detail")?,
        ip_address: c.opt_text("ip_address")?,
        created_at: c.time("created_at")?,
    })
}

/// Escapes `%`, `_` and `\\` so an area is matched literally by `LIKE … ESCAPE '\\'`.
fn like_prefix(area: &str) -> String {
    let escaped: String = area
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            other => vec![other],
        })
        .collect();
    format!("{escaped}.%")
}

#[async_trait]
impl AuditStore for SqlStore {
    async fn record_audit_event(&self, event: &NewAuditEvent, now: OffsetDateTime) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO audit_events ({EVENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(AuditEventId::new().to_string())
        .bind(event.organization_id.map(|org| org.to_string()))
        .bind(event.actor_user_id.map(|user| user.to_string()))
        .bind(event.actor_label.as_str())
        .bind(event.action)
        .bind(event.target.as_str())
        .bind(event.detail.as_str())
        .bind(event.ip_address.clone())
        .bind(millis(now))
        .execute(&self.pool)
        .await
        .map_err(write_error("audit_event"))?;
        Ok(())
    }

    async fn list_audit_events(
        &self,
        org: OrgId,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>> {
        // Unused filters compare against NULL and drop out of the WHERE clause.
        let events = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM audit_events WHERE organization_id = $1 \
             AND ($2 IS NULL OR action LIKE $2 ESCAPE '\\') \
             AND ($3 IS NULL OR actor_user_id = $3) \
             ORDER BY created_at DESC, id DESC LIMIT $4 OFFSET $5"
        ))
        .bind(org.to_string())
        .bind(filter.area.as_deref().map(like_prefix))
        .bind(filter.actor.map(|user| user.to_string()))
        .bind(page.probe_limit())
        .bind(i64::from(page.offset))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(event_from_row)
        .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_probe(events, page))
    }

    async fn list_account_events(
        &self,
        user: UserId,
        page: PageRequest,
    ) -> Result<Vec<AuditEvent>> {
        sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM audit_events WHERE organization_id IS NULL AND actor_user_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
        ))
        .bind(user.to_string())
        .bind(i64::from(page.limit))
        .bind(i64::from(page.offset))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(event_from_row)
        .collect()
    }
}
