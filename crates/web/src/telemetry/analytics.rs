//! Reading the analytics: shared by the JSON API and the dashboard pages.

use mcplatform_core::ValidationError;
use mcplatform_core::ids::{McpServerId, OrgId};
use mcplatform_core::telemetry::analytics::{Overview, RangePreset, Window};
use time::OffsetDateTime;

use crate::{ApiError, AppState};

/// The overview of a window for the organization, or for one of its servers.
pub async fn overview(
    state: &AppState,
    org: OrgId,
    server: Option<McpServerId>,
    window: Window,
) -> Result<Overview, ApiError> {
    let calls = state.store.mcp_calls(org, server, window.from_ns(), window.to_ns()).await?;
    // Sorting every duration of a busy month is CPU work: off the async workers.
    tokio::task::spawn_blocking(move || Overview::compute(window, &calls))
        .await
        .map_err(|e| ApiError::Internal(Box::new(e)))
}

/// The window a query names: a preset `range` up to `now` (24 hours by default), or `from` and
/// `to`, never both.
pub fn window(
    now: OffsetDateTime,
    range: Option<&str>,
    from: Option<OffsetDateTime>,
    to: Option<OffsetDateTime>,
) -> Result<Window, ValidationError> {
    match (from, to, range) {
        (Some(from), Some(to), None) => Window::custom(from, to),
        (None, None, range) => Ok(Window::last(RangePreset::parse(range.unwrap_or("24h"))?, now)),
        (_, _, Some(_)) => Err(ValidationError::new("range", "give either range, or from and to")),
        _ => Err(ValidationError::new("from", "a custom window needs both from and to")),
    }
}
