use async_trait::async_trait;
use mcplatform_core::ids::{OrgId, UserId};
use mcplatform_core::org::{Membership, OrgName, Organization, RetentionDays, Role};
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use time::OffsetDateTime;

use super::users::user_from_row;
use super::{Columns, SqlStore, expect_rows, millis};
use crate::error::write_error;
use crate::{Member, OrganizationStore, Page, PageRequest, Result, StoreError};

const ORG_COLUMNS: &str = "o.id, o.name, o.telemetry_retention_days, o.created_at, o.updated_at";

fn organization_from_row(row: &AnyRow) -> Result<Organization> {
    let c = Columns::new(row, "organizations");
    Ok(Organization {
        id: c.parsed("id")?,
        name: c.validated("name", OrgName::parse)?,
        retention: RetentionDays::new(c.int("telemetry_retention_days")?)
            .map_err(|e| c.corrupt("telemetry_retention_days", e))?,
        created_at: c.time("created_at")?,
        updated_at: c.time("updated_at")?,
    })
}

pub(super) fn membership_from_row(row: &AnyRow) -> Result<Membership> {
    let c = Columns::new(row, "memberships");
    Ok(Membership {
        organization_id: c.parsed("organization_id")?,
        user_id: c.parsed("user_id")?,
        role: c.parsed("role")?,
        created_at: c.time("created_at")?,
    })
}

/// Serialises membership changes of one organization: the no-op update takes the row lock on
/// PostgreSQL and the write lock on SQLite, so the "last owner" check below cannot race.
async fn lock_organization(tx: &mut Transaction<'_, Any>, org: OrgId) -> Result<()> {
    let locked = sqlx::query("UPDATE organizations SET updated_at = updated_at WHERE id = $1")
        .bind(org.to_string())
        .execute(&mut **tx)
        .await?;
    expect_rows(locked)
}

async fn membership_in(
    tx: &mut Transaction<'_, Any>,
    org: OrgId,
    user: UserId,
) -> Result<Membership> {
    let row = sqlx::query(
        "SELECT organization_id, user_id, role, created_at FROM memberships \
         WHERE organization_id = $1 AND user_id = $2",
    )
    .bind(org.to_string())
    .bind(user.to_string())
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(StoreError::NotFound)?;
    membership_from_row(&row)
}

/// Refuses a change that would take the owner role from the organization's only owner.
async fn keep_an_owner(tx: &mut Transaction<'_, Any>, current: &Membership) -> Result<()> {
    if current.role != Role::Owner {
        return Ok(());
    }
    let owners: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM memberships WHERE organization_id = $1 AND role = 'owner'",
    )
    .bind(current.organization_id.to_string())
    .fetch_one(&mut **tx)
    .await?;
    if owners <= 1 { Err(StoreError::Conflict("last_owner")) } else { Ok(()) }
}

#[async_trait]
impl OrganizationStore for SqlStore {
    async fn create_organization(
        &self,
        name: &OrgName,
        owner: UserId,
        now: OffsetDateTime,
    ) -> Result<Organization> {
        let org = Organization {
            id: OrgId::new(),
            name: name.clone(),
            retention: RetentionDays::DEFAULT,
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO organizations (id, name, created_at, updated_at) VALUES ($1, $2, $3, $3)",
        )
        .bind(org.id.to_string())
        .bind(org.name.as_str())
        .bind(millis(now))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO memberships (organization_id, user_id, role, created_at) \
             VALUES ($1, $2, 'owner', $3)",
        )
        .bind(org.id.to_string())
        .bind(owner.to_string())
        .bind(millis(now))
        .execute(&mut *tx)
        .await
        .map_err(write_error("membership"))?;
        tx.commit().await?;
        // Reflect the stored precision (milliseconds) rather than the clock's.
        self.get_organization(org.id).await
    }

    async fn get_organization(&self, org: OrgId) -> Result<Organization> {
        let row =
            sqlx::query(&format!("SELECT {ORG_COLUMNS} FROM organizations o WHERE o.id = $1"))
                .bind(org.to_string())
                .fetch_optional(&self.pool)
                .await?
                .ok_or(StoreError::NotFound)?;
        organization_from_row(&row)
    }

    async fn rename_organization(
        &self,
        org: OrgId,
        name: &OrgName,
        now: OffsetDateTime,
    ) -> Result<Organization> {
        let renamed =
            sqlx::query("UPDATE organizations SET name = $2, updated_at = $3 WHERE id = $1")
                .bind(org.to_string())
                .bind(name.as_str())
                .bind(millis(now))
                .execute(&self.pool)
                .await?;
        expect_rows(renamed)?;
        self.get_organization(org).await
    }

    async fn set_retention(
        &self,
        org: OrgId,
        retention: RetentionDays,
        now: OffsetDateTime,
    ) -> Result<Organization> {
        let updated = sqlx::query(
            "UPDATE organizations SET telemetry_retention_days = $2, updated_at = $3 WHERE id = $1",
        )
        .bind(org.to_string())
        .bind(i64::from(retention.days()))
        .bind(millis(now))
        .execute(&self.pool)
        .await?;
        expect_rows(updated)?;
        self.get_organization(org).await
    }

    async fn list_retention(&self) -> Result<Vec<(OrgId, RetentionDays)>> {
        let rows =
            sqlx::query("SELECT id, telemetry_retention_days FROM organizations ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|row| {
                let c = Columns::new(row, "organizations");
                let days = c.int("telemetry_retention_days")?;
                Ok((
                    c.parsed("id")?,
                    RetentionDays::new(days)
                        .map_err(|e| c.corrupt("telemetry_retention_days", e))?,
                ))
            })
            .collect()
    }

    async fn delete_organization(&self, org: OrgId) -> Result<()> {
        let deleted = sqlx::query("DELETE FROM organizations WHERE id = $1")
            .bind(org.to_string())
            .execute(&self.pool)
            .await?;
        expect_rows(deleted)
    }

    async fn list_organizations_for_user(&self, user: UserId) -> Result<Vec<(Organization, Role)>> {
        let rows = sqlx::query(&format!(
            "SELECT {ORG_COLUMNS}, m.role FROM memberships m \
             JOIN organizations o ON o.id = m.organization_id \
             WHERE m.user_id = $1 ORDER BY o.created_at, o.id"
        ))
        .bind(user.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((organization_from_row(row)?, Columns::new(row, "memberships").parsed("role")?))
            })
            .collect()
    }

    async fn add_member(
        &self,
        org: OrgId,
        user: UserId,
        role: Role,
        now: OffsetDateTime,
    ) -> Result<Membership> {
        sqlx::query(
            "INSERT INTO memberships (organization_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(org.to_string())
        .bind(user.to_string())
        .bind(role.as_str())
        .bind(millis(now))
        .execute(&self.pool)
        .await
        .map_err(write_error("membership"))?;
        self.get_membership(org, user).await
    }

    async fn get_membership(&self, org: OrgId, user: UserId) -> Result<Membership> {
        let row = sqlx::query(
            "SELECT organization_id, user_id, role, created_at FROM memberships \
             WHERE organization_id = $1 AND user_id = $2",
        )
        .bind(org.to_string())
        .bind(user.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        membership_from_row(&row)
    }

    async fn list_members(&self, org: OrgId, page: PageRequest) -> Result<Page<Member>> {
        let rows = sqlx::query(
            "SELECT u.id, u.email, u.display_name, u.password_hash, u.email_verified_at, \
                    u.created_at, u.updated_at, m.role, m.created_at AS member_since \
             FROM memberships m JOIN platform_users u ON u.id = m.user_id \
             WHERE m.organization_id = $1 ORDER BY m.created_at, u.id LIMIT $2 OFFSET $3",
        )
        .bind(org.to_string())
        .bind(page.probe_limit())
        .bind(i64::from(page.offset))
        .fetch_all(&self.pool)
        .await?;
        let members = rows
            .iter()
            .map(|row| {
                let c = Columns::new(row, "memberships");
                Ok(Member {
                    user: user_from_row(row)?,
                    role: c.parsed("role")?,
                    since: c.time("member_since")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_probe(members, page))
    }

    async fn set_member_role(&self, org: OrgId, user: UserId, role: Role) -> Result<Membership> {
        let mut tx = self.pool.begin().await?;
        lock_organization(&mut tx, org).await?;
        let current = membership_in(&mut tx, org, user).await?;
        if role != Role::Owner {
            keep_an_owner(&mut tx, &current).await?;
        }
        sqlx::query("UPDATE memberships SET role = $3 WHERE organization_id = $1 AND user_id = $2")
            .bind(org.to_string())
            .bind(user.to_string())
            .bind(role.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Membership { role, ..current })
    }

    async fn remove_member(&self, org: OrgId, user: UserId) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        lock_organization(&mut tx, org).await?;
        let current = membership_in(&mut tx, org, user).await?;
        keep_an_owner(&mut tx, &current).await?;
        // A former member works on none of the organization's tickets and hears of none.
        for sql in [
            "DELETE FROM memberships WHERE organization_id = $1 AND user_id = $2",
            "UPDATE support_tickets SET assignee_id = NULL, version = version + 1 \
             WHERE organization_id = $1 AND assignee_id = $2",
            "DELETE FROM ticket_watchers WHERE organization_id = $1 AND user_id = $2",
            "DELETE FROM support_server_watchers WHERE organization_id = $1 AND user_id = $2",
        ] {
            sqlx::query(sql).bind(org.to_string()).bind(user.to_string()).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
