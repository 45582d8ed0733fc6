//! Support tickets end to end: opened from an MCP client, worked on through the API (assign,
//! public reply, internal note), followed up from the editor (`get_ticket` shows the reply and
//! not the note, `reply_to_ticket` brings it back), emails in the outbox, a signed webhook
//! delivered to a receiver, auto-resolve when the clock passes the deadline, and nobody else
//! sees any of it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::helpers::{TestApp, call, eventually, form_post, spawn_app_reaching_loopback};
use crate::hosting::{Mcp, hosted};

async fn tool(mcp: &Mcp<'_>, id: i64, name: &str, arguments: Value) -> Value {
    let answer = mcp.request(id, "tools/call", json!({"name": name, "arguments": arguments})).await;
    assert_eq!(answer.status, StatusCode::OK);
    answer.message.expect("an answer")
}

fn text_of(message: &Value) -> String {
    message["result"]["content"][0]["text"].as_str().unwrap_or_default().to_owned()
}

type Received = Arc<Mutex<Vec<(HeaderMap, String)>>>;

/// A webhook receiver on a loopback port; what it got. It answers 200 with a page larger than
/// anything the platform reads: a 2xx is delivery, whatever its body.
async fn receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push((headers, body));
                (StatusCode::OK, "<html>thanks</html>".repeat(4_000))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

async fn ticket_of(app: &TestApp, admin: &crate::helpers::TestUser, org: &str, id: &str) -> Value {
    let (status, body) =
        call(app, admin, Method::GET, &format!("/api/v1/orgs/{org}/support-tickets/{id}"), None)
            .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn a_ticket_goes_from_the_editor_to_resolution_and_stays_its_owners() {
    let app = spawn_app_reaching_loopback().await;
    let (org, server, admin) = hosted(&app, "acme", "none").await;
    let (hook, received) = receiver().await;
    let settings = format!("/api/v1/orgs/{org}/servers/{server}/support-settings");
    let (status, saved) = call(
        &app,
        &admin,
        Method::PUT,
        &settings,
        Some(json!({"categories": ["Bug", "Billing"], "auto_resolve_hours": 48,
            "webhook_url": hook, "watching": true})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    let secret = saved["webhook_secret"].as_str().expect("the secret, once").to_owned();
    let (_, again) = call(&app, &admin, Method::GET, &settings, None).await;
    assert_eq!(again["webhook_secret"], Value::Null, "shown once only");
    // Where ticket events go is a change the audit log keeps (never the secret).
    let (_, log) = call(
        &app,
        &admin,
        Method::GET,
        &format!("/api/v1/orgs/{org}/audit-events?area=server"),
        None,
    )
    .await;
    let entry = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "server.support_settings_updated")
        .unwrap_or_else(|| panic!("{log}"));
    assert_eq!(entry["detail"]["webhook_url"], hook.as_str());
    assert!(!log.to_string().contains(&secret));
    assert_eq!(again["watching"], true);

    // The end user asks for help from their editor.
    let mut mcp = Mcp::new(&app, "/s/acme/mcp");
    mcp.initialize().await;
    let bad = tool(
        &mcp,
        1,
        "get_support",
        json!({"title": "t", "problemDescription": "d", "category": "Sales"}),
    )
    .await;
    assert!(bad["error"]["message"].as_str().unwrap().contains("Bug, Billing"), "{bad}");
    let opened = tool(
        &mcp,
        2,
        "get_support",
        json!({"title": "Deploy fails", "problemDescription": "error E42", "category": "bug",
            "email": "dev@customer.test"}),
    )
    .await;
    let said = text_of(&opened);
    let id = said.split_whitespace().nth(2).unwrap().to_owned();
    assert!(said.contains("dev@customer.test"), "{said}");
    let detail = ticket_of(&app, &admin, &org, &id).await;
    assert_eq!(detail["ticket"]["status"], "new");
    assert_eq!(detail["ticket"]["category"], "Bug");
    assert_eq!(detail["next_statuses"], json!(["in_progress"]));

    // The team: an invalid step is refused and changes nothing; assign, reply, note.
    let base = format!("/api/v1/orgs/{org}/support-tickets/{id}");
    let (status, refused) =
        call(&app, &admin, Method::PATCH, &base, Some(json!({"status": "resolved"}))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("from new it can become in_progress"));
    let admin_id = app
        .store
        .find_user_by_email(&mcplatform_core::user::EmailAddress::parse("admin@acme.test").unwrap())
        .await
        .unwrap()
        .unwrap()
        .id;
    let (status, body) = call(
        &app,
        &admin,
        Method::PATCH,
        &base,
        Some(json!({"status": "in_progress", "assignee_id": admin_id.to_string(), "priority": "high"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ticket"]["assignee_id"], admin_id.to_string());
    // A change made on what someone saw before that is refused, not applied over it: by the
    // API with `version`, and by the page's form, which carries it.
    let seen = detail["ticket"]["version"].as_i64().unwrap();
    assert_eq!(body["ticket"]["version"], seen + 1);
    let (status, stale) =
        call(&app, &admin, Method::PATCH, &base, Some(json!({"priority": "low", "version": seen})))
            .await;
    assert_eq!(status, StatusCode::CONFLICT, "{stale}");
    let page = admin
        .request(&app, Method::POST, &format!("/orgs/{org}/tickets/{id}"))
        .form(&[
            ("csrf_token", admin.csrf_token.as_str()),
            ("version", &seen.to_string()),
            ("priority", "low"),
            ("title", "Deploy fails"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::CONFLICT);
    assert_eq!(ticket_of(&app, &admin, &org, &id).await["ticket"]["priority"], "high");
    let (status, reply) = call(
        &app,
        &admin,
        Method::POST,
        &format!("{base}/comments"),
        Some(json!({"body": "Try **v2.1** <script>alert(1)</script>", "status": "awaiting_customer"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let (status, _) = call(
        &app,
        &admin,
        Method::POST,
        &format!("{base}/comments"),
        Some(json!({"body": "Internal: customer is on the old plan", "internal": true})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, empty) =
        call(&app, &admin, Method::POST, &format!("{base}/comments"), Some(json!({"body": "  "})))
            .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{empty}");
    let detail = ticket_of(&app, &admin, &org, &id).await;
    assert_eq!(detail["ticket"]["status"], "awaiting_customer");
    assert!(detail["ticket"]["auto_resolve_at"].is_string());

    // The editor shows the reply and not the note.
    let shown = text_of(&tool(&mcp, 3, "get_ticket", json!({"ticketId": id})).await);
    assert!(shown.contains("Try **v2.1**"), "{shown}");
    assert!(!shown.contains("old plan"), "an internal note stays internal: {shown}");
    assert!(shown.contains("awaiting_customer"));
    let listed = text_of(&tool(&mcp, 4, "list_my_tickets", json!({})).await);
    assert!(listed.contains(&id), "{listed}");

    // The end user got the reply by email; the dashboard page renders the markdown inert.
    let outbox = eventually("the reply email", async || {
        let emails = app
            .store
            .list_outbox(org.parse().unwrap(), mcplatform_store::PageRequest::new(50, 0))
            .await
            .unwrap()
            .items;
        emails
            .iter()
            .any(|e| e.to.as_str() == "dev@customer.test" && e.body_text.contains("Try **v2.1**"))
            .then_some(emails)
    })
    .await;
    assert!(
        !outbox
            .iter()
            .any(|e| e.to.as_str() == "dev@customer.test" && e.body_text.contains("old plan"))
    );
    assert!(
        outbox
            .iter()
            .any(|e| e.to.as_str() == "admin@acme.test" && e.subject.contains("New ticket")),
        "the server's watcher hears of it"
    );
    let page = admin
        .request(&app, Method::GET, &format!("/orgs/{org}/tickets/{id}"))
        .send()
        .await
        .unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains("<strong>v2.1</strong>"));
    assert!(html.contains("&lt;script&gt;") && !html.contains("<script>alert(1)"), "inert");

    // Every event reached the webhook, signed per Standard Webhooks.
    let events = eventually("the webhook messages", async || {
        let got = received.lock().unwrap().clone();
        (got.len() >= 5).then_some(got)
    })
    .await;
    for (headers, body) in &events {
        let header = |name: &str| headers.get(name).unwrap().to_str().unwrap().to_owned();
        let expected = mcplatform_core::support::webhook::sign(
            &SecretString::from(secret.clone()),
            &header("webhook-id"),
            header("webhook-timestamp").parse().unwrap(),
            body.as_bytes(),
        )
        .unwrap();
        assert_eq!(header("webhook-signature"), expected);
    }
    // Each was delivered (a 200 with a large page is delivery): nothing waits or failed.
    let delivered = eventually("the deliveries recorded", async || {
        let (_, now) = call(&app, &admin, Method::GET, &settings, None).await;
        (now["webhook_pending"] == 0).then_some(now)
    })
    .await;
    assert_eq!(delivered["webhook_failed"], 0, "{delivered}");
    assert_eq!(delivered["webhook_last_error"], Value::Null, "{delivered}");
    let types: Vec<String> = events
        .iter()
        .map(|(_, body)| {
            serde_json::from_str::<Value>(body).unwrap()["type"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(types[0], "ticket.created");
    assert!(
        types.contains(&"ticket.comment_added".to_owned())
            && types.contains(&"ticket.note_added".to_owned())
    );

    // Nobody else: another end user of the server, another organization.
    let mut stranger = Mcp::new(&app, "/s/acme/mcp");
    stranger.initialize().await;
    let hidden = tool(&stranger, 1, "get_ticket", json!({"ticketId": id})).await;
    assert_eq!(hidden["result"]["isError"], true);
    assert!(!text_of(&hidden).contains("E42"));
    let sneaky =
        tool(&stranger, 2, "reply_to_ticket", json!({"ticketId": id, "message": "me too"})).await;
    assert_eq!(sneaky["result"]["isError"], true);
    let eve = app.signup("eve@globex.test").await;
    let globex = app.create_org(&eve, "Globex").await;
    let (status, _) =
        call(&app, &eve, Method::GET, &format!("/api/v1/orgs/{globex}/support-tickets/{id}"), None)
            .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(&app, &eve, Method::GET, &base, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(
        &app,
        &eve,
        Method::POST,
        &format!("/api/v1/orgs/{globex}/support-tickets/{id}/comments"),
        Some(json!({"body": "hi"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let foreign_page =
        eve.request(&app, Method::GET, &format!("/orgs/{org}/tickets/{id}")).send().await.unwrap();
    assert_eq!(foreign_page.status(), StatusCode::NOT_FOUND);

    // The customer answers from the editor: back to the team.
    let answered = text_of(
        &tool(&mcp, 5, "reply_to_ticket", json!({"ticketId": id, "message": "v2.1 works"})).await,
    );
    assert!(answered.contains("in_progress"), "{answered}");
    // Waiting again, then the clock passes the deadline: resolved by itself.
    let (status, _) =
        call(&app, &admin, Method::PATCH, &base, Some(json!({"status": "awaiting_customer"})))
            .await;
    assert_eq!(status, StatusCode::OK);
    app.clock.advance(Duration::from_secs(47 * 3600));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(ticket_of(&app, &admin, &org, &id).await["ticket"]["status"], "awaiting_customer");
    app.clock.advance(Duration::from_secs(3600));
    let resolved = eventually("the auto-resolve", async || {
        let detail = ticket_of(&app, &admin, &org, &id).await;
        (detail["ticket"]["status"] == "resolved").then_some(detail)
    })
    .await;
    assert_eq!(resolved["ticket"]["resolved_by"], Value::Null, "nobody: it resolved by itself");
    let last = resolved["activity"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["kind"].as_str(), last["actor_type"].as_str()),
        (Some("status_change"), Some("system"))
    );
    // Closed tickets stay closed.
    let (status, _) =
        call(&app, &admin, Method::PATCH, &base, Some(json!({"status": "closed"}))).await;
    assert_eq!(status, StatusCode::OK);
    let closed =
        tool(&mcp, 6, "reply_to_ticket", json!({"ticketId": id, "message": "again"})).await;
    assert!(closed["error"]["message"].as_str().unwrap_or_default().contains("closed"), "{closed}");
    let (status, _) =
        call(&app, &admin, Method::PATCH, &base, Some(json!({"status": "in_progress"}))).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Bad input: unknown ids, overlong fields.
    let unknown = uuid_like();
    let (status, _) = call(
        &app,
        &admin,
        Method::GET,
        &format!("/api/v1/orgs/{org}/support-tickets/{unknown}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) =
        call(&app, &admin, Method::GET, &format!("/api/v1/orgs/{org}/support-tickets/nope"), None)
            .await;
    assert!(status == StatusCode::NOT_FOUND || status == StatusCode::BAD_REQUEST);
    let (status, _) =
        call(&app, &admin, Method::PATCH, &base, Some(json!({"title": "x".repeat(201)}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let long =
        tool(&mcp, 7, "get_support", json!({"title": "x".repeat(201), "problemDescription": "d"}))
            .await;
    assert!(long["error"]["message"].as_str().unwrap().contains("title"));
    let (status, list) = call(
        &app,
        &admin,
        Method::GET,
        &format!("/api/v1/orgs/{org}/support-tickets?status=closed&q=E42"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let (status, _) = call(
        &app,
        &admin,
        Method::GET,
        &format!("/api/v1/orgs/{org}/support-tickets?status=open"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

fn uuid_like() -> String {
    "0190a5a0-0000-7000-8000-000000000000".to_owned()
}

#[tokio::test]
async fn typing_someone_elses_address_does_not_open_their_tickets() {
    let app = spawn_app_reaching_loopback().await;
    let (_org, _server, _admin) = hosted(&app, "acme", "collect_email").await;
    let opened_with = |title: &str| json!({"title": title, "problemDescription": "E42 on build", "email": "ada@example.com"});

    // Ada opens a ticket with her address, and sees it in the same session.
    let mut ada = Mcp::new(&app, "/s/acme/mcp");
    ada.initialize().await;
    let opened = tool(&ada, 1, "get_support", opened_with("Ada's build")).await;
    let id = text_of(&opened).split_whitespace().nth(2).unwrap().to_owned();
    let hers = tool(&ada, 2, "list_my_tickets", json!({})).await;
    assert!(text_of(&hers).contains("Ada's build"), "{hers}");
    let seen = tool(&ada, 3, "get_ticket", json!({"ticketId": id})).await;
    assert_ne!(seen["result"]["isError"], true, "{seen}");

    // Mallory types Ada's address in another session: she becomes "Ada" for her own new
    // ticket, but Ada's earlier ticket stays out of reach.
    let mut mallory = Mcp::new(&app, "/s/acme/mcp");
    mallory.initialize().await;
    let own = tool(&mallory, 1, "get_support", opened_with("Mallory's")).await;
    assert_ne!(own["result"]["isError"], true, "{own}");
    let listed = tool(&mallory, 2, "list_my_tickets", json!({})).await;
    assert!(text_of(&listed).contains("Mallory's"), "{listed}");
    assert!(!text_of(&listed).contains("Ada's build"), "{listed}");
    let read = tool(&mallory, 3, "get_ticket", json!({"ticketId": id})).await;
    assert_eq!(read["result"]["isError"], true, "{read}");
    assert!(!text_of(&read).contains("E42"));
    let replied =
        tool(&mallory, 4, "reply_to_ticket", json!({"ticketId": id, "message": "close it"})).await;
    assert_eq!(replied["result"]["isError"], true, "{replied}");
}

#[tokio::test]
async fn the_support_settings_page_saves_shows_the_secret_once_and_sends_a_test() {
    let app = spawn_app_reaching_loopback().await;
    let (org, server, admin) = hosted(&app, "acme", "none").await;
    let (hook, received) = receiver().await;
    let page = format!("/orgs/{org}/servers/{server}/support");

    // Refused: hours that are not a number, a webhook the platform may not call.
    let (status, html) =
        form_post(&app, &admin, &page, &[("categories", "Bug"), ("auto_resolve_hours", "soon")])
            .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("whole number of hours") && html.contains(">Bug</textarea>"), "{html}");
    let (status, _) = form_post(
        &app,
        &admin,
        &page,
        &[("categories", "Bug"), ("auto_resolve_hours", "1"), ("webhook_url", "ftp://example.com")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, html) = form_post(&app, &admin, &format!("{page}/webhook-test"), &[]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "no webhook yet");
    assert!(html.contains("set a webhook URL first"));

    // Saved: the secret shows once, in the page, and signs what the test message carries.
    let (status, html) = form_post(
        &app,
        &admin,
        &page,
        &[
            ("categories", "Bug\r\n\r\nBilling\r\n"),
            ("auto_resolve_hours", "24"),
            ("webhook_url", &hook),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let secret = html
        .split(r#"<pre id="webhook-secret">"#)
        .nth(1)
        .and_then(|s| s.split("</pre>").next())
        .unwrap()
        .to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let settings_api = format!("/api/v1/orgs/{org}/servers/{server}/support-settings");
    let (_, api) = call(&app, &admin, Method::GET, &settings_api, None).await;
    assert_eq!(api["categories"], json!(["Bug", "Billing"]));
    assert_eq!(
        (api["auto_resolve_hours"].as_u64(), api["watching"].as_bool()),
        (Some(24), Some(false))
    );
    let again = admin.client.get(app.url(&page)).send().await.unwrap().text().await.unwrap();
    assert!(!again.contains(&secret), "shown once only");
    let (status, html) = form_post(&app, &admin, &format!("{page}/webhook-test"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("A test message is on its way"));
    let (headers, body) =
        eventually("the test message", async || received.lock().unwrap().first().cloned()).await;
    assert!(body.contains("webhook.test"), "{body}");
    let secret = SecretString::from(secret);
    let id = headers["webhook-id"].to_str().unwrap();
    let timestamp: i64 = headers["webhook-timestamp"].to_str().unwrap().parse().unwrap();
    let expected =
        mcplatform_core::support::webhook::sign(&secret, id, timestamp, body.as_bytes()).unwrap();
    assert_eq!(
        headers["webhook-signature"].to_str().unwrap(),
        expected,
        "signed with the secret shown"
    );
    let status_page = eventually("the delivery's status", async || {
        let html = admin.client.get(app.url(&page)).send().await.unwrap().text().await.unwrap();
        (!html.contains("<dt>Last delivered</dt><dd>never")).then_some(html)
    })
    .await;
    assert!(status_page.contains("<dt>Given up</dt><dd>0</dd>"));

    // A member reads them and changes nothing.
    let bob = app.signup("bob@example.com").await;
    app.add_member(&org, "bob@example.com", mcplatform_core::org::Role::Member).await;
    let html = bob.client.get(app.url(&page)).send().await.unwrap().text().await.unwrap();
    assert!(
        html.contains("Only owners and admins change these")
            && !html.contains("Send a test message")
    );
    let (status, _) =
        form_post(&app, &bob, &page, &[("categories", "Mine"), ("auto_resolve_hours", "1")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = form_post(&app, &bob, &format!("{page}/webhook-test"), &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // But whether they hear of new tickets is theirs to choose.
    let (status, html) =
        form_post(&app, &bob, &format!("{page}/watching"), &[("watching", "1")]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("You get an email about every new ticket"), "{html}");
    let (_, theirs) = call(&app, &bob, Method::GET, &settings_api, None).await;
    assert_eq!(theirs["watching"], true);
    let (_, mine) = call(&app, &admin, Method::GET, &settings_api, None).await;
    assert_eq!(mine["watching"], false, "each member's own choice");

    // The organization's overview counts tickets by status.
    let mut mcp = Mcp::new(&app, "/s/acme/mcp");
    mcp.initialize().await;
    tool(
        &mcp,
        1,
        "get_support",
        json!({"title": "Deploy fails", "problemDescription": "E42", "email": "dev@customer.test"}),
    )
    .await;
    let overview = admin
        .client
        .get(app.url(&format!("/orgs/{org}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        overview.contains(&format!(
            r#"<a href="/orgs/{org}/tickets?status=new">New: <strong>1</strong></a>"#
        )),
        "{overview}"
    );
}
