//! MCPlatform's HTTP layer: one axum application serving the dashboard, the JSON API, the OAuth
//! and MCP endpoints of every hosted server, and OTLP ingest.
//!
//! Each resource module exposes `router()`; [`router::app`] only composes them and adds the
//! cross-cutting layers.

pub mod access;
mod accounts;
mod api;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod config;
pub mod error;
pub mod extract;
mod health;
pub mod hosting;
pub mod identity_providers;
mod mail;
mod members;
pub mod metrics;
mod middleware;
pub mod oauth;
pub mod oauth_clients;
pub mod organizations;
pub mod outbound;
pub mod router;
pub mod servers;
pub mod state;
pub mod telemetry;
pub mod tickets;
pub mod tracking_links;
pub mod upstream;
mod views;
pub mod walkthroughs;

pub use config::WebConfig;
pub use error::ApiError;
pub use router::app;
pub use state::AppState;
