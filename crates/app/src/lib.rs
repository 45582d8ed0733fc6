//! The `mcplatform` binary's library half: configuration, start-up and shutdown, logging.
//! `main.rs` only parses the command line and calls in here, so tests can start the real
//! application in-process.

pub mod admin;
pub mod config;
pub mod data_dir;
pub mod email;
pub mod self_telemetry;
pub mod startup;
pub mod telemetry;

pub use config::Config;
pub use startup::Application;
