//! Export destinations over HTTP: what is accepted reaches every destination that wants it
//! exactly once, in its encoding and with its headers; a failing destination keeps the data
//! and tries again; a refusal drops it; settings are checked, kept to the organization and to
//! admins, and never show header values.

use std::io::Read;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode as AxumStatus};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, TestUser, call, eventually, form_post, spawn_app, spawn_app_reaching_loopback,
};
use crate::telemetry::{PROTOBUF, nanos_ago, post, sender, tool_span, traces_request};

/// What a receiver got: the path, the headers and the body with its gzip undone.
#[derive(Debug, Clone)]
struct Got {
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// An OTLP/HTTP receiver on a loopback port, answering with the status in `answer` (with
/// `Retry-After: 1` when it is not 2xx).
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Got>>>,
    answer: Arc<AtomicU16>,
}

impl Receiver {
    async fn start() -> Self {
        let got: Arc<Mutex<Vec<Got>>> = Arc::default();
        let answer = Arc::new(AtomicU16::new(200));
        let (sink, status) = (got.clone(), answer.clone());
        let app = axum::Router::new().fallback(axum::routing::post(
            move |uri: axum::http::Uri, headers: HeaderMap, body: axum::body::Bytes| {
                let (sink, status) = (sink.clone(), status.clone());
                async move {
                    let code = AxumStatus::from_u16(status.load(Ordering::SeqCst)).unwrap();
                    if code.is_success() {
                        let mut body_read = Vec::new();
                        flate2::read::GzDecoder::new(&body[..])
                            .read_to_end(&mut body_read)
                            .unwrap();
                        let path = uri.path().to_owned();
                        sink.lock().unwrap().push(Got { path, headers, body: body_read });
                    }
                    (code, [("retry-after", "1")], "the receiver says so")
                }
            },
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/otlp", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, got, answer }
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    /// The span names received, over every traces request.
    fn span_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for got in self.got().iter().filter(|g| g.path == "/otlp/v1/traces") {
            let request = ExportTraceServiceRequest::decode(&got.body[..]).unwrap();
            for spans in request.resource_spans.iter().flat_map(|r| &r.scope_spans) {
                names.extend(spans.spans.iter().map(|s| s.name.clone()));
            }
        }
        names.sort();
        names
    }
}

fn destinations(org: &str) -> String {
    format!("/api/v1/orgs/{org}/telemetry/destinations")
}

async fn create(app: &TestApp, user: &TestUser, org: &str, body: Value) -> Value {
    let (status, created) = call(app, user, Method::POST, &destinations(org), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

async fn status_of(app: &TestApp, user: &TestUser, org: &str, id: &str) -> Value {
    let path = format!("{}/{id}", destinations(org));
    let (status, body) = call(app, user, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["status"].clone()
}

/// Waits until the destination has nothing waiting and `delivered` requests delivered.
async fn delivered(app: &TestApp, user: &TestUser, org: &str, id: &str, delivered: i64) -> Value {
    eventually("delivery", async || {
        let status = status_of(app, user, org, id).await;
        (status["backlog_requests"] == 0 && status["delivered_requests"] == delivered)
            .then_some(status)
    })
    .await
}

#[tokio::test]
async fn accepted_telemetry_reaches_each_destination_that_wants_it_exactly_once() {
    let app = spawn_app_reaching_loopback().await;
    let ada = app.signup("ada@example.com").await;
    let acme = sender(&app, &ada, "Acme", "acme-docs").await;
    let (all_traces, json_logs) = (Receiver::start().await, Receiver::start().await);
    let traces_dest = create(
        &app,
        &ada,
        &acme.org,
        json!({"name": "Collector", "kind": "otlp", "endpoint": all_traces.url,
            "headers": {"X-Api-Key": "s3cret-value"}, "server_id": acme.server,
            "signals": ["traces"]}),
    )
    .await;
    assert_eq!(traces_dest["urls"]["traces"], format!("{}/v1/traces", all_traces.url));
    assert_eq!(traces_dest["header_names"], json!(["x-api-key"]));
    assert!(!traces_dest.to_string().contains("s3cret"), "{traces_dest}");
    let logs_dest = create(
        &app,
        &ada,
        &acme.org,
        json!({"name": "Logs as JSON", "kind": "otlp", "endpoint": json_logs.url,
            "encoding": "json", "signals": ["logs"]}),
    )
    .await;

    // Three spans as protobuf, two as OTLP/JSON, and a log record.
    let start = nanos_ago(&app, 60);
    let spans = (1..=3).map(|n| tool_span(start, n, &format!("tool-{n}"), 5, None)).collect();
    let response = post(&app, "/v1/traces", Some(&acme.key), PROTOBUF, traces_request(spans)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let json_spans: Vec<Value> = (4..=5)
        .map(|n| {
            json!({"traceId": "cc".repeat(16), "spanId": format!("{n:016x}"),
                "name": format!("tools/call tool-{n}"), "kind": 2,
                "startTimeUnixNano": start.to_string(), "endTimeUnixNano": (start + 1).to_string()})
        })
        .collect();
    let body = json!({"resourceSpans": [{"scopeSpans": [{"spans": json_spans}]}]});
    let response =
        post(&app, "/v1/traces", Some(&acme.key), "application/json", body.to_string().into())
            .await;
    assert_eq!(response.status(), StatusCode::OK);
    let log = json!({"resourceLogs": [{"scopeLogs": [{"logRecords": [{
        "timeUnixNano": start.to_string(), "severityNumber": 9,
        "body": {"stringValue": "served"}, "traceId": "dd".repeat(16)}]}]}]});
    let response =
        post(&app, "/v1/logs", Some(&acme.key), "application/json", log.to_string().into()).await;
    assert_eq!(response.status(), StatusCode::OK);

    let traces_id = traces_dest["id"].as_str().unwrap();
    let status = delivered(&app, &ada, &acme.org, traces_id, 2).await;
    assert!(status["last_success_at"].is_string(), "{status}");
    assert_eq!(status["dropped_requests"], 0);
    assert_eq!(
        all_traces.span_names(),
        (1..=5).map(|n| format!("tools/call tool-{n}")).collect::<Vec<_>>()
    );
    for got in all_traces.got() {
        assert_eq!(got.headers["x-api-key"], "s3cret-value");
        assert_eq!(got.headers["content-type"], PROTOBUF);
        assert_eq!(got.headers["content-encoding"], "gzip");
    }

    let logs_id = logs_dest["id"].as_str().unwrap();
    delivered(&app, &ada, &acme.org, logs_id, 1).await;
    let got = json_logs.got();
    assert_eq!(got.len(), 1, "only the log request");
    assert_eq!(
        (got[0].path.as_str(), &got[0].headers["content-type"]),
        ("/otlp/v1/logs", &"application/json".parse::<axum::http::HeaderValue>().unwrap())
    );
    let sent: Value = serde_json::from_slice(&got[0].body).unwrap();
    let record = &sent["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
    assert_eq!(record["body"]["stringValue"], "served");
    assert_eq!(record["traceId"], "dd".repeat(16), "OTLP/JSON ids are hex: {sent}");

    // Nothing more arrives later: each span went once (both requests in one post or two).
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(all_traces.span_names().len(), 5);
    assert_eq!(json_logs.got().len(), 1);
}

#[tokio::test]
async fn the_hosted_servers_calls_are_exported_as_mcp_spans() {
    let app = spawn_app_reaching_loopback().await;
    let (org, server, admin) = crate::hosting::hosted(&app, "acme", "none").await;
    let receiver = Receiver::start().await;
    let created = create(
        &app,
        &admin,
        &org,
        json!({"name": "Collector", "kind": "otlp",
        "endpoint": receiver.url, "server_id": server}),
    )
    .await;

    let mut mcp = crate::hosting::Mcp::new(&app, "/s/acme/mcp");
    mcp.initialize().await;
    let listed = mcp.request(1, "tools/list", json!({})).await;
    assert_eq!(listed.status, StatusCode::OK);
    let called =
        mcp.request(2, "tools/call", json!({"name": "get_support", "arguments": {}})).await;
    assert_eq!(called.status, StatusCode::OK);

    delivered(&app, &admin, &org, created["id"].as_str().unwrap(), 1).await;
    let mut spans = Vec::new();
    for got in receiver.got() {
        let request = ExportTraceServiceRequest::decode(&got.body[..]).unwrap();
        let resource = request.resource_spans[0].resource.clone().unwrap();
        assert!(format!("{resource:?}").contains("mcplatform-hosted"), "{resource:?}");
        for scope in &request.resource_spans[0].scope_spans {
            spans.extend(scope.spans.iter().map(|s| (s.name.clone(), s.kind, s.status.is_some())));
        }
    }
    spans.sort();
    // The tool call failed as a tool (arguments missing): a span with an error status.
    assert_eq!(
        spans,
        vec![
            ("initialize".to_owned(), 2, false),
            ("tools/call get_support".to_owned(), 2, true),
            ("tools/list".to_owned(), 2, false),
        ],
    );
}

#[tokio::test]
async fn a_failing_destination_keeps_the_data_and_a_refusal_drops_it() {
    let app = spawn_app_reaching_loopback().await;
    let ada = app.signup("ada@example.com").await;
    let acme = sender(&app, &ada, "Acme", "acme-docs").await;
    let receiver = Receiver::start().await;
    let created = create(
        &app,
        &ada,
        &acme.org,
        json!({"name": "Flaky", "kind": "otlp", "endpoint": receiver.url}),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let start = nanos_ago(&app, 60);
    let send = async |n: u8| {
        let request = traces_request(vec![tool_span(start, n, &format!("t{n}"), 5, None)]);
        let response = post(&app, "/v1/traces", Some(&acme.key), PROTOBUF, request).await;
        assert_eq!(response.status(), StatusCode::OK);
    };

    // Down: the request waits, and the status says why.
    receiver.answer.store(503, Ordering::SeqCst);
    send(1).await;
    let failing = eventually("a failed attempt", async || {
        let status = status_of(&app, &ada, &acme.org, id).await;
        (status["consecutive_failures"].as_u64() >= Some(1)).then_some(status)
    })
    .await;
    assert!(failing["last_error"].as_str().unwrap().starts_with("HTTP 503"), "{failing}");
    assert!(failing["last_error"].as_str().unwrap().contains("the receiver says so"));
    assert_eq!(failing["backlog_requests"], 1);
    assert!(failing["retry_at"].is_string());

    // Back: it arrives once the receiver's Retry-After has passed, once.
    receiver.answer.store(200, Ordering::SeqCst);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(status_of(&app, &ada, &acme.org, id).await["backlog_requests"], 1, "not before");
    app.clock.advance(std::time::Duration::from_secs(1));
    let status = delivered(&app, &ada, &acme.org, id, 1).await;
    assert_eq!(status["consecutive_failures"], 0);
    assert_eq!(receiver.span_names(), vec!["tools/call t1"]);

    // Refused as bad: dropped, counted, not retried.
    receiver.answer.store(400, Ordering::SeqCst);
    send(2).await;
    let status = eventually("a refusal", async || {
        let status = status_of(&app, &ada, &acme.org, id).await;
        (status["dropped_requests"] == 1).then_some(status)
    })
    .await;
    assert_eq!(status["backlog_requests"], 0);
    assert!(status["last_error"].as_str().unwrap().starts_with("HTTP 400"), "{status}");
}

#[tokio::test]
async fn destinations_are_checked_kept_to_their_organization_and_tested_by_admins() {
    let app = spawn_app_reaching_loopback().await;
    let ada = app.signup("ada@example.com").await;
    let acme = sender(&app, &ada, "Acme", "acme-docs").await;
    let bob = app.signup("bob@example.com").await;
    let other = sender(&app, &bob, "Other", "other-docs").await;
    let receiver = Receiver::start().await;
    let list = destinations(&acme.org);

    for (body, field) in [
        (json!({"name": "x", "kind": "otlp"}), "endpoint"),
        (json!({"name": "x", "kind": "otlp", "endpoint": "ftp://example.com"}), "endpoint"),
        (json!({"name": "x", "kind": "otlp", "endpoint": "https://e.com/v1/traces"}), "endpoint"),
        (
            json!({"name": "x", "kind": "otlp", "endpoint": receiver.url, "site": "datadoghq.com"}),
            "site",
        ),
        (
            json!({"name": "x", "kind": "otlp", "endpoint": receiver.url, "headers": {"Host": "a"}}),
            "headers",
        ),
        (
            json!({"name": "x", "kind": "otlp", "endpoint": receiver.url, "headers": {"a": "b\nc"}}),
            "headers",
        ),
        (json!({"name": "x", "kind": "otlp", "endpoint": receiver.url, "signals": []}), "signals"),
        (json!({"name": " ", "kind": "otlp", "endpoint": receiver.url}), "name"),
        (
            json!({"name": "x", "kind": "otlp", "endpoint": receiver.url, "server_id": other.server}),
            "server_id",
        ),
        (json!({"name": "x", "kind": "datadog", "site": "example.com", "api_key": "k"}), "site"),
        (json!({"name": "x", "kind": "datadog", "site": "datadoghq.eu"}), "api_key"),
        (
            json!({"name": "x", "kind": "grafana_cloud", "endpoint": "https://g.grafana.net/otlp", "instance_id": "abc", "token": "t"}),
            "instance_id",
        ),
    ] {
        let (status, error) = call(&app, &ada, Method::POST, &list, Some(body.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {error}");
        assert_eq!(error["field"], field, "{body}: {error}");
    }
    let (status, _) = call(
        &app,
        &ada,
        Method::POST,
        &list,
        Some(json!({"name": "x", "kind": "otlp", "endpoint": receiver.url, "colour": "red"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, listed) = call(&app, &ada, Method::GET, &list, None).await;
    assert_eq!((status, listed["items"].as_array().unwrap().len()), (StatusCode::OK, 0));

    // The presets fill the endpoint and the headers.
    let datadog = create(&app, &ada, &acme.org, json!({"name": "Datadog", "kind": "datadog", "site": "datadoghq.eu", "api_key": "dd-secret"})).await;
    assert_eq!(datadog["urls"]["logs"], "https://otlp.datadoghq.eu/v1/logs");
    assert_eq!(datadog["header_names"], json!(["dd-api-key", "dd-protocol"]));
    let grafana = create(
        &app,
        &ada,
        &acme.org,
        json!({"name": "Grafana", "kind": "grafana_cloud",
        "endpoint": "https://otlp-gateway-prod-eu-west-2.grafana.net/otlp", "instance_id": "123456",
        "token": "glc_secret", "enabled": false}),
    )
    .await;
    assert_eq!(grafana["header_names"], json!(["authorization"]));
    assert!(!format!("{datadog}{grafana}").contains("secret"));

    let local = create(
        &app,
        &ada,
        &acme.org,
        json!({"name": "Local", "kind": "otlp",
        "endpoint": receiver.url, "headers": {"authorization": "Bearer tok"}}),
    )
    .await;
    let one = format!("{list}/{}", local["id"].as_str().unwrap());

    // Renaming keeps the sealed headers: the test messages still carry them.
    let (status, renamed) =
        call(&app, &ada, Method::PATCH, &one, Some(json!({"name": "Renamed"}))).await;
    assert_eq!((status, renamed["name"].as_str()), (StatusCode::OK, Some("Renamed")));
    let (status, tested) = call(&app, &ada, Method::POST, &format!("{one}/test"), None).await;
    assert_eq!(status, StatusCode::OK, "{tested}");
    let results = tested["items"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert!(results.iter().all(|r| r["delivered"] == true), "{tested}");
    let got = receiver.got();
    let paths: Vec<&str> = got.iter().map(|g| g.path.as_str()).collect();
    assert_eq!(paths, ["/otlp/v1/traces", "/otlp/v1/metrics", "/otlp/v1/logs"]);
    assert!(got.iter().all(|g| g.headers["authorization"] == "Bearer tok"));
    let logs = ExportLogsServiceRequest::decode(&got[2].body[..]).unwrap();
    assert_eq!(logs.resource_logs[0].scope_logs[0].log_records.len(), 1);
    assert!(
        status_of(&app, &ada, &acme.org, local["id"].as_str().unwrap()).await["last_success_at"]
            .is_string()
    );

    // A test that fails says why.
    receiver.answer.store(401, Ordering::SeqCst);
    let (_, tested) = call(&app, &ada, Method::POST, &format!("{one}/test"), None).await;
    assert_eq!(tested["items"][0]["delivered"], false);
    assert!(tested["items"][0]["error"].as_str().unwrap().starts_with("HTTP 401"), "{tested}");

    // Nobody listening: the connection error says so.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let nobody = create(
        &app,
        &ada,
        &acme.org,
        json!({"name": "Nobody", "kind": "otlp",
        "endpoint": format!("http://127.0.0.1:{closed}"), "signals": ["logs"]}),
    )
    .await;
    let path = format!("{list}/{}/test", nobody["id"].as_str().unwrap());
    let (_, tested) = call(&app, &ada, Method::POST, &path, None).await;
    let error = tested["items"][0]["error"].as_str().unwrap();
    assert!(error.to_lowercase().contains("connection refused"), "{error}");
    let (status, _) = call(&app, &ada, Method::DELETE, &path.replace("/test", ""), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Members read; only admins change or test.
    let carol = app.signup("carol@example.com").await;
    app.add_member(&acme.org, "carol@example.com", mcplatform_core::org::Role::Member).await;
    let (status, listed) = call(&app, &carol, Method::GET, &list, None).await;
    assert_eq!((status, listed["items"].as_array().unwrap().len()), (StatusCode::OK, 3));
    for (method, path, body) in [
        (
            Method::POST,
            list.clone(),
            Some(json!({"name": "x", "kind": "otlp", "endpoint": receiver.url})),
        ),
        (Method::PATCH, one.clone(), Some(json!({"enabled": false}))),
        (Method::POST, format!("{one}/test"), None),
        (Method::DELETE, one.clone(), None),
    ] {
        let (status, _) = call(&app, &carol, method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}");
    }

    // Another organization's member sees none of it.
    for (method, path) in [
        (Method::GET, list.clone()),
        (Method::GET, one.clone()),
        (Method::PATCH, one.clone()),
        (Method::POST, format!("{one}/test")),
        (Method::DELETE, one.clone()),
    ] {
        let body = (method == Method::PATCH).then(|| json!({"name": "mine"}));
        let (status, _) = call(&app, &bob, method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
    }
    let (status, _) = call(
        &app,
        &bob,
        Method::GET,
        &format!("{}/{}", destinations(&other.org), local["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Disabled: nothing is queued for it. Deleted: gone.
    let (status, _) = call(&app, &ada, Method::PATCH, &one, Some(json!({"enabled": false}))).await;
    assert_eq!(status, StatusCode::OK);
    let request = traces_request(vec![tool_span(nanos_ago(&app, 5), 1, "t", 5, None)]);
    assert_eq!(
        post(&app, "/v1/traces", Some(&acme.key), PROTOBUF, request).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        status_of(&app, &ada, &acme.org, local["id"].as_str().unwrap()).await["backlog_requests"],
        0
    );
    let (status, _) = call(&app, &ada, Method::DELETE, &one, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&app, &ada, Method::GET, &one, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn private_endpoints_are_refused_unless_allowed() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;
    let org = app.create_org(&ada, "Acme").await;
    for endpoint in ["http://collector.example.com", "https://127.0.0.1:4318", "https://localhost"]
    {
        let body = json!({"name": "x", "kind": "otlp", "endpoint": endpoint});
        let (status, error) = call(&app, &ada, Method::POST, &destinations(&org), Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{endpoint}: {error}");
        assert_eq!(error["field"], "endpoint");
    }
}

#[tokio::test]
async fn the_export_page_adds_tests_pauses_and_removes_destinations() {
    let app = spawn_app_reaching_loopback().await;
    let ada = app.signup("ada@example.com").await;
    let acme = sender(&app, &ada, "Acme", "acme-docs").await;
    let receiver = Receiver::start().await;
    let page = format!("/orgs/{}/telemetry/export", acme.org);

    // Refused, with what was typed kept (but no secret): a Datadog key missing.
    let (status, html) = form_post(
        &app,
        &ada,
        &page,
        &[("name", "DD"), ("kind", "datadog"), ("dd_site", "datadoghq.eu"), ("traces", "1")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("api_key: must not be empty"), "{html}");
    assert!(html.contains(r#"<option value="datadoghq.eu" selected>"#));
    let (status, html) = form_post(
        &app,
        &ada,
        &page,
        &[("name", "x"), ("kind", "otlp"), ("otlp_endpoint", &receiver.url)],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("signals: choose at least one signal"), "{html}");

    let (status, html) = form_post(
        &app,
        &ada,
        &page,
        &[
            ("name", "Local collector"),
            ("kind", "otlp"),
            ("server_id", &acme.server),
            ("traces", "1"),
            ("logs", "1"),
            ("otlp_endpoint", &receiver.url),
            ("otlp_headers", "x-api-key=page-secret"),
            ("otlp_encoding", "json"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Local collector added"), "{html}");
    assert!(html.contains("traces, logs (json)") && html.contains("acme-docs"), "{html}");
    assert!(html.contains("headers: x-api-key") && !html.contains("page-secret"));
    let (_, listed) = call(&app, &ada, Method::GET, &destinations(&acme.org), None).await;
    let id = listed["items"][0]["id"].as_str().unwrap().to_owned();

    // The test goes out now; the page says what each signal got.
    let (status, html) = form_post(&app, &ada, &format!("{page}/{id}/test"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Test of Local collector"), "{html}");
    assert_eq!(html.matches("delivered</li>").count(), 2, "{html}");
    assert_eq!(receiver.got().len(), 2);
    assert!(receiver.got().iter().all(|g| g.headers["x-api-key"] == "page-secret"));

    // Spans sent show up as delivered on the page.
    let request = traces_request(vec![tool_span(nanos_ago(&app, 5), 1, "search", 5, None)]);
    assert_eq!(
        post(&app, "/v1/traces", Some(&acme.key), PROTOBUF, request).await.status(),
        StatusCode::OK
    );
    delivered(&app, &ada, &acme.org, &id, 1).await;
    let html = ada.request(&app, Method::GET, &page).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(r#"<td class="num delivered">1</td>"#), "{html}");

    // A member sees the status but no forms, and cannot post them.
    let carol = app.signup("carol@example.com").await;
    app.add_member(&acme.org, "carol@example.com", mcplatform_core::org::Role::Member).await;
    let html = carol.request(&app, Method::GET, &page).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Local collector") && !html.contains("Add a destination"), "{html}");
    let (status, _) = form_post(&app, &carol, &format!("{page}/{id}/delete"), &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Another organization's member gets nothing.
    let bob = app.signup("bob@example.com").await;
    let other = app.create_org(&bob, "Other").await;
    let (status, _) =
        form_post(&app, &bob, &format!("/orgs/{other}/telemetry/export/{id}/delete"), &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, html) =
        form_post(&app, &ada, &format!("{page}/{id}/enabled"), &[("enabled", "0")]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("is paused") && html.contains(r#"<span class="badge">paused</span>"#));
    let (status, html) = form_post(&app, &ada, &format!("{page}/{id}/delete"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Local collector removed.") && html.contains("None yet"), "{html}");
}
