//! Members, invitations and the outbox through the JSON API.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, call, spawn_app};

/// The secret of the newest invitation link in the organization's outbox.
async fn link_from_outbox(app: &TestApp, admin: &TestUser, org: &str) -> String {
    let (status, outbox) =
        call(app, admin, Method::GET, &format!("/api/v1/orgs/{org}/outbox"), None).await;
    assert_eq!(status, StatusCode::OK, "{outbox}");
    let body = outbox["items"][0]["body_text"].as_str().expect("an email");
    let start = body.find("/invitations/").expect("an invitation link") + "/invitations/".len();
    body[start..].split_whitespace().next().unwrap().to_owned()
}

async fn invite(
    app: &TestApp,
    admin: &TestUser,
    org: &str,
    email: &str,
    role: &str,
) -> (StatusCode, Value) {
    call(
        app,
        admin,
        Method::POST,
        &format!("/api/v1/orgs/{org}/invitations"),
        Some(json!({"email": email, "role": role})),
    )
    .await
}

#[tokio::test]
async fn an_invited_person_accepts_and_sees_only_that_organization() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;
    let acme = app.create_org(&ada, "Acme").await;
    app.create_org(&ada, "Ada's other org").await;

    let (status, invitation) = invite(&app, &ada, &acme, "Bob@Example.com", "admin").await;
    assert_eq!(status, StatusCode::CREATED, "{invitation}");
    assert_eq!(
        (invitation["email"].as_str(), invitation["status"].as_str()),
        (Some("bob@example.com"), Some("pending"))
    );
    assert!(!invitation.to_string().contains("mcpi_"), "the link secret only travels by email");

    let (_, outbox) =
        call(&app, &ada, Method::GET, &format!("/api/v1/orgs/{acme}/outbox"), None).await;
    let email = &outbox["items"][0];
    assert_eq!(email["to"], "bob@example.com");
    assert_eq!(email["subject"], "Test User invited you to Acme on MCPlatform");
    let token = link_from_outbox(&app, &ada, &acme).await;
    assert!(token.starts_with("mcpi_"));

    let bob = app.signup("bob@example.com").await;
    let (status, membership) =
        call(&app, &bob, Method::POST, "/api/v1/invitations/accept", Some(json!({"token": token})))
            .await;
    assert_eq!(status, StatusCode::OK, "{membership}");
    assert_eq!(membership["role"], "admin");
    let (_, orgs) = call(&app, &bob, Method::GET, "/api/v1/orgs", None).await;
    let names: Vec<_> =
        orgs["items"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["Acme"], "only the organization Bob was invited to");

    let (status, _) =
        call(&app, &bob, Method::POST, "/api/v1/invitations/accept", Some(json!({"token": token})))
            .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a link works once");
    let (_, invitations) =
        call(&app, &ada, Method::GET, &format!("/api/v1/orgs/{acme}/invitations"), None).await;
    assert_eq!(invitations["items"][0]["status"], "accepted");
}

#[tokio::test]
async fn an_invitation_link_only_works_for_the_invited_address_until_it_expires_or_is_revoked() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;
    let acme = app.create_org(&ada, "Acme").await;
    let eve = app.signup("eve@example.com").await;

    invite(&app, &ada, &acme, "bob@example.com", "member").await;
    let token = link_from_outbox(&app, &ada, &acme).await;
    let (status, _) =
        call(&app, &eve, Method::POST, "/api/v1/invitations/accept", Some(json!({"token": token})))
            .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a forwarded link does not let someone else in");

    app.clock.advance(Duration::from_secs(8 * 24 * 3600));
    let ada = app.signup_again("ada@example.com").await; // her session idled out meanwhile
    let bob = app.signup("bob@example.com").await;
    let (status, _) =
        call(&app, &bob, Method::POST, "/api/v1/invitations/accept", Some(json!({"token": token})))
            .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "expired after a week");

    // Resending issues a new link; the old one stays dead.
    let (_, invitations) =
        call(&app, &ada, Method::GET, &format!("/api/v1/orgs/{acme}/invitations"), None).await;
    assert_eq!(invitations["items"][0]["status"], "expired");
    let id = invitations["items"][0]["id"].as_str().unwrap();
    let (status, resent) = call(
        &app,
        &ada,
        Method::POST,
        &format!("/api/v1/orgs/{acme}/invitations/{id}/resend"),
        None,
    )
    .await;
    assert_eq!((status, resent["status"].as_str()), (StatusCode::OK, Some("pending")));
    let fresh = link_from_outbox(&app, &ada, &acme).await;
    assert_ne!(fresh, token);

    let (status, _) =
        call(&app, &ada, Method::DELETE, &format!("/api/v1/orgs/{acme}/invitations/{id}"), None)
            .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) =
        call(&app, &bob, Method::POST, "/api/v1/invitations/accept", Some(json!({"token": fresh})))
            .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "revoked");
    let (status, _) = call(&app, &bob, Method::GET, &format!("/api/v1/orgs/{acme}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "never became a member");
}

#[tokio::test]
async fn inviting_needs_admin_owners_need_an_owner_and_duplicates_are_refused() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;
    let acme = app.create_org(&ada, "Acme").await;
    for (email, role) in [("adam@example.com", "admin"), ("mia@example.com", "member")] {
        invite(&app, &ada, &acme, email, role).await;
        let token = link_from_outbox(&app, &ada, &acme).await;
        let user = app.signup(email).await;
        let (status, _) = call(
            &app,
            &user,
            Method::POST,
            "/api/v1/invitations/accept",
            Some(json!({"token": token})),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    let adam = app.signup_again("adam@example.com").await;
    let mia = app.signup_again("mia@example.com").await;

    assert_eq!(invite(&app, &mia, &acme, "x@example.com", "member").await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        call(&app, &mia, Method::GET, &format!("/api/v1/orgs/{acme}/invitations"), None).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&app, &mia, Method::GET, &format!("/api/v1/orgs/{acme}/outbox"), None).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(invite(&app, &adam, &acme, "x@example.com", "owner").await.0, StatusCode::FORBIDDEN);
    assert_eq!(invite(&app, &adam, &acme, "x@example.com", "admin").await.0, StatusCode::CREATED);
    let (status, error) = invite(&app, &adam, &acme, "X@example.com", "member").await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict")),
        "one open invitation"
    );
    assert_eq!(
        invite(&app, &adam, &acme, "mia@example.com", "member").await.0,
        StatusCode::CONFLICT,
        "already a member"
    );
    let (status, error) = invite(&app, &adam, &acme, "not-an-email", "member").await;
    assert_eq!(
        (status, error["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("email"))
    );
    let (status, _) = invite(&app, &adam, &acme, "y@example.com", "emperor").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn roles_change_and_members_leave_within_the_rules() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;
    let acme = app.create_org(&ada, "Acme").await;
    let mut users = Vec::new();
    for (email, role) in [("adam@example.com", "admin"), ("mia@example.com", "member")] {
        invite(&app, &ada, &acme, email, role).await;
        let token = link_from_outbox(&app, &ada, &acme).await;
        let user = app.signup(email).await;
        call(
            &app,
            &user,
            Method::POST,
            "/api/v1/invitations/accept",
            Some(json!({"token": token})),
        )
        .await;
        users.push(user);
    }
    let (adam, mia) = (&users[0], &users[1]);
    let member_path = |user: &TestUser| format!("/api/v1/orgs/{acme}/members/{}", user.id);

    assert_eq!(
        call(&app, mia, Method::PATCH, &member_path(adam), Some(json!({"role": "member"}))).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&app, adam, Method::PATCH, &member_path(&ada), Some(json!({"role": "member"})))
            .await
            .0,
        StatusCode::FORBIDDEN,
        "admins cannot demote owners"
    );
    assert_eq!(
        call(&app, adam, Method::PATCH, &member_path(mia), Some(json!({"role": "owner"}))).await.0,
        StatusCode::FORBIDDEN,
        "nor make owners"
    );
    assert_eq!(
        call(&app, adam, Method::DELETE, &member_path(&ada), None).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, changed) =
        call(&app, adam, Method::PATCH, &member_path(mia), Some(json!({"role": "admin"}))).await;
    assert_eq!((status, changed["role"].as_str()), (StatusCode::OK, Some("admin")));

    let (status, error) = call(&app, &ada, Method::DELETE, &member_path(&ada), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the last owner cannot leave: {error}");
    assert!(error["message"].as_str().unwrap().contains("needs an owner"));

    assert_eq!(
        call(&app, mia, Method::DELETE, &member_path(mia), None).await.0,
        StatusCode::NO_CONTENT,
        "anyone may leave"
    );
    assert_eq!(
        call(&app, mia, Method::GET, &format!("/api/v1/orgs/{acme}"), None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&app, adam, Method::DELETE, &member_path(adam), None).await.0,
        StatusCode::NO_CONTENT
    );
    let (_, members) =
        call(&app, &ada, Method::GET, &format!("/api/v1/orgs/{acme}/members"), None).await;
    assert_eq!(members["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn another_organization_cannot_see_or_touch_members_invitations_or_mail() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;
    let eve = app.signup("eve@example.com").await;
    let acme = app.create_org(&ada, "Acme").await;
    app.create_org(&eve, "Evil").await;
    invite(&app, &ada, &acme, "bob@example.com", "member").await;
    let (_, invitations) =
        call(&app, &ada, Method::GET, &format!("/api/v1/orgs/{acme}/invitations"), None).await;
    let id = invitations["items"][0]["id"].as_str().unwrap().to_owned();

    for (method, path, body) in [
        (Method::GET, format!("/api/v1/orgs/{acme}/members"), None),
        (
            Method::PATCH,
            format!("/api/v1/orgs/{acme}/members/{}", ada.id),
            Some(json!({"role": "member"})),
        ),
        (Method::DELETE, format!("/api/v1/orgs/{acme}/members/{}", ada.id), None),
        (Method::GET, format!("/api/v1/orgs/{acme}/invitations"), None),
        (
            Method::POST,
            format!("/api/v1/orgs/{acme}/invitations"),
            Some(json!({"email": "eve2@example.com"})),
        ),
        (Method::POST, format!("/api/v1/orgs/{acme}/invitations/{id}/resend"), None),
        (Method::DELETE, format!("/api/v1/orgs/{acme}/invitations/{id}"), None),
        (Method::GET, format!("/api/v1/orgs/{acme}/outbox"), None),
    ] {
        assert_eq!(
            call(&app, &eve, method.clone(), &path, body).await.0,
            StatusCode::NOT_FOUND,
            "{method} {path}"
        );
    }
    let (_, outbox) =
        call(&app, &ada, Method::GET, &format!("/api/v1/orgs/{acme}/outbox"), None).await;
    assert_eq!(outbox["items"].as_array().unwrap().len(), 1, "no extra mail was sent");
    assert_eq!(outbox["next_offset"], json!(null));
    for bad in ["limit=abc", "limit=0", "limit=1000", "colour=red"] {
        let path = format!("/api/v1/orgs/{acme}/outbox?{bad}");
        let (status, _) = call(&app, &ada, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

/// A real SMTP server (Python's aiosmtpd) that files every message it receives in a maildir.
struct SmtpSink {
    port: u16,
    maildir: tempfile::TempDir,
    child: std::process::Child,
}

impl SmtpSink {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let maildir = tempfile::tempdir().unwrap();
        let child = std::process::Command::new("python3")
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(maildir.path().join("mail"))
            .spawn()
            .expect("python3 with aiosmtpd (pip install aiosmtpd) runs the test mail server");
        // Built first, so that its Drop stops the server even if it never comes up.
        let sink = Self { port, maildir, child };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return sink;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("aiosmtpd did not start");
    }

    /// Every delivered message, raw.
    fn messages(&self) -> Vec<String> {
        let new = self.maildir.path().join("mail/new");
        std::fs::read_dir(new)
            .map(|entries| {
                entries.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok()).collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn with_a_mail_server_configured_invitations_are_delivered_by_smtp() {
    let sink = SmtpSink::start().await;
    let url = format!("smtp://127.0.0.1:{}", sink.port);
    let app = crate::helpers::spawn_app_with(|config| {
        config.email.smtp_url = Some(secrecy::SecretString::from(url));
        config.email.from = "Acme via MCPlatform <noreply@mcp.example.com>".into();
        config.email.send_interval_secs = 1;
    })
    .await;
    let ada = app.signup("ada@example.com").await;
    let acme = app.create_org(&ada, "Acme").await;
    invite(&app, &ada, &acme, "bob@example.com", "member").await;

    let mut delivered = Vec::new();
    for _ in 0..100 {
        delivered = sink.messages();
        if !delivered.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(delivered.len(), 1, "one message reached the mail server");
    let message = &delivered[0];
    assert!(message.contains("To: bob@example.com"), "{message}");
    assert!(
        message.contains("From: \"Acme via MCPlatform\" <noreply@mcp.example.com>"),
        "{message}"
    );
    assert!(message.contains("/invitations/mcpi_"), "{message}");

    let mut sent = Value::Null;
    for _ in 0..50 {
        let (_, outbox) =
            call(&app, &ada, Method::GET, &format!("/api/v1/orgs/{acme}/outbox"), None).await;
        sent = outbox["items"][0]["sent_at"].clone();
        if sent.is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(sent.is_string(), "the outbox records the delivery");
}

#[tokio::test]
async fn an_unreachable_mail_server_leaves_the_message_queued_for_a_retry() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let app = crate::helpers::spawn_app_with(|config| {
        config.email.smtp_url =
            Some(secrecy::SecretString::from(format!("smtp://127.0.0.1:{closed}")));
        config.email.send_interval_secs = 1;
    })
    .await;
    let ada = app.signup("ada@example.com").await;
    let acme = app.create_org(&ada, "Acme").await;
    invite(&app, &ada, &acme, "bob@example.com", "member").await;
    let org = acme.parse().unwrap();
    let mut failed = None;
    for _ in 0..100 {
        let outbox = app
            .store
            .list_outbox(org, mcplatform_store::PageRequest::new(10, 0))
            .await
            .unwrap()
            .items;
        if outbox[0].attempts > 0 {
            failed = Some(outbox[0].clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let failed = failed.expect("a delivery was attempted");
    assert_eq!(failed.sent_at, None);
    assert!(failed.last_error.is_some());
    assert!(app.store.due_emails(app.clock_now(), 10).await.unwrap().is_empty(), "the retry waits");
    app.clock.advance(Duration::from_secs(61));
    let mut retried = false;
    for _ in 0..50 {
        let outbox = app
            .store
            .list_outbox(org, mcplatform_store::PageRequest::new(10, 0))
            .await
            .unwrap()
            .items;
        if outbox[0].attempts >= 2 {
            retried = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(retried, "a minute later the sender tries again");
}
