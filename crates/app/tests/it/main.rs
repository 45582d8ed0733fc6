#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod audit_api;
mod auth_api;
mod cli;
mod client_documents;
mod dashboard;
mod dashboard_login;
mod fake_idp;
mod health;
mod helpers;
mod hosting;
mod keys_api;
mod members_api;
mod oauth_flow;
mod oauth_metadata;
mod openapi_api;
mod orgs_api;
mod pagination;
mod platform_login;
mod providers_api;
mod providers_pages;
mod servers_api;
mod sign_ins;
mod telemetry;
mod telemetry_export;
mod tickets;
mod walkthroughs;
