use std::sync::Arc;

use mcplatform_core::clock::Clock;
use mcplatform_core::crypto::MasterKey;
use mcplatform_store::Store;

use crate::WebConfig;
use crate::api_keys::KeyUsage;
use crate::auth::LoginLimiter;
use crate::hosting::Hosting;
use crate::metrics::Metrics;
use crate::oauth::clients::ClientDocuments;
use crate::oauth::keys::KeyRing;
use crate::outbound::OutboundClient;
use crate::telemetry::export::ExportRoutes;
use crate::telemetry::writer::TelemetryQueue;

/// What every handler can reach. Cheap to clone: everything is behind an `Arc`.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<WebConfig>,
    pub metrics: Arc<Metrics>,
    /// Encrypts secrets at rest (upstream IdP client secrets, upstream tokens, signing keys).
    pub master_key: Arc<MasterKey>,
    pub login_limiter: Arc<LoginLimiter>,
    /// The same quotas for the built-in end-user login of `platform_oauth` servers, counted
    /// apart so that end users never lock the dashboard's people out.
    pub end_user_limiter: Arc<LoginLimiter>,
    /// Dynamic client registrations, per client address and per server.
    pub registration_limiter: Arc<LoginLimiter>,
    /// API key last-use times waiting to be written.
    pub key_usage: Arc<KeyUsage>,
    /// For requests to addresses users chose (identity providers).
    pub outbound: OutboundClient,
    /// Client ID metadata documents fetched lately.
    pub client_documents: Arc<ClientDocuments>,
    /// The token signing keys, kept rotated by [`crate::oauth::keys::rotate`].
    pub keys: KeyRing,
    pub hosting: Arc<Hosting>,
    /// OTLP rows on their way to the database.
    pub telemetry: Arc<TelemetryQueue>,
    /// Which servers' telemetry some export destination wants.
    pub export_routes: Arc<ExportRoutes>,
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        config: WebConfig,
        master_key: MasterKey,
    ) -> Result<Self, reqwest::Error> {
        let outbound = OutboundClient::new(config.outbound)?;
        let metrics = Arc::new(Metrics::new());
        let limiter = || {
            Arc::new(LoginLimiter::new(
                config.login_attempts_per_ip,
                config.login_attempts_per_account,
            ))
        };
        let (login_limiter, end_user_limiter) = (limiter(), limiter());
        let registration_limiter = Arc::new(LoginLimiter::new(
            config.client_registrations_per_ip,
            config.client_registrations_per_ip.saturating_mul(10),
        ));
        let telemetry = Arc::new(TelemetryQueue::new(config.telemetry.queue_rows));
        Ok(Self {
            telemetry,
            export_routes: Arc::new(ExportRoutes::default()),
            store,
            clock,
            config: Arc::new(config),
            metrics,
            master_key: Arc::new(master_key),
            login_limiter,
            end_user_limiter,
            registration_limiter,
            key_usage: Arc::new(KeyUsage::default()),
            outbound,
            client_documents: Arc::new(ClientDocuments::default()),
            keys: KeyRing::default(),
            hosting: Arc::new(Hosting::default()),
        })
    }
}
