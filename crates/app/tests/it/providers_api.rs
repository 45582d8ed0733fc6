//! Upstream identity providers: validated when saved (OpenID discovery, outbound policy),
//! secrets sealed and never shown, admins only, invisible to other organizations.

use mcplatform_core::crypto::MasterKey;
use mcplatform_core::identity_provider::IdentityProvider;
use mcplatform_core::ids::{IdentityProviderId, OrgId};
use mcplatform_core::org::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::fake_idp::FakeIdp;
use crate::helpers::{TestApp, TestUser, call, spawn_app, spawn_app_reaching_loopback};

fn oidc_body(issuer: &str) -> Value {
    json!({
        "kind": "oidc",
        "name": "Acme SSO",
        "client_id": "client-1",
        "client_secret": "secret-1",
        "issuer": issuer,
    })
}

async fn create(app: &TestApp, user: &TestUser, org: &str, body: Value) -> (StatusCode, Value) {
    call(app, user, Method::POST, &format!("/api/v1/orgs/{org}/identity-providers"), Some(body))
        .await
}

#[tokio::test]
async fn an_oidc_provider_is_checked_by_discovery_and_its_secret_sealed() {
    let idp = FakeIdp::start().await;
    let app = spawn_app_reaching_loopback().await;
    let ada = app.signup("ada@example.com").await;
    let acme = app.create_org(&ada, "Acme").await;

    let (status, created) = create(&app, &ada, &acme, oidc_body(&idp.base)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["kind"], "oidc");
    assert_eq!(created["issuer"], idp.base, "kept exactly as given");
    assert_eq!(created["scopes"], json!(["openid", "email", "profile"]));
    assert_eq!(created["claims"], json!({"subject": "sub", "email": "email", "name": "name"}));
    let base_url = app.address.replace("127.0.0.1", "localhost");
    assert_eq!(created["redirect_uri"], format!("{base_url}/oauth/upstream/callback"));
    assert!(!created.to_string().contains("secret-1"), "the secret is never returned");

    // Stored sealed: not in the clear, and it opens only with the master key, for this row.
    let id: IdentityProviderId = created["id"].as_str().unwrap().parse().unwrap();
    let org: OrgId = acme.parse().unwrap();
    let stored = app.store.get_identity_provider(org, id).await.unwrap();
    let sealed = &stored.sealed_client_secret;
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(app.db.url.expose()).await.unwrap();
    let column: String =
        sqlx::query_scalar("SELECT client_secret_sealed FROM identity_providers WHERE id = $1")
            .bind(id.to_string())
            .fetch_one(&db)
            .await
            .unwrap();
    db.close().await;
    // Neither the secret nor its base64 form is in the column.
    assert!(!column.contains("secret-1") && !column.contains("c2VjcmV0LTE"), "{column}");
    assert!(column.len() > 40, "nonce and tag are stored with the ciphertext: {column}");
    let key = std::fs::read_to_string(app.data_dir.path().join("master.key")).unwrap();
    let key = MasterKey::from_base64(&key).unwrap();
    let opened = key.open(sealed, &IdentityProvider::secret_context(id)).unwrap();
    assert_eq!(opened, b"secret-1");
    assert!(
        key.open(sealed, &IdentityProvider::secret_context(IdentityProviderId::new())).is_err()
    );

    let (_, list) =
        call(&app, &ada, Method::GET, &format!("/api/v1/orgs/{acme}/identity-providers"), None)
            .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains("secret-1"));
}

#[tokio::test]
async fn a_provider_that_fails_discovery_is_refused_and_nothing_is_saved() {
    let idp = FakeIdp::start().await;
    let app = spawn_app_reaching_loopback().await;
    let ada = app.signup("ada@example.com").await;
    let acme = app.create_org(&ada, "Acme").await;

    // The document names another issuer than the one asked (OpenID Discovery §4.3).
    idp.announce_issuer("https://impostor.example");
    let (status, body) = create(&app, &ada, &acme, oidc_body(&idp.base)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "issuer");
    assert!(body["message"].as_str().unwrap().contains("discovery failed"), "{body}");

    // Nothing listens there.
    let (status, body) = create(&app, &ada, &acme, oidc_body("http://127.0.0.1:9/")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "issuer");

    let (_, list) =
        call(&app, &ada, Method::GET, &format!("/api/v1/orgs/{acme}/identity-providers"), None)
            .await;
    assert_eq!(list["items"], json!([]));
}

#[tokio::test]
async fn by_default_providers_on_private_networks_or_plain_http_are_refused() {
    let idp = FakeIdp::start().await;
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;
    let acme = app.create_org(&ada, "Acme").await;

    let (status, body) = create(&app, &ada, &acme, oidc_body(&idp.base)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        (body["field"].as_str(), body["message"].as_str()),
        (Some("issuer"), Some("must use https://"))
    );

    let oauth2 = json!({
        "kind": "oauth2", "name": "Legacy", "client_id": "c", "client_secret": "s",
        "authorization_endpoint": "https://id.example.com/authorize",
        "token_endpoint": "https://169.254.169.254/token",
        "userinfo_endpoint": "https://id.example.com/me",
    });
    let (status, body) = create(&app, &ada, &acme, oauth2).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "token_endpoint");
    assert!(body["message"].as_str().unwrap().contains("private"), "{body}");
}

#[tokio::test]
async fn presets_and_oauth2_providers_are_edited_and_deleted() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;
    let acme = app.create_org(&ada, "Acme").await;
    let base = format!("/api/v1/orgs/{acme}/identity-providers");

    let github =
        json!({"kind": "github", "name": "GitHub", "client_id": "Iv1.x", "client_secret": "gh"});
    let (status, created) = create(&app, &ada, &acme, github.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["authorization_endpoint"], "https://github.com/login/oauth/authorize");
    assert_eq!(created["claims"]["subject"], "id");
    // Its fixed endpoints are no input: renaming it is just that.
    let path = format!("{base}/{}", created["id"].as_str().unwrap());
    let rename = json!({"name": "GitHub (company)"});
    let (status, renamed) = call(&app, &ada, Method::PATCH, &path, Some(rename)).await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["name"], "GitHub (company)");
    assert_eq!(renamed["authorization_endpoint"], "https://github.com/login/oauth/authorize");
    let (status, renamed) =
        call(&app, &ada, Method::PATCH, &path, Some(json!({"name": "GitHub"}))).await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    let (status, body) = create(&app, &ada, &acme, github).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")), "{body}");

    let oauth2 = json!({
        "kind": "oauth2", "name": "Legacy", "client_id": "c", "client_secret": "s",
        "authorization_endpoint": "https://id.example.com/authorize",
        "token_endpoint": "https://id.example.com/token",
        "userinfo_endpoint": "https://api.example.com/me",
        "scopes": ["profile", "email"],
        "claims": {"subject": "data.id", "email": "data.mail"},
    });
    let (status, legacy) = create(&app, &ada, &acme, oauth2).await;
    assert_eq!(status, StatusCode::CREATED, "{legacy}");
    assert_eq!(
        legacy["claims"],
        json!({"subject": "data.id", "email": "data.mail", "name": "name"})
    );
    let id = legacy["id"].as_str().unwrap();

    let patch = json!({"name": "Legacy SSO", "client_secret": "rotated", "claims": {"name": "data.display"}});
    let (status, updated) =
        call(&app, &ada, Method::PATCH, &format!("{base}/{id}"), Some(patch)).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["name"], "Legacy SSO");
    assert_eq!(updated["claims"]["name"], "data.display");
    assert_eq!(updated["claims"]["subject"], "data.id", "untouched fields keep their value");

    // Bad input names the field and changes nothing.
    for (patch, field) in [
        (json!({"userinfo_endpoint": "not a url"}), Some("userinfo_endpoint")),
        (json!({"issuer": "https://id.example.com"}), Some("issuer")),
        (json!({"scopes": ["a\"b"]}), Some("scopes")),
        (json!({"name": "x".repeat(101)}), Some("name")),
        (json!({"kind": "oidc"}), None),
        (json!({"client_secret": ""}), Some("client_secret")),
    ] {
        let (status, body) =
            call(&app, &ada, Method::PATCH, &format!("{base}/{id}"), Some(patch.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{patch}: {body}");
        assert_eq!(body["field"].as_str(), field, "{patch}: {body}");
    }
    let (_, unchanged) = call(&app, &ada, Method::GET, &format!("{base}/{id}"), None).await;
    assert_eq!(unchanged, updated);

    let (_, audit) = call(
        &app,
        &ada,
        Method::GET,
        &format!("/api/v1/orgs/{acme}/audit-events?area=identity_provider"),
        None,
    )
    .await;
    let updated_event = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "identity_provider.updated")
        .unwrap();
    assert_eq!(updated_event["detail"]["changed"], json!(["name", "name_claim", "client_secret"]));

    let (status, _) = call(&app, &ada, Method::DELETE, &format!("{base}/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&app, &ada, Method::GET, &format!("{base}/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn members_see_providers_but_only_admins_change_them_and_other_orgs_see_nothing() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;
    let acme = app.create_org(&ada, "Acme").await;
    let github =
        json!({"kind": "github", "name": "GitHub", "client_id": "Iv1.x", "client_secret": "gh"});
    let (_, created) = create(&app, &ada, &acme, github).await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/api/v1/orgs/{acme}/identity-providers/{id}");

    let bob = app.signup("bob@example.com").await;
    app.add_member(&acme, "bob@example.com", Role::Member).await;
    let (status, _) = call(&app, &bob, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(&app, &bob, Method::PATCH, &path, Some(json!({"name": "Mine"}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(&app, &bob, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let body = json!({"kind": "google", "name": "G", "client_id": "g", "client_secret": "s"});
    let (status, _) = create(&app, &bob, &acme, body).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Mallory runs another organization: Acme's provider does not exist for her, even through
    // her own organization's path.
    let mallory = app.signup("mallory@example.com").await;
    let evil = app.create_org(&mallory, "Evil").await;
    for path in [path.clone(), format!("/api/v1/orgs/{evil}/identity-providers/{id}")] {
        for method in [Method::GET, Method::PATCH, Method::DELETE] {
            let body = (method == Method::PATCH).then(|| json!({"name": "Pwned"}));
            let (status, _) = call(&app, &mallory, method.clone(), &path, body).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
        }
    }
    let (_, still) = call(&app, &ada, Method::GET, &path, None).await;
    assert_eq!(still["name"], "GitHub");
}
