//! Walkthroughs end to end over HTTP: authored through the API, imported and exported in the
//! original format, delivered to an MCP client through `start_walkthrough` and
//! `get_next_step`, and counted in the analytics — each kept to its organization.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::dashboard::{location, post_form};
use crate::helpers::{TestApp, TestUser, call, spawn_app};
use crate::hosting::{Mcp, hosted};

/// The support tools every server here offers.
const SUPPORT: [&str; 4] = ["get_support", "list_my_tickets", "get_ticket", "reply_to_ticket"];

fn step(title: &str, user: &str) -> Value {
    json!({"title": title, "content_fields": {
        "version": "v1",
        "introductionForAgent": format!("Objective of {title}."),
        "contentForUser": user,
        "operationsForAgent": format!("Do {title}."),
    }})
}

/// A walkthrough of `org` with the given steps; its id and the step ids in order.
async fn authored(
    app: &TestApp,
    user: &TestUser,
    org: &str,
    title: &str,
    steps: &[&str],
    publish: bool,
) -> (String, Vec<String>) {
    let base = format!("/api/v1/orgs/{org}/walkthroughs");
    let (status, created) = call(
        app,
        user,
        Method::POST,
        &base,
        Some(json!({
            "title": title, "description": "Learn it.", "type": "quickstart",
            "estimated_duration_minutes": 15, "tags": ["cli"],
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let mut ids = Vec::new();
    for title in steps {
        let (status, added) = call(
            app,
            user,
            Method::POST,
            &format!("{base}/{id}/steps"),
            Some(step(title, &format!("Hello from {title}."))),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{added}");
        ids.push(added["id"].as_str().unwrap().to_owned());
    }
    if publish {
        let (status, body) = call(
            app,
            user,
            Method::PATCH,
            &format!("{base}/{id}"),
            Some(json!({"status": "published"})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    (id, ids)
}

async fn count(app: &TestApp, admin: &TestUser, path: &str) -> usize {
    call(app, admin, Method::GET, path, None).await.1["items"].as_array().unwrap().len()
}

async fn tool(mcp: &Mcp<'_>, id: i64, name: &str, arguments: Value) -> Value {
    let answer = mcp.request(id, "tools/call", json!({"name": name, "arguments": arguments})).await;
    assert_eq!(answer.status, StatusCode::OK);
    answer.message.expect("an answer")
}

fn text_of(message: &Value) -> String {
    message["result"]["content"][0]["text"].as_str().unwrap_or_default().to_owned()
}

fn current_step(text: &str) -> String {
    text.lines()
        .find_map(|line| line.strip_prefix("- Current Step ID: "))
        .expect("a current step")
        .to_owned()
}

async fn tool_names(mcp: &Mcp<'_>) -> Vec<String> {
    let listed = mcp.request(90, "tools/list", json!({})).await.message.unwrap();
    listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_mcp_client_follows_a_walkthrough_to_the_end_and_the_analytics_count_it() {
    let app = spawn_app().await;
    let (org, server, admin) = hosted(&app, "acme", "none").await;
    let (quick, steps) =
        authored(&app, &admin, &org, "Acme quick start", &["Install", "Configure", "Deploy"], true)
            .await;
    // A draft assigned to the same server never reaches a client.
    let (draft, _) = authored(&app, &admin, &org, "Secret draft", &["Hidden"], false).await;

    let mut mcp = Mcp::new(&app, "/s/acme/mcp");
    mcp.initialize().await;
    assert_eq!(tool_names(&mcp).await, SUPPORT, "nothing assigned yet");
    let assignments = format!("/api/v1/orgs/{org}/servers/{server}/walkthroughs");
    for id in [&quick, &draft] {
        let (status, body) =
            call(&app, &admin, Method::POST, &assignments, Some(json!({"walkthrough_id": id})))
                .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    assert_eq!(
        tool_names(&mcp).await,
        [&SUPPORT[..], &["start_walkthrough", "get_next_step"]].concat()
    );

    // Without a name, the only published walkthrough starts at its first step.
    let first = text_of(&tool(&mcp, 1, "start_walkthrough", json!({})).await);
    assert!(
        first.starts_with("# Walkthrough: Acme quick start\n\n## Step 1 of 3: Install\n"),
        "{first}"
    );
    assert!(first.contains("VERBATIM"), "{first}");
    assert!(first.contains("<step_content>\nHello from Install.\n</step_content>"), "{first}");
    assert_eq!(current_step(&first), steps[0]);
    let unknown = tool(&mcp, 2, "start_walkthrough", json!({"name": "Secret draft"})).await;
    assert_eq!(unknown["result"]["isError"], true);
    assert!(text_of(&unknown).contains("There is no walkthrough named \"Secret draft\""));
    // The draft is named once, where the request is echoed, and not among the choices offered.
    assert_eq!(text_of(&unknown).matches("Secret draft").count(), 1, "{}", text_of(&unknown));

    // A step id that is not of this walkthrough changes nothing.
    let wrong = tool(&mcp, 3, "get_next_step", json!({"currentStepId": draft})).await;
    assert_eq!(wrong["result"]["isError"], true, "{wrong}");
    let second = text_of(&tool(&mcp, 4, "get_next_step", json!({"currentStepId": steps[0]})).await);
    assert!(second.contains("## Step 2 of 3: Configure"), "{second}");
    assert!(second.contains("- Progress: 33% (1 of 3 steps completed)"), "{second}");

    // The author moves "Deploy" before "Configure": the next step follows the new order.
    let order = json!({"step_ids": [steps[0], steps[2], steps[1]]});
    let (status, body) = call(
        &app,
        &admin,
        Method::PUT,
        &format!("/api/v1/orgs/{org}/walkthroughs/{quick}/step-order"),
        Some(order),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let again = text_of(&tool(&mcp, 5, "get_next_step", json!({})).await);
    assert!(again.contains("## Step 2 of 3: Deploy"), "{again}");
    let third = text_of(&tool(&mcp, 6, "get_next_step", json!({"currentStepId": steps[2]})).await);
    assert!(third.contains("## Step 3 of 3: Configure"), "{third}");
    let done = text_of(&tool(&mcp, 7, "get_next_step", json!({"currentStepId": steps[1]})).await);
    assert!(done.starts_with("# Walkthrough Complete!"), "{done}");
    assert!(done.contains("- Completed: true"), "{done}");

    // Starting it again says it is done; a restart begins anew.
    let resumed =
        text_of(&tool(&mcp, 8, "start_walkthrough", json!({"name": "Acme quick start"})).await);
    assert!(resumed.starts_with("# Walkthrough Complete!"), "{resumed}");
    let restarted = text_of(
        &tool(&mcp, 9, "start_walkthrough", json!({"name": "acme QUICK start", "restart": true}))
            .await,
    );
    assert!(restarted.contains("## Step 1 of 3: Install"), "{restarted}");
    assert!(restarted.contains("- Progress: 0%"), "{restarted}");

    // The analytics count two starts (one a restart), one completion, everyone at step 1.
    let (status, report) = call(
        &app,
        &admin,
        Method::GET,
        &format!("/api/v1/orgs/{org}/walkthroughs/{quick}/analytics?server_id={server}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!((report["starts"].as_u64(), report["restarts"].as_u64()), (Some(2), Some(1)));
    assert_eq!(report["completions"], 1);
    assert_eq!(report["completion_rate"], 0.5);
    assert_eq!(report["funnel"][0]["reached"], 1);
    assert_eq!(report["funnel"][2]["completed"], 1);
    let links = report["flow"]["links"].as_array().unwrap();
    let link = |s: &str, t: &str| links.iter().any(|l| l["source"] == s && l["target"] == t);
    assert!(link("Start", "1. Install") && link("1. Install", "2. Deploy"), "{links:?}");
    assert!(link("3. Configure", "Completed") && link("Restart", "In progress"), "{links:?}");
    // A range before any of it counts nothing; a backwards or malformed range is a 400.
    let analytics = format!("/api/v1/orgs/{org}/walkthroughs/{quick}/analytics");
    let (status, past) = call(
        &app,
        &admin,
        Method::GET,
        &format!("{analytics}?from=2000-01-01T00:00:00Z&to=2000-02-01T00:00:00Z"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{past}");
    assert_eq!((past["starts"].as_u64(), past["completion_rate"].clone()), (Some(0), Value::Null));
    assert_eq!(past["to"], "2000-02-01T00:00:00Z");
    for query in ["from=2000-02-01T00:00:00Z&to=2000-01-01T00:00:00Z", "from=yesterday"] {
        let (status, body) =
            call(&app, &admin, Method::GET, &format!("{analytics}?{query}"), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
    }
    let (_, progress) = call(
        &app,
        &admin,
        Method::GET,
        &format!("/api/v1/orgs/{org}/walkthroughs/{quick}/progress"),
        None,
    )
    .await;
    let people = progress["items"].as_array().unwrap();
    assert_eq!(people.len(), 1, "{progress}");
    assert_eq!(people[0]["last_session_id"].as_str(), mcp.stored_session().as_deref());
    assert_eq!(people[0]["completed_steps"], 0);

    // With two published, no name lists both with this user's progress.
    let (status, _) = call(
        &app,
        &admin,
        Method::PATCH,
        &format!("/api/v1/orgs/{org}/walkthroughs/{draft}"),
        Some(json!({"status": "published"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let listed = text_of(&tool(&mcp, 11, "start_walkthrough", json!({})).await);
    let json_part = listed.split("```json\n").nth(1).and_then(|r| r.split("\n```").next()).unwrap();
    let choices: Value = serde_json::from_str(json_part).unwrap();
    assert_eq!(choices["walkthroughs"][0]["title"], "Acme quick start");
    assert_eq!(choices["walkthroughs"][0]["isStarted"], true);
    assert_eq!(choices["walkthroughs"][1]["title"], "Secret draft");
    assert_eq!(choices["walkthroughs"][1]["isStarted"], false);

    // Walkthrough tools off: the tools are gone and calling one is an unknown tool.
    let (status, _) = call(
        &app,
        &admin,
        Method::PATCH,
        &format!("/api/v1/orgs/{org}/servers/{server}"),
        Some(json!({"walkthrough_tool_enabled": false})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tool_names(&mcp).await, SUPPORT);
    let off =
        mcp.request(10, "tools/call", json!({"name": "get_next_step", "arguments": {}})).await;
    assert_eq!(off.message.unwrap()["error"]["code"], -32602);
}

#[tokio::test]
async fn an_export_imports_back_exactly_and_bad_files_import_nothing() {
    let app = spawn_app().await;
    let admin = app.signup("admin@acme.test").await;
    let org = app.create_org(&admin, "Acme").await;
    let (id, _) =
        authored(&app, &admin, &org, "Acme quick start", &["Install", "Deploy"], true).await;
    let base = format!("/api/v1/orgs/{org}/walkthroughs");
    let exported =
        admin.request(&app, Method::GET, &format!("{base}/{id}/export")).send().await.unwrap();
    assert_eq!(exported.status(), StatusCode::OK);
    assert!(
        exported.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("acme-quick-start-walkthrough.json")
    );
    let file: Value = exported.json().await.unwrap();
    assert_eq!(file["version"], "1.0");
    assert_eq!(file["steps"][1]["contentFields"]["contentForUser"], "Hello from Deploy.");

    let (status, imported) =
        call(&app, &admin, Method::POST, &format!("{base}/import"), Some(file.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{imported}");
    let (_, original) = call(&app, &admin, Method::GET, &format!("{base}/{id}"), None).await;
    let strip = |mut w: Value| {
        for key in ["id", "created_at", "updated_at", "assignments"] {
            w.as_object_mut().unwrap().remove(key);
        }
        for step in w["steps"].as_array_mut().unwrap() {
            for key in ["id", "created_at", "updated_at"] {
                step.as_object_mut().unwrap().remove(key);
            }
        }
        w
    };
    assert_eq!(strip(imported), strip(original));

    let before = count(&app, &admin, &base).await;
    let bad = |edit: &dyn Fn(&mut Value)| {
        let mut file = file.clone();
        edit(&mut file);
        file
    };
    let cases = [
        (bad(&|f| f["version"] = json!("2.0")), "version"),
        (
            bad(&|f| {
                f["steps"][1]["contentFields"].as_object_mut().unwrap().remove("contentForUser");
            }),
            "steps[1].contentFields",
        ),
        (
            bad(&|f| {
                f["steps"][0]["contentFields"]["operationsForAgent"] = json!("x".repeat(50_001))
            }),
            "steps[0].contentFields.operationsForAgent",
        ),
        (bad(&|f| f["walkthrough"]["type"] = json!("novel")), "walkthrough.type"),
        (
            bad(&|f| {
                f.as_object_mut().unwrap().remove("steps");
            }),
            "",
        ),
    ];
    for (file, field) in cases {
        let (status, body) =
            call(&app, &admin, Method::POST, &format!("{base}/import"), Some(file)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["code"], "invalid_input");
        assert!(body["field"].as_str().unwrap().starts_with(field), "{field}: {body}");
    }
    let garbage = admin
        .request(&app, Method::POST, &format!("{base}/import"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let huge = admin
        .request(&app, Method::POST, &format!("{base}/import"))
        .header("content-type", "application/json")
        .body(vec![b' '; 3 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(count(&app, &admin, &base).await, before, "nothing half-imported");
}

#[tokio::test]
async fn authoring_rules_hold_and_another_organization_sees_nothing() {
    let app = spawn_app().await;
    let (org, server, admin) = hosted(&app, "acme", "none").await;
    let (id, steps) =
        authored(&app, &admin, &org, "Acme quick start", &["Install", "Deploy"], true).await;
    let base = format!("/api/v1/orgs/{org}/walkthroughs/{id}");

    // Reorders must name each step once; foreign ids are refused and nothing moves.
    let (_, other_steps) = authored(&app, &admin, &org, "Other", &["Elsewhere"], false).await;
    for order in [
        json!([steps[0]]),
        json!([steps[0], other_steps[0]]),
        json!([steps[0], steps[0]]),
        json!(["nope", steps[1]]),
    ] {
        let (status, body) = call(
            &app,
            &admin,
            Method::PUT,
            &format!("{base}/step-order"),
            Some(json!({"step_ids": order})),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["field"], "step_ids");
    }
    let (_, read) = call(&app, &admin, Method::GET, &base, None).await;
    let titles: Vec<_> =
        read["steps"].as_array().unwrap().iter().map(|s| s["title"].clone()).collect();
    assert_eq!(titles, [json!("Install"), json!("Deploy")]);

    // A step of another walkthrough cannot be edited or deleted through this one.
    let (status, _) =
        call(&app, &admin, Method::DELETE, &format!("{base}/steps/{}", other_steps[0]), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Publishing needs steps; the last step of a published walkthrough stays.
    let (empty, _) = authored(&app, &admin, &org, "Empty", &[], false).await;
    let (status, body) = call(
        &app,
        &admin,
        Method::PATCH,
        &format!("/api/v1/orgs/{org}/walkthroughs/{empty}"),
        Some(json!({"status": "published"})),
    )
    .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("status")),
        "{body}"
    );
    let (status, _) =
        call(&app, &admin, Method::DELETE, &format!("{base}/steps/{}", steps[0]), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) =
        call(&app, &admin, Method::DELETE, &format!("{base}/steps/{}", steps[1]), None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, body) =
        call(&app, &admin, Method::POST, &format!("{base}/steps"), Some(step("Bad", " "))).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("contentForUser")),
        "{body}"
    );

    // The preview is what the agent receives, also for text not saved yet.
    let (status, preview) = call(&app, &admin, Method::POST, &format!("{base}/preview"),
        Some(json!({"step_id": steps[1], "title": "Ship it", "content_fields": {"version": "v1", "contentForUser": "Unsaved."}}))).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    let text = preview["text"].as_str().unwrap();
    assert!(
        text.contains("## Step 1 of 1: Ship it")
            && text.contains("<step_content>\nUnsaved.\n</step_content>"),
        "{text}"
    );

    // A member authors but does not delete.
    let bob = app.signup("bob@acme.test").await;
    app.add_member(&org, "bob@acme.test", mcplatform_core::org::Role::Member).await;
    let (status, patched) = call(
        &app,
        &bob,
        Method::PATCH,
        &base,
        Some(json!({"title": "By Bob", "estimated_duration_minutes": null})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // An explicit null clears the duration; an absent field keeps it.
    assert_eq!(patched["estimated_duration_minutes"], Value::Null, "{patched}");
    assert_eq!(patched["tags"], json!(["cli"]));
    let (status, _) = call(&app, &bob, Method::DELETE, &base, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Another organization: every route is a 404, and its server cannot take the walkthrough.
    let eve = app.signup("eve@evil.test").await;
    let evil = app.create_org(&eve, "Evil").await;
    let evil_server = app
        .create_server(&eve, &evil, json!({"slug": "evil", "name": "Evil", "auth_mode": "none"}))
        .await;
    let evil_server = evil_server["id"].as_str().unwrap();
    let foreign = format!("/api/v1/orgs/{evil}/walkthroughs/{id}");
    for (method, path, body) in [
        (Method::GET, foreign.clone(), None),
        (Method::GET, format!("{foreign}/export"), None),
        (Method::GET, format!("{foreign}/analytics"), None),
        (Method::GET, format!("{foreign}/progress"), None),
        (Method::PATCH, foreign.clone(), Some(json!({"title": "Pwned"}))),
        (Method::DELETE, foreign.clone(), None),
        (Method::POST, format!("{foreign}/steps"), Some(step("x", "y"))),
        (
            Method::POST,
            format!("/api/v1/orgs/{evil}/servers/{evil_server}/walkthroughs"),
            Some(json!({"walkthrough_id": id})),
        ),
        (Method::GET, format!("/api/v1/orgs/{org}/walkthroughs/{id}"), None),
        (Method::GET, format!("/api/v1/orgs/{org}/servers/{server}/walkthroughs"), None),
    ] {
        let (status, body) = call(&app, &eve, method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
    }
    let (_, listed) =
        call(&app, &eve, Method::GET, &format!("/api/v1/orgs/{evil}/walkthroughs"), None).await;
    assert_eq!(listed["items"], json!([]));
    let mut mcp = Mcp::new(&app, "/s/evil/mcp");
    mcp.initialize().await;
    let listed = mcp.request(1, "tools/list", json!({})).await.message.unwrap();
    assert!(!listed.to_string().contains("walkthrough"), "{listed}");
    let (_, read) = call(&app, &admin, Method::GET, &base, None).await;
    assert_eq!(read["title"], "By Bob", "unchanged by the other organization");
}

/// A dashboard form post as `user` (whose client follows no redirect): the status, and the
/// location of a redirect or the page.
async fn form(
    app: &TestApp,
    user: &TestUser,
    path: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, String) {
    let mut all = vec![("csrf_token", user.csrf_token.as_str())];
    all.extend_from_slice(fields);
    let response = post_form(&user.client, app, path, &all).await;
    let status = response.status();
    match response.headers().get("location") {
        Some(_) => (status, location(&response)),
        None => (status, response.text().await.unwrap()),
    }
}

async fn page(app: &TestApp, user: &TestUser, path: &str) -> (StatusCode, String) {
    let response = user.request(app, Method::GET, path).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test]
async fn the_dashboard_authors_assigns_and_reports_without_javascript() {
    let app = spawn_app().await;
    let (org, server, admin) = hosted(&app, "acme", "none").await;
    let (status, html) = page(&app, &admin, &format!("/orgs/{org}/walkthroughs")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("No walkthrough yet"), "{html}");

    let (status, location) = form(
        &app,
        &admin,
        &format!("/orgs/{org}/walkthroughs"),
        &[("title", "Acme quick start"), ("kind", "quickstart")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
    let editor = location.trim_end_matches("?step=new").to_owned();
    let (status, html) = form(
        &app,
        &admin,
        &format!("{editor}/steps"),
        &[("title", "Install"), ("content_for_user", "Run the installer.")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
    let (status, _) = form(
        &app,
        &admin,
        &format!("{editor}/steps"),
        &[
            ("title", "Deploy"),
            ("content_for_user", "Ship it."),
            ("operations_for_agent", "Run deploy."),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    // A step without content for the user is refused with what was typed kept.
    let (status, html) = form(
        &app,
        &admin,
        &format!("{editor}/steps"),
        &[("title", "Empty"), ("content_for_user", " ")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains("contentForUser: must not be empty") && html.contains("value=\"Empty\""),
        "{html}"
    );

    // The editor shows the navigator, the step and the preview of the first step.
    let (_, html) = page(&app, &admin, &editor).await;
    assert!(html.contains("## Step 1 of 2: Install"), "{html}");
    assert!(html.contains("data-reorder-url") && html.contains("data-preview-url"));
    let id = editor.rsplit('/').next().unwrap().to_owned();
    let (_, full) =
        call(&app, &admin, Method::GET, &format!("/api/v1/orgs/{org}/walkthroughs/{id}"), None)
            .await;
    let deploy = full["steps"][1]["id"].as_str().unwrap().to_owned();
    let (status, _) =
        form(&app, &admin, &format!("{editor}/steps/{deploy}/move"), &[("direction", "up")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, html) = page(&app, &admin, &format!("{editor}?step={deploy}")).await;
    assert!(html.contains("## Step 1 of 2: Deploy"), "{html}");

    // Publish, assign on the server's page, see it offered.
    let (status, html) = form(
        &app,
        &admin,
        &editor,
        &[
            ("title", "Acme quick start"),
            ("kind", "quickstart"),
            ("status", "published"),
            ("minutes", "abc"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    let (status, _) = form(
        &app,
        &admin,
        &editor,
        &[
            ("title", "Acme quick start"),
            ("kind", "quickstart"),
            ("status", "published"),
            ("minutes", "10"),
            ("tags", "cli, start"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let server_page = format!("/orgs/{org}/servers/{server}/walkthroughs");
    let (status, _) = form(&app, &admin, &server_page, &[("walkthrough_id", &id)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, html) = page(&app, &admin, &server_page).await;
    assert!(html.contains("Acme quick start") && html.contains(">yes<"), "{html}");
    let (status, _) = form(&app, &admin, &format!("{server_page}/{id}/disable"), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, html) = page(&app, &admin, &server_page).await;
    assert!(html.contains("disabled"), "{html}");

    // The analytics page renders its numbers and the charts' data.
    let (status, html) = page(&app, &admin, &format!("{editor}/analytics")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("id=\"report-data\"") && html.contains("Nobody has started it yet"),
        "{html}"
    );
    let export =
        admin.request(&app, Method::GET, &format!("{editor}/export")).send().await.unwrap();
    assert_eq!(export.status(), StatusCode::OK);
    assert_eq!(export.json::<Value>().await.unwrap()["steps"][0]["title"], "Deploy");

    // Another organization's member gets 404 everywhere; a member cannot delete.
    let eve = app.signup("eve@evil.test").await;
    app.create_org(&eve, "Evil").await;
    for path in [
        editor.clone(),
        format!("{editor}/analytics"),
        format!("{editor}/export"),
        server_page.clone(),
    ] {
        assert_eq!(page(&app, &eve, &path).await.0, StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(
        form(&app, &eve, &format!("{editor}/steps"), &[("title", "x"), ("content_for_user", "y")])
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (status, html) =
        form(&app, &admin, &format!("{editor}/delete"), &[("confirm", "wrong")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    let (status, _) =
        form(&app, &admin, &format!("{editor}/delete"), &[("confirm", "Acme quick start")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(page(&app, &admin, &editor).await.0, StatusCode::NOT_FOUND);
}
