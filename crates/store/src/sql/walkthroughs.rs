//! Walkthroughs: authoring (walkthroughs and their numbered steps), assignment to servers,
//! delivery (progress) and the event history analytics read.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use mcplatform_core::ids::{EndUserId, McpServerId, OrgId, WalkthroughId, WalkthroughStepId};
use mcplatform_core::walkthrough::{
    Assignment, EventKind, Progress, ProgressEvent, StepContent, Walkthrough, WalkthroughDetails,
    WalkthroughStep,
};
use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use time::OffsetDateTime;

use super::{Columns, SqlStore, expect_rows, millis};
use crate::error::write_error;
use crate::{Page, PageRequest, Result, StoreError, WalkthroughStore, WalkthroughSummary};

/// Always read through the alias `w`.
const WALKTHROUGH_COLUMNS: &str = "w.id, w.organization_id, w.title, w.description, w.kind, \
     w.status, w.estimated_minutes, w.tags, w.metadata, w.created_at, w.updated_at";

const STEP_COLUMNS: &str =
    "id, walkthrough_id, title, content, display_order, created_at, updated_at";

const PROGRESS_COLUMNS: &str = "end_user_id, walkthrough_id, organization_id, current_step_id, \
     last_server_id, last_session_id, started_at, last_activity_at, completed_at";

const EVENT_COLUMNS: &str = "id, organization_id, walkthrough_id, end_user_id, mcp_server_id, \
     session_id, kind, step_id, at";

fn json_column<T: serde::de::DeserializeOwned>(
    c: &Columns<'_>,
    table: &'static str,
    column: &str,
) -> Result<T> {
    serde_json::from_str(&c.text(column)?)
        .map_err(|e| StoreError::Corrupt { table, detail: format!("{column}: {e}") })
}

fn walkthrough_from_row(row: &AnyRow) -> Result<Walkthrough> {
    let c = Columns::new(row, "walkthroughs");
    let tags: Vec<String> = json_column(&c, "walkthroughs", "tags")?;
    let minutes: Option<u32> = c.opt_int_as("estimated_minutes")?;
    // Checked again on the way out: a row that breaks the rules is reported, not served.
    let details = WalkthroughDetails::new(
        &c.text("title")?,
        &c.text("description")?,
        c.parsed("kind")?,
        c.parsed("status")?,
        minutes,
        &tags,
    )
    .map_err(|e| StoreError::Corrupt { table: "walkthroughs", detail: e.to_string() })?;
    Ok(Walkthrough {
        id: c.parsed("id")?,
        organization_id: c.parsed("organization_id")?,
        details,
        metadata: json_column::<Map<String, Value>>(&c, "walkthroughs", "metadata")?,
        created_at: c.time("created_at")?,
        updated_at: c.time("updated_at")?,
    })
}

fn step_from_row(row: &AnyRow) -> Result<WalkthroughStep> {
    let c = Columns::new(row, "walkthrough_steps");
    Ok(WalkthroughStep {
        id: c.parsed("id")?,
        walkthrough_id: c.parsed("walkthrough_id")?,
        title: c.text("title")?,
        content: json_column(&c, "walkthrough_steps", "content")?,
        display_order: c.int("display_order")?,
        created_at: c.time("created_at")?,
        updated_at: c.time("updated_at")?,
    })
}

fn assignment_from_row(row: &AnyRow) -> Result<Assignment> {
    let c = Columns::new(row, "mcp_server_walkthroughs");
    Ok(Assignment {
        mcp_server_id: c.parsed("mcp_server_id")?,
        walkthrough_id: c.parsed("walkthrough_id")?,
        display_order: c.int("assignment_order")?,
        enabled: c.flag("enabled")?,
    })
}

fn progress_from_row(row: &AnyRow) -> Result<Progress> {
    let c = Columns::new(row, "walkthrough_progress");
    Ok(Progress {
        organization_id: c.parsed("organization_id")?,
        end_user_id: c.parsed("end_user_id")?,
        walkthrough_id: c.parsed("walkthrough_id")?,
        completed_steps: HashSet::new(),
        current_step_id: c.opt_parsed("current_step_id")?,
        last_server_id: c.parsed("last_server_id")?,
        last_session_id: c.opt_text("last_session_id")?,
        started_at: c.time("started_at")?,
        last_activity_at: c.time("last_activity_at")?,
        completed_at: c.opt_time("completed_at")?,
    })
}

fn event_from_row(row: &AnyRow) -> Result<ProgressEvent> {
    let c = Columns::new(row, "walkthrough_events");
    Ok(ProgressEvent {
        id: c.parsed("id")?,
        organization_id: c.parsed("organization_id")?,
        walkthrough_id: c.parsed("walkthrough_id")?,
        end_user_id: c.parsed("end_user_id")?,
        mcp_server_id: c.parsed("mcp_server_id")?,
        session_id: c.opt_text("session_id")?,
        kind: c.parsed("kind")?,
        step_id: c.opt_parsed("step_id")?,
        at: c.time("at")?,
    })
}

fn to_json(value: &impl serde::Serialize) -> String {
    // Plain data (strings, maps, the content enum): serializing cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

/// Marks the walkthrough changed; as the transaction's first statement it also takes SQLite's
/// write lock at once. `NotFound` when the organization has no such walkthrough.
async fn touch_walkthrough(
    tx: &mut Transaction<'_, Any>,
    org: OrgId,
    walkthrough: WalkthroughId,
    now: OffsetDateTime,
) -> Result<()> {
    let touched = sqlx::query(
        "UPDATE walkthroughs SET updated_at = $3 WHERE organization_id = $1 AND id = $2",
    )
    .bind(org.to_string())
    .bind(walkthrough.to_string())
    .bind(millis(now))
    .execute(&mut **tx)
    .await?;
    expect_rows(touched)
}

async fn insert_step(
    tx: &mut Transaction<'_, Any>,
    org: OrgId,
    step: &WalkthroughStep,
) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO walkthrough_steps (organization_id, {STEP_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(org.to_string())
    .bind(step.id.to_string())
    .bind(step.walkthrough_id.to_string())
    .bind(step.title.as_str())
    .bind(to_json(&step.content))
    .bind(step.display_order)
    .bind(millis(step.created_at))
    .bind(millis(step.updated_at))
    .execute(&mut **tx)
    .await
    .map_err(write_error("step"))?;
    Ok(())
}

/// Deletes the row `delete` finds (by organization, list and row: `ids`, returning its
/// `display_order`) and moves the rest of its list (`list_column` = the second id) up one
/// place, so the list stays numbered 0..n. `NotFound` when there is no such row.
async fn delete_from_list(
    tx: &mut Transaction<'_, Any>,
    delete: &str,
    ids: [String; 3],
    table: &str,
    list_column: &str,
) -> Result<()> {
    let [org, list, row] = ids;
    let order: i64 = sqlx::query_scalar(delete)
        .bind(org)
        .bind(&list)
        .bind(row)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::NotFound)?;
    sqlx::query(&format!(
        "UPDATE {table} SET display_order = display_order - 1 \
         WHERE {list_column} = $1 AND display_order > $2"
    ))
    .bind(list)
    .bind(order)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Gives each id of `order` its position; `order` must be a permutation of `current`.
async fn renumber(
    tx: &mut Transaction<'_, Any>,
    sql: &str,
    scope: &str,
    current: &[String],
    order: &[String],
    conflict: &'static str,
) -> Result<()> {
    let known: HashSet<&String> = current.iter().collect();
    let asked: HashSet<&String> = order.iter().collect();
    if known != asked || asked.len() != order.len() {
        return Err(StoreError::Conflict(conflict));
    }
    for (position, id) in (0_i64..).zip(order) {
        sqlx::query(sql).bind(position).bind(scope).bind(id).execute(&mut **tx).await?;
    }
    Ok(())
}

/// Loads the completed steps of each progress row (of one walkthrough, when given).
async fn with_completions(
    store: &SqlStore,
    org: OrgId,
    mut rows: Vec<Progress>,
    walkthrough: Option<WalkthroughId>,
) -> Result<Vec<Progress>> {
    let users: Vec<String> = rows
        .iter()
        .map(|p| p.end_user_id.to_string())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if users.is_empty() {
        return Ok(rows);
    }
    let first = if walkthrough.is_some() { 3 } else { 2 };
    let placeholders: Vec<String> = (first..users.len() + first).map(|n| format!("${n}")).collect();
    let by_walkthrough = if walkthrough.is_some() { "AND walkthrough_id = $2" } else { "" };
    let sql = format!(
        "SELECT end_user_id, walkthrough_id, step_id FROM walkthrough_step_completions \
         WHERE organization_id = $1 {by_walkthrough} AND end_user_id IN ({})",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(&sql).bind(org.to_string());
    if let Some(walkthrough) = walkthrough {
        query = query.bind(walkthrough.to_string());
    }
    for user in &users {
        query = query.bind(user.as_str());
    }
    let completions = query.fetch_all(&store.pool).await?;
    let mut by_key: HashMap<(EndUserId, WalkthroughId), HashSet<WalkthroughStepId>> =
        HashMap::new();
    for row in &completions {
        let c = Columns::new(row, "walkthrough_step_completions");
        by_key
            .entry((c.parsed("end_user_id")?, c.parsed("walkthrough_id")?))
            .or_default()
            .insert(c.parsed("step_id")?);
    }
    for progress in &mut rows {
        if let Some(steps) = by_key.remove(&(progress.end_user_id, progress.walkthrough_id)) {
            progress.completed_steps = steps;
        }
    }
    Ok(rows)
}

#[async_trait]
impl WalkthroughStore for SqlStore {
    async fn create_walkthrough(
        &self,
        walkthrough: &Walkthrough,
        steps: &[(String, StepContent)],
    ) -> Result<Vec<WalkthroughStep>> {
        if steps.len() > WalkthroughStep::MAX_STEPS {
            return Err(StoreError::Conflict("steps"));
        }
        let details = &walkthrough.details;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO walkthroughs (id, organization_id, title, description, kind, status, \
             estimated_minutes, tags, metadata, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(walkthrough.id.to_string())
        .bind(walkthrough.organization_id.to_string())
        .bind(details.title.as_str())
        .bind(details.description.as_str())
        .bind(details.kind.as_str())
        .bind(details.status.as_str())
        .bind(details.estimated_minutes.map(i64::from))
        .bind(to_json(&details.tags))
        .bind(to_json(&walkthrough.metadata))
        .bind(millis(walkthrough.created_at))
        .bind(millis(walkthrough.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(write_error("walkthrough"))?;
        let mut created = Vec::with_capacity(steps.len());
        for ((title, content), order) in steps.iter().zip(0..) {
            let step = WalkthroughStep {
                id: WalkthroughStepId::new(),
                walkthrough_id: walkthrough.id,
                title: title.clone(),
                content: content.clone(),
                display_order: order,
                created_at: walkthrough.created_at,
                updated_at: walkthrough.created_at,
            };
            insert_step(&mut tx, walkthrough.organization_id, &step).await?;
            created.push(step);
        }
        tx.commit().await?;
        Ok(created)
    }

    async fn get_walkthrough(&self, org: OrgId, walkthrough: WalkthroughId) -> Result<Walkthrough> {
        let row = sqlx::query(&format!(
            "SELECT {WALKTHROUGH_COLUMNS} FROM walkthroughs w \
             WHERE w.organization_id = $1 AND w.id = $2"
        ))
        .bind(org.to_string())
        .bind(walkthrough.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        walkthrough_from_row(&row)
    }

    async fn list_walkthroughs(
        &self,
        org: OrgId,
        page: PageRequest,
    ) -> Result<Page<WalkthroughSummary>> {
        let rows = sqlx::query(&format!(
            "SELECT {WALKTHROUGH_COLUMNS}, \
               (SELECT COUNT(*) FROM walkthrough_steps s WHERE s.walkthrough_id = w.id) AS steps, \
               (SELECT COUNT(*) FROM mcp_server_walkthroughs a WHERE a.walkthrough_id = w.id) \
                 AS servers \
             FROM walkthroughs w WHERE w.organization_id = $1 \
             ORDER BY w.updated_at DESC, w.id DESC LIMIT $2 OFFSET $3"
        ))
        .bind(org.to_string())
        .bind(page.probe_limit())
        .bind(i64::from(page.offset))
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .iter()
            .map(|row| {
                let c = Columns::new(row, "walkthroughs");
                Ok(WalkthroughSummary {
                    walkthrough: walkthrough_from_row(row)?,
                    steps: c.int("steps")?,
                    servers: c.int("servers")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_probe(items, page))
    }

    async fn update_walkthrough(
        &self,
        org: OrgId,
        walkthrough: WalkthroughId,
        details: &WalkthroughDetails,
        now: OffsetDateTime,
    ) -> Result<Walkthrough> {
        let updated = sqlx::query(
            "UPDATE walkthroughs SET title = $3, description = $4, kind = $5, status = $6, \
             estimated_minutes = $7, tags = $8, updated_at = $9 \
             WHERE organization_id = $1 AND id = $2",
        )
        .bind(org.to_string())
        .bind(walkthrough.to_string())
        .bind(details.title.as_str())
        .bind(details.description.as_str())
        .bind(details.kind.as_str())
        .bind(details.status.as_str())
        .bind(details.estimated_minutes.map(i64::from))
        .bind(to_json(&details.tags))
        .bind(millis(now))
        .execute(&self.pool)
        .await?;
        expect_rows(updated)?;
        self.get_walkthrough(org, walkthrough).await
    }

    async fn delete_walkthrough(&self, org: OrgId, walkthrough: WalkthroughId) -> Result<()> {
        let deleted =
            sqlx::query("DELETE FROM walkthroughs WHERE organization_id = $1 AND id = $2")
                .bind(org.to_string())
                .bind(walkthrough.to_string())
                .execute(&self.pool)
                .await?;
        expect_rows(deleted)
    }

    async fn list_walkthrough_steps(
        &self,
        org: OrgId,
        walkthrough: WalkthroughId,
    ) -> Result<Vec<WalkthroughStep>> {
        let rows = sqlx::query(&format!(
            "SELECT {STEP_COLUMNS} FROM walkthrough_steps \
             WHERE organization_id = $1 AND walkthrough_id = $2 ORDER BY display_order, id"
        ))
        .bind(org.to_string())
        .bind(walkthrough.to_string())
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            // No steps, or no such walkthrough: only the second is an error.
            self.get_walkthrough(org, walkthrough).await?;
        }
        rows.iter().map(step_from_row).collect()
    }

    async fn add_walkthrough_step(
        &self,
        org: OrgId,
        walkthrough: WalkthroughId,
        title: &str,
        content: &StepContent,
        now: OffsetDateTime,
    ) -> Result<WalkthroughStep> {
        let mut tx = self.pool.begin().await?;
        touch_walkthrough(&mut tx, org, walkthrough, now).await?;
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM walkthrough_steps WHERE walkthrough_id = $1")
                .bind(walkthrough.to_string())
                .fetch_one(&mut *tx)
                .await?;
        if usize::try_from(count).unwrap_or(usize::MAX) >= WalkthroughStep::MAX_STEPS {
            return Err(StoreError::Conflict("steps"));
        }
        let step = WalkthroughStep {
            id: WalkthroughStepId::new(),
            walkthrough_id: walkthrough,
            title: title.to_owned(),
            content: content.clone(),
            display_order: count,
            created_at: now,
            updated_at: now,
        };
        insert_step(&mut tx, org, &step).await?;
        tx.commit().await?;
        Ok(step)
    }

    async fn update_walkthrough_step(
        &self,
        org: OrgId,
        walkthrough: WalkthroughId,
        step: WalkthroughStepId,
        title: &str,
        content: &StepContent,
        now: OffsetDateTime,
    ) -> Result<WalkthroughStep> {
        let mut tx = self.pool.begin().await?;
        touch_walkthrough(&mut tx, org, walkthrough, now).await?;
        let row = sqlx::query(&format!(
            "UPDATE walkthrough_steps SET title = $4, content = $5, updated_at = $6 \
             WHERE organization_id = $1 AND walkthrough_id = $2 AND id = $3 \
             RETURNING {STEP_COLUMNS}"
        ))
        .bind(org.to_string())
        .bind(walkthrough.to_string())
        .bind(step.to_string())
        .bind(title)
        .bind(to_json(content))
        .bind(millis(now))
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        step_from_row(&row)
    }

    async fn delete_walkthrough_step(
        &self,
        org: OrgId,
        walkthrough: WalkthroughId,
        step: WalkthroughStepId,
        now: OffsetDateTime,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        touch_walkthrough(&mut tx, org, walkthrough, now).await?;
        let ids = [org.to_string(), walkthrough.to_string(), step.to_string()];
        delete_from_list(
            &mut tx,
            "DELETE FROM walkthrough_steps \
             WHERE organization_id = $1 AND walkthrough_id = $2 AND id = $3 RETURNING display_order",
            ids,
            "walkthrough_steps",
            "walkthrough_id",
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn reorder_walkthrough_steps(
        &self,
        org: OrgId,
        walkthrough: WalkthroughId,
        order: &[WalkthroughStepId],
        now: OffsetDateTime,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        touch_walkthrough(&mut tx, org, walkthrough, now).await?;
        let current: Vec<String> =
            sqlx::query_scalar("SELECT id FROM walkthrough_steps WHERE walkthrough_id = $1")
                .bind(walkthrough.to_string())
                .fetch_all(&mut *tx)
                .await?;
        let order: Vec<String> = order.iter().map(ToString::to_string).collect();
        renumber(
            &mut tx,
            "UPDATE walkthrough_steps SET display_order = $1 WHERE walkthrough_id = $2 AND id = $3",
            &walkthrough.to_string(),
            &current,
            &order,
            "steps",
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_server_walkthroughs(
        &self,
        org: OrgId,
        server: McpServerId,
    ) -> Result<Vec<(Assignment, Walkthrough)>> {
        let rows = sqlx::query(&format!(
            "SELECT a.mcp_server_id, a.walkthrough_id, a.display_order AS assignment_order, \
               a.enabled, {WALKTHROUGH_COLUMNS} \
             FROM mcp_server_walkthroughs a JOIN walkthroughs w ON w.id = a.walkthrough_id \
             WHERE a.organization_id = $1 AND a.mcp_server_id = $2 \
             ORDER BY a.display_order, a.created_at, w.id"
        ))
        .bind(org.to_string())
        .bind(server.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| Ok((assignment_from_row(row)?, walkthrough_from_row(row)?))).collect()
    }

    async fn list_walkthrough_assignments(
        &self,
        org: OrgId,
        walkthrough: WalkthroughId,
    ) -> Result<Vec<Assignment>> {
        let rows = sqlx::query(
            "SELECT mcp_server_id, walkthrough_id, display_order AS assignment_order, enabled \
             FROM mcp_server_walkthroughs WHERE organization_id = $1 AND walkthrough_id = $2 \
             ORDER BY created_at, mcp_server_id",
        )
        .bind(org.to_string())
        .bind(walkthrough.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(assignment_from_row).collect()
    }

    async fn assign_walkthrough(
        &self,
        org: OrgId,
        server: McpServerId,
        walkthrough: WalkthroughId,
        now: OffsetDateTime,
    ) -> Result<Assignment> {
        // Both must be the organization's; the new one goes last.
        let order: Option<i64> = sqlx::query_scalar(
            "INSERT INTO mcp_server_walkthroughs \
               (mcp_server_id, walkthrough_id, organization_id, display_order, enabled, created_at) \
             SELECT $1, $2, $3, \
               COALESCE((SELECT MAX(display_order) + 1 FROM mcp_server_walkthroughs \
                         WHERE mcp_server_id = $1), 0), 1, $4 \
             WHERE EXISTS (SELECT 1 FROM mcp_servers WHERE id = $1 AND organization_id = $3) \
               AND EXISTS (SELECT 1 FROM walkthroughs WHERE id = $2 AND organization_id = $3) \
             RETURNING display_order",
        )
        .bind(server.to_string())
        .bind(walkthrough.to_string())
        .bind(org.to_string())
        .bind(millis(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(write_error("assignment"))?;
        let display_order = order.ok_or(StoreError::NotFound)?;
        Ok(Assignment {
            mcp_server_id: server,
            walkthrough_id: walkthrough,
            display_order,
            enabled: true,
        })
    }

    async fn set_assignment_enabled(
        &self,
        org: OrgId,
        server: McpServerId,
        walkthrough: WalkthroughId,
        enabled: bool,
    ) -> Result<()> {
        let updated = sqlx::query(
            "UPDATE mcp_server_walkthroughs SET enabled = $4 \
             WHERE organization_id = $1 AND mcp_server_id = $2 AND walkthrough_id = $3",
        )
        .bind(org.to_string())
        .bind(server.to_string())
        .bind(walkthrough.to_string())
        .bind(i64::from(enabled))
        .execute(&self.pool)
        .await?;
        expect_rows(updated)
    }

    async fn unassign_walkthrough(
        &self,
        org: OrgId,
        server: McpServerId,
        walkthrough: WalkthroughId,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let ids = [org.to_string(), server.to_string(), walkthrough.to_string()];
        delete_from_list(
            &mut tx,
            "DELETE FROM mcp_server_walkthroughs \
             WHERE organization_id = $1 AND mcp_server_id = $2 AND walkthrough_id = $3 \
             RETURNING display_order",
            ids,
            "mcp_server_walkthroughs",
            "mcp_server_id",
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn reorder_server_walkthroughs(
        &self,
        org: OrgId,
        server: McpServerId,
        order: &[WalkthroughId],
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        // A write first, for SQLite's lock; it also proves the server is the organization's.
        let touched = sqlx::query(
            "UPDATE mcp_servers SET updated_at = updated_at WHERE organization_id = $1 AND id = $2",
        )
        .bind(org.to_string())
        .bind(server.to_string())
        .execute(&mut *tx)
        .await?;
        expect_rows(touched)?;
        let current: Vec<String> = sqlx::query_scalar(
            "SELECT walkthrough_id FROM mcp_server_walkthroughs WHERE mcp_server_id = $1",
        )
        .bind(server.to_string())
        .fetch_all(&mut *tx)
        .await?;
        let order: Vec<String> = order.iter().map(ToString::to_string).collect();
        renumber(
            &mut tx,
            "UPDATE mcp_server_walkthroughs SET display_order = $1 \
             WHERE mcp_server_id = $2 AND walkthrough_id = $3",
            &server.to_string(),
            &current,
            &order,
            "assignments",
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn offered_walkthroughs(
        &self,
        org: OrgId,
        server: McpServerId,
    ) -> Result<Vec<Walkthrough>> {
        let rows = sqlx::query(&format!(
            "SELECT {WALKTHROUGH_COLUMNS} \
             FROM mcp_server_walkthroughs a JOIN walkthroughs w ON w.id = a.walkthrough_id \
             WHERE a.organization_id = $1 AND a.mcp_server_id = $2 AND a.enabled = 1 \
               AND w.status = 'published' \
             ORDER BY a.display_order, a.created_at, w.id"
        ))
        .bind(org.to_string())
        .bind(server.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(walkthrough_from_row).collect()
    }

    async fn list_end_user_progress(
        &self,
        org: OrgId,
        end_user: EndUserId,
    ) -> Result<Vec<Progress>> {
        let rows = sqlx::query(&format!(
            "SELECT {PROGRESS_COLUMNS} FROM walkthrough_progress \
             WHERE organization_id = $1 AND end_user_id = $2 \
             ORDER BY last_activity_at DESC, walkthrough_id"
        ))
        .bind(org.to_string())
        .bind(end_user.to_string())
        .fetch_all(&self.pool)
        .await?;
        let rows = rows.iter().map(progress_from_row).collect::<Result<Vec<_>>>()?;
        with_completions(self, org, rows, None).await
    }

    async fn record_progress(&self, progress: &Progress, events: &[ProgressEvent]) -> Result<()> {
        let org = progress.organization_id.to_string();
        let user = progress.end_user_id.to_string();
        let walkthrough = progress.walkthrough_id.to_string();
        let mut tx = self.pool.begin().await?;
        // The end user and the walkthrough must both be the organization's.
        let written = sqlx::query(&format!(
            "INSERT INTO walkthrough_progress ({PROGRESS_COLUMNS}) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 \
             WHERE EXISTS (SELECT 1 FROM end_users WHERE id = $1 AND organization_id = $3) \
               AND EXISTS (SELECT 1 FROM walkthroughs WHERE id = $2 AND organization_id = $3) \
             ON CONFLICT (end_user_id, walkthrough_id) DO UPDATE SET \
               current_step_id = excluded.current_step_id, \
               last_server_id = excluded.last_server_id, \
               last_session_id = excluded.last_session_id, \
               started_at = excluded.started_at, \
               last_activity_at = excluded.last_activity_at, \
               completed_at = excluded.completed_at"
        ))
        .bind(&user)
        .bind(&walkthrough)
        .bind(&org)
        .bind(progress.current_step_id.map(|id| id.to_string()))
        .bind(progress.last_server_id.to_string())
        .bind(progress.last_session_id.as_deref())
        .bind(millis(progress.started_at))
        .bind(millis(progress.last_activity_at))
        .bind(progress.completed_at.map(millis))
        .execute(&mut *tx)
        .await
        .map_err(write_error("progress"))?;
        expect_rows(written)?;
        for event in events {
            match event.kind {
                EventKind::Restarted => {
                    sqlx::query(
                        "DELETE FROM walkthrough_step_completions \
                         WHERE end_user_id = $1 AND walkthrough_id = $2",
                    )
                    .bind(&user)
                    .bind(&walkthrough)
                    .execute(&mut *tx)
                    .await?;
                }
                // A step deleted meanwhile is not recorded as done (its event still is).
                EventKind::StepCompleted => {
                    sqlx::query(
                        "INSERT INTO walkthrough_step_completions \
                           (end_user_id, walkthrough_id, step_id, organization_id, completed_at) \
                         SELECT $1, $2, $3, $4, $5 \
                         WHERE EXISTS (SELECT 1 FROM walkthrough_steps \
                                       WHERE id = $3 AND walkthrough_id = $2) \
                         ON CONFLICT (end_user_id, walkthrough_id, step_id) DO NOTHING",
                    )
                    .bind(&user)
                    .bind(&walkthrough)
                    .bind(event.step_id.map(|id| id.to_string()))
                    .bind(&org)
                    .bind(millis(event.at))
                    .execute(&mut *tx)
                    .await?;
                }
                EventKind::Started | EventKind::Completed => {}
            }
            sqlx::query(&format!(
                "INSERT INTO walkthrough_events ({EVENT_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            ))
            .bind(event.id.to_string())
            .bind(&org)
            .bind(&walkthrough)
            .bind(&user)
            .bind(event.mcp_server_id.to_string())
            .bind(event.session_id.as_deref())
            .bind(event.kind.as_str())
            .bind(event.step_id.map(|id| id.to_string()))
            .bind(millis(event.at))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_walkthrough_progress(
        &self,
        org: OrgId,
        walkthrough: WalkthroughId,
        page: PageRequest,
    ) -> Result<Page<Progress>> {
        let rows = sqlx::query(&format!(
            "SELECT {PROGRESS_COLUMNS} FROM walkthrough_progress \
             WHERE organization_id = $1 AND walkthrough_id = $2 \
             ORDER BY last_activity_at DESC, end_user_id LIMIT $3 OFFSET $4"
        ))
        .bind(org.to_string())
        .bind(walkthrough.to_string())
        .bind(page.probe_limit())
        .bind(i64::from(page.offset))
        .fetch_all(&self.pool)
        .await?;
        let page_rows =
            Page::from_probe(rows.iter().map(progress_from_row).collect::<Result<Vec<_>>>()?, page);
        let items = with_completions(self, org, page_rows.items, Some(walkthrough)).await?;
        Ok(Page { items, next_offset: page_rows.next_offset })
    }

    async fn list_walkthrough_events(
        &self,
        org: OrgId,
        walkthrough: WalkthroughId,
        server: Option<McpServerId>,
        from: OffsetDateTime,
        to: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ProgressEvent>> {
        let by_server = if server.is_some() { "AND mcp_server_id = $6" } else { "" };
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM walkthrough_events \
             WHERE organization_id = $1 AND walkthrough_id = $2 AND at >= $3 AND at <= $4 \
             {by_server} ORDER BY at, id LIMIT $5"
        );
        let query = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(walkthrough.to_string())
            .bind(millis(from))
            .bind(millis(to))
            .bind(i64::from(limit));
        let query = match server {
            Some(server) => query.bind(server.to_string()),
            None => query,
        };
        query.fetch_all(&self.pool).await?.iter().map(event_from_row).collect()
    }
}
