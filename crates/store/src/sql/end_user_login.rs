use async_trait::async_trait;
use mcplatform_core::end_user::LoginCode;
use mcplatform_core::ids::{AuthorizationRequestId, McpServerId};
use mcplatform_core::user::PasswordHash;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use super::{Columns, SqlStore, millis};
use crate::{EndUserLoginStore, Result};

const CODE_COLUMNS: &str = "authorization_request_id, mcp_server_id, email, code_hash, \
                            attempts_left, created_at, expires_at";

fn code_from_row(row: &AnyRow) -> Result<LoginCode> {
    let c = Columns::new(row, "end_user_login_codes");
    Ok(LoginCode {
        authorization_request_id: c.parsed("authorization_request_id")?,
        mcp_server_id: c.parsed("mcp_server_id")?,
        email: c.text("email")?,
        code_hash: c.hash("code_hash")?,
        attempts_left: c.int("attempts_left")?,
        created_at: c.time("created_at")?,
        expires_at: c.time("expires_at")?,
    })
}

#[async_trait]
impl EndUserLoginStore for SqlStore {
    async fn end_user_password(
        &self,
        server: McpServerId,
        email: &str,
    ) -> Result<Option<PasswordHash>> {
        let hash: Option<String> = sqlx::query_scalar(
            "SELECT password_hash FROM end_user_passwords WHERE mcp_server_id = $1 AND email = $2",
        )
        .bind(server.to_string())
        .bind(email.to_lowercase())
        .fetch_optional(&self.pool)
        .await?;
        Ok(hash.map(PasswordHash::from_phc))
    }

    async fn set_end_user_password(
        &self,
        server: McpServerId,
        email: &str,
        hash: &PasswordHash,
        now: OffsetDateTime,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO end_user_passwords (mcp_server_id, email, password_hash, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $4) ON CONFLICT (mcp_server_id, email) \
             DO UPDATE SET password_hash = excluded.password_hash, updated_at = excluded.updated_at",
        )
        .bind(server.to_string())
        .bind(email.to_lowercase())
        .bind(hash.as_phc())
        .bind(millis(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn put_login_code(&self, code: &LoginCode, now: OffsetDateTime) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "DELETE FROM end_user_login_codes WHERE expires_at < $1 OR authorization_request_id = $2",
        )
        .bind(millis(now))
        .bind(code.authorization_request_id.to_string())
        .execute(&mut *tx)
        .await?;
        sqlx::query(&format!(
            "INSERT INTO end_user_login_codes ({CODE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(code.authorization_request_id.to_string())
        .bind(code.mcp_server_id.to_string())
        .bind(&code.email)
        .bind(code.code_hash.to_hex())
        .bind(code.attempts_left)
        .bind(millis(code.created_at))
        .bind(millis(code.expires_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn take_login_code_attempt(
        &self,
        request: AuthorizationRequestId,
        now: OffsetDateTime,
    ) -> Result<Option<LoginCode>> {
        // One statement, so two guesses at once cannot both spend the last attempt.
        let row = sqlx::query(&format!(
            "UPDATE end_user_login_codes SET attempts_left = attempts_left - 1 \
             WHERE authorization_request_id = $1 AND attempts_left > 0 AND expires_at > $2 \
             RETURNING {CODE_COLUMNS}"
        ))
        .bind(request.to_string())
        .bind(millis(now))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(code_from_row).transpose()
    }

    async fn delete_login_code(&self, request: AuthorizationRequestId) -> Result<()> {
        sqlx::query("DELETE FROM end_user_login_codes WHERE authorization_request_id = $1")
            .bind(request.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
