//! The process's own logs: `tracing` to stderr, as text or JSON lines.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

#[derive(Debug, thiserror::Error)]
#[error("invalid log.level {level:?}: {message}")]
pub struct LogInitError {
    level: String,
    message: String,
}

/// Installs the global subscriber. `RUST_LOG`, when set, takes precedence over `log.level`.
pub fn init(config: &LogConfig) -> Result<(), LogInitError> {
    let level = std::env::var("RUST_LOG").unwrap_or_else(|_| config.level.clone());
    let filter = EnvFilter::try_new(&level)
        .map_err(|err| LogInitError { level: level.clone(), message: err.to_string() })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // `try_init` only fails if a subscriber is already installed (tests): keep that one.
    let _ = match config.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
    };
    Ok(())
}
