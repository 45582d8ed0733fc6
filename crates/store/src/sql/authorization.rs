use async_trait::async_trait;
use mcplatform_core::crypto::TokenHash;
use mcplatform_core::ids::{AuthorizationRequestId, EndUserId, McpServerId, TokenFamilyId};
use mcplatform_core::oauth::grant::{
    AuthorizationCode, AuthorizationRequest, RefreshToken, Scopes, TokenFamily,
};
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use super::{Columns, KEEP_EXPIRED_MS, SqlStore, expect_rows, millis};
use crate::error::write_error;
use crate::{AuthorizationStore, Result, StoredCode};

const REQUEST_COLUMNS: &str = "id, organization_id, mcp_server_id, issuer, client_id, \
     redirect_uri, redirect_uri_given, scope, resource, state, code_challenge, browser_hash, \
     end_user_id, handoff_hash, created_at, expires_at";

const CODE_COLUMNS: &str = "code_hash, organization_id, mcp_server_id, issuer, client_id, \
     end_user_id, redirect_uri, redirect_uri_given, scope, resource, code_challenge, family_id, \
     created_at, expires_at, used_at";

const FAMILY_COLUMNS: &str = "f.id, f.organization_id, f.mcp_server_id, f.issuer, f.client_id, \
     f.end_user_id, f.scope, f.resource, f.created_at, f.last_used_at, f.expires_at, f.revoked_at";

fn request_from_row(row: &AnyRow) -> Result<AuthorizationRequest> {
    let c = Columns::new(row, "authorization_requests");
    Ok(AuthorizationRequest {
        id: c.parsed("id")?,
        organization_id: c.parsed("organization_id")?,
        mcp_server_id: c.parsed("mcp_server_id")?,
        issuer: c.text("issuer")?,
        client_id: c.text("client_id")?,
        redirect_uri: c.text("redirect_uri")?,
        redirect_uri_given: c.flag("redirect_uri_given")?,
        scopes: Scopes::from_stored(&c.text("scope")?),
        resource: c.text("resource")?,
        state: c.opt_text("state")?,
        code_challenge: c.text("code_challenge")?,
        browser_hash: c.hash("browser_hash")?,
        end_user_id: c.opt_parsed("end_user_id")?,
        handoff_hash: c.opt_hash("handoff_hash")?,
        created_at: c.time("created_at")?,
        expires_at: c.time("expires_at")?,
    })
}

fn code_from_row(row: &AnyRow) -> Result<StoredCode> {
    let c = Columns::new(row, "authorization_codes");
    let code = AuthorizationCode {
        code_hash: c.hash("code_hash")?,
        organization_id: c.parsed("organization_id")?,
        mcp_server_id: c.parsed("mcp_server_id")?,
        issuer: c.text("issuer")?,
        client_id: c.text("client_id")?,
        end_user_id: c.parsed("end_user_id")?,
        redirect_uri: c.text("redirect_uri")?,
        redirect_uri_given: c.flag("redirect_uri_given")?,
        scopes: Scopes::from_stored(&c.text("scope")?),
        resource: c.text("resource")?,
        code_challenge: c.text("code_challenge")?,
        family_id: c.parsed("family_id")?,
        created_at: c.time("created_at")?,
        expires_at: c.time("expires_at")?,
    };
    Ok(StoredCode { code, used_at: c.opt_time("used_at")? })
}

fn family_from_row(row: &AnyRow) -> Result<TokenFamily> {
    let c = Columns::new(row, "token_families");
    Ok(TokenFamily {
        id: c.parsed("id")?,
        organization_id: c.parsed("organization_id")?,
        mcp_server_id: c.parsed("mcp_server_id")?,
        issuer: c.text("issuer")?,
        client_id: c.text("client_id")?,
        end_user_id: c.parsed("end_user_id")?,
        scopes: Scopes::from_stored(&c.text("scope")?),
        resource: c.text("resource")?,
        created_at: c.time("created_at")?,
        last_used_at: c.time("last_used_at")?,
        expires_at: c.time("expires_at")?,
        revoked_at: c.opt_time("revoked_at")?,
    })
}

fn refresh_from_row(row: &AnyRow) -> Result<RefreshToken> {
    let c = Columns::new(row, "refresh_tokens");
    Ok(RefreshToken {
        token_hash: c.hash("token_hash")?,
        family_id: c.parsed("family_id")?,
        created_at: c.time("r_created_at")?,
        expires_at: c.time("r_expires_at")?,
        rotated_at: c.opt_time("rotated_at")?,
    })
}

fn flag(value: bool) -> i64 {
    i64::from(value)
}

async fn insert_refresh_token(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    token: &RefreshToken,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, family_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(token.token_hash.to_hex())
    .bind(token.family_id.to_string())
    .bind(millis(token.created_at))
    .bind(millis(token.expires_at))
    .execute(&mut **tx)
    .await
    .map_err(write_error("refresh_token"))?;
    Ok(())
}

#[async_trait]
impl AuthorizationStore for SqlStore {
    async fn create_authorization_request(&self, request: &AuthorizationRequest) -> Result<()> {
        sqlx::query("DELETE FROM authorization_requests WHERE expires_at < $1")
            .bind(millis(request.created_at) - KEEP_EXPIRED_MS)
            .execute(&self.pool)
            .await?;
        sqlx::query(&format!(
            "INSERT INTO authorization_requests ({REQUEST_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        ))
        .bind(request.id.to_string())
        .bind(request.organization_id.to_string())
        .bind(request.mcp_server_id.to_string())
        .bind(&request.issuer)
        .bind(&request.client_id)
        .bind(&request.redirect_uri)
        .bind(flag(request.redirect_uri_given))
        .bind(request.scopes.to_string())
        .bind(&request.resource)
        .bind(request.state.as_deref())
        .bind(&request.code_challenge)
        .bind(request.browser_hash.to_hex())
        .bind(request.end_user_id.map(|id| id.to_string()))
        .bind(request.handoff_hash.as_ref().map(TokenHash::to_hex))
        .bind(millis(request.created_at))
        .bind(millis(request.expires_at))
        .execute(&self.pool)
        .await
        .map_err(write_error("authorization_request"))?;
        Ok(())
    }

    async fn get_authorization_request(
        &self,
        request: AuthorizationRequestId,
        now: OffsetDateTime,
    ) -> Result<Option<AuthorizationRequest>> {
        let row = sqlx::query(&format!(
            "SELECT {REQUEST_COLUMNS} FROM authorization_requests \
             WHERE id = $1 AND expires_at > $2 AND completed_at IS NULL"
        ))
        .bind(request.to_string())
        .bind(millis(now))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(request_from_row).transpose()
    }

    async fn set_authorization_request_user(
        &self,
        request: AuthorizationRequestId,
        end_user: EndUserId,
        handoff: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<()> {
        // Once: a second sign-in for the same request (a replayed link) changes nothing.
        let updated = sqlx::query(
            "UPDATE authorization_requests SET end_user_id = $2, handoff_hash = $4 \
             WHERE id = $1 AND expires_at > $3 AND completed_at IS NULL AND end_user_id IS NULL",
        )
        .bind(request.to_string())
        .bind(end_user.to_string())
        .bind(millis(now))
        .bind(handoff.to_hex())
        .execute(&self.pool)
        .await?;
        expect_rows(updated)
    }

    async fn close_authorization_request(
        &self,
        request: AuthorizationRequestId,
        now: OffsetDateTime,
    ) -> Result<()> {
        let closed = sqlx::query(
            "UPDATE authorization_requests SET completed_at = $2 \
             WHERE id = $1 AND completed_at IS NULL",
        )
        .bind(request.to_string())
        .bind(millis(now))
        .execute(&self.pool)
        .await?;
        expect_rows(closed)
    }

    async fn issue_authorization_code(
        &self,
        request: AuthorizationRequestId,
        code: &AuthorizationCode,
        now: OffsetDateTime,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        // Closing the request first makes a second completion (even a concurrent one) fail.
        let closed = sqlx::query(
            "UPDATE authorization_requests SET completed_at = $2 \
             WHERE id = $1 AND expires_at > $2 AND completed_at IS NULL",
        )
        .bind(request.to_string())
        .bind(millis(now))
        .execute(&mut *tx)
        .await?;
        expect_rows(closed)?;
        sqlx::query("DELETE FROM authorization_codes WHERE expires_at < $1")
            .bind(millis(now) - KEEP_EXPIRED_MS)
            .execute(&mut *tx)
            .await?;
        sqlx::query(&format!(
            "INSERT INTO authorization_codes ({CODE_COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, NULL)"
        ))
        .bind(code.code_hash.to_hex())
        .bind(code.organization_id.to_string())
        .bind(code.mcp_server_id.to_string())
        .bind(&code.issuer)
        .bind(&code.client_id)
        .bind(code.end_user_id.to_string())
        .bind(&code.redirect_uri)
        .bind(flag(code.redirect_uri_given))
        .bind(code.scopes.to_string())
        .bind(&code.resource)
        .bind(&code.code_challenge)
        .bind(code.family_id.to_string())
        .bind(millis(code.created_at))
        .bind(millis(code.expires_at))
        .execute(&mut *tx)
        .await
        .map_err(write_error("code"))?;
        // The consent, remembered for the next authorization of this client by this person:
        // what was allowed before stays allowed (a narrower request does not shrink it).
        let earlier: Option<String> = sqlx::query_scalar(
            "SELECT scope FROM oauth_grants \
             WHERE mcp_server_id = $1 AND end_user_id = $2 AND client_id = $3",
        )
        .bind(code.mcp_server_id.to_string())
        .bind(code.end_user_id.to_string())
        .bind(&code.client_id)
        .fetch_optional(&mut *tx)
        .await?;
        let scope = match earlier {
            Some(earlier) => Scopes::from_stored(&earlier).union(&code.scopes),
            None => code.scopes.clone(),
        };
        // An upsert: two codes for the same person and client at once both succeed.
        sqlx::query(
            "INSERT INTO oauth_grants (mcp_server_id, end_user_id, client_id, organization_id, \
             scope, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) \
             ON CONFLICT (mcp_server_id, end_user_id, client_id) \
             DO UPDATE SET scope = excluded.scope, updated_at = excluded.updated_at",
        )
        .bind(code.mcp_server_id.to_string())
        .bind(code.end_user_id.to_string())
        .bind(&code.client_id)
        .bind(code.organization_id.to_string())
        .bind(scope.to_string())
        .bind(millis(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn find_grant(
        &self,
        server: McpServerId,
        end_user: EndUserId,
        client_id: &str,
    ) -> Result<Option<Scopes>> {
        let scope: Option<String> = sqlx::query_scalar(
            "SELECT scope FROM oauth_grants \
             WHERE mcp_server_id = $1 AND end_user_id = $2 AND client_id = $3",
        )
        .bind(server.to_string())
        .bind(end_user.to_string())
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(scope.as_deref().map(Scopes::from_stored))
    }

    async fn find_authorization_code(&self, code: &TokenHash) -> Result<Option<StoredCode>> {
        let row = sqlx::query(&format!(
            "SELECT {CODE_COLUMNS} FROM authorization_codes WHERE code_hash = $1"
        ))
        .bind(code.to_hex())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(code_from_row).transpose()
    }

    async fn redeem_authorization_code(
        &self,
        code: &TokenHash,
        family: &TokenFamily,
        refresh: Option<&RefreshToken>,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let used = sqlx::query(
            "UPDATE authorization_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL",
        )
        .bind(code.to_hex())
        .bind(millis(now))
        .execute(&mut *tx)
        .await?;
        if used.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO token_families (id, organization_id, mcp_server_id, issuer, client_id, \
             end_user_id, scope, resource, created_at, last_used_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(family.id.to_string())
        .bind(family.organization_id.to_string())
        .bind(family.mcp_server_id.to_string())
        .bind(&family.issuer)
        .bind(&family.client_id)
        .bind(family.end_user_id.to_string())
        .bind(family.scopes.to_string())
        .bind(&family.resource)
        .bind(millis(family.created_at))
        .bind(millis(family.last_used_at))
        .bind(millis(family.expires_at))
        .execute(&mut *tx)
        .await
        .map_err(write_error("token_family"))?;
        if let Some(refresh) = refresh {
            insert_refresh_token(&mut tx, refresh).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn find_refresh_token(
        &self,
        token: &TokenHash,
    ) -> Result<Option<(RefreshToken, TokenFamily)>> {
        let row = sqlx::query(&format!(
            "SELECT r.token_hash, r.family_id, r.created_at AS r_created_at, \
             r.expires_at AS r_expires_at, r.rotated_at, {FAMILY_COLUMNS} \
             FROM refresh_tokens r JOIN token_families f ON f.id = r.family_id \
             WHERE r.token_hash = $1"
        ))
        .bind(token.to_hex())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| Ok((refresh_from_row(&row)?, family_from_row(&row)?))).transpose()
    }

    async fn rotate_refresh_token(
        &self,
        old: &TokenHash,
        new: &RefreshToken,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let rotated = sqlx::query(
            "UPDATE refresh_tokens SET rotated_at = $2 \
             WHERE token_hash = $1 AND family_id = $3 AND rotated_at IS NULL \
             AND EXISTS (SELECT 1 FROM token_families WHERE id = $3 AND revoked_at IS NULL)",
        )
        .bind(old.to_hex())
        .bind(millis(now))
        .bind(new.family_id.to_string())
        .execute(&mut *tx)
        .await?;
        if rotated.rows_affected() == 0 {
            return Ok(false);
        }
        insert_refresh_token(&mut tx, new).await?;
        sqlx::query("UPDATE token_families SET last_used_at = $2, expires_at = $3 WHERE id = $1")
            .bind(new.family_id.to_string())
            .bind(millis(now))
            .bind(millis(new.expires_at))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn revoke_token_family(
        &self,
        family: TokenFamilyId,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE token_families SET revoked_at = $2, revoked_reason = $3 \
             WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(family.to_string())
        .bind(millis(now))
        .bind(reason)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn find_token_family(&self, family: TokenFamilyId) -> Result<Option<TokenFamily>> {
        let row =
            sqlx::query(&format!("SELECT {FAMILY_COLUMNS} FROM token_families f WHERE f.id = $1"))
                .bind(family.to_string())
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(family_from_row).transpose()
    }
}
