//! Organizations through the JSON API: lifecycle, roles, isolation between tenants.

use mcplatform_core::org::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{call, spawn_app};

#[tokio::test]
async fn an_owner_creates_renames_and_deletes_an_organization() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;

    let (status, created) =
        call(&app, &ada, Method::POST, "/api/v1/orgs", Some(json!({"name": "  Acme  "}))).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!((created["name"].as_str(), created["role"].as_str()), (Some("Acme"), Some("owner")));
    let id = created["id"].as_str().unwrap();

    let (_, list) = call(&app, &ada, Method::GET, "/api/v1/orgs", None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    let (status, renamed) = call(
        &app,
        &ada,
        Method::PATCH,
        &format!("/api/v1/orgs/{id}"),
        Some(json!({"name": "Acme Corp"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(renamed["name"], "Acme Corp");

    let (status, _) = call(&app, &ada, Method::DELETE, &format!("/api/v1/orgs/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&app, &ada, Method::GET, &format!("/api/v1/orgs/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_organization_input_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;
    let id = app.create_org(&ada, "Acme").await;
    let path = format!("/api/v1/orgs/{id}");
    let cases = [
        (json!({"name": ""}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"name": "x".repeat(101)}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"name": 42}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"name": "Fine", "plan": "enterprise"}), StatusCode::UNPROCESSABLE_ENTITY),
    ];
    for (body, status) in cases {
        let (got, error) = call(&app, &ada, Method::PATCH, &path, Some(body.clone())).await;
        assert_eq!(got, status, "{body}: {error}");
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{error}");
    }
    let no_csrf =
        ada.client.patch(app.url(&path)).json(&json!({"name": "Sneaky"})).send().await.unwrap();
    assert_eq!(no_csrf.status(), StatusCode::FORBIDDEN);
    let (_, org) = call(&app, &ada, Method::GET, &path, None).await;
    assert_eq!(org["name"], "Acme", "unchanged");
}

#[tokio::test]
async fn another_organizations_members_get_404_for_every_route() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;
    let eve = app.signup("eve@example.com").await;
    let acme = app.create_org(&ada, "Acme").await;
    app.create_org(&eve, "Evil").await;

    let path = format!("/api/v1/orgs/{acme}");
    for (method, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({"name": "Pwned"}))),
        (Method::DELETE, None),
    ] {
        let (status, error) = call(&app, &eve, method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(error["code"], "not_found");
    }
    let (status, _) = call(&app, &eve, Method::GET, "/api/v1/orgs/not-an-id", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = call(&app, &eve, Method::GET, "/api/v1/orgs", None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "only Evil");
    let (_, org) = call(&app, &ada, Method::GET, &path, None).await;
    assert_eq!(org["name"], "Acme", "untouched");
}

#[tokio::test]
async fn members_cannot_rename_and_admins_cannot_delete() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;
    let mia = app.signup("mia@example.com").await;
    let adam = app.signup("adam@example.com").await;
    let acme = app.create_org(&ada, "Acme").await;
    app.add_member(&acme, "mia@example.com", Role::Member).await;
    app.add_member(&acme, "adam@example.com", Role::Admin).await;
    let path = format!("/api/v1/orgs/{acme}");

    let (status, org) = call(&app, &mia, Method::GET, &path, None).await;
    assert_eq!((status, org["role"].as_str()), (StatusCode::OK, Some("member")));
    let (status, error) =
        call(&app, &mia, Method::PATCH, &path, Some(json!({"name": "Mine"}))).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
    let (status, _) = call(&app, &mia, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, _) =
        call(&app, &adam, Method::PATCH, &path, Some(json!({"name": "Acme 2"}))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(&app, &adam, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(&app, &ada, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK, "still there");
}

#[tokio::test]
async fn the_api_needs_a_session() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/orgs").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "unauthorized");

    // A path segment that is not text is a resource that does not exist, said in JSON.
    let ada = app.signup("ada@example.com").await;
    let (status, body) = call(&app, &ada, Method::GET, "/api/v1/orgs/%FF/servers", None).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
}
