use async_trait::async_trait;
use mcplatform_core::crypto::TokenHash;
use mcplatform_core::ids::{PasswordResetId, UserId};
use mcplatform_core::user::{
    DisplayName, EmailAddress, LinkedIdentity, PasswordHash, PlatformUser,
};
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use super::{Columns, SqlStore, expect_rows, millis};
use crate::error::write_error;
use crate::{NewPlatformUser, Result, StoreError, UserStore};

const USER_COLUMNS: &str = "u.id, u.email, u.display_name, u.password_hash, u.email_verified_at, u.created_at, u.updated_at";

pub(super) fn user_from_row(row: &AnyRow) -> Result<PlatformUser> {
    let c = Columns::new(row, "platform_users");
    Ok(PlatformUser {
        id: c.parsed("id")?,
        email: c.validated("email", EmailAddress::from_stored)?,
        display_name: c.validated("display_name", DisplayName::parse)?,
        password_hash: c.opt_text("password_hash")?.map(PasswordHash::from_phc),
        email_verified_at: c.opt_time("email_verified_at")?,
        created_at: c.time("created_at")?,
        updated_at: c.time("updated_at")?,
    })
}

#[async_trait]
impl UserStore for SqlStore {
    async fn create_password_reset(
        &self,
        user: UserId,
        token: &TokenHash,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO password_resets (id, user_id, token_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(PasswordResetId::new().to_string())
        .bind(user.to_string())
        .bind(token.to_hex())
        .bind(millis(now))
        .bind(millis(expires_at))
        .execute(&self.pool)
        .await
        .map_err(write_error("password_reset"))?;
        Ok(())
    }

    async fn complete_password_reset(
        &self,
        token: &TokenHash,
        hash: &PasswordHash,
        now: OffsetDateTime,
    ) -> Result<PlatformUser> {
        let mut tx = self.pool.begin().await?;
        // Marking the link used first makes a second use (even a concurrent one) find nothing.
        let user_id: Option<String> = sqlx::query_scalar(
            "UPDATE password_resets SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL \
             AND expires_at > $2 RETURNING user_id",
        )
        .bind(token.to_hex())
        .bind(millis(now))
        .fetch_optional(&mut *tx)
        .await?;
        let user_id = user_id.ok_or(StoreError::NotFound)?;
        // Using the emailed link proves the account's owner reads that address.
        sqlx::query(
            "UPDATE platform_users SET password_hash = $2, updated_at = $3, \
                 email_verified_at = COALESCE(email_verified_at, $3) WHERE id = $1",
        )
        .bind(&user_id)
        .bind(hash.as_phc())
        .bind(millis(now))
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM platform_sessions WHERE user_id = $1")
            .bind(&user_id)
            .execute(&mut *tx)
            .await?;
        // Any other outstanding link of the account dies with this one.
        sqlx::query(
            "UPDATE password_resets SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(&user_id)
        .bind(millis(now))
        .execute(&mut *tx)
        .await?;
        let row =
            sqlx::query(&format!("SELECT {USER_COLUMNS} FROM platform_users u WHERE u.id = $1"))
                .bind(&user_id)
                .fetch_one(&mut *tx)
                .await?;
        let user = user_from_row(&row)?;
        tx.commit().await?;
        Ok(user)
    }

    async fn find_password_reset_user(
        &self,
        token: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<Option<PlatformUser>> {
        sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM password_resets r JOIN platform_users u ON u.id = r.user_id \
             WHERE r.token_hash = $1 AND r.used_at IS NULL AND r.expires_at > $2"
        ))
        .bind(token.to_hex())
        .bind(millis(now))
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(user_from_row)
        .transpose()
    }

    async fn create_user(
        &self,
        user: &NewPlatformUser,
        now: OffsetDateTime,
    ) -> Result<PlatformUser> {
        let id = UserId::new();
        sqlx::query(
            "INSERT INTO platform_users (id, email, display_name, password_hash, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(id.to_string())
        .bind(user.email.as_str())
        .bind(user.display_name.as_str())
        .bind(user.password_hash.as_ref().map(|h| h.as_phc().to_owned()))
        .bind(millis(now))
        .execute(&self.pool)
        .await
        .map_err(write_error("email"))?;
        self.get_user(id).await
    }

    async fn get_user(&self, user: UserId) -> Result<PlatformUser> {
        let row =
            sqlx::query(&format!("SELECT {USER_COLUMNS} FROM platform_users u WHERE u.id = $1"))
                .bind(user.to_string())
                .fetch_optional(&self.pool)
                .await?
                .ok_or(StoreError::NotFound)?;
        user_from_row(&row)
    }

    async fn find_user_by_email(&self, email: &EmailAddress) -> Result<Option<PlatformUser>> {
        sqlx::query(&format!("SELECT {USER_COLUMNS} FROM platform_users u WHERE u.email = $1"))
            .bind(email.as_str())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    async fn set_password_hash(
        &self,
        user: UserId,
        hash: &PasswordHash,
        now: OffsetDateTime,
    ) -> Result<()> {
        let updated = sqlx::query(
            "UPDATE platform_users SET password_hash = $2, updated_at = $3 WHERE id = $1",
        )
        .bind(user.to_string())
        .bind(hash.as_phc())
        .bind(millis(now))
        .execute(&self.pool)
        .await?;
        expect_rows(updated)
    }

    async fn find_user_by_identity(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<PlatformUser>> {
        sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM platform_users u \
             JOIN platform_user_identities i ON i.user_id = u.id \
             WHERE i.provider = $1 AND i.subject = $2"
        ))
        .bind(provider)
        .bind(subject)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(user_from_row)
        .transpose()
    }

    async fn create_user_with_identity(
        &self,
        user: &NewPlatformUser,
        identity: &LinkedIdentity,
    ) -> Result<PlatformUser> {
        let id = UserId::new();
        let now = millis(identity.created_at);
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO platform_users (id, email, display_name, password_hash, \
                 email_verified_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5, $5)",
        )
        .bind(id.to_string())
        .bind(user.email.as_str())
        .bind(user.display_name.as_str())
        .bind(user.password_hash.as_ref().map(|h| h.as_phc().to_owned()))
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(write_error("email"))?;
        insert_identity(&mut tx, id, identity).await?;
        tx.commit().await?;
        self.get_user(id).await
    }

    async fn record_identity_login(&self, user: UserId, identity: &LinkedIdentity) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        // A sign-in with an identity already linked to this account only refreshes it; one
        // linked to another account changes nothing and is refused.
        let updated = sqlx::query(
            "UPDATE platform_user_identities SET last_login_at = $4, email = $5 \
             WHERE provider = $1 AND subject = $2 AND user_id = $3",
        )
        .bind(&identity.provider)
        .bind(&identity.subject)
        .bind(user.to_string())
        .bind(millis(identity.last_login_at))
        .bind(identity.email.as_deref())
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            insert_identity(&mut tx, user, identity).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_user_identities(&self, user: UserId) -> Result<Vec<LinkedIdentity>> {
        let rows = sqlx::query(
            "SELECT provider, subject, email, created_at, last_login_at \
             FROM platform_user_identities WHERE user_id = $1 ORDER BY created_at, provider",
        )
        .bind(user.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let c = Columns::new(row, "platform_user_identities");
                Ok(LinkedIdentity {
                    provider: c.text("provider")?,
                    subject: c.text("subject")?,
                    email: c.opt_text("email")?,
                    created_at: c.time("created_at")?,
                    last_login_at: c.time("last_login_at")?,
                })
            })
            .collect()
    }

    async fn unlink_identity(&self, user: UserId, provider: &str, subject: &str) -> Result<()> {
        let deleted = sqlx::query(
            "DELETE FROM platform_user_identities \
             WHERE user_id = $1 AND provider = $2 AND subject = $3",
        )
        .bind(user.to_string())
        .bind(provider)
        .bind(subject)
        .execute(&self.pool)
        .await?;
        expect_rows(deleted)
    }
}

async fn insert_identity(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user: UserId,
    identity: &LinkedIdentity,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO platform_user_identities \
             (provider, subject, user_id, email, created_at, last_login_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&identity.provider)
    .bind(&identity.subject)
    .bind(user.to_string())
    .bind(identity.email.as_deref())
    .bind(millis(identity.created_at))
    .bind(millis(identity.last_login_at))
    .execute(&mut **tx)
    .await
    .map_err(write_error("identity"))?;
    Ok(())
}
