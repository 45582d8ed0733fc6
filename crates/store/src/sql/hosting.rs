//! Hosted servers at work: end users without a login, tracking links, sessions and the record
//! of requests.

use std::collections::HashMap;

use async_trait::async_trait;
use mcplatform_core::end_user::EndUser;
use mcplatform_core::hosting::{
    IdentitySource, McpRequestRecord, McpSession, TrackingId, TrackingLink,
};
use mcplatform_core::ids::{EndUserId, McpServerId, OrgId};
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use super::end_users::{END_USER_COLUMNS, end_user_from_row};
use super::{Columns, SqlStore, expect_rows, millis};
use crate::{EndUserActivity, ExportWrite, HostingStore, Page, PageRequest, Result};

const LINK_COLUMNS: &str = "tracking_id, organization_id, mcp_server_id, end_user_id, label, \
     created_at, last_used_at, revoked_at";

const SESSION_COLUMNS: &str = "id, organization_id, mcp_server_id, end_user_id, identity_source, \
     kind, protocol_version, client_name, client_version, ip, user_agent, derivation_key, \
     first_seen_at, last_seen_at, closed_at";

const REQUEST_COLUMNS: &str = "id, organization_id, mcp_server_id, session_id, end_user_id, \
     method, tool_name, jsonrpc_id, protocol_version, arguments, result, outcome, error_code, \
     error_message, duration_us, started_at, identity_source";

/// A link's last use is written at most this often (milliseconds).
const TOUCH_EVERY_MS: i64 = 60_000;

fn link_from_row(row: &AnyRow) -> Result<TrackingLink> {
    let c = Columns::new(row, "tracking_links");
    Ok(TrackingLink {
        tracking_id: c.validated("tracking_id", TrackingId::parse)?,
        organization_id: c.parsed("organization_id")?,
        mcp_server_id: c.parsed("mcp_server_id")?,
        end_user_id: c.parsed("end_user_id")?,
        label: c.opt_text("label")?,
        created_at: c.time("created_at")?,
        last_used_at: c.opt_time("last_used_at")?,
        revoked_at: c.opt_time("revoked_at")?,
    })
}

fn session_from_row(row: &AnyRow) -> Result<McpSession> {
    let c = Columns::new(row, "mcp_sessions");
    Ok(McpSession {
        id: c.text("id")?,
        organization_id: c.parsed("organization_id")?,
        mcp_server_id: c.parsed("mcp_server_id")?,
        end_user_id: c.opt_parsed("end_user_id")?,
        identity_source: c.parsed("identity_source")?,
        kind: c.parsed("kind")?,
        protocol_version: c.text("protocol_version")?,
        client_name: c.opt_text("client_name")?,
        client_version: c.opt_text("client_version")?,
        ip: c.opt_text("ip")?,
        user_agent: c.opt_text("user_agent")?,
        derivation_key: c.opt_text("derivation_key")?,
        first_seen_at: c.time("first_seen_at")?,
        last_seen_at: c.time("last_seen_at")?,
        closed_at: c.opt_time("closed_at")?,
    })
}

fn request_from_row(row: &AnyRow) -> Result<McpRequestRecord> {
    let c = Columns::new(row, "mcp_requests");
    Ok(McpRequestRecord {
        id: c.parsed("id")?,
        organization_id: c.parsed("organization_id")?,
        mcp_server_id: c.parsed("mcp_server_id")?,
        session_id: c.opt_text("session_id")?,
        end_user_id: c.opt_parsed("end_user_id")?,
        identity_source: c.parsed("identity_source")?,
        method: c.text("method")?,
        tool_name: c.opt_text("tool_name")?,
        jsonrpc_id: c.opt_text("jsonrpc_id")?,
        protocol_version: c.opt_text("protocol_version")?,
        arguments: c.opt_text("arguments")?,
        result: c.opt_text("result")?,
        outcome: c.parsed("outcome")?,
        error_code: c.opt_int("error_code")?,
        error_message: c.opt_text("error_message")?,
        duration_us: c.int("duration_us")?,
        started_at: c.time("started_at")?,
    })
}

impl SqlStore {
    async fn insert_request<'e, E>(executor: E, record: &McpRequestRecord) -> sqlx::Result<bool>
    where
        E: sqlx::Executor<'e, Database = sqlx::Any>,
    {
        // A record of a server that is gone (or not its organization's) inserts nothing; one
        // written before (a batch retried after a failed commit) is not written twice.
        sqlx::query(&format!(
            "INSERT INTO mcp_requests ({REQUEST_COLUMNS}) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17 \
             WHERE EXISTS (SELECT 1 FROM mcp_servers WHERE id = $3 AND organization_id = $2) \
             ON CONFLICT (id) DO NOTHING"
        ))
        .bind(record.id.to_string())
        .bind(record.organization_id.to_string())
        .bind(record.mcp_server_id.to_string())
        .bind(record.session_id.as_deref())
        .bind(record.end_user_id.map(|id| id.to_string()))
        .bind(record.method.as_str())
        .bind(record.tool_name.as_deref())
        .bind(record.jsonrpc_id.as_deref())
        .bind(record.protocol_version.as_deref())
        .bind(record.arguments.as_deref())
        .bind(record.result.as_deref())
        .bind(record.outcome.as_str())
        .bind(record.error_code)
        .bind(record.error_message.as_deref())
        .bind(record.duration_us)
        .bind(millis(record.started_at))
        .bind(record.identity_source.as_str())
        .execute(executor)
        .await
        .map(|done| done.rows_affected() == 1)
    }
}

#[async_trait]
impl HostingStore for SqlStore {
    async fn create_end_user(
        &self,
        org: OrgId,
        email: Option<&str>,
        name: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<EndUser> {
        let id = EndUserId::new();
        sqlx::query(
            "INSERT INTO end_users (id, organization_id, email, name, profile, created_at, \
                 last_login_at) VALUES ($1, $2, $3, $4, '{}', $5, $5)",
        )
        .bind(id.to_string())
        .bind(org.to_string())
        .bind(email.map(str::to_lowercase))
        .bind(name)
        .bind(millis(now))
        .execute(&self.pool)
        .await
        .map_err(crate::error::write_error("end_user"))?;
        crate::EndUserStore::get_end_user(self, org, id).await
    }

    async fn find_end_user_by_email(
        &self,
        org: OrgId,
        email: &str,
        unverified_only: bool,
    ) -> Result<Option<EndUser>> {
        let unverified = if unverified_only { "AND email_verified_at IS NULL" } else { "" };
        sqlx::query(&format!(
            "SELECT {END_USER_COLUMNS} FROM end_users \
             WHERE organization_id = $1 AND email = $2 {unverified} \
             ORDER BY created_at, id LIMIT 1"
        ))
        .bind(org.to_string())
        .bind(email.to_lowercase())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(end_user_from_row)
        .transpose()
    }

    async fn set_end_user_email(&self, org: OrgId, end_user: EndUserId, email: &str) -> Result<()> {
        sqlx::query(
            "UPDATE end_users SET email = $3 \
             WHERE organization_id = $1 AND id = $2 AND email IS NULL",
        )
        .bind(org.to_string())
        .bind(end_user.to_string())
        .bind(email.to_lowercase())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn merge_end_users(&self, org: OrgId, from: EndUserId, into: EndUserId) -> Result<bool> {
        if from == into {
            return Ok(false);
        }
        let (org, from, into) = (org.to_string(), from.to_string(), into.to_string());
        let mut tx = self.pool.begin().await?;
        // A write first (it changes nothing): on SQLite it takes the write lock now, where a
        // read first would fail with SQLITE_BUSY if another writer committed meanwhile.
        let into_exists = sqlx::query(
            "UPDATE end_users SET last_login_at = last_login_at \
             WHERE id = $1 AND organization_id = $2",
        )
        .bind(&into)
        .bind(&org)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        // Only a placeholder merges: nobody ever signed in as it, nobody verified its address.
        // (Gone already — merged by a concurrent request — is not an error either.)
        let placeholder: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM end_users u WHERE u.id = $1 AND u.organization_id = $2 \
               AND u.email_verified_at IS NULL \
               AND NOT EXISTS (SELECT 1 FROM end_user_identities i WHERE i.end_user_id = u.id)",
        )
        .bind(&from)
        .bind(&org)
        .fetch_one(&mut *tx)
        .await?;
        if !into_exists || placeholder != 1 {
            return Ok(false);
        }
        // Walkthrough progress: where both followed the same walkthrough, the real user's
        // attempt stays and the placeholder's goes (its events are kept).
        for table in ["walkthrough_step_completions", "walkthrough_progress"] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE end_user_id = $1 AND walkthrough_id IN \
                   (SELECT walkthrough_id FROM walkthrough_progress WHERE end_user_id = $2)"
            ))
            .bind(&from)
            .bind(&into)
            .execute(&mut *tx)
            .await?;
        }
        for table in [
            "tracking_links",
            "mcp_sessions",
            "mcp_requests",
            "support_tickets",
            "walkthrough_progress",
            "walkthrough_step_completions",
            "walkthrough_events",
        ] {
            sqlx::query(&format!(
                "UPDATE {table} SET end_user_id = $2 WHERE organization_id = $3 AND end_user_id = $1"
            ))
            .bind(&from)
            .bind(&into)
            .bind(&org)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE ticket_activities SET actor_id = $2 \
             WHERE organization_id = $3 AND actor_kind = 'end_user' AND actor_id = $1",
        )
        .bind(&from)
        .bind(&into)
        .bind(&org)
        .execute(&mut *tx)
        .await?;
        // What the placeholder knew that the other did not: an address, a name.
        sqlx::query(
            "UPDATE end_users SET \
                 email = COALESCE(email, (SELECT email FROM end_users WHERE id = $1)), \
                 name = COALESCE(name, (SELECT name FROM end_users WHERE id = $1)) \
             WHERE id = $2",
        )
        .bind(&from)
        .bind(&into)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM end_users WHERE id = $1").bind(&from).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn create_tracking_link(&self, link: &TrackingLink) -> Result<()> {
        // The server and the end user must be the organization's.
        let inserted = sqlx::query(&format!(
            "INSERT INTO tracking_links ({LINK_COLUMNS}) \
             SELECT $1, $2, $3, $4, $5, $6, NULL, NULL \
             WHERE EXISTS (SELECT 1 FROM mcp_servers WHERE id = $3 AND organization_id = $2) \
               AND EXISTS (SELECT 1 FROM end_users WHERE id = $4 AND organization_id = $2)"
        ))
        .bind(link.tracking_id.as_str())
        .bind(link.organization_id.to_string())
        .bind(link.mcp_server_id.to_string())
        .bind(link.end_user_id.to_string())
        .bind(link.label.as_deref())
        .bind(millis(link.created_at))
        .execute(&self.pool)
        .await
        .map_err(crate::error::write_error("tracking_link"))?;
        expect_rows(inserted)
    }

    async fn find_tracking_link(&self, tracking_id: &TrackingId) -> Result<Option<TrackingLink>> {
        sqlx::query(&format!("SELECT {LINK_COLUMNS} FROM tracking_links WHERE tracking_id = $1"))
            .bind(tracking_id.as_str())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(link_from_row)
            .transpose()
    }

    async fn list_tracking_links(
        &self,
        org: OrgId,
        server: McpServerId,
        page: PageRequest,
    ) -> Result<Page<TrackingLink>> {
        let links = sqlx::query(&format!(
            "SELECT {LINK_COLUMNS} FROM tracking_links \
             WHERE organization_id = $1 AND mcp_server_id = $2 \
             ORDER BY created_at DESC, tracking_id LIMIT $3 OFFSET $4"
        ))
        .bind(org.to_string())
        .bind(server.to_string())
        .bind(page.probe_limit())
        .bind(i64::from(page.offset))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(link_from_row)
        .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_probe(links, page))
    }

    async fn revoke_tracking_link(
        &self,
        org: OrgId,
        server: McpServerId,
        tracking_id: &TrackingId,
        now: OffsetDateTime,
    ) -> Result<()> {
        let updated = sqlx::query(
            "UPDATE tracking_links SET revoked_at = COALESCE(revoked_at, $4) \
             WHERE organization_id = $1 AND mcp_server_id = $2 AND tracking_id = $3",
        )
        .bind(org.to_string())
        .bind(server.to_string())
        .bind(tracking_id.as_str())
        .bind(millis(now))
        .execute(&self.pool)
        .await?;
        expect_rows(updated)
    }

    async fn touch_tracking_link(
        &self,
        tracking_id: &TrackingId,
        now: OffsetDateTime,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE tracking_links SET last_used_at = $2 \
             WHERE tracking_id = $1 AND (last_used_at IS NULL OR last_used_at < $3)",
        )
        .bind(tracking_id.as_str())
        .bind(millis(now))
        .bind(millis(now) - TOUCH_EVERY_MS)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn create_mcp_session(&self, session: &McpSession, state: Option<&str>) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO mcp_sessions ({SESSION_COLUMNS}, state) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        ))
        .bind(session.id.as_str())
        .bind(session.organization_id.to_string())
        .bind(session.mcp_server_id.to_string())
        .bind(session.end_user_id.map(|id| id.to_string()))
        .bind(session.identity_source.as_str())
        .bind(session.kind.as_str())
        .bind(session.protocol_version.as_str())
        .bind(session.client_name.as_deref())
        .bind(session.client_version.as_deref())
        .bind(session.ip.as_deref())
        .bind(session.user_agent.as_deref())
        .bind(session.derivation_key.as_deref())
        .bind(millis(session.first_seen_at))
        .bind(millis(session.last_seen_at))
        .bind(session.closed_at.map(millis))
        .bind(state)
        .execute(&self.pool)
        .await
        .map_err(crate::error::write_error("session"))?;
        Ok(())
    }

    async fn find_mcp_session(&self, id: &str) -> Result<Option<McpSession>> {
        sqlx::query(&format!("SELECT {SESSION_COLUMNS} FROM mcp_sessions WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(session_from_row)
            .transpose()
    }

    async fn mcp_session_state(&self, id: &str) -> Result<Option<String>> {
        let state: Option<Option<String>> = sqlx::query_scalar(
            "SELECT state FROM mcp_sessions WHERE id = $1 AND closed_at IS NULL",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(state.flatten())
    }

    async fn close_mcp_session(&self, id: &str, now: OffsetDateTime) -> Result<()> {
        sqlx::query(
            "UPDATE mcp_sessions SET closed_at = COALESCE(closed_at, $2), state = NULL WHERE id = $1",
        )
        .bind(id)
        .bind(millis(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn identify_mcp_session(
        &self,
        id: &str,
        end_user: EndUserId,
        source: IdentitySource,
    ) -> Result<()> {
        // The end user must be of the session's organization.
        let updated = sqlx::query(
            "UPDATE mcp_sessions SET end_user_id = $2, identity_source = $3 \
             WHERE id = $1 AND closed_at IS NULL AND organization_id = \
                 (SELECT organization_id FROM end_users WHERE id = $2)",
        )
        .bind(id)
        .bind(end_user.to_string())
        .bind(source.as_str())
        .execute(&self.pool)
        .await?;
        expect_rows(updated)
    }

    async fn find_derived_session(
        &self,
        server: McpServerId,
        key: &str,
        active_since: OffsetDateTime,
    ) -> Result<Option<McpSession>> {
        sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM mcp_sessions \
             WHERE mcp_server_id = $1 AND derivation_key = $2 AND last_seen_at >= $3 \
             ORDER BY last_seen_at DESC LIMIT 1"
        ))
        .bind(server.to_string())
        .bind(key)
        .bind(millis(active_since))
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(session_from_row)
        .transpose()
    }

    async fn list_mcp_sessions(
        &self,
        org: OrgId,
        server: McpServerId,
        end_user: Option<EndUserId>,
        page: PageRequest,
    ) -> Result<Page<McpSession>> {
        let by_user = if end_user.is_some() { "AND end_user_id = $5" } else { "" };
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM mcp_sessions \
             WHERE organization_id = $1 AND mcp_server_id = $2 {by_user} \
             ORDER BY last_seen_at DESC, id LIMIT $3 OFFSET $4"
        );
        let query = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(server.to_string())
            .bind(page.probe_limit())
            .bind(i64::from(page.offset));
        let query = match end_user {
            Some(user) => query.bind(user.to_string()),
            None => query,
        };
        let sessions = query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(session_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_probe(sessions, page))
    }

    async fn record_mcp_requests(
        &self,
        records: &[McpRequestRecord],
        exports: &[ExportWrite],
    ) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        let mut stored = Vec::with_capacity(records.len());
        for record in records {
            if Self::insert_request(&mut *tx, record).await? {
                stored.push(record);
            }
        }
        // Each session's latest stored request moves its last-seen time (never back).
        let mut seen: HashMap<(&str, McpServerId), OffsetDateTime> = HashMap::new();
        for record in stored {
            if let Some(session) = record.session_id.as_deref() {
                let at = seen.entry((session, record.mcp_server_id)).or_insert(record.started_at);
                *at = (*at).max(record.started_at);
            }
        }
        for ((session, server), at) in seen {
            sqlx::query(
                "UPDATE mcp_sessions SET last_seen_at = $3 \
                 WHERE id = $1 AND mcp_server_id = $2 AND last_seen_at < $3",
            )
            .bind(session)
            .bind(server.to_string())
            .bind(millis(at))
            .execute(&mut *tx)
            .await?;
        }
        for export in exports {
            let (org, server) = (export.organization_id, export.mcp_server_id);
            super::telemetry_export::enqueue(
                &mut tx,
                org,
                server,
                export.received_at,
                &export.request,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_session_requests(
        &self,
        org: OrgId,
        session: &str,
        page: PageRequest,
    ) -> Result<Page<McpRequestRecord>> {
        let records = sqlx::query(&format!(
            "SELECT {REQUEST_COLUMNS} FROM mcp_requests \
             WHERE organization_id = $1 AND session_id = $2 \
             ORDER BY started_at, id LIMIT $3 OFFSET $4"
        ))
        .bind(org.to_string())
        .bind(session)
        .bind(page.probe_limit())
        .bind(i64::from(page.offset))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(request_from_row)
        .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_probe(records, page))
    }

    async fn recent_tool_calls(
        &self,
        org: OrgId,
        session: &str,
        limit: u32,
    ) -> Result<Vec<McpRequestRecord>> {
        sqlx::query(&format!(
            "SELECT {REQUEST_COLUMNS} FROM mcp_requests \
             WHERE organization_id = $1 AND session_id = $2 AND method = 'tools/call' \
             ORDER BY started_at DESC, id DESC LIMIT $3"
        ))
        .bind(org.to_string())
        .bind(session)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(request_from_row)
        .collect()
    }

    async fn list_end_user_activity(
        &self,
        org: OrgId,
        server: Option<McpServerId>,
        page: PageRequest,
    ) -> Result<Page<EndUserActivity>> {
        // `$4` is the server when one is given: sessions, calls, tickets and links are then
        // counted on that server only (a sign-in identity is the organization's, not a server's).
        let on_server = |alias: &str| match server {
            Some(_) => format!("AND {alias}.mcp_server_id = $4"),
            None => String::new(),
        };
        let (s, r, t, l) = (on_server("s"), on_server("r"), on_server("t"), on_server("l"));
        let belongs = match server {
            Some(_) => format!(
                "AND (EXISTS (SELECT 1 FROM mcp_sessions s WHERE s.end_user_id = u.id {s}) \
                  OR EXISTS (SELECT 1 FROM mcp_requests r WHERE r.end_user_id = u.id {r}) \
                  OR EXISTS (SELECT 1 FROM tracking_links l WHERE l.end_user_id = u.id {l}) \
                  OR EXISTS (SELECT 1 FROM support_tickets t WHERE t.end_user_id = u.id {t}))"
            ),
            None => String::new(),
        };
        let sql = format!(
            "SELECT * FROM (SELECT u.*, \
                 EXISTS (SELECT 1 FROM end_user_identities i WHERE i.end_user_id = u.id) AS has_login, \
                 EXISTS (SELECT 1 FROM tracking_links l WHERE l.end_user_id = u.id {l}) AS has_link, \
                 (EXISTS (SELECT 1 FROM mcp_sessions s WHERE s.end_user_id = u.id \
                     AND s.identity_source = 'email' {s}) \
                  OR EXISTS (SELECT 1 FROM mcp_requests r WHERE r.end_user_id = u.id \
                     AND r.identity_source = 'email' {r})) AS gave_email, \
                 COALESCE((SELECT MIN(s.first_seen_at) FROM mcp_sessions s WHERE s.end_user_id = u.id {s}), \
                     (SELECT MIN(r.started_at) FROM mcp_requests r WHERE r.end_user_id = u.id {r})) AS first_seen, \
                 COALESCE((SELECT MAX(s.last_seen_at) FROM mcp_sessions s WHERE s.end_user_id = u.id {s}), \
                     (SELECT MAX(r.started_at) FROM mcp_requests r WHERE r.end_user_id = u.id {r})) AS last_seen, \
                 (SELECT COUNT(*) FROM mcp_sessions s WHERE s.end_user_id = u.id {s}) AS sessions, \
                 (SELECT COUNT(*) FROM mcp_requests r WHERE r.end_user_id = u.id \
                     AND r.method = 'tools/call' {r}) AS tool_calls, \
                 (SELECT COUNT(*) FROM support_tickets t WHERE t.end_user_id = u.id {t}) AS tickets \
             FROM end_users u WHERE u.organization_id = $1 {belongs}) AS activity \
             ORDER BY last_seen IS NULL, last_seen DESC, last_login_at DESC, id \
             LIMIT $2 OFFSET $3"
        );
        let query = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(page.probe_limit())
            .bind(i64::from(page.offset));
        let query = match server {
            Some(server) => query.bind(server.to_string()),
            None => query,
        };
        let rows = query.fetch_all(&self.pool).await?;
        let activity = rows
            .iter()
            .map(|row| {
                let c = Columns::new(row, "end_users");
                Ok(EndUserActivity {
                    end_user: end_user_from_row(row)?,
                    has_login: c.flag("has_login")?,
                    has_tracking_link: c.flag("has_link")?,
                    gave_email: c.flag("gave_email")?,
                    first_seen_at: c.opt_time("first_seen")?,
                    last_seen_at: c.opt_time("last_seen")?,
                    sessions: c.int("sessions")?,
                    tool_calls: c.int("tool_calls")?,
                    tickets: c.int("tickets")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_probe(activity, page))
    }
}
