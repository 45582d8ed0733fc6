//! The settings the HTTP layer needs, resolved by the binary from its configuration.

use std::time::Duration;

use mcplatform_core::identity_provider::{Endpoints, ProviderKind, ProviderSettings};
use secrecy::SecretString;
use url::Url;

use crate::auth::SessionSettings;
use crate::outbound::OutboundPolicy;

#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The public base URL (`http://localhost:3000` by default); links and issuers derive from it.
    pub base_url: Url,
    /// Requests with larger bodies are refused with 413.
    pub max_body_bytes: usize,
    /// How long `/readyz` waits for the database before declaring it unreachable.
    pub readiness_timeout: Duration,
    pub sessions: SessionSettings,
    /// Login and signup attempts allowed per minute from one address, and for one account.
    pub login_attempts_per_ip: u32,
    pub login_attempts_per_account: u32,
    /// Dynamic client registrations (RFC 7591) allowed per minute from one address; a server
    /// takes at most ten times as many from everyone together.
    pub client_registrations_per_ip: u32,
    /// Whether queued email is delivered to a mail server (else it stays in the outbox).
    pub email_delivery: bool,
    /// What requests to user-chosen URLs (identity providers) may reach.
    pub outbound: OutboundPolicy,
    /// Outside providers people may log in to the dashboard with, in button order.
    pub login_providers: Vec<PlatformLoginProvider>,
    /// Test runs only: the server with the slug [`CONFORMANCE_SLUG`] serves the MCP
    /// conformance suite's fixture instead of the product's tools.
    pub conformance_fixture: bool,
    /// Sizes of OTLP ingest bodies and of the queue to the database.
    pub telemetry: crate::telemetry::IngestLimits,
}

/// The slug of the conformance fixture server (when [`WebConfig::conformance_fixture`]).
pub const CONFORMANCE_SLUG: &str = "conformance";

/// A provider the platform operator configured for dashboard login (GitHub, Google or one
/// OpenID Connect provider), separate from the providers organizations add for their servers.
#[derive(Debug, Clone)]
pub struct PlatformLoginProvider {
    /// `github`, `google` or `oidc`: the path segment of its login button.
    pub key: &'static str,
    pub kind: ProviderKind,
    /// Its `name` is the button label.
    pub settings: ProviderSettings,
    pub client_secret: SecretString,
}

impl PlatformLoginProvider {
    /// How identities from this provider are recorded: an OpenID provider's subjects are
    /// unique per issuer only (OpenID Connect Core §2), so its issuer is part of the name.
    pub fn identity_namespace(&self) -> String {
        match &self.settings.endpoints {
            Endpoints::Discovered { issuer } if self.kind == ProviderKind::Oidc => {
                format!("oidc:{issuer}")
            }
            _ => self.key.to_owned(),
        }
    }
}

impl WebConfig {
    pub fn new(base_url: Url) -> Self {
        Self {
            base_url,
            max_body_bytes: 1024 * 1024,
            readiness_timeout: Duration::from_secs(2),
            sessions: SessionSettings::default(),
            login_attempts_per_ip: 30,
            login_attempts_per_account: 10,
            client_registrations_per_ip: 20,
            email_delivery: false,
            outbound: OutboundPolicy::default(),
            login_providers: Vec::new(),
            conformance_fixture: false,
            telemetry: crate::telemetry::IngestLimits::default(),
        }
    }

    /// Whether browsers reach us over TLS, which decides `Secure` cookies and HSTS.
    pub fn is_https(&self) -> bool {
        self.base_url.scheme() == "https"
    }

    pub fn login_provider(&self, key: &str) -> Option<&PlatformLoginProvider> {
        self.login_providers.iter().find(|provider| provider.key == key)
    }
}
