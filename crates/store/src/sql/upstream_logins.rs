use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mcplatform_core::crypto::TokenHash;
use mcplatform_core::upstream_login::{ProviderRef, UpstreamLogin};
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use super::{Columns, KEEP_EXPIRED_MS, SqlStore, millis};
use crate::error::write_error;
use crate::{LoginClaimant, Result, UpstreamLoginStore};

const LOGIN_COLUMNS: &str = "id, state_hash, purpose, organization_id, provider_id, \
     platform_provider, user_id, pkce_verifier_sealed, nonce, created_at, expires_at, \
     authorization_request_id";

fn login_from_row(row: &AnyRow, state_hash: &TokenHash) -> Result<UpstreamLogin> {
    let c = Columns::new(row, "upstream_logins");
    let sealed = c.base64("pkce_verifier_sealed")?;
    let provider = match (c.opt_parsed("organization_id")?, c.opt_parsed("provider_id")?) {
        (Some(organization_id), Some(provider_id)) => {
            ProviderRef::Organization { organization_id, provider_id }
        }
        _ => ProviderRef::Platform(c.text("platform_provider")?),
    };
    Ok(UpstreamLogin {
        id: c.parsed("id")?,
        state_hash: state_hash.clone(),
        purpose: c.parsed("purpose")?,
        provider,
        user_id: c.opt_parsed("user_id")?,
        authorization_request_id: c.opt_parsed("authorization_request_id")?,
        sealed_pkce_verifier: sealed,
        nonce: c.opt_text("nonce")?,
        created_at: c.time("created_at")?,
        expires_at: c.time("expires_at")?,
    })
}

#[async_trait]
impl UpstreamLoginStore for SqlStore {
    async fn create_upstream_login(&self, login: &UpstreamLogin) -> Result<()> {
        sqlx::query("DELETE FROM upstream_logins WHERE expires_at < $1")
            .bind(millis(login.created_at) - KEEP_EXPIRED_MS)
            .execute(&self.pool)
            .await?;
        let (org, provider, platform) = match &login.provider {
            ProviderRef::Organization { organization_id, provider_id } => {
                (Some(*organization_id), Some(*provider_id), None)
            }
            ProviderRef::Platform(key) => (None, None, Some(key.as_str())),
        };
        sqlx::query(&format!(
            "INSERT INTO upstream_logins ({LOGIN_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(login.id.to_string())
        .bind(login.state_hash.to_hex())
        .bind(login.purpose.as_str())
        .bind(org.map(|id| id.to_string()))
        .bind(provider.map(|id| id.to_string()))
        .bind(platform)
        .bind(login.user_id.map(|id| id.to_string()))
        .bind(STANDARD.encode(&login.sealed_pkce_verifier))
        .bind(login.nonce.as_deref())
        .bind(millis(login.created_at))
        .bind(millis(login.expires_at))
        .bind(login.authorization_request_id.map(|id| id.to_string()))
        .execute(&self.pool)
        .await
        .map_err(write_error("state"))?;
        Ok(())
    }

    async fn consume_upstream_login(
        &self,
        state_hash: &TokenHash,
        claimant: LoginClaimant,
        now: OffsetDateTime,
    ) -> Result<Option<UpstreamLogin>> {
        // A login begun by a user is theirs; one begun anonymously only the browser that
        // holds its state cookie may claim. An end-user login returns to the platform's host
        // while its cookie lives on the server's: its authorization request checks the browser.
        let whose = if claimant.same_browser {
            "(user_id IS NULL OR user_id = $3)"
        } else {
            "(user_id = $3 OR purpose = 'end_user_login')"
        };
        // The update decides who wins when the same callback arrives twice at once.
        let claimed = sqlx::query(&format!(
            "UPDATE upstream_logins SET consumed_at = $2 \
             WHERE state_hash = $1 AND consumed_at IS NULL AND expires_at > $2 AND {whose}"
        ))
        .bind(state_hash.to_hex())
        .bind(millis(now))
        .bind(claimant.user.map(|id| id.to_string()))
        .execute(&self.pool)
        .await?;
        if claimed.rows_affected() == 0 {
            return Ok(None);
        }
        let row = sqlx::query(&format!(
            "SELECT {LOGIN_COLUMNS} FROM upstream_logins WHERE state_hash = $1"
        ))
        .bind(state_hash.to_hex())
        .fetch_one(&self.pool)
        .await?;
        login_from_row(&row, state_hash).map(Some)
    }
}
