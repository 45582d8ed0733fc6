//! API keys: created by admins and shown once, scoped, revocable; management keys drive the API.

use mcplatform_core::ids::{ApiKeyId, OrgId};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, call, spawn_app};

async fn with_key(
    app: &TestApp,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new().request(method, app.url(path)).bearer_auth(key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_key_is_shown_once_stored_as_a_hash_and_revocable() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;
    let acme = app.create_org(&ada, "Acme").await;
    let server = app.create_server(&ada, &acme, json!({"slug": "acme", "name": "Acme"})).await;
    let server_id = server["id"].as_str().unwrap();

    let (status, created) = call(&app, &ada, Method::POST, &format!("/api/v1/orgs/{acme}/api-keys"),
        Some(json!({"name": "prod telemetry", "scopes": ["telemetry:write"], "mcp_server_id": server_id}))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().unwrap();
    assert!(secret.starts_with("mcpk_") && secret.len() == 48, "{secret}");
    assert_eq!(created["prefix"].as_str().unwrap(), &secret[..9]);
    assert_eq!(created["scopes"], json!(["telemetry:write"]));

    let (_, list) =
        call(&app, &ada, Method::GET, &format!("/api/v1/orgs/{acme}/api-keys"), None).await;
    assert!(!list.to_string().contains(secret), "the secret is never shown again");
    assert_eq!(list["items"][0]["mcp_server_id"], server_id);

    // A server key is not a management key.
    let (status, _) =
        with_key(&app, secret, Method::GET, &format!("/api/v1/orgs/{acme}/servers"), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let id = created["id"].as_str().unwrap();
    assert_eq!(
        call(&app, &ada, Method::DELETE, &format!("/api/v1/orgs/{acme}/api-keys/{id}"), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let (_, list) =
        call(&app, &ada, Method::GET, &format!("/api/v1/orgs/{acme}/api-keys"), None).await;
    assert!(list["items"][0]["revoked_at"].is_string());
    assert_eq!(
        call(&app, &ada, Method::DELETE, &format!("/api/v1/orgs/{acme}/api-keys/{id}"), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_management_key_acts_as_an_admin_of_its_organization_only() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;
    let eve = app.signup("eve@example.com").await;
    let acme = app.create_org(&ada, "Acme").await;
    let evil = app.create_org(&eve, "Evil").await;
    let (_, created) = call(
        &app,
        &ada,
        Method::POST,
        &format!("/api/v1/orgs/{acme}/api-keys"),
        Some(json!({"name": "ci", "scopes": ["management"]})),
    )
    .await;
    let key = created["secret"].as_str().unwrap().to_owned();

    let (status, server) = with_key(
        &app,
        &key,
        Method::POST,
        &format!("/api/v1/orgs/{acme}/servers"),
        Some(json!({"slug": "from-ci", "name": "From CI"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "no CSRF header needed with a key: {server}");
    let (_, orgs) = with_key(&app, &key, Method::GET, "/api/v1/orgs", None).await;
    assert_eq!(orgs["items"].as_array().unwrap().len(), 1);
    let (status, invitation) = with_key(
        &app,
        &key,
        Method::POST,
        &format!("/api/v1/orgs/{acme}/invitations"),
        Some(json!({"email": "bob@example.com"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{invitation}");

    assert_eq!(
        with_key(&app, &key, Method::GET, &format!("/api/v1/orgs/{evil}/servers"), None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        with_key(&app, &key, Method::DELETE, &format!("/api/v1/orgs/{acme}"), None).await.0,
        StatusCode::FORBIDDEN,
        "admins cannot delete"
    );
    assert_eq!(
        with_key(&app, &key, Method::GET, "/api/v1/me", None).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        with_key(&app, &key, Method::POST, "/api/v1/orgs", Some(json!({"name": "New"}))).await.0,
        StatusCode::FORBIDDEN
    );

    assert_eq!(
        with_key(&app, &key, Method::POST, "/api/v1/auth/logout", None).await.0,
        StatusCode::FORBIDDEN,
        "a key has no session to end"
    );
    // RFC 9110 §11.1: the scheme name is case-insensitive.
    let lowercase = reqwest::Client::new()
        .get(app.url(&format!("/api/v1/orgs/{acme}/servers")))
        .header("authorization", format!("bearer {key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(lowercase.status(), StatusCode::OK);

    for bad in ["mcpk_not-a-real-key", "garbage"] {
        let (status, body) =
            with_key(&app, bad, Method::GET, &format!("/api/v1/orgs/{acme}/servers"), None).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("unauthorized"))
        );
    }
    let id = created["id"].as_str().unwrap();
    call(&app, &ada, Method::DELETE, &format!("/api/v1/orgs/{acme}/api-keys/{id}"), None).await;
    assert_eq!(
        with_key(&app, &key, Method::GET, &format!("/api/v1/orgs/{acme}/servers"), None).await.0,
        StatusCode::UNAUTHORIZED,
        "revoked at once"
    );
}

#[tokio::test]
async fn bad_key_requests_are_refused_and_members_cannot_manage_keys() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;
    let eve = app.signup("eve@example.com").await;
    let acme = app.create_org(&ada, "Acme").await;
    let evil = app.create_org(&eve, "Evil").await;
    let evil_server = app.create_server(&eve, &evil, json!({"slug": "evil", "name": "Evil"})).await;
    let path = format!("/api/v1/orgs/{acme}/api-keys");
    let cases = [
        (json!({"name": "x", "scopes": []}), "scopes"),
        (json!({"name": "x", "scopes": ["root"]}), "scopes"),
        (json!({"name": "x", "scopes": ["telemetry:write"]}), "scopes"),
        (json!({"name": "", "scopes": ["management"]}), "name"),
        (json!({"name": "ci\u{0}", "scopes": ["management"]}), "name"),
        (
            json!({"name": "x", "scopes": ["telemetry:write"], "mcp_server_id": evil_server["id"]}),
            "mcp_server_id",
        ),
    ];
    for (body, field) in cases {
        let (status, error) = call(&app, &ada, Method::POST, &path, Some(body.clone())).await;
        assert_eq!(
            (status, error["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{body}"
        );
    }
    let (_, list) = call(&app, &ada, Method::GET, &path, None).await;
    assert_eq!(list["items"], json!([]));

    app.add_member(&acme, "eve@example.com", mcplatform_core::org::Role::Member).await;
    assert_eq!(call(&app, &eve, Method::GET, &path, None).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        call(&app, &eve, Method::POST, &path, Some(json!({"name": "x", "scopes": ["management"]})))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn key_use_is_recorded_in_batches_not_on_every_request() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;
    let acme = app.create_org(&ada, "Acme").await;
    let (_, created) = call(
        &app,
        &ada,
        Method::POST,
        &format!("/api/v1/orgs/{acme}/api-keys"),
        Some(json!({"name": "ci", "scopes": ["management"]})),
    )
    .await;
    let key = created["secret"].as_str().unwrap().to_owned();
    let id: ApiKeyId = created["id"].as_str().unwrap().parse().unwrap();
    let org: OrgId = acme.parse().unwrap();
    for _ in 0..5 {
        assert_eq!(
            with_key(&app, &key, Method::GET, &format!("/api/v1/orgs/{acme}/servers"), None)
                .await
                .0,
            StatusCode::OK
        );
    }
    assert_eq!(
        app.store.get_api_key(org, id).await.unwrap().last_used_at,
        None,
        "no write per request"
    );

    let db = app.stop_keeping_database().await;
    let store = db.store().await;
    assert!(
        store.get_api_key(org, id).await.unwrap().last_used_at.is_some(),
        "written when the batch flushed"
    );
}
