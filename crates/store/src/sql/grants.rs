use async_trait::async_trait;
use mcplatform_core::ids::{EndUserId, McpServerId};
use mcplatform_core::oauth::grant::Scopes;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use super::end_users::end_user_from_row;
use super::{Columns, SqlStore, expect_rows, millis};
use crate::{GrantStore, GrantSummary, Page, PageRequest, Result};

/// The end user's columns under their own names, so that `end_user_from_row` reads them.
const GRANT_SELECT: &str = "SELECT u.id, u.organization_id, u.email, u.email_verified_at, \
     u.name, u.profile, u.created_at, u.last_login_at, g.client_id, g.scope, \
     g.created_at AS grant_created_at, g.updated_at AS grant_updated_at, \
     (SELECT COUNT(*) FROM token_families f WHERE f.mcp_server_id = g.mcp_server_id \
        AND f.end_user_id = g.end_user_id AND f.client_id = g.client_id \
        AND f.revoked_at IS NULL AND f.expires_at > $2) AS active_sessions, \
     (SELECT MAX(f.last_used_at) FROM token_families f WHERE f.mcp_server_id = g.mcp_server_id \
        AND f.end_user_id = g.end_user_id AND f.client_id = g.client_id) AS last_used_at \
     FROM oauth_grants g JOIN end_users u ON u.id = g.end_user_id";

fn grant_from_row(row: &AnyRow) -> Result<GrantSummary> {
    let c = Columns::new(row, "oauth_grants");
    Ok(GrantSummary {
        end_user: end_user_from_row(row)?,
        client_id: c.text("client_id")?,
        scopes: Scopes::from_stored(&c.text("scope")?),
        created_at: c.time("grant_created_at")?,
        updated_at: c.time("grant_updated_at")?,
        active_sessions: c.int("active_sessions")?,
        last_used_at: c.opt_time("last_used_at")?,
    })
}

#[async_trait]
impl GrantStore for SqlStore {
    async fn list_grants(
        &self,
        server: McpServerId,
        end_user: Option<EndUserId>,
        now: OffsetDateTime,
        page: PageRequest,
    ) -> Result<Page<GrantSummary>> {
        let only_user = if end_user.is_some() { " AND g.end_user_id = $5" } else { "" };
        let sql = format!(
            "{GRANT_SELECT} WHERE g.mcp_server_id = $1{only_user} \
             ORDER BY g.updated_at DESC, g.end_user_id, g.client_id LIMIT $3 OFFSET $4"
        );
        let mut query = sqlx::query(&sql)
            .bind(server.to_string())
            .bind(millis(now))
            .bind(page.probe_limit())
            .bind(i64::from(page.offset));
        if let Some(end_user) = end_user {
            query = query.bind(end_user.to_string());
        }
        let rows = query.fetch_all(&self.pool).await?;
        let grants = rows.iter().map(grant_from_row).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_probe(grants, page))
    }

    async fn revoke_grant(
        &self,
        server: McpServerId,
        end_user: EndUserId,
        client_id: &str,
        now: OffsetDateTime,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let deleted = sqlx::query(
            "DELETE FROM oauth_grants \
             WHERE mcp_server_id = $1 AND end_user_id = $2 AND client_id = $3",
        )
        .bind(server.to_string())
        .bind(end_user.to_string())
        .bind(client_id)
        .execute(&mut *tx)
        .await?;
        expect_rows(deleted)?;
        sqlx::query(
            "UPDATE token_families SET revoked_at = $4, revoked_reason = 'grant_revoked' \
             WHERE mcp_server_id = $1 AND end_user_id = $2 AND client_id = $3 \
             AND revoked_at IS NULL",
        )
        .bind(server.to_string())
        .bind(end_user.to_string())
        .bind(client_id)
        .bind(millis(now))
        .execute(&mut *tx)
        .await?;
        // A code issued under the consent but not yet exchanged would still mint tokens.
        sqlx::query(
            "UPDATE authorization_codes SET used_at = $4 \
             WHERE mcp_server_id = $1 AND end_user_id = $2 AND client_id = $3 AND used_at IS NULL",
        )
        .bind(server.to_string())
        .bind(end_user.to_string())
        .bind(client_id)
        .bind(millis(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
