use async_trait::async_trait;
use mcplatform_core::crypto::TokenHash;
use mcplatform_core::ids::{McpServerId, OrgId};
use mcplatform_core::oauth::client::OAuthClient;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use super::{Columns, SqlStore, expect_rows, millis};
use crate::error::write_error;
use crate::{OAuthClientStore, Page, PageRequest, Result, StoreError};

const CLIENT_COLUMNS: &str = "client_id, organization_id, mcp_server_id, secret_hash, metadata, kind, created_at, revoked_at";

fn client_from_row(row: &AnyRow) -> Result<OAuthClient> {
    let c = Columns::new(row, "oauth_clients");
    let metadata = serde_json::from_str(&c.text("metadata")?)
        .map_err(|e| StoreError::Corrupt { table: "oauth_clients", detail: e.to_string() })?;
    Ok(OAuthClient {
        client_id: c.text("client_id")?,
        organization_id: c.parsed("organization_id")?,
        mcp_server_id: c.parsed("mcp_server_id")?,
        secret_hash: c.opt_hash("secret_hash")?,
        metadata,
        kind: c.parsed("kind")?,
        created_at: c.time("created_at")?,
        revoked_at: c.opt_time("revoked_at")?,
    })
}

#[async_trait]
impl OAuthClientStore for SqlStore {
    async fn create_oauth_client(&self, client: &OAuthClient) -> Result<()> {
        let metadata = serde_json::to_string(&client.metadata)
            .map_err(|e| StoreError::Corrupt { table: "oauth_clients", detail: e.to_string() })?;
        // The server must be the organization's: the SELECT finds nothing otherwise.
        let inserted = sqlx::query(&format!(
            "INSERT INTO oauth_clients ({CLIENT_COLUMNS}) \
             SELECT $1, $2, $3, $4, $5, $6, $7, NULL FROM mcp_servers \
             WHERE id = $3 AND organization_id = $2"
        ))
        .bind(&client.client_id)
        .bind(client.organization_id.to_string())
        .bind(client.mcp_server_id.to_string())
        .bind(client.secret_hash.as_ref().map(TokenHash::to_hex))
        .bind(metadata)
        .bind(client.kind.as_str())
        .bind(millis(client.created_at))
        .execute(&self.pool)
        .await
        .map_err(write_error("client_id"))?;
        expect_rows(inserted)
    }

    async fn find_oauth_client(
        &self,
        server: McpServerId,
        client_id: &str,
    ) -> Result<Option<OAuthClient>> {
        let row = sqlx::query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM oauth_clients \
             WHERE client_id = $1 AND mcp_server_id = $2 AND revoked_at IS NULL"
        ))
        .bind(client_id)
        .bind(server.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(client_from_row).transpose()
    }

    async fn list_oauth_clients(
        &self,
        org: OrgId,
        server: McpServerId,
        page: PageRequest,
    ) -> Result<Page<OAuthClient>> {
        let rows = sqlx::query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM oauth_clients \
             WHERE organization_id = $1 AND mcp_server_id = $2 \
             ORDER BY created_at DESC, client_id LIMIT $3 OFFSET $4"
        ))
        .bind(org.to_string())
        .bind(server.to_string())
        .bind(page.probe_limit())
        .bind(i64::from(page.offset))
        .fetch_all(&self.pool)
        .await?;
        let clients = rows.iter().map(client_from_row).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_probe(clients, page))
    }

    async fn revoke_oauth_client(
        &self,
        org: OrgId,
        server: McpServerId,
        client_id: &str,
        now: OffsetDateTime,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let revoked = sqlx::query(
            "UPDATE oauth_clients SET revoked_at = $4 \
             WHERE organization_id = $1 AND mcp_server_id = $2 AND client_id = $3 \
             AND revoked_at IS NULL",
        )
        .bind(org.to_string())
        .bind(server.to_string())
        .bind(client_id)
        .bind(millis(now))
        .execute(&mut *tx)
        .await?;
        expect_rows(revoked)?;
        sqlx::query(
            "UPDATE token_families SET revoked_at = $3, revoked_reason = 'client_revoked' \
             WHERE mcp_server_id = $1 AND client_id = $2 AND revoked_at IS NULL",
        )
        .bind(server.to_string())
        .bind(client_id)
        .bind(millis(now))
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM oauth_grants WHERE mcp_server_id = $1 AND client_id = $2")
            .bind(server.to_string())
            .bind(client_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
