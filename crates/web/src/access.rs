//! Who may do what in an organization: membership is checked on every request that names an
//! organization, and a non-member gets 404, exactly as if the organization did not exist.

use mcplatform_core::hosting::McpSession;
use mcplatform_core::identity_provider::IdentityProvider;
use mcplatform_core::ids::{
    IdentityProviderId, McpServerId, OrgId, SupportTicketId, UserId, WalkthroughId,
};
use mcplatform_core::mcp_server::McpServer;
use mcplatform_core::org::{Organization, Role};
use mcplatform_core::support::SupportTicket;
use mcplatform_core::walkthrough::Walkthrough;

use crate::{ApiError, AppState};

/// An id taken from a URL path. A malformed id is as unknown as a missing one: 404.
pub fn path_id<T: std::str::FromStr>(raw: &str) -> Result<T, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound)
}

/// An organization the caller belongs to, and the role they hold in it.
#[derive(Debug, Clone)]
pub struct OrgAccess {
    pub org: Organization,
    pub role: Role,
}

impl OrgAccess {
    /// Loads `org_id` for `user`; `NotFound` when it does not exist or `user` is not a member.
    pub async fn load(state: &AppState, user: UserId, org_id: &str) -> Result<Self, ApiError> {
        let org_id: OrgId = path_id(org_id)?;
        let membership = state.store.get_membership(org_id, user).await?;
        let org = state.store.get_organization(org_id).await?;
        Ok(Self { org, role: membership.role })
    }

    /// The organization's server named `server_id`; `NotFound` for another organization's.
    pub async fn server(&self, state: &AppState, server_id: &str) -> Result<McpServer, ApiError> {
        let id: McpServerId = path_id(server_id)?;
        Ok(state.store.get_mcp_server(self.org.id, id).await?)
    }

    /// The organization's walkthrough `id`; `NotFound` for anyone else's.
    pub async fn walkthrough(&self, state: &AppState, id: &str) -> Result<Walkthrough, ApiError> {
        let id: WalkthroughId = path_id(id)?;
        Ok(state.store.get_walkthrough(self.org.id, id).await?)
    }

    /// The organization's support ticket `id`; `NotFound` for anyone else's.
    pub async fn ticket(&self, state: &AppState, id: &str) -> Result<SupportTicket, ApiError> {
        let id: SupportTicketId = path_id(id)?;
        Ok(state.store.get_support_ticket(self.org.id, id).await?)
    }

    /// A session of the organization's `server`; `NotFound` for any other.
    pub async fn mcp_session(
        &self,
        state: &AppState,
        server: McpServerId,
        session_id: &str,
    ) -> Result<McpSession, ApiError> {
        match state.store.find_mcp_session(session_id).await? {
            Some(session)
                if session.organization_id == self.org.id && session.mcp_server_id == server =>
            {
                Ok(session)
            }
            _ => Err(ApiError::NotFound),
        }
    }

    /// One of the organization's identity providers; `NotFound` for anyone else's.
    pub async fn identity_provider(
        &self,
        state: &AppState,
        provider_id: &str,
    ) -> Result<IdentityProvider, ApiError> {
        let id: IdentityProviderId = path_id(provider_id)?;
        Ok(state.store.get_identity_provider(self.org.id, id).await?)
    }

    /// `Forbidden` unless the caller's role includes `needed`.
    pub fn require(&self, needed: Role) -> Result<(), ApiError> {
        if self.role.at_least(needed) { Ok(()) } else { Err(ApiError::Forbidden) }
    }
}

/// The author of a change, for messages and the audit trail.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: Option<UserId>,
    /// A person's display name, or `API key "name"`.
    pub name: String,
    pub email: Option<String>,
    pub ip: Option<String>,
}

impl From<&crate::auth::CurrentSession> for Actor {
    fn from(current: &crate::auth::CurrentSession) -> Self {
        Self {
            user_id: Some(current.user.id),
            name: current.user.display_name.as_str().to_owned(),
            email: Some(current.user.email.as_str().to_owned()),
            ip: current.client_ip.clone(),
        }
    }
}

impl Actor {
    /// How the audit log shows the actor.
    pub fn label(&self) -> String {
        match &self.email {
            Some(email) => format!("{} ({email})", self.name),
            None => self.name.clone(),
        }
    }
}
