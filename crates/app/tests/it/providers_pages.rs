//! Identity providers in the dashboard: forms with field errors, and a test sign-in that makes
//! the full round trip to a provider (authorize, callback, code exchange with PKCE, userinfo).

use reqwest::StatusCode;
use serde_json::json;

use crate::dashboard::{csrf_in, location, page, post_form, signup_in_browser};
use mcplatform_core::org::Role;

use crate::fake_idp::{FakeIdp, Misbehaviour};
use crate::helpers::{TestApp, new_client, spawn_app_reaching_loopback};

async fn create_org_in_browser(client: &reqwest::Client, app: &TestApp) -> String {
    let (_, html) = page(client, app, "/orgs/new").await;
    let response =
        post_form(client, app, "/orgs/new", &[("csrf_token", &csrf_in(&html)), ("name", "Acme")])
            .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    location(&response).trim_start_matches("/orgs/").to_owned()
}

/// Adds an OAuth 2.0 provider on the fake IdP through the form; returns its page path.
async fn add_oauth2_provider(
    client: &reqwest::Client,
    app: &TestApp,
    org: &str,
    idp: &FakeIdp,
    secret: &str,
) -> String {
    let new = format!("/orgs/{org}/identity-providers/new?kind=oauth2");
    let (status, html) = page(client, app, &new).await;
    assert_eq!(status, StatusCode::OK);
    let authorize = format!("{}/authorize", idp.base);
    let token = format!("{}/token", idp.base);
    let userinfo = format!("{}/userinfo", idp.base);
    let response = post_form(
        client,
        app,
        &new,
        &[
            ("csrf_token", &csrf_in(&html)),
            ("name", "Legacy"),
            ("client_id", "client-1"),
            ("client_secret", secret),
            ("authorization_endpoint", &authorize),
            ("token_endpoint", &token),
            ("userinfo_endpoint", &userinfo),
            ("scopes", "profile"),
            ("subject_claim", "data.id"),
            ("email_claim", "data.mail"),
            ("name_claim", "display"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    location(&response).split('?').next().unwrap().to_owned()
}

#[tokio::test]
async fn an_admin_adds_a_provider_and_a_test_sign_in_shows_who_the_provider_says_they_are() {
    let idp = FakeIdp::start().await;
    idp.set_userinfo(json!({"data": {"id": 42, "mail": "ada@idp.test"}, "display": "Ada L."}));
    let app = spawn_app_reaching_loopback().await;
    let client = signup_in_browser(&app, "ada@example.com").await;
    let org = create_org_in_browser(&client, &app).await;

    let (status, html) = page(&client, &app, &format!("/orgs/{org}/identity-providers")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("No identity providers yet"), "{html}");
    assert!(html.contains("/oauth/upstream/callback"), "the redirect URI to register is shown");

    // A missing endpoint is reported next to its field; nothing is saved.
    let new = format!("/orgs/{org}/identity-providers/new?kind=oauth2");
    let (_, html) = page(&client, &app, &new).await;
    let response = post_form(
        &client,
        &app,
        &new,
        &[
            ("csrf_token", &csrf_in(&html)),
            ("name", "Legacy"),
            ("client_id", "c"),
            ("client_secret", "s"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(html.contains(r#"id="authorization_endpoint-error">must not be empty"#), "{html}");

    let provider = add_oauth2_provider(&client, &app, &org, &idp, "secret-1").await;
    let (status, html) = page(&client, &app, &format!("{provider}?saved=1")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Identity provider saved."));
    assert!(!html.contains("secret-1"), "the secret is never shown again");

    // The test sign-in sends the admin to the provider with PKCE S256 and a fresh state.
    let (_, html) = page(&client, &app, &provider).await;
    let response =
        post_form(&client, &app, &format!("{provider}/test"), &[("csrf_token", &csrf_in(&html))])
            .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let authorize = url::Url::parse(&location(&response)).unwrap();
    assert!(authorize.as_str().starts_with(&format!("{}/authorize?", idp.base)), "{authorize}");
    let params: std::collections::HashMap<_, _> = authorize.query_pairs().into_owned().collect();
    assert_eq!(params["response_type"], "code");
    assert_eq!(params["client_id"], "client-1");
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["scope"], "profile");
    assert!(params["redirect_uri"].ends_with("/oauth/upstream/callback"));
    assert!(params["state"].len() >= 43);

    // The provider approves and sends the browser back with a code.
    let response = new_client().get(authorize.as_str()).send().await.unwrap();
    let callback = app.local(&location(&response));
    let response = client.get(&callback).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(html.contains("It works"), "{html}");
    assert!(html.contains(r#"<code id="test-subject">42</code>"#), "{html}");
    assert!(html.contains("ada@idp.test") && html.contains("not verified by the provider"));
    assert!(html.contains("Ada L."));

    // A state works once.
    let response = client.get(&callback).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("expired or was already completed"));
}

/// Starts a test sign-in as `client`, lets the provider approve, and returns the callback
/// URL the provider sent the browser back to (on the test's address).
async fn begin_test_sign_in(client: &reqwest::Client, app: &TestApp, provider: &str) -> String {
    let (_, html) = page(client, app, provider).await;
    let test = format!("{provider}/test");
    let response = post_form(client, app, &test, &[("csrf_token", &csrf_in(&html))]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = new_client().get(location(&response)).send().await.unwrap();
    app.local(&location(&response))
}

/// The whole round trip; the result page's status and HTML.
async fn test_sign_in(
    client: &reqwest::Client,
    app: &TestApp,
    provider: &str,
) -> (StatusCode, String) {
    let callback = begin_test_sign_in(client, app, provider).await;
    let response = client.get(&callback).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test]
async fn a_wrong_secret_fails_the_test_sign_in_clearly() {
    let idp = FakeIdp::start().await;
    let app = spawn_app_reaching_loopback().await;
    let client = signup_in_browser(&app, "ada@example.com").await;
    let org = create_org_in_browser(&client, &app).await;
    let provider = add_oauth2_provider(&client, &app, &org, &idp, "wrong-secret").await;

    let (status, html) = test_sign_in(&client, &app, &provider).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(
        html.contains("The test sign-in failed") && html.contains("token request failed"),
        "{html}"
    );
}

#[tokio::test]
async fn another_admin_can_neither_complete_nor_use_up_someone_elses_test_sign_in() {
    let idp = FakeIdp::start().await;
    idp.set_userinfo(json!({"data": {"id": 42, "mail": "ada@idp.test"}, "display": "Ada L."}));
    let app = spawn_app_reaching_loopback().await;
    let ada = signup_in_browser(&app, "ada@example.com").await;
    let org = create_org_in_browser(&ada, &app).await;
    let provider = add_oauth2_provider(&ada, &app, &org, &idp, "secret-1").await;
    let bob = signup_in_browser(&app, "bob@example.com").await;
    app.add_member(&org, "bob@example.com", Role::Admin).await;

    let callback = begin_test_sign_in(&ada, &app, &provider).await;
    let response = bob.get(&callback).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let html = response.text().await.unwrap();
    assert!(!html.contains("ada@idp.test") && !html.contains("Ada L."), "{html}");

    // Bob's attempt did not use it up: Ada still completes her own.
    let response = ada.get(&callback).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().contains("ada@idp.test"));
}

/// Adds an OpenID Connect provider on the fake IdP through the API; returns its page path.
async fn add_oidc_provider(
    app: &TestApp,
    org: &str,
    idp: &FakeIdp,
    client: &reqwest::Client,
) -> String {
    let new = format!("/orgs/{org}/identity-providers/new?kind=oidc");
    let (_, html) = page(client, app, &new).await;
    let response = post_form(
        client,
        app,
        &new,
        &[
            ("csrf_token", &csrf_in(&html)),
            ("name", "Acme SSO"),
            ("issuer", &idp.base),
            ("client_id", "client-1"),
            ("client_secret", "secret-1"),
            ("subject_claim", "oid"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{}", response.text().await.unwrap());
    location(&response).split('?').next().unwrap().to_owned()
}

#[tokio::test]
async fn an_openid_test_sign_in_validates_the_id_token_and_reads_its_own_claims() {
    let idp = FakeIdp::start().await;
    idp.set_id_token_claims(
        json!({"oid": "object-7", "email": "ada@idp.test", "email_verified": true}),
    );
    idp.set_userinfo(json!({"sub": "user-1", "name": "Ada from userinfo"}));
    let app = spawn_app_reaching_loopback().await;
    let client = signup_in_browser(&app, "ada@example.com").await;
    let org = create_org_in_browser(&client, &app).await;
    let provider = add_oidc_provider(&app, &org, &idp, &client).await;

    let (status, html) = test_sign_in(&client, &app, &provider).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    // `oid` is only in the ID token: the mapping still finds it.
    assert!(html.contains(r#"<code id="test-subject">object-7</code>"#), "{html}");
    assert!(html.contains("ada@idp.test") && html.contains(r#"class="badge">verified"#), "{html}");
    assert!(html.contains("Ada from userinfo"), "{html}");
}

#[tokio::test]
async fn an_openid_test_sign_in_refuses_what_the_provider_gets_wrong() {
    let idp = FakeIdp::start().await;
    let app = spawn_app_reaching_loopback().await;
    let client = signup_in_browser(&app, "ada@example.com").await;
    let org = create_org_in_browser(&client, &app).await;
    let provider = add_oidc_provider(&app, &org, &idp, &client).await;

    for (how, expected) in [
        (Misbehaviour::WrongIss, "came from issuer \"https://impostor.example\""),
        (Misbehaviour::NoIss, "lacks the iss parameter"),
        (Misbehaviour::WrongNonce, "the ID token is not valid"),
        (Misbehaviour::NoIdToken, "has no ID token"),
        (Misbehaviour::OtherUserinfoSubject, "about another user"),
    ] {
        idp.misbehave(how);
        let (status, html) = test_sign_in(&client, &app, &provider).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{how:?}: {html}");
        let html = html.replace("&quot;", "\"").replace("&#34;", "\"");
        assert!(html.contains(expected), "{how:?}: {html}");
    }
}

#[tokio::test]
async fn declining_at_the_provider_is_reported_as_such() {
    let idp = FakeIdp::start().await;
    let app = spawn_app_reaching_loopback().await;
    let client = signup_in_browser(&app, "ada@example.com").await;
    let org = create_org_in_browser(&client, &app).await;
    let provider = add_oidc_provider(&app, &org, &idp, &client).await;
    let callback = begin_test_sign_in(&client, &app, &provider).await;
    let mut declined = url::Url::parse(&callback).unwrap();
    let state = declined.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    declined
        .query_pairs_mut()
        .clear()
        .append_pair("error", "access_denied")
        .append_pair("error_description", "The user said no")
        .append_pair("state", &state);
    let response = client.get(declined.as_str()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let html = response.text().await.unwrap();
    assert!(html.contains("The provider answered access_denied: The user said no"), "{html}");
}

#[tokio::test]
async fn a_server_form_offers_the_organizations_providers_and_a_used_provider_stays() {
    let idp = FakeIdp::start().await;
    let app = spawn_app_reaching_loopback().await;
    let client = signup_in_browser(&app, "ada@example.com").await;
    let org = create_org_in_browser(&client, &app).await;
    let new_server = format!("/orgs/{org}/servers/new");

    // Without a provider to choose, the form says where to add one, and custom_oauth is refused.
    let (_, html) = page(&client, &app, &new_server).await;
    assert!(html.contains("no identity providers yet"), "{html}");
    let csrf = csrf_in(&html);
    let mut form = crate::dashboard::server_form(&csrf, "acme-docs", "Acme Docs");
    form.retain(|(k, _)| *k != "auth_mode");
    form.push(("auth_mode", "custom_oauth"));
    let response = post_form(&client, &app, &new_server, &form).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(html.contains(r#"id="identity_provider_id-error">choose the identity provider"#));

    let provider = add_oauth2_provider(&client, &app, &org, &idp, "secret-1").await;
    let provider_id = provider.rsplit('/').next().unwrap().to_owned();
    let (_, html) = page(&client, &app, &new_server).await;
    assert!(html.contains(&format!(r#"<option value="{provider_id}">Legacy</option>"#)), "{html}");
    form.push(("identity_provider_id", &provider_id));
    let response = post_form(&client, &app, &new_server, &form).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&client, &app, &location(&response)).await;
    assert!(html.contains(&format!(r#"<option value="{provider_id}" selected>"#)), "{html}");

    // Deleting the provider is refused with the servers that need it; it is still there.
    let (_, html) = page(&client, &app, &provider).await;
    let response = post_form(
        &client,
        &app,
        &format!("{provider}/delete"),
        &[("csrf_token", &csrf_in(&html)), ("confirm", "Legacy")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(response.text().await.unwrap().contains("acme-docs"));
    assert_eq!(page(&client, &app, &provider).await.0, StatusCode::OK);
}
