//! Reading the analytics: shared by the JSON API and the dashboard pages.

use mcplatform_core::ids::{McpServerId, OrgId};
use mcplatform_core::telemetry::analytics::{Overview, Window};

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
