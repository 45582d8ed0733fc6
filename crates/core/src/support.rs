//! Support tickets: requests for help an end user's agent sends from the editor (`get_support`).
//! What a ticket says is checked here; its lifecycle in the dashboard builds on it.

use serde_json::Value;
use time::OffsetDateTime;

use crate::ValidationError;
use crate::hosting::text_enum;
use crate::ids::{EndUserId, McpServerId, OrgId, SupportTicketId};
use crate::validation::parse_text;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    Pending,
    InProgress,
    Resolved,
    Closed,
}

text_enum!(TicketStatus, "status", {
    Pending => "pending", InProgress => "in_progress", Resolved => "resolved", Closed => "closed",
});

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TicketPriority {
    Low,
    Medium,
    High,
    Critical,
}

text_enum!(TicketPriority, "priority", {
    Low => "low", Medium => "medium", High => "high", Critical => "critical",
});

/// What the `get_support` tool was given, once checked.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketRequest {
    pub title: String,
    pub description: String,
    pub problem_context: Option<String>,
}

impl TicketRequest {
    pub const MAX_TITLE_CHARS: usize = 200;
    pub const MAX_DESCRIPTION_CHARS: usize = 10_000;
    pub const MAX_CONTEXT_CHARS: usize = 20_000;

    pub fn new(
        title: &str,
        description: &str,
        problem_context: Option<&str>,
    ) -> Result<Self, ValidationError> {
        let title = parse_text("title", title, Self::MAX_TITLE_CHARS, false)?;
        let description =
            parse_text("problemDescription", description, Self::MAX_DESCRIPTION_CHARS, true)?;
        let problem_context = problem_context
            .filter(|context| !context.trim().is_empty())
            .map(|context| parse_text("problemContext", context, Self::MAX_CONTEXT_CHARS, true))
            .transpose()?;
        Ok(Self { title, description, problem_context })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SupportTicket {
    pub id: SupportTicketId,
    pub organization_id: OrgId,
    pub mcp_server_id: McpServerId,
    pub end_user_id: Option<EndUserId>,
    pub session_id: Option<String>,
    pub title: String,
    pub description: String,
    pub problem_context: Option<String>,
    /// Where the answer goes.
    pub email: String,
    pub status: TicketStatus,
    pub priority: TicketPriority,
    /// What the session looked like when the ticket was opened: client, session, the end user
    /// and their recent tool calls.
    pub session_context: Value,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_text_is_trimmed_and_checked() {
        let ok =
            TicketRequest::new("  Login fails ", "It says 401\nevery time", Some("  ")).unwrap();
        assert_eq!(ok.title, "Login fails");
        assert_eq!(ok.problem_context, None);
        assert_eq!(TicketRequest::new("", "x", None).unwrap_err().field, "title");
        assert_eq!(TicketRequest::new("a\nb", "x", None).unwrap_err().field, "title");
        assert_eq!(TicketRequest::new("t", " ", None).unwrap_err().field, "problemDescription");
        let long = "x".repeat(TicketRequest::MAX_TITLE_CHARS + 1);
        assert!(TicketRequest::new(&long, "x", None).unwrap_err().message.contains("at most 200"));
        assert_eq!(
            TicketRequest::new("t", "d", Some("nul\0")).unwrap_err().field,
            "problemContext"
        );
    }

    #[test]
    fn stored_text_is_what_the_api_shows() {
        // `as_str` (the database) and serde (the API) spell each value on their own.
        for status in [
            TicketStatus::Pending,
            TicketStatus::InProgress,
            TicketStatus::Resolved,
            TicketStatus::Closed,
        ] {
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
            assert_eq!(status.as_str().parse::<TicketStatus>().unwrap(), status);
        }
        for priority in [
            TicketPriority::Low,
            TicketPriority::Medium,
            TicketPriority::High,
            TicketPriority::Critical,
        ] {
            assert_eq!(serde_json::to_value(priority).unwrap(), priority.as_str());
        }
        assert!("open".parse::<TicketStatus>().is_err());
    }
}
