//! Walkthroughs in storage: authoring with numbered steps, assignment to servers, progress and
//! its history, each kept to its organization.

use std::collections::HashSet;
use std::sync::Arc;

use mcplatform_core::ids::{
    EndUserId, McpServerId, OrgId, WalkthroughEventId, WalkthroughId, WalkthroughStepId,
};
use mcplatform_core::mcp_server::{McpServerSettings, Slug};
use mcplatform_core::walkthrough::{
    ContentV1, EventKind, Progress, ProgressEvent, StepContent, Walkthrough, WalkthroughDetails,
    WalkthroughKind, WalkthroughStatus,
};
use mcplatform_store::testing::TestDatabase;
use mcplatform_store::{PageRequest, Store, StoreError};
use serde_json::{Map, json};

use crate::story::{org, t, user};

fn content(text: &str) -> StepContent {
    StepContent::V1(ContentV1 { content_for_user: text.into(), ..ContentV1::default() })
}

fn details(title: &str, status: WalkthroughStatus) -> WalkthroughDetails {
    WalkthroughDetails::new(title, "", WalkthroughKind::Quickstart, status, Some(10), &[]).unwrap()
}

async fn walkthrough(
    store: &Arc<dyn Store>,
    org: OrgId,
    title: &str,
    steps: usize,
) -> (Walkthrough, Vec<WalkthroughStepId>) {
    let mut metadata = Map::new();
    metadata.insert("importedFrom".into(), json!("https://example.com"));
    let walkthrough = Walkthrough {
        id: WalkthroughId::new(),
        organization_id: org,
        details: details(title, WalkthroughStatus::Published),
        metadata,
        created_at: t(1),
        updated_at: t(1),
    };
    let steps: Vec<_> =
        (0..steps).map(|i| (format!("Step {i}"), content(&format!("c{i}")))).collect();
    let created = store.create_walkthrough(&walkthrough, &steps).await.unwrap();
    (walkthrough, created.iter().map(|s| s.id).collect())
}

async fn server(store: &Arc<dyn Store>, org: OrgId, slug: &str) -> McpServerId {
    let settings = McpServerSettings::new(slug).unwrap();
    store.create_mcp_server(org, &Slug::parse(slug).unwrap(), &settings, t(0)).await.unwrap().id
}

async fn step_ids(store: &Arc<dyn Store>, org: OrgId, w: WalkthroughId) -> Vec<WalkthroughStepId> {
    let steps = store.list_walkthrough_steps(org, w).await.unwrap();
    let orders: Vec<i64> = steps.iter().map(|s| s.display_order).collect();
    assert_eq!(orders, (0..steps.len() as i64).collect::<Vec<_>>(), "numbered 0..n");
    steps.iter().map(|s| s.id).collect()
}

#[tokio::test]
async fn steps_stay_numbered_through_adding_deleting_and_reordering() {
    let db = TestDatabase::create().await;
    let store = db.store().await;
    let acme = org(&store, "Acme", user(&store, "ada@example.com").await).await;
    let (w, ids) = walkthrough(&store, acme, "Quick start", 3).await;
    assert_eq!(store.get_walkthrough(acme, w.id).await.unwrap(), w);
    assert_eq!(step_ids(&store, acme, w.id).await, ids);

    let added =
        store.add_walkthrough_step(acme, w.id, "Last", &content("end"), t(5)).await.unwrap();
    assert_eq!(added.display_order, 3);
    assert_eq!(store.get_walkthrough(acme, w.id).await.unwrap().updated_at, t(5));

    store.delete_walkthrough_step(acme, w.id, ids[0], t(6)).await.unwrap();
    assert_eq!(step_ids(&store, acme, w.id).await, [ids[1], ids[2], added.id]);

    let order = [added.id, ids[2], ids[1]];
    store.reorder_walkthrough_steps(acme, w.id, &order, t(7)).await.unwrap();
    assert_eq!(step_ids(&store, acme, w.id).await, order);
    // Not a permutation: refused, and nothing moved.
    for bad in [
        vec![added.id, ids[2]],
        vec![added.id, ids[2], ids[1], ids[0]],
        vec![added.id, added.id, ids[1]],
    ] {
        let err = store.reorder_walkthrough_steps(acme, w.id, &bad, t(8)).await;
        assert!(matches!(err, Err(StoreError::Conflict("steps"))), "{err:?}");
    }
    assert_eq!(step_ids(&store, acme, w.id).await, order);

    let edited = store
        .update_walkthrough_step(acme, w.id, ids[1], "Renamed", &content("new"), t(9))
        .await
        .unwrap();
    assert_eq!((edited.title.as_str(), edited.display_order), ("Renamed", 2));
    assert_eq!(edited.content, content("new"));

    let mut changed = details("Quick start v2", WalkthroughStatus::Archived);
    changed.tags = vec!["cli".into()];
    let updated = store.update_walkthrough(acme, w.id, &changed, t(10)).await.unwrap();
    assert_eq!(updated.details, changed);
    assert_eq!(updated.metadata, w.metadata, "metadata is kept");
    let listed = store.list_walkthroughs(acme, PageRequest::ALL).await.unwrap().items;
    assert_eq!((listed.len(), listed[0].steps, listed[0].servers), (1, 3, 0));

    store.delete_walkthrough(acme, w.id).await.unwrap();
    assert!(matches!(store.get_walkthrough(acme, w.id).await, Err(StoreError::NotFound)));
    assert!(matches!(store.list_walkthrough_steps(acme, w.id).await, Err(StoreError::NotFound)));
}

#[tokio::test]
async fn another_organization_can_neither_see_nor_touch_a_walkthrough() {
    let db = TestDatabase::create().await;
    let store = db.store().await;
    let acme = org(&store, "Acme", user(&store, "ada@example.com").await).await;
    let evil = org(&store, "Evil", user(&store, "eve@example.com").await).await;
    let (w, ids) = walkthrough(&store, acme, "Quick start", 2).await;
    let evil_server = server(&store, evil, "evil").await;
    let not_found =
        |r: Result<(), StoreError>| assert!(matches!(r, Err(StoreError::NotFound)), "{r:?}");

    not_found(store.get_walkthrough(evil, w.id).await.map(drop));
    not_found(store.list_walkthrough_steps(evil, w.id).await.map(drop));
    not_found(
        store
            .update_walkthrough(evil, w.id, &details("x", WalkthroughStatus::Draft), t(2))
            .await
            .map(drop),
    );
    not_found(store.add_walkthrough_step(evil, w.id, "x", &content("x"), t(2)).await.map(drop));
    not_found(
        store.update_walkthrough_step(evil, w.id, ids[0], "x", &content("x"), t(2)).await.map(drop),
    );
    not_found(store.delete_walkthrough_step(evil, w.id, ids[0], t(2)).await);
    not_found(store.reorder_walkthrough_steps(evil, w.id, &[ids[1], ids[0]], t(2)).await);
    not_found(store.assign_walkthrough(evil, evil_server, w.id, t(2)).await.map(drop));
    not_found(store.delete_walkthrough(evil, w.id).await);
    assert!(store.list_walkthroughs(evil, PageRequest::ALL).await.unwrap().items.is_empty());
    // A step id of one walkthrough does not reach through another of the same organization.
    let (other, _) = walkthrough(&store, acme, "Other", 1).await;
    not_found(store.delete_walkthrough_step(acme, other.id, ids[0], t(3)).await);
    assert_eq!(store.get_walkthrough(acme, w.id).await.unwrap(), w, "unchanged");
    assert_eq!(step_ids(&store, acme, w.id).await, ids);
}

#[tokio::test]
async fn a_server_offers_its_enabled_published_walkthroughs_in_its_order() {
    let db = TestDatabase::create().await;
    let store = db.store().await;
    let acme = org(&store, "Acme", user(&store, "ada@example.com").await).await;
    let docs = server(&store, acme, "acme-docs").await;
    let (a, _) = walkthrough(&store, acme, "A", 1).await;
    let (b, _) = walkthrough(&store, acme, "B", 1).await;
    let (c, _) = walkthrough(&store, acme, "C", 1).await;
    for w in [&a, &b, &c] {
        store.assign_walkthrough(acme, docs, w.id, t(2)).await.unwrap();
    }
    let again = store.assign_walkthrough(acme, docs, a.id, t(3)).await;
    assert!(matches!(again, Err(StoreError::Conflict("assignment"))), "{again:?}");
    let titles =
        |list: Vec<Walkthrough>| list.into_iter().map(|w| w.details.title).collect::<Vec<_>>();
    assert_eq!(titles(store.offered_walkthroughs(acme, docs).await.unwrap()), ["A", "B", "C"]);

    store.reorder_server_walkthroughs(acme, docs, &[c.id, a.id, b.id]).await.unwrap();
    let bad = store.reorder_server_walkthroughs(acme, docs, &[c.id, a.id]).await;
    assert!(matches!(bad, Err(StoreError::Conflict("assignments"))), "{bad:?}");
    store.set_assignment_enabled(acme, docs, a.id, false).await.unwrap();
    store
        .update_walkthrough(acme, c.id, &details("C", WalkthroughStatus::Draft), t(4))
        .await
        .unwrap();
    // A draft and a disabled assignment are listed for the author, never offered.
    assert_eq!(titles(store.offered_walkthroughs(acme, docs).await.unwrap()), ["B"]);
    let listed = store.list_server_walkthroughs(acme, docs).await.unwrap();
    let orders: Vec<_> =
        listed.iter().map(|(a, w)| (w.details.title.clone(), a.display_order, a.enabled)).collect();
    assert_eq!(orders, [("C".into(), 0, true), ("A".into(), 1, false), ("B".into(), 2, true)]);
    assert_eq!(store.list_walkthrough_assignments(acme, a.id).await.unwrap().len(), 1);

    store.unassign_walkthrough(acme, docs, c.id).await.unwrap();
    let orders: Vec<_> = store
        .list_server_walkthroughs(acme, docs)
        .await
        .unwrap()
        .iter()
        .map(|(a, _)| a.display_order)
        .collect();
    assert_eq!(orders, [0, 1]);
    assert!(matches!(
        store.unassign_walkthrough(acme, docs, c.id).await,
        Err(StoreError::NotFound)
    ));
}

fn event(
    p: &Progress,
    kind: EventKind,
    step: Option<WalkthroughStepId>,
    secs: i64,
) -> ProgressEvent {
    ProgressEvent {
        id: WalkthroughEventId::new(),
        organization_id: p.organization_id,
        walkthrough_id: p.walkthrough_id,
        end_user_id: p.end_user_id,
        mcp_server_id: p.last_server_id,
        session_id: Some("s1".into()),
        kind,
        step_id: step,
        at: t(secs),
    }
}

#[tokio::test]
async fn progress_keeps_completions_until_a_restart_and_every_event_for_good() {
    let db = TestDatabase::create().await;
    let store = db.store().await;
    let acme = org(&store, "Acme", user(&store, "ada@example.com").await).await;
    let evil = org(&store, "Evil", user(&store, "eve@example.com").await).await;
    let docs = server(&store, acme, "acme-docs").await;
    let (w, ids) = walkthrough(&store, acme, "Quick start", 3).await;
    let ada = store.create_end_user(acme, Some("ada@example.com"), None, t(1)).await.unwrap().id;
    let mut progress = Progress {
        organization_id: acme,
        end_user_id: ada,
        walkthrough_id: w.id,
        completed_steps: HashSet::new(),
        current_step_id: Some(ids[0]),
        last_server_id: docs,
        last_session_id: Some("s1".into()),
        started_at: t(10),
        last_activity_at: t(10),
        completed_at: None,
    };
    store
        .record_progress(&progress, &[event(&progress, EventKind::Started, None, 10)])
        .await
        .unwrap();
    progress.current_step_id = Some(ids[1]);
    progress.last_activity_at = t(20);
    let done = event(&progress, EventKind::StepCompleted, Some(ids[0]), 20);
    store.record_progress(&progress, std::slice::from_ref(&done)).await.unwrap();
    // The same completion again changes nothing.
    store
        .record_progress(&progress, &[event(&progress, EventKind::StepCompleted, Some(ids[0]), 21)])
        .await
        .unwrap();

    let mine = store.list_end_user_progress(acme, ada).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].completed_steps, HashSet::from([ids[0]]));
    assert_eq!((mine[0].current_step_id, mine[0].last_activity_at), (Some(ids[1]), t(20)));
    let page = store.list_walkthrough_progress(acme, w.id, PageRequest::ALL).await.unwrap();
    assert_eq!(page.items, mine);

    // A restart clears the completions; the history stays.
    progress.started_at = t(30);
    progress.last_activity_at = t(30);
    progress.current_step_id = Some(ids[0]);
    store
        .record_progress(&progress, &[event(&progress, EventKind::Restarted, None, 30)])
        .await
        .unwrap();
    assert!(store.list_end_user_progress(acme, ada).await.unwrap()[0].completed_steps.is_empty());
    let events = store.list_walkthrough_events(acme, w.id, None, t(0), t(100), 1000).await.unwrap();
    let kinds: Vec<_> = events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::Started,
            EventKind::StepCompleted,
            EventKind::StepCompleted,
            EventKind::Restarted
        ]
    );
    assert_eq!(events[1], done);
    let ranged =
        store.list_walkthrough_events(acme, w.id, Some(docs), t(20), t(29), 1000).await.unwrap();
    assert_eq!(ranged.len(), 2);
    assert!(
        store
            .list_walkthrough_events(acme, w.id, Some(McpServerId::new()), t(0), t(100), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // A deleted step is no longer among the completions.
    store
        .record_progress(&progress, &[event(&progress, EventKind::StepCompleted, Some(ids[2]), 40)])
        .await
        .unwrap();
    store.delete_walkthrough_step(acme, w.id, ids[2], t(41)).await.unwrap();
    assert!(store.list_end_user_progress(acme, ada).await.unwrap()[0].completed_steps.is_empty());

    // Another organization sees none of it and cannot write progress for this user.
    assert!(store.list_end_user_progress(evil, ada).await.unwrap().is_empty());
    assert!(
        store.list_walkthrough_events(evil, w.id, None, t(0), t(100), 10).await.unwrap().is_empty()
    );
    let mut forged = progress.clone();
    forged.organization_id = evil;
    let err = store.record_progress(&forged, &[]).await;
    assert!(matches!(err, Err(StoreError::NotFound)), "{err:?}");
}

#[tokio::test]
async fn merging_a_placeholder_user_brings_their_walkthrough_progress() {
    let db = TestDatabase::create().await;
    let store = db.store().await;
    let acme = org(&store, "Acme", user(&store, "ada@example.com").await).await;
    let docs = server(&store, acme, "acme-docs").await;
    let (w, ids) = walkthrough(&store, acme, "Quick start", 2).await;
    let (other, _) = walkthrough(&store, acme, "Other", 1).await;
    let placeholder = store.create_end_user(acme, None, None, t(1)).await.unwrap().id;
    let real = store.create_end_user(acme, Some("ada@example.com"), None, t(1)).await.unwrap().id;
    let progress = |user: EndUserId, walkthrough: WalkthroughId| Progress {
        organization_id: acme,
        end_user_id: user,
        walkthrough_id: walkthrough,
        completed_steps: HashSet::new(),
        current_step_id: None,
        last_server_id: docs,
        last_session_id: None,
        started_at: t(10),
        last_activity_at: t(10),
        completed_at: None,
    };
    // Both followed the first walkthrough; only the placeholder the second.
    let p = progress(placeholder, w.id);
    store
        .record_progress(&p, &[event(&p, EventKind::StepCompleted, Some(ids[0]), 10)])
        .await
        .unwrap();
    store.record_progress(&progress(real, w.id), &[]).await.unwrap();
    store.record_progress(&progress(placeholder, other.id), &[]).await.unwrap();

    assert!(store.merge_end_users(acme, placeholder, real).await.unwrap());
    let merged = store.list_end_user_progress(acme, real).await.unwrap();
    let mut walkthroughs: Vec<_> = merged.iter().map(|p| p.walkthrough_id).collect();
    walkthroughs.sort();
    let mut expected = vec![w.id, other.id];
    expected.sort();
    assert_eq!(walkthroughs, expected);
    let first = merged.iter().find(|p| p.walkthrough_id == w.id).unwrap();
    assert!(first.completed_steps.is_empty(), "the real user's attempt stays");
    let events = store.list_walkthrough_events(acme, w.id, None, t(0), t(100), 10).await.unwrap();
    assert_eq!(events[0].end_user_id, real, "the history follows the person");
}
