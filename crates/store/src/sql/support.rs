//! Support tickets, their activity streams and watchers, each server's support settings and the
//! outgoing webhook queue.

use std::time::Duration;

use async_trait::async_trait;
use mcplatform_core::ids::{
    McpServerId, OrgId, SupportTicketId, TicketActivityId, UserId, WebhookDeliveryId,
};
use mcplatform_core::support::activity::TicketActivity;
use mcplatform_core::support::lifecycle::Actor;
use mcplatform_core::support::{SupportSettings, SupportTicket, TicketStatus};
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use super::outbox::insert_email;
use super::{Columns, Conditions, Param, SqlStore, expect_rows, like_pattern, millis};
use crate::error::write_error;
use crate::{
    AssigneeFilter, NewWebhook, Page, PageRequest, Result, StoreError, StoredSupportSettings,
    SupportStore, TicketChange, TicketFilter, TicketSort, WebhookAttempt, WebhookDelivery,
    WebhookStatus,
};

const TICKET_COLUMNS: &str = "id, organization_id, mcp_server_id, end_user_id, session_id, title, \
     summary, description, problem_context, category, email, status, priority, assignee_id, \
     session_context, created_at, updated_at, resolved_at, resolved_by, closed_at, closed_by, \
     auto_resolve_at, version";

const ACTIVITY_COLUMNS: &str =
    "id, organization_id, ticket_id, kind, actor_kind, actor_id, body, data, created_at, edited_at";

const DELIVERY_COLUMNS: &str = "id, organization_id, mcp_server_id, event_type, payload, \
     created_at, next_attempt_at, attempts, delivered_at, last_status, last_error";

fn corrupt(table: &'static str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { table, detail: detail.to_string() }
}

fn ticket_from_row(row: &AnyRow) -> Result<SupportTicket> {
    let c = Columns::new(row, "support_tickets");
    let session_context = serde_json::from_str(&c.text("session_context")?)
        .map_err(|e| corrupt("support_tickets", e))?;
    Ok(SupportTicket {
        id: c.parsed("id")?,
        organization_id: c.parsed("organization_id")?,
        mcp_server_id: c.parsed("mcp_server_id")?,
        end_user_id: c.opt_parsed("end_user_id")?,
        session_id: c.opt_text("session_id")?,
        title: c.text("title")?,
        summary: c.opt_text("summary")?,
        description: c.text("description")?,
        problem_context: c.opt_text("problem_context")?,
        category: c.opt_text("category")?,
        email: c.opt_text("email")?,
        status: c.parsed("status")?,
        priority: c.parsed("priority")?,
        assignee_id: c.opt_parsed("assignee_id")?,
        session_context,
        created_at: c.time("created_at")?,
        updated_at: c.time("updated_at")?,
        resolved_at: c.opt_time("resolved_at")?,
        resolved_by: c.opt_parsed("resolved_by")?,
        closed_at: c.opt_time("closed_at")?,
        closed_by: c.opt_parsed("closed_by")?,
        auto_resolve_at: c.opt_time("auto_resolve_at")?,
        version: c.int("version")?,
    })
}

fn activity_from_row(row: &AnyRow) -> Result<TicketActivity> {
    let c = Columns::new(row, "ticket_activities");
    let actor_id = c.opt_text("actor_id")?;
    fn parse_id<T: std::str::FromStr<Err: std::fmt::Display>>(id: Option<String>) -> Result<T> {
        id.ok_or_else(|| corrupt("ticket_activities", "actor without id"))?
            .parse()
            .map_err(|e| corrupt("ticket_activities", e))
    }
    let actor = match c.text("actor_kind")?.as_str() {
        "member" => Actor::Member(parse_id(actor_id)?),
        "end_user" => Actor::EndUser(parse_id(actor_id)?),
        "system" => Actor::System,
        other => return Err(corrupt("ticket_activities", format!("actor kind {other:?}"))),
    };
    Ok(TicketActivity {
        id: c.parsed("id")?,
        organization_id: c.parsed("organization_id")?,
        ticket_id: c.parsed("ticket_id")?,
        kind: c.parsed("kind")?,
        actor,
        body: c.opt_text("body")?,
        data: serde_json::from_str(&c.text("data")?)
            .map_err(|e| corrupt("ticket_activities", e))?,
        created_at: c.time("created_at")?,
        edited_at: c.opt_time("edited_at")?,
    })
}

fn delivery_from_row(row: &AnyRow) -> Result<WebhookDelivery> {
    let c = Columns::new(row, "webhook_deliveries");
    Ok(WebhookDelivery {
        id: c.parsed("id")?,
        organization_id: c.parsed("organization_id")?,
        mcp_server_id: c.parsed("mcp_server_id")?,
        event_type: c.text("event_type")?,
        payload: c.text("payload")?,
        created_at: c.time("created_at")?,
        next_attempt_at: c.opt_time("next_attempt_at")?,
        attempts: c.int("attempts")?,
        delivered_at: c.opt_time("delivered_at")?,
        last_status: c.opt_int("last_status")?,
        last_error: c.opt_text("last_error")?,
    })
}

fn actor_columns(actor: Actor) -> (&'static str, Option<String>) {
    match actor {
        Actor::Member(user) => ("member", Some(user.to_string())),
        Actor::EndUser(user) => ("end_user", Some(user.to_string())),
        Actor::System => ("system", None),
    }
}

fn opt_millis(at: Option<OffsetDateTime>) -> Option<i64> {
    at.map(millis)
}

fn duration_millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn filter_conditions(org: OrgId, filter: &TicketFilter) -> Conditions {
    let mut c = Conditions::new("t.organization_id", org);
    if let Some(server) = filter.server {
        let p = c.bind(Param::Text(server.to_string()));
        c.and(&format!("t.mcp_server_id = {p}"));
    }
    if !filter.statuses.is_empty() {
        let list: Vec<String> = filter
            .statuses
            .iter()
            .map(|status| c.bind(Param::Text(status.as_str().into())))
            .collect();
        c.and(&format!("t.status IN ({})", list.join(", ")));
    }
    if let Some(priority) = filter.priority {
        let p = c.bind(Param::Text(priority.as_str().into()));
        c.and(&format!("t.priority = {p}"));
    }
    match filter.assignee {
        Some(AssigneeFilter::Unassigned) => c.and("t.assignee_id IS NULL"),
        Some(AssigneeFilter::Member(user)) => {
            let p = c.bind(Param::Text(user.to_string()));
            c.and(&format!("t.assignee_id = {p}"));
        }
        None => {}
    }
    if let Some(user) = filter.end_user {
        let p = c.bind(Param::Text(user.to_string()));
        c.and(&format!("t.end_user_id = {p}"));
    }
    if let Some(session) = &filter.session_id {
        let p = c.bind(Param::Text(session.clone()));
        c.and(&format!("t.session_id = {p}"));
    }
    if let Some(from) = filter.opened_from {
        let p = c.bind(Param::Int(millis(from)));
        c.and(&format!("t.created_at >= {p}"));
    }
    if let Some(before) = filter.opened_before {
        let p = c.bind(Param::Int(millis(before)));
        c.and(&format!("t.created_at < {p}"));
    }
    for word in filter.search.as_deref().unwrap_or_default().split_whitespace().take(8) {
        let p = c.bind(Param::Text(like_pattern(word)));
        let like = |column: &str| format!("LOWER({column}) LIKE {p} ESCAPE '\\'");
        c.and(&format!(
            "({} OR {} OR {} OR {} OR {} OR EXISTS (SELECT 1 FROM ticket_activities a \
               WHERE a.ticket_id = t.id AND a.kind IN ('comment', 'internal_note') AND {}))",
            like("t.title"),
            like("COALESCE(t.summary, '')"),
            like("t.description"),
            like("COALESCE(t.email, '')"),
            like("COALESCE(t.category, '')"),
            like("a.body"),
        ));
    }
    c
}

impl SqlStore {
    /// What a ticket change brings along, on the change's transaction.
    async fn write_change_effects(
        conn: &mut sqlx::AnyConnection,
        change: &TicketChange,
    ) -> Result<()> {
        let ticket = &change.ticket;
        for activity in &change.activities {
            let (actor_kind, actor_id) = actor_columns(activity.actor);
            sqlx::query(&format!(
                "INSERT INTO ticket_activities ({ACTIVITY_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            ))
            .bind(activity.id.to_string())
            .bind(ticket.organization_id.to_string())
            .bind(ticket.id.to_string())
            .bind(activity.kind.as_str())
            .bind(actor_kind)
            .bind(actor_id)
            .bind(activity.body.as_deref())
            .bind(activity.data.to_string())
            .bind(millis(activity.created_at))
            .bind(opt_millis(activity.edited_at))
            .execute(&mut *conn)
            .await
            .map_err(write_error("ticket_activity"))?;
        }
        for watcher in &change.watchers {
            // Only the organization's members watch its tickets.
            sqlx::query(
                "INSERT INTO ticket_watchers (ticket_id, user_id, organization_id) \
                 SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM memberships \
                     WHERE organization_id = $3 AND user_id = $2) \
                 ON CONFLICT (ticket_id, user_id) DO NOTHING",
            )
            .bind(ticket.id.to_string())
            .bind(watcher.to_string())
            .bind(ticket.organization_id.to_string())
            .execute(&mut *conn)
            .await?;
        }
        for email in &change.emails {
            insert_email(conn, email, ticket.updated_at).await?;
        }
        for webhook in &change.webhooks {
            insert_webhook(conn, webhook, ticket.updated_at).await?;
        }
        Ok(())
    }
}

/// What members watch: a ticket (its replies) or a server (its new tickets).
#[derive(Clone, Copy)]
enum Watched {
    Ticket,
    Server,
}

impl Watched {
    /// The watchers' table, its column naming what is watched, and that thing's table.
    const fn tables(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::Ticket => ("ticket_watchers", "ticket_id", "support_tickets"),
            Self::Server => ("support_server_watchers", "mcp_server_id", "mcp_servers"),
        }
    }
}

impl SqlStore {
    /// Starts or stops `user` watching; idempotent. Watching needs the thing and the member
    /// to be the organization's (`NotFound` otherwise).
    async fn set_watcher(
        &self,
        watched: Watched,
        org: OrgId,
        id: &str,
        user: UserId,
        watching: bool,
    ) -> Result<()> {
        let (table, column, parent) = watched.tables();
        let (org, user) = (org.to_string(), user.to_string());
        if !watching {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE {column} = $1 AND user_id = $2 AND organization_id = $3"
            ))
            .bind(id)
            .bind(&user)
            .bind(&org)
            .execute(&self.pool)
            .await?;
            return Ok(());
        }
        let inserted = sqlx::query(&format!(
            "INSERT INTO {table} ({column}, user_id, organization_id) SELECT $1, $2, $3 \
             WHERE EXISTS (SELECT 1 FROM {parent} WHERE id = $1 AND organization_id = $3) \
               AND EXISTS (SELECT 1 FROM memberships WHERE organization_id = $3 AND user_id = $2) \
             ON CONFLICT ({column}, user_id) DO NOTHING"
        ))
        .bind(id)
        .bind(&user)
        .bind(&org)
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 0 {
            // Already watching, or not the organization's thing or member.
            let known = sqlx::query(&format!(
                "SELECT 1 FROM {table} WHERE {column} = $1 AND user_id = $2 AND organization_id = $3"
            ))
            .bind(id)
            .bind(&user)
            .bind(&org)
            .fetch_optional(&self.pool)
            .await?;
            if known.is_none() {
                return Err(StoreError::NotFound);
            }
        }
        Ok(())
    }
}

async fn insert_webhook(
    conn: &mut sqlx::AnyConnection,
    webhook: &NewWebhook,
    now: OffsetDateTime,
) -> Result<()> {
    let inserted = sqlx::query(
        "INSERT INTO webhook_deliveries (id, organization_id, mcp_server_id, event_type, payload, \
             created_at, next_attempt_at) \
         SELECT $1, $2, $3, $4, $5, $6, $6 \
         WHERE EXISTS (SELECT 1 FROM mcp_servers WHERE id = $3 AND organization_id = $2)",
    )
    .bind(WebhookDeliveryId::new().to_string())
    .bind(webhook.organization_id.to_string())
    .bind(webhook.mcp_server_id.to_string())
    .bind(webhook.event_type.as_str())
    .bind(webhook.payload.as_str())
    .bind(millis(now))
    .execute(&mut *conn)
    .await
    .map_err(write_error("webhook_delivery"))?;
    expect_rows(inserted)
}

/// Whether `user` is a member of `org`, on `conn`.
async fn is_member(conn: &mut sqlx::AnyConnection, org: OrgId, user: UserId) -> Result<bool> {
    let found =
        sqlx::query("SELECT 1 FROM memberships WHERE organization_id = $1 AND user_id = $2")
            .bind(org.to_string())
            .bind(user.to_string())
            .fetch_optional(&mut *conn)
            .await?;
    Ok(found.is_some())
}

#[async_trait]
impl SupportStore for SqlStore {
    async fn create_support_ticket(&self, change: &TicketChange) -> Result<()> {
        let ticket = &change.ticket;
        let mut tx = self.pool.begin().await?;
        if let Some(assignee) = ticket.assignee_id
            && !is_member(&mut tx, ticket.organization_id, assignee).await?
        {
            return Err(StoreError::NotFound);
        }
        // The server must be the organization's, and so must the end user when one is named.
        let inserted = sqlx::query(&format!(
            "INSERT INTO support_tickets ({TICKET_COLUMNS}) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
                 $18, $19, $20, $21, $22, 0 \
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
        .bind(ticket.summary.as_deref())
        .bind(ticket.description.as_str())
        .bind(ticket.problem_context.as_deref())
        .bind(ticket.category.as_deref())
        .bind(ticket.email.as_deref())
        .bind(ticket.status.as_str())
        .bind(ticket.priority.as_str())
        .bind(ticket.assignee_id.map(|id| id.to_string()))
        .bind(ticket.session_context.to_string())
        .bind(millis(ticket.created_at))
        .bind(millis(ticket.updated_at))
        .bind(opt_millis(ticket.resolved_at))
        .bind(ticket.resolved_by.map(|id| id.to_string()))
        .bind(opt_millis(ticket.closed_at))
        .bind(ticket.closed_by.map(|id| id.to_string()))
        .bind(opt_millis(ticket.auto_resolve_at))
        .execute(&mut *tx)
        .await
        .map_err(write_error("support_ticket"))?;
        expect_rows(inserted)?;
        Self::write_change_effects(&mut tx, change).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update_support_ticket(&self, change: &TicketChange) -> Result<()> {
        let ticket = &change.ticket;
        let mut tx = self.pool.begin().await?;
        if let Some(assignee) = ticket.assignee_id
            && !is_member(&mut tx, ticket.organization_id, assignee).await?
        {
            return Err(StoreError::NotFound);
        }
        let updated = sqlx::query(
            "UPDATE support_tickets SET title = $3, summary = $4, category = $5, email = $6, \
                 status = $7, priority = $8, assignee_id = $9, updated_at = $10, \
                 resolved_at = $11, resolved_by = $12, closed_at = $13, closed_by = $14, \
                 auto_resolve_at = $15, version = version + 1 \
             WHERE organization_id = $1 AND id = $2 AND version = $16",
        )
        .bind(ticket.organization_id.to_string())
        .bind(ticket.id.to_string())
        .bind(ticket.title.as_str())
        .bind(ticket.summary.as_deref())
        .bind(ticket.category.as_deref())
        .bind(ticket.email.as_deref())
        .bind(ticket.status.as_str())
        .bind(ticket.priority.as_str())
        .bind(ticket.assignee_id.map(|id| id.to_string()))
        .bind(millis(ticket.updated_at))
        .bind(opt_millis(ticket.resolved_at))
        .bind(ticket.resolved_by.map(|id| id.to_string()))
        .bind(opt_millis(ticket.closed_at))
        .bind(ticket.closed_by.map(|id| id.to_string()))
        .bind(opt_millis(ticket.auto_resolve_at))
        .bind(ticket.version)
        .execute(&mut *tx)
        .await
        .map_err(write_error("support_ticket"))?;
        if updated.rows_affected() == 0 {
            let exists =
                sqlx::query("SELECT 1 FROM support_tickets WHERE organization_id = $1 AND id = $2")
                    .bind(ticket.organization_id.to_string())
                    .bind(ticket.id.to_string())
                    .fetch_optional(&mut *tx)
                    .await?;
            return Err(match exists {
                Some(_) => StoreError::Conflict("ticket_changed"),
                None => StoreError::NotFound,
            });
        }
        Self::write_change_effects(&mut tx, change).await?;
        tx.commit().await?;
        Ok(())
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
        filter: &TicketFilter,
        sort: TicketSort,
        page: PageRequest,
    ) -> Result<Page<SupportTicket>> {
        let mut conditions = filter_conditions(org, filter);
        let order = match sort {
            TicketSort::Newest => "t.created_at DESC, t.id DESC",
            TicketSort::Oldest => "t.created_at, t.id",
            TicketSort::RecentlyUpdated => "t.updated_at DESC, t.id DESC",
            TicketSort::Priority => {
                "CASE t.priority WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 \
                 ELSE 3 END, t.created_at DESC, t.id DESC"
            }
        };
        let limit = conditions.bind(Param::Int(page.probe_limit()));
        let offset = conditions.bind(Param::Int(i64::from(page.offset)));
        let columns = TICKET_COLUMNS.split(", ").map(|c| format!("t.{c}")).collect::<Vec<_>>();
        let sql = format!(
            "SELECT {} FROM support_tickets t WHERE {} ORDER BY {order} LIMIT {limit} OFFSET {offset}",
            columns.join(", "),
            conditions.sql,
        );
        let tickets = conditions
            .bind_to(sqlx::query(&sql))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(ticket_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_probe(tickets, page))
    }

    async fn count_support_tickets(
        &self,
        org: OrgId,
        server: Option<McpServerId>,
    ) -> Result<Vec<(TicketStatus, i64)>> {
        let by_server = if server.is_some() { "AND mcp_server_id = $2" } else { "" };
        let sql = format!(
            "SELECT status, COUNT(*) AS n FROM support_tickets \
             WHERE organization_id = $1 {by_server} GROUP BY status"
        );
        let query = sqlx::query(&sql).bind(org.to_string());
        let query = match server {
            Some(server) => query.bind(server.to_string()),
            None => query,
        };
        let mut counts = query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| {
                let c = Columns::new(row, "support_tickets");
                Ok((c.parsed::<TicketStatus>("status")?, c.int("n")?))
            })
            .collect::<Result<Vec<_>>>()?;
        counts.sort_by_key(|(status, _)| TicketStatus::ALL.iter().position(|s| s == status));
        Ok(counts)
    }

    async fn tickets_due_to_resolve(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<SupportTicket>> {
        sqlx::query(&format!(
            "SELECT {TICKET_COLUMNS} FROM support_tickets \
             WHERE auto_resolve_at IS NOT NULL AND auto_resolve_at <= $1 \
               AND status = 'awaiting_customer' \
             ORDER BY auto_resolve_at LIMIT $2"
        ))
        .bind(millis(now))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(ticket_from_row)
        .collect()
    }

    async fn list_ticket_activities(
        &self,
        org: OrgId,
        ticket: SupportTicketId,
        include_internal: bool,
    ) -> Result<Vec<TicketActivity>> {
        let public_only = if include_internal { "" } else { "AND kind <> 'internal_note'" };
        sqlx::query(&format!(
            "SELECT {ACTIVITY_COLUMNS} FROM ticket_activities \
             WHERE organization_id = $1 AND ticket_id = $2 {public_only} \
             ORDER BY created_at, id"
        ))
        .bind(org.to_string())
        .bind(ticket.to_string())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(activity_from_row)
        .collect()
    }

    async fn get_ticket_activity(
        &self,
        org: OrgId,
        activity: TicketActivityId,
    ) -> Result<TicketActivity> {
        let row = sqlx::query(&format!(
            "SELECT {ACTIVITY_COLUMNS} FROM ticket_activities WHERE organization_id = $1 AND id = $2"
        ))
        .bind(org.to_string())
        .bind(activity.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        activity_from_row(&row)
    }

    async fn edit_ticket_comment(
        &self,
        org: OrgId,
        activity: TicketActivityId,
        author: UserId,
        body: &str,
        now: OffsetDateTime,
    ) -> Result<()> {
        let updated = sqlx::query(
            "UPDATE ticket_activities SET body = $4, edited_at = $5 \
             WHERE organization_id = $1 AND id = $2 AND actor_kind = 'member' AND actor_id = $3 \
               AND kind IN ('comment', 'internal_note')",
        )
        .bind(org.to_string())
        .bind(activity.to_string())
        .bind(author.to_string())
        .bind(body)
        .bind(millis(now))
        .execute(&self.pool)
        .await?;
        expect_rows(updated)
    }

    async fn delete_ticket_comment(
        &self,
        org: OrgId,
        activity: TicketActivityId,
        author: UserId,
    ) -> Result<()> {
        let deleted = sqlx::query(
            "DELETE FROM ticket_activities \
             WHERE organization_id = $1 AND id = $2 AND actor_kind = 'member' AND actor_id = $3 \
               AND kind IN ('comment', 'internal_note')",
        )
        .bind(org.to_string())
        .bind(activity.to_string())
        .bind(author.to_string())
        .execute(&self.pool)
        .await?;
        expect_rows(deleted)
    }

    async fn set_ticket_watcher(
        &self,
        org: OrgId,
        ticket: SupportTicketId,
        user: UserId,
        watching: bool,
    ) -> Result<()> {
        self.set_watcher(Watched::Ticket, org, &ticket.to_string(), user, watching).await
    }

    async fn ticket_watchers(&self, org: OrgId, ticket: SupportTicketId) -> Result<Vec<UserId>> {
        sqlx::query(
            "SELECT user_id FROM ticket_watchers WHERE organization_id = $1 AND ticket_id = $2 \
             ORDER BY user_id",
        )
        .bind(org.to_string())
        .bind(ticket.to_string())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| Columns::new(row, "ticket_watchers").parsed("user_id"))
        .collect()
    }

    async fn set_server_watcher(
        &self,
        org: OrgId,
        server: McpServerId,
        user: UserId,
        watching: bool,
    ) -> Result<()> {
        self.set_watcher(Watched::Server, org, &server.to_string(), user, watching).await
    }

    async fn server_watchers(&self, org: OrgId, server: McpServerId) -> Result<Vec<UserId>> {
        sqlx::query(
            "SELECT user_id FROM support_server_watchers \
             WHERE organization_id = $1 AND mcp_server_id = $2 ORDER BY user_id",
        )
        .bind(org.to_string())
        .bind(server.to_string())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| Columns::new(row, "support_server_watchers").parsed("user_id"))
        .collect()
    }

    async fn get_support_settings(
        &self,
        org: OrgId,
        server: McpServerId,
    ) -> Result<StoredSupportSettings> {
        let row = sqlx::query(
            "SELECT categories, auto_resolve_after_secs, webhook_url, webhook_secret \
             FROM support_settings WHERE organization_id = $1 AND mcp_server_id = $2",
        )
        .bind(org.to_string())
        .bind(server.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(StoredSupportSettings::default()) };
        let c = Columns::new(&row, "support_settings");
        let categories: Vec<String> = serde_json::from_str(&c.text("categories")?)
            .map_err(|e| corrupt("support_settings", e))?;
        let secs = c.opt_int("auto_resolve_after_secs")?;
        let webhook_url = c
            .opt_text("webhook_url")?
            .map(|url| url.parse().map_err(|e| corrupt("support_settings", e)))
            .transpose()?;
        let webhook_secret_sealed = if c.opt_text("webhook_secret")?.is_some() {
            Some(c.base64("webhook_secret")?)
        } else {
            None
        };
        Ok(StoredSupportSettings {
            settings: SupportSettings {
                categories,
                auto_resolve_after: secs
                    .map(|secs| Duration::from_secs(u64::try_from(secs).unwrap_or_default())),
                webhook_url,
            },
            webhook_secret_sealed,
        })
    }

    async fn put_support_settings(
        &self,
        org: OrgId,
        server: McpServerId,
        stored: &StoredSupportSettings,
        now: OffsetDateTime,
    ) -> Result<()> {
        use base64::Engine as _;
        let settings = &stored.settings;
        let categories = serde_json::to_string(&settings.categories)
            .map_err(|e| corrupt("support_settings", e))?;
        let secs = settings
            .auto_resolve_after
            .map(|after| i64::try_from(after.as_secs()).unwrap_or(i64::MAX));
        let secret = stored
            .webhook_secret_sealed
            .as_ref()
            .map(|sealed| base64::engine::general_purpose::STANDARD.encode(sealed));
        let written = sqlx::query(
            "INSERT INTO support_settings (mcp_server_id, organization_id, categories, \
                 auto_resolve_after_secs, webhook_url, webhook_secret, updated_at) \
             SELECT $1, $2, $3, $4, $5, $6, $7 \
             WHERE EXISTS (SELECT 1 FROM mcp_servers WHERE id = $1 AND organization_id = $2) \
             ON CONFLICT (mcp_server_id) DO UPDATE SET categories = excluded.categories, \
                 auto_resolve_after_secs = excluded.auto_resolve_after_secs, \
                 webhook_url = excluded.webhook_url, webhook_secret = excluded.webhook_secret, \
                 updated_at = excluded.updated_at",
        )
        .bind(server.to_string())
        .bind(org.to_string())
        .bind(categories)
        .bind(secs)
        .bind(settings.webhook_url.as_ref().map(|url| url.to_string()))
        .bind(secret)
        .bind(millis(now))
        .execute(&self.pool)
        .await?;
        expect_rows(written)
    }

    async fn enqueue_webhook(&self, webhook: &NewWebhook, now: OffsetDateTime) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        insert_webhook(&mut conn, webhook, now).await
    }

    async fn claim_due_webhooks(
        &self,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>> {
        // The outer condition is checked again on each row as it is updated, so two nodes
        // claiming at once never both get a message.
        sqlx::query(&format!(
            "UPDATE webhook_deliveries SET next_attempt_at = $2 \
             WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= $1 AND id IN \
                 (SELECT id FROM webhook_deliveries \
                  WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= $1 \
                  ORDER BY next_attempt_at, id LIMIT $3) \
             RETURNING {DELIVERY_COLUMNS}"
        ))
        .bind(millis(now))
        .bind(millis(now) + duration_millis(lease))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(delivery_from_row)
        .collect()
    }

    async fn record_webhook_attempt(
        &self,
        delivery: WebhookDeliveryId,
        attempt: &WebhookAttempt,
        now: OffsetDateTime,
    ) -> Result<()> {
        let updated = sqlx::query(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = $2, \
                 delivered_at = $3, last_status = $4, last_error = $5 WHERE id = $1",
        )
        .bind(delivery.to_string())
        .bind(opt_millis(attempt.retry_at))
        .bind(attempt.delivered.then(|| millis(now)))
        .bind(attempt.status.map(i64::from))
        .bind(attempt.error.as_deref())
        .execute(&self.pool)
        .await?;
        expect_rows(updated)
    }

    async fn webhook_status(&self, org: OrgId, server: McpServerId) -> Result<WebhookStatus> {
        let row = sqlx::query(
            "SELECT \
                 (SELECT COUNT(*) FROM webhook_deliveries WHERE organization_id = $1 \
                     AND mcp_server_id = $2 AND next_attempt_at IS NOT NULL) AS pending, \
                 (SELECT COUNT(*) FROM webhook_deliveries WHERE organization_id = $1 \
                     AND mcp_server_id = $2 AND next_attempt_at IS NULL \
                     AND delivered_at IS NULL) AS failed, \
                 (SELECT MAX(delivered_at) FROM webhook_deliveries WHERE organization_id = $1 \
                     AND mcp_server_id = $2) AS last_success",
        )
        .bind(org.to_string())
        .bind(server.to_string())
        .fetch_one(&self.pool)
        .await?;
        let c = Columns::new(&row, "webhook_deliveries");
        let mut status = WebhookStatus {
            pending: c.int("pending")?,
            failed: c.int("failed")?,
            last_success_at: c.opt_time("last_success")?,
            ..WebhookStatus::default()
        };
        let failure = sqlx::query(
            "SELECT last_error FROM webhook_deliveries WHERE organization_id = $1 \
               AND mcp_server_id = $2 AND last_error IS NOT NULL AND delivered_at IS NULL \
             ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .bind(org.to_string())
        .bind(server.to_string())
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = failure {
            let c = Columns::new(&row, "webhook_deliveries");
            status.last_error = c.opt_text("last_error")?;
        }
        Ok(status)
    }

    async fn list_webhook_deliveries(
        &self,
        org: OrgId,
        server: McpServerId,
        page: PageRequest,
    ) -> Result<Page<WebhookDelivery>> {
        let deliveries = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries \
             WHERE organization_id = $1 AND mcp_server_id = $2 \
             ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"
        ))
        .bind(org.to_string())
        .bind(server.to_string())
        .bind(page.probe_limit())
        .bind(i64::from(page.offset))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(delivery_from_row)
        .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_probe(deliveries, page))
    }
}
