//! Support tickets in storage: changes written with what they cause, versions that refuse
//! stale writes, filters, the auto-resolve queue, comments only their authors change, watchers,
//! settings and the webhook queue, each kept to its organization.

use std::sync::Arc;
use std::time::Duration;

use mcplatform_core::ids::{McpServerId, OrgId, SupportTicketId};
use mcplatform_core::mcp_server::{McpServerSettings, Slug};
use mcplatform_core::org::Role;
use mcplatform_core::outbox::NewEmail;
use mcplatform_core::support::activity::{ActivityKind, TicketActivity};
use mcplatform_core::support::lifecycle::Actor;
use mcplatform_core::support::{SupportSettings, SupportTicket, TicketPriority, TicketStatus};
use mcplatform_core::user::EmailAddress;
use mcplatform_store::testing::TestDatabase;
use mcplatform_store::{
    AssigneeFilter, NewWebhook, PageRequest, Store, StoreError, StoredSupportSettings,
    TicketChange, TicketFilter, TicketSort, WebhookAttempt,
};
use serde_json::json;

use crate::story::{org, t, user};

pub(crate) fn ticket(org: OrgId, server: McpServerId, title: &str, at: i64) -> SupportTicket {
    SupportTicket {
        id: SupportTicketId::new(),
        organization_id: org,
        mcp_server_id: server,
        end_user_id: None,
        session_id: None,
        title: title.into(),
        summary: None,
        description: format!("{title}: it breaks"),
        problem_context: None,
        category: Some("Bug Report".into()),
        email: Some("dev@customer.test".into()),
        status: TicketStatus::New,
        priority: TicketPriority::Medium,
        assignee_id: None,
        session_context: json!({"client": {"name": "cursor"}}),
        created_at: t(at),
        updated_at: t(at),
        resolved_at: None,
        resolved_by: None,
        closed_at: None,
        closed_by: None,
        auto_resolve_at: None,
        version: 0,
    }
}

async fn server(store: &Arc<dyn Store>, org: OrgId, slug: &str) -> McpServerId {
    let settings = McpServerSettings::new(slug).unwrap();
    store.create_mcp_server(org, &Slug::parse(slug).unwrap(), &settings, t(0)).await.unwrap().id
}

fn comment(ticket: &SupportTicket, kind: ActivityKind, actor: Actor, body: &str) -> TicketActivity {
    TicketActivity::new(
        ticket.organization_id,
        ticket.id,
        kind,
        actor,
        Some(body.into()),
        json!({}),
        ticket.updated_at,
    )
}

async fn open(store: &Arc<dyn Store>, ticket: &SupportTicket) {
    store.create_support_ticket(&TicketChange::new(ticket.clone())).await.unwrap();
}

#[tokio::test]
async fn a_change_is_written_whole_with_its_emails_and_webhooks_or_not_at_all() {
    let db = TestDatabase::create().await;
    let store = db.store().await;
    let ada = user(&store, "ada@example.com").await;
    let acme = org(&store, "Acme", ada).await;
    let docs = server(&store, acme, "acme-docs").await;
    let mut first = ticket(acme, docs, "Login fails", 1);
    let mut opened = TicketChange::new(first.clone());
    opened.emails.push(NewEmail {
        organization_id: Some(acme),
        to: EmailAddress::parse("ada@example.com").unwrap(),
        subject: "New ticket".into(),
        body_text: "Login fails".into(),
    });
    opened.webhooks.push(NewWebhook {
        organization_id: acme,
        mcp_server_id: docs,
        event_type: "ticket.created".into(),
        payload: "{}".into(),
    });
    store.create_support_ticket(&opened).await.unwrap();
    assert_eq!(store.list_outbox(acme, PageRequest::new(10, 0)).await.unwrap().items.len(), 1);
    assert_eq!(store.webhook_status(acme, docs).await.unwrap().pending, 1);

    // Taken in progress and assigned; the assignee starts watching.
    first.move_to(TicketStatus::InProgress, Actor::Member(ada), t(2), None).unwrap();
    first.assignee_id = Some(ada);
    let mut change = TicketChange::new(first.clone());
    change.activities.push(comment(&first, ActivityKind::Comment, Actor::Member(ada), "On it"));
    change.watchers.push(ada);
    store.update_support_ticket(&change).await.unwrap();
    let stored = store.get_support_ticket(acme, first.id).await.unwrap();
    assert_eq!(
        (stored.status, stored.version, stored.assignee_id),
        (TicketStatus::InProgress, 1, Some(ada))
    );
    assert_eq!(store.ticket_watchers(acme, first.id).await.unwrap(), [ada]);

    // A write based on the old version is refused, and none of what it carried is stored.
    let mut stale = TicketChange::new(first.clone());
    stale.ticket.priority = TicketPriority::Critical;
    stale.activities.push(comment(&first, ActivityKind::Comment, Actor::Member(ada), "stale"));
    stale.webhooks.push(NewWebhook {
        organization_id: acme,
        mcp_server_id: docs,
        event_type: "ticket.updated".into(),
        payload: "{}".into(),
    });
    assert!(matches!(
        store.update_support_ticket(&stale).await,
        Err(StoreError::Conflict("ticket_changed"))
    ));
    let activities = store.list_ticket_activities(acme, first.id, true).await.unwrap();
    assert_eq!(activities.len(), 1);
    assert_eq!(store.webhook_status(acme, docs).await.unwrap().pending, 1);
    assert_eq!(
        store.get_support_ticket(acme, first.id).await.unwrap().priority,
        TicketPriority::Medium
    );

    // A change whose ticket update succeeds but whose effects fail (a webhook for a server
    // that is not the organization's) is rolled back whole: the update too.
    let mut broken = TicketChange::new(stored.clone());
    broken.ticket.priority = TicketPriority::Low;
    broken.activities.push(comment(&stored, ActivityKind::Comment, Actor::Member(ada), "lost"));
    broken.webhooks.push(NewWebhook {
        organization_id: acme,
        mcp_server_id: mcplatform_core::ids::McpServerId::new(),
        event_type: "ticket.updated".into(),
        payload: "{}".into(),
    });
    assert!(store.update_support_ticket(&broken).await.is_err());
    let after = store.get_support_ticket(acme, first.id).await.unwrap();
    assert_eq!((after.priority, after.version), (TicketPriority::Medium, 1));
    assert_eq!(store.list_ticket_activities(acme, first.id, true).await.unwrap().len(), 1);

    // Nobody outside the organization can be assigned.
    let eve = user(&store, "eve@example.com").await;
    let mut foreign = stored.clone();
    foreign.assignee_id = Some(eve);
    assert!(matches!(
        store.update_support_ticket(&TicketChange::new(foreign)).await,
        Err(StoreError::NotFound)
    ));
    // Another organization's view of the ticket is empty.
    let globex = org(&store, "Globex", eve).await;
    let mut crossed = stored.clone();
    crossed.organization_id = globex;
    assert!(matches!(
        store.update_support_ticket(&TicketChange::new(crossed)).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(store.get_support_ticket(globex, first.id).await, Err(StoreError::NotFound)));
    assert!(store.list_ticket_activities(globex, first.id, true).await.unwrap().is_empty());
    let other_server = server(&store, globex, "globex-docs").await;
    let mut wrong_server = ticket(acme, other_server, "x", 3);
    wrong_server.id = SupportTicketId::new();
    assert!(matches!(
        store.create_support_ticket(&TicketChange::new(wrong_server)).await,
        Err(StoreError::NotFound)
    ));

    // Removing a member unassigns them and stops their watching.
    let bob = user(&store, "bob@example.com").await;
    store.add_member(acme, bob, Role::Member, t(3)).await.unwrap();
    let mut current = store.get_support_ticket(acme, first.id).await.unwrap();
    current.assignee_id = Some(bob);
    let mut reassigned = TicketChange::new(current);
    reassigned.watchers.push(bob);
    store.update_support_ticket(&reassigned).await.unwrap();
    store.remove_member(acme, bob).await.unwrap();
    assert_eq!(store.get_support_ticket(acme, first.id).await.unwrap().assignee_id, None);
    assert_eq!(store.ticket_watchers(acme, first.id).await.unwrap(), [ada]);
}

#[tokio::test]
async fn lists_filter_search_and_sort() {
    let db = TestDatabase::create().await;
    let store = db.store().await;
    let ada = user(&store, "ada@example.com").await;
    let acme = org(&store, "Acme", ada).await;
    let docs = server(&store, acme, "acme-docs").await;
    let api = server(&store, acme, "acme-api").await;
    let mut login = ticket(acme, docs, "Login fails", 1);
    login.priority = TicketPriority::Critical;
    login.assignee_id = Some(ada);
    let mut quota = ticket(acme, api, "Quota 100% used_up", 2);
    quota.status = TicketStatus::NeedsEmail;
    quota.email = None;
    let mut export = ticket(acme, docs, "Export is slow", 3);
    export.priority = TicketPriority::Low;
    for t in [&login, &quota, &export] {
        open(&store, t).await;
    }
    // A comment is searched too.
    let mut change = TicketChange::new(export.clone());
    change.activities.push(comment(
        &export,
        ActivityKind::InternalNote,
        Actor::Member(ada),
        "Customer uses Postgres 12",
    ));
    store.update_support_ticket(&change).await.unwrap();

    let titles = |filter: TicketFilter, sort: TicketSort| {
        let store = store.clone();
        async move {
            store
                .list_support_tickets(acme, &filter, sort, PageRequest::new(10, 0))
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|t| t.title)
                .collect::<Vec<_>>()
        }
    };
    let all = TicketFilter::default();
    assert_eq!(
        titles(all.clone(), TicketSort::Newest).await,
        ["Export is slow", "Quota 100% used_up", "Login fails"]
    );
    assert_eq!(titles(all.clone(), TicketSort::Oldest).await[0], "Login fails");
    assert_eq!(
        titles(all.clone(), TicketSort::Priority).await,
        ["Login fails", "Quota 100% used_up", "Export is slow"]
    );
    assert_eq!(titles(all.clone(), TicketSort::RecentlyUpdated).await[0], "Export is slow");
    let by = |f: fn(&mut TicketFilter)| {
        let mut filter = TicketFilter::default();
        f(&mut filter);
        filter
    };
    assert_eq!(titles(by(|f| f.server = None), TicketSort::Newest).await.len(), 3);
    let on_api = TicketFilter { server: Some(api), ..TicketFilter::default() };
    assert_eq!(titles(on_api, TicketSort::Newest).await, ["Quota 100% used_up"]);
    assert_eq!(
        titles(
            by(|f| f.statuses = vec![TicketStatus::NeedsEmail, TicketStatus::Closed]),
            TicketSort::Newest
        )
        .await,
        ["Quota 100% used_up"]
    );
    assert_eq!(
        titles(by(|f| f.priority = Some(TicketPriority::Low)), TicketSort::Newest).await,
        ["Export is slow"]
    );
    assert_eq!(
        titles(by(|f| f.assignee = Some(AssigneeFilter::Unassigned)), TicketSort::Newest)
            .await
            .len(),
        2
    );
    let mine =
        TicketFilter { assignee: Some(AssigneeFilter::Member(ada)), ..TicketFilter::default() };
    assert_eq!(titles(mine, TicketSort::Newest).await, ["Login fails"]);
    let window = TicketFilter {
        opened_from: Some(t(2)),
        opened_before: Some(t(3)),
        ..TicketFilter::default()
    };
    assert_eq!(titles(window, TicketSort::Newest).await, ["Quota 100% used_up"]);
    let search = |words: &str| {
        titles(
            TicketFilter { search: Some(words.into()), ..TicketFilter::default() },
            TicketSort::Newest,
        )
    };
    assert_eq!(search("LOGIN").await, ["Login fails"]);
    assert_eq!(search("postgres slow").await, ["Export is slow"], "a note matches");
    assert_eq!(search("100%").await, ["Quota 100% used_up"]);
    assert!(search("0%u").await.is_empty(), "LIKE wildcards are literal");
    assert_eq!(search("used_up").await, ["Quota 100% used_up"]);
    assert!(search("login slow").await.is_empty(), "every word must match");

    let counts = store.count_support_tickets(acme, None).await.unwrap();
    assert_eq!(counts, [(TicketStatus::NeedsEmail, 1), (TicketStatus::New, 2)]);
    assert_eq!(
        store.count_support_tickets(acme, Some(api)).await.unwrap(),
        [(TicketStatus::NeedsEmail, 1)]
    );
    let eve = user(&store, "eve@example.com").await;
    let globex = org(&store, "Globex", eve).await;
    assert!(
        store
            .list_support_tickets(globex, &all, TicketSort::Newest, PageRequest::new(10, 0))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(store.count_support_tickets(globex, None).await.unwrap().is_empty());
}

#[tokio::test]
async fn waiting_tickets_come_due_and_comments_change_only_by_their_authors() {
    let db = TestDatabase::create().await;
    let store = db.store().await;
    let ada = user(&store, "ada@example.com").await;
    let bob = user(&store, "bob@example.com").await;
    let acme = org(&store, "Acme", ada).await;
    store.add_member(acme, bob, Role::Member, t(0)).await.unwrap();
    let docs = server(&store, acme, "acme-docs").await;
    let mut waiting = ticket(acme, docs, "Waiting", 1);
    waiting.status = TicketStatus::InProgress;
    open(&store, &waiting).await;
    let week = Duration::from_secs(7 * 24 * 3600);
    waiting.move_to(TicketStatus::AwaitingCustomer, Actor::Member(ada), t(10), Some(week)).unwrap();
    let note = comment(&waiting, ActivityKind::InternalNote, Actor::Member(ada), "asked for logs");
    let mut change = TicketChange::new(waiting.clone());
    change.activities.push(note.clone());
    store.update_support_ticket(&change).await.unwrap();

    assert!(
        store
            .tickets_due_to_resolve(t(10) + week - Duration::from_secs(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let due = store.tickets_due_to_resolve(t(10) + week, 10).await.unwrap();
    assert_eq!(due.iter().map(|t| t.id).collect::<Vec<_>>(), [waiting.id]);

    // Only the author edits or deletes; public lists leave notes out.
    assert!(matches!(
        store.edit_ticket_comment(acme, note.id, bob, "mine now", t(11)).await,
        Err(StoreError::NotFound)
    ));
    store.edit_ticket_comment(acme, note.id, ada, "asked for **logs**", t(11)).await.unwrap();
    let edited = store.get_ticket_activity(acme, note.id).await.unwrap();
    assert_eq!(
        (edited.body.as_deref(), edited.edited_at),
        (Some("asked for **logs**"), Some(t(11)))
    );
    assert!(store.list_ticket_activities(acme, waiting.id, false).await.unwrap().is_empty());
    let eve = user(&store, "eve@example.com").await;
    let globex = org(&store, "Globex", eve).await;
    assert!(matches!(store.get_ticket_activity(globex, note.id).await, Err(StoreError::NotFound)));
    assert!(matches!(
        store.delete_ticket_comment(globex, note.id, ada).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_ticket_comment(acme, note.id, bob).await,
        Err(StoreError::NotFound)
    ));
    store.delete_ticket_comment(acme, note.id, ada).await.unwrap();
    assert!(store.list_ticket_activities(acme, waiting.id, true).await.unwrap().is_empty());

    // Watching: members only, idempotent.
    store.set_ticket_watcher(acme, waiting.id, bob, true).await.unwrap();
    store.set_ticket_watcher(acme, waiting.id, bob, true).await.unwrap();
    assert!(matches!(
        store.set_ticket_watcher(acme, waiting.id, eve, true).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.set_ticket_watcher(globex, waiting.id, eve, true).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.ticket_watchers(acme, waiting.id).await.unwrap(), [bob]);
    store.set_ticket_watcher(acme, waiting.id, bob, false).await.unwrap();
    assert!(store.ticket_watchers(acme, waiting.id).await.unwrap().is_empty());
    store.set_server_watcher(acme, docs, bob, true).await.unwrap();
    store.set_server_watcher(acme, docs, bob, true).await.unwrap();
    assert!(matches!(
        store.set_server_watcher(acme, docs, eve, true).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.server_watchers(acme, docs).await.unwrap(), [bob]);
    assert!(store.server_watchers(globex, docs).await.unwrap().is_empty());
}

#[tokio::test]
async fn settings_default_until_set_and_webhooks_queue_retry_and_finish() {
    let db = TestDatabase::create().await;
    let store = db.store().await;
    let ada = user(&store, "ada@example.com").await;
    let acme = org(&store, "Acme", ada).await;
    let docs = server(&store, acme, "acme-docs").await;
    assert_eq!(
        store.get_support_settings(acme, docs).await.unwrap(),
        StoredSupportSettings::default()
    );
    let settings = StoredSupportSettings {
        settings: SupportSettings::new(&["Billing".into()], 0, Some("https://hooks.example.com/t"))
            .unwrap(),
        webhook_secret_sealed: Some(vec![1, 2, 3]),
    };
    store.put_support_settings(acme, docs, &settings, t(1)).await.unwrap();
    assert_eq!(store.get_support_settings(acme, docs).await.unwrap(), settings);
    let eve = user(&store, "eve@example.com").await;
    let globex = org(&store, "Globex", eve).await;
    assert!(matches!(
        store.put_support_settings(globex, docs, &settings, t(1)).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store.get_support_settings(globex, docs).await.unwrap(),
        StoredSupportSettings::default()
    );

    let hook = |n: u32| NewWebhook {
        organization_id: acme,
        mcp_server_id: docs,
        event_type: format!("ticket.test{n}"),
        payload: format!("{{\"n\":{n}}}"),
    };
    store.enqueue_webhook(&hook(1), t(10)).await.unwrap();
    store.enqueue_webhook(&hook(2), t(11)).await.unwrap();
    assert!(matches!(
        store.enqueue_webhook(&NewWebhook { organization_id: globex, ..hook(3) }, t(11)).await,
        Err(StoreError::NotFound)
    ));
    let lease = Duration::from_secs(60);
    let claimed = store.claim_due_webhooks(t(20), lease, 10).await.unwrap();
    assert_eq!(
        claimed.iter().map(|d| d.event_type.as_str()).collect::<Vec<_>>(),
        ["ticket.test1", "ticket.test2"]
    );
    // Claimed messages are nobody else's until the lease ends.
    assert!(store.claim_due_webhooks(t(21), lease, 10).await.unwrap().is_empty());
    store
        .record_webhook_attempt(
            claimed[0].id,
            &WebhookAttempt { delivered: true, status: Some(204), error: None, retry_at: None },
            t(22),
        )
        .await
        .unwrap();
    store
        .record_webhook_attempt(
            claimed[1].id,
            &WebhookAttempt {
                delivered: false,
                status: Some(500),
                error: Some("HTTP 500".into()),
                retry_at: Some(t(30)),
            },
            t(22),
        )
        .await
        .unwrap();
    let status = store.webhook_status(acme, docs).await.unwrap();
    assert_eq!((status.pending, status.failed, status.last_success_at), (1, 0, Some(t(22))));
    assert_eq!(status.last_error.as_deref(), Some("HTTP 500"));
    let again = store.claim_due_webhooks(t(30), lease, 10).await.unwrap();
    assert_eq!((again.len(), again[0].attempts), (1, 1));
    store
        .record_webhook_attempt(
            again[0].id,
            &WebhookAttempt {
                delivered: false,
                status: None,
                error: Some("gave up".into()),
                retry_at: None,
            },
            t(31),
        )
        .await
        .unwrap();
    let status = store.webhook_status(acme, docs).await.unwrap();
    assert_eq!((status.pending, status.failed), (0, 1));
    assert!(store.claim_due_webhooks(t(10_000), lease, 10).await.unwrap().is_empty());
    let listed =
        store.list_webhook_deliveries(acme, docs, PageRequest::new(10, 0)).await.unwrap().items;
    assert_eq!(listed.len(), 2);
    assert!(
        store
            .list_webhook_deliveries(globex, docs, PageRequest::new(10, 0))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(store.webhook_status(globex, docs).await.unwrap().pending, 0);
}
