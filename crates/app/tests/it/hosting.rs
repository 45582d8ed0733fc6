//! Hosted MCP servers through their real endpoint, speaking JSON-RPC over Streamable HTTP as
//! a client would: routing by path and by Host, sessions bound to their user, tools, tickets,
//! the record of every request, and each refusal with the status the spec gives it.

use std::time::Duration;

use mcplatform_core::ids::{McpServerId, OrgId};
use mcplatform_store::PageRequest;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, call, eventually, spawn_app};

pub(crate) const LEGACY: &str = "2025-11-25";
pub(crate) const STATELESS: &str = "2026-07-28";

/// One MCP exchange: the status, the session id the server set, and the JSON-RPC message
/// answering the request (from a JSON body or the SSE stream).
pub(crate) struct Answer {
    pub status: StatusCode,
    pub session: Option<String>,
    pub message: Option<Value>,
    pub headers: reqwest::header::HeaderMap,
}

pub(crate) struct Mcp<'a> {
    app: &'a TestApp,
    path: String,
    host: Option<String>,
    pub session: Option<String>,
    pub version: Option<&'static str>,
}

impl<'a> Mcp<'a> {
    pub fn new(app: &'a TestApp, path: impl Into<String>) -> Self {
        Self { app, path: path.into(), host: None, session: None, version: None }
    }

    pub async fn post(&self, body: Value) -> Answer {
        self.post_with(body, &[]).await
    }

    pub async fn post_with(&self, body: Value, extra: &[(&str, &str)]) -> Answer {
        let mut request = self
            .app
            .client
            .post(self.app.url(&self.path))
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(host) = &self.host {
            request = request.header("host", host);
        }
        if let Some(session) = &self.session {
            request = request.header("mcp-session-id", session);
        }
        if let Some(version) = self.version {
            request = request.header("mcp-protocol-version", version);
        }
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("send MCP request");
        answer(response).await
    }

    /// `initialize` then `notifications/initialized`; the session id is kept.
    pub async fn initialize(&mut self) -> Value {
        let answer = self
            .post(json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": LEGACY,
                "capabilities": {},
                "clientInfo": {"name": "it-client", "version": "1.2.3"},
            }}))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.message);
        self.session = Some(answer.session.expect("a session id"));
        self.version = Some(LEGACY);
        let initialized =
            self.post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await;
        assert_eq!(initialized.status, StatusCode::ACCEPTED);
        answer.message.expect("an initialize result")
    }

    /// The id the platform keeps this client's session under (never the header itself).
    pub fn stored_session(&self) -> Option<String> {
        self.session.as_deref().map(mcplatform_core::hosting::public_session_id)
    }

    pub async fn request(&self, id: i64, method: &str, params: Value) -> Answer {
        self.post(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})).await
    }
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status();
    let headers = response.headers().clone();
    let session = headers.get("mcp-session-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let is_sse = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let text = response.text().await.unwrap_or_default();
    let message = if is_sse {
        text.lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
            .find(|message| message.get("id").is_some())
    } else {
        serde_json::from_str(&text).ok()
    };
    Answer { status, session, message, headers }
}

/// An organization with a server of the given auth mode; (org, server id, slug, admin).
pub(crate) async fn hosted(
    app: &TestApp,
    slug: &str,
    auth_mode: &str,
) -> (String, String, TestUser) {
    let admin = app.signup(&format!("admin@{slug}.test")).await;
    let org = app.create_org(&admin, "Acme").await;
    let server = app
        .create_server(
            &admin,
            &org,
            json!({
                "slug": slug, "name": "Acme Docs", "product_name": "Acme", "auth_mode": auth_mode,
            }),
        )
        .await;
    (org, server["id"].as_str().expect("server id").to_owned(), admin)
}

/// Waits for the flusher to write `count` records of the session.
async fn session_records(
    app: &TestApp,
    org: &str,
    session: &str,
    count: usize,
) -> Vec<mcplatform_core::hosting::McpRequestRecord> {
    let org: OrgId = org.parse().expect("org id");
    for _ in 0..100 {
        let page = app
            .store
            .list_session_requests(org, session, PageRequest::new(200, 0))
            .await
            .expect("list records");
        if page.items.len() >= count {
            return page.items;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the session's {count} records were not written");
}

#[tokio::test]
async fn a_client_connects_by_path_and_by_host_lists_tools_and_opens_a_support_ticket() {
    let app = spawn_app().await;
    let (org, server_id, admin) = hosted(&app, "acme", "none").await;

    // By Host: `acme.localhost` is the server's own name.
    let mut by_host = Mcp::new(&app, "/mcp");
    by_host.host = Some(format!("acme.localhost:{}", app.port()));
    let init = by_host.initialize().await;
    assert_eq!(init["result"]["serverInfo"]["title"], "Acme Docs");
    assert_eq!(init["result"]["protocolVersion"], LEGACY);
    assert!(init["result"]["capabilities"]["tools"].is_object());

    // By path, and the original product's endpoint form.
    for path in ["/s/acme/mcp", "/s/acme/api/mcpserver/mcp"] {
        let mut by_path = Mcp::new(&app, path);
        by_path.initialize().await;
        let tools = by_path.request(1, "tools/list", json!({})).await;
        let tools = &tools.message.expect("tools")["result"]["tools"];
        let support = &tools[0];
        assert_eq!(support["name"], "get_support");
        assert!(support["description"].as_str().unwrap().contains("Acme support team"));
        assert_eq!(support["inputSchema"]["required"], json!(["title", "problemDescription"]));
        assert!(support["inputSchema"]["properties"]["email"].is_object(), "nobody is known");
    }

    // Without an address the ticket is saved and waits for one; with it, a ticket is opened
    // and the waiting one goes to the team too.
    let asked = by_host
        .request(
            2,
            "tools/call",
            json!({"name": "get_support", "arguments": {
                "title": "Build fails", "problemDescription": "error E42 on build",
            }}),
        )
        .await
        .message
        .expect("a result");
    assert_ne!(asked["result"]["isError"], true, "{asked}");
    assert!(asked["result"]["content"][0]["text"].as_str().unwrap().contains("email address"));
    let opened = by_host
        .request(
            3,
            "tools/call",
            json!({"name": "get_support", "arguments": {
                "title": "Build fails", "problemDescription": "error E42 on build",
                "problemContext": "CI on Linux", "email": "Ada@Example.com",
            }}),
        )
        .await
        .message
        .expect("a result");
    assert_ne!(opened["result"]["isError"], true, "{opened}");
    assert!(opened["result"]["content"][0]["text"].as_str().unwrap().contains("ada@example.com"));

    let org_id: OrgId = org.parse().unwrap();
    let server: McpServerId = server_id.parse().unwrap();
    let tickets = app
        .store
        .list_support_tickets(
            org_id,
            &mcplatform_store::TicketFilter { server: Some(server), ..Default::default() },
            mcplatform_store::TicketSort::Newest,
            PageRequest::new(10, 0),
        )
        .await
        .unwrap();
    assert_eq!(tickets.items.len(), 2);
    let ticket = &tickets.items[0];
    let waited = &tickets.items[1];
    assert_eq!(waited.status, mcplatform_core::support::TicketStatus::New, "the address arrived");
    assert_eq!(waited.email.as_deref(), Some("ada@example.com"));
    assert_eq!(ticket.title, "Build fails");
    assert_eq!(ticket.email.as_deref(), Some("ada@example.com"));
    assert_eq!(ticket.problem_context.as_deref(), Some("CI on Linux"));
    assert_eq!(ticket.session_id, by_host.stored_session());
    // The ticket carries the session: its client and the earlier call.
    assert_eq!(ticket.session_context["client"]["name"], "it-client");
    let recent = ticket.session_context["recent_tool_calls"].as_array().unwrap();
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0]["outcome"], "ok");

    // Every request of the session is recorded once, in order, classified.
    let session = by_host.stored_session().unwrap();
    let records = session_records(&app, &org, &session, 3).await;
    let methods: Vec<&str> = records.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(methods, ["initialize", "tools/call", "tools/call"]);
    assert_eq!(records[1].outcome.as_str(), "ok");
    assert_eq!(records[2].outcome.as_str(), "ok");
    assert_eq!(records[2].tool_name.as_deref(), Some("get_support"));
    assert!(records[2].arguments.as_deref().unwrap().contains("E42"));
    let stored = app.store.find_mcp_session(&session).await.unwrap().expect("session row");
    assert_eq!(stored.client_name.as_deref(), Some("it-client"));
    assert_eq!(stored.client_version.as_deref(), Some("1.2.3"));
    assert_eq!(stored.protocol_version, LEGACY);
    // A `none` server identifies nobody by an address; the anonymous caller of a stateful
    // session becomes an anonymous end user of it, whose tickets these are.
    let anonymous = stored.end_user_id.expect("an anonymous end user");
    assert_eq!(stored.identity_source, mcplatform_core::hosting::IdentitySource::None);
    assert_eq!((ticket.end_user_id, waited.end_user_id), (Some(anonymous), Some(anonymous)));

    // The hosted server's calls are in the analytics, as ingested spans would be.
    app.clock.advance(Duration::from_secs(1));
    let (status, overview) = call(
        &app,
        &admin,
        Method::GET,
        &format!("/api/v1/orgs/{org}/analytics/overview?range=1h&server_id={server_id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{overview}");
    assert_eq!(overview["tools"][0]["name"], "get_support");
    assert_eq!(overview["tools"][0]["calls"], 2);
    assert_eq!(overview["tool_calls"]["calls"], 2);
    let clients = overview["clients"].as_array().unwrap();
    assert!(clients.iter().any(|c| c["name"] == "it-client"), "{overview}");
}

#[tokio::test]
async fn bad_requests_get_the_specs_status_and_error_and_are_not_recorded() {
    let app = spawn_app().await;
    let (org, server_id, admin) = hosted(&app, "acme", "none").await;
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "x", "version": "1"},
    }});

    // Unknown server.
    let unknown = Mcp::new(&app, "/s/nobody/mcp").post(init.clone()).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(
        unknown.message.unwrap()["error"]["message"].as_str().unwrap().contains("no MCP server")
    );

    // A foreign page's Origin (DNS rebinding), and a Host that is not ours.
    let mcp = Mcp::new(&app, "/s/acme/mcp");
    let evil = mcp.post_with(init.clone(), &[("origin", "http://evil.example")]).await;
    assert_eq!(evil.status, StatusCode::FORBIDDEN);
    let mut rebound = Mcp::new(&app, "/s/acme/mcp");
    rebound.host = Some("evil.example".into());
    assert_eq!(rebound.post(init.clone()).await.status, StatusCode::FORBIDDEN);
    let own = mcp
        .post_with(init.clone(), &[("origin", &format!("http://localhost:{}", app.port()))])
        .await;
    assert_eq!(own.status, StatusCode::OK);

    let mut client = Mcp::new(&app, "/s/acme/mcp");
    client.initialize().await;
    let session = client.session.clone().unwrap();

    // No session id, an unknown one, an unsupported protocol version.
    let mut sessionless = Mcp::new(&app, "/s/acme/mcp");
    sessionless.version = Some(LEGACY);
    let missing = sessionless.request(1, "tools/list", json!({})).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    sessionless.session = Some("no-such-session".into());
    assert_eq!(sessionless.request(1, "tools/list", json!({})).await.status, StatusCode::NOT_FOUND);
    let mut old = Mcp::new(&app, "/s/acme/mcp");
    old.session = Some(session.clone());
    old.version = Some("1999-01-01");
    assert_eq!(old.request(1, "tools/list", json!({})).await.status, StatusCode::BAD_REQUEST);

    // Malformed JSON-RPC.
    let unparsable = |content_type: &'static str| {
        app.client
            .post(app.url("/s/acme/mcp"))
            .header("accept", "application/json, text/event-stream")
            .header("content-type", content_type)
            .header("mcp-session-id", &session)
            .header("mcp-protocol-version", LEGACY)
            .body("{not json")
            .send()
    };
    let garbage = unparsable("application/json").await.unwrap();
    assert_eq!(garbage.status(), StatusCode::BAD_REQUEST);
    let parse_error: Value = garbage.json().await.unwrap();
    assert_eq!(parse_error["error"]["code"], -32700);

    // A body of another media type is refused as such (415), not taken for broken JSON.
    let patch = unparsable("application/json-patch+json").await.unwrap();
    assert_eq!(patch.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // A path segment that is not UTF-8 is nothing we serve: a JSON-RPC 404, not a plain 400.
    let odd = Mcp::new(&app, "/s/acme/api/mcpserver/%FF/mcp").post(init.clone()).await;
    assert_eq!(odd.status, StatusCode::NOT_FOUND);
    assert_eq!(odd.message.unwrap()["error"]["code"], -32001);

    // An unknown tool and invalid arguments: -32602, naming what is wrong.
    let unknown_tool =
        client.request(2, "tools/call", json!({"name": "nope", "arguments": {}})).await;
    let error = &unknown_tool.message.unwrap()["error"];
    assert_eq!(error["code"], -32602);
    assert!(error["message"].as_str().unwrap().contains("unknown tool: nope"));
    let invalid = client
        .request(3, "tools/call", json!({"name": "get_support", "arguments": {"title": 5}}))
        .await;
    let error = &invalid.message.unwrap()["error"];
    assert_eq!(error["code"], -32602);
    assert!(error["message"].as_str().unwrap().contains("invalid arguments"), "{error}");
    let too_long = client
        .request(
            4,
            "tools/call",
            json!({"name": "get_support", "arguments": {
                "title": "x".repeat(201), "problemDescription": "d", "email": "a@b.test",
            }}),
        )
        .await;
    let error = &too_long.message.unwrap()["error"];
    assert_eq!(error["code"], -32602);
    assert!(error["message"].as_str().unwrap().contains("title: must be at most 200"), "{error}");

    // Oversized bodies are refused before anything is parsed.
    let huge = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {
        "name": "get_support", "arguments": {"title": "t", "problemDescription": "x".repeat(3 * 1024 * 1024)},
    }});
    assert_eq!(client.post(huge).await.status, StatusCode::PAYLOAD_TOO_LARGE);

    // The refused requests left no record; the protocol errors one each.
    let records = session_records(&app, &org, &client.stored_session().unwrap(), 4).await;
    let outcomes: Vec<(&str, Option<i64>)> =
        records.iter().map(|r| (r.outcome.as_str(), r.error_code)).collect();
    assert_eq!(
        outcomes,
        [
            ("ok", None),
            ("protocol_error", Some(-32602)),
            ("protocol_error", Some(-32602)),
            ("protocol_error", Some(-32602))
        ]
    );

    // A disabled server answers 404 on the next request, and again when enabled.
    let path = format!("/api/v1/orgs/{org}/servers/{server_id}");
    let (status, _) =
        call(&app, &admin, Method::PATCH, &path, Some(json!({"enabled": false}))).await;
    assert_eq!(status, StatusCode::OK);
    let disabled = client.request(5, "tools/list", json!({})).await;
    assert_eq!(disabled.status, StatusCode::NOT_FOUND);
    let (status, _) =
        call(&app, &admin, Method::PATCH, &path, Some(json!({"enabled": true}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(client.request(6, "tools/list", json!({})).await.status, StatusCode::OK);

    // Shutdown writes what is left: the four above once each, the refused request not at all,
    // and the last tools/list.
    let org_id: OrgId = org.parse().unwrap();
    let stored_session = client.stored_session().unwrap();
    let db = app.stop_keeping_database().await;
    let stored = db
        .store()
        .await
        .list_session_requests(org_id, &stored_session, PageRequest::new(200, 0))
        .await
        .unwrap();
    let methods: Vec<&str> = stored.items.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(methods, ["initialize", "tools/call", "tools/call", "tools/call", "tools/list"]);
}

#[tokio::test]
async fn tracking_links_identify_their_user_and_a_session_serves_only_its_own_user() {
    let app = spawn_app().await;
    let (org, server_id, admin) = hosted(&app, "acme", "tracking_id").await;
    let links = format!("/api/v1/orgs/{org}/servers/{server_id}/tracking-links");
    let (status, ada) = call(
        &app,
        &admin,
        Method::POST,
        &links,
        Some(json!({"label": "Ada", "email": "ada@initech.test"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{ada}");
    let (_, bob) = call(&app, &admin, Method::POST, &links, Some(json!({"label": "Bob"}))).await;
    let ada_id = ada["tracking_id"].as_str().unwrap();
    assert!(
        ada["url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("http://acme.localhost:{}/api/mcpserver/trk_", app.port()))
    );
    let (status, bad) =
        call(&app, &admin, Method::POST, &links, Some(json!({"email": "nope"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad["field"], "email");

    let mut as_ada = Mcp::new(&app, format!("/s/acme/api/mcpserver/{ada_id}/mcp"));
    as_ada.initialize().await;
    let session = as_ada.session.clone().unwrap();
    let stored =
        app.store.find_mcp_session(&as_ada.stored_session().unwrap()).await.unwrap().unwrap();
    assert_eq!(stored.end_user_id.map(|id| id.to_string()).as_deref(), ada["end_user_id"].as_str());
    assert_eq!(stored.identity_source.as_str(), "tracking");

    // Ada's address is known: the tool no longer asks for one, and the ticket uses it.
    let tools = as_ada.request(1, "tools/list", json!({})).await.message.unwrap();
    let support = &tools["result"]["tools"][0];
    assert_eq!(support["name"], "get_support", "{tools}");
    let properties = support["inputSchema"]["properties"].as_object().expect("properties");
    assert!(properties.contains_key("title") && !properties.contains_key("email"));
    let opened = as_ada
        .request(
            2,
            "tools/call",
            json!({"name": "get_support", "arguments": {
                "title": "Help", "problemDescription": "It broke",
            }}),
        )
        .await
        .message
        .unwrap();
    assert!(opened["result"]["content"][0]["text"].as_str().unwrap().contains("ada@initech.test"));

    // Bob presenting Ada's session id, or anyone without the link: not found.
    let mut as_bob = Mcp::new(
        &app,
        format!("/s/acme/api/mcpserver/{}/mcp", bob["tracking_id"].as_str().unwrap()),
    );
    as_bob.session = Some(session.clone());
    as_bob.version = Some(LEGACY);
    assert_eq!(as_bob.request(3, "tools/list", json!({})).await.status, StatusCode::NOT_FOUND);
    let mut anonymous = Mcp::new(&app, "/s/acme/mcp");
    anonymous.session = Some(session.clone());
    anonymous.version = Some(LEGACY);
    assert_eq!(anonymous.request(3, "tools/list", json!({})).await.status, StatusCode::NOT_FOUND);

    // Another organization's server does not know the link.
    let other_admin = app.signup("other@globex.test").await;
    let other_org = app.create_org(&other_admin, "Globex").await;
    app.create_server(
        &other_admin,
        &other_org,
        json!({"slug": "globex", "name": "Globex", "auth_mode": "tracking_id"}),
    )
    .await;
    let elsewhere = Mcp::new(&app, format!("/s/globex/api/mcpserver/{ada_id}/mcp"));
    let refused = elsewhere.post(json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "x", "version": "1"},
    }})).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    let globex_server = app
        .store
        .find_mcp_server_by_slug(&mcplatform_core::mcp_server::Slug::parse("globex").unwrap())
        .await
        .unwrap()
        .unwrap();
    let globex_links =
        format!("/api/v1/orgs/{other_org}/servers/{}/tracking-links", globex_server.id);
    let (status, theirs) = call(&app, &other_admin, Method::GET, &globex_links, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(theirs["items"], json!([]), "Acme's links are not Globex's");
    let (status, _) = call(&app, &other_admin, Method::GET, &links, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nor can Globex read Acme's");

    // A session nobody is bound to is not for someone who is: Ada cannot use an anonymous one.
    let mut nobody = Mcp::new(&app, "/s/acme/mcp");
    nobody.initialize().await;
    let mut ada_borrowing = Mcp::new(&app, format!("/s/acme/api/mcpserver/{ada_id}/mcp"));
    ada_borrowing.session = nobody.session.clone();
    ada_borrowing.version = Some(LEGACY);
    assert_eq!(
        ada_borrowing.request(5, "tools/list", json!({})).await.status,
        StatusCode::NOT_FOUND
    );
    // Naming the stateless revision does not get Bob past the check either (rmcp would still
    // route an `initialize` into the session named).
    let mut bob_modern = Mcp::new(
        &app,
        format!("/s/acme/api/mcpserver/{}/mcp", bob["tracking_id"].as_str().unwrap()),
    );
    bob_modern.session = Some(session.clone());
    bob_modern.version = Some(STATELESS);
    let hijack = bob_modern
        .post(json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "x", "version": "1"},
        }}))
        .await;
    assert_eq!(hijack.status, StatusCode::NOT_FOUND);

    // A revoked link stops at once.
    let (status, _) = call(&app, &admin, Method::DELETE, &format!("{links}/{ada_id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(as_ada.request(4, "tools/list", json!({})).await.status, StatusCode::NOT_FOUND);
    let (_, listed) = call(&app, &admin, Method::GET, &links, None).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);
}

/// A 2026-07-28 client of `path`, and the per-request `_meta` it sends (`modern-client` 9).
fn stateless<'a>(app: &'a TestApp, path: &str) -> (Mcp<'a>, Value) {
    let mut mcp = Mcp::new(app, path);
    mcp.version = Some(STATELESS);
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": STATELESS,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "modern-client", "version": "9"},
    });
    (mcp, meta)
}

#[tokio::test]
async fn stateless_requests_of_2026_07_28_are_served_and_grouped_into_a_derived_session() {
    let app = spawn_app().await;
    let (org, _server_id, _admin) = hosted(&app, "acme", "none").await;
    let (mcp, meta) = stateless(&app, "/s/acme/mcp");
    let discover = mcp
        .post_with(json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": meta}}),
            &[("mcp-method", "server/discover")])
        .await;
    assert_eq!(discover.status, StatusCode::OK, "{:?}", discover.message);
    let result = &discover.message.unwrap()["result"];
    assert!(
        result["supportedVersions"].as_array().unwrap().contains(&json!(STATELESS)),
        "{result}"
    );
    assert!(discover.session.is_none(), "no session id in the stateless revision");

    let listed = mcp
        .post_with(
            json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {"_meta": meta}}),
            &[("mcp-method", "tools/list")],
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.message.unwrap()["result"]["tools"][0]["name"], "get_support");

    // A header that says another method than the body: -32020 (HeaderMismatch), 400.
    let mismatch = mcp
        .post_with(
            json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": {"_meta": meta}}),
            &[("mcp-method", "tools/call")],
        )
        .await;
    assert_eq!(mismatch.status, StatusCode::BAD_REQUEST);
    assert_eq!(mismatch.message.unwrap()["error"]["code"], -32020);

    // Both answered requests are one derived session of this client.
    let org_id: OrgId = org.parse().unwrap();
    let server = app
        .store
        .find_mcp_server_by_slug(&mcplatform_core::mcp_server::Slug::parse("acme").unwrap())
        .await
        .unwrap()
        .unwrap();
    let sessions = app
        .store
        .list_mcp_sessions(org_id, server.id, None, PageRequest::new(10, 0))
        .await
        .unwrap();
    assert_eq!(sessions.items.len(), 1);
    let derived = &sessions.items[0];
    assert_eq!(derived.kind.as_str(), "derived");
    assert_eq!(derived.client_name.as_deref(), Some("modern-client"));
    let records = session_records(&app, &org, &derived.id, 2).await;
    let methods: Vec<&str> = records.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(methods, ["server/discover", "tools/list"]);
}

#[tokio::test]
async fn oauth_servers_ask_for_a_token_with_their_protected_resource_metadata() {
    let app = spawn_app().await;
    hosted(&app, "acme", "platform_oauth").await;
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "x", "version": "1"},
    }});
    let mcp = Mcp::new(&app, "/s/acme/mcp");
    let missing = mcp.post(init.clone()).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    let challenge = missing.headers.get("www-authenticate").unwrap().to_str().unwrap().to_owned();
    let metadata =
        format!("http://localhost:{}/.well-known/oauth-protected-resource/s/acme/mcp", app.port());
    assert_eq!(challenge, format!("Bearer resource_metadata=\"{metadata}\""));
    // The metadata it names is there, and names this server's authorization server.
    let document: Value =
        app.get_json("/.well-known/oauth-protected-resource/s/acme/mcp", StatusCode::OK).await;
    assert_eq!(
        document["authorization_servers"][0],
        format!("http://localhost:{}/s/acme", app.port())
    );

    let original_form = Mcp::new(&app, "/s/acme/api/mcpserver/mcp").post(init.clone()).await;
    assert_eq!(original_form.status, StatusCode::UNAUTHORIZED);
    let challenge = original_form.headers.get("www-authenticate").unwrap().to_str().unwrap();
    assert!(
        challenge.ends_with("/.well-known/oauth-protected-resource/s/acme/api/mcpserver/mcp\""),
        "{challenge}"
    );

    let forged = mcp.post_with(init, &[("authorization", "Bearer not-a-token")]).await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    let challenge = forged.headers.get("www-authenticate").unwrap().to_str().unwrap();
    assert!(challenge.starts_with("Bearer error=\"invalid_token\""), "{challenge}");
    assert!(challenge.contains(&metadata));
}

#[tokio::test]
async fn what_a_client_says_of_itself_is_kept_without_control_characters_or_excess() {
    let app = spawn_app().await;
    let (org, _, _) = hosted(&app, "acme", "none").await;
    let mut mcp = Mcp::new(&app, "/s/acme/mcp");
    let answer = mcp
        .post(json!({"jsonrpc": "2.0", "id": "a\u{0}b", "method": "initialize", "params": {
            "protocolVersion": LEGACY,
            "capabilities": {},
            "clientInfo": {"name": format!("cur\u{0}sor{}", "x".repeat(500)), "version": "1\n2"},
        }}))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.message);
    mcp.session = answer.session;
    mcp.version = Some(LEGACY);
    let session = mcp.stored_session().unwrap();
    let stored = app.store.find_mcp_session(&session).await.unwrap().unwrap();
    let name = stored.client_name.unwrap();
    assert!(name.starts_with("cursorxxx") && name.chars().count() == 200, "{name}");
    assert_eq!(stored.client_version.as_deref(), Some("12"));

    let odd = mcp.request(1, "tools/call", json!({"name": "no\u{0}pe", "arguments": {}})).await;
    assert_eq!(odd.message.unwrap()["error"]["code"], -32602);
    let records = session_records(&app, &org, &session, 2).await;
    assert_eq!(records[0].jsonrpc_id.as_deref(), Some("ab"));
    assert_eq!(records[1].tool_name.as_deref(), Some("nope"));
}

#[tokio::test]
async fn a_stateless_caller_who_gives_an_address_is_a_known_end_user_of_the_server() {
    let app = spawn_app().await;
    let (org, server_id, admin) = hosted(&app, "acme", "collect_email").await;
    let (mcp, meta) = stateless(&app, "/s/acme/mcp");
    let arguments = json!({"title": "Login fails", "problemDescription": "401 every time",
        "email": "cleo@example.com"});
    let opened = mcp
        .post_with(
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "get_support", "arguments": arguments, "_meta": meta}}),
            &[("mcp-method", "tools/call"), ("mcp-name", "get_support")],
        )
        .await;
    assert_eq!(opened.status, StatusCode::OK);
    assert_eq!(opened.message.unwrap()["result"]["isError"], false);

    // Listed on the server as someone who gave an address, with the call counted.
    let path = format!("/api/v1/orgs/{org}/servers/{server_id}/end-users");
    let users = eventually("the call recorded", async || {
        let (_, users) = call(&app, &admin, Method::GET, &path, None).await;
        let found = users["items"].as_array().unwrap().iter().any(|u| u["tool_calls"] == 1);
        found.then_some(users)
    })
    .await;
    let cleo = &users["items"][0];
    assert_eq!(users["items"].as_array().unwrap().len(), 1, "{users}");
    assert_eq!(
        (&cleo["email"], &cleo["identified_by"]),
        (&json!("cleo@example.com"), &json!(["email"]))
    );
    assert!(cleo["last_seen_at"].is_string(), "{cleo}");
    assert_eq!(cleo["tickets"], 1);
}

#[tokio::test]
async fn the_api_and_dashboard_show_who_used_a_server_and_what_they_did_to_their_organization_only()
{
    let app = spawn_app().await;
    let (org, server_id, admin) = hosted(&app, "acme", "collect_email").await;
    let ticket = |title: &str, email: Option<&str>| {
        let mut arguments = json!({"title": title, "problemDescription": "it fails"});
        if let Some(email) = email {
            arguments["email"] = json!(email);
        }
        json!({"name": "get_support", "arguments": arguments})
    };

    // Ada comes through the tracking URL an admin made in the dashboard; Bob gives an address.
    let users_page = format!("/orgs/{org}/servers/{server_id}/users");
    let made = admin
        .request(&app, Method::POST, &format!("/orgs/{org}/servers/{server_id}/tracking-links"))
        .form(&[
            ("csrf_token", admin.csrf_token.as_str()),
            ("label", "Ada at Initech"),
            ("email", "ada@initech.test"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), StatusCode::CREATED);
    let html = made.text().await.unwrap();
    let marker = "/s/acme/api/mcpserver/";
    let start = html.find(marker).expect("the new path URL is shown");
    let tracking_id = &html[start + marker.len()..][..36];
    assert!(tracking_id.starts_with("trk_"), "{tracking_id}");
    let refused = admin
        .request(&app, Method::POST, &format!("/orgs/{org}/servers/{server_id}/tracking-links"))
        .form(&[
            ("csrf_token", admin.csrf_token.as_str()),
            ("label", "X"),
            ("email", "not-an-address"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text().await.unwrap().contains("aria-invalid=\"true\""));

    let mut ada = Mcp::new(&app, format!("/s/acme/api/mcpserver/{tracking_id}/mcp"));
    ada.initialize().await;
    let answered = ada.request(1, "tools/call", ticket("Ada build", None)).await.message.unwrap();
    assert_eq!(answered["result"]["isError"], false, "Ada is known, no address asked: {answered}");
    let mut bob = Mcp::new(&app, "/s/acme/mcp");
    bob.initialize().await;
    let opened = bob.request(1, "tools/call", ticket("Bob login", Some("bob@example.com"))).await;
    assert_eq!(opened.message.unwrap()["result"]["isError"], false);
    let refused = bob
        .request(2, "tools/call", json!({"name": "get_support", "arguments": {"title": 1}}))
        .await;
    assert_eq!(refused.message.unwrap()["error"]["code"], -32602);
    session_records(&app, &org, &ada.stored_session().unwrap(), 2).await;
    session_records(&app, &org, &bob.stored_session().unwrap(), 3).await;

    // The API: who they are and how they became known, their sessions, a timeline, tickets.
    let (status, users) =
        call(&app, &admin, Method::GET, &format!("/api/v1/orgs/{org}/end-users"), None).await;
    assert_eq!(status, StatusCode::OK, "{users}");
    let by_email = |email: &str| {
        users["items"].as_array().unwrap().iter().find(|u| u["email"] == email).cloned().unwrap()
    };
    let (ada_user, bob_user) = (by_email("ada@initech.test"), by_email("bob@example.com"));
    assert_eq!(ada_user["identified_by"], json!(["tracking"]));
    assert_eq!(bob_user["identified_by"], json!(["email"]));
    assert_eq!((&ada_user["tool_calls"], &ada_user["tickets"]), (&json!(1), &json!(1)));
    assert_eq!((&bob_user["tool_calls"], &bob_user["tickets"]), (&json!(2), &json!(1)));
    assert_eq!(bob_user["email_verified"], false);
    let server_users = format!("/api/v1/orgs/{org}/servers/{server_id}/end-users");
    let (_, on_server) = call(&app, &admin, Method::GET, &server_users, None).await;
    assert_eq!(on_server["items"].as_array().unwrap().len(), 2);

    let sessions = format!("/api/v1/orgs/{org}/servers/{server_id}/sessions");
    let (_, all) = call(&app, &admin, Method::GET, &sessions, None).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    // The header values are the sessions' credentials: shown nowhere, only their hashes.
    let headers = [ada.session.clone().unwrap(), bob.session.clone().unwrap()];
    assert!(headers.iter().all(|h| !all.to_string().contains(h.as_str())), "{all}");
    let ada_id = ada_user["id"].as_str().unwrap();
    let (_, adas) =
        call(&app, &admin, Method::GET, &format!("{sessions}?end_user_id={ada_id}"), None).await;
    assert_eq!(adas["items"][0]["id"], json!(ada.stored_session()));
    assert_eq!(adas["items"][0]["identity_source"], "tracking");
    assert_eq!(adas["items"][0]["client_name"], "it-client");
    let (status, _) =
        call(&app, &admin, Method::GET, &format!("{sessions}?end_user_id=nope"), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let bob_session = bob.stored_session().unwrap();
    let (status, timeline) =
        call(&app, &admin, Method::GET, &format!("{sessions}/{bob_session}/requests"), None).await;
    assert_eq!(status, StatusCode::OK);
    let timeline = timeline["items"].as_array().unwrap();
    let methods: Vec<&str> = timeline.iter().map(|r| r["method"].as_str().unwrap()).collect();
    assert_eq!(methods, ["initialize", "tools/call", "tools/call"]);
    assert_eq!(timeline[1]["arguments"]["email"], "bob@example.com", "arguments are JSON");
    assert_eq!(timeline[2]["outcome"], "protocol_error");
    assert_eq!(timeline[2]["error_code"], -32602);
    let (status, one) =
        call(&app, &admin, Method::GET, &format!("{sessions}/{bob_session}"), None).await;
    assert_eq!((status, &one["identity_source"]), (StatusCode::OK, &json!("email")));

    let (_, tickets) =
        call(&app, &admin, Method::GET, &format!("/api/v1/orgs/{org}/support-tickets"), None).await;
    let titles: Vec<&str> =
        tickets["items"].as_array().unwrap().iter().map(|t| t["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Bob login", "Ada build"], "newest first");
    assert_eq!(tickets["items"][1]["end_user_id"], ada_user["id"]);

    // The dashboard says the same.
    let page = |path: String| {
        let (client, app) = (&admin.client, &app);
        async move { crate::dashboard::page(client, app, &path).await }
    };
    let (status, html) = page(format!("/orgs/{org}/users")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("ada@initech.test") && html.contains("tracking URL"), "{html}");
    assert!(html.contains("bob@example.com") && html.contains("gave an address"));
    let (_, html) = page(users_page.clone()).await;
    assert!(html.contains("Ada at Initech") && html.contains(&format!("{tracking_id}/mcp")));
    assert!(headers.iter().all(|h| !html.contains(h.as_str())));
    assert!(html.contains(&format!("/sessions/{bob_session}")), "a link to the timeline");
    let (status, html) =
        page(format!("/orgs/{org}/servers/{server_id}/sessions/{bob_session}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("bob@example.com") && html.contains("get_support"));
    assert!(html.contains("protocol error") && html.contains("-32602"));
    let (_, html) = page(format!("/orgs/{org}/tickets")).await;
    assert!(html.contains("Bob login"), "{html}");

    // Another organization sees none of it, by API or by page.
    let other = app.signup("admin@globex.test").await;
    let other_org = app.create_org(&other, "Globex").await;
    for path in [
        format!("/api/v1/orgs/{org}/end-users"),
        format!("/api/v1/orgs/{org}/support-tickets"),
        format!("/api/v1/orgs/{org}/servers/{server_id}/sessions/{bob_session}/requests"),
    ] {
        let (status, _) = call(&app, &other, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (_, theirs) =
        call(&app, &other, Method::GET, &format!("/api/v1/orgs/{other_org}/end-users"), None).await;
    assert_eq!(theirs["items"], json!([]));
    let (_, theirs) =
        call(&app, &other, Method::GET, &format!("/api/v1/orgs/{other_org}/support-tickets"), None)
            .await;
    assert_eq!(theirs["items"], json!([]));
    let globex =
        app.create_server(&other, &other_org, json!({"slug": "globex", "name": "Globex"})).await;
    let foreign_session = format!(
        "/api/v1/orgs/{other_org}/servers/{}/sessions/{bob_session}/requests",
        globex["id"].as_str().unwrap()
    );
    let (status, _) = call(&app, &other, Method::GET, &foreign_session, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a session id from elsewhere means nothing");
    let response = other.request(&app, Method::GET, &users_page).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // Members read it all but tracking URLs, which are credentials.
    let member = app.signup("member@acme.test").await;
    app.add_member(&org, "member@acme.test", mcplatform_core::org::Role::Member).await;
    let response = member.request(&app, Method::GET, &users_page).send().await.unwrap();
    assert_eq!(response.headers()["cache-control"], "no-store");
    let html = response.text().await.unwrap();
    assert!(html.contains("bob@example.com") && !html.contains(tracking_id));
    let forbidden = member
        .request(&app, Method::POST, &format!("/orgs/{org}/servers/{server_id}/tracking-links"))
        .form(&[("csrf_token", member.csrf_token.as_str()), ("label", "Mallory")])
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN, "members do not make credentials");
    let links = format!("/api/v1/orgs/{org}/servers/{server_id}/tracking-links");
    let (status, _) = call(&app, &member, Method::GET, &links, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "nor list them through the API");
    let (status, _) = call(&app, &member, Method::POST, &links, Some(json!({"label": "M"}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_product_server_offers_only_its_tools_and_the_conformance_fixture_is_off_by_default() {
    let app = spawn_app().await;
    // Without `testing.conformance_fixture`, the slug `conformance` is a server like any other.
    let (_org, _server, _admin) = hosted(&app, "conformance", "none").await;
    let mut mcp = Mcp::new(&app, "/s/conformance/mcp");
    let init = mcp.initialize().await;
    let capabilities = &init["result"]["capabilities"];
    assert!(capabilities["tools"].is_object());
    for absent in ["resources", "prompts", "completions", "logging"] {
        assert!(capabilities.get(absent).is_none(), "{absent} is not offered: {capabilities}");
    }
    let tools = mcp.request(1, "tools/list", json!({})).await.message.expect("tools");
    let names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| tool["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["get_support", "list_my_tickets", "get_ticket", "reply_to_ticket"]);
    // What the server does not declare is an unknown method, not an empty list.
    for (id, method) in [(2, "resources/list"), (3, "prompts/list"), (4, "completion/complete")] {
        let answer = mcp.request(id, method, json!({})).await;
        assert_eq!(answer.message.expect("an error")["error"]["code"], -32601, "{method}");
    }
    // A method it offers with parameters that do not parse is invalid params.
    let bad = mcp.request(6, "tools/call", json!({"name": 5})).await.message.expect("an error");
    assert_eq!(bad["error"]["code"], -32602, "{bad}");
    let called = mcp
        .request(5, "tools/call", json!({"name": "test_simple_text", "arguments": {}}))
        .await
        .message
        .expect("an error");
    assert_eq!(called["error"]["code"], -32602, "no fixture tool: {called}");
}
