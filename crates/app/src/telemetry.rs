//! The process's own logs: `tracing` to stderr, as text or JSON lines; and, when the
//! `OTEL_*` variables ask for it, its spans to an OTLP endpoint ([`crate::self_telemetry`]).

use std::io::IsTerminal;

use opentelemetry_sdk::trace::SdkTracer;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{LogConfig, LogFormat};

#[derive(Debug, thiserror::Error)]
#[error("invalid log.level {level:?}: {message}")]
pub struct LogInitError {
    level: String,
    message: String,
}

/// Installs the global subscriber, exporting spans to `tracer` when given. `RUST_LOG`, when
/// set, takes precedence over `log.level`.
pub fn init(config: &LogConfig, tracer: Option<SdkTracer>) -> Result<(), LogInitError> {
    let level = std::env::var("RUST_LOG").unwrap_or_else(|_| config.level.clone());
    let filter = EnvFilter::try_new(&level)
        .map_err(|err| LogInitError { level: level.clone(), message: err.to_string() })?;
    let ansi = std::io::stderr().is_terminal();
    let (text, json) = match config.format {
        LogFormat::Text => (
            Some(tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(ansi)),
            None,
        ),
        LogFormat::Json => (
            None,
            Some(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_writer(std::io::stderr),
            ),
        ),
    };
    let spans = tracer.map(|tracer| tracing_opentelemetry::layer().with_tracer(tracer));
    // `try_init` only fails if a subscriber is already installed (tests): keep that one.
    let _ =
        tracing_subscriber::registry().with(filter).with(text).with(json).with(spans).try_init();
    Ok(())
}
