//! The built-in end-user login of `platform_oauth` servers, driven like a browser: after
//! consent, an emailed one-time code (which may set a password) or a password set before.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::dashboard::{hidden, location};
use crate::helpers::{call, new_client};
use crate::oauth_flow::{Fixture, fixture, jwt_parts, param};

/// A fixture whose helpers talk to a new `platform_oauth` server `builtin`.
async fn platform() -> Fixture {
    let mut f = fixture().await;
    f.use_new_server(json!({"slug": "builtin", "name": "Built-in Docs",
        "auth_mode": "platform_oauth"}))
        .await;
    f
}

/// The login page a browser reaches by allowing `client_id` on the consent page: its HTML.
async fn login_page(f: &Fixture, browser: &reqwest::Client, client_id: &str) -> String {
    login_page_asking(f, browser, client_id, &[]).await
}

/// [`login_page`] for an authorization request with `extra` parameters.
async fn login_page_asking(
    f: &Fixture,
    browser: &reqwest::Client,
    client_id: &str,
    extra: &[(&str, &str)],
) -> String {
    let (request, csrf) = f.consent(browser, &f.authorize_path(client_id, extra)).await;
    let response = f.decide(browser, &request, &csrf, "allow").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let login = location(&response);
    assert!(login.starts_with(&format!("{}/oauth/login?request=", f.issuer)), "{login}");
    let response = browser.get(f.app.local(&login)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let html = response.text().await.unwrap();
    assert!(html.contains("Sign in to Built-in Docs") && html.contains("Test Editor"), "{html}");
    html
}

/// Posts a login form of the page `html` (the hidden fields it carries) with `fields`.
async fn post(
    f: &Fixture,
    browser: &reqwest::Client,
    html: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut form =
        vec![("request", hidden(html, "request")), ("csrf_token", hidden(html, "csrf_token"))];
    form.extend(fields.iter().map(|(k, v)| (*k, (*v).to_owned())));
    // The code page carries the address in a hidden field, as a browser would send it.
    if html.contains("name=\"email\" value=\"") && !fields.iter().any(|(k, _)| *k == "email") {
        form.push(("email", hidden(html, "email")));
    }
    browser.post(f.app.url(&f.path(action))).form(&form).send().await.unwrap()
}

/// The newest sign-in code mailed to `email`.
async fn mailed_code(f: &Fixture, email: &str) -> String {
    let queued = f.app.store.due_emails(f.app.clock_now(), 1000).await.unwrap();
    let mail = queued
        .iter()
        .rev()
        .find(|m| m.to.as_str() == email && m.subject.contains("sign-in code"))
        .expect("a sign-in code email");
    let code = mail.subject.split_whitespace().next().unwrap().to_owned();
    assert!(mail.body_text.contains(&code), "{}", mail.body_text);
    code
}

/// Asks for a code for `email` from the login or code page `html`.
async fn ask_code(
    f: &Fixture,
    browser: &reqwest::Client,
    html: &str,
    email: &str,
) -> reqwest::Response {
    post(f, browser, html, "/oauth/login/code", &[("email", email)]).await
}

/// Types `code` on the code page `html`.
async fn enter_code(
    f: &Fixture,
    browser: &reqwest::Client,
    html: &str,
    code: &str,
) -> reqwest::Response {
    post(f, browser, html, "/oauth/login/verify", &[("code", code)]).await
}

/// Asks for a code on the login page `html` and signs in with it: the redirect to the client.
async fn sign_in_by_code(
    f: &Fixture,
    browser: &reqwest::Client,
    html: &str,
    email: &str,
    new_password: &str,
) -> url::Url {
    let response = post(f, browser, html, "/oauth/login/code", &[("email", email)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let code_page = response.text().await.unwrap();
    assert!(
        code_page.contains(&format!("sent a 6-digit code to <strong>{}", email.to_lowercase()))
    );
    let code = mailed_code(f, &email.to_lowercase()).await;
    let fields = [("code", code.as_str()), ("new_password", new_password)];
    let response = post(f, browser, &code_page, "/oauth/login/verify", &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{}", response.text().await.unwrap());
    url::Url::parse(&location(&response)).unwrap()
}

/// The access token's claims for the code in `back`.
async fn claims(f: &Fixture, client_id: &str, back: &url::Url) -> Value {
    assert_eq!(param(back, "iss").as_deref(), Some(f.issuer.as_str()));
    assert_eq!(param(back, "state").as_deref(), Some("client-state-1"));
    let (status, tokens) = f.exchange(client_id, &param(back, "code").unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    jwt_parts(tokens["access_token"].as_str().unwrap()).1
}

#[tokio::test]
async fn a_new_end_user_signs_in_with_an_emailed_code_sets_a_password_and_uses_it_next_time() {
    let f = platform().await;
    let client_id = f.public_client().await;

    let browser = new_client();
    let html = login_page(&f, &browser, &client_id).await;
    let back =
        sign_in_by_code(&f, &browser, &html, "Eve@Example.com", "correct horse battery").await;
    let first = claims(&f, &client_id, &back).await;
    assert_eq!(first["iss"], f.issuer.as_str());
    assert_eq!(first["aud"], format!("{}/mcp", f.issuer));

    // The same browser stays signed in: consent is remembered, no page at all.
    let response = browser.get(f.app.url(&f.authorize_path(&client_id, &[]))).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let again = url::Url::parse(&location(&response)).unwrap();
    assert_eq!(claims(&f, &client_id, &again).await["sub"], first["sub"]);

    // Another browser signs in with the password: the same end user.
    let other = new_client();
    let html = login_page(&f, &other, &client_id).await;
    let fields = [("email", "eve@example.com"), ("password", "correct horse battery")];
    let response = post(&f, &other, &html, "/oauth/login/password", &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{}", response.text().await.unwrap());
    let back = url::Url::parse(&location(&response)).unwrap();
    assert_eq!(claims(&f, &client_id, &back).await["sub"], first["sub"]);

    // With the `email` scope, userinfo tells the verified address.
    let token = {
        let browser = new_client();
        let html = login_page_asking(&f, &browser, &client_id, &[("scope", "mcp email")]).await;
        let response = post(&f, &browser, &html, "/oauth/login/password", &fields).await;
        let back = url::Url::parse(&location(&response)).unwrap();
        let (_, tokens) = f.exchange(&client_id, &param(&back, "code").unwrap()).await;
        tokens["access_token"].as_str().unwrap().to_owned()
    };
    let response =
        f.app.client.get(f.app.url(&f.path("/oauth/userinfo"))).bearer_auth(token).send().await;
    let info: Value = response.unwrap().json().await.unwrap();
    assert_eq!(info["email"], "eve@example.com");
    assert_eq!(info["email_verified"], true);
    assert_eq!(info["sub"], first["sub"]);
}

#[tokio::test]
async fn wrong_passwords_and_unknown_addresses_get_the_same_refusal() {
    let f = platform().await;
    let client_id = f.public_client().await;
    let browser = new_client();
    let html = login_page(&f, &browser, &client_id).await;
    sign_in_by_code(&f, &browser, &html, "eve@example.com", "correct horse battery").await;

    let browser = new_client();
    let html = login_page(&f, &browser, &client_id).await;
    for (email, password) in [
        ("eve@example.com", "wrong horse battery"),
        ("nobody@example.com", "correct horse battery"),
        ("not an address", "correct horse battery"),
    ] {
        let fields = [("email", email), ("password", password)];
        let response = post(&f, &browser, &html, "/oauth/login/password", &fields).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{email}");
        let page = response.text().await.unwrap();
        assert!(page.contains("Incorrect email or password"), "{page}");
    }
    // A code sign-in without a password set leaves no password behind.
    let browser = new_client();
    let html = login_page(&f, &browser, &client_id).await;
    sign_in_by_code(&f, &browser, &html, "nopass@example.com", "").await;
    let browser = new_client();
    let html = login_page(&f, &browser, &client_id).await;
    let fields = [("email", "nopass@example.com"), ("password", "")];
    let response = post(&f, &browser, &html, "/oauth/login/password", &fields).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let server = f.server_id.parse().unwrap();
    let stored = |email: &'static str| f.app.store.end_user_password(server, email);
    assert!(stored("nopass@example.com").await.unwrap().is_none());
    assert!(stored("eve@example.com").await.unwrap().is_some(), "Eve set one");
}

#[tokio::test]
async fn a_code_allows_five_guesses_and_a_refused_password_does_not_spend_it() {
    let f = platform().await;
    let client_id = f.public_client().await;
    let browser = new_client();
    let html = login_page(&f, &browser, &client_id).await;
    let response = ask_code(&f, &browser, &html, "eve@example.com").await;
    let code_page = response.text().await.unwrap();
    let code = mailed_code(&f, "eve@example.com").await;
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);

    // A password against the policy is refused first; the code stays good.
    let fields = [("code", code.as_str()), ("new_password", "short")];
    let response = post(&f, &browser, &code_page, "/oauth/login/verify", &fields).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.text().await.unwrap().contains("The code was not used"));

    for left in (0..5).rev() {
        let response = enter_code(&f, &browser, &code_page, &wrong).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let page = response.text().await.unwrap();
        let says =
            if left == 0 { "no tries are left".to_owned() } else { format!("{left} tries left") };
        assert!(page.contains(&says), "{page}");
    }
    // Even the right code is void now.
    let response = enter_code(&f, &browser, &code_page, &code).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.text().await.unwrap().contains("Send a new code"));

    // A new code works, with the spaces a person may type.
    let response = ask_code(&f, &browser, &code_page, "eve@example.com").await;
    assert_eq!(response.status(), StatusCode::OK);
    let code = mailed_code(&f, "eve@example.com").await;
    let spaced = format!("{} {}", &code[..3], &code[3..]);
    let response = enter_code(&f, &browser, &code_page, &spaced).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    // And once used, it is gone (and so is the request it was for).
    let request = hidden(&code_page, "request").parse().unwrap();
    let left = f.app.store.take_login_code_attempt(request, f.app.clock_now()).await.unwrap();
    assert!(left.is_none(), "{left:?}");
    let response = enter_code(&f, &browser, &code_page, &code).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "the request itself is completed");
}

#[tokio::test]
async fn a_code_expires_after_ten_minutes() {
    let f = platform().await;
    let client_id = f.public_client().await;
    let browser = new_client();
    let html = login_page(&f, &browser, &client_id).await;
    let response = ask_code(&f, &browser, &html, "eve@example.com").await;
    let code_page = response.text().await.unwrap();
    let code = mailed_code(&f, "eve@example.com").await;
    f.app.clock.advance(std::time::Duration::from_secs(60));
    let response = ask_code(&f, &browser, &code_page, "eve@example.com").await;
    assert_eq!(response.status(), StatusCode::OK, "a new code replaces the first");
    let response = enter_code(&f, &browser, &code_page, &code).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "the replaced code is void");
    let newer = mailed_code(&f, "eve@example.com").await;
    // (The authorization request itself lives 15 minutes: still open after these 11.)
    f.app.clock.advance(std::time::Duration::from_secs(10 * 60 + 1));
    let response = enter_code(&f, &browser, &code_page, &newer).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.text().await.unwrap().contains("expired"));

    // A second before its ten minutes, a code still signs in.
    let browser = new_client();
    let html = login_page(&f, &browser, &client_id).await;
    let code_page = ask_code(&f, &browser, &html, "eve@example.com").await.text().await.unwrap();
    let code = mailed_code(&f, "eve@example.com").await;
    f.app.clock.advance(std::time::Duration::from_secs(10 * 60 - 1));
    let response = enter_code(&f, &browser, &code_page, &code).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn login_forms_need_the_browser_that_asked_its_token_and_our_origin() {
    let f = platform().await;
    let client_id = f.public_client().await;
    let browser = new_client();
    let html = login_page(&f, &browser, &client_id).await;
    let request = hidden(&html, "request");
    let csrf = hidden(&html, "csrf_token");
    let email = [("email", "eve@example.com")];

    // Another browser (no cookie), a wrong token, another site's Origin: nothing is sent.
    let response = post(&f, &new_client(), &html, "/oauth/login/code", &email).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let wrong =
        [("request", request.as_str()), ("csrf_token", "forged"), ("email", "eve@example.com")];
    let response =
        browser.post(f.app.url(&f.path("/oauth/login/code"))).form(&wrong).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let right = [
        ("request", request.as_str()),
        ("csrf_token", csrf.as_str()),
        ("email", "eve@example.com"),
    ];
    let response = browser
        .post(f.app.url(&f.path("/oauth/login/code")))
        .header("origin", "https://evil.example")
        .form(&right)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let queued = f.app.store.due_emails(f.app.clock_now(), 1000).await.unwrap();
    assert!(queued.iter().all(|m| !m.subject.contains("sign-in code")), "no code was mailed");

    // The page itself is only for the browser that asked.
    let path = f.path(&format!("/oauth/login?request={request}"));
    assert_eq!(
        new_client().get(f.app.url(&path)).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );

    // A form missing a field is answered on our page, not in axum's plain text.
    let missing = [("request", request.as_str()), ("csrf_token", csrf.as_str())];
    let response =
        browser.post(f.app.url(&f.path("/oauth/login/code"))).form(&missing).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(response.text().await.unwrap().contains("Invalid request"));

    // An invalid address is answered on the page.
    let response = post(&f, &browser, &html, "/oauth/login/code", &[("email", "nope")]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.text().await.unwrap().contains("valid email address"));

    // A custom_oauth server has no built-in login.
    let acme = format!("/s/acme/oauth/login?request={request}");
    assert_eq!(browser.get(f.app.url(&acme)).send().await.unwrap().status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn passwords_are_per_server_and_end_users_per_organization() {
    let mut f = platform().await;
    let client_id = f.public_client().await;
    let browser = new_client();
    let html = login_page(&f, &browser, &client_id).await;
    let back =
        sign_in_by_code(&f, &browser, &html, "eve@example.com", "correct horse battery").await;
    let on_builtin = claims(&f, &client_id, &back).await;

    // A second server of the same organization: the password of the first does not open it,
    // but a code does, and Eve is the same end user there.
    f.use_new_server(
        json!({"slug": "second", "name": "Built-in Docs", "auth_mode": "platform_oauth"}),
    )
    .await;
    let client_id = f.public_client().await;
    let browser = new_client();
    let html = login_page(&f, &browser, &client_id).await;
    let fields = [("email", "eve@example.com"), ("password", "correct horse battery")];
    let response = post(&f, &browser, &html, "/oauth/login/password", &fields).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let back = sign_in_by_code(&f, &browser, &html, "eve@example.com", "").await;
    assert_eq!(claims(&f, &client_id, &back).await["sub"], on_builtin["sub"]);

    // Another organization's server: Eve is someone else there.
    let bob = f.app.signup("bob@example.com").await;
    f.org = f.app.create_org(&bob, "Other").await;
    f.owner = bob;
    f.use_new_server(
        json!({"slug": "other", "name": "Built-in Docs", "auth_mode": "platform_oauth"}),
    )
    .await;
    let client_id = f.public_client().await;
    let browser = new_client();
    let html = login_page(&f, &browser, &client_id).await;
    let back = sign_in_by_code(&f, &browser, &html, "eve@example.com", "").await;
    assert_ne!(claims(&f, &client_id, &back).await["sub"], on_builtin["sub"]);

    // The code mails are in each organization's own outbox.
    let path = format!("/api/v1/orgs/{}/outbox", f.org);
    let (status, outbox) = call(&f.app, &f.owner, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(outbox["items"].as_array().unwrap().len(), 1, "{outbox}");
}
