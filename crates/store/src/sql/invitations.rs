use async_trait::async_trait;
use mcplatform_core::crypto::TokenHash;
use mcplatform_core::ids::{InvitationId, OrgId, UserId};
use mcplatform_core::invitation::Invitation;
use mcplatform_core::org::Membership;
use mcplatform_core::user::EmailAddress;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use super::{Columns, SqlStore, expect_rows, millis};
use crate::error::write_error;
use crate::{InvitationStore, NewInvitation, Result, StoreError};

const INVITATION_COLUMNS: &str = "id, organization_id, email, role, invited_by, created_at, expires_at, \
     accepted_at, revoked_at";

fn invitation_from_row(row: &AnyRow) -> Result<Invitation> {
    let c = Columns::new(row, "invitations");
    Ok(Invitation {
        id: c.parsed("id")?,
        organization_id: c.parsed("organization_id")?,
        email: c.validated("email", EmailAddress::from_stored)?,
        role: c.parsed("role")?,
        invited_by: c.opt_parsed("invited_by")?,
        created_at: c.time("created_at")?,
        expires_at: c.time("expires_at")?,
        accepted_at: c.opt_time("accepted_at")?,
        revoked_at: c.opt_time("revoked_at")?,
    })
}

#[async_trait]
impl InvitationStore for SqlStore {
    async fn create_invitation(
        &self,
        new: &NewInvitation,
        now: OffsetDateTime,
    ) -> Result<Invitation> {
        let id = InvitationId::new();
        sqlx::query(
            "INSERT INTO invitations (id, organization_id, email, role, token_hash, invited_by, \
                 created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id.to_string())
        .bind(new.organization_id.to_string())
        .bind(new.email.as_str())
        .bind(new.role.as_str())
        .bind(new.token_hash.to_hex())
        .bind(new.invited_by.map(|user| user.to_string()))
        .bind(millis(now))
        .bind(millis(new.expires_at))
        .execute(&self.pool)
        .await
        .map_err(write_error("invitation"))?;
        self.get_invitation(new.organization_id, id).await
    }

    async fn list_invitations(&self, org: OrgId) -> Result<Vec<Invitation>> {
        sqlx::query(&format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations WHERE organization_id = $1 \
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(org.to_string())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(invitation_from_row)
        .collect()
    }

    async fn get_invitation(&self, org: OrgId, invitation: InvitationId) -> Result<Invitation> {
        let row = sqlx::query(&format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations WHERE organization_id = $1 AND id = $2"
        ))
        .bind(org.to_string())
        .bind(invitation.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        invitation_from_row(&row)
    }

    async fn find_invitation_by_token(&self, token: &TokenHash) -> Result<Option<Invitation>> {
        sqlx::query(&format!("SELECT {INVITATION_COLUMNS} FROM invitations WHERE token_hash = $1"))
            .bind(token.to_hex())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(invitation_from_row)
            .transpose()
    }

    async fn revoke_invitation(
        &self,
        org: OrgId,
        invitation: InvitationId,
        now: OffsetDateTime,
    ) -> Result<()> {
        let revoked = sqlx::query(
            "UPDATE invitations SET revoked_at = $3 WHERE organization_id = $1 AND id = $2 \
             AND accepted_at IS NULL AND revoked_at IS NULL",
        )
        .bind(org.to_string())
        .bind(invitation.to_string())
        .bind(millis(now))
        .execute(&self.pool)
        .await?;
        expect_rows(revoked)
    }

    async fn renew_invitation(
        &self,
        org: OrgId,
        invitation: InvitationId,
        token: &TokenHash,
        expires_at: OffsetDateTime,
    ) -> Result<Invitation> {
        let renewed = sqlx::query(
            "UPDATE invitations SET token_hash = $3, expires_at = $4 WHERE organization_id = $1 \
             AND id = $2 AND accepted_at IS NULL AND revoked_at IS NULL",
        )
        .bind(org.to_string())
        .bind(invitation.to_string())
        .bind(token.to_hex())
        .bind(millis(expires_at))
        .execute(&self.pool)
        .await?;
        expect_rows(renewed)?;
        self.get_invitation(org, invitation).await
    }

    async fn accept_invitation(
        &self,
        invitation: InvitationId,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<Membership> {
        let mut tx = self.pool.begin().await?;
        // Closing the invitation first is the lock: of two concurrent accepts, one updates it.
        let closed = sqlx::query(
            "UPDATE invitations SET accepted_at = $2 WHERE id = $1 AND accepted_at IS NULL \
             AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(invitation.to_string())
        .bind(millis(now))
        .execute(&mut *tx)
        .await?;
        expect_rows(closed)?;
        let row =
            sqlx::query(&format!("SELECT {INVITATION_COLUMNS} FROM invitations WHERE id = $1"))
                .bind(invitation.to_string())
                .fetch_one(&mut *tx)
                .await?;
        let invitation = invitation_from_row(&row)?;
        sqlx::query(
            "INSERT INTO memberships (organization_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (organization_id, user_id) DO NOTHING",
        )
        .bind(invitation.organization_id.to_string())
        .bind(user.to_string())
        .bind(invitation.role.as_str())
        .bind(millis(now))
        .execute(&mut *tx)
        .await
        .map_err(write_error("membership"))?;
        let row = sqlx::query(
            "SELECT organization_id, user_id, role, created_at FROM memberships \
             WHERE organization_id = $1 AND user_id = $2",
        )
        .bind(invitation.organization_id.to_string())
        .bind(user.to_string())
        .fetch_one(&mut *tx)
        .await?;
        let membership = super::organizations::membership_from_row(&row)?;
        tx.commit().await?;
        Ok(membership)
    }
}
