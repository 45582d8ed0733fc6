use async_trait::async_trait;
use mcplatform_core::ids::UserId;
use mcplatform_core::user::{DisplayName, EmailAddress, PasswordHash, PlatformUser};
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
        email: c.validated("email", EmailAddress::parse)?,
        display_name: c.validated("display_name", DisplayName::parse)?,
        password_hash: c.opt_text("password_hash")?.map(PasswordHash::from_phc),
        email_verified_at: c.opt_time("email_verified_at")?,
        created_at: c.time("created_at")?,
        updated_at: c.time("updated_at")?,
    })
}

#[async_trait]
impl UserStore for SqlStore {
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
}
