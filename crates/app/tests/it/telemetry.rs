//! OTLP ingest at `/v1/{traces,metrics,logs}` and the analytics read from it, over HTTP.

use std::io::Write;

use base64::Engine;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, call, eventually, spawn_app, spawn_app_with};

pub(crate) const PROTOBUF: &str = "application/x-protobuf";

pub(crate) struct Sender {
    pub org: String,
    pub server: String,
    pub key: String,
}

/// An organization with a server and a `telemetry:write` key for it.
pub(crate) async fn sender(app: &TestApp, owner: &TestUser, org_name: &str, slug: &str) -> Sender {
    let org = app.create_org(owner, org_name).await;
    let server = app.create_server(owner, &org, json!({"slug": slug, "name": slug})).await;
    let server = server["id"].as_str().unwrap().to_owned();
    let (_, key) = server_key(app, owner, &org, &server, "telemetry:write").await;
    Sender { org, server, key }
}

/// A new key of `server` with `scope`: its id and its secret.
async fn server_key(
    app: &TestApp,
    owner: &TestUser,
    org: &str,
    server: &str,
    scope: &str,
) -> (String, String) {
    let (status, created) = call(
        app,
        owner,
        Method::POST,
        &format!("/api/v1/orgs/{org}/api-keys"),
        Some(json!({"name": scope, "scopes": [scope], "mcp_server_id": server})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let field = |name: &str| created[name].as_str().unwrap().to_owned();
    (field("id"), field("secret"))
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

pub(crate) fn text(key: &str, value: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.into()))
}

/// Nanoseconds of `app`'s clock, minus `ago_secs`.
pub(crate) fn nanos_ago(app: &TestApp, ago_secs: i64) -> u64 {
    let at = app.clock_now() - time::Duration::seconds(ago_secs);
    u64::try_from(at.unix_timestamp_nanos()).unwrap()
}

/// A server span of `tools/call {tool}` lasting `ms`, per the OTel MCP conventions.
pub(crate) fn tool_span(start: u64, n: u8, tool: &str, ms: u64, error_type: Option<&str>) -> Span {
    let mut attributes = vec![
        text("mcp.method.name", "tools/call"),
        text("gen_ai.tool.name", tool),
        text("mcp.session.id", "session-1"),
        text("user.id", "ada"),
        text("mcp.client.name", "cursor"),
    ];
    if let Some(error_type) = error_type {
        attributes.push(text("error.type", error_type));
    }
    Span {
        trace_id: vec![0xaa; 16],
        span_id: vec![n; 8],
        name: format!("tools/call {tool}"),
        kind: 2,
        start_time_unix_nano: start,
        end_time_unix_nano: start + ms * 1_000_000,
        attributes,
        status: error_type.map(|_| Status { code: 2, message: "failed".into() }),
        ..Span::default()
    }
}

pub(crate) fn traces_request(spans: Vec<Span>) -> Vec<u8> {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![text("service.name", "docs-mcp")],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans { spans, ..ScopeSpans::default() }],
            ..ResourceSpans::default()
        }],
    }
    .encode_to_vec()
}

pub(crate) async fn post(
    app: &TestApp,
    path: &str,
    key: Option<&str>,
    content_type: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut request = app.client.post(app.url(path)).header(CONTENT_TYPE, content_type).body(body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.unwrap()
}

async fn overview(app: &TestApp, user: &TestUser, org: &str, query: &str) -> Value {
    let (status, body) = call(
        app,
        user,
        Method::GET,
        &format!("/api/v1/orgs/{org}/analytics/overview{query}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn protobuf_and_json_spans_add_up_to_exact_analytics() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;
    let acme = sender(&app, &ada, "Acme", "acme-docs").await;
    let start = nanos_ago(&app, 3600);

    // Ten `search` calls of 10, 20 … 100 ms: one a tool error, one a JSON-RPC error. A client
    // span and a span that is no MCP operation are stored but are no calls.
    let mut spans: Vec<Span> = (1..=10u8)
        .map(|n| {
            let error = match n {
                3 => Some("tool_error"),
                7 => Some("-32603"),
                _ => None,
            };
            tool_span(start + u64::from(n) * 1_000_000_000, n, "search", u64::from(n) * 10, error)
        })
        .collect();
    spans.push(Span { kind: 3, ..tool_span(start, 11, "search", 5, None) });
    spans.push(Span {
        name: "SELECT docs".into(),
        attributes: vec![],
        ..tool_span(start, 12, "search", 5, None)
    });
    let response = post(&app, "/v1/traces", Some(&acme.key), PROTOBUF, traces_request(spans)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], PROTOBUF);
    assert!(response.bytes().await.unwrap().is_empty(), "a full success has no partial_success");

    // Three `fetch` calls in OTLP/JSON as exporters really send it: enum names, snake_case
    // keys, gzip, and the key in `X-API-Key`. Sentry's attribute names.
    let json_spans: Vec<Value> = (0..3u64)
        .map(|n| {
            json!({
                "trace_id": "bb".repeat(16),
                "span_id": format!("{:016x}", 100 + n),
                "name": "tools/call fetch",
                "kind": "SPAN_KIND_SERVER",
                "start_time_unix_nano": (start + n).to_string(),
                "end_time_unix_nano": (start + n + 1_000_000).to_string(),
                "attributes": [
                    {"key": "mcp.method.name", "value": {"stringValue": "tools/call"}},
                    {"key": "mcp.tool.name", "value": {"stringValue": "fetch"}},
                    {"key": "mcp.client_name", "value": {"stringValue": "claude-code"}},
                    {"key": "user.id", "value": {"stringValue": format!("user-{n}")}}
                ],
                "status": {"code": "STATUS_CODE_UNSET", "message": null}
            })
        })
        .collect();
    let body = json!({"resource_spans": [{"scope_spans": [{"spans": json_spans}]}]});
    let response = app
        .client
        .post(app.url("/v1/traces"))
        .header(CONTENT_TYPE, "application/json")
        .header(CONTENT_ENCODING, "gzip")
        .header("x-api-key", &acme.key)
        .body(gzip(&serde_json::to_vec(&body).unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({}));

    let day = overview(&app, &ada, &acme.org, "").await;
    assert_eq!(day["calls"], 13, "{day}");
    assert_eq!((day["tool_errors"].clone(), day["protocol_errors"].clone()), (json!(1), json!(1)));
    assert_eq!(day["tool_calls"]["calls"], 13);
    let search = &day["tools"][0];
    assert_eq!((search["name"].clone(), search["calls"].clone()), (json!("search"), json!(10)));
    // Nearest rank over 10, 20 … 100 ms.
    assert_eq!(search["latency"]["p50_ms"], 50.0);
    assert_eq!(search["latency"]["p95_ms"], 100.0);
    assert_eq!(search["latency"]["p99_ms"], 100.0);
    assert_eq!(search["error_rate"], 0.2);
    assert_eq!(
        (day["tools"][1]["name"].clone(), day["tools"][1]["calls"].clone()),
        (json!("fetch"), json!(3))
    );
    assert_eq!(day["clients"][0], json!({"name": "cursor", "calls": 10, "users": 1}));
    assert_eq!(day["clients"][1], json!({"name": "claude-code", "calls": 3, "users": 3}));
    assert_eq!(day["active_users"], 4);
    // session-1, and one derived session for each of the three users whose calls carried
    // no session id.
    assert_eq!(day["sessions"], 4);
    let derived =
        day["recent_sessions"].as_array().unwrap().iter().filter(|s| s["derived"] == true);
    assert_eq!(derived.count(), 3);
    let charted: u64 =
        day["series"].as_array().unwrap().iter().map(|p| p["calls"].as_u64().unwrap()).sum();
    assert_eq!(charted, 13);

    // One server's view, and a window that ends before the calls.
    let one = overview(&app, &ada, &acme.org, &format!("?server_id={}", acme.server)).await;
    assert_eq!(one["calls"], 13);
    let from = (app.clock_now() - time::Duration::hours(5))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let to = (app.clock_now() - time::Duration::hours(2))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let before = overview(&app, &ada, &acme.org, &format!("?from={from}&to={to}")).await;
    assert_eq!(before["calls"], 0);

    // The trace view: every span of the trace, the client and plain spans too.
    let (status, trace) = call(
        &app,
        &ada,
        Method::GET,
        &format!("/api/v1/orgs/{}/traces/{}", acme.org, "aa".repeat(16)),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{trace}");
    let spans = trace["items"].as_array().unwrap();
    assert_eq!(spans.len(), 12);
    let failed = spans.iter().find(|s| s["span_id"] == "0707070707070707").unwrap();
    assert_eq!(failed["outcome"], "protocol_error");
    assert_eq!(failed["error_type"], "-32603");
    assert_eq!(failed["status_message"], "failed");
    assert_eq!(failed["resource"]["service.name"], "docs-mcp");
    assert_eq!(failed["duration_ms"], 70.0);
}

#[tokio::test]
async fn bad_requests_get_the_right_status_and_store_nothing() {
    let app = spawn_app_with(|c| {
        c.telemetry.max_body_bytes = 64 * 1024;
        c.telemetry.max_decompressed_bytes = 256 * 1024;
    })
    .await;
    let ada = app.signup("ada@example.com").await;
    let acme = sender(&app, &ada, "Acme", "acme-docs").await;
    let good = traces_request(vec![tool_span(nanos_ago(&app, 60), 1, "search", 10, None)]);

    // No key, an unknown key, a key of another scope, a revoked key.
    let status = |r: &reqwest::Response| r.status();
    let none = post(&app, "/v1/traces", None, PROTOBUF, good.clone()).await;
    assert_eq!(status(&none), StatusCode::UNAUTHORIZED);
    assert_eq!(none.headers()["www-authenticate"], "Bearer");
    let unknown = format!("mcpk_{}", "x".repeat(43));
    assert_eq!(
        status(&post(&app, "/v1/traces", Some(&unknown), PROTOBUF, good.clone()).await),
        StatusCode::UNAUTHORIZED
    );
    let (_, introspect) = server_key(&app, &ada, &acme.org, &acme.server, "auth:introspect").await;
    let forbidden = post(&app, "/v1/traces", Some(&introspect), PROTOBUF, good.clone()).await;
    assert_eq!(status(&forbidden), StatusCode::FORBIDDEN);
    let (revoked_id, revoked) =
        server_key(&app, &ada, &acme.org, &acme.server, "telemetry:write").await;
    let revoke = format!("/api/v1/orgs/{}/api-keys/{revoked_id}", acme.org);
    assert_eq!(call(&app, &ada, Method::DELETE, &revoke, None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(
        status(&post(&app, "/v1/traces", Some(&revoked), PROTOBUF, good.clone()).await),
        StatusCode::UNAUTHORIZED
    );

    // Garbage, truncated protobuf, the wrong content type, the wrong signal, a bad id in JSON.
    let garbage =
        post(&app, "/v1/traces", Some(&acme.key), PROTOBUF, b"\xff\xff\xff garbage".to_vec()).await;
    assert_eq!(status(&garbage), StatusCode::BAD_REQUEST);
    let truncated =
        post(&app, "/v1/traces", Some(&acme.key), PROTOBUF, good[..good.len() - 3].to_vec()).await;
    assert_eq!(status(&truncated), StatusCode::BAD_REQUEST);
    let text_plain = post(&app, "/v1/traces", Some(&acme.key), "text/plain", good.clone()).await;
    assert_eq!(status(&text_plain), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let message: Value = text_plain.json().await.unwrap();
    assert!(message["message"].as_str().unwrap().contains("application/x-protobuf"), "{message}");
    let wrong_signal = post(
        &app,
        "/v1/traces",
        Some(&acme.key),
        "application/json",
        br#"{"resourceLogs": []}"#.to_vec(),
    )
    .await;
    assert_eq!(status(&wrong_signal), StatusCode::BAD_REQUEST);
    let error: Value = wrong_signal.json().await.unwrap();
    assert_eq!(error["code"], 3);
    assert!(error["message"].as_str().unwrap().contains("resourceSpans"), "{error}");
    let bad_id = json!({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "nothex", "spanId": "0102030405060708", "name": "x"}]}]}]});
    assert_eq!(
        status(
            &post(
                &app,
                "/v1/traces",
                Some(&acme.key),
                "application/json",
                serde_json::to_vec(&bad_id).unwrap()
            )
            .await
        ),
        StatusCode::BAD_REQUEST
    );

    // Too large as sent, and a small body that inflates past the limit.
    let oversized = post(&app, "/v1/traces", Some(&acme.key), PROTOBUF, vec![0; 65 * 1024]).await;
    assert_eq!(status(&oversized), StatusCode::PAYLOAD_TOO_LARGE);
    // Refused before it is read, as an OTLP `google.rpc.Status` in the request's encoding.
    let refusal = mcplatform_otlp::Status::decode(oversized.bytes().await.unwrap()).unwrap();
    assert!(refusal.message.contains("larger than 65536 bytes"), "{}", refusal.message);
    // Without a length (chunked), the body is read up to the limit and refused the same way.
    let chunked = raw_chunked_post(&app, "/v1/traces", &acme.key, 80 * 1024).await;
    assert!(chunked.starts_with("HTTP/1.1 413"), "{chunked}");
    let refusal: Value = serde_json::from_str(chunked.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(refusal["code"], 3, "{refusal}");
    let bomb = app
        .client
        .post(app.url("/v1/traces"))
        .bearer_auth(&acme.key)
        .header(CONTENT_TYPE, PROTOBUF)
        .header(CONTENT_ENCODING, "gzip")
        .body(gzip(&vec![0; 1024 * 1024]))
        .send()
        .await
        .unwrap();
    assert_eq!(status(&bomb), StatusCode::PAYLOAD_TOO_LARGE);
    let brotli = app
        .client
        .post(app.url("/v1/traces"))
        .bearer_auth(&acme.key)
        .header(CONTENT_TYPE, PROTOBUF)
        .header(CONTENT_ENCODING, "br")
        .body(good.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(status(&brotli), StatusCode::BAD_REQUEST);

    let day = overview(&app, &ada, &acme.org, "").await;
    assert_eq!(day["calls"], 0, "nothing was stored: {day}");

    // A span with a bad id in an otherwise good request is dropped and reported; the rest is
    // stored. The answer is protobuf, like the request.
    let mut half_bad = vec![tool_span(nanos_ago(&app, 60), 1, "search", 10, None)];
    half_bad.push(Span {
        span_id: vec![1, 2],
        ..tool_span(nanos_ago(&app, 60), 2, "search", 10, None)
    });
    let partial =
        post(&app, "/v1/traces", Some(&acme.key), PROTOBUF, traces_request(half_bad)).await;
    assert_eq!(status(&partial), StatusCode::OK);
    let answer =
        opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse::decode(
            partial.bytes().await.unwrap(),
        )
        .unwrap();
    let partial_success = answer.partial_success.unwrap();
    assert_eq!(partial_success.rejected_spans, 1);
    assert!(partial_success.error_message.contains("span id"), "{}", partial_success.error_message);
    assert_eq!(overview(&app, &ada, &acme.org, "").await["calls"], 1);

    // NUL, which protobuf strings may hold and PostgreSQL text may not, is dropped from the
    // columns (kept, escaped, in the JSON): the span is stored on either database, and a
    // request sent at the same moment is not failed with it.
    let nul = Span {
        name: "tools/call se\0arch".into(),
        attributes: vec![
            text("mcp.method.name", "tools/call"),
            text("gen_ai.tool.name", "se\0arch"),
        ],
        ..tool_span(nanos_ago(&app, 60), 3, "search", 10, None)
    };
    let neighbour = tool_span(nanos_ago(&app, 60), 4, "fetch", 10, None);
    let (with_nul, beside) = tokio::join!(
        post(&app, "/v1/traces", Some(&acme.key), PROTOBUF, traces_request(vec![nul])),
        post(&app, "/v1/traces", Some(&acme.key), PROTOBUF, traces_request(vec![neighbour])),
    );
    assert_eq!((status(&with_nul), status(&beside)), (StatusCode::OK, StatusCode::OK));
    let day = overview(&app, &ada, &acme.org, "").await;
    assert_eq!(day["calls"], 3);
    assert_eq!(
        day["tools"][0],
        json!({"name": "search", "calls": 2, "protocol_errors": 0,
        "tool_errors": 0, "error_rate": 0.0, "latency": day["tools"][0]["latency"]})
    );

    // Basic authentication with the key as the password works too.
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("otel:{}", acme.key));
    let response = app
        .client
        .post(app.url("/v1/traces"))
        .header("authorization", format!("Basic {basic}"))
        .header(CONTENT_TYPE, PROTOBUF)
        .body(traces_request(vec![tool_span(nanos_ago(&app, 60), 9, "search", 10, None)]))
        .send()
        .await
        .unwrap();
    assert_eq!(status(&response), StatusCode::OK);
    assert_eq!(overview(&app, &ada, &acme.org, "").await["calls"], 4);

    // Bad analytics windows.
    for query in [
        "?range=2h",
        "?from=2026-01-01T00:00:00Z",
        "?range=1h&from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z",
        "?from=yesterday&to=today",
    ] {
        let (status, body) = call(
            &app,
            &ada,
            Method::GET,
            &format!("/api/v1/orgs/{}/analytics/overview{query}", acme.org),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
    }
}

#[tokio::test]
async fn logs_metrics_and_traces_stay_within_their_organization() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;
    let eve = app.signup("eve@example.com").await;
    let acme = sender(&app, &ada, "Acme", "acme-docs").await;
    let evil = sender(&app, &eve, "Evil", "evil-tools").await;
    let now = nanos_ago(&app, 30);

    let logs = json!({"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"timeUnixNano": now.to_string(), "severityNumber": "SEVERITY_NUMBER_ERROR",
         "body": {"stringValue": "Search index unreachable"}, "traceId": "cc".repeat(16)},
        {"timeUnixNano": (now + 1).to_string(), "severityNumber": 9,
         "body": {"stringValue": "search served 3 results"}}
    ]}]}]});
    let response = post(
        &app,
        "/v1/logs",
        Some(&acme.key),
        "application/json",
        serde_json::to_vec(&logs).unwrap(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let metrics = json!({"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        {"name": "mcp.server.operation.duration", "unit": "ms", "histogram": {
            "aggregationTemporality": "AGGREGATION_TEMPORALITY_DELTA",
            "dataPoints": [{"timeUnixNano": now.to_string(), "count": "2", "sum": 30.0,
                "bucketCounts": ["2"], "explicitBounds": []}]}},
        {"name": "no data"}
    ]}]}]});
    let response = post(
        &app,
        "/v1/metrics",
        Some(&acme.key),
        "application/json",
        serde_json::to_vec(&metrics).unwrap(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["partialSuccess"]["rejectedDataPoints"], 1);
    let spans = traces_request(vec![Span {
        trace_id: vec![0xcc; 16],
        ..tool_span(now, 1, "search", 10, None)
    }]);
    assert_eq!(
        post(&app, "/v1/traces", Some(&acme.key), PROTOBUF, spans).await.status(),
        StatusCode::OK
    );

    let logs_path = |org: &str, query: &str| format!("/api/v1/orgs/{org}/logs{query}");
    let (status, found) =
        call(&app, &ada, Method::GET, &logs_path(&acme.org, "?q=SEARCH%20index"), None).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    assert_eq!(found["items"][0]["body"], "Search index unreachable");
    assert_eq!(found["items"][0]["severity_number"], 17);
    let (_, errors) =
        call(&app, &ada, Method::GET, &logs_path(&acme.org, "?severity=error"), None).await;
    assert_eq!(errors["items"].as_array().unwrap().len(), 1);
    let (_, all) = call(&app, &ada, Method::GET, &logs_path(&acme.org, ""), None).await;
    assert_eq!(all["items"][0]["body"], "search served 3 results", "newest first");
    let (_, by_trace) = call(
        &app,
        &ada,
        Method::GET,
        &logs_path(&acme.org, &format!("?trace_id={}", "cc".repeat(16))),
        None,
    )
    .await;
    assert_eq!(by_trace["items"].as_array().unwrap().len(), 1);
    let (status, _) =
        call(&app, &ada, Method::GET, &logs_path(&acme.org, "?severity=loud"), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Eve sees none of it: her organization is empty, Acme's is not hers, nor is its server
    // or its trace.
    let (_, hers) = call(&app, &eve, Method::GET, &logs_path(&evil.org, ""), None).await;
    assert_eq!(hers["items"], json!([]));
    assert_eq!(overview(&app, &eve, &evil.org, "").await["calls"], 0);
    let (status, _) = call(&app, &eve, Method::GET, &logs_path(&acme.org, ""), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(
        &app,
        &eve,
        Method::GET,
        &format!("/api/v1/orgs/{}/analytics/overview?server_id={}", evil.org, acme.server),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(
        &app,
        &eve,
        Method::GET,
        &format!("/api/v1/orgs/{}/traces/{}", evil.org, "cc".repeat(16)),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(
        &app,
        &ada,
        Method::GET,
        &format!("/api/v1/orgs/{}/traces/{}", acme.org, "cc".repeat(16)),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Her key cannot write into Acme either: the key decides the server.
    let spans = traces_request(vec![tool_span(now, 5, "stolen", 10, None)]);
    assert_eq!(
        post(&app, "/v1/traces", Some(&evil.key), PROTOBUF, spans).await.status(),
        StatusCode::OK
    );
    let acme_day = overview(&app, &ada, &acme.org, "").await;
    assert_eq!(acme_day["calls"], 1);
    assert_eq!(overview(&app, &eve, &evil.org, "").await["tools"][0]["name"], "stolen");

    // The metric through the API: its stream, then its point (in seconds); none of it for Eve.
    let (status, streams) =
        call(&app, &ada, Method::GET, &format!("/api/v1/orgs/{}/metrics", acme.org), None).await;
    assert_eq!(status, StatusCode::OK, "{streams}");
    assert_eq!(streams["items"].as_array().unwrap().len(), 1, "{streams}");
    let stream = &streams["items"][0];
    assert_eq!(
        (&stream["name"], &stream["unit"], &stream["kind"], &stream["points"]),
        (&json!("mcp.server.operation.duration"), &json!("s"), &json!("histogram"), &json!(1))
    );
    let points_path = |org: &str, query: &str| format!("/api/v1/orgs/{org}/metrics/points{query}");
    let (status, points) = call(
        &app,
        &ada,
        Method::GET,
        &points_path(&acme.org, "?name=mcp.server.operation.duration&range=1h"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{points}");
    let point = &points["items"][0];
    assert_eq!((&point["count"], &point["sum"]), (&json!(2), &json!(0.03)), "{points}");
    assert_eq!(point["server_id"], acme.server.as_str());
    assert_eq!(
        point["details"]["temporality"], "delta",
        "delta (AGGREGATION_TEMPORALITY_DELTA): {points}"
    );
    let (status, _) =
        call(&app, &ada, Method::GET, &points_path(&acme.org, "?range=1h"), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a name is needed");
    let (_, theirs) =
        call(&app, &eve, Method::GET, &format!("/api/v1/orgs/{}/metrics", evil.org), None).await;
    assert_eq!(theirs["items"], json!([]));
    let (status, _) = call(
        &app,
        &eve,
        Method::GET,
        &points_path(&acme.org, "?name=mcp.server.operation.duration"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // And in the dashboard: listed on the overview, charted and listed on its page.
    let (status, html) = page(&app, &ada, &format!("/orgs/{}/analytics", acme.org)).await;
    assert_eq!(status, StatusCode::OK);
    let link =
        format!("/orgs/{}/analytics/metrics?name=mcp.server.operation.duration&#38;", acme.org);
    assert!(html.contains(&link), "{html}");
    let metric_page =
        format!("/orgs/{}/analytics/metrics?name=mcp.server.operation.duration", acme.org);
    let (status, html) = page(&app, &ada, &metric_page).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("count 2, sum 0.03") && html.contains(r#"id="metric-data""#), "{html}");
    assert!(html.contains("Mean per point (s) and count"), "{html}");
    let (status, _) = page(&app, &eve, &metric_page).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The metric was stored in seconds.
    let db = sqlx::AnyPool::connect(app.db.url.expose()).await.unwrap();
    let (unit, sum): (String, f64) =
        sqlx::query_as("SELECT unit, sum FROM telemetry_metric_points WHERE organization_id = $1")
            .bind(&acme.org)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!((unit.as_str(), sum), ("s", 0.03));
    db.close().await;
}

#[tokio::test]
async fn an_ingest_batch_may_be_larger_than_other_requests() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;
    let acme = sender(&app, &ada, "Acme", "acme-docs").await;
    let start = nanos_ago(&app, 600);
    // Few spans, each with a long result attribute: over 1 MiB without thousands of rows.
    let result = "r".repeat(6 * 1024);
    let spans: Vec<Span> = (1..=200u32)
        .map(|n| {
            let mut span = tool_span(start + u64::from(n), 1, "search", 1, None);
            span.span_id = n.to_be_bytes().repeat(2);
            span.attributes.push(text("gen_ai.tool.call.result", &result));
            span
        })
        .collect();
    let body = traces_request(spans);
    assert!(body.len() > 1024 * 1024, "larger than http.max_body_bytes: {}", body.len());
    let response = post(&app, "/v1/traces", Some(&acme.key), PROTOBUF, body).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(overview(&app, &ada, &acme.org, "").await["calls"], 200);
}

/// A JSON POST with a chunked body of `size` spaces, over a plain connection (clients set a
/// length when they know it); the whole answer as text.
async fn raw_chunked_post(app: &TestApp, path: &str, key: &str, size: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.url("").trim_start_matches("http://").trim_end_matches('/').to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b' '; 8 * 1024];
    for _ in 0..size / chunk.len() {
        // The server may answer and close before everything is sent.
        if stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await.is_err()
            || stream.write_all(&chunk).await.is_err()
            || stream.write_all(b"\r\n").await.is_err()
        {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// The page at `path` for `user`: its status and HTML.
async fn page(app: &TestApp, user: &TestUser, path: &str) -> (StatusCode, String) {
    let response = user.client.get(app.url(path)).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test]
async fn the_dashboard_shows_calls_sessions_traces_and_logs_of_its_own_organization() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;
    let eve = app.signup("eve@example.com").await;
    let acme = sender(&app, &ada, "Acme", "acme-docs").await;
    let evil = sender(&app, &eve, "Evil", "evil-tools").await;
    let start = nanos_ago(&app, 120);

    // Two calls of `search` in one trace (the second a tool error, with a child span), and a
    // `fetch` refused with a JSON-RPC error in a trace and session of its own.
    let child = Span {
        span_id: vec![9; 8],
        parent_span_id: vec![2; 8],
        name: "SELECT documents".into(),
        kind: 3,
        start_time_unix_nano: start + 1_000_000_000,
        end_time_unix_nano: start + 1_020_000_000,
        attributes: vec![text("db.system", "postgresql")],
        ..tool_span(start, 9, "search", 1, None)
    };
    let mut fetch = tool_span(start + 2_000_000_000, 3, "fetch", 5, Some("-32603"));
    fetch.trace_id = vec![0xbb; 16];
    fetch.attributes.retain(|kv| kv.key != "mcp.session.id");
    fetch.attributes.push(text("mcp.session.id", "session-<2>"));
    let spans = traces_request(vec![
        tool_span(start, 1, "search", 10, None),
        tool_span(start + 1_000_000_000, 2, "search", 30, Some("tool_error")),
        child,
        fetch,
    ]);
    assert_eq!(
        post(&app, "/v1/traces", Some(&acme.key), PROTOBUF, spans).await.status(),
        StatusCode::OK
    );
    let logs = json!({"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"timeUnixNano": start.to_string(), "severityNumber": 17, "traceId": "aa".repeat(16),
         "body": {"stringValue": "index unreachable <script>alert(1)</script>"}}
    ]}]}]});
    let response = post(
        &app,
        "/v1/logs",
        Some(&acme.key),
        "application/json",
        serde_json::to_vec(&logs).unwrap(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);

    // The overview: totals, the error split, tools, sessions and the latest errors.
    let org = &acme.org;
    let (status, html) = page(&app, &ada, &format!("/orgs/{org}/analytics?range=1h")).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains(r#"id="stat-calls">3<"#), "{html}");
    assert!(html.contains(r#"id="stat-protocol-errors">1<"#));
    assert!(html.contains(r#"id="stat-tool-errors">1<"#));
    assert!(html.contains(r#"id="stat-p50">10 ms<"#), "nearest rank of 5, 10, 30 ms");
    assert!(html.contains(r#"id="stat-sessions">2<"#));
    assert!(html.contains(&format!("/orgs/{org}/analytics/sessions/session-1")));
    assert!(
        html.contains("session-&#60;2&#62;") && html.contains("session-%3C2%3E"),
        "escaped: {html}"
    );
    assert!(html.contains(&format!("/orgs/{org}/analytics/traces/{}", "bb".repeat(16))));
    assert!(html.contains(r#"<th scope="row">search</th><td class="num">2</td>"#), "{html}");
    // One server's view, and a custom window of days that holds the calls.
    let (_, html) =
        page(&app, &ada, &format!("/orgs/{org}/analytics?server_id={}", acme.server)).await;
    assert!(html.contains(r#"id="stat-calls">3<"#));
    let today = app.clock_now().date();
    let custom = format!(
        "/orgs/{org}/analytics?range=custom&from={}&to={today}",
        today.previous_day().unwrap()
    );
    let (_, html) = page(&app, &ada, &custom).await;
    assert!(html.contains(r#"id="stat-calls">3<"#), "{html}");
    let (status, html) =
        page(&app, &ada, &format!("/orgs/{org}/analytics?range=custom&from=2026-01-01&to=never"))
            .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("showing the last 24 hours"), "{html}");

    // A session's timeline, oldest first; a trace's tree with its attributes.
    let (status, html) =
        page(&app, &ada, &format!("/orgs/{org}/analytics/sessions/session-1")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(html.matches("<code>tools/call</code>").count(), 2, "{html}");
    assert!(html.contains(">tool error<"));
    let (status, html) =
        page(&app, &ada, &format!("/orgs/{org}/analytics/traces/{}", "aa".repeat(16))).await;
    assert_eq!(status, StatusCode::OK);
    let (parent, kid) =
        (html.find("tools/call search").unwrap(), html.find("SELECT documents").unwrap());
    assert!(parent < kid, "the child follows its parent");
    assert!(html.contains(r#"data-depth="1""#) && html.contains("postgresql"), "{html}");
    assert!(!html.contains("style="), "the policy forbids inline styles: {html}");
    // Logs: searched, escaped, linked to their trace.
    let (status, html) =
        page(&app, &ada, &format!("/orgs/{org}/analytics/logs?q=unreachable")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("index unreachable &#60;script&#62;"), "{html}");
    assert!(!html.contains("<script>alert"));
    assert!(html.contains(&format!("/orgs/{org}/analytics/traces/{}", "aa".repeat(16))));
    let (_, html) = page(&app, &ada, &format!("/orgs/{org}/analytics/logs?severity=fatal")).await;
    assert!(html.contains("No log record matches"));

    // The same operations through the API: errors only, one session.
    let calls = |query: &str| format!("/api/v1/orgs/{org}/analytics/calls{query}");
    let (status, failed) = call(&app, &ada, Method::GET, &calls("?errors=true"), None).await;
    assert_eq!(status, StatusCode::OK, "{failed}");
    let outcomes: Vec<&str> = failed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["protocol_error", "tool_error"], "newest first");
    assert_eq!(failed["items"][0]["error"], "-32603");
    let (_, session) = call(&app, &ada, Method::GET, &calls("?session_id=session-1"), None).await;
    assert_eq!(session["items"].as_array().unwrap().len(), 2);
    let (status, _) = call(&app, &ada, Method::GET, &calls("?limit=0"), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Eve sees none of it, under Acme's address or her own.
    for path in [
        format!("/orgs/{org}/analytics"),
        format!("/orgs/{org}/analytics/logs"),
        format!("/orgs/{}/analytics?server_id={}", evil.org, acme.server),
        format!("/orgs/{}/analytics/sessions/session-1", evil.org),
        format!("/orgs/{}/analytics/traces/{}", evil.org, "aa".repeat(16)),
    ] {
        let (status, html) = page(&app, &eve, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {html}");
    }
    let (_, html) = page(&app, &eve, &format!("/orgs/{}/analytics/logs", evil.org)).await;
    assert!(!html.contains("unreachable"));
    let (_, theirs) =
        call(&app, &eve, Method::GET, &format!("/api/v1/orgs/{}/analytics/calls", evil.org), None)
            .await;
    assert_eq!(theirs["items"], json!([]));
}

#[tokio::test]
async fn data_past_the_retention_an_admin_sets_is_deleted_by_the_job() {
    let app = spawn_app_with(|config| config.telemetry.retention_interval_secs = 1).await;
    let ada = app.signup("ada@example.com").await;
    let bob = app.signup("bob@example.com").await;
    let eve = app.signup("eve@example.com").await;
    let acme = sender(&app, &ada, "Acme", "acme-docs").await;
    let evil = sender(&app, &eve, "Evil", "evil-tools").await;
    app.add_member(&acme.org, "bob@example.com", mcplatform_core::org::Role::Member).await;
    let day = 86_400;
    for key in [&acme.key, &evil.key] {
        let spans = traces_request(vec![
            tool_span(nanos_ago(&app, 20 * day), 1, "search", 10, None),
            tool_span(nanos_ago(&app, 9 * day), 2, "search", 10, None),
            tool_span(nanos_ago(&app, 60), 3, "search", 10, None),
        ]);
        assert_eq!(
            post(&app, "/v1/traces", Some(key), PROTOBUF, spans).await.status(),
            StatusCode::OK
        );
    }
    let month = "?range=30d";
    assert_eq!(overview(&app, &ada, &acme.org, month).await["calls"], 3);

    // Bad values change nothing, the name included; a member may not change it.
    let path = format!("/api/v1/orgs/{}", acme.org);
    for body in [
        json!({"telemetry_retention_days": 0}),
        json!({"telemetry_retention_days": 3651}),
        json!({"name": "Acme 2", "telemetry_retention_days": -1}),
    ] {
        let (status, error) = call(&app, &ada, Method::PATCH, &path, Some(body.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {error}");
        assert_eq!(error["field"], "telemetry_retention_days", "{error}");
    }
    let (status, _) =
        call(&app, &ada, Method::PATCH, &path, Some(json!({"telemetry_retention_days": "7"})))
            .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) =
        call(&app, &bob, Method::PATCH, &path, Some(json!({"telemetry_retention_days": 7}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, org) = call(&app, &ada, Method::GET, &path, None).await;
    assert_eq!(
        (org["name"].as_str(), org["telemetry_retention_days"].as_u64()),
        (Some("Acme"), Some(30))
    );
    assert_eq!(overview(&app, &ada, &acme.org, month).await["calls"], 3, "30 days keeps all");

    // A week: the job deletes Acme's two older calls, and nothing of Evil's.
    let (status, org) =
        call(&app, &ada, Method::PATCH, &path, Some(json!({"telemetry_retention_days": 7}))).await;
    assert_eq!(status, StatusCode::OK, "{org}");
    assert_eq!(org["telemetry_retention_days"], 7);
    eventually("the retention job", async || {
        (overview(&app, &ada, &acme.org, month).await["calls"] == 1).then_some(())
    })
    .await;
    assert_eq!(overview(&app, &eve, &evil.org, month).await["calls"], 3);
    let (_, events) =
        call(&app, &ada, Method::GET, &format!("/api/v1/orgs/{}/audit-events", acme.org), None)
            .await;
    assert!(events.to_string().contains("organization.retention_changed"), "{events}");

    // The settings page shows it and changes it too.
    let (status, html) = page(&app, &ada, &format!("/orgs/{}/settings", acme.org)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(r#"name="days" type="number" min="1" max="3650" required value="7""#),
        "{html}"
    );
    let response = ada
        .client
        .post(app.url(&format!("/orgs/{}/settings/retention", acme.org)))
        .form(&[("csrf_token", ada.csrf_token.as_str()), ("days", "zero")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.text().await.unwrap().contains("between 1 and 3650"));
    let response = ada
        .client
        .post(app.url(&format!("/orgs/{}/settings/retention", acme.org)))
        .form(&[("csrf_token", ada.csrf_token.as_str()), ("days", "90")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (_, org) = call(&app, &ada, Method::GET, &path, None).await;
    assert_eq!(org["telemetry_retention_days"], 90);
}
