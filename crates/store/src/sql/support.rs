//! Support tickets opened from the editor.

use async_trait::async_trait;
use mcplatform_core::ids::{McpServerId, OrgId, SupportTicketId};
use mcplatform_core::support::SupportTicket;
use sqlx::any::AnyRow;

use super::{Columns, SqlStore, expect_rows, millis};
use crate::{Page, PageRequest, Result, StoreError, SupportStore};

const TICKET_COLUMNS: &str = "id, organization_id, mcp_server_id, end_user_id, session_id, title, \
     description, problem_context, email, status, priority, session_context, created_at, updated_at";

fn ticket_from_row(row: &AnyRow) -> Result<SupportTicket> {
    let c = Columns::new(row, "support_tickets");
    let session_context = serde_json::from_str(&c.text("session_context")?)
        .map_err(|e| StoreError::Corrupt { table: "support_tickets", detail: e.to_string() })?;
    Ok(SupportTicket {
        id: c.parsed("id")?,
        organization_id: c.parsed("organization_id")?,
        mcp_server_id: c.parsed("mcp_server_id")?,
        end_user_id: c.opt_parsed("end_user_id")?,
        session_id: c.opt_text("session_id")?,
        title: c.text("title")?,
        description: c.text("description")?,
        problem_context: c.opt_text("problem_context")?,
        email: c.text("email")?,
        status: c.parsed("status")?,
        priority: c.parsed("priority")?,
        session_context,
        created_at: c.time("created_at")?,
        updated_at: c.time("updated_at")?,
    })
}

#[async_trait]
impl SupportStore for SqlStore {
    async fn create_support_ticket(&self, ticket: &SupportTicket) -> Result<()> {
        // The server must be the organization's, and so must the end user when one is named.
        let inserted = sqlx::query(&format!(
            "INSERT INTO support_tickets ({TICKET_COLUMNS}) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 \
             WHERE EXISTS (SELECT 1 FROM mcp_servers WHERE id = $3 AND organization_id = $2) \
               AND ($4 IS NULL OR EXISTS \
                   (SELECT 1 FROM end_users WHERE id = $4 AND organization_id = $2))"
        ))
        .bind(ticket.id.to_string())
        .bind(ticket.organization_id.to_string())
        .bind(ticket.mcp_server_id.to_string())
        .bind(ticket.end_user_id.map(|id| id.to_string()))
        .bind(ticket.session_id.as_deref())
        .bind(ticket.title.as_str())
        .bind(ticket.description.as_str())
        .bind(ticket.problem_context.as_deref())
        .bind(ticket.email.as_str())
        .bind(ticket.status.as_str())
        .bind(ticket.priority.as_str())
        .bind(ticket.session_context.to_string())
        .bind(millis(ticket.created_at))
        .bind(millis(ticket.updated_at))
        .execute(&self.pool)
        .await
        .map_err(crate::error::write_error("support_ticket"))?;
        expect_rows(inserted)
    }

    async fn get_support_ticket(
        &self,
        org: OrgId,
        ticket: SupportTicketId,
    ) -> Result<SupportTicket> {
        let row = sqlx::query(&format!(
            "SELECT {TICKET_COLUMNS} FROM support_tickets WHERE organization_id = $1 AND id = $2"
        ))
        .bind(org.to_string())
        .bind(ticket.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        ticket_from_row(&row)
    }

    async fn list_support_tickets(
        &self,
        org: OrgId,
        server: Option<McpServerId>,
        page: PageRequest,
    ) -> Result<Page<SupportTicket>> {
        let by_server = if server.is_some() { "AND mcp_server_id = $4" } else { "" };
        let sql = format!(
            "SELECT {TICKET_COLUMNS} FROM support_tickets WHERE organization_id = $1 {by_server} \
             ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
        );
        let query = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(page.probe_limit())
            .bind(i64::from(page.offset));
        let query = match server {
            Some(server) => query.bind(server.to_string()),
            None => query,
        };
        let tickets = query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(ticket_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_probe(tickets, page))
    }
}
