//! MCPlatform storage: the [`Store`] traits in domain terms, and one SQL implementation that runs
//! on SQLite (the embedded default) and PostgreSQL. This is the only crate that speaks SQL.
//!
//! Tenancy rule: every method that reads or changes tenant data takes the [`OrgId`] first, and
//! its query filters on it, so a caller cannot forget isolation.

mod database_url;
mod error;
mod migrations;
mod sql;
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use mcplatform_core::crypto::TokenHash;
use mcplatform_core::ids::{McpServerId, OrgId, SessionId, UserId};
use mcplatform_core::mcp_server::{McpServer, McpServerSettings, Slug};
use mcplatform_core::org::{Membership, OrgName, Organization, Role};
use mcplatform_core::user::{
    DisplayName, EmailAddress, PasswordHash, PlatformSession, PlatformUser,
};
use time::OffsetDateTime;

pub use database_url::{Backend, DatabaseUrl, DatabaseUrlError};
pub use error::{Result, StoreError};

/// How to reach the database and how many connections to keep.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub url: DatabaseUrl,
    pub max_connections: u32,
    pub min_connections: u32,
    /// How long a caller waits for a free connection before the store reports `Unavailable`.
    pub acquire_timeout: Duration,
}

impl ConnectOptions {
    pub fn new(url: DatabaseUrl) -> Self {
        Self {
            url,
            max_connections: 10,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// Opens a connection pool and brings the schema up to date.
pub async fn connect_and_migrate(options: &ConnectOptions) -> Result<Arc<dyn Store>> {
    let store = sql::SqlStore::connect(options).await?;
    store.migrate().await?;
    Ok(Arc::new(store))
}

/// Opens a connection pool without touching the schema.
pub async fn connect(options: &ConnectOptions) -> Result<Arc<dyn Store>> {
    Ok(Arc::new(sql::SqlStore::connect(options).await?))
}

/// Everything the platform persists. Split by area; each area is its own trait.
#[async_trait]
pub trait Store:
    OrganizationStore + UserStore + SessionStore + McpServerStore + Send + Sync + std::fmt::Debug
{
    fn backend(&self) -> Backend;

    /// Applies pending migrations; a no-op when the schema is current.
    async fn migrate(&self) -> Result<()>;

    /// Proves the database answers a query right now.
    async fn ping(&self) -> Result<()>;

    /// Closes every connection; later calls fail with `Unavailable`.
    async fn close(&self);
}

/// A member of an organization, with the user it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user: PlatformUser,
    pub role: Role,
    pub since: OffsetDateTime,
}

#[async_trait]
pub trait OrganizationStore {
    /// Creates an organization with `owner` as its first owner, atomically.
    async fn create_organization(
        &self,
        name: &OrgName,
        owner: UserId,
        now: OffsetDateTime,
    ) -> Result<Organization>;

    async fn get_organization(&self, org: OrgId) -> Result<Organization>;

    async fn rename_organization(
        &self,
        org: OrgId,
        name: &OrgName,
        now: OffsetDateTime,
    ) -> Result<Organization>;

    /// Deletes the organization and everything it owns.
    async fn delete_organization(&self, org: OrgId) -> Result<()>;

    /// The organizations `user` belongs to, with the role held in each, oldest first.
    async fn list_organizations_for_user(&self, user: UserId) -> Result<Vec<(Organization, Role)>>;

    /// Adds `user` to `org`; `Conflict("membership")` if already a member.
    async fn add_member(
        &self,
        org: OrgId,
        user: UserId,
        role: Role,
        now: OffsetDateTime,
    ) -> Result<Membership>;

    async fn get_membership(&self, org: OrgId, user: UserId) -> Result<Membership>;

    async fn list_members(&self, org: OrgId) -> Result<Vec<Member>>;

    /// Changes a member's role. `Conflict("last_owner")` if it would leave no owner.
    async fn set_member_role(&self, org: OrgId, user: UserId, role: Role) -> Result<Membership>;

    /// Removes a member. `Conflict("last_owner")` if it would leave no owner.
    async fn remove_member(&self, org: OrgId, user: UserId) -> Result<()>;
}

/// A platform user about to be created.
#[derive(Debug, Clone)]
pub struct NewPlatformUser {
    pub email: EmailAddress,
    pub display_name: DisplayName,
    pub password_hash: Option<PasswordHash>,
}

#[async_trait]
pub trait UserStore {
    /// Creates a user; `Conflict("email")` if the address is taken.
    async fn create_user(
        &self,
        user: &NewPlatformUser,
        now: OffsetDateTime,
    ) -> Result<PlatformUser>;

    async fn get_user(&self, user: UserId) -> Result<PlatformUser>;

    async fn find_user_by_email(&self, email: &EmailAddress) -> Result<Option<PlatformUser>>;

    async fn set_password_hash(
        &self,
        user: UserId,
        hash: &PasswordHash,
        now: OffsetDateTime,
    ) -> Result<()>;
}

#[async_trait]
pub trait SessionStore {
    async fn create_session(&self, session: &PlatformSession) -> Result<()>;

    /// The live session whose token hashes to `token`; expired sessions are not returned.
    async fn find_session(
        &self,
        token: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<Option<PlatformSession>>;

    /// Records activity and slides the expiry.
    async fn touch_session(
        &self,
        session: SessionId,
        last_seen_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<()>;

    async fn set_session_organization(&self, session: SessionId, org: Option<OrgId>) -> Result<()>;

    async fn delete_session(&self, session: SessionId) -> Result<()>;

    /// Ends every session of `user` ("log out everywhere"); returns how many ended.
    async fn delete_user_sessions(&self, user: UserId) -> Result<u64>;

    async fn delete_expired_sessions(&self, now: OffsetDateTime) -> Result<u64>;
}

#[async_trait]
pub trait McpServerStore {
    /// Creates a server; `Conflict("slug")` if the slug is taken by any organization.
    async fn create_mcp_server(
        &self,
        org: OrgId,
        slug: &Slug,
        settings: &McpServerSettings,
        now: OffsetDateTime,
    ) -> Result<McpServer>;

    async fn get_mcp_server(&self, org: OrgId, server: McpServerId) -> Result<McpServer>;

    async fn list_mcp_servers(&self, org: OrgId) -> Result<Vec<McpServer>>;

    async fn update_mcp_server(
        &self,
        org: OrgId,
        server: McpServerId,
        settings: &McpServerSettings,
        now: OffsetDateTime,
    ) -> Result<McpServer>;

    async fn delete_mcp_server(&self, org: OrgId, server: McpServerId) -> Result<()>;

    /// Resolves the server answering on a slug. Slugs are global (they are host names), so this
    /// is the one lookup that is not scoped to an organization.
    async fn find_mcp_server_by_slug(&self, slug: &Slug) -> Result<Option<McpServer>>;
}
