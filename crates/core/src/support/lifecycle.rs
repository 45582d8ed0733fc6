//! The ticket lifecycle, as a state machine:
//!
//! ```text
//! needs_email ─(an email arrives)─▶ new ─▶ in_progress ◀──▶ awaiting_customer
//!                                             │   ▲              │ (timeout, or the team)
//!                                             ▼   │ (reopen)     ▼
//!                                           resolved ◀───────────┘
//!                                             │
//!                                             ▼
//!                                           closed
//! ```
//!
//! Who may take a step matters as much as the step: the team moves tickets along, the end user's
//! reply brings a ticket waiting on them (or resolved) back to the team, and only the platform
//! itself fills in the email or resolves a ticket whose customer never answered.

use std::time::Duration;

use time::OffsetDateTime;

use super::{SupportTicket, TicketStatus};
use crate::ids::{EndUserId, UserId};

/// Who does something to a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// A member of the organization, from the dashboard or the API.
    Member(UserId),
    /// The person who opened the ticket, from their editor.
    EndUser(EndUserId),
    /// The platform: an email arrived, a timeout passed.
    System,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a ticket that is {} cannot become {}: {reason}", from.as_str(), to.as_str())]
pub struct TransitionError {
    pub from: TicketStatus,
    pub to: TicketStatus,
    pub reason: String,
}

/// The three kinds of [`Actor`], which is all the lifecycle looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    Team,
    EndUser,
    System,
}

impl Actor {
    pub const fn party(self) -> Party {
        match self {
            Self::Member(_) => Party::Team,
            Self::EndUser(_) => Party::EndUser,
            Self::System => Party::System,
        }
    }
}

/// Whether `party` may move a ticket from `from` to `to`.
fn permitted(from: TicketStatus, to: TicketStatus, party: Party) -> bool {
    use TicketStatus::*;
    let (team, end_user, system) =
        (party == Party::Team, party == Party::EndUser, party == Party::System);
    match (from, to) {
        (NeedsEmail, New) => system,
        (New, InProgress) | (InProgress, AwaitingCustomer | Resolved) | (Resolved, Closed) => team,
        // The customer answered, or the team takes it back; a resolved ticket reopens.
        (AwaitingCustomer | Resolved, InProgress) => team || end_user,
        (AwaitingCustomer, Resolved) => team || system,
        _ => false,
    }
}

/// Where `party` can move a ticket that is `from`, in lifecycle order.
pub fn next_statuses(from: TicketStatus, party: Party) -> Vec<TicketStatus> {
    TicketStatus::ALL.into_iter().filter(|&to| permitted(from, to, party)).collect()
}

/// A status change that happened, for the activity stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusChange {
    pub from: TicketStatus,
    pub to: TicketStatus,
}

impl SupportTicket {
    /// Moves the ticket to `to` as `actor`, keeping the resolved/closed stamps and the
    /// auto-resolve deadline (`auto_resolve_after` from now on entering `awaiting_customer`)
    /// in step. Nothing changes on error.
    pub fn move_to(
        &mut self,
        to: TicketStatus,
        actor: Actor,
        now: OffsetDateTime,
        auto_resolve_after: Option<Duration>,
    ) -> Result<StatusChange, TransitionError> {
        let from = self.status;
        if !permitted(from, to, actor.party()) {
            return Err(TransitionError { from, to, reason: refusal(from, to, actor.party()) });
        }
        let member = match actor {
            Actor::Member(user) => Some(user),
            Actor::EndUser(_) | Actor::System => None,
        };
        self.status = to;
        self.auto_resolve_at = match to {
            TicketStatus::AwaitingCustomer => auto_resolve_after.map(|after| now + after),
            _ => None,
        };
        match to {
            TicketStatus::Resolved => {
                self.resolved_at = Some(now);
                self.resolved_by = member;
            }
            TicketStatus::Closed => {
                self.closed_at = Some(now);
                self.closed_by = member;
            }
            TicketStatus::InProgress if from == TicketStatus::Resolved => {
                self.resolved_at = None;
                self.resolved_by = None;
            }
            _ => {}
        }
        self.updated_at = now;
        Ok(StatusChange { from, to })
    }
}

fn refusal(from: TicketStatus, to: TicketStatus, party: Party) -> String {
    if from == to {
        return "it already is".into();
    }
    if from == TicketStatus::Closed {
        return "closed tickets stay closed; open a new one".into();
    }
    if from == TicketStatus::NeedsEmail {
        return "it waits for the end user's email address".into();
    }
    let anyone = [Party::Team, Party::EndUser, Party::System];
    if !anyone.iter().any(|&who| permitted(from, to, who)) {
        let next = next_statuses(from, party);
        return if next.is_empty() {
            "that is not a step of the ticket lifecycle".into()
        } else {
            let names: Vec<_> = next.iter().map(|s| s.as_str()).collect();
            format!("from {} it can become {}", from.as_str(), names.join(" or "))
        };
    }
    match (to, party) {
        (TicketStatus::New, _) => "only an email address moves it to new".into(),
        (_, Party::EndUser) => "the end user can only bring it back to the team by replying".into(),
        _ => "only the support team takes that step".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{McpServerId, OrgId, SupportTicketId};
    use crate::support::TicketPriority;
    use TicketStatus::*;

    fn ticket(status: TicketStatus) -> SupportTicket {
        let at = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        SupportTicket {
            id: SupportTicketId::new(),
            organization_id: OrgId::new(),
            mcp_server_id: McpServerId::new(),
            end_user_id: None,
            session_id: None,
            title: "t".into(),
            summary: None,
            description: "d".into(),
            problem_context: None,
            category: None,
            email: Some("a@example.com".into()),
            status,
            priority: TicketPriority::Medium,
            assignee_id: None,
            session_context: serde_json::Value::Null,
            created_at: at,
            updated_at: at,
            resolved_at: None,
            resolved_by: None,
            closed_at: None,
            closed_by: None,
            auto_resolve_at: None,
            version: 0,
        }
    }

    const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);

    #[test]
    fn every_transition_is_decided_for_every_actor() {
        let member = Actor::Member(UserId::new());
        let end_user = Actor::EndUser(EndUserId::new());
        // (from, to, member, end user, system): the whole table, so that no pair is left to
        // chance.
        let allowed = [
            (NeedsEmail, New, false, false, true),
            (New, InProgress, true, false, false),
            (InProgress, AwaitingCustomer, true, false, false),
            (InProgress, Resolved, true, false, false),
            (AwaitingCustomer, InProgress, true, true, false),
            (AwaitingCustomer, Resolved, true, false, true),
            (Resolved, Closed, true, false, false),
            (Resolved, InProgress, true, true, false),
        ];
        for from in TicketStatus::ALL {
            for to in TicketStatus::ALL {
                let expected = allowed
                    .iter()
                    .find(|(f, t, ..)| *f == from && *t == to)
                    .map_or((false, false, false), |&(_, _, m, e, s)| (m, e, s));
                for (actor, may) in
                    [(member, expected.0), (end_user, expected.1), (Actor::System, expected.2)]
                {
                    let mut t = ticket(from);
                    let before = t.clone();
                    let now = t.created_at + Duration::from_secs(60);
                    let moved = t.move_to(to, actor, now, Some(WEEK));
                    assert_eq!(moved.is_ok(), may, "{from:?} -> {to:?} by {actor:?}");
                    match moved {
                        Ok(change) => {
                            assert_eq!(change, StatusChange { from, to });
                            assert_eq!((t.status, t.updated_at), (to, now));
                        }
                        Err(err) => {
                            assert_eq!(t, before, "a refused move changes nothing");
                            assert!(!err.reason.is_empty());
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn stamps_and_deadline_follow_the_status() {
        let member = UserId::new();
        let mut t = ticket(New);
        let start = t.created_at;
        let at = |minutes: u64| start + Duration::from_secs(minutes * 60);
        t.move_to(InProgress, Actor::Member(member), at(1), Some(WEEK)).unwrap();
        t.move_to(AwaitingCustomer, Actor::Member(member), at(2), Some(WEEK)).unwrap();
        assert_eq!(t.auto_resolve_at, Some(at(2) + WEEK));
        // The customer answers: no more deadline.
        t.move_to(InProgress, Actor::EndUser(EndUserId::new()), at(3), Some(WEEK)).unwrap();
        assert_eq!(t.auto_resolve_at, None);
        t.move_to(AwaitingCustomer, Actor::Member(member), at(4), None).unwrap();
        assert_eq!(t.auto_resolve_at, None, "a server without a timeout never resolves alone");
        t.move_to(Resolved, Actor::System, at(5), Some(WEEK)).unwrap();
        assert_eq!((t.resolved_at, t.resolved_by), (Some(at(5)), None));
        t.move_to(InProgress, Actor::EndUser(EndUserId::new()), at(6), Some(WEEK)).unwrap();
        assert_eq!((t.resolved_at, t.resolved_by), (None, None), "a reopen clears the stamp");
        t.move_to(Resolved, Actor::Member(member), at(7), Some(WEEK)).unwrap();
        assert_eq!((t.resolved_at, t.resolved_by), (Some(at(7)), Some(member)));
        t.move_to(Closed, Actor::Member(member), at(8), Some(WEEK)).unwrap();
        assert_eq!((t.closed_at, t.closed_by), (Some(at(8)), Some(member)));
        assert_eq!(t.resolved_at, Some(at(7)), "closing keeps when it was resolved");
    }

    #[test]
    fn refusals_say_why() {
        let member = Actor::Member(UserId::new());
        let refuse = |from, to, actor| {
            ticket(from).move_to(to, actor, OffsetDateTime::UNIX_EPOCH, None).unwrap_err()
        };
        let err = refuse(New, Resolved, member);
        assert_eq!(
            err.to_string(),
            "a ticket that is new cannot become resolved: from new it can become in_progress"
        );
        assert!(refuse(Closed, InProgress, member).reason.contains("stay closed"));
        assert!(refuse(InProgress, InProgress, member).reason.contains("already"));
        assert!(refuse(NeedsEmail, New, member).reason.contains("email"));
        let end_user = Actor::EndUser(EndUserId::new());
        assert!(refuse(InProgress, Resolved, end_user).reason.contains("replying"));
        assert!(refuse(Resolved, Closed, Actor::System).reason.contains("support team"));
        assert_eq!(next_statuses(InProgress, Party::Team), [AwaitingCustomer, Resolved]);
        assert_eq!(next_statuses(Closed, Party::Team), []);
    }
}
