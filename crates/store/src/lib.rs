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
use mcplatform_core::api_key::{ApiKey, ApiKeyScope};
use mcplatform_core::audit::{AuditEvent, NewAuditEvent};
use mcplatform_core::crypto::TokenHash;
use mcplatform_core::end_user::{EndUser, EndUserLogin, LoginCode};
use mcplatform_core::hosting::{
    IdentitySource, McpRequestRecord, McpSession, RequestOutcome, TrackingId, TrackingLink,
};
use mcplatform_core::identity_provider::{IdentityProvider, ProviderSettings};
use mcplatform_core::ids::{
    ApiKeyId, AuthorizationRequestId, EndUserId, IdentityProviderId, InvitationId, McpServerId,
    OrgId, OutboxEmailId, SessionId, SupportTicketId, TelemetryDestinationId, TelemetryExportId,
    TicketActivityId, TokenFamilyId, UserId, WalkthroughId, WalkthroughStepId, WebhookDeliveryId,
};
use mcplatform_core::invitation::Invitation;
use mcplatform_core::mcp_server::{McpServer, McpServerSettings, Slug};
use mcplatform_core::oauth::client::OAuthClient;
use mcplatform_core::oauth::grant::{
    AuthorizationCode, AuthorizationRequest, RefreshToken, Scopes, TokenFamily,
};
use mcplatform_core::oauth::signing_key::SigningKey;
use mcplatform_core::org::{Membership, OrgName, Organization, RetentionDays, Role};
use mcplatform_core::outbox::{NewEmail, OutboxEmail};
use mcplatform_core::support::activity::TicketActivity;
use mcplatform_core::support::{SupportSettings, SupportTicket, TicketPriority, TicketStatus};
use mcplatform_core::telemetry::analytics::CallSample;
use mcplatform_core::telemetry::export::{
    Destination, DestinationKind, ExportEncoding, ExportSignal, Signals,
};
use mcplatform_core::telemetry::{
    LogRecord, MetricKind, MetricPointRecord, SpanRecord, TelemetryBatch,
};
use mcplatform_core::upstream_login::UpstreamLogin;
use mcplatform_core::user::{
    DisplayName, EmailAddress, LinkedIdentity, PasswordHash, PlatformSession, PlatformUser,
};
use mcplatform_core::walkthrough::{
    Assignment, Progress, ProgressEvent, StepContent, Walkthrough, WalkthroughDetails,
    WalkthroughStep,
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
    OrganizationStore
    + UserStore
    + SessionStore
    + McpServerStore
    + InvitationStore
    + OutboxStore
    + ApiKeyStore
    + IdentityProviderStore
    + UpstreamLoginStore
    + SigningKeyStore
    + OAuthClientStore
    + EndUserStore
    + EndUserLoginStore
    + AuthorizationStore
    + GrantStore
    + HostingStore
    + SupportStore
    + WalkthroughStore
    + TelemetryStore
    + TelemetryExportStore
    + AuditStore
    + Send
    + Sync
    + std::fmt::Debug
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

    /// Sets how long the organization's telemetry and recorded MCP requests are kept.
    async fn set_retention(
        &self,
        org: OrgId,
        retention: RetentionDays,
        now: OffsetDateTime,
    ) -> Result<Organization>;

    /// Every organization's retention, for the job that enforces it.
    async fn list_retention(&self) -> Result<Vec<(OrgId, RetentionDays)>>;

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

    /// The organization's members, longest-standing first (ties by user id).
    async fn list_members(&self, org: OrgId, page: PageRequest) -> Result<Page<Member>>;

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
    /// Stores a password reset link for `user`, valid until `expires_at`.
    async fn create_password_reset(
        &self,
        user: UserId,
        token: &TokenHash,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<()>;

    /// Uses a reset link: sets the new password hash, marks the link used and the address
    /// verified (the link reached it) and ends every session of the account, atomically. `NotFound` unless the link is unused and unexpired.
    async fn complete_password_reset(
        &self,
        token: &TokenHash,
        hash: &PasswordHash,
        now: OffsetDateTime,
    ) -> Result<PlatformUser>;

    /// The account an unused, unexpired reset link belongs to.
    async fn find_password_reset_user(
        &self,
        token: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<Option<PlatformUser>>;

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

    /// The account an outside provider's identity is linked to.
    async fn find_user_by_identity(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<PlatformUser>>;

    /// Creates an account whose email the provider verified, linked to that identity, at once.
    /// `Conflict("email")` if the address is taken.
    async fn create_user_with_identity(
        &self,
        user: &NewPlatformUser,
        identity: &LinkedIdentity,
    ) -> Result<PlatformUser>;

    /// Links an identity to `user`, or notes a new sign-in with an identity already linked
    /// to them. `Conflict("identity")` if it is linked to another account.
    async fn record_identity_login(&self, user: UserId, identity: &LinkedIdentity) -> Result<()>;

    /// The outside sign-ins of an account, oldest first.
    async fn list_user_identities(&self, user: UserId) -> Result<Vec<LinkedIdentity>>;

    /// `NotFound` unless the identity is linked to `user`.
    async fn unlink_identity(&self, user: UserId, provider: &str, subject: &str) -> Result<()>;
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
    /// Creates a server; `Conflict("slug")` if the slug is taken by any organization,
    /// `NotFound` if its identity provider is not the organization's.
    async fn create_mcp_server(
        &self,
        org: OrgId,
        slug: &Slug,
        settings: &McpServerSettings,
        now: OffsetDateTime,
    ) -> Result<McpServer>;

    async fn get_mcp_server(&self, org: OrgId, server: McpServerId) -> Result<McpServer>;

    /// The organization's servers by name (ties by id).
    async fn list_mcp_servers(&self, org: OrgId, page: PageRequest) -> Result<Page<McpServer>>;

    /// `NotFound` if the organization has no such server, or its identity provider is not
    /// the organization's.
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

/// One page of a list: at most `limit` rows after skipping `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    pub offset: u32,
}

impl PageRequest {
    pub const MAX_LIMIT: u32 = 200;

    /// Every row at once: for the choices of a form, never for a page a caller asked for.
    pub const ALL: Self = Self { limit: u32::MAX, offset: 0 };

    pub fn new(limit: u32, offset: u32) -> Self {
        Self { limit: limit.clamp(1, Self::MAX_LIMIT), offset }
    }

    /// How many rows to fetch: one more than the page, which tells whether another follows.
    pub(crate) fn probe_limit(self) -> i64 {
        i64::from(self.limit) + 1
    }
}

/// One page of a list, and where the next one starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The offset of the next page; `None` on the last one.
    pub next_offset: Option<u32>,
}

impl<T> Page<T> {
    /// Cuts rows fetched with [`PageRequest::probe_limit`] down to the page.
    pub(crate) fn from_probe(mut rows: Vec<T>, page: PageRequest) -> Self {
        let limit = usize::try_from(page.limit).unwrap_or(usize::MAX);
        let next_offset = if rows.len() > limit {
            rows.truncate(limit);
            // Past u32::MAX there is no next page to name (and no such list).
            page.offset.checked_add(page.limit)
        } else {
            None
        };
        Self { items: rows, next_offset }
    }
}

/// An invitation about to be created; the token hash is of the secret in the emailed link.
#[derive(Debug, Clone)]
pub struct NewInvitation {
    pub organization_id: OrgId,
    pub email: EmailAddress,
    pub role: Role,
    pub invited_by: Option<UserId>,
    pub token_hash: TokenHash,
    pub expires_at: OffsetDateTime,
}

#[async_trait]
pub trait InvitationStore {
    /// `Conflict("invitation")` while an open one exists for the same address and organization.
    async fn create_invitation(
        &self,
        invitation: &NewInvitation,
        now: OffsetDateTime,
    ) -> Result<Invitation>;

    /// Every invitation of the organization, newest first.
    async fn list_invitations(&self, org: OrgId) -> Result<Vec<Invitation>>;

    async fn get_invitation(&self, org: OrgId, invitation: InvitationId) -> Result<Invitation>;

    /// The invitation a link's secret belongs to, whatever its state.
    async fn find_invitation_by_token(&self, token: &TokenHash) -> Result<Option<Invitation>>;

    /// Stops an open invitation from being accepted; `NotFound` when it is not open.
    async fn revoke_invitation(
        &self,
        org: OrgId,
        invitation: InvitationId,
        now: OffsetDateTime,
    ) -> Result<()>;

    /// Replaces an open invitation's link secret and expiry (a resend).
    async fn renew_invitation(
        &self,
        org: OrgId,
        invitation: InvitationId,
        token: &TokenHash,
        expires_at: OffsetDateTime,
    ) -> Result<Invitation>;

    /// Makes `user` a member with the invited role and closes the invitation, atomically.
    /// `NotFound` unless the invitation is open and unexpired at `now`; an existing member
    /// keeps their current role.
    async fn accept_invitation(
        &self,
        invitation: InvitationId,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<Membership>;
}

#[async_trait]
pub trait OutboxStore {
    async fn enqueue_email(&self, email: &NewEmail, now: OffsetDateTime) -> Result<OutboxEmail>;

    /// The organization's messages, newest first.
    async fn list_outbox(&self, org: OrgId, page: PageRequest) -> Result<Page<OutboxEmail>>;

    /// Unsent messages whose next attempt is due, oldest first.
    async fn due_emails(&self, now: OffsetDateTime, limit: u32) -> Result<Vec<OutboxEmail>>;

    async fn mark_email_sent(&self, email: OutboxEmailId, now: OffsetDateTime) -> Result<()>;

    /// Records a failed attempt and when to try again.
    async fn mark_email_failed(
        &self,
        email: OutboxEmailId,
        error: &str,
        retry_at: OffsetDateTime,
    ) -> Result<()>;
}

/// An API key about to be created.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub organization_id: OrgId,
    pub mcp_server_id: Option<McpServerId>,
    pub name: String,
    pub visible_prefix: String,
    pub token_hash: TokenHash,
    pub scopes: Vec<ApiKeyScope>,
    pub created_by: Option<UserId>,
}

#[async_trait]
pub trait ApiKeyStore {
    /// `NotFound` if the server is not the organization's.
    async fn create_api_key(&self, key: &NewApiKey, now: OffsetDateTime) -> Result<ApiKey>;

    /// The organization's keys (server and organization keys), newest first (ties by id).
    async fn list_api_keys(&self, org: OrgId, page: PageRequest) -> Result<Page<ApiKey>>;

    async fn get_api_key(&self, org: OrgId, key: ApiKeyId) -> Result<ApiKey>;

    /// The unrevoked key a secret belongs to.
    async fn find_active_api_key(&self, token: &TokenHash) -> Result<Option<ApiKey>>;

    /// `NotFound` when the key is not the organization's or already revoked.
    async fn revoke_api_key(&self, org: OrgId, key: ApiKeyId, now: OffsetDateTime) -> Result<()>;

    /// Records when keys were last used, many at once (usage is batched in memory).
    async fn record_api_key_usage(&self, usage: &[(ApiKeyId, OffsetDateTime)]) -> Result<()>;
}

#[async_trait]
pub trait IdentityProviderStore {
    /// Stores a new provider, its id and sealed secret chosen by the caller (the secret is
    /// sealed for the id). `Conflict("name")` when the organization has one of that name.
    async fn create_identity_provider(&self, provider: &IdentityProvider) -> Result<()>;

    /// The organization's providers, by name.
    async fn list_identity_providers(&self, org: OrgId) -> Result<Vec<IdentityProvider>>;

    async fn get_identity_provider(
        &self,
        org: OrgId,
        provider: IdentityProviderId,
    ) -> Result<IdentityProvider>;

    /// Replaces the settings; the client secret only when a new sealed one is given.
    async fn update_identity_provider(
        &self,
        org: OrgId,
        provider: IdentityProviderId,
        settings: &ProviderSettings,
        sealed_client_secret: Option<&[u8]>,
        now: OffsetDateTime,
    ) -> Result<IdentityProvider>;

    /// `Conflict("in_use")` while a server signs its users in with it.
    async fn delete_identity_provider(
        &self,
        org: OrgId,
        provider: IdentityProviderId,
    ) -> Result<()>;

    /// The slugs of the organization's servers that sign users in with the provider.
    async fn servers_using_identity_provider(
        &self,
        org: OrgId,
        provider: IdentityProviderId,
    ) -> Result<Vec<Slug>>;
}

#[async_trait]
pub trait SigningKeyStore {
    async fn create_signing_key(&self, key: &SigningKey) -> Result<()>;

    /// Every key still published after `now`, newest first.
    async fn list_signing_keys(&self, now: OffsetDateTime) -> Result<Vec<SigningKey>>;
}

#[async_trait]
pub trait UpstreamLoginStore {
    /// Remembers a login about to be sent upstream (and forgets long-expired ones).
    async fn create_upstream_login(&self, login: &UpstreamLogin) -> Result<()>;

    /// The unexpired, unused login with this state, marked used: a second call with the same
    /// state finds nothing. Only its rightful claimant finds it, so nobody else can use it up.
    async fn consume_upstream_login(
        &self,
        state_hash: &TokenHash,
        claimant: LoginClaimant,
        now: OffsetDateTime,
    ) -> Result<Option<UpstreamLogin>>;
}

#[async_trait]
pub trait OAuthClientStore {
    /// `NotFound` if the server is not the organization's.
    async fn create_oauth_client(&self, client: &OAuthClient) -> Result<()>;

    /// The server's unrevoked client with this id.
    async fn find_oauth_client(
        &self,
        server: McpServerId,
        client_id: &str,
    ) -> Result<Option<OAuthClient>>;

    /// The server's clients, revoked ones too, newest first.
    async fn list_oauth_clients(
        &self,
        org: OrgId,
        server: McpServerId,
        page: PageRequest,
    ) -> Result<Page<OAuthClient>>;

    /// Revokes the client and every token issued to it. `NotFound` unless it is one of the
    /// organization's server's unrevoked clients.
    async fn revoke_oauth_client(
        &self,
        org: OrgId,
        server: McpServerId,
        client_id: &str,
        now: OffsetDateTime,
    ) -> Result<()>;
}

/// A customer IdP's tokens for an end user, sealed with the master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedUpstreamTokens {
    pub access_token: Vec<u8>,
    pub refresh_token: Option<Vec<u8>>,
    pub expires_at: Option<OffsetDateTime>,
}

#[async_trait]
pub trait EndUserStore {
    /// Finds the organization's end user by the login's identity, else by its verified email
    /// (linking the identity), else creates one; records the profile and the time, atomically.
    async fn record_end_user_login(
        &self,
        org: OrgId,
        login: &EndUserLogin,
        now: OffsetDateTime,
    ) -> Result<EndUser>;

    async fn get_end_user(&self, org: OrgId, end_user: EndUserId) -> Result<EndUser>;

    /// The organization's end users among `ids` (others' and unknown ids are left out), in a
    /// query per 500.
    async fn get_end_users(&self, org: OrgId, ids: &[EndUserId]) -> Result<Vec<EndUser>>;

    /// Replaces the end user's tokens from an organization identity provider.
    async fn store_upstream_tokens(
        &self,
        end_user: EndUserId,
        provider: IdentityProviderId,
        tokens: &SealedUpstreamTokens,
        now: OffsetDateTime,
    ) -> Result<()>;

    async fn create_end_user_session(
        &self,
        server: McpServerId,
        end_user: &EndUser,
        token: &TokenHash,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<()>;

    /// Who holds this live session cookie of the server's authorization pages.
    async fn find_end_user_session(
        &self,
        server: McpServerId,
        token: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<Option<EndUserId>>;
}

/// The built-in end-user login of `platform_oauth` servers: emailed codes and passwords.
#[async_trait]
pub trait EndUserLoginStore {
    /// The password set for this (lowercased) address on the server, if any.
    async fn end_user_password(
        &self,
        server: McpServerId,
        email: &str,
    ) -> Result<Option<PasswordHash>>;

    /// Sets or replaces the address's password on the server.
    async fn set_end_user_password(
        &self,
        server: McpServerId,
        email: &str,
        hash: &PasswordHash,
        now: OffsetDateTime,
    ) -> Result<()>;

    /// Stores a fresh code for its request, replacing any earlier one.
    async fn put_login_code(&self, code: &LoginCode, now: OffsetDateTime) -> Result<()>;

    /// Spends one attempt at the request's live code and returns it (with the attempts now
    /// left); `None` when there is none, it expired, or no attempts are left.
    async fn take_login_code_attempt(
        &self,
        request: AuthorizationRequestId,
        now: OffsetDateTime,
    ) -> Result<Option<LoginCode>>;

    /// Voids the request's code (it was used).
    async fn delete_login_code(&self, request: AuthorizationRequestId) -> Result<()>;
}

/// One end user's consent to one client on a server, with what it is in use for.
#[derive(Debug, Clone, PartialEq)]
pub struct GrantSummary {
    pub end_user: EndUser,
    pub client_id: String,
    pub scopes: Scopes,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// Token families (a client's signed-in sessions) neither revoked nor expired.
    pub active_sessions: i64,
    /// The newest token use of any of them.
    pub last_used_at: Option<OffsetDateTime>,
}

/// Consents as the people who gave them and the organization see them.
#[async_trait]
pub trait GrantStore {
    /// A server's grants, newest first; only `end_user`'s when given.
    async fn list_grants(
        &self,
        server: McpServerId,
        end_user: Option<EndUserId>,
        now: OffsetDateTime,
        page: PageRequest,
    ) -> Result<Page<GrantSummary>>;

    /// Withdraws the consent and revokes every token (and unexchanged code) the client holds
    /// for the end user on the server; `NotFound` when there was no such grant.
    async fn revoke_grant(
        &self,
        server: McpServerId,
        end_user: EndUserId,
        client_id: &str,
        now: OffsetDateTime,
    ) -> Result<()>;
}

/// What presenting an authorization code found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCode {
    pub code: AuthorizationCode,
    pub used_at: Option<OffsetDateTime>,
}

#[async_trait]
pub trait AuthorizationStore {
    async fn create_authorization_request(&self, request: &AuthorizationRequest) -> Result<()>;

    /// The request while it is open: unexpired and without a code yet.
    async fn get_authorization_request(
        &self,
        request: AuthorizationRequestId,
        now: OffsetDateTime,
    ) -> Result<Option<AuthorizationRequest>>;

    /// Notes who signed in for an open request nobody signed in for yet, with the hash of the
    /// secret that hands the sign-in back. `NotFound` otherwise.
    async fn set_authorization_request_user(
        &self,
        request: AuthorizationRequestId,
        end_user: EndUserId,
        handoff: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<()>;

    /// Closes an open request without a code (the person declined).
    async fn close_authorization_request(
        &self,
        request: AuthorizationRequestId,
        now: OffsetDateTime,
    ) -> Result<()>;

    /// Closes the request, stores its code and remembers the consent (the code's client and
    /// scopes for its end user), atomically. `NotFound` unless the request is open.
    async fn issue_authorization_code(
        &self,
        request: AuthorizationRequestId,
        code: &AuthorizationCode,
        now: OffsetDateTime,
    ) -> Result<()>;

    /// The scopes an end user allowed a client on a server, if they did.
    async fn find_grant(
        &self,
        server: McpServerId,
        end_user: EndUserId,
        client_id: &str,
    ) -> Result<Option<Scopes>>;

    /// A code by its hash, used or not (a used one presented again is a replay).
    async fn find_authorization_code(&self, code: &TokenHash) -> Result<Option<StoredCode>>;

    /// Marks the code used and starts the family it issues, with its first refresh token,
    /// atomically. `false` when the code was used meanwhile (then nothing is stored).
    async fn redeem_authorization_code(
        &self,
        code: &TokenHash,
        family: &TokenFamily,
        refresh: Option<&RefreshToken>,
        now: OffsetDateTime,
    ) -> Result<bool>;

    /// A refresh token and its family, whatever their state.
    async fn find_refresh_token(
        &self,
        token: &TokenHash,
    ) -> Result<Option<(RefreshToken, TokenFamily)>>;

    /// Replaces a live refresh token by `new` in its family. `false` when it was rotated
    /// meanwhile (then nothing is stored).
    async fn rotate_refresh_token(
        &self,
        old: &TokenHash,
        new: &RefreshToken,
        now: OffsetDateTime,
    ) -> Result<bool>;

    /// Revokes a family (its refresh token stops working; introspection calls its access
    /// tokens inactive). Revoking a revoked family changes nothing.
    async fn revoke_token_family(
        &self,
        family: TokenFamilyId,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<()>;

    async fn find_token_family(&self, family: TokenFamilyId) -> Result<Option<TokenFamily>>;
}

/// Who presents a login's callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginClaimant {
    /// The logged-in user, who may claim the logins they began.
    pub user: Option<UserId>,
    /// Whether the browser holds the login's state in its cookie, which lets it claim a login
    /// begun without a user.
    pub same_browser: bool,
}

/// Which audit events to list.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only actions of this area (`member` matches `member.invited`, `member.removed`, …).
    pub area: Option<String>,
    pub actor: Option<UserId>,
}

/// End users as hosted servers meet them, the sessions their clients hold and the record of
/// their requests.
#[async_trait]
pub trait HostingStore {
    /// An end user known only by what the customer or the user said (a tracking link's label,
    /// an address given to a tool): no login, no verified address.
    async fn create_end_user(
        &self,
        org: OrgId,
        email: Option<&str>,
        name: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<EndUser>;

    /// The organization's oldest end user with this (lowercased) address; with
    /// `unverified_only`, the oldest whose address nobody proved.
    async fn find_end_user_by_email(
        &self,
        org: OrgId,
        email: &str,
        unverified_only: bool,
    ) -> Result<Option<EndUser>>;

    /// Records an address the end user gave (unverified); only where none is known yet.
    async fn set_end_user_email(&self, org: OrgId, end_user: EndUserId, email: &str) -> Result<()>;

    /// Makes the placeholder `from` (an end user known only by a tracking link or a given
    /// address: never signed in, no verified address) part of `into`: its tracking links,
    /// sessions, requests and tickets move over and `from` is deleted, atomically. Whether it
    /// merged: not when `from` is no placeholder (or gone already), or `into` is not the
    /// organization's.
    async fn merge_end_users(&self, org: OrgId, from: EndUserId, into: EndUserId) -> Result<bool>;

    async fn create_tracking_link(&self, link: &TrackingLink) -> Result<()>;

    async fn find_tracking_link(&self, tracking_id: &TrackingId) -> Result<Option<TrackingLink>>;

    /// The server's links, newest first.
    async fn list_tracking_links(
        &self,
        org: OrgId,
        server: McpServerId,
        page: PageRequest,
    ) -> Result<Page<TrackingLink>>;

    async fn revoke_tracking_link(
        &self,
        org: OrgId,
        server: McpServerId,
        tracking_id: &TrackingId,
        now: OffsetDateTime,
    ) -> Result<()>;

    /// Notes a link's use, at most once a minute.
    async fn touch_tracking_link(
        &self,
        tracking_id: &TrackingId,
        now: OffsetDateTime,
    ) -> Result<()>;

    /// A new session; `state` is a stateful session's `initialize` parameters (JSON).
    async fn create_mcp_session(&self, session: &McpSession, state: Option<&str>) -> Result<()>;

    async fn find_mcp_session(&self, id: &str) -> Result<Option<McpSession>>;

    /// The `initialize` parameters of an open stateful session, to restore it on any node.
    async fn mcp_session_state(&self, id: &str) -> Result<Option<String>>;

    async fn close_mcp_session(&self, id: &str, now: OffsetDateTime) -> Result<()>;

    /// The open session's end user became known (an address given to a tool); `NotFound` when
    /// the session is closed, unknown or of another organization than the end user.
    async fn identify_mcp_session(
        &self,
        id: &str,
        end_user: EndUserId,
        source: IdentitySource,
    ) -> Result<()>;

    /// The server's derived session for `key` seen since `active_since`, if any.
    async fn find_derived_session(
        &self,
        server: McpServerId,
        key: &str,
        active_since: OffsetDateTime,
    ) -> Result<Option<McpSession>>;

    /// Sessions of one server (and end user), most recently seen first.
    async fn list_mcp_sessions(
        &self,
        org: OrgId,
        server: McpServerId,
        end_user: Option<EndUserId>,
        page: PageRequest,
    ) -> Result<Page<McpSession>>;

    /// Stores a batch of records and moves their sessions' last-seen times forward, all or
    /// nothing (a failed batch can be given again: a record already stored is not stored
    /// twice). A record whose server is gone, or not its organization's, is dropped.
    /// `exports` (the records as spans) are queued for the export destinations in the same
    /// transaction.
    async fn record_mcp_requests(
        &self,
        records: &[McpRequestRecord],
        exports: &[ExportWrite],
    ) -> Result<()>;

    /// A session's requests in the order they came.
    async fn list_session_requests(
        &self,
        org: OrgId,
        session: &str,
        page: PageRequest,
    ) -> Result<Page<McpRequestRecord>>;

    /// A session's latest tool calls, newest first.
    async fn recent_tool_calls(
        &self,
        org: OrgId,
        session: &str,
        limit: u32,
    ) -> Result<Vec<McpRequestRecord>>;

    /// The organization's end users (of one server, when given) with their activity, most
    /// recently seen first; those never seen last, newest login first.
    async fn list_end_user_activity(
        &self,
        org: OrgId,
        server: Option<McpServerId>,
        page: PageRequest,
    ) -> Result<Page<EndUserActivity>>;
}

/// An end user and what they did.
#[derive(Debug, Clone, PartialEq)]
pub struct EndUserActivity {
    pub end_user: EndUser,
    /// They signed in with OAuth at least once.
    pub has_login: bool,
    /// They have a tracking link.
    pub has_tracking_link: bool,
    /// They gave their address to a tool (`collect_email`).
    pub gave_email: bool,
    pub first_seen_at: Option<OffsetDateTime>,
    pub last_seen_at: Option<OffsetDateTime>,
    pub sessions: i64,
    pub tool_calls: i64,
    pub tickets: i64,
}

impl EndUserActivity {
    /// How they became known, strongest first.
    pub fn identified_by(&self) -> Vec<IdentitySource> {
        [
            (self.has_login, IdentitySource::Oauth),
            (self.has_tracking_link, IdentitySource::Tracking),
            (self.gave_email, IdentitySource::Email),
        ]
        .into_iter()
        .filter_map(|(known, source)| known.then_some(source))
        .collect()
    }
}

/// Which tickets a list shows; every part narrows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TicketFilter {
    pub server: Option<McpServerId>,
    /// Any of these statuses; all when empty.
    pub statuses: Vec<TicketStatus>,
    pub priority: Option<TicketPriority>,
    pub assignee: Option<AssigneeFilter>,
    pub end_user: Option<EndUserId>,
    /// Opened in this MCP session.
    pub session_id: Option<String>,
    /// Opened at or after.
    pub opened_from: Option<OffsetDateTime>,
    /// Opened before.
    pub opened_before: Option<OffsetDateTime>,
    /// Words that must each appear (ignoring case) in the title, summary, description, email,
    /// category or a comment.
    pub search: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssigneeFilter {
    Unassigned,
    Member(UserId),
}

/// How a ticket list is ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TicketSort {
    #[default]
    Newest,
    Oldest,
    RecentlyUpdated,
    /// Critical first, then newest.
    Priority,
}

/// A webhook message to send.
#[derive(Debug, Clone, PartialEq)]
pub struct NewWebhook {
    pub organization_id: OrgId,
    pub mcp_server_id: McpServerId,
    pub event_type: String,
    /// The JSON body, exactly as it will be signed and sent.
    pub payload: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WebhookDelivery {
    pub id: WebhookDeliveryId,
    pub organization_id: OrgId,
    pub mcp_server_id: McpServerId,
    pub event_type: String,
    pub payload: String,
    pub created_at: OffsetDateTime,
    /// `None` once delivered or given up.
    pub next_attempt_at: Option<OffsetDateTime>,
    pub attempts: i64,
    pub delivered_at: Option<OffsetDateTime>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
}

/// How one delivery attempt went.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookAttempt {
    pub delivered: bool,
    pub status: Option<u16>,
    pub error: Option<String>,
    /// When to try again; `None` when delivered or given up.
    pub retry_at: Option<OffsetDateTime>,
}

/// A server's webhook backlog and latest outcomes, for the dashboard.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebhookStatus {
    pub pending: i64,
    pub failed: i64,
    pub last_success_at: Option<OffsetDateTime>,
    /// The error of the latest message not delivered (yet).
    pub last_error: Option<String>,
}

/// A server's support settings as stored: the webhook secret stays sealed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredSupportSettings {
    pub settings: SupportSettings,
    pub webhook_secret_sealed: Option<Vec<u8>>,
}

/// A change to a ticket, stored in one transaction with what it causes: the activity it adds,
/// members who start watching, the email and webhook messages it sends.
#[derive(Debug, Clone)]
pub struct TicketChange {
    /// The ticket as it is to be stored. On update, its `version` is the one it was read at:
    /// the write is refused (`Conflict("ticket_changed")`) when someone changed it since, and
    /// the stored version is one more.
    pub ticket: SupportTicket,
    pub activities: Vec<TicketActivity>,
    pub watchers: Vec<UserId>,
    pub emails: Vec<NewEmail>,
    pub webhooks: Vec<NewWebhook>,
}

impl TicketChange {
    pub fn new(ticket: SupportTicket) -> Self {
        Self {
            ticket,
            activities: Vec::new(),
            watchers: Vec::new(),
            emails: Vec::new(),
            webhooks: Vec::new(),
        }
    }
}

#[async_trait]
pub trait SupportStore {
    /// Stores a new ticket with its change. The server, the end user and the assignee must be
    /// the organization's.
    async fn create_support_ticket(&self, change: &TicketChange) -> Result<()>;

    /// Stores a changed ticket (see [`TicketChange::ticket`] for the version check).
    async fn update_support_ticket(&self, change: &TicketChange) -> Result<()>;

    async fn get_support_ticket(
        &self,
        org: OrgId,
        ticket: SupportTicketId,
    ) -> Result<SupportTicket>;

    async fn list_support_tickets(
        &self,
        org: OrgId,
        filter: &TicketFilter,
        sort: TicketSort,
        page: PageRequest,
    ) -> Result<Page<SupportTicket>>;

    /// How many of the organization's tickets are in each status (statuses with none left out).
    async fn count_support_tickets(
        &self,
        org: OrgId,
        server: Option<McpServerId>,
    ) -> Result<Vec<(TicketStatus, i64)>>;

    /// `awaiting_customer` tickets of every organization whose deadline has passed, oldest
    /// deadline first.
    async fn tickets_due_to_resolve(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<SupportTicket>>;

    /// The activity stream, oldest first; internal notes only when asked for.
    async fn list_ticket_activities(
        &self,
        org: OrgId,
        ticket: SupportTicketId,
        include_internal: bool,
    ) -> Result<Vec<TicketActivity>>;

    async fn get_ticket_activity(
        &self,
        org: OrgId,
        activity: TicketActivityId,
    ) -> Result<TicketActivity>;

    /// Rewrites a comment or note of `author`'s (anyone else's: `NotFound`).
    async fn edit_ticket_comment(
        &self,
        org: OrgId,
        activity: TicketActivityId,
        author: UserId,
        body: &str,
        now: OffsetDateTime,
    ) -> Result<()>;

    /// Deletes a comment or note of `author`'s (anyone else's: `NotFound`).
    async fn delete_ticket_comment(
        &self,
        org: OrgId,
        activity: TicketActivityId,
        author: UserId,
    ) -> Result<()>;

    async fn set_ticket_watcher(
        &self,
        org: OrgId,
        ticket: SupportTicketId,
        user: UserId,
        watching: bool,
    ) -> Result<()>;

    async fn ticket_watchers(&self, org: OrgId, ticket: SupportTicketId) -> Result<Vec<UserId>>;

    /// Members told about every new ticket of the server.
    async fn set_server_watcher(
        &self,
        org: OrgId,
        server: McpServerId,
        user: UserId,
        watching: bool,
    ) -> Result<()>;

    async fn server_watchers(&self, org: OrgId, server: McpServerId) -> Result<Vec<UserId>>;

    /// The server's settings, or the defaults when it has none.
    async fn get_support_settings(
        &self,
        org: OrgId,
        server: McpServerId,
    ) -> Result<StoredSupportSettings>;

    async fn put_support_settings(
        &self,
        org: OrgId,
        server: McpServerId,
        settings: &StoredSupportSettings,
        now: OffsetDateTime,
    ) -> Result<()>;

    /// Queues one webhook message by itself (a test message from the dashboard).
    async fn enqueue_webhook(&self, webhook: &NewWebhook, now: OffsetDateTime) -> Result<()>;

    /// Claims due messages for `lease` (another node skips them meanwhile), oldest first.
    async fn claim_due_webhooks(
        &self,
        now: OffsetDateTime,
        lease: std::time::Duration,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>>;

    async fn record_webhook_attempt(
        &self,
        delivery: WebhookDeliveryId,
        attempt: &WebhookAttempt,
        now: OffsetDateTime,
    ) -> Result<()>;

    async fn webhook_status(&self, org: OrgId, server: McpServerId) -> Result<WebhookStatus>;

    /// The server's latest messages, newest first.
    async fn list_webhook_deliveries(
        &self,
        org: OrgId,
        server: McpServerId,
        page: PageRequest,
    ) -> Result<Page<WebhookDelivery>>;
}

/// A walkthrough in a list, with how big it is and where it is offered.
#[derive(Debug, Clone, PartialEq)]
pub struct WalkthroughSummary {
    pub walkthrough: Walkthrough,
    pub steps: i64,
    /// Servers it is assigned to (enabled or not).
    pub servers: i64,
}

/// Authoring, assignment, delivery and analytics of walkthroughs. Steps are always numbered
/// 0..n in their walkthrough, and a server's assignments 0..n in its list: every change that
/// adds, removes or moves one renumbers the rest in the same transaction.
#[async_trait]
pub trait WalkthroughStore {
    /// A new walkthrough with its steps (titles and content, in order), all or nothing.
    async fn create_walkthrough(
        &self,
        walkthrough: &Walkthrough,
        steps: &[(String, StepContent)],
    ) -> Result<Vec<WalkthroughStep>>;

    async fn get_walkthrough(&self, org: OrgId, walkthrough: WalkthroughId) -> Result<Walkthrough>;

    /// The organization's walkthroughs, most recently changed first.
    async fn list_walkthroughs(
        &self,
        org: OrgId,
        page: PageRequest,
    ) -> Result<Page<WalkthroughSummary>>;

    async fn update_walkthrough(
        &self,
        org: OrgId,
        walkthrough: WalkthroughId,
        details: &WalkthroughDetails,
        now: OffsetDateTime,
    ) -> Result<Walkthrough>;

    /// Deletes it with its steps, assignments, progress and events.
    async fn delete_walkthrough(&self, org: OrgId, walkthrough: WalkthroughId) -> Result<()>;

    /// Its steps in display order; `NotFound` for another organization's walkthrough.
    async fn list_walkthrough_steps(
        &self,
        org: OrgId,
        walkthrough: WalkthroughId,
    ) -> Result<Vec<WalkthroughStep>>;

    /// A step added at the end. `Conflict("steps")` past [`WalkthroughStep::MAX_STEPS`].
    async fn add_walkthrough_step(
        &self,
        org: OrgId,
        walkthrough: WalkthroughId,
        title: &str,
        content: &StepContent,
        now: OffsetDateTime,
    ) -> Result<WalkthroughStep>;

    async fn update_walkthrough_step(
        &self,
        org: OrgId,
        walkthrough: WalkthroughId,
        step: WalkthroughStepId,
        title: &str,
        content: &StepContent,
        now: OffsetDateTime,
    ) -> Result<WalkthroughStep>;

    async fn delete_walkthrough_step(
        &self,
        org: OrgId,
        walkthrough: WalkthroughId,
        step: WalkthroughStepId,
        now: OffsetDateTime,
    ) -> Result<()>;

    /// Puts the steps in `order`, which must name each of them exactly once
    /// (`Conflict("steps")` otherwise, checked inside the transaction).
    async fn reorder_walkthrough_steps(
        &self,
        org: OrgId,
        walkthrough: WalkthroughId,
        order: &[WalkthroughStepId],
        now: OffsetDateTime,
    ) -> Result<()>;

    /// A server's walkthroughs in its order, each with its assignment.
    async fn list_server_walkthroughs(
        &self,
        org: OrgId,
        server: McpServerId,
    ) -> Result<Vec<(Assignment, Walkthrough)>>;

    /// The servers a walkthrough is assigned to.
    async fn list_walkthrough_assignments(
        &self,
        org: OrgId,
        walkthrough: WalkthroughId,
    ) -> Result<Vec<Assignment>>;

    /// Adds it at the end of the server's list, enabled. `Conflict("assignment")` when it is
    /// there already; `NotFound` when either is another organization's.
    async fn assign_walkthrough(
        &self,
        org: OrgId,
        server: McpServerId,
        walkthrough: WalkthroughId,
        now: OffsetDateTime,
    ) -> Result<Assignment>;

    async fn set_assignment_enabled(
        &self,
        org: OrgId,
        server: McpServerId,
        walkthrough: WalkthroughId,
        enabled: bool,
    ) -> Result<()>;

    async fn unassign_walkthrough(
        &self,
        org: OrgId,
        server: McpServerId,
        walkthrough: WalkthroughId,
    ) -> Result<()>;

    /// Puts the server's walkthroughs in `order` (each exactly once, `Conflict("assignments")`
    /// otherwise).
    async fn reorder_server_walkthroughs(
        &self,
        org: OrgId,
        server: McpServerId,
        order: &[WalkthroughId],
    ) -> Result<()>;

    /// What a server delivers: its enabled assignments of published walkthroughs, in order.
    async fn offered_walkthroughs(
        &self,
        org: OrgId,
        server: McpServerId,
    ) -> Result<Vec<Walkthrough>>;

    /// An end user's progress in each walkthrough they started, latest activity first.
    async fn list_end_user_progress(
        &self,
        org: OrgId,
        end_user: EndUserId,
    ) -> Result<Vec<Progress>>;

    /// Writes `progress` (the whole attempt state) with the `events` that led to it, in one
    /// transaction. A `restarted` event clears the completions of the earlier attempt; a
    /// `step_completed` one adds its step.
    async fn record_progress(&self, progress: &Progress, events: &[ProgressEvent]) -> Result<()>;

    /// Who follows a walkthrough, latest activity first.
    async fn list_walkthrough_progress(
        &self,
        org: OrgId,
        walkthrough: WalkthroughId,
        page: PageRequest,
    ) -> Result<Page<Progress>>;

    /// A walkthrough's events in `[from, to]`, of one server when given, oldest first; at most
    /// `limit`.
    async fn list_walkthrough_events(
        &self,
        org: OrgId,
        walkthrough: WalkthroughId,
        server: Option<McpServerId>,
        from: OffsetDateTime,
        to: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ProgressEvent>>;
}

/// One OTLP request's rows, for the server its API key belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetryWrite {
    pub organization_id: OrgId,
    pub mcp_server_id: McpServerId,
    pub received_at: OffsetDateTime,
    pub batch: TelemetryBatch,
    /// The request to forward to the destinations that want its signal, queued in the same
    /// transaction as the rows.
    pub export: Option<ExportRequest>,
}

/// A request for the forwarding queue alone (the hosted servers' requests as spans), queued
/// in the transaction that stores what it describes.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportWrite {
    pub organization_id: OrgId,
    pub mcp_server_id: McpServerId,
    pub received_at: OffsetDateTime,
    pub request: ExportRequest,
}

/// An accepted OTLP request, as protobuf, for the forwarding queue.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRequest {
    pub id: TelemetryExportId,
    pub signal: ExportSignal,
    pub body: Vec<u8>,
    /// Spans, data points or log records in it.
    pub items: i64,
}

/// A span as stored, with its server.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSpan {
    pub mcp_server_id: McpServerId,
    pub span: SpanRecord,
}

/// A log record as stored, with its server.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredLog {
    pub mcp_server_id: McpServerId,
    pub log: LogRecord,
}

/// Which log records to read: newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogQuery {
    pub server: Option<McpServerId>,
    pub from_ns: i64,
    pub to_ns: i64,
    /// Words the body must all contain, in any case.
    pub text: Option<String>,
    /// At least this `SeverityNumber` (9 = INFO, 13 = WARN, 17 = ERROR).
    pub min_severity: Option<i32>,
    pub trace_id: Option<String>,
    pub limit: u32,
}

/// Which MCP operations to list: newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallQuery {
    pub server: Option<McpServerId>,
    pub from_ns: i64,
    pub to_ns: i64,
    /// Only this session's operations (an ingested `mcp.session.id` or a hosted session).
    pub session: Option<String>,
    /// Only failed operations, of either kind.
    pub errors_only: bool,
    pub limit: u32,
}

/// One MCP operation as the dashboard lists it: an ingested span or a hosted request.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRow {
    pub mcp_server_id: McpServerId,
    pub at_ns: i64,
    pub method: String,
    pub tool: Option<String>,
    pub outcome: RequestOutcome,
    pub duration_ns: i64,
    pub client: Option<String>,
    /// The span's user attribute, or the hosted end user's address.
    pub user: Option<String>,
    pub session: Option<String>,
    /// The span's trace; hosted requests have none.
    pub trace_id: Option<String>,
    /// `error.type` of a span, the error message of a hosted request.
    pub error: Option<String>,
}

/// One metric stream of a window: its name, unit and kind, and how many points it has.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSummary {
    pub name: String,
    pub unit: String,
    pub kind: MetricKind,
    pub points: i64,
    pub last_time_ns: i64,
}

/// Which metric points to read: oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricQuery {
    pub server: Option<McpServerId>,
    pub name: String,
    pub from_ns: i64,
    pub to_ns: i64,
    pub limit: u32,
}

/// A metric point as stored, with its server.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMetricPoint {
    pub mcp_server_id: McpServerId,
    pub point: MetricPointRecord,
}

#[async_trait]
pub trait TelemetryStore {
    /// Stores every write in one transaction: all of them or, on error, none. Writes for a
    /// server that no longer exists (deleted after its key was checked) are skipped.
    async fn insert_telemetry(&self, writes: &[TelemetryWrite]) -> Result<()>;

    /// Every MCP operation the organization's servers (or one of them) answered in
    /// `[from_ns, to_ns)`: ingested spans of the operation's receiver (not client spans) and
    /// the hosted servers' own records alike.
    async fn mcp_calls(
        &self,
        org: OrgId,
        server: Option<McpServerId>,
        from_ns: i64,
        to_ns: i64,
    ) -> Result<Vec<CallSample>>;

    /// The spans of a trace, by start time (at most [`MAX_TRACE_SPANS`]).
    async fn trace_spans(&self, org: OrgId, trace_id: &str) -> Result<Vec<StoredSpan>>;

    /// Deletes the organization's spans, metric points, log records and recorded MCP
    /// requests from before `before_ns`, a day of data per transaction, oldest first; the
    /// number of rows deleted.
    async fn purge_telemetry(&self, org: OrgId, before_ns: i64) -> Result<u64>;

    /// MCP operations, newest first: ingested server spans and hosted requests alike.
    async fn list_mcp_calls(&self, org: OrgId, query: &CallQuery) -> Result<Vec<CallRow>>;

    async fn search_logs(&self, org: OrgId, query: &LogQuery) -> Result<Vec<StoredLog>>;

    /// The metric streams with points in `[from_ns, to_ns)`, by name.
    async fn list_metrics(
        &self,
        org: OrgId,
        server: Option<McpServerId>,
        from_ns: i64,
        to_ns: i64,
    ) -> Result<Vec<MetricSummary>>;

    /// One metric's points, oldest first (at most `limit`).
    async fn metric_points(
        &self,
        org: OrgId,
        query: &MetricQuery,
    ) -> Result<Vec<StoredMetricPoint>>;
}

/// A destination's settings as written, its headers sealed with the master key.
#[derive(Debug, Clone, PartialEq)]
pub struct DestinationWrite {
    pub mcp_server_id: Option<McpServerId>,
    pub name: String,
    pub kind: DestinationKind,
    pub endpoint: url::Url,
    pub header_names: Vec<String>,
    pub headers_sealed: Vec<u8>,
    pub encoding: ExportEncoding,
    pub signals: Signals,
    pub enabled: bool,
}

/// A destination with its sealed headers, for sending.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDestination {
    pub destination: Destination,
    pub headers_sealed: Vec<u8>,
}

/// A queued request claimed for sending.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedExport {
    pub id: TelemetryExportId,
    pub destination_id: TelemetryDestinationId,
    pub signal: ExportSignal,
    pub body: Vec<u8>,
    pub items: i64,
    pub created_at: OffsetDateTime,
}

/// What became of an attempt to send a destination some of its queued requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportOutcome {
    /// Accepted: the requests leave the queue.
    Delivered,
    /// Refused as bad data: the requests leave the queue, counted as dropped.
    Refused { error: String },
    /// Failed in a way that may pass: the requests stay, and nothing more is sent to the
    /// destination before `retry_at`.
    Failed { error: String, retry_at: OffsetDateTime },
}

#[async_trait]
pub trait TelemetryExportStore {
    /// `Conflict` when the server is not the organization's.
    async fn create_destination(
        &self,
        org: OrgId,
        id: TelemetryDestinationId,
        write: &DestinationWrite,
        now: OffsetDateTime,
    ) -> Result<()>;

    /// Replaces a destination's settings; its queue and counters stay.
    async fn update_destination(
        &self,
        org: OrgId,
        id: TelemetryDestinationId,
        write: &DestinationWrite,
        now: OffsetDateTime,
    ) -> Result<()>;

    /// Deletes a destination and whatever waits for it.
    async fn delete_destination(&self, org: OrgId, id: TelemetryDestinationId) -> Result<()>;

    /// The organization's destinations with their status, oldest first.
    async fn list_destinations(&self, org: OrgId) -> Result<Vec<Destination>>;

    async fn get_destination(
        &self,
        org: OrgId,
        id: TelemetryDestinationId,
    ) -> Result<StoredDestination>;

    /// A destination by id alone, for the sender (its requests carry no organization).
    async fn destination_for_sending(
        &self,
        id: TelemetryDestinationId,
    ) -> Result<StoredDestination>;

    /// The signals some enabled destination takes from `server` (none: nothing to queue).
    async fn export_signals(&self, org: OrgId, server: McpServerId) -> Result<Signals>;

    /// Claims up to `limit` queued requests, oldest first, of enabled destinations not
    /// backing off: they are no other sender's for `lease`.
    async fn claim_due_exports(
        &self,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<QueuedExport>>;

    /// Records an attempt to send `exports` (all of one destination; none for a test message)
    /// and updates the destination's status.
    async fn finish_exports(
        &self,
        destination: TelemetryDestinationId,
        exports: &[TelemetryExportId],
        outcome: &ExportOutcome,
        now: OffsetDateTime,
    ) -> Result<()>;

    /// Gives up the queued requests received before `before`, counting them as dropped; how
    /// many.
    async fn drop_stale_exports(&self, before: OffsetDateTime, now: OffsetDateTime) -> Result<u64>;
}

/// The most spans of one trace read at once.
pub const MAX_TRACE_SPANS: u32 = 5_000;

#[async_trait]
pub trait AuditStore {
    async fn record_audit_event(&self, event: &NewAuditEvent, now: OffsetDateTime) -> Result<()>;

    /// The organization's events, newest first.
    async fn list_audit_events(
        &self,
        org: OrgId,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>>;

    /// A person's own account events (logins and the like), newest first.
    async fn list_account_events(&self, user: UserId, page: PageRequest)
    -> Result<Vec<AuditEvent>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_cut_to_its_limit_and_names_the_next_offset() {
        let page = Page::from_probe(vec![1, 2, 3], PageRequest::new(2, 4));
        assert_eq!(page, Page { items: vec![1, 2], next_offset: Some(6) });
        let last = Page::from_probe(vec![1, 2], PageRequest::new(2, 4));
        assert_eq!(last, Page { items: vec![1, 2], next_offset: None });
    }

    #[test]
    fn no_next_page_is_named_past_the_largest_offset() {
        let page = Page::from_probe(vec![1, 2, 3], PageRequest::new(2, u32::MAX - 1));
        assert_eq!(page.next_offset, None);
    }
}
