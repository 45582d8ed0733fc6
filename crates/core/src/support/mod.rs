//! Support tickets: requests for help an end user's agent sends from the editor (`get_support`),
//! and what the organization's team does with them: the lifecycle ([`lifecycle`]), the activity
//! stream ([`activity`]), comments in markdown ([`markdown`]) and signed webhooks ([`webhook`]).

pub mod activity;
pub mod lifecycle;
pub mod markdown;
pub mod webhook;

use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;
use url::Url;

use crate::ValidationError;
use crate::hosting::text_enum;
use crate::ids::{EndUserId, McpServerId, OrgId, SupportTicketId, UserId};
use crate::validation::parse_text;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    /// Opened by someone nobody can reply to yet: it waits for an email address.
    NeedsEmail,
    New,
    InProgress,
    /// The team asked the end user something; resolves by itself after the server's timeout.
    AwaitingCustomer,
    Resolved,
    Closed,
}

text_enum!(TicketStatus, "status", {
    NeedsEmail => "needs_email", New => "new", InProgress => "in_progress",
    AwaitingCustomer => "awaiting_customer", Resolved => "resolved", Closed => "closed",
});

impl TicketStatus {
    pub const ALL: [Self; 6] = [
        Self::NeedsEmail,
        Self::New,
        Self::InProgress,
        Self::AwaitingCustomer,
        Self::Resolved,
        Self::Closed,
    ];

    /// Whether the team still has something to do.
    pub const fn is_open(self) -> bool {
        !matches!(self, Self::Resolved | Self::Closed)
    }

    /// How people read it.
    pub const fn label(self) -> &'static str {
        match self {
            Self::NeedsEmail => "Needs email",
            Self::New => "New",
            Self::InProgress => "In progress",
            Self::AwaitingCustomer => "Awaiting customer",
            Self::Resolved => "Resolved",
            Self::Closed => "Closed",
        }
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
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

impl TicketPriority {
    pub const ALL: [Self; 4] = [Self::Low, Self::Medium, Self::High, Self::Critical];
}

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
        let title = parse_title(title)?;
        let description =
            parse_text("problemDescription", description, Self::MAX_DESCRIPTION_CHARS, true)?;
        let problem_context = problem_context
            .filter(|context| !context.trim().is_empty())
            .map(|context| parse_text("problemContext", context, Self::MAX_CONTEXT_CHARS, true))
            .transpose()?;
        Ok(Self { title, description, problem_context })
    }
}

pub fn parse_title(title: &str) -> Result<String, ValidationError> {
    parse_text("title", title, TicketRequest::MAX_TITLE_CHARS, false)
}

/// The team's one-paragraph digest of a ticket.
pub fn parse_summary(summary: &str) -> Result<Option<String>, ValidationError> {
    if summary.trim().is_empty() {
        return Ok(None);
    }
    parse_text("summary", summary, SupportTicket::MAX_SUMMARY_CHARS, true).map(Some)
}

#[derive(Debug, Clone, PartialEq)]
pub struct SupportTicket {
    pub id: SupportTicketId,
    pub organization_id: OrgId,
    pub mcp_server_id: McpServerId,
    pub end_user_id: Option<EndUserId>,
    pub session_id: Option<String>,
    pub title: String,
    /// Written by the team, shown in lists.
    pub summary: Option<String>,
    pub description: String,
    pub problem_context: Option<String>,
    /// One of the server's categories (when it had them at creation).
    pub category: Option<String>,
    /// Where the answer goes; none while the ticket needs an email.
    pub email: Option<String>,
    pub status: TicketStatus,
    pub priority: TicketPriority,
    /// The organization member who works on it.
    pub assignee_id: Option<UserId>,
    /// What the session looked like when the ticket was opened: client, session, the end user
    /// and their recent tool calls.
    pub session_context: Value,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub resolved_at: Option<OffsetDateTime>,
    /// The member who resolved it; none when it resolved by itself.
    pub resolved_by: Option<UserId>,
    pub closed_at: Option<OffsetDateTime>,
    pub closed_by: Option<UserId>,
    /// When an `awaiting_customer` ticket resolves by itself.
    pub auto_resolve_at: Option<OffsetDateTime>,
    /// Bumped by every change: a write based on an older read is refused.
    pub version: i64,
}

impl SupportTicket {
    pub const MAX_SUMMARY_CHARS: usize = 1_000;
}

/// How a server's support works: the categories tickets are filed under, when a ticket waiting
/// on the customer resolves by itself, and where webhooks go.
#[derive(Debug, Clone, PartialEq)]
pub struct SupportSettings {
    pub categories: Vec<String>,
    /// `None`: never.
    pub auto_resolve_after: Option<Duration>,
    /// Receives every ticket event, signed per Standard Webhooks.
    pub webhook_url: Option<Url>,
}

impl Default for SupportSettings {
    fn default() -> Self {
        Self {
            // The original product's defaults (`reference/seeds.md`, support tool settings).
            categories: ["Bug Report", "Feature Request", "Documentation", "Other"]
                .map(String::from)
                .to_vec(),
            auto_resolve_after: Some(Duration::from_secs(7 * 24 * 3600)),
            webhook_url: None,
        }
    }
}

impl SupportSettings {
    pub const MAX_CATEGORIES: usize = 20;
    pub const MAX_CATEGORY_CHARS: usize = 50;
    pub const MAX_AUTO_RESOLVE_HOURS: u64 = 365 * 24;
    pub const MAX_WEBHOOK_URL_CHARS: usize = 2_000;

    /// Checks settings as given: categories (trimmed, distinct ignoring case, 0 to 20), the
    /// auto-resolve delay in whole hours (0 = never), and an absolute http(s) webhook URL.
    pub fn new(
        categories: &[String],
        auto_resolve_hours: u64,
        webhook_url: Option<&str>,
    ) -> Result<Self, ValidationError> {
        if categories.len() > Self::MAX_CATEGORIES {
            return Err(ValidationError::new(
                "categories",
                format!("at most {} categories", Self::MAX_CATEGORIES),
            ));
        }
        let mut checked: Vec<String> = Vec::with_capacity(categories.len());
        for category in categories {
            let category = parse_text("categories", category, Self::MAX_CATEGORY_CHARS, false)?;
            if checked.iter().any(|c| c.eq_ignore_ascii_case(&category)) {
                return Err(ValidationError::new(
                    "categories",
                    format!("{category:?} is listed twice"),
                ));
            }
            checked.push(category);
        }
        if auto_resolve_hours > Self::MAX_AUTO_RESOLVE_HOURS {
            return Err(ValidationError::new(
                "auto_resolve_hours",
                format!("must be at most {} (a year)", Self::MAX_AUTO_RESOLVE_HOURS),
            ));
        }
        let auto_resolve_after =
            (auto_resolve_hours > 0).then(|| Duration::from_secs(auto_resolve_hours * 3600));
        let webhook_url = webhook_url
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .map(parse_webhook_url)
            .transpose()?;
        Ok(Self { categories: checked, auto_resolve_after, webhook_url })
    }

    pub fn auto_resolve_hours(&self) -> u64 {
        self.auto_resolve_after.map_or(0, |after| after.as_secs() / 3600)
    }

    /// The category as configured (matched ignoring case), or an error listing the choices.
    pub fn category(&self, given: &str) -> Result<String, ValidationError> {
        let given = given.trim();
        self.categories.iter().find(|c| c.eq_ignore_ascii_case(given)).cloned().ok_or_else(|| {
            ValidationError::new(
                "category",
                format!("must be one of: {}", self.categories.join(", ")),
            )
        })
    }
}

fn parse_webhook_url(url: &str) -> Result<Url, ValidationError> {
    let invalid = |message: &str| ValidationError::new("webhook_url", message);
    if url.chars().count() > SupportSettings::MAX_WEBHOOK_URL_CHARS {
        return Err(invalid("is too long"));
    }
    let parsed = Url::parse(url).map_err(|e| invalid(&format!("is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "https" | "http") || parsed.host_str().is_none() {
        return Err(invalid("must be an http(s) URL"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid("must not carry credentials; the payload is signed instead"));
    }
    Ok(parsed)
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
        for status in TicketStatus::ALL {
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
            assert_eq!(status.as_str().parse::<TicketStatus>().unwrap(), status);
        }
        for priority in TicketPriority::ALL {
            assert_eq!(serde_json::to_value(priority).unwrap(), priority.as_str());
        }
        assert!("open".parse::<TicketStatus>().is_err());
        assert!("pending".parse::<TicketStatus>().is_err());
    }

    #[test]
    fn support_settings_are_checked() {
        let categories = |list: &[&str]| list.iter().map(|c| c.to_string()).collect::<Vec<_>>();
        let ok = SupportSettings::new(&categories(&[" Bugs ", "Billing"]), 48, Some(" ")).unwrap();
        assert_eq!(ok.categories, ["Bugs", "Billing"]);
        assert_eq!(ok.auto_resolve_after, Some(Duration::from_secs(48 * 3600)));
        assert_eq!(ok.webhook_url, None);
        assert_eq!(ok.category("billing").unwrap(), "Billing");
        assert!(ok.category("Sales").unwrap_err().message.contains("Bugs, Billing"));
        let never = SupportSettings::new(&[], 0, Some("https://hooks.example.com/x")).unwrap();
        assert_eq!(never.auto_resolve_after, None);
        assert_eq!(never.auto_resolve_hours(), 0);
        let err = |c: &[&str], hours, url| SupportSettings::new(&categories(c), hours, url);
        assert_eq!(err(&["A", "a"], 1, None).unwrap_err().field, "categories");
        assert_eq!(err(&[""], 1, None).unwrap_err().field, "categories");
        assert_eq!(err(&["x"; 21], 1, None).unwrap_err().field, "categories");
        assert_eq!(err(&[], 365 * 24 + 1, None).unwrap_err().field, "auto_resolve_hours");
        for url in ["ftp://x.example", "not a url", "https://u:p@x.example/", "mailto:a@b.c"] {
            assert_eq!(err(&[], 1, Some(url)).unwrap_err().field, "webhook_url", "{url}");
        }
        assert_eq!(parse_summary("  ").unwrap(), None);
        assert_eq!(parse_summary(&"s".repeat(1_001)).unwrap_err().field, "summary");
    }
}
