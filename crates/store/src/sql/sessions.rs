use async_trait::async_trait;
use mcplatform_core::crypto::TokenHash;
use mcplatform_core::ids::{OrgId, SessionId, UserId};
use mcplatform_core::user::PlatformSession;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use super::{Columns, SqlStore, expect_rows, millis};
use crate::error::write_error;
use crate::{Result, SessionStore};

fn session_from_row(row: &AnyRow, token: &TokenHash) -> Result<PlatformSession> {
    let c = Columns::new(row, "platform_sessions");
    Ok(PlatformSession {
        id: c.parsed("id")?,
        user_id: c.parsed("user_id")?,
        token_hash: token.clone(),
        active_organization_id: c.opt_parsed("active_organization_id")?,
        user_agent: c.opt_text("user_agent")?,
        ip_address: c.opt_text("ip_address")?,
        created_at: c.time("created_at")?,
        last_seen_at: c.time("last_seen_at")?,
        expires_at: c.time("expires_at")?,
    })
}

#[async_trait]
impl SessionStore for SqlStore {
    async fn create_session(&self, session: &PlatformSession) -> Result<()> {
        sqlx::query(
            "INSERT INTO platform_sessions (id, user_id, token_hash, active_organization_id, \
                 user_agent, ip_address, created_at, last_seen_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(session.id.to_string())
        .bind(session.user_id.to_string())
        .bind(session.token_hash.to_hex())
        .bind(session.active_organization_id.map(|id| id.to_string()))
        .bind(session.user_agent.clone())
        .bind(session.ip_address.clone())
        .bind(millis(session.created_at))
        .bind(millis(session.last_seen_at))
        .bind(millis(session.expires_at))
        .execute(&self.pool)
        .await
        .map_err(write_error("session"))?;
        Ok(())
    }

    async fn find_session(
        &self,
        token: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<Option<PlatformSession>> {
        sqlx::query(
            "SELECT id, user_id, active_organization_id, user_agent, ip_address, created_at, \
                    last_seen_at, expires_at \
             FROM platform_sessions WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token.to_hex())
        .bind(millis(now))
        .fetch_optional(&self.pool)
        .await?
        .map(|row| session_from_row(&row, token))
        .transpose()
    }

    async fn touch_session(
        &self,
        session: SessionId,
        last_seen_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<()> {
        let touched = sqlx::query(
            "UPDATE platform_sessions SET last_seen_at = $2, expires_at = $3 WHERE id = $1",
        )
        .bind(session.to_string())
        .bind(millis(last_seen_at))
        .bind(millis(expires_at))
        .execute(&self.pool)
        .await?;
        expect_rows(touched)
    }

    async fn set_session_organization(&self, session: SessionId, org: Option<OrgId>) -> Result<()> {
        let updated =
            sqlx::query("UPDATE platform_sessions SET active_organization_id = $2 WHERE id = $1")
                .bind(session.to_string())
                .bind(org.map(|id| id.to_string()))
                .execute(&self.pool)
                .await
                .map_err(write_error("session"))?;
        expect_rows(updated)
    }

    async fn delete_session(&self, session: SessionId) -> Result<()> {
        let deleted = sqlx::query("DELETE FROM platform_sessions WHERE id = $1")
            .bind(session.to_string())
            .execute(&self.pool)
            .await?;
        expect_rows(deleted)
    }

    async fn delete_user_sessions(&self, user: UserId) -> Result<u64> {
        let deleted = sqlx::query("DELETE FROM platform_sessions WHERE user_id = $1")
            .bind(user.to_string())
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected())
    }

    async fn delete_expired_sessions(&self, now: OffsetDateTime) -> Result<u64> {
        let deleted = sqlx::query("DELETE FROM platform_sessions WHERE expires_at <= $1")
            .bind(millis(now))
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected())
    }
}
