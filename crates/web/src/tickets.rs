//! Support tickets as the pages, the API, the MCP tools and the background jobs share them:
//! each change goes through the lifecycle of `core::support`, records its activity, and is
//! stored in one transaction with the emails and webhook messages it causes.
//!
//! Who hears about what:
//! - the end user, by email: public replies and status changes made by others;
//! - the assignee and the ticket's watchers: replies and notes made by others;
//! - the server's watchers: every new ticket;
//! - the server's webhook, when set: every event (internal notes flagged `internal`).

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use mcplatform_core::ValidationError;
use mcplatform_core::ids::{
    EndUserId, McpServerId, OrgId, SupportTicketId, TicketActivityId, UserId,
};
use mcplatform_core::mcp_server::McpServer;
use mcplatform_core::outbox::NewEmail;
use mcplatform_core::support::activity::{ActivityKind, TicketActivity, parse_comment};
use mcplatform_core::support::lifecycle::Actor;
use mcplatform_core::support::webhook;
use mcplatform_core::support::{
    SupportSettings, SupportTicket, TicketPriority, TicketStatus, parse_summary, parse_title,
};
use mcplatform_core::user::EmailAddress;
use mcplatform_store::{
    NewWebhook, PageRequest, StoreError, StoredSupportSettings, TicketChange, TicketFilter,
    TicketSort,
};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::access::{OrgAccess, path_id};
use crate::{ApiError, AppState};

/// The secret's sealing context (see `MasterKey::seal`).
const SECRET_CONTEXT: &[u8] = b"support webhook secret";

/// A stale write: someone changed the ticket since it was read.
fn changed_meanwhile(err: StoreError) -> ApiError {
    match err {
        StoreError::Conflict("ticket_changed") => ApiError::InUse(
            "the ticket changed since it was loaded; reload it and try again".into(),
        ),
        other => other.into(),
    }
}

/// A server's support settings with its webhook secret opened.
pub struct Settings {
    pub settings: SupportSettings,
    pub webhook_secret: Option<SecretString>,
}

pub async fn settings(
    state: &AppState,
    org: OrgId,
    server: McpServerId,
) -> Result<Settings, ApiError> {
    let stored = state.store.get_support_settings(org, server).await?;
    let webhook_secret = match &stored.webhook_secret_sealed {
        Some(sealed) => {
            let opened = state
                .master_key
                .open(sealed, SECRET_CONTEXT)
                .map_err(|e| ApiError::Internal(Box::new(e)))?;
            let text = String::from_utf8(opened).map_err(|e| ApiError::Internal(Box::new(e)))?;
            Some(SecretString::from(text))
        }
        None => None,
    };
    Ok(Settings { settings: stored.settings, webhook_secret })
}

/// Saves a server's settings. A webhook gets a secret the first time it is set (or when
/// `rotate_secret`); the new secret is returned, to be shown once.
pub async fn save_settings(
    state: &AppState,
    access: &OrgAccess,
    actor: &crate::access::Actor,
    server: &McpServer,
    settings: SupportSettings,
    rotate_secret: bool,
) -> Result<Option<SecretString>, ApiError> {
    // A URL the platform would refuse to call is refused now, not at every delivery.
    if let Some(url) = &settings.webhook_url {
        state
            .outbound
            .check_url(url)
            .map_err(|reason| ValidationError::new("webhook_url", reason.to_string()))?;
    }
    let current = state.store.get_support_settings(access.org.id, server.id).await?;
    let (sealed, fresh) = match (&settings.webhook_url, current.webhook_secret_sealed) {
        (None, _) => (None, None),
        (Some(_), Some(sealed)) if !rotate_secret => (Some(sealed), None),
        (Some(_), _) => {
            let secret = webhook::generate_secret();
            let sealed = state.master_key.seal(secret.expose_secret().as_bytes(), SECRET_CONTEXT);
            (Some(sealed), Some(secret))
        }
    };
    let facts = json!({
        "categories": settings.categories,
        "auto_resolve_hours": settings.auto_resolve_after.map(|d| d.as_secs() / 3600),
        "webhook_url": settings.webhook_url.as_ref().map(|u| u.as_str()),
        "webhook_secret_rotated": fresh.is_some(),
    });
    let stored = StoredSupportSettings { settings, webhook_secret_sealed: sealed };
    state.store.put_support_settings(access.org.id, server.id, &stored, state.clock.now()).await?;
    let target = format!("server {}", server.slug);
    crate::audit::record(
        state,
        Some(access.org.id),
        actor,
        mcplatform_core::audit::action::SUPPORT_SETTINGS_UPDATED,
        target,
        facts,
    )
    .await;
    Ok(fresh)
}

/// What a member asks to change on a ticket; absent parts stay as they are.
#[derive(Debug, Default, Clone)]
pub struct Edit {
    pub status: Option<TicketStatus>,
    pub priority: Option<TicketPriority>,
    pub title: Option<String>,
    /// An empty summary clears it.
    pub summary: Option<String>,
    pub category: Option<String>,
    /// `Some(None)` unassigns.
    pub assignee: Option<Option<UserId>>,
}

fn actor_json(actor: Actor) -> Value {
    match actor {
        Actor::Member(user) => json!({"type": "member", "id": user.to_string()}),
        Actor::EndUser(user) => json!({"type": "end_user", "id": user.to_string()}),
        Actor::System => json!({"type": "system"}),
    }
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// The dashboard page of a ticket.
pub fn ticket_url(state: &AppState, ticket: &SupportTicket) -> String {
    let mut url = state.config.base_url.clone();
    url.set_path(&format!("/orgs/{}/tickets/{}", ticket.organization_id, ticket.id));
    url.to_string()
}

/// Builds what a ticket change sends, then stores it all at once.
struct Outgoing<'a> {
    state: &'a AppState,
    change: TicketChange,
    /// The server's support settings (categories, auto-resolve delay, webhook).
    settings: SupportSettings,
    actor: Actor,
}

impl<'a> Outgoing<'a> {
    /// A change `actor` makes to `ticket` at `now` (its new `updated_at`).
    async fn new(
        state: &'a AppState,
        mut ticket: SupportTicket,
        actor: Actor,
        now: OffsetDateTime,
    ) -> Result<Self, ApiError> {
        let stored =
            state.store.get_support_settings(ticket.organization_id, ticket.mcp_server_id).await?;
        ticket.updated_at = now;
        Ok(Self { state, change: TicketChange::new(ticket), settings: stored.settings, actor })
    }

    /// The acting member, who needs no email about their own doing.
    fn acting_member(&self) -> Option<UserId> {
        match self.actor {
            Actor::Member(user) => Some(user),
            Actor::EndUser(_) | Actor::System => None,
        }
    }

    fn ticket(&self) -> &SupportTicket {
        &self.change.ticket
    }

    /// Records an entry by the change's actor; returns it.
    fn activity(
        &mut self,
        kind: ActivityKind,
        body: Option<String>,
        data: Value,
    ) -> TicketActivity {
        let ticket = &self.change.ticket;
        let entry = TicketActivity::new(
            ticket.organization_id,
            ticket.id,
            kind,
            self.actor,
            body,
            data,
            ticket.updated_at,
        );
        self.change.activities.push(entry.clone());
        entry
    }

    /// The webhook message of an event, when the server has a webhook.
    fn event(&mut self, event_type: &str, activity: Option<&TicketActivity>) {
        if self.settings.webhook_url.is_none() {
            return;
        }
        let ticket = &self.change.ticket;
        let payload = json!({
            "type": event_type,
            "timestamp": rfc3339(ticket.updated_at),
            "data": {
                "ticket": ticket_json(self.state, ticket),
                "activity": activity.map(|a| json!({
                    "id": a.id.to_string(),
                    "kind": a.kind.as_str(),
                    "internal": !a.is_public(),
                    "actor": actor_json(a.actor),
                    "body": a.body,
                    "data": a.data,
                })),
            },
        });
        self.change.webhooks.push(NewWebhook {
            organization_id: ticket.organization_id,
            mcp_server_id: ticket.mcp_server_id,
            event_type: event_type.to_owned(),
            payload: payload.to_string(),
        });
    }

    fn email(&mut self, to: &str, subject: String, body: String) {
        let Ok(to) = EmailAddress::parse(to) else {
            tracing::warn!(to, "a ticket notification has an unusable address");
            return;
        };
        let org = self.change.ticket.organization_id;
        self.change.emails.push(NewEmail {
            organization_id: Some(org),
            to,
            subject,
            body_text: body,
        });
    }

    /// Emails the end user (when the ticket has an address).
    fn email_end_user(&mut self, subject: &str, body: String) {
        let ticket = &self.change.ticket;
        let Some(to) = ticket.email.clone() else { return };
        let subject = format!("[Ticket {}] {subject}: {}", short_id(ticket.id), ticket.title);
        let body = format!(
            "{body}\n\n---\nTicket {}: \"{}\" ({})\nTo answer, ask the AI agent in your editor to \
             reply to ticket {} (the reply_to_ticket tool), or to show it (get_ticket).\n",
            ticket.id,
            ticket.title,
            ticket.status.label(),
            ticket.id,
        );
        self.email(&to, subject, body);
    }

    /// Emails these members (not the one acting).
    async fn email_members(
        &mut self,
        members: impl IntoIterator<Item = UserId>,
        subject: &str,
        body: &str,
    ) -> Result<(), ApiError> {
        let recipients: BTreeSet<UserId> =
            members.into_iter().filter(|m| Some(*m) != self.acting_member()).collect();
        let ticket = self.change.ticket.clone();
        let url = ticket_url(self.state, &ticket);
        for member in recipients {
            let user = match self.state.store.get_user(member).await {
                Ok(user) => user,
                Err(StoreError::NotFound) => continue,
                Err(err) => return Err(err.into()),
            };
            let subject = format!("[Ticket {}] {subject}: {}", short_id(ticket.id), ticket.title);
            let body = format!(
                "{body}\n\n---\n{} · {}\n{url}\n",
                ticket.status.label(),
                ticket.priority.as_str()
            );
            self.email(user.email.as_str(), subject, body);
        }
        Ok(())
    }

    /// The assignee and the watchers.
    async fn team(&self) -> Result<Vec<UserId>, ApiError> {
        let ticket = self.ticket();
        let mut team = self.state.store.ticket_watchers(ticket.organization_id, ticket.id).await?;
        team.extend(ticket.assignee_id);
        Ok(team)
    }
}

/// The end of a ticket's id, enough to tell tickets apart in a subject line.
fn short_id(id: SupportTicketId) -> String {
    let id = id.as_uuid().simple().to_string();
    id[id.len() - 8..].to_owned()
}

/// A ticket as webhook messages show it.
fn ticket_json(state: &AppState, ticket: &SupportTicket) -> Value {
    json!({
        "id": ticket.id.to_string(),
        "server_id": ticket.mcp_server_id.to_string(),
        "title": ticket.title,
        "summary": ticket.summary,
        "description": ticket.description,
        "category": ticket.category,
        "status": ticket.status.as_str(),
        "priority": ticket.priority.as_str(),
        "email": ticket.email,
        "end_user_id": ticket.end_user_id.map(|id| id.to_string()),
        "assignee_id": ticket.assignee_id.map(|id| id.to_string()),
        "created_at": rfc3339(ticket.created_at),
        "updated_at": rfc3339(ticket.updated_at),
        "url": ticket_url(state, ticket),
    })
}

/// Tells the server's watchers of a ticket the team can now work on.
async fn announce_new(out: &mut Outgoing<'_>) -> Result<(), ApiError> {
    let ticket = out.ticket().clone();
    let watchers =
        out.state.store.server_watchers(ticket.organization_id, ticket.mcp_server_id).await?;
    let body = format!(
        "A new support ticket was opened from {}.\n\n{}\n\n{}",
        ticket.email.as_deref().unwrap_or("someone who gave no email address yet"),
        ticket.title,
        ticket.description,
    );
    out.email_members(watchers, "New ticket", &body).await
}

/// Stores a ticket opened from the editor, telling the server's watchers and its webhook.
pub async fn open(state: &AppState, ticket: SupportTicket, actor: Actor) -> Result<(), ApiError> {
    let opened_at = ticket.created_at;
    let mut out = Outgoing::new(state, ticket, actor, opened_at).await?;
    let note = match out.ticket().status {
        TicketStatus::NeedsEmail => "Opened from the editor; waiting for an email address.",
        _ => "Opened from the editor.",
    };
    let entry = out.activity(ActivityKind::System, Some(note.into()), json!({}));
    out.event("ticket.created", Some(&entry));
    // A ticket waiting for an address is announced once the address arrives.
    if out.ticket().status != TicketStatus::NeedsEmail {
        announce_new(&mut out).await?;
    }
    state.store.create_support_ticket(&out.change).await?;
    Ok(())
}

/// Applies a member's edit: the assignee, then the fields, then the status through the
/// lifecycle, each recorded.
pub async fn edit(
    state: &AppState,
    access: &OrgAccess,
    member: UserId,
    ticket: SupportTicket,
    edit: Edit,
) -> Result<SupportTicket, ApiError> {
    let mut out = Outgoing::new(state, ticket, Actor::Member(member), state.clock.now()).await?;
    let mut changed = false;

    if let Some(assignee) = edit.assignee
        && assignee != out.ticket().assignee_id
    {
        if let Some(user) = assignee {
            // Only the organization's members work on its tickets.
            match state.store.get_membership(access.org.id, user).await {
                Ok(_) => {}
                Err(StoreError::NotFound) => {
                    return Err(ValidationError::new(
                        "assignee_id",
                        "is not a member of the organization",
                    )
                    .into());
                }
                Err(err) => return Err(err.into()),
            }
            out.change.watchers.push(user);
        }
        let from = out.ticket().assignee_id;
        out.change.ticket.assignee_id = assignee;
        let data =
            json!({"from": from.map(|u| u.to_string()), "to": assignee.map(|u| u.to_string())});
        let entry = out.activity(ActivityKind::Assignment, None, data);
        out.event("ticket.assigned", Some(&entry));
        if let Some(user) = assignee {
            let body = format!("The ticket was assigned to you.\n\n{}", out.ticket().description);
            out.email_members([user], "Assigned to you", &body).await?;
        }
        changed = true;
    }

    let mut fields: Vec<(&str, Value, Value)> = Vec::new();
    if let Some(title) = &edit.title {
        let title = parse_title(title)?;
        if title != out.ticket().title {
            fields.push(("title", json!(out.ticket().title), json!(title)));
            out.change.ticket.title = title;
        }
    }
    if let Some(summary) = &edit.summary {
        let summary = parse_summary(summary)?;
        if summary != out.ticket().summary {
            fields.push(("summary", json!(out.ticket().summary), json!(summary)));
            out.change.ticket.summary = summary;
        }
    }
    if let Some(priority) = edit.priority
        && priority != out.ticket().priority
    {
        fields.push(("priority", json!(out.ticket().priority), json!(priority)));
        out.change.ticket.priority = priority;
    }
    if let Some(category) = &edit.category {
        let category = match category.trim() {
            "" => None,
            given => Some(out.settings.category(given)?),
        };
        if category != out.ticket().category {
            fields.push(("category", json!(out.ticket().category), json!(category)));
            out.change.ticket.category = category;
        }
    }
    for (field, from, to) in fields {
        let data = json!({"field": field, "from": from, "to": to});
        let entry = out.activity(ActivityKind::FieldUpdate, None, data);
        out.event("ticket.updated", Some(&entry));
        changed = true;
    }

    if let Some(status) = edit.status
        && status != out.ticket().status
    {
        out.move_status(status)?;
        changed = true;
    }
    if !changed {
        return Ok(out.change.ticket);
    }
    state.store.update_support_ticket(&out.change).await.map_err(changed_meanwhile)?;
    // What is stored now: the same, one version on.
    let mut saved = out.change.ticket;
    saved.version += 1;
    Ok(saved)
}

impl Outgoing<'_> {
    /// Moves the ticket, records it and tells the end user (unless they did it) and the
    /// webhook.
    fn move_status(&mut self, to: TicketStatus) -> Result<(), ApiError> {
        let (actor, now) = (self.actor, self.change.ticket.updated_at);
        let change =
            self.change.ticket.move_to(to, actor, now, self.settings.auto_resolve_after)?;
        let data = json!({"from": change.from.as_str(), "to": change.to.as_str()});
        let body = match (actor, to) {
            (Actor::System, TicketStatus::Resolved) => {
                Some("Resolved automatically: no answer from the customer in time.".to_owned())
            }
            (Actor::System, TicketStatus::New) => Some("An email address arrived.".to_owned()),
            _ => None,
        };
        let entry = self.activity(ActivityKind::StatusChange, body, data);
        self.event("ticket.status_changed", Some(&entry));
        if !matches!(actor, Actor::EndUser(_)) && to != TicketStatus::New {
            let text = match to {
                TicketStatus::InProgress if change.from == TicketStatus::Resolved => {
                    "Your ticket was reopened; the team is on it again.".to_owned()
                }
                TicketStatus::InProgress => {
                    "The support team is working on your ticket.".to_owned()
                }
                TicketStatus::AwaitingCustomer => {
                    "The support team is waiting for your answer.".to_owned()
                }
                TicketStatus::Resolved if actor == Actor::System => {
                    "Your ticket was resolved, as there was no answer for a while. Reply to \
                     reopen it."
                        .to_owned()
                }
                TicketStatus::Resolved => {
                    "Your ticket was resolved. Reply to reopen it.".to_owned()
                }
                other => format!("Your ticket is now {}.", other.label().to_lowercase()),
            };
            self.email_end_user(to.label(), text);
        }
        Ok(())
    }
}

/// A member's comment (public) or internal note, optionally moving the ticket in the same
/// change (answer and wait for the customer, say).
pub async fn comment(
    state: &AppState,
    member: UserId,
    ticket: SupportTicket,
    body: &str,
    internal: bool,
    then: Option<TicketStatus>,
) -> Result<TicketActivity, ApiError> {
    let body = parse_comment(body)?;
    let mut out = Outgoing::new(state, ticket, Actor::Member(member), state.clock.now()).await?;
    let kind = if internal { ActivityKind::InternalNote } else { ActivityKind::Comment };
    let entry = out.activity(kind, Some(body.clone()), json!({}));
    out.change.watchers.push(member);
    out.event(if internal { "ticket.note_added" } else { "ticket.comment_added" }, Some(&entry));
    if !internal {
        out.email_end_user("New reply", format!("The support team replied:\n\n{body}"));
    }
    let team = out.team().await?;
    let what = if internal { "Internal note" } else { "New reply" };
    out.email_members(team, what, &body).await?;
    if let Some(status) = then
        && status != out.ticket().status
    {
        out.move_status(status)?;
    }
    state.store.update_support_ticket(&out.change).await.map_err(changed_meanwhile)?;
    Ok(entry)
}

/// The end user's reply from the editor: it brings a ticket waiting on them, or resolved,
/// back to the team.
pub async fn end_user_reply(
    state: &AppState,
    ticket: SupportTicket,
    end_user: EndUserId,
    body: &str,
) -> Result<SupportTicket, ApiError> {
    let body = parse_comment(body)?;
    if ticket.status == TicketStatus::Closed {
        return Err(ApiError::InUse("the ticket is closed; open a new one instead".into()));
    }
    let mut out = Outgoing::new(state, ticket, Actor::EndUser(end_user), state.clock.now()).await?;
    let entry = out.activity(ActivityKind::Comment, Some(body.clone()), json!({}));
    out.event("ticket.comment_added", Some(&entry));
    if matches!(out.ticket().status, TicketStatus::AwaitingCustomer | TicketStatus::Resolved) {
        out.move_status(TicketStatus::InProgress)?;
    }
    let team = out.team().await?;
    let who = out.ticket().email.clone().unwrap_or_else(|| "The end user".into());
    out.email_members(team, "Customer replied", &format!("{who} replied:\n\n{body}")).await?;
    state.store.update_support_ticket(&out.change).await.map_err(changed_meanwhile)?;
    Ok(out.change.ticket)
}

/// An email address arrived for an end user: their tickets that waited for one become new.
pub async fn email_arrived(
    state: &AppState,
    org: OrgId,
    end_user: EndUserId,
    email: &str,
) -> Result<usize, ApiError> {
    let filter = TicketFilter {
        statuses: vec![TicketStatus::NeedsEmail],
        end_user: Some(end_user),
        ..TicketFilter::default()
    };
    let page = PageRequest::new(PageRequest::MAX_LIMIT, 0);
    let waiting = state.store.list_support_tickets(org, &filter, TicketSort::Oldest, page).await?;
    let now = state.clock.now();
    let mut moved = 0;
    for mut ticket in waiting.items {
        ticket.email = Some(email.to_owned());
        let mut out = Outgoing::new(state, ticket, Actor::System, now).await?;
        out.move_status(TicketStatus::New)?;
        announce_new(&mut out).await?;
        match state.store.update_support_ticket(&out.change).await {
            Ok(()) => moved += 1,
            // Someone else moved it meanwhile; it no longer waits.
            Err(StoreError::Conflict(_)) => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(moved)
}

/// Resolves the tickets whose customer did not answer in time; returns how many.
pub async fn resolve_due(state: &AppState) -> Result<usize, ApiError> {
    const BATCH: u32 = 100;
    let now = state.clock.now();
    let mut resolved = 0;
    for ticket in state.store.tickets_due_to_resolve(now, BATCH).await? {
        let mut out = Outgoing::new(state, ticket, Actor::System, now).await?;
        out.move_status(TicketStatus::Resolved)?;
        let team = out.team().await?;
        let body = "No answer from the customer in time; the ticket was resolved.";
        out.email_members(team, "Resolved automatically", body).await?;
        match state.store.update_support_ticket(&out.change).await {
            Ok(()) => resolved += 1,
            // Answered (or resolved by another node) meanwhile.
            Err(StoreError::Conflict(_)) => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(resolved)
}

/// Edits or deletes a member's own comment or note.
pub async fn change_comment(
    state: &AppState,
    access: &OrgAccess,
    member: UserId,
    ticket: &SupportTicket,
    activity: &str,
    body: Option<&str>,
) -> Result<(), ApiError> {
    let id: TicketActivityId = path_id(activity)?;
    let entry = state.store.get_ticket_activity(access.org.id, id).await?;
    if entry.ticket_id != ticket.id {
        return Err(ApiError::NotFound);
    }
    if !entry.is_editable_by(member) {
        return Err(ApiError::Forbidden);
    }
    match body {
        Some(body) => {
            let body = parse_comment(body)?;
            state
                .store
                .edit_ticket_comment(access.org.id, id, member, &body, state.clock.now())
                .await?;
        }
        None => state.store.delete_ticket_comment(access.org.id, id, member).await?,
    }
    Ok(())
}

/// Sends every due webhook message once; returns how many were delivered. The messages of a
/// batch go out together, so that one slow receiver holds up nobody else's and the batch ends
/// (at worst after one request timeout) well within its lease.
pub async fn deliver_webhooks(state: &AppState) -> Result<usize, ApiError> {
    const BATCH: u32 = 50;
    /// A message being sent is no other node's for this long: several request timeouts.
    const LEASE: std::time::Duration = std::time::Duration::from_secs(120);
    let now = state.clock.now();
    let due = state.store.claim_due_webhooks(now, LEASE, BATCH).await?;
    // Each server's settings (and opened secret), read once per batch. A server whose
    // settings cannot be read now keeps its messages for after the lease.
    let mut servers: HashMap<McpServerId, Option<Arc<Settings>>> = HashMap::new();
    let mut sending = tokio::task::JoinSet::new();
    for delivery in due {
        let current = match servers.entry(delivery.mcp_server_id) {
            Entry::Occupied(known) => known.get().clone(),
            Entry::Vacant(slot) => {
                let read = settings(state, delivery.organization_id, delivery.mcp_server_id).await;
                let read = read
                    .map_err(|err| tracing::warn!(error = ?err, server = %delivery.mcp_server_id, "cannot read webhook settings"))
                    .ok()
                    .map(Arc::new);
                slot.insert(read).clone()
            }
        };
        let Some(current) = current else { continue };
        let state = state.clone();
        sending.spawn(async move {
            let attempt = send(&state, &current, &delivery).await;
            (delivery, attempt)
        });
    }
    let mut delivered = 0;
    while let Some(sent) = sending.join_next().await {
        let Ok((delivery, attempt)) = sent else { continue };
        let attempts = u32::try_from(delivery.attempts + 1).unwrap_or(u32::MAX);
        let record = match attempt {
            Ok(status) => {
                delivered += 1;
                mcplatform_store::WebhookAttempt {
                    delivered: true,
                    status: Some(status),
                    error: None,
                    retry_at: None,
                }
            }
            Err(error) => {
                // A removed webhook will not come back by waiting: give up at once.
                let retry_at = (error != REMOVED)
                    .then(|| webhook::retry_after(attempts).map(|after| state.clock.now() + after))
                    .flatten();
                tracing::info!(delivery = %delivery.id, attempts, %error, "webhook not delivered");
                mcplatform_store::WebhookAttempt {
                    delivered: false,
                    status: None,
                    error: Some(error),
                    retry_at,
                }
            }
        };
        // One message's record failing leaves the others' to be written.
        if let Err(err) =
            state.store.record_webhook_attempt(delivery.id, &record, state.clock.now()).await
        {
            tracing::warn!(error = ?err, delivery = %delivery.id, "cannot record a webhook attempt");
        }
    }
    Ok(delivered)
}

/// Why a message of a webhook that is no longer set is not sent.
const REMOVED: &str = "the webhook was removed from the server's settings";

/// One attempt: the answer's status when 2xx, else why not.
async fn send(
    state: &AppState,
    current: &Settings,
    delivery: &mcplatform_store::WebhookDelivery,
) -> Result<u16, String> {
    let (Some(url), Some(secret)) = (&current.settings.webhook_url, &current.webhook_secret) else {
        return Err(REMOVED.into());
    };
    let timestamp = state.clock.now().unix_timestamp();
    let id = format!("msg_{}", delivery.id.as_uuid().simple());
    let signature = webhook::sign(secret, &id, timestamp, delivery.payload.as_bytes())
        .map_err(|e| e.to_string())?;
    let request = axum::http::Request::builder()
        .method("POST")
        .uri(url.as_str())
        .header("content-type", "application/json")
        .header("user-agent", concat!("MCPlatform-Webhooks/", env!("CARGO_PKG_VERSION")))
        .header("webhook-id", &id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(delivery.payload.clone().into_bytes())
        .map_err(|e| e.to_string())?;
    let status = state.outbound.status_of(request).await.map_err(|e| e.to_string())?;
    if status.is_success() { Ok(status.as_u16()) } else { Err(format!("HTTP {status}")) }
}

/// Queues a test message to the server's webhook.
pub async fn send_test(
    state: &AppState,
    access: &OrgAccess,
    server: &McpServer,
) -> Result<(), ApiError> {
    let current = state.store.get_support_settings(access.org.id, server.id).await?;
    if current.settings.webhook_url.is_none() {
        return Err(ValidationError::new("webhook_url", "set a webhook URL first").into());
    }
    let now = state.clock.now();
    let payload = json!({
        "type": "webhook.test",
        "timestamp": rfc3339(now),
        "data": {"server_id": server.id.to_string(), "message": "A test message from MCPlatform."},
    });
    let webhook = NewWebhook {
        organization_id: access.org.id,
        mcp_server_id: server.id,
        event_type: "webhook.test".into(),
        payload: payload.to_string(),
    };
    state.store.enqueue_webhook(&webhook, now).await?;
    Ok(())
}
