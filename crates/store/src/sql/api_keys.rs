use async_trait::async_trait;
use mcplatform_core::api_key::{ApiKey, ApiKeyScope};
use mcplatform_core::crypto::TokenHash;
use mcplatform_core::ids::{ApiKeyId, OrgId};
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use super::{Columns, SqlStore, expect_rows, millis};
use crate::{ApiKeyStore, NewApiKey, Page, PageRequest, Result, StoreError};

const KEY_COLUMNS: &str = "id, organization_id, mcp_server_id, name, visible_prefix, scopes, created_by, \
     created_at, last_used_at, revoked_at";

fn key_from_row(row: &AnyRow) -> Result<ApiKey> {
    let c = Columns::new(row, "api_keys");
    let scopes = c
        .text("scopes")?
        .split_whitespace()
        .map(str::parse::<ApiKeyScope>)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| StoreError::Corrupt { table: "api_keys", detail: e.to_string() })?;
    Ok(ApiKey {
        id: c.parsed("id")?,
        organization_id: c.parsed("organization_id")?,
        mcp_server_id: c.opt_parsed("mcp_server_id")?,
        name: c.text("name")?,
        visible_prefix: c.text("visible_prefix")?,
        scopes,
        created_by: c.opt_parsed("created_by")?,
        created_at: c.time("created_at")?,
        last_used_at: c.opt_time("last_used_at")?,
        revoked_at: c.opt_time("revoked_at")?,
    })
}

#[async_trait]
impl ApiKeyStore for SqlStore {
    async fn create_api_key(&self, key: &NewApiKey, now: OffsetDateTime) -> Result<ApiKey> {
        let id = ApiKeyId::new();
        let scopes = key.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ");
        // The server must be the organization's: the INSERT … SELECT inserts nothing otherwise.
        let inserted = sqlx::query(
            "INSERT INTO api_keys (id, organization_id, mcp_server_id, name, visible_prefix, token_hash, \
                 scopes, created_by, created_at) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 \
             WHERE $3 IS NULL OR EXISTS (SELECT 1 FROM mcp_servers WHERE id = $3 AND organization_id = $2)",
        )
        .bind(id.to_string())
        .bind(key.organization_id.to_string())
        .bind(key.mcp_server_id.map(|server| server.to_string()))
        .bind(key.name.as_str())
        .bind(key.visible_prefix.as_str())
        .bind(key.token_hash.to_hex())
        .bind(scopes)
        .bind(key.created_by.map(|user| user.to_string()))
        .bind(millis(now))
        .execute(&self.pool)
        .await
        .map_err(crate::error::write_error("api_key"))?;
        expect_rows(inserted)?;
        self.get_api_key(key.organization_id, id).await
    }

    async fn list_api_keys(&self, org: OrgId, page: PageRequest) -> Result<Page<ApiKey>> {
        let keys = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE organization_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
        ))
        .bind(org.to_string())
        .bind(page.probe_limit())
        .bind(i64::from(page.offset))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(key_from_row)
        .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_probe(keys, page))
    }

    async fn get_api_key(&self, org: OrgId, key: ApiKeyId) -> Result<ApiKey> {
        let row = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE organization_id = $1 AND id = $2"
        ))
        .bind(org.to_string())
        .bind(key.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        key_from_row(&row)
    }

    async fn find_active_api_key(&self, token: &TokenHash) -> Result<Option<ApiKey>> {
        sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE token_hash = $1 AND revoked_at IS NULL"
        ))
        .bind(token.to_hex())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(key_from_row)
        .transpose()
    }

    async fn revoke_api_key(&self, org: OrgId, key: ApiKeyId, now: OffsetDateTime) -> Result<()> {
        let revoked = sqlx::query(
            "UPDATE api_keys SET revoked_at = $3 WHERE organization_id = $1 AND id = $2 AND revoked_at IS NULL",
        )
        .bind(org.to_string())
        .bind(key.to_string())
        .bind(millis(now))
        .execute(&self.pool)
        .await?;
        expect_rows(revoked)
    }

    async fn record_api_key_usage(&self, usage: &[(ApiKeyId, OffsetDateTime)]) -> Result<()> {
        if usage.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for (key, at) in usage {
            // Never move last use backwards (flushes from several nodes may interleave).
            sqlx::query(
                "UPDATE api_keys SET last_used_at = $2 WHERE id = $1 \
                 AND (last_used_at IS NULL OR last_used_at < $2)",
            )
            .bind(key.to_string())
            .bind(millis(*at))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
