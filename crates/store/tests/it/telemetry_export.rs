//! The forwarding queue: an accepted request is queued for exactly the destinations that
//! want it, in the same transaction; claims are leased; a failing destination backs off; a
//! delivered or refused request leaves the queue and is counted; stale ones are given up.

use std::time::Duration;

use mcplatform_core::ids::{McpServerId, OrgId, TelemetryDestinationId, TelemetryExportId};
use mcplatform_core::mcp_server::{McpServerSettings, Slug};
use mcplatform_core::telemetry::TelemetryBatch;
use mcplatform_core::telemetry::export::{
    DestinationKind, ExportEncoding, ExportSignal, MAX_AGE, Signals,
};
use mcplatform_store::testing::TestDatabase;
use mcplatform_store::{
    DestinationWrite, ExportOutcome, ExportRequest, Store, StoreError, TelemetryWrite,
};

use crate::story::{org, t, user};

fn destination(server: Option<McpServerId>, name: &str, signals: Signals) -> DestinationWrite {
    DestinationWrite {
        mcp_server_id: server,
        name: name.into(),
        kind: DestinationKind::Otlp,
        endpoint: "https://collector.example.com/otlp".parse().unwrap(),
        header_names: vec!["x-api-key".into()],
        headers_sealed: vec![1, 2, 3],
        encoding: ExportEncoding::Protobuf,
        signals,
        enabled: true,
    }
}

fn write(org: OrgId, server: McpServerId, signal: ExportSignal, at: i64) -> TelemetryWrite {
    TelemetryWrite {
        organization_id: org,
        mcp_server_id: server,
        received_at: t(at),
        batch: TelemetryBatch::default(),
        export: Some(ExportRequest {
            id: TelemetryExportId::new(),
            signal,
            // Bytes a text column would mangle.
            body: vec![0x00, 0xff, 0x0a, 0x80, at as u8],
            items: 3,
        }),
    }
}

async fn create(store: &dyn Store, org: OrgId, write: &DestinationWrite) -> TelemetryDestinationId {
    let id = TelemetryDestinationId::new();
    store.create_destination(org, id, write, t(1)).await.unwrap();
    id
}

#[tokio::test]
async fn requests_are_queued_per_destination_and_leave_the_queue_once_settled() {
    let db = TestDatabase::create().await;
    let store = db.store().await;
    let owner = user(&store, "ada@example.com").await;
    let acme = org(&store, "Acme", owner).await;
    let other = org(&store, "Other", owner).await;
    let mut servers = Vec::new();
    for (org, slug) in [(acme, "acme"), (acme, "acme-two"), (other, "other")] {
        let settings = McpServerSettings::new(slug).unwrap();
        let slug = Slug::parse(slug).unwrap();
        servers.push(store.create_mcp_server(org, &slug, &settings, t(0)).await.unwrap().id);
    }
    let only_traces = Signals { traces: true, metrics: false, logs: false };
    let server_traces =
        create(&*store, acme, &destination(Some(servers[0]), "traces", only_traces)).await;
    let org_wide = create(&*store, acme, &destination(None, "everything", Signals::ALL)).await;
    let paused = create(
        &*store,
        acme,
        &DestinationWrite { enabled: false, ..destination(None, "paused", Signals::ALL) },
    )
    .await;
    let others = create(&*store, other, &destination(None, "theirs", Signals::ALL)).await;

    // Another organization's server cannot be chosen.
    let theirs = destination(Some(servers[2]), "x", Signals::ALL);
    let refused = store.create_destination(acme, TelemetryDestinationId::new(), &theirs, t(1));
    assert!(matches!(refused.await, Err(StoreError::Conflict(_))));
    assert!(matches!(store.get_destination(acme, others).await, Err(StoreError::NotFound)));

    store
        .insert_telemetry(&[
            write(acme, servers[0], ExportSignal::Traces, 10),
            write(acme, servers[1], ExportSignal::Traces, 11),
            write(acme, servers[0], ExportSignal::Logs, 12),
            write(other, servers[2], ExportSignal::Metrics, 13),
        ])
        .await
        .unwrap();
    let backlog = |list: &[mcplatform_core::telemetry::export::Destination], id| {
        let found = list.iter().find(|d| d.id == id).unwrap();
        (found.status.backlog_requests, found.status.backlog_items)
    };
    let listed = store.list_destinations(acme).await.unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(backlog(&listed, server_traces), (1, 3));
    assert_eq!(backlog(&listed, org_wide), (3, 9));
    assert_eq!(backlog(&listed, paused), (0, 0));
    assert_eq!(backlog(&store.list_destinations(other).await.unwrap(), others), (1, 3));

    // Oldest first, each once; a second claimer within the lease gets nothing.
    let lease = Duration::from_secs(60);
    let claimed = store.claim_due_exports(t(20), lease, 100).await.unwrap();
    assert_eq!(claimed.len(), 5);
    assert!(claimed.windows(2).all(|w| w[0].created_at <= w[1].created_at));
    assert_eq!(claimed[0].body, vec![0x00, 0xff, 0x0a, 0x80, 10]);
    assert!(store.claim_due_exports(t(21), lease, 100).await.unwrap().is_empty());

    let ids_of = |destination| -> Vec<TelemetryExportId> {
        claimed.iter().filter(|e| e.destination_id == destination).map(|e| e.id).collect()
    };
    // The org-wide destination fails: its requests wait for its retry time, even after
    // the lease.
    let failed = ExportOutcome::Failed { error: "HTTP 503".into(), retry_at: t(500) };
    store.finish_exports(org_wide, &ids_of(org_wide), &failed, t(22)).await.unwrap();
    store
        .finish_exports(server_traces, &ids_of(server_traces), &ExportOutcome::Delivered, t(22))
        .await
        .unwrap();
    let refusal = ExportOutcome::Refused { error: "HTTP 400".into() };
    store.finish_exports(others, &ids_of(others), &refusal, t(22)).await.unwrap();
    assert!(store.claim_due_exports(t(200), lease, 100).await.unwrap().is_empty());

    let status = store.get_destination(acme, org_wide).await.unwrap().destination.status;
    assert_eq!(status.last_error.as_deref(), Some("HTTP 503"));
    assert_eq!((status.consecutive_failures, status.retry_at), (1, Some(t(500))));
    assert_eq!((status.backlog_requests, status.delivered_requests), (3, 0));
    let status = store.get_destination(acme, server_traces).await.unwrap().destination.status;
    assert_eq!((status.delivered_requests, status.backlog_requests), (1, 0));
    assert_eq!(status.last_success_at, Some(t(22)));
    let status = store.get_destination(other, others).await.unwrap().destination.status;
    assert_eq!((status.dropped_requests, status.backlog_requests), (1, 0));

    // After the retry time the requests come back; delivered, the failure count resets.
    let again = store.claim_due_exports(t(500), lease, 100).await.unwrap();
    assert_eq!(again.len(), 3);
    let ids: Vec<_> = again.iter().map(|e| e.id).collect();
    store.finish_exports(org_wide, &ids, &ExportOutcome::Delivered, t(501)).await.unwrap();
    let stored = store.get_destination(acme, org_wide).await.unwrap();
    assert_eq!(stored.headers_sealed, vec![1, 2, 3]);
    let status = stored.destination.status;
    assert_eq!((status.consecutive_failures, status.retry_at), (0, None));
    assert_eq!((status.delivered_requests, status.backlog_requests), (3, 0));

    // Requests older than a day are given up and counted; younger ones stay.
    store
        .insert_telemetry(&[
            write(acme, servers[0], ExportSignal::Metrics, 1_000),
            write(acme, servers[0], ExportSignal::Metrics, 90_000),
        ])
        .await
        .unwrap();
    let now = t(90_001);
    let dropped = store.drop_stale_exports(now - MAX_AGE, now).await.unwrap();
    assert_eq!(dropped, 1);
    let status = store.get_destination(acme, org_wide).await.unwrap().destination.status;
    assert_eq!((status.dropped_requests, status.backlog_requests), (1, 1));

    // Settings change without losing the queue; deleting takes the queue along.
    let renamed = destination(Some(servers[1]), "renamed", Signals::ALL);
    store.update_destination(acme, org_wide, &renamed, t(90_002)).await.unwrap();
    let stored = store.get_destination(acme, org_wide).await.unwrap().destination;
    assert_eq!((stored.name.as_str(), stored.mcp_server_id), ("renamed", Some(servers[1])));
    assert_eq!(stored.status.backlog_requests, 1);
    let theirs = destination(None, "theirs", Signals::ALL);
    let moved = store.update_destination(other, org_wide, &theirs, t(90_002));
    assert!(matches!(moved.await, Err(StoreError::NotFound)));
    store.delete_destination(acme, org_wide).await.unwrap();
    assert!(store.claim_due_exports(t(100_000), lease, 100).await.unwrap().is_empty());
    assert!(matches!(store.delete_destination(acme, org_wide).await, Err(StoreError::NotFound)));
}
