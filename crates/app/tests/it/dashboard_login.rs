//! Dashboard login with outside providers the operator configured (`auth.oidc` here, on the
//! fake IdP): account creation by verified email, linking, login CSRF, connect and remove.

use mcplatform_app::config::LoginProviderConfig;
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::json;

use crate::auth_api::reset_password;
use crate::dashboard::{csrf_in, location, page, post_form, signup_in_browser};
use crate::fake_idp::FakeIdp;
use crate::helpers::{PASSWORD, TestApp, new_client, spawn_app_with};

async fn app_with_sso(idp: &FakeIdp) -> TestApp {
    let issuer = idp.base.clone();
    spawn_app_with(move |c| {
        c.http.outbound_allow_private_networks = true;
        c.auth.oidc = Some(LoginProviderConfig {
            client_id: "client-1".into(),
            client_secret: Some(SecretString::from("secret-1")),
            issuer: Some(issuer),
            name: Some("Acme SSO".into()),
            scopes: None,
        });
    })
    .await
}

/// Makes the provider say who signs in next: `sub`, email, whether it is verified.
fn next_person(idp: &FakeIdp, sub: &str, email: &str, verified: bool) {
    idp.set_id_token_claims(json!({"sub": sub, "email": email, "email_verified": verified}));
    idp.set_userinfo(json!({"sub": sub, "name": "Grace Hopper"}));
}

/// Presses "Continue with Acme SSO" on `from` and lets the provider approve: the callback
/// URL it sends the browser back to (on the test's address).
async fn press_button(client: &reqwest::Client, app: &TestApp, from: &str, action: &str) -> String {
    let (status, html) = page(client, app, from).await;
    assert_eq!(status, StatusCode::OK);
    let response = post_form(client, app, action, &[("csrf_token", &csrf_in(&html))]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{}", response.text().await.unwrap());
    let response = new_client().get(location(&response)).send().await.unwrap();
    app.local(&location(&response))
}

async fn sso_login(client: &reqwest::Client, app: &TestApp) -> reqwest::Response {
    let callback = press_button(client, app, "/login", "/login/oidc").await;
    client.get(&callback).send().await.unwrap()
}

#[tokio::test]
async fn a_newcomer_logs_in_with_the_configured_provider_and_gets_an_account() {
    let idp = FakeIdp::start().await;
    let app = app_with_sso(&idp).await;
    next_person(&idp, "grace-1", "grace@corp.test", true);

    let client = new_client();
    let (_, html) = page(&client, &app, "/login").await;
    assert!(html.contains("Continue with Acme SSO"), "{html}");
    let (_, html) = page(&client, &app, "/signup").await;
    assert!(html.contains("Continue with Acme SSO"), "the signup page offers it too");

    let response = sso_login(&client, &app).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/orgs");
    let (status, html) = page(&client, &app, "/account").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("grace@corp.test") && html.contains("Grace Hopper"), "{html}");
    assert!(html.contains("Password: not set"), "{html}");
    assert!(html.contains("Acme SSO"), "the identity is listed: {html}");
    assert!(html.contains("account.signup"), "the signup is in the account's activity");

    // The same person again, in another browser: the same account, even with a new address.
    next_person(&idp, "grace-1", "grace.hopper@corp.test", true);
    let other = new_client();
    assert_eq!(sso_login(&other, &app).await.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&other, &app, "/account").await;
    assert!(html.contains("grace@corp.test"), "the same account: {html}");
}

#[tokio::test]
async fn a_verified_email_links_only_to_an_account_that_confirmed_it_and_an_unverified_one_gets_nothing()
 {
    let idp = FakeIdp::start().await;
    let app = app_with_sso(&idp).await;
    signup_in_browser(&app, "ada@example.com").await;

    // Anyone can put any address in a profile: unverified, it neither matches nor creates.
    next_person(&idp, "mallory", "ada@example.com", false);
    let client = new_client();
    let response = sso_login(&client, &app).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let html = response.text().await.unwrap();
    assert!(html.contains("did not confirm an email address"), "{html}");
    assert_eq!(page(&client, &app, "/account").await.0, StatusCode::SEE_OTHER, "not logged in");

    // A password account whose owner never proved the address could be anyone's (signed up
    // early to be let in by the real owner's sign-in): it is not linked.
    next_person(&idp, "ada-sso", "ada@example.com", true);
    let response = sso_login(&client, &app).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.text().await.unwrap().contains("the address was never confirmed"));
    assert_eq!(page(&client, &app, "/account").await.0, StatusCode::SEE_OTHER, "not logged in");

    // A reset link that reached the address confirms it; then the sign-in links.
    reset_password(&app, "ada@example.com", PASSWORD).await;
    let response = sso_login(&client, &app).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&client, &app, "/account").await;
    assert!(html.contains("ada@example.com") && html.contains("Password: set"), "{html}");
    assert!(html.contains("account.identity_linked"), "{html}");

    // The password still works beside it.
    let password_client = new_client();
    let (_, html) = page(&password_client, &app, "/login").await;
    let response = post_form(
        &password_client,
        &app,
        "/login",
        &[("csrf_token", &csrf_in(&html)), ("email", "ada@example.com"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn only_the_browser_that_began_a_sign_in_can_finish_it() {
    let idp = FakeIdp::start().await;
    let app = app_with_sso(&idp).await;
    next_person(&idp, "attacker", "attacker@corp.test", true);
    let attacker = new_client();
    let callback = press_button(&attacker, &app, "/login", "/login/oidc").await;

    // The attacker sends the callback link to a victim: it does not log the victim in.
    let victim = new_client();
    let response = victim.get(&callback).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("started in another browser"));
    assert_eq!(page(&victim, &app, "/account").await.0, StatusCode::SEE_OTHER);

    // It did not use the sign-in up either; once finished, it cannot be replayed.
    assert_eq!(attacker.get(&callback).send().await.unwrap().status(), StatusCode::SEE_OTHER);
    let response = attacker.get(&callback).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_account_connects_a_provider_and_removes_it_but_never_its_last_way_in() {
    let idp = FakeIdp::start().await;
    let app = app_with_sso(&idp).await;
    let ada = signup_in_browser(&app, "ada@example.com").await;

    // Connected from the account page, whatever address the provider knows her by.
    next_person(&idp, "ada-work", "ada@work.test", true);
    let callback = press_button(&ada, &app, "/account", "/account/identities/oidc").await;
    let response = ada.get(&callback).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/account?connected=oidc");
    let (_, html) = page(&ada, &app, "/account?connected=oidc").await;
    assert!(html.contains("ada@work.test") && html.contains("Connected"), "{html}");
    assert!(!html.contains("Connect Acme SSO"), "nothing left to connect: {html}");

    // Now that identity logs in as Ada.
    let elsewhere = new_client();
    assert_eq!(sso_login(&elsewhere, &app).await.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&elsewhere, &app, "/account").await;
    assert!(html.contains("ada@example.com"), "{html}");

    // Another account cannot take it over.
    let bob = signup_in_browser(&app, "bob@example.com").await;
    let callback = press_button(&bob, &app, "/account", "/account/identities/oidc").await;
    let response = bob.get(&callback).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("already linked to another"));

    // Ada removes it: it logs nobody in any more.
    let namespace = format!("oidc:{}", idp.base);
    let response = remove(&ada, &app, &namespace, "ada-work").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(app.store.find_user_by_identity(&namespace, "ada-work").await.unwrap().is_none());
    let stranger = new_client();
    assert_eq!(sso_login(&stranger, &app).await.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&stranger, &app, "/account").await;
    assert!(html.contains("ada@work.test") && !html.contains("ada@example.com"), "{html}");

    // An account made by the provider, without a password, keeps its only way in.
    next_person(&idp, "grace-1", "grace@corp.test", true);
    let grace = new_client();
    assert_eq!(sso_login(&grace, &app).await.status(), StatusCode::SEE_OTHER);
    let response = remove(&grace, &app, &namespace, "grace-1").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("only way into your account"));
    // Someone else's identity is not found.
    let response = remove(&ada, &app, &namespace, "grace-1").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

/// Presses "Remove" on the account page.
async fn remove(
    client: &reqwest::Client,
    app: &TestApp,
    provider: &str,
    subject: &str,
) -> reqwest::Response {
    let (_, html) = page(client, app, "/account").await;
    let csrf = csrf_in(&html);
    let form = [("csrf_token", csrf.as_str()), ("provider", provider), ("subject", subject)];
    post_form(client, app, "/account/identities/unlink", &form).await
}

#[tokio::test]
async fn an_unreachable_provider_is_reported_on_the_login_page() {
    let idp = FakeIdp::start().await;
    let app = app_with_sso(&idp).await;
    drop(idp);
    let client = new_client();
    let (_, html) = page(&client, &app, "/login").await;
    let response =
        post_form(&client, &app, "/login/oidc", &[("csrf_token", &csrf_in(&html))]).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert!(response.text().await.unwrap().contains("Acme SSO cannot be reached right now"));
    let response =
        post_form(&client, &app, "/login/github", &[("csrf_token", &csrf_in(&html))]).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND, "not configured");
}

#[tokio::test]
async fn an_outside_sign_in_ends_the_session_the_browser_had() {
    let idp = FakeIdp::start().await;
    let app = app_with_sso(&idp).await;
    let browser = signup_in_browser(&app, "bob@example.com").await;
    next_person(&idp, "grace-1", "grace@corp.test", true);
    let callback = press_button(&browser, &app, "/account", "/login/oidc").await;
    assert_eq!(browser.get(&callback).send().await.unwrap().status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&browser, &app, "/account").await;
    assert!(html.contains("grace@corp.test"), "{html}");
    let email = mcplatform_core::user::EmailAddress::parse("bob@example.com").unwrap();
    let bob = app.store.find_user_by_email(&email).await.unwrap().unwrap();
    assert_eq!(app.store.delete_user_sessions(bob.id).await.unwrap(), 0, "Bob's session ended");
}

#[tokio::test]
async fn an_unusable_answer_from_the_provider_logs_nobody_in_and_stores_nothing() {
    let idp = FakeIdp::start().await;
    let app = app_with_sso(&idp).await;
    let client = new_client();

    // An id longer than OpenID Connect allows.
    next_person(&idp, &"x".repeat(300), "long@corp.test", true);
    let response = sso_login(&client, &app).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.text().await.unwrap().contains("id that cannot be used"));

    // A userinfo answer that does not say whom it is about.
    next_person(&idp, "grace-1", "grace@corp.test", true);
    idp.set_userinfo(json!({"name": "Grace"}));
    let response = sso_login(&client, &app).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert!(response.text().await.unwrap().contains("about another user"));

    for email in ["long@corp.test", "grace@corp.test"] {
        let email = mcplatform_core::user::EmailAddress::parse(email).unwrap();
        assert!(app.store.find_user_by_email(&email).await.unwrap().is_none(), "no account");
    }
}
