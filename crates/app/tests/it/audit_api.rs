//! The audit log records who changed what, for admins of the organization only.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{call, spawn_app};

fn actions(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn changes_are_recorded_with_who_what_and_details_and_can_be_filtered() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;
    let acme = app.create_org(&ada, "Acme").await;
    let base = format!("/api/v1/orgs/{acme}");
    call(&app, &ada, Method::PATCH, &base, Some(json!({"name": "Acme Corp"}))).await;
    let server = app.create_server(&ada, &acme, json!({"slug": "acme", "name": "Acme"})).await;
    let server_path = format!("{base}/servers/{}", server["id"].as_str().unwrap());
    call(
        &app,
        &ada,
        Method::PATCH,
        &server_path,
        Some(json!({"auth_mode": "none", "name": "Acme Docs"})),
    )
    .await;
    call(
        &app,
        &ada,
        Method::POST,
        &format!("{base}/invitations"),
        Some(json!({"email": "bob@example.com", "role": "admin"})),
    )
    .await;
    let (_, key) = call(
        &app,
        &ada,
        Method::POST,
        &format!("{base}/api-keys"),
        Some(json!({"name": "ci", "scopes": ["management"]})),
    )
    .await;
    call(
        &app,
        &ada,
        Method::DELETE,
        &format!("{base}/api-keys/{}", key["id"].as_str().unwrap()),
        None,
    )
    .await;
    call(&app, &ada, Method::DELETE, &server_path, None).await;

    let (status, log) = call(&app, &ada, Method::GET, &format!("{base}/audit-events"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        actions(&log),
        vec![
            "server.deleted",
            "api_key.revoked",
            "api_key.created",
            "member.invited",
            "server.updated",
            "server.created",
            "organization.renamed",
            "organization.created",
        ]
    );
    let updated = &log["items"][4];
    assert_eq!(updated["detail"], json!({"changed": ["name", "auth_mode"]}));
    assert_eq!(updated["actor"], "Test User (ada@example.com)");
    assert_eq!(updated["actor_user_id"], ada.id.as_str());
    assert_eq!(updated["ip_address"], "127.0.0.1");
    assert_eq!(log["items"][3]["target"], "bob@example.com");
    assert_eq!(log["items"][6]["detail"], json!({"from": "Acme", "to": "Acme Corp"}));
    assert!(!log.to_string().contains(key["secret"].as_str().unwrap()), "no key secret in the log");

    let (_, servers_only) =
        call(&app, &ada, Method::GET, &format!("{base}/audit-events?area=server"), None).await;
    assert_eq!(actions(&servers_only), vec!["server.deleted", "server.updated", "server.created"]);
    let (_, paged) =
        call(&app, &ada, Method::GET, &format!("{base}/audit-events?limit=2&offset=1"), None).await;
    assert_eq!(actions(&paged), vec!["api_key.revoked", "api_key.created"]);
    assert_eq!(paged["next_offset"], 3, "the log goes on");
    let (_, last) =
        call(&app, &ada, Method::GET, &format!("{base}/audit-events?limit=200"), None).await;
    assert_eq!(last["next_offset"], json!(null));
    for bad in ["limit=0", "limit=201", "offset=-1"] {
        let path = format!("{base}/audit-events?{bad}");
        let (status, body) = call(&app, &ada, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let (status, _) =
        call(&app, &ada, Method::GET, &format!("{base}/audit-events?area=everything"), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn management_keys_appear_as_themselves_and_members_cannot_read_the_log() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;
    let eve = app.signup("eve@example.com").await;
    let acme = app.create_org(&ada, "Acme").await;
    app.create_org(&eve, "Evil").await;
    let base = format!("/api/v1/orgs/{acme}");
    let (_, key) = call(
        &app,
        &ada,
        Method::POST,
        &format!("{base}/api-keys"),
        Some(json!({"name": "ci", "scopes": ["management"]})),
    )
    .await;
    let secret = key["secret"].as_str().unwrap();
    let created = reqwest::Client::new()
        .post(app.url(&format!("{base}/servers")))
        .bearer_auth(secret)
        .json(&json!({"slug": "from-ci", "name": "From CI"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let (_, log) =
        call(&app, &ada, Method::GET, &format!("{base}/audit-events?area=server"), None).await;
    assert_eq!(log["items"][0]["actor"], "API key \"ci\"");
    assert_eq!(log["items"][0]["actor_user_id"], Value::Null);

    assert_eq!(
        call(&app, &eve, Method::GET, &format!("{base}/audit-events"), None).await.0,
        StatusCode::NOT_FOUND
    );
    app.add_member(&acme, "eve@example.com", mcplatform_core::org::Role::Member).await;
    assert_eq!(
        call(&app, &eve, Method::GET, &format!("{base}/audit-events"), None).await.0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn the_account_page_lists_logins_and_failed_attempts() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;
    let stranger = crate::helpers::new_client();
    stranger
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": "ada@example.com", "password": "guessing wrong"}))
        .send()
        .await
        .unwrap();
    let html = ada.client.get(app.url("/account")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("account.login_failed") && html.contains("account.signup"), "{html}");
}
