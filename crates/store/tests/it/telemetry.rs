//! Telemetry in storage: retention deletes what is older than the cutoff (spans, metric
//! points, log records and hosted requests), a day at a time, and only the organization's own.

use mcplatform_core::hosting::{McpRequestRecord, RequestOutcome};
use mcplatform_core::ids::{McpRequestId, McpServerId, OrgId};
use mcplatform_core::mcp_server::{McpServerSettings, Slug};
use mcplatform_core::org::RetentionDays;
use mcplatform_core::telemetry::analytics::nanos;
use mcplatform_core::telemetry::{
    LogRecord, McpFields, MetricKind, MetricPointRecord, SpanKind, SpanRecord, SpanStatus,
    TelemetryBatch,
};
use mcplatform_store::TelemetryWrite;
use mcplatform_store::testing::TestDatabase;

use crate::story::{org, t, user};

const DAY: i64 = 86_400;

fn span(id: u32, at_secs: i64) -> SpanRecord {
    let start = nanos(t(at_secs));
    SpanRecord {
        trace_id: format!("{id:032x}"),
        span_id: format!("{id:016x}"),
        parent_span_id: None,
        name: "tools/call search".into(),
        kind: SpanKind::Server,
        service_name: None,
        start_ns: start,
        end_ns: start + 1_000_000,
        status: SpanStatus::Unset,
        status_message: None,
        mcp: McpFields {
            method: Some("tools/call".into()),
            target: Some("search".into()),
            outcome: Some(RequestOutcome::Ok),
            ..McpFields::default()
        },
        attributes: "{}".into(),
        resource: "{}".into(),
        events: None,
    }
}

fn batch(spans: Vec<SpanRecord>, at_secs: i64) -> TelemetryBatch {
    let at = nanos(t(at_secs));
    TelemetryBatch {
        spans,
        metric_points: vec![MetricPointRecord {
            name: "mcp.server.operation.duration".into(),
            unit: "s".into(),
            kind: MetricKind::Histogram,
            service_name: None,
            start_ns: None,
            time_ns: at,
            value: None,
            count: Some(1),
            sum: Some(0.1),
            min: None,
            max: None,
            details: None,
            method: None,
            target: None,
            error_type: None,
            attributes: "{}".into(),
            resource: "{}".into(),
        }],
        logs: vec![LogRecord {
            time_ns: at,
            observed_ns: at,
            severity_number: 9,
            severity_text: None,
            body: "served".into(),
            trace_id: None,
            span_id: None,
            service_name: None,
            session_id: None,
            attributes: "{}".into(),
            resource: "{}".into(),
        }],
    }
}

fn request(org: OrgId, server: McpServerId, at_secs: i64) -> McpRequestRecord {
    McpRequestRecord {
        id: McpRequestId::new(),
        organization_id: org,
        mcp_server_id: server,
        session_id: None,
        end_user_id: None,
        identity_source: mcplatform_core::hosting::IdentitySource::None,
        method: "tools/call".into(),
        tool_name: Some("get_support".into()),
        jsonrpc_id: Some("1".into()),
        protocol_version: None,
        arguments: None,
        result: None,
        outcome: RequestOutcome::Ok,
        error_code: None,
        error_message: None,
        duration_us: 100,
        started_at: t(at_secs),
    }
}

#[tokio::test]
async fn retention_deletes_only_what_is_older_than_the_cutoff_in_its_organization() {
    let db = TestDatabase::create().await;
    let store = db.store().await;
    let owner = user(&store, "ada@example.com").await;
    let acme = org(&store, "Acme", owner).await;
    let other = org(&store, "Other", owner).await;
    let mut servers = Vec::new();
    for (org, slug) in [(acme, "acme"), (other, "other")] {
        let settings = McpServerSettings::new(slug).unwrap();
        let server = store
            .create_mcp_server(org, &Slug::parse(slug).unwrap(), &settings, t(0))
            .await
            .unwrap();
        servers.push(server.id);
    }
    let now = 40 * DAY;
    // Acme: spans 30, 29.5, 20 and 1 days old (the oldest three days apart: more than one
    // day-sized slice), with a metric point and a log record 30 days old; Other: the same.
    let mut writes = Vec::new();
    for (org, server) in [(acme, servers[0]), (other, servers[1])] {
        let spans = vec![
            span(1, now - 30 * DAY),
            span(2, now - 29 * DAY - DAY / 2),
            span(3, now - 20 * DAY),
            span(4, now - DAY),
        ];
        writes.push(TelemetryWrite {
            organization_id: org,
            mcp_server_id: server,
            received_at: t(now),
            batch: batch(spans, now - 30 * DAY),
            export: None,
        });
    }
    store.insert_telemetry(&writes).await.unwrap();
    store
        .record_mcp_requests(
            &[
                request(acme, servers[0], now - 25 * DAY),
                request(acme, servers[0], now - 2 * DAY),
                request(other, servers[1], now - 25 * DAY),
            ],
            &[],
        )
        .await
        .unwrap();

    // Acme keeps 7 days: three spans, the point, the log and a request go.
    let cutoff = RetentionDays::new(7).unwrap().cutoff(t(now));
    assert_eq!(store.purge_telemetry(acme, nanos(cutoff)).await.unwrap(), 6);
    let kept = store.mcp_calls(acme, None, 0, nanos(t(now))).await.unwrap();
    let mut ages: Vec<i64> =
        kept.iter().map(|c| (nanos(t(now)) - c.at_ns) / 1_000_000_000 / DAY).collect();
    ages.sort_unstable();
    assert_eq!(ages, [1, 2]);
    assert_eq!(store.purge_telemetry(acme, nanos(cutoff)).await.unwrap(), 0, "nothing left to do");
    // Other's rows are all there.
    assert_eq!(store.mcp_calls(other, None, 0, nanos(t(now))).await.unwrap().len(), 5);

    // The setting itself: 30 days by default, changed, listed for the job.
    assert_eq!(store.get_organization(acme).await.unwrap().retention, RetentionDays::DEFAULT);
    let changed = store.set_retention(acme, RetentionDays::new(90).unwrap(), t(now)).await.unwrap();
    assert_eq!(changed.retention.days(), 90);
    let listed = store.list_retention().await.unwrap();
    assert!(listed.contains(&(acme, RetentionDays::new(90).unwrap())));
    assert!(listed.contains(&(other, RetentionDays::DEFAULT)));
    assert!(RetentionDays::new(0).is_err() && RetentionDays::new(3651).is_err());
}
