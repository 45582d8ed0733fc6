use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mcplatform_core::crypto::TokenHash;
use mcplatform_core::end_user::{EndUser, EndUserLogin};
use mcplatform_core::ids::{EndUserId, IdentityProviderId, McpServerId, OrgId};
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use super::{Columns, KEEP_EXPIRED_MS, SqlStore, expect_rows, millis};
use crate::{EndUserStore, Result, SealedUpstreamTokens, StoreError};

pub(super) const END_USER_COLUMNS: &str =
    "id, organization_id, email, email_verified_at, name, profile, created_at, last_login_at";

pub(super) fn end_user_from_row(row: &AnyRow) -> Result<EndUser> {
    let c = Columns::new(row, "end_users");
    let profile = serde_json::from_str(&c.text("profile")?)
        .map_err(|e| StoreError::Corrupt { table: "end_users", detail: e.to_string() })?;
    Ok(EndUser {
        id: c.parsed("id")?,
        organization_id: c.parsed("organization_id")?,
        email: c.opt_text("email")?,
        email_verified_at: c.opt_time("email_verified_at")?,
        name: c.opt_text("name")?,
        profile,
        created_at: c.time("created_at")?,
        last_login_at: c.time("last_login_at")?,
    })
}

#[async_trait]
impl EndUserStore for SqlStore {
    async fn record_end_user_login(
        &self,
        org: OrgId,
        login: &EndUserLogin,
        now: OffsetDateTime,
    ) -> Result<EndUser> {
        let org_text = org.to_string();
        let email = login.email.as_deref().map(str::to_lowercase);
        let verified_at = login.email_verified.then(|| millis(now));
        // A login with nothing to say of the person (the built-in one) keeps what a provider
        // said before.
        let profile = (!login.profile.is_null()).then(|| login.profile.to_string());
        let mut tx = self.pool.begin().await?;
        // A write first: on SQLite it takes the write lock now (waiting its turn), where a
        // read first would fail with SQLITE_BUSY if another writer committed before ours.
        sqlx::query(
            "UPDATE end_user_identities SET last_login_at = $4 \
             WHERE organization_id = $1 AND provider = $2 AND subject = $3",
        )
        .bind(&org_text)
        .bind(&login.provider)
        .bind(&login.subject)
        .bind(millis(now))
        .execute(&mut *tx)
        .await?;
        // 1. The identity, if this provider's subject signed in before.
        let known: Option<String> = sqlx::query_scalar(
            "SELECT end_user_id FROM end_user_identities \
             WHERE organization_id = $1 AND provider = $2 AND subject = $3",
        )
        .bind(&org_text)
        .bind(&login.provider)
        .bind(&login.subject)
        .fetch_optional(&mut *tx)
        .await?;
        // 2. Else an end user whose address was verified, when this one is verified too: the
        // same person signing in another way. An unverified address matches nobody.
        let by_email = match (&known, &email, login.email_verified) {
            (None, Some(email), true) => {
                sqlx::query_scalar(
                    "SELECT id FROM end_users WHERE organization_id = $1 AND email = $2 \
                     AND email_verified_at IS NOT NULL ORDER BY created_at LIMIT 1",
                )
                .bind(&org_text)
                .bind(email)
                .fetch_optional(&mut *tx)
                .await?
            }
            _ => None,
        };
        let id = match known.clone().or(by_email) {
            Some(id) => {
                let row =
                    sqlx::query(&format!("SELECT {END_USER_COLUMNS} FROM end_users WHERE id = $1"))
                        .bind(&id)
                        .fetch_one(&mut *tx)
                        .await?;
                let existing = end_user_from_row(&row)?;
                // A new address replaces the old; it counts as verified only as the provider
                // says now (keeping the first verification time of an unchanged address).
                let (email, verified_at) = match email {
                    None => (existing.email, existing.email_verified_at.map(millis)),
                    Some(email) if !login.email_verified => (Some(email), None),
                    Some(email) => {
                        let kept = existing
                            .email_verified_at
                            .filter(|_| existing.email.as_deref() == Some(email.as_str()));
                        (Some(email), Some(kept.map_or(millis(now), millis)))
                    }
                };
                sqlx::query(
                    "UPDATE end_users SET email = $2, email_verified_at = $3, \
                     name = COALESCE($4, name), profile = COALESCE($5, profile), last_login_at = $6 \
                     WHERE id = $1",
                )
                .bind(&id)
                .bind(email)
                .bind(verified_at)
                .bind(login.name.as_deref())
                .bind(profile.as_deref())
                .bind(millis(now))
                .execute(&mut *tx)
                .await?;
                id
            }
            None => {
                let id = EndUserId::new().to_string();
                sqlx::query(&format!(
                    "INSERT INTO end_users ({END_USER_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $7)"
                ))
                .bind(&id)
                .bind(&org_text)
                .bind(email.as_deref())
                .bind(verified_at)
                .bind(login.name.as_deref())
                .bind(profile.as_deref().unwrap_or("{}"))
                .bind(millis(now))
                .execute(&mut *tx)
                .await?;
                id
            }
        };
        if known.is_none() {
            sqlx::query(
                "INSERT INTO end_user_identities \
                 (organization_id, provider, subject, end_user_id, created_at, last_login_at) \
                 VALUES ($1, $2, $3, $4, $5, $5)",
            )
            .bind(&org_text)
            .bind(&login.provider)
            .bind(&login.subject)
            .bind(&id)
            .bind(millis(now))
            .execute(&mut *tx)
            .await
            // Two first sign-ins of one identity at once: the loser's transaction is void.
            .map_err(crate::error::write_error("identity"))?;
        }
        let row = sqlx::query(&format!("SELECT {END_USER_COLUMNS} FROM end_users WHERE id = $1"))
            .bind(&id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        end_user_from_row(&row)
    }

    async fn get_end_user(&self, org: OrgId, end_user: EndUserId) -> Result<EndUser> {
        let row = sqlx::query(&format!(
            "SELECT {END_USER_COLUMNS} FROM end_users WHERE id = $1 AND organization_id = $2"
        ))
        .bind(end_user.to_string())
        .bind(org.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        end_user_from_row(&row)
    }

    async fn get_end_users(&self, org: OrgId, ids: &[EndUserId]) -> Result<Vec<EndUser>> {
        // In chunks, under every database's limit on bound parameters.
        const CHUNK: usize = 500;
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            let placeholders: Vec<String> = (2..chunk.len() + 2).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT {END_USER_COLUMNS} FROM end_users \
                 WHERE organization_id = $1 AND id IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql).bind(org.to_string());
            for id in chunk {
                query = query.bind(id.to_string());
            }
            for row in query.fetch_all(&self.pool).await? {
                found.push(end_user_from_row(&row)?);
            }
        }
        Ok(found)
    }

    async fn store_upstream_tokens(
        &self,
        end_user: EndUserId,
        provider: IdentityProviderId,
        tokens: &SealedUpstreamTokens,
        now: OffsetDateTime,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "DELETE FROM upstream_tokens WHERE end_user_id = $1 AND identity_provider_id = $2",
        )
        .bind(end_user.to_string())
        .bind(provider.to_string())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO upstream_tokens (end_user_id, identity_provider_id, access_token_sealed, \
             refresh_token_sealed, expires_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(end_user.to_string())
        .bind(provider.to_string())
        .bind(STANDARD.encode(&tokens.access_token))
        .bind(tokens.refresh_token.as_ref().map(|t| STANDARD.encode(t)))
        .bind(tokens.expires_at.map(millis))
        .bind(millis(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_end_user_session(
        &self,
        server: McpServerId,
        end_user: &EndUser,
        token: &TokenHash,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<()> {
        sqlx::query("DELETE FROM end_user_sessions WHERE expires_at < $1")
            .bind(millis(now) - KEEP_EXPIRED_MS)
            .execute(&self.pool)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO end_user_sessions \
             (token_hash, organization_id, mcp_server_id, end_user_id, created_at, expires_at) \
             SELECT $1, $2, $3, $4, $5, $6 FROM mcp_servers WHERE id = $3 AND organization_id = $2",
        )
        .bind(token.to_hex())
        .bind(end_user.organization_id.to_string())
        .bind(server.to_string())
        .bind(end_user.id.to_string())
        .bind(millis(now))
        .bind(millis(expires_at))
        .execute(&self.pool)
        .await?;
        expect_rows(inserted)
    }

    async fn find_end_user_session(
        &self,
        server: McpServerId,
        token: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<Option<EndUserId>> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT end_user_id FROM end_user_sessions \
             WHERE token_hash = $1 AND mcp_server_id = $2 AND expires_at > $3",
        )
        .bind(token.to_hex())
        .bind(server.to_string())
        .bind(millis(now))
        .fetch_optional(&self.pool)
        .await?;
        id.map(|id| {
            id.parse::<EndUserId>().map_err(|e| StoreError::Corrupt {
                table: "end_user_sessions",
                detail: e.to_string(),
            })
        })
        .transpose()
    }
}
