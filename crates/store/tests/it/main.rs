#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod story;
mod support;
mod telemetry;
mod telemetry_export;
mod walkthroughs;
