//! Dashboard accounts through the JSON API: signup, login, sessions, logout, throttling.

use std::time::Duration;

use mcplatform_core::user::EmailAddress;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, new_client, spawn_app, spawn_app_with};

async fn post_json(
    client: &reqwest::Client,
    app: &TestApp,
    path: &str,
    body: Value,
) -> (StatusCode, Value) {
    let response = client.post(app.url(path)).json(&body).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn signup_creates_the_account_and_a_session_cookie() {
    let app = spawn_app().await;
    let client = new_client();
    let response = client
        .post(app.url("/api/v1/auth/signup"))
        .json(&json!({"email": " Ada@Example.com ", "display_name": "Ada", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("mcplatform_session=mcps_"), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/")
    );
    assert!(!cookie.contains("Secure"), "plain-http localhost cookies are not Secure");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert!(body["csrf_token"].as_str().unwrap().len() > 20);

    let me: Value = client.get(app.url("/api/v1/me")).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["user"]["display_name"], "Ada");
    assert_eq!(me["organizations"], json!([]));

    let stored = app
        .store
        .find_user_by_email(&EmailAddress::parse("ada@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored.password_hash.unwrap().as_phc().starts_with("$argon2id$"),
        "only a hash is stored"
    );
}

#[tokio::test]
async fn https_deployments_use_a_host_prefixed_secure_cookie() {
    let app =
        spawn_app_with(|config| config.base_url = "https://mcp.example.com".parse().unwrap()).await;
    let response = new_client()
        .post(app.url("/api/v1/auth/signup"))
        .json(&json!({"email": "ada@example.com", "display_name": "Ada", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.starts_with("__Host-mcplatform_session=") && cookie.contains("Secure"),
        "{cookie}"
    );
}

#[tokio::test]
async fn bad_signups_get_clear_errors_and_store_nothing() {
    let app = spawn_app().await;
    app.signup("taken@example.com").await;
    let client = new_client();
    let cases = [
        (
            json!({"email": "nope", "display_name": "A", "password": PASSWORD}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "email",
        ),
        (
            json!({"email": "a@example.com", "display_name": "A", "password": "short"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "password",
        ),
        (
            json!({"email": "a@example.com", "display_name": "", "password": PASSWORD}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "display_name",
        ),
        (
            json!({"email": "a@example.com", "display_name": "x".repeat(101), "password": PASSWORD}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "display_name",
        ),
        (
            json!({"email": "TAKEN@example.com", "display_name": "A", "password": PASSWORD}),
            StatusCode::CONFLICT,
            "",
        ),
        (json!({"email": "a@example.com"}), StatusCode::UNPROCESSABLE_ENTITY, ""),
    ];
    for (body, status, field) in cases {
        let (got, error) = post_json(&client, &app, "/api/v1/auth/signup", body.clone()).await;
        assert_eq!(got, status, "{body}: {error}");
        if !field.is_empty() {
            assert_eq!(error["field"], field, "{body}: {error}");
        }
    }
    let malformed = client
        .post(app.url("/api/v1/auth/signup"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let wrong_type =
        client.post(app.url("/api/v1/auth/signup")).body("email=a").send().await.unwrap();
    assert_eq!(wrong_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let missing =
        app.store.find_user_by_email(&EmailAddress::parse("a@example.com").unwrap()).await.unwrap();
    assert!(missing.is_none(), "no account was created by any bad request");
}

#[tokio::test]
async fn login_says_the_same_for_unknown_accounts_and_wrong_passwords() {
    let app = spawn_app().await;
    app.signup("ada@example.com").await;
    let client = new_client();
    let (wrong, wrong_body) = post_json(
        &client,
        &app,
        "/api/v1/auth/login",
        json!({"email": "ada@example.com", "password": "not the password"}),
    )
    .await;
    let (unknown, unknown_body) = post_json(
        &client,
        &app,
        "/api/v1/auth/login",
        json!({"email": "bob@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!((wrong, unknown), (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED));
    assert_eq!(wrong_body, unknown_body);
    assert_eq!(
        client.get(app.url("/api/v1/me")).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    let (ok, body) = post_json(
        &client,
        &app,
        "/api/v1/auth/login",
        json!({"email": "ADA@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(ok, StatusCode::OK);
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert_eq!(client.get(app.url("/api/v1/me")).send().await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn logging_in_again_rotates_the_session() {
    let app = spawn_app().await;
    let user = app.signup("ada@example.com").await;
    let old_cookie = user.session_cookie(&app).unwrap();
    let (status, _) = post_json(
        &user.client,
        &app,
        "/api/v1/auth/login",
        json!({"email": "ada@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let new_cookie = user.session_cookie(&app).unwrap();
    assert_ne!(old_cookie, new_cookie);

    let replay = new_client()
        .get(app.url("/api/v1/me"))
        .header("cookie", format!("mcplatform_session={old_cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED, "the previous session ended");
}

#[tokio::test]
async fn logout_needs_the_csrf_header_and_then_ends_the_session() {
    let app = spawn_app().await;
    let user = app.signup("ada@example.com").await;
    let forged = user.client.post(app.url("/api/v1/auth/logout")).send().await.unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(forged.json::<Value>().await.unwrap()["code"], "csrf_failed");
    assert_eq!(
        user.request(&app, Method::GET, "/api/v1/me").send().await.unwrap().status(),
        StatusCode::OK
    );

    let wrong = user
        .client
        .post(app.url("/api/v1/auth/logout"))
        .header("x-csrf-token", "guess")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);

    let logout = user.request(&app, Method::POST, "/api/v1/auth/logout").send().await.unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        user.request(&app, Method::GET, "/api/v1/me").send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn cross_site_origins_are_refused_even_with_the_token() {
    let app = spawn_app().await;
    let user = app.signup("ada@example.com").await;
    let response = user
        .request(&app, Method::POST, "/api/v1/auth/logout")
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn sessions_end_after_the_idle_timeout() {
    let app = spawn_app().await;
    let user = app.signup("ada@example.com").await;
    app.clock.advance(Duration::from_secs(6 * 24 * 3600));
    assert_eq!(
        user.request(&app, Method::GET, "/api/v1/me").send().await.unwrap().status(),
        StatusCode::OK
    );
    // Activity slid the expiry: six more days are fine, then eight idle days are not.
    app.clock.advance(Duration::from_secs(6 * 24 * 3600));
    assert_eq!(
        user.request(&app, Method::GET, "/api/v1/me").send().await.unwrap().status(),
        StatusCode::OK
    );
    app.clock.advance(Duration::from_secs(8 * 24 * 3600));
    assert_eq!(
        user.request(&app, Method::GET, "/api/v1/me").send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn sessions_end_after_their_absolute_lifetime_however_active() {
    let app = spawn_app().await;
    let user = app.signup("ada@example.com").await;
    // Active every few days for 29 days: each idle window is far from over.
    for days in [6, 6, 6, 6, 5] {
        app.clock.advance(Duration::from_secs(days * 24 * 3600));
        assert_eq!(
            user.request(&app, Method::GET, "/api/v1/me").send().await.unwrap().status(),
            StatusCode::OK
        );
    }
    // Day 31: still well inside the idle window, but past the 30-day lifetime.
    app.clock.advance(Duration::from_secs(2 * 24 * 3600));
    assert_eq!(
        user.request(&app, Method::GET, "/api/v1/me").send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn repeated_login_attempts_are_throttled_per_account() {
    let app = spawn_app_with(|config| config.auth.login_attempts_per_minute_per_account = 3).await;
    app.signup("ada@example.com").await;
    let client = new_client();
    for _ in 0..2 {
        let (status, _) = post_json(
            &client,
            &app,
            "/api/v1/auth/login",
            json!({"email": "ada@example.com", "password": "wrong password"}),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let response = client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "even the right password waits");
    assert!(response.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    let (other, _) = post_json(
        &client,
        &app,
        "/api/v1/auth/login",
        json!({"email": "bob@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(other, StatusCode::UNAUTHORIZED, "other accounts are not throttled");
}

#[tokio::test]
async fn repeated_attempts_from_one_address_are_throttled() {
    let app = spawn_app_with(|config| config.auth.login_attempts_per_minute_per_ip = 2).await;
    let client = new_client();
    for email in ["a@example.com", "b@example.com"] {
        let (status, _) = post_json(
            &client,
            &app,
            "/api/v1/auth/login",
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, body) = post_json(
        &client,
        &app,
        "/api/v1/auth/login",
        json!({"email": "c@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["code"], "too_many_requests");
}

/// Resets `email`'s password through the emailed link, as its owner would.
pub(crate) async fn reset_password(app: &TestApp, email: &str, password: &str) {
    let client = new_client();
    let (status, _) =
        post_json(&client, app, "/api/v1/auth/password-reset", json!({"email": email})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let token = reset_link(app, email).await.expect("a reset email");
    let confirm = json!({"token": token, "password": password});
    let (status, _) = post_json(&client, app, "/api/v1/auth/password-reset/confirm", confirm).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

/// The newest reset link queued for `email`, read from the outbox as an operator would.
async fn reset_link(app: &TestApp, email: &str) -> Option<String> {
    let queued = app.store.due_emails(app.clock_now(), 100).await.unwrap();
    let mail =
        queued.iter().rev().find(|m| m.to.as_str() == email && m.subject.contains("Reset"))?;
    let start = mail.body_text.find("/password/reset/")? + "/password/reset/".len();
    Some(mail.body_text[start..].split_whitespace().next()?.to_owned())
}

#[tokio::test]
async fn a_forgotten_password_is_reset_once_by_emailed_link_which_ends_every_session() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;
    let client = new_client();
    for email in ["ada@example.com", "nobody@example.com", "not an email"] {
        let (status, _) =
            post_json(&client, &app, "/api/v1/auth/password-reset", json!({"email": email})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "same answer for {email}");
    }
    assert!(
        reset_link(&app, "nobody@example.com").await.is_none(),
        "no mail for unknown addresses"
    );
    let token = reset_link(&app, "ada@example.com").await.expect("a reset email");

    let (status, error) = post_json(
        &client,
        &app,
        "/api/v1/auth/password-reset/confirm",
        json!({"token": token, "password": "short"}),
    )
    .await;
    assert_eq!(
        (status, error["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("password"))
    );
    let (status, _) = post_json(
        &client,
        &app,
        "/api/v1/auth/password-reset/confirm",
        json!({"token": token, "password": "a brand new passphrase"}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        ada.request(&app, Method::GET, "/api/v1/me").send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED,
        "old sessions ended"
    );
    let (status, _) = post_json(
        &client,
        &app,
        "/api/v1/auth/password-reset/confirm",
        json!({"token": token, "password": "yet another passphrase"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a link works once");

    let (old, _) = post_json(
        &client,
        &app,
        "/api/v1/auth/login",
        json!({"email": "ada@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(old, StatusCode::UNAUTHORIZED);
    let (new, _) = post_json(
        &client,
        &app,
        "/api/v1/auth/login",
        json!({"email": "ada@example.com", "password": "a brand new passphrase"}),
    )
    .await;
    assert_eq!(new, StatusCode::OK);
}

#[tokio::test]
async fn a_reset_link_expires_after_an_hour() {
    let app = spawn_app().await;
    app.signup("ada@example.com").await;
    let client = new_client();
    post_json(&client, &app, "/api/v1/auth/password-reset", json!({"email": "ada@example.com"}))
        .await;
    let token = reset_link(&app, "ada@example.com").await.unwrap();
    app.clock.advance(Duration::from_secs(3601));
    let (status, _) = post_json(
        &client,
        &app,
        "/api/v1/auth/password-reset/confirm",
        json!({"token": token, "password": "a brand new passphrase"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
