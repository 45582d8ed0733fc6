//! Every hosted server is an authorization server and a protected resource: its discovery
//! documents on both URL forms, each naming its own issuer byte for byte, and its key set.

use reqwest::StatusCode;
use serde_json::Value;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

/// `GET path` as if sent to `{slug}.localhost:{port}` (the subdomain form).
async fn get_on_subdomain(app: &TestApp, slug: &str, path: &str) -> reqwest::Response {
    let port = app.port();
    app.client
        .get(app.url(path))
        .header("host", format!("{slug}.localhost:{port}"))
        .send()
        .await
        .unwrap()
}

async fn json_of(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), StatusCode::OK, "{}", response.url());
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    response.json().await.unwrap()
}

async fn app_with_server() -> (TestApp, String) {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;
    let org = app.create_org(&ada, "Acme").await;
    app.create_server(&ada, &org, serde_json::json!({"slug": "acme", "name": "Acme Docs"})).await;
    let base = format!("http://localhost:{}", app.port());
    (app, base)
}

#[tokio::test]
async fn the_path_form_issuer_serves_its_metadata_on_every_discovery_path() {
    let (app, base) = app_with_server().await;
    let issuer = format!("{base}/s/acme");
    // RFC 8414 insertion, OpenID insertion, OpenID appended (MCP spec: clients try all three).
    for path in [
        "/.well-known/oauth-authorization-server/s/acme",
        "/.well-known/openid-configuration/s/acme",
        "/s/acme/.well-known/openid-configuration",
        "/s/acme/.well-known/oauth-authorization-server",
    ] {
        let doc = json_of(app.get(path).await).await;
        assert_eq!(doc["issuer"], issuer.as_str(), "{path}");
        assert_eq!(doc["authorization_endpoint"], format!("{issuer}/oauth/authorize"));
        assert_eq!(doc["token_endpoint"], format!("{issuer}/oauth/token"));
        assert_eq!(doc["registration_endpoint"], format!("{issuer}/oauth/register"));
        assert_eq!(doc["jwks_uri"], format!("{issuer}/oauth/jwks"));
        assert_eq!(doc["code_challenge_methods_supported"], serde_json::json!(["S256"]));
        assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
        assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
        assert_eq!(doc["client_id_metadata_document_supported"], true);
        let scopes = doc["scopes_supported"].as_array().unwrap();
        assert!(scopes.contains(&"mcp".into()) && scopes.contains(&"offline_access".into()));
    }

    let prm = json_of(app.get("/.well-known/oauth-protected-resource/s/acme/mcp").await).await;
    assert_eq!(prm["resource"], format!("{issuer}/mcp"));
    assert_eq!(prm["authorization_servers"], serde_json::json!([issuer]));
    assert_eq!(prm["scopes_supported"], serde_json::json!(["mcp"]), "no offline_access here");
    assert_eq!(prm["bearer_methods_supported"], serde_json::json!(["header"]));
    let legacy =
        json_of(app.get("/.well-known/oauth-protected-resource/s/acme/api/mcpserver/mcp").await)
            .await;
    assert_eq!(legacy["resource"], format!("{issuer}/api/mcpserver/mcp"));

    for missing in [
        "/.well-known/oauth-protected-resource/s/acme/other",
        "/.well-known/oauth-authorization-server/s/nobody",
        "/.well-known/oauth-protected-resource/s/nobody/mcp",
        "/s/nobody/oauth/jwks",
    ] {
        assert_eq!(app.get(missing).await.status(), StatusCode::NOT_FOUND, "{missing}");
    }
}

#[tokio::test]
async fn the_subdomain_form_is_its_own_issuer_and_serves_nothing_of_the_dashboard() {
    let (app, _) = app_with_server().await;
    let port = app.port();
    let issuer = format!("http://acme.localhost:{port}");
    for path in ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"] {
        let doc = json_of(get_on_subdomain(&app, "acme", path).await).await;
        assert_eq!(doc["issuer"], issuer.as_str(), "{path}");
        assert_eq!(doc["token_endpoint"], format!("{issuer}/oauth/token"));
    }
    for path in
        ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"]
    {
        let prm = json_of(get_on_subdomain(&app, "acme", path).await).await;
        assert_eq!(prm["resource"], format!("{issuer}/mcp"), "{path}");
        assert_eq!(prm["authorization_servers"], serde_json::json!([issuer]));
    }
    // Upper case in the host is the same name; an unknown server is a 404; so is everything
    // of the dashboard on a server's host (its cookies never go there either).
    let doc =
        json_of(get_on_subdomain(&app, "ACME", "/.well-known/openid-configuration").await).await;
    assert_eq!(doc["issuer"], issuer.as_str());
    let unknown = get_on_subdomain(&app, "nobody", "/.well-known/oauth-authorization-server").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    // Only one label deep: `x.acme` is not server `acme`.
    let response =
        get_on_subdomain(&app, "x.acme", "/.well-known/oauth-authorization-server").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    for path in ["/login", "/api/v1/orgs", "/s/acme/.well-known/openid-configuration"] {
        assert_eq!(
            get_on_subdomain(&app, "acme", path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

#[tokio::test]
async fn the_key_set_publishes_the_signing_key_without_its_private_half_and_keeps_it_on_restart() {
    // Both starts share the database and the master key, as two runs of one deployment do.
    let master_key = secrecy::SecretString::from(STANDARD.encode([7u8; 32]));
    let key = master_key.clone();
    let app = spawn_app_with(move |c| c.master_key = Some(key)).await;
    let ada = app.signup("ada@example.com").await;
    let org = app.create_org(&ada, "Acme").await;
    app.create_server(&ada, &org, serde_json::json!({"slug": "acme", "name": "Acme Docs"})).await;

    let path_form = json_of(app.get("/s/acme/oauth/jwks").await).await;
    let subdomain_form = json_of(get_on_subdomain(&app, "acme", "/oauth/jwks").await).await;
    assert_eq!(path_form, subdomain_form, "one platform key set");
    let keys = path_form["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{path_form}");
    let key = &keys[0];
    assert_eq!(
        (key["kty"].as_str(), key["crv"].as_str(), key["alg"].as_str()),
        (Some("EC"), Some("P-256"), Some("ES256"))
    );
    assert!(key["kid"].as_str().is_some_and(|kid| !kid.is_empty()));
    assert!(key.get("d").is_none(), "no private part");

    // Another start on the same database publishes the same key: it was stored, not made anew.
    let url = app.db.url.expose().to_owned();
    let again = spawn_app_with(move |c| {
        c.master_key = Some(master_key);
        c.database.url = Some(secrecy::SecretString::from(url));
    })
    .await;
    let restarted = json_of(again.get("/s/acme/oauth/jwks").await).await;
    assert_eq!(restarted, path_form);
}
