//! A round trip to an upstream identity provider: what we remember between sending the
//! browser there and its return to our callback (RFC 6749 §10.12 `state`, RFC 7636 PKCE,
//! OpenID Connect `nonce`). Looked up by the hash of its `state`, usable once, short-lived.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use time::OffsetDateTime;

use crate::crypto::TokenHash;
use crate::ids::{AuthorizationRequestId, IdentityProviderId, OrgId, UpstreamLoginId, UserId};

/// How long a person may take at the provider before the callback is refused.
pub const UPSTREAM_LOGIN_TTL: Duration = Duration::from_secs(10 * 60);

/// Why the round trip was started, which decides what the callback does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginPurpose {
    /// An admin checks a provider's configuration from the dashboard.
    ProviderTest,
    /// Someone logs in to the dashboard with a provider the platform operator configured.
    DashboardLogin,
    /// An end user signs in to a `custom_oauth` server through the organization's provider,
    /// for the authorization request the login names.
    EndUserLogin,
}

impl LoginPurpose {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ProviderTest => "provider_test",
            Self::DashboardLogin => "dashboard_login",
            Self::EndUserLogin => "end_user_login",
        }
    }
}

impl fmt::Display for LoginPurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LoginPurpose {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "provider_test" => Ok(Self::ProviderTest),
            "dashboard_login" => Ok(Self::DashboardLogin),
            "end_user_login" => Ok(Self::EndUserLogin),
            other => Err(format!("unknown login purpose {other:?}")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamLogin {
    pub id: UpstreamLoginId,
    /// SHA-256 of the `state` sent to the provider; the state itself is not stored.
    pub state_hash: TokenHash,
    pub purpose: LoginPurpose,
    pub provider: ProviderRef,
    /// The dashboard user who started it, when one did: only they may complete it.
    pub user_id: Option<UserId>,
    /// The authorization request an end-user login signs in for.
    pub authorization_request_id: Option<AuthorizationRequestId>,
    /// The PKCE code verifier, sealed with the master key for this login's id.
    pub sealed_pkce_verifier: Vec<u8>,
    /// The OpenID Connect nonce expected in the ID token.
    pub nonce: Option<String>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// Which provider a round trip goes to: one an organization configured, or one of the
/// platform's own dashboard login providers (named by their key in the configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderRef {
    Organization { organization_id: OrgId, provider_id: IdentityProviderId },
    Platform(String),
}

impl UpstreamLogin {
    /// Associated data for sealing the PKCE verifier.
    pub fn verifier_context(id: UpstreamLoginId) -> Vec<u8> {
        format!("upstream_login.pkce_verifier:{id}").into_bytes()
    }
}
