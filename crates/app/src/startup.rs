//! Building the application from its configuration, and running it until told to stop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::serve::ListenerExt;
use mcplatform_core::clock::Clock;
use mcplatform_core::crypto::MasterKey;
use mcplatform_store::Store;
use mcplatform_web::auth::SessionSettings;
use mcplatform_web::outbound::OutboundPolicy;
use mcplatform_web::telemetry::IngestLimits;
use mcplatform_web::{AppState, WebConfig};
use secrecy::ExposeSecret;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::data_dir;
use crate::email::EmailSender;

/// How long stopping waits for the last key-usage write and the database pool to close.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// How often sessions past their expiry are deleted.
const SESSION_SWEEP_INTERVAL: Duration = Duration::from_secs(3600);
/// How often due tickets resolve by themselves and webhook messages are sent.
const SUPPORT_JOBS_INTERVAL: Duration = Duration::from_secs(2);
/// How long the export sender rests when the queue has nothing more due.
const EXPORT_INTERVAL: Duration = Duration::from_secs(1);
/// How often API key last-use times are written (they are collected in memory between).
const KEY_USAGE_FLUSH_INTERVAL: Duration = Duration::from_secs(30);

/// A built application: database migrated, port bound, not yet serving.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    shutdown_grace: Duration,
    email: Option<(EmailSender, Duration)>,
    retention_interval: Duration,
}

impl Application {
    /// Prepares the data directory and keys, opens and migrates the database, and binds the
    /// configured address. Each failure names what failed.
    pub async fn build(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let state = build_state(config, clock).await?;
        let listener = TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("cannot listen on {}", config.bind))?;
        Self::assemble(config, state, listener)
    }

    /// Like [`build`](Self::build), on a listener the caller already bound (tests bind port 0
    /// first so the base URL can name the real port).
    pub async fn build_with_listener(
        config: &Config,
        clock: Arc<dyn Clock>,
        listener: TcpListener,
    ) -> anyhow::Result<Self> {
        Self::assemble(config, build_state(config, clock).await?, listener)
    }

    fn assemble(config: &Config, state: AppState, listener: TcpListener) -> anyhow::Result<Self> {
        let email = EmailSender::from_config(&config.email)?
            .map(|sender| (sender, Duration::from_secs(config.email.send_interval_secs)));
        Ok(Self {
            listener,
            state,
            shutdown_grace: Duration::from_secs(config.http.shutdown_grace_secs),
            email,
            retention_interval: Duration::from_secs(config.telemetry.retention_interval_secs),
        })
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.state.store.clone()
    }

    /// Serves until `shutdown` completes, then stops accepting connections and lets in-flight
    /// requests finish for up to the configured grace period.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self { listener, state, shutdown_grace, email, retention_interval } = self;
        let store = state.store.clone();
        let background = state.clone();
        let flusher = tokio::spawn(async move {
            let mut every = tokio::time::interval(KEY_USAGE_FLUSH_INTERVAL);
            loop {
                every.tick().await;
                background.key_usage.flush(&background).await;
            }
        });
        // Sessions past their absolute expiry are useless rows; clear them now and then. The
        // signing keys are rotated on the same beat (a key is made a day before it is needed).
        let sweeper_state = state.clone();
        let sweeper = tokio::spawn(async move {
            let mut every = tokio::time::interval(SESSION_SWEEP_INTERVAL);
            loop {
                every.tick().await;
                if let Err(err) = mcplatform_web::oauth::keys::rotate(&sweeper_state).await {
                    tracing::warn!(error = ?err, "cannot rotate the signing keys");
                }
                let now = sweeper_state.clock.now();
                match sweeper_state.store.delete_expired_sessions(now).await {
                    Ok(0) => {}
                    Ok(deleted) => tracing::info!(deleted, "expired sessions removed"),
                    Err(err) => tracing::warn!(error = ?err, "cannot remove expired sessions"),
                }
            }
        });
        // Tickets waiting on a customer who never answered resolve; webhook messages go out.
        let support_state = state.clone();
        let support = tokio::spawn(async move {
            let mut every = tokio::time::interval(SUPPORT_JOBS_INTERVAL);
            loop {
                every.tick().await;
                support_jobs(&support_state).await;
            }
        });
        // Telemetry and recorded requests past each organization's retention are deleted.
        let retention_state = state.clone();
        let retention = tokio::spawn(async move {
            let mut every = tokio::time::interval(retention_interval);
            loop {
                every.tick().await;
                match mcplatform_web::telemetry::retention::purge_expired(&retention_state).await {
                    Ok(0) => {}
                    Ok(deleted) => tracing::info!(deleted, "telemetry past its retention deleted"),
                    Err(err) => tracing::warn!(error = ?err, "cannot read the retention settings"),
                }
            }
        });
        // Accepted telemetry goes on to the organizations' export destinations.
        let export_state = state.clone();
        let exporter = tokio::spawn(async move {
            loop {
                match mcplatform_web::telemetry::export::deliver_due(&export_state).await {
                    Ok(round) if round.was_full() => continue,
                    Ok(_) => {}
                    Err(err) => tracing::warn!(error = ?err, "cannot read the export queue"),
                }
                tokio::time::sleep(EXPORT_INTERVAL).await;
            }
        });
        let recorder_state = state.clone();
        let recorder = tokio::spawn(async move {
            recorder_state.hosting.log.run_flusher(&recorder_state).await;
        });
        let writer_state = state.clone();
        let telemetry_writer = tokio::spawn(async move {
            writer_state.telemetry.run_writer(writer_state.store.clone()).await;
        });
        let (stopping_tx, mut stopping_rx) = tokio::sync::watch::channel(false);
        let signal = async move {
            shutdown.await;
            tracing::info!("shutting down: finishing in-flight requests");
            let _ = stopping_tx.send(true);
        };
        let mailer = email.map(|(sender, every)| {
            let state = state.clone();
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(every);
                loop {
                    ticks.tick().await;
                    sender.send_due(&state).await;
                }
            })
        });
        let final_state = state.clone();
        let app = mcplatform_web::app(state).into_make_service_with_connect_info::<SocketAddr>();
        // Answers go out as soon as they are written: without TCP_NODELAY, a response written
        // in two parts (headers, then an SSE event) waits on the client's delayed ACK (~40 ms).
        let listener = listener.tap_io(|stream| {
            if let Err(err) = stream.set_nodelay(true) {
                tracing::debug!(error = %err, "cannot set TCP_NODELAY");
            }
        });
        let server = axum::serve(listener, app).with_graceful_shutdown(signal);
        let grace_over = async move {
            let _ = stopping_rx.wait_for(|stopping| *stopping).await;
            tokio::time::sleep(shutdown_grace).await;
        };
        tokio::select! {
            served = server => served.context("http server failed")?,
            () = grace_over => tracing::warn!(
                grace_secs = shutdown_grace.as_secs(),
                "grace period over: dropping the requests still running"
            ),
        }
        flusher.abort();
        sweeper.abort();
        support.abort();
        retention.abort();
        exporter.abort();
        recorder.abort();
        telemetry_writer.abort();
        if let Some(mailer) = mailer {
            mailer.abort();
        }
        // What the last interval collected must not be lost, but a database that stopped
        // answering (a connection stuck mid-query keeps the pool from closing) must not keep
        // the process from exiting either.
        let finish = async {
            final_state.key_usage.flush(&final_state).await;
            final_state.hosting.log.flush(&final_state).await;
            store.close().await;
        };
        if tokio::time::timeout(CLOSE_TIMEOUT, finish).await.is_err() {
            tracing::warn!(
                timeout_secs = CLOSE_TIMEOUT.as_secs(),
                "the database did not finish closing: stopping anyway"
            );
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// One round of the support background jobs. Their state is all in the database (deadlines,
/// the webhook queue), so a restart or another node picks up where this one stopped.
pub async fn support_jobs(state: &AppState) {
    match mcplatform_web::tickets::resolve_due(state).await {
        Ok(0) => {}
        Ok(resolved) => tracing::info!(resolved, "tickets resolved after waiting on the customer"),
        Err(err) => tracing::warn!(error = ?err, "cannot resolve due tickets"),
    }
    if let Err(err) = mcplatform_web::tickets::deliver_webhooks(state).await {
        tracing::warn!(error = ?err, "cannot deliver webhooks");
    }
}

/// Everything the application runs on, without the HTTP listener: storage, keys, settings.
/// The command line's `admin` commands use it too.
pub async fn build_state(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
    let (store, master_key) = open_storage(config).await?;
    let web = WebConfig {
        max_body_bytes: config.http.max_body_bytes,
        readiness_timeout: Duration::from_secs(config.http.readiness_timeout_secs),
        sessions: SessionSettings {
            idle_timeout: Duration::from_secs(config.auth.session_idle_timeout_hours * 3600),
            absolute_lifetime: Duration::from_secs(config.auth.session_lifetime_days * 86_400),
            ..SessionSettings::default()
        },
        login_attempts_per_ip: config.auth.login_attempts_per_minute_per_ip,
        login_attempts_per_account: config.auth.login_attempts_per_minute_per_account,
        client_registrations_per_ip: config.auth.client_registrations_per_minute_per_ip,
        email_delivery: config.email.smtp_url.is_some(),
        outbound: OutboundPolicy {
            allow_private_networks: config.http.outbound_allow_private_networks,
        },
        login_providers: config.login_providers().context("invalid login provider")?,
        conformance_fixture: config.testing.conformance_fixture,
        telemetry: IngestLimits {
            max_body_bytes: config.telemetry.max_body_bytes,
            max_decompressed_bytes: config.telemetry.max_decompressed_bytes,
            queue_rows: config.telemetry.queue_rows,
        },
        ..WebConfig::new(config.base_url.clone())
    };
    if config.testing.conformance_fixture {
        tracing::warn!(
            "testing.conformance_fixture is on: the server with the slug `conformance` serves the MCP conformance suite's fixture"
        );
    }
    let state = AppState::new(store, clock, web, master_key)
        .context("cannot set up the outbound HTTP client")?;
    mcplatform_web::oauth::keys::rotate(&state)
        .await
        .map_err(|e| anyhow::anyhow!("{}", mcplatform_core::error_chain(&e)))
        .context("cannot prepare the token signing keys")?;
    Ok(state)
}

/// Data directory, master key and migrated database, in that order.
async fn open_storage(config: &Config) -> anyhow::Result<(Arc<dyn Store>, MasterKey)> {
    data_dir::prepare(&config.data_dir)?;
    let master_key = master_key(config)?;
    let options = config.connect_options()?;
    let store = mcplatform_store::connect_and_migrate(&options)
        .await
        .with_context(|| format!("cannot open database {}", options.url))?;
    tracing::info!(backend = store.backend().as_str(), database = %options.url, "database ready");
    Ok((store, master_key))
}

fn master_key(config: &Config) -> anyhow::Result<MasterKey> {
    if let Some(encoded) = &config.master_key {
        return MasterKey::from_base64(encoded.expose_secret()).map_err(|_| {
            anyhow::anyhow!("invalid master_key: must be 32 bytes encoded as base64")
        });
    }
    if let Some(path) = &config.master_key_file {
        return Ok(data_dir::read_master_key(path)?);
    }
    Ok(data_dir::load_or_create_master_key(&config.data_dir.join("master.key"))?)
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send {
    use tokio::signal::unix::{SignalKind, signal};
    // Registered now, not when first polled: a SIGTERM sent the moment the server says it is
    // listening must already be a clean stop, not the default action that kills the process.
    let listen = |kind: SignalKind, name: &'static str| {
        let registered = signal(kind);
        async move {
            match registered {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(err) => {
                    tracing::error!(error = %err, "cannot listen for {name}");
                    std::future::pending::<()>().await;
                }
            }
        }
    };
    let interrupt = listen(SignalKind::interrupt(), "SIGINT");
    let terminate = listen(SignalKind::terminate(), "SIGTERM");
    async move {
        tokio::select! {
            () = interrupt => {},
            () = terminate => {},
        }
    }
}
