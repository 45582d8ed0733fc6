//! The settings the HTTP layer needs, resolved by the binary from its configuration.

use std::time::Duration;

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
    /// Whether queued email is delivered to a mail server (else it stays in the outbox).
    pub email_delivery: bool,
    /// What requests to user-chosen URLs (identity providers) may reach.
    pub outbound: OutboundPolicy,
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
            email_delivery: false,
            outbound: OutboundPolicy::default(),
        }
    }

    /// Whether browsers reach us over TLS, which decides `Secure` cookies and HSTS.
    pub fn is_https(&self) -> bool {
        self.base_url.scheme() == "https"
    }
}
