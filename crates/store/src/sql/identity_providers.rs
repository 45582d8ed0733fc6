use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mcplatform_core::identity_provider::{
    ClaimMapping, Endpoints, IdentityProvider, ProviderSettings,
};
use mcplatform_core::ids::{IdentityProviderId, OrgId};
use mcplatform_core::mcp_server::Slug;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use url::Url;

use super::{AnyQuery, Columns, SqlStore, expect_rows, millis};
use crate::error::write_error;
use crate::{IdentityProviderStore, Result, StoreError};

const TABLE: &str = "identity_providers";
const PROVIDER_COLUMNS: &str = "id, organization_id, kind, client_secret_sealed, name, client_id, \
     issuer, authorization_endpoint, token_endpoint, userinfo_endpoint, scopes, subject_claim, \
     email_claim, name_claim, created_at, updated_at";

fn provider_from_row(row: &AnyRow) -> Result<IdentityProvider> {
    let c = Columns::new(row, TABLE);
    let corrupt = |detail: String| StoreError::Corrupt { table: TABLE, detail };
    let url = |column: &str| -> Result<Option<Url>> { c.opt_parsed(column) };
    let endpoints = match (
        c.opt_text("issuer")?,
        url("authorization_endpoint")?,
        url("token_endpoint")?,
        url("userinfo_endpoint")?,
    ) {
        (Some(issuer), None, None, None) => Endpoints::Discovered { issuer },
        (None, Some(authorization), Some(token), Some(userinfo)) => {
            Endpoints::Configured { authorization, token, userinfo }
        }
        _ => return Err(corrupt("neither an issuer nor three endpoints".to_owned())),
    };
    let sealed = c.base64("client_secret_sealed")?;
    Ok(IdentityProvider {
        id: c.parsed("id")?,
        organization_id: c.parsed("organization_id")?,
        kind: c.parsed("kind")?,
        settings: ProviderSettings {
            name: c.text("name")?,
            client_id: c.text("client_id")?,
            endpoints,
            scopes: c.text("scopes")?.split_whitespace().map(str::to_owned).collect(),
            claims: ClaimMapping {
                subject: c.text("subject_claim")?,
                email: c.text("email_claim")?,
                name: c.text("name_claim")?,
            },
        },
        sealed_client_secret: sealed,
        created_at: c.time("created_at")?,
        updated_at: c.time("updated_at")?,
    })
}

/// Binds the settings columns, from `name` to `name_claim` in `PROVIDER_COLUMNS` order.
fn bind_settings<'q>(query: AnyQuery<'q>, settings: &'q ProviderSettings) -> AnyQuery<'q> {
    let (issuer, authorization, token, userinfo) = match &settings.endpoints {
        Endpoints::Discovered { issuer } => (Some(issuer.as_str()), None, None, None),
        Endpoints::Configured { authorization, token, userinfo } => {
            (None, Some(authorization.as_str()), Some(token.as_str()), Some(userinfo.as_str()))
        }
    };
    query
        .bind(settings.name.as_str())
        .bind(settings.client_id.as_str())
        .bind(issuer)
        .bind(authorization)
        .bind(token)
        .bind(userinfo)
        .bind(settings.scopes.join(" "))
        .bind(settings.claims.subject.as_str())
        .bind(settings.claims.email.as_str())
        .bind(settings.claims.name.as_str())
}

#[async_trait]
impl IdentityProviderStore for SqlStore {
    async fn create_identity_provider(&self, provider: &IdentityProvider) -> Result<()> {
        let sql = format!(
            "INSERT INTO {TABLE} ({PROVIDER_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        );
        let query = sqlx::query(&sql)
            .bind(provider.id.to_string())
            .bind(provider.organization_id.to_string())
            .bind(provider.kind.as_str())
            .bind(STANDARD.encode(&provider.sealed_client_secret));
        bind_settings(query, &provider.settings)
            .bind(millis(provider.created_at))
            .bind(millis(provider.updated_at))
            .execute(&self.pool)
            .await
            .map_err(write_error("name"))?;
        Ok(())
    }

    async fn list_identity_providers(&self, org: OrgId) -> Result<Vec<IdentityProvider>> {
        sqlx::query(&format!(
            "SELECT {PROVIDER_COLUMNS} FROM {TABLE} WHERE organization_id = $1 ORDER BY name, id"
        ))
        .bind(org.to_string())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(provider_from_row)
        .collect()
    }

    async fn get_identity_provider(
        &self,
        org: OrgId,
        provider: IdentityProviderId,
    ) -> Result<IdentityProvider> {
        let row = sqlx::query(&format!(
            "SELECT {PROVIDER_COLUMNS} FROM {TABLE} WHERE organization_id = $1 AND id = $2"
        ))
        .bind(org.to_string())
        .bind(provider.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        provider_from_row(&row)
    }

    async fn update_identity_provider(
        &self,
        org: OrgId,
        provider: IdentityProviderId,
        settings: &ProviderSettings,
        sealed_client_secret: Option<&[u8]>,
        now: OffsetDateTime,
    ) -> Result<IdentityProvider> {
        let query = sqlx::query(
            "UPDATE identity_providers SET \
                 client_secret_sealed = COALESCE($3, client_secret_sealed), \
                 name = $4, client_id = $5, issuer = $6, authorization_endpoint = $7, \
                 token_endpoint = $8, userinfo_endpoint = $9, scopes = $10, subject_claim = $11, \
                 email_claim = $12, name_claim = $13, updated_at = $14 \
             WHERE organization_id = $1 AND id = $2",
        )
        .bind(org.to_string())
        .bind(provider.to_string())
        .bind(sealed_client_secret.map(|sealed| STANDARD.encode(sealed)));
        let updated = bind_settings(query, settings)
            .bind(millis(now))
            .execute(&self.pool)
            .await
            .map_err(write_error("name"))?;
        expect_rows(updated)?;
        self.get_identity_provider(org, provider).await
    }

    async fn delete_identity_provider(
        &self,
        org: OrgId,
        provider: IdentityProviderId,
    ) -> Result<()> {
        if !self.servers_using_identity_provider(org, provider).await?.is_empty() {
            return Err(StoreError::Conflict("in_use"));
        }
        // The foreign key still refuses it if a server started using it in between.
        let deleted =
            sqlx::query(&format!("DELETE FROM {TABLE} WHERE organization_id = $1 AND id = $2"))
                .bind(org.to_string())
                .bind(provider.to_string())
                .execute(&self.pool)
                .await
                .map_err(|err| match &err {
                    sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                        StoreError::Conflict("in_use")
                    }
                    _ => StoreError::from(err),
                })?;
        expect_rows(deleted)
    }

    async fn servers_using_identity_provider(
        &self,
        org: OrgId,
        provider: IdentityProviderId,
    ) -> Result<Vec<Slug>> {
        let rows = sqlx::query(
            "SELECT slug FROM mcp_servers \
             WHERE organization_id = $1 AND identity_provider_id = $2 ORDER BY slug",
        )
        .bind(org.to_string())
        .bind(provider.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Columns::new(row, "mcp_servers").validated("slug", Slug::parse))
            .collect()
    }
}
