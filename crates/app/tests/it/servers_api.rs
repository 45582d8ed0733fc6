//! MCP servers through the JSON API.

use mcplatform_core::org::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, call, spawn_app};

async fn create_server(app: &TestApp, user: &TestUser, org: &str, slug: &str) -> Value {
    app.create_server(user, org, json!({"slug": slug, "name": "Acme Docs"})).await
}

#[tokio::test]
async fn a_server_is_created_with_sensible_defaults_and_its_urls() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;
    let org = app.create_org(&ada, "Acme").await;
    let server = create_server(&app, &ada, &org, "acme-docs").await;
    assert_eq!(server["slug"], "acme-docs");
    assert_eq!(server["product_name"], "Acme Docs", "defaults to the name");
    assert_eq!(server["auth_mode"], "platform_oauth");
    assert_eq!(server["access_token_ttl_seconds"], 3600);
    assert_eq!(server["support_tool_enabled"], true);
    let port = app.port();
    assert_eq!(server["mcp_url"], format!("http://acme-docs.localhost:{port}/mcp"));
    assert_eq!(server["mcp_path_url"], format!("http://localhost:{port}/s/acme-docs/mcp"));

    let id = server["id"].as_str().unwrap();
    let (status, patched) = call(&app, &ada, Method::PATCH, &format!("/api/v1/orgs/{org}/servers/{id}"),
        Some(json!({"auth_mode": "collect_email", "access_token_ttl_seconds": 600, "telemetry_enabled": false}))).await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(
        (patched["auth_mode"].as_str(), patched["access_token_ttl_seconds"].as_u64()),
        (Some("collect_email"), Some(600))
    );
    assert_eq!(patched["name"], "Acme Docs", "untouched fields keep their value");

    let (_, list) =
        call(&app, &ada, Method::GET, &format!("/api/v1/orgs/{org}/servers"), None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let (status, _) =
        call(&app, &ada, Method::DELETE, &format!("/api/v1/orgs/{org}/servers/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) =
        call(&app, &ada, Method::GET, &format!("/api/v1/orgs/{org}/servers/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_server_input_is_refused_with_the_field_and_stores_nothing() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;
    let org = app.create_org(&ada, "Acme").await;
    let path = format!("/api/v1/orgs/{org}/servers");
    let cases = [
        (json!({"slug": "Acme", "name": "A"}), "slug"),
        (json!({"slug": "www", "name": "A"}), "slug"),
        (json!({"slug": "ab", "name": "A"}), "slug"),
        (json!({"slug": "acme", "name": ""}), "name"),
        (json!({"slug": "acme", "name": "x".repeat(101)}), "name"),
        (json!({"slug": "acme", "name": "A", "access_token_ttl_seconds": 5}), "access_token_ttl"),
        (
            json!({"slug": "acme", "name": "A", "refresh_token_ttl_seconds": 60}),
            "refresh_token_ttl",
        ),
        (json!({"slug": "acme", "name": "A", "description": "d".repeat(2001)}), "description"),
        // PostgreSQL cannot store NUL: refused as input, never a 500.
        (json!({"slug": "acme", "name": "A", "description": "a\u{0}b"}), "description"),
        (json!({"slug": "acme", "name": "A\u{0}"}), "name"),
    ];
    for (body, field) in cases {
        let (status, error) = call(&app, &ada, Method::POST, &path, Some(body.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error["field"], field, "{body}: {error}");
    }
    for body in [
        json!({"slug": "acme", "name": "A", "auth_mode": "magic"}),
        json!({"slug": "acme", "name": "A", "colour": "red"}),
    ] {
        let (status, error) = call(&app, &ada, Method::POST, &path, Some(body.clone())).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_body")),
            "{body}"
        );
    }
    let (_, list) = call(&app, &ada, Method::GET, &path, None).await;
    assert_eq!(list["items"], json!([]));
}

#[tokio::test]
async fn slugs_are_unique_across_organizations() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;
    let eve = app.signup("eve@example.com").await;
    let acme = app.create_org(&ada, "Acme").await;
    let evil = app.create_org(&eve, "Evil").await;
    create_server(&app, &ada, &acme, "acme").await;

    let (status, error) = call(
        &app,
        &eve,
        Method::POST,
        &format!("/api/v1/orgs/{evil}/servers"),
        Some(json!({"slug": "acme", "name": "Mine"})),
    )
    .await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")));
    let (_, check) =
        call(&app, &eve, Method::GET, "/api/v1/slug-availability?slug=acme", None).await;
    assert_eq!(check, json!({"slug": "acme", "status": "taken"}));
    let (_, check) =
        call(&app, &eve, Method::GET, "/api/v1/slug-availability?slug=evil-docs", None).await;
    assert_eq!(check["status"], "available");
    let (_, check) =
        call(&app, &eve, Method::GET, "/api/v1/slug-availability?slug=api", None).await;
    assert_eq!(check, json!({"slug": "api", "status": "invalid", "reason": "is reserved"}));
}

#[tokio::test]
async fn another_organization_gets_404_for_every_server_route() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;
    let eve = app.signup("eve@example.com").await;
    let acme = app.create_org(&ada, "Acme").await;
    let evil = app.create_org(&eve, "Evil").await;
    let server = create_server(&app, &ada, &acme, "acme").await;
    let id = server["id"].as_str().unwrap();

    for org in [&acme, &evil] {
        let path = format!("/api/v1/orgs/{org}/servers/{id}");
        for (method, body) in [
            (Method::GET, None),
            (Method::PATCH, Some(json!({"name": "Pwned"}))),
            (Method::DELETE, None),
        ] {
            let (status, _) = call(&app, &eve, method.clone(), &path, body).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
        }
    }
    let (status, _) =
        call(&app, &eve, Method::GET, &format!("/api/v1/orgs/{acme}/servers"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) =
        call(&app, &eve, Method::GET, &format!("/api/v1/orgs/{evil}/servers"), None).await;
    assert_eq!(list["items"], json!([]));
    let (_, kept) =
        call(&app, &ada, Method::GET, &format!("/api/v1/orgs/{acme}/servers/{id}"), None).await;
    assert_eq!(kept["name"], "Acme Docs");
}

#[tokio::test]
async fn members_can_read_servers_but_not_change_them() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;
    let mia = app.signup("mia@example.com").await;
    let acme = app.create_org(&ada, "Acme").await;
    app.add_member(&acme, "mia@example.com", Role::Member).await;
    let server = create_server(&app, &ada, &acme, "acme").await;
    let path = format!("/api/v1/orgs/{acme}/servers/{}", server["id"].as_str().unwrap());

    assert_eq!(call(&app, &mia, Method::GET, &path, None).await.0, StatusCode::OK);
    assert_eq!(
        call(&app, &mia, Method::PATCH, &path, Some(json!({"name": "Mine"}))).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(call(&app, &mia, Method::DELETE, &path, None).await.0, StatusCode::FORBIDDEN);
    let create = call(
        &app,
        &mia,
        Method::POST,
        &format!("/api/v1/orgs/{acme}/servers"),
        Some(json!({"slug": "mine", "name": "Mine"})),
    )
    .await;
    assert_eq!(create.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_custom_oauth_server_signs_in_with_a_provider_of_its_own_organization_which_stays_while_used()
 {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;
    let acme = app.create_org(&ada, "Acme").await;
    let globex = app.create_org(&ada, "Globex").await;
    let provider = |org: &str| {
        let path = format!("/api/v1/orgs/{org}/identity-providers");
        let body = json!({"kind": "github", "name": "GitHub", "client_id": "Iv1.x", "client_secret": "gh"});
        let (app, ada) = (&app, &ada);
        async move {
            let (status, body) = call(app, ada, Method::POST, &path, Some(body)).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            body["id"].as_str().unwrap().to_owned()
        }
    };
    let acme_github = provider(&acme).await;
    let globex_github = provider(&globex).await;
    let servers = format!("/api/v1/orgs/{acme}/servers");

    // custom_oauth needs a provider; another organization's does not count; other modes take none.
    for (body, message) in [
        (json!({"auth_mode": "custom_oauth"}), "choose the identity provider"),
        (
            json!({"auth_mode": "custom_oauth", "identity_provider_id": globex_github}),
            "no such identity provider",
        ),
        (
            json!({"auth_mode": "custom_oauth", "identity_provider_id": "nope"}),
            "is not an identity provider id",
        ),
        (
            json!({"auth_mode": "platform_oauth", "identity_provider_id": acme_github}),
            "only servers that sign users in",
        ),
    ] {
        let mut body = body;
        body["slug"] = json!("acme-docs");
        body["name"] = json!("Acme Docs");
        let (status, answer) = call(&app, &ada, Method::POST, &servers, Some(body.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert_eq!(answer["field"], "identity_provider_id", "{answer}");
        assert!(answer["message"].as_str().unwrap().contains(message), "{answer}");
    }
    let (_, list) = call(&app, &ada, Method::GET, &servers, None).await;
    assert!(list["items"].as_array().unwrap().is_empty(), "nothing was created");

    let body = json!({"slug": "acme-docs", "name": "Acme Docs", "auth_mode": "custom_oauth", "identity_provider_id": acme_github});
    let (status, server) = call(&app, &ada, Method::POST, &servers, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{server}");
    assert_eq!(server["identity_provider_id"], acme_github.as_str());
    let server_path = format!("{servers}/{}", server["id"].as_str().unwrap());

    // The provider cannot go while the server uses it.
    let provider_path = format!("/api/v1/orgs/{acme}/identity-providers/{acme_github}");
    let (status, answer) = call(&app, &ada, Method::DELETE, &provider_path, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["code"], "conflict");
    assert!(answer["message"].as_str().unwrap().contains("acme-docs"), "{answer}");

    // Moving the server to another mode lets go of it; then it can be deleted.
    let patch = json!({"auth_mode": "platform_oauth"});
    let (status, patched) = call(&app, &ada, Method::PATCH, &server_path, Some(patch)).await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["identity_provider_id"], Value::Null);
    let (status, _) = call(&app, &ada, Method::DELETE, &provider_path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}
