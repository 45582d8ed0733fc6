use std::time::Duration;

use async_trait::async_trait;
use mcplatform_core::ids::{McpServerId, OrgId};
use mcplatform_core::mcp_server::{McpServer, McpServerSettings, Slug};
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use super::{AnyQuery, Columns, SqlStore, expect_rows, millis};
use crate::error::write_error;
use crate::{McpServerStore, Page, PageRequest, Result, StoreError};

const SERVER_COLUMNS: &str = "id, organization_id, slug, name, description, product_name, auth_mode, \
     support_tool_enabled, walkthrough_tool_enabled, access_token_ttl_secs, refresh_token_ttl_secs, \
     telemetry_enabled, identity_provider_id, enabled, created_at, updated_at";

/// The condition that the identity provider bound as `provider` is none or the own of the
/// organization bound as `org`: the foreign key alone would take any organization's.
fn own_provider(provider: &str, org: &str) -> String {
    format!(
        "({provider} IS NULL OR EXISTS \
         (SELECT 1 FROM identity_providers WHERE id = {provider} AND organization_id = {org}))"
    )
}

fn seconds(c: &Columns<'_>, column: &str) -> Result<Duration> {
    let secs = c.int(column)?;
    u64::try_from(secs).map(Duration::from_secs).map_err(|_| StoreError::Corrupt {
        table: "mcp_servers",
        detail: format!("{column}: negative"),
    })
}

fn server_from_row(row: &AnyRow) -> Result<McpServer> {
    let c = Columns::new(row, "mcp_servers");
    Ok(McpServer {
        id: c.parsed("id")?,
        organization_id: c.parsed("organization_id")?,
        slug: c.validated("slug", Slug::parse)?,
        settings: McpServerSettings {
            name: c.text("name")?,
            description: c.text("description")?,
            product_name: c.text("product_name")?,
            auth_mode: c.parsed("auth_mode")?,
            support_tool_enabled: c.flag("support_tool_enabled")?,
            walkthrough_tool_enabled: c.flag("walkthrough_tool_enabled")?,
            access_token_ttl: seconds(&c, "access_token_ttl_secs")?,
            refresh_token_ttl: seconds(&c, "refresh_token_ttl_secs")?,
            telemetry_enabled: c.flag("telemetry_enabled")?,
            identity_provider_id: c.opt_parsed("identity_provider_id")?,
            enabled: c.flag("enabled")?,
        },
        created_at: c.time("created_at")?,
        updated_at: c.time("updated_at")?,
    })
}

fn secs(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

/// Binds the eleven settings columns, in `SERVER_COLUMNS` order, after what `query` has bound.
fn bind_settings<'q>(query: AnyQuery<'q>, settings: &'q McpServerSettings) -> AnyQuery<'q> {
    query
        .bind(settings.name.as_str())
        .bind(settings.description.as_str())
        .bind(settings.product_name.as_str())
        .bind(settings.auth_mode.as_str())
        .bind(settings.support_tool_enabled)
        .bind(settings.walkthrough_tool_enabled)
        .bind(secs(settings.access_token_ttl))
        .bind(secs(settings.refresh_token_ttl))
        .bind(settings.telemetry_enabled)
        .bind(settings.identity_provider_id.map(|id| id.to_string()))
        .bind(settings.enabled)
}

#[async_trait]
impl McpServerStore for SqlStore {
    async fn create_mcp_server(
        &self,
        org: OrgId,
        slug: &Slug,
        settings: &McpServerSettings,
        now: OffsetDateTime,
    ) -> Result<McpServer> {
        let id = McpServerId::new();
        let sql = format!(
            "INSERT INTO mcp_servers ({SERVER_COLUMNS}) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15 \
             WHERE {}",
            own_provider("$13", "$2")
        );
        let query =
            sqlx::query(&sql).bind(id.to_string()).bind(org.to_string()).bind(slug.as_str());
        let inserted = bind_settings(query, settings)
            .bind(millis(now))
            .execute(&self.pool)
            .await
            .map_err(write_error("slug"))?;
        expect_rows(inserted)?;
        self.get_mcp_server(org, id).await
    }

    async fn get_mcp_server(&self, org: OrgId, server: McpServerId) -> Result<McpServer> {
        let row = sqlx::query(&format!(
            "SELECT {SERVER_COLUMNS} FROM mcp_servers WHERE organization_id = $1 AND id = $2"
        ))
        .bind(org.to_string())
        .bind(server.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        server_from_row(&row)
    }

    async fn list_mcp_servers(&self, org: OrgId, page: PageRequest) -> Result<Page<McpServer>> {
        let servers = sqlx::query(&format!(
            "SELECT {SERVER_COLUMNS} FROM mcp_servers WHERE organization_id = $1 \
             ORDER BY name, id LIMIT $2 OFFSET $3"
        ))
        .bind(org.to_string())
        .bind(page.probe_limit())
        .bind(i64::from(page.offset))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(server_from_row)
        .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_probe(servers, page))
    }

    async fn update_mcp_server(
        &self,
        org: OrgId,
        server: McpServerId,
        settings: &McpServerSettings,
        now: OffsetDateTime,
    ) -> Result<McpServer> {
        let sql = format!(
            "UPDATE mcp_servers SET name = $3, description = $4, product_name = $5, auth_mode = $6, \
                 support_tool_enabled = $7, walkthrough_tool_enabled = $8, \
                 access_token_ttl_secs = $9, refresh_token_ttl_secs = $10, \
                 telemetry_enabled = $11, identity_provider_id = $12, enabled = $13, updated_at = $14 \
             WHERE organization_id = $1 AND id = $2 AND {}",
            own_provider("$12", "$1")
        );
        let query = sqlx::query(&sql).bind(org.to_string()).bind(server.to_string());
        let updated = bind_settings(query, settings)
            .bind(millis(now))
            .execute(&self.pool)
            .await
            .map_err(write_error("server"))?;
        expect_rows(updated)?;
        self.get_mcp_server(org, server).await
    }

    async fn delete_mcp_server(&self, org: OrgId, server: McpServerId) -> Result<()> {
        let deleted = sqlx::query("DELETE FROM mcp_servers WHERE organization_id = $1 AND id = $2")
            .bind(org.to_string())
            .bind(server.to_string())
            .execute(&self.pool)
            .await?;
        expect_rows(deleted)
    }

    async fn find_mcp_server_by_slug(&self, slug: &Slug) -> Result<Option<McpServer>> {
        sqlx::query(&format!("SELECT {SERVER_COLUMNS} FROM mcp_servers WHERE slug = $1"))
            .bind(slug.as_str())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(server_from_row)
            .transpose()
    }
}
