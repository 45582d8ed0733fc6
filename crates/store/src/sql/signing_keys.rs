use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mcplatform_core::oauth::signing_key::{ALGORITHM, SigningKey};
use time::OffsetDateTime;

use super::{Columns, SqlStore, millis};
use crate::error::write_error;
use crate::{Result, SigningKeyStore};

#[async_trait]
impl SigningKeyStore for SqlStore {
    async fn create_signing_key(&self, key: &SigningKey) -> Result<()> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, algorithm, private_key_sealed, public_x, public_y, \
                 created_at, activates_at, published_until) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&key.kid)
        .bind(ALGORITHM)
        .bind(STANDARD.encode(&key.sealed_private_key))
        .bind(&key.public_x)
        .bind(&key.public_y)
        .bind(millis(key.created_at))
        .bind(millis(key.activates_at))
        .bind(millis(key.published_until))
        .execute(&self.pool)
        .await
        .map_err(write_error("kid"))?;
        Ok(())
    }

    async fn list_signing_keys(&self, now: OffsetDateTime) -> Result<Vec<SigningKey>> {
        let rows = sqlx::query(
            "SELECT kid, private_key_sealed, public_x, public_y, created_at, activates_at, \
                 published_until \
             FROM signing_keys WHERE published_until > $1 ORDER BY activates_at DESC, kid",
        )
        .bind(millis(now))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let c = Columns::new(row, "signing_keys");
                Ok(SigningKey {
                    kid: c.text("kid")?,
                    sealed_private_key: c.base64("private_key_sealed")?,
                    public_x: c.text("public_x")?,
                    public_y: c.text("public_y")?,
                    created_at: c.time("created_at")?,
                    activates_at: c.time("activates_at")?,
                    published_until: c.time("published_until")?,
                })
            })
            .collect()
    }
}
