//! The dashboard as a browser uses it: forms, redirects, cookies, CSRF tokens in pages.

use reqwest::StatusCode;

use crate::helpers::{PASSWORD, TestApp, new_client, spawn_app};

/// The CSRF token a page embeds in its forms.
pub(crate) fn csrf_in(html: &str) -> String {
    hidden(html, "csrf_token")
}

/// The value of the first form field named `name` on a page.
pub(crate) fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start =
        html.find(&marker).unwrap_or_else(|| panic!("no {name} field in {html}")) + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

pub(crate) fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

pub(crate) async fn page(
    client: &reqwest::Client,
    app: &TestApp,
    path: &str,
) -> (StatusCode, String) {
    let response = client.get(app.url(path)).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

pub(crate) async fn post_form(
    client: &reqwest::Client,
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    client.post(app.url(path)).form(form).send().await.unwrap()
}

/// Signs up through the pages; returns the client, now logged in.
pub(crate) async fn signup_in_browser(app: &TestApp, email: &str) -> reqwest::Client {
    let client = new_client();
    let (status, html) = page(&client, app, "/signup").await;
    assert_eq!(status, StatusCode::OK);
    let csrf = csrf_in(&html);
    let response = post_form(
        &client,
        app,
        "/signup",
        &[
            ("csrf_token", &csrf),
            ("display_name", "Ada Lovelace"),
            ("email", email),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/orgs/new");
    client
}

#[tokio::test]
async fn a_newcomer_signs_up_creates_an_organization_and_lands_on_its_overview() {
    let app = spawn_app().await;
    let client = signup_in_browser(&app, "ada@example.com").await;

    let orgs = client.get(app.url("/orgs")).send().await.unwrap();
    assert_eq!(orgs.status(), StatusCode::SEE_OTHER, "no organization yet");
    assert_eq!(location(&orgs), "/orgs/new");

    let (_, html) = page(&client, &app, "/orgs/new").await;
    assert!(html.contains("Create your organization"), "first-org wording");
    let response = post_form(
        &client,
        &app,
        "/orgs/new",
        &[("csrf_token", &csrf_in(&html)), ("name", "Acme Inc.")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let overview = location(&response);
    assert!(overview.starts_with("/orgs/"));

    let (status, html) = page(&client, &app, &overview).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<h1>Acme Inc.</h1>"));
    assert!(html.contains("No MCP servers yet"), "the empty state tells what comes next");
    assert!(html.contains("Ada Lovelace"), "the layout shows who is logged in");
}

#[tokio::test]
async fn signup_form_errors_appear_next_to_their_fields_and_keep_the_input() {
    let app = spawn_app().await;
    let client = new_client();
    let (_, html) = page(&client, &app, "/signup").await;
    let response = post_form(
        &client,
        &app,
        "/signup",
        &[
            ("csrf_token", &csrf_in(&html)),
            ("display_name", "Ada"),
            ("email", "ada@example.com"),
            ("password", "short"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(
        html.contains(r#"id="password-error""#) && html.contains("at least 10 characters"),
        "{html}"
    );
    assert!(html.contains(r#"value="ada@example.com""#), "email kept");
    assert!(!html.contains("short"), "the password is never echoed back");
}

#[tokio::test]
async fn forms_without_a_valid_csrf_token_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let client = signup_in_browser(&app, "ada@example.com").await;
    for form in [vec![("name", "Forged")], vec![("csrf_token", "forged"), ("name", "Forged")]] {
        let response = post_form(&client, &app, "/orgs/new", &form).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert!(response.text().await.unwrap().contains("Form expired"));
    }
    // A login form posted without the pre-login cookie is refused too.
    let response = post_form(
        &new_client(),
        &app,
        "/login",
        &[("csrf_token", "x"), ("email", "ada@example.com"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let html = client.get(app.url("/orgs/new")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Create your organization"), "still no organization");
}

#[tokio::test]
async fn login_page_reports_bad_credentials_and_only_redirects_within_the_site() {
    let app = spawn_app().await;
    signup_in_browser(&app, "ada@example.com").await;
    let client = new_client();
    let (_, html) = page(&client, &app, "/login").await;
    let csrf = csrf_in(&html);

    let response = post_form(
        &client,
        &app,
        "/login",
        &[("csrf_token", &csrf), ("email", "ada@example.com"), ("password", "wrong password")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("incorrect email or password") && html.contains(r#"value="ada@example.com""#)
    );

    let response = post_form(
        &client,
        &app,
        "/login?next=//evil.example/x",
        &[("csrf_token", &csrf), ("email", "ada@example.com"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/orgs", "an off-site next is ignored");

    // Browsers drop tabs and newlines from URLs, which would turn these into `//evil.example`;
    // a newline in a header value would fail the response after the session was made.
    for next in ["/%09/evil.example", "/%0A/evil.example", "/\\evil.example", "/%20/x"] {
        let client = new_client();
        let (_, html) = page(&client, &app, "/login").await;
        let csrf = csrf_in(&html);
        let response = post_form(
            &client,
            &app,
            &format!("/login?next={next}"),
            &[("csrf_token", &csrf), ("email", "ada@example.com"), ("password", PASSWORD)],
        )
        .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{next}");
        assert_eq!(location(&response), "/orgs", "{next} is ignored");
    }
}

#[tokio::test]
async fn pages_need_a_login_and_logout_ends_it() {
    let app = spawn_app().await;
    let anonymous = app.get("/orgs").await;
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&anonymous), "/login?next=%2Forgs", "back where they were after login");

    let client = signup_in_browser(&app, "ada@example.com").await;
    let (_, html) = page(&client, &app, "/account").await;
    let response = post_form(&client, &app, "/logout", &[("csrf_token", &csrf_in(&html))]).await;
    assert_eq!(
        (response.status(), location(&response)),
        (StatusCode::SEE_OTHER, "/login".to_owned())
    );
    assert_eq!(
        client.get(app.url("/account")).send().await.unwrap().status(),
        StatusCode::SEE_OTHER
    );

    let (_, html) = page(&client, &app, "/login?next=%2Faccount").await;
    assert!(html.contains(r#"action="/login?next=/account""#), "the form keeps where to go");
    let response = post_form(
        &client,
        &app,
        "/login?next=%2Faccount",
        &[("csrf_token", &csrf_in(&html)), ("email", "ada@example.com"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(location(&response), "/account");
}

#[tokio::test]
async fn logging_out_everywhere_ends_every_session_of_the_account() {
    let app = spawn_app().await;
    let laptop = signup_in_browser(&app, "ada@example.com").await;
    let phone = new_client();
    let (_, html) = page(&phone, &app, "/login").await;
    post_form(
        &phone,
        &app,
        "/login",
        &[("csrf_token", &csrf_in(&html)), ("email", "ada@example.com"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(phone.get(app.url("/account")).send().await.unwrap().status(), StatusCode::OK);

    let (_, html) = page(&laptop, &app, "/account").await;
    let response =
        post_form(&laptop, &app, "/account/logout-everywhere", &[("csrf_token", &csrf_in(&html))])
            .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    for client in [&laptop, &phone] {
        assert_eq!(
            client.get(app.url("/account")).send().await.unwrap().status(),
            StatusCode::SEE_OTHER
        );
    }
}

#[tokio::test]
async fn another_organizations_pages_are_not_found_and_roles_limit_settings() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;
    let acme = app.create_org(&ada, "Acme").await;
    let eve = signup_in_browser(&app, "eve@example.com").await;

    for path in [format!("/orgs/{acme}"), format!("/orgs/{acme}/settings")] {
        let (status, html) = page(&eve, &app, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(!html.contains("Acme"), "{path} leaks nothing");
    }
    let (_, html) = page(&eve, &app, "/account").await;
    let csrf = csrf_in(&html);
    let rename = post_form(
        &eve,
        &app,
        &format!("/orgs/{acme}/settings"),
        &[("csrf_token", &csrf), ("name", "Pwned")],
    )
    .await;
    assert_eq!(rename.status(), StatusCode::NOT_FOUND);
    let delete = post_form(
        &eve,
        &app,
        &format!("/orgs/{acme}/delete"),
        &[("csrf_token", &csrf), ("confirm", "Acme")],
    )
    .await;
    assert_eq!(delete.status(), StatusCode::NOT_FOUND);

    // As a plain member, Eve sees the settings but cannot change them.
    app.add_member(&acme, "eve@example.com", mcplatform_core::org::Role::Member).await;
    let (status, html) = page(&eve, &app, &format!("/orgs/{acme}/settings")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Only owners and admins can rename") && !html.contains("Delete organization")
    );
    let rename = post_form(
        &eve,
        &app,
        &format!("/orgs/{acme}/settings"),
        &[("csrf_token", &csrf), ("name", "Pwned")],
    )
    .await;
    assert_eq!(rename.status(), StatusCode::FORBIDDEN);
    let org = app.store.get_organization(acme.parse().unwrap()).await.unwrap();
    assert_eq!(org.name.as_str(), "Acme");
}

#[tokio::test]
async fn the_owner_deletes_an_organization_after_typing_its_name() {
    let app = spawn_app().await;
    let client = signup_in_browser(&app, "ada@example.com").await;
    let (_, html) = page(&client, &app, "/orgs/new").await;
    let created =
        post_form(&client, &app, "/orgs/new", &[("csrf_token", &csrf_in(&html)), ("name", "Acme")])
            .await;
    let settings = format!("{}/settings", location(&created));
    let (_, html) = page(&client, &app, &settings).await;
    let csrf = csrf_in(&html);
    let delete_path = settings.replace("/settings", "/delete");

    let wrong =
        post_form(&client, &app, &delete_path, &[("csrf_token", &csrf), ("confirm", "acme")]).await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.text().await.unwrap().contains("exact name"));

    let done =
        post_form(&client, &app, &delete_path, &[("csrf_token", &csrf), ("confirm", "Acme")]).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(page(&client, &app, &settings).await.0, StatusCode::NOT_FOUND);
}

/// Signs up, creates an organization through the pages; returns the client and the org path.
async fn owner_with_org(app: &TestApp, email: &str, org: &str) -> (reqwest::Client, String) {
    let client = signup_in_browser(app, email).await;
    let (_, html) = page(&client, app, "/orgs/new").await;
    let created =
        post_form(&client, app, "/orgs/new", &[("csrf_token", &csrf_in(&html)), ("name", org)])
            .await;
    (client, location(&created))
}

pub(crate) fn server_form<'a>(
    csrf: &'a str,
    slug: &'a str,
    name: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf_token", csrf),
        ("slug", slug),
        ("name", name),
        ("product_name", ""),
        ("description", ""),
        ("auth_mode", "platform_oauth"),
        ("support_tool_enabled", "on"),
        ("telemetry_enabled", "on"),
        ("access_token_ttl_minutes", "60"),
        ("refresh_token_ttl_days", "30"),
    ]
}

#[tokio::test]
async fn an_admin_creates_a_server_and_gets_its_urls_and_install_snippets() {
    let app = spawn_app().await;
    let (client, org) = owner_with_org(&app, "ada@example.com", "Acme").await;
    let (_, html) = page(&client, &app, &org).await;
    assert!(html.contains("Create your first MCP server"));

    let (status, html) = page(&client, &app, &format!("{org}/servers/new")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("hx-get=") && html.contains("/servers/slug-check"),
        "live slug check is wired"
    );
    let response = post_form(
        &client,
        &app,
        &format!("{org}/servers/new"),
        &server_form(&csrf_in(&html), "acme-docs", "Acme Docs"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let server_page = location(&response);

    let (status, html) = page(&client, &app, &server_page).await;
    assert_eq!(status, StatusCode::OK);
    let port = app.port();
    assert!(html.contains(&format!("http://acme-docs.localhost:{port}/mcp")));
    assert!(html.contains(&format!("http://localhost:{port}/s/acme-docs/mcp")));
    let deeplink =
        html.split(r#"href=""#).find(|s| s.starts_with("cursor://")).expect("a Cursor link");
    assert!(
        deeplink.starts_with("cursor://anysphere.cursor-deeplink/mcp/install?name=acme-docs&"),
        "{deeplink}"
    );
    assert!(html.contains(&format!(
        "claude mcp add --transport http acme-docs http://acme-docs.localhost:{port}/mcp"
    )));
    assert!(html.contains("mcp-remote"));

    let (_, overview) = page(&client, &app, &org).await;
    assert!(overview.contains("Acme Docs") && overview.contains("acme-docs"));
}

#[tokio::test]
async fn a_taken_slug_gets_a_clear_message_live_and_on_submit() {
    let app = spawn_app().await;
    let (ada, ada_org) = owner_with_org(&app, "ada@example.com", "Acme").await;
    let (_, html) = page(&ada, &app, &format!("{ada_org}/servers/new")).await;
    post_form(
        &ada,
        &app,
        &format!("{ada_org}/servers/new"),
        &server_form(&csrf_in(&html), "acme", "Acme"),
    )
    .await;

    let (eve, eve_org) = owner_with_org(&app, "eve@example.com", "Evil").await;
    let (_, live) = page(&eve, &app, &format!("{eve_org}/servers/slug-check?slug=acme")).await;
    assert!(live.contains("acme is already taken"), "{live}");
    let (_, live) =
        page(&eve, &app, &format!("{eve_org}/servers/slug-check?slug=evil-tools")).await;
    assert!(live.contains("evil-tools is available"), "{live}");
    let (_, live) = page(&eve, &app, &format!("{eve_org}/servers/slug-check?slug=Bad_Slug")).await;
    assert!(live.contains("lowercase letters, digits and hyphens"), "{live}");

    let (_, html) = page(&eve, &app, &format!("{eve_org}/servers/new")).await;
    let response = post_form(
        &eve,
        &app,
        &format!("{eve_org}/servers/new"),
        &server_form(&csrf_in(&html), "acme", "Mine"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(html.contains("acme is already taken: choose another"));
    assert!(html.contains(r#"value="Mine""#), "the rest of the form is kept");
}

#[tokio::test]
async fn server_settings_are_edited_with_errors_next_to_fields_and_deleted_by_slug() {
    let app = spawn_app().await;
    let (client, org) = owner_with_org(&app, "ada@example.com", "Acme").await;
    let (_, html) = page(&client, &app, &format!("{org}/servers/new")).await;
    let created = post_form(
        &client,
        &app,
        &format!("{org}/servers/new"),
        &server_form(&csrf_in(&html), "acme", "Acme"),
    )
    .await;
    let server_page = location(&created);
    let (_, html) = page(&client, &app, &server_page).await;
    let csrf = csrf_in(&html);

    let mut bad = server_form(&csrf, "acme", "");
    bad.retain(|(k, _)| *k != "access_token_ttl_minutes");
    bad.push(("access_token_ttl_minutes", "abc"));
    let response = post_form(&client, &app, &server_page, &bad).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(
        html.contains(r#"id="name-error""#)
            && html.contains(r#"id="access_token_ttl_minutes-error""#)
    );

    let mut good = server_form(&csrf, "acme", "Acme Docs");
    good.retain(|(k, _)| *k != "support_tool_enabled");
    let response = post_form(&client, &app, &server_page, &good).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().contains("Settings saved."));
    let slug = mcplatform_core::mcp_server::Slug::parse("acme").unwrap();
    let stored = app.store.find_mcp_server_by_slug(&slug).await.unwrap().unwrap();
    assert_eq!(stored.settings.name, "Acme Docs");
    assert!(!stored.settings.support_tool_enabled, "an unticked box turns the tool off");

    let wrong = post_form(
        &client,
        &app,
        &format!("{server_page}/delete"),
        &[("csrf_token", &csrf), ("confirm", "nope")],
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let done = post_form(
        &client,
        &app,
        &format!("{server_page}/delete"),
        &[("csrf_token", &csrf), ("confirm", "acme")],
    )
    .await;
    assert_eq!((done.status(), location(&done)), (StatusCode::SEE_OTHER, org.clone()));
    assert!(app.store.find_mcp_server_by_slug(&slug).await.unwrap().is_none());
}

#[tokio::test]
async fn server_pages_are_hidden_from_other_organizations_and_read_only_for_members() {
    let app = spawn_app().await;
    let (ada, org) = owner_with_org(&app, "ada@example.com", "Acme").await;
    let (_, html) = page(&ada, &app, &format!("{org}/servers/new")).await;
    let created = post_form(
        &ada,
        &app,
        &format!("{org}/servers/new"),
        &server_form(&csrf_in(&html), "acme", "Acme"),
    )
    .await;
    let server_page = location(&created);

    let eve = signup_in_browser(&app, "eve@example.com").await;
    let (_, account) = page(&eve, &app, "/account").await;
    let csrf = csrf_in(&account);
    for path in [
        server_page.clone(),
        format!("{org}/servers/new"),
        format!("{org}/servers/slug-check?slug=x"),
    ] {
        assert_eq!(page(&eve, &app, &path).await.0, StatusCode::NOT_FOUND, "{path}");
    }
    let edit = post_form(&eve, &app, &server_page, &server_form(&csrf, "acme", "Pwned")).await;
    assert_eq!(edit.status(), StatusCode::NOT_FOUND);
    let delete = post_form(
        &eve,
        &app,
        &format!("{server_page}/delete"),
        &[("csrf_token", &csrf), ("confirm", "acme")],
    )
    .await;
    assert_eq!(delete.status(), StatusCode::NOT_FOUND);

    app.add_member(&org, "eve@example.com", mcplatform_core::org::Role::Member).await;
    let (status, html) = page(&eve, &app, &server_page).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Only owners and admins can change") && !html.contains("Delete this server")
    );
    assert_eq!(page(&eve, &app, &format!("{org}/servers/new")).await.0, StatusCode::FORBIDDEN);
    let edit = post_form(&eve, &app, &server_page, &server_form(&csrf, "acme", "Pwned")).await;
    assert_eq!(edit.status(), StatusCode::FORBIDDEN);
    let slug = mcplatform_core::mcp_server::Slug::parse("acme").unwrap();
    assert_eq!(
        app.store.find_mcp_server_by_slug(&slug).await.unwrap().unwrap().settings.name,
        "Acme"
    );
}

#[tokio::test]
async fn members_and_outbox_pages_follow_roles_and_tenancy() {
    let app = spawn_app().await;
    let (ada, org) = owner_with_org(&app, "ada@example.com", "Acme").await;
    let (_, html) = page(&ada, &app, &format!("{org}/members")).await;
    assert!(html.contains("Invite someone") && html.contains("ada@example.com"));
    let invited = post_form(
        &ada,
        &app,
        &format!("{org}/members/invite"),
        &[("csrf_token", &csrf_in(&html)), ("email", "bob@example.com"), ("role", "member")],
    )
    .await;
    assert_eq!(invited.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&ada, &app, &location(&invited)).await;
    assert!(
        html.contains("Invitation sent")
            && html.contains("bob@example.com")
            && html.contains("pending")
    );
    let again = post_form(
        &ada,
        &app,
        &format!("{org}/members/invite"),
        &[("csrf_token", &csrf_in(&html)), ("email", "bob@example.com"), ("role", "member")],
    )
    .await;
    assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(again.text().await.unwrap().contains("already open: resend it instead"));

    let (status, outbox) = page(&ada, &app, &format!("{org}/outbox")).await;
    assert_eq!(status, StatusCode::OK);
    for far in [format!("{org}/outbox?offset=4294967295"), format!("{org}/audit?offset=4294967295")]
    {
        let (status, html) = page(&ada, &app, &far).await;
        assert_eq!(status, StatusCode::OK, "a page far past the end is just empty: {far}");
        assert!(html.contains("Newer"), "{far}");
    }
    assert!(outbox.contains("invited you to Acme") && outbox.contains("/invitations/mcpi_"));
    let link =
        outbox.split("/invitations/").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();

    // The invitee, logged out, is told what to do; after signing up they come back and accept.
    let bob = crate::helpers::new_client();
    let (status, html) = page(&bob, &app, &format!("/invitations/{link}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Join Acme") && html.contains("bob@example.com"));
    let (_, signup) = page(&bob, &app, &format!("/signup?next=%2Finvitations%2F{link}")).await;
    let response = post_form(
        &bob,
        &app,
        &format!("/signup?next=%2Finvitations%2F{link}"),
        &[
            ("csrf_token", &csrf_in(&signup)),
            ("display_name", "Bob"),
            ("email", "bob@example.com"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(location(&response), format!("/invitations/{link}"));
    let (_, html) = page(&bob, &app, &format!("/invitations/{link}")).await;
    let accepted = post_form(
        &bob,
        &app,
        &format!("/invitations/{link}/accept"),
        &[("csrf_token", &csrf_in(&html))],
    )
    .await;
    assert_eq!((accepted.status(), location(&accepted)), (StatusCode::SEE_OTHER, org.clone()));

    // As a member, Bob sees the team but no invitation tools and no outbox.
    let (status, html) = page(&bob, &app, &format!("{org}/members")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!html.contains("Invite someone") && !html.contains(">Outbox<"));
    assert_eq!(page(&bob, &app, &format!("{org}/outbox")).await.0, StatusCode::FORBIDDEN);
    let (status, html) = page(&bob, &app, &format!("/invitations/{link}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a used link is closed");
    assert!(html.contains("this invitation was accepted"));

    // Someone from another organization gets 404 for all of it.
    let (eve, _) = owner_with_org(&app, "eve@example.com", "Evil").await;
    for path in [format!("{org}/members"), format!("{org}/outbox")] {
        assert_eq!(page(&eve, &app, &path).await.0, StatusCode::NOT_FOUND, "{path}");
    }
    let (_, html) = page(&eve, &app, "/account").await;
    let forged = post_form(
        &eve,
        &app,
        &format!("{org}/members/invite"),
        &[("csrf_token", &csrf_in(&html)), ("email", "eve2@example.com"), ("role", "owner")],
    )
    .await;
    assert_eq!(forged.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn api_keys_page_shows_a_new_key_once_and_revokes_it() {
    let app = spawn_app().await;
    let (ada, org) = owner_with_org(&app, "ada@example.com", "Acme").await;
    let (status, html) = page(&ada, &app, &format!("{org}/api-keys")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("No API keys yet"));
    let csrf = csrf_in(&html);

    let bad = post_form(
        &ada,
        &app,
        &format!("{org}/api-keys"),
        &[("csrf_token", &csrf), ("name", "ci"), ("target", "")],
    )
    .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().await.unwrap().contains("choose at least one scope"));

    let created = post_form(
        &ada,
        &app,
        &format!("{org}/api-keys"),
        &[("csrf_token", &csrf), ("name", "ci"), ("target", ""), ("scope", "management")],
    )
    .await;
    assert_eq!(
        (created.status(), location(&created)),
        (StatusCode::SEE_OTHER, format!("{org}/api-keys"))
    );
    let (_, html) = page(&ada, &app, &format!("{org}/api-keys")).await;
    let secret =
        html.split(r#"<code id="new-key">"#).nth(1).unwrap().split('<').next().unwrap().to_owned();
    assert!(secret.starts_with("mcpk_"));
    let (_, again) = page(&ada, &app, &format!("{org}/api-keys")).await;
    assert!(
        !again.contains(&secret) && again.contains(&format!("{}…", &secret[..9])),
        "shown once, then only its prefix"
    );

    let response = reqwest::Client::new()
        .get(app.url(&format!("/api/v1{org}/servers")))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "the key works");
    let key_id = again.split("/api-keys/").nth(1).unwrap().split('/').next().unwrap().to_owned();
    let revoked =
        post_form(&ada, &app, &format!("{org}/api-keys/{key_id}/revoke"), &[("csrf_token", &csrf)])
            .await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    let response = reqwest::Client::new()
        .get(app.url(&format!("/api/v1{org}/servers")))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let (eve, _) = owner_with_org(&app, "eve@example.com", "Evil").await;
    assert_eq!(page(&eve, &app, &format!("{org}/api-keys")).await.0, StatusCode::NOT_FOUND);
    app.add_member(&org, "eve@example.com", mcplatform_core::org::Role::Member).await;
    assert_eq!(page(&eve, &app, &format!("{org}/api-keys")).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_password_reset_pages_lead_from_the_login_page_to_a_new_password() {
    let app = spawn_app().await;
    signup_in_browser(&app, "ada@example.com").await;
    let client = new_client();
    let (_, login) = page(&client, &app, "/login").await;
    assert!(login.contains(r#"href="/password/forgot""#));
    let (_, html) = page(&client, &app, "/password/forgot").await;
    let sent = post_form(
        &client,
        &app,
        "/password/forgot",
        &[("csrf_token", &csrf_in(&html)), ("email", "ada@example.com")],
    )
    .await;
    assert!(sent.text().await.unwrap().contains("Check your email"));

    let queued = app.store.due_emails(app.clock_now(), 10).await.unwrap();
    let body = &queued.iter().find(|m| m.subject.contains("Reset")).unwrap().body_text;
    let path = format!(
        "/password/reset/{}",
        body.split("/password/reset/").nth(1).unwrap().split_whitespace().next().unwrap()
    );
    let (status, html) = page(&client, &app, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("For ada@example.com"));
    let csrf = csrf_in(&html);
    let weak =
        post_form(&client, &app, &path, &[("csrf_token", &csrf), ("password", "short")]).await;
    assert_eq!(weak.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let done = post_form(
        &client,
        &app,
        &path,
        &[("csrf_token", &csrf), ("password", "a brand new passphrase")],
    )
    .await;
    assert_eq!(
        (done.status(), location(&done)),
        (StatusCode::SEE_OTHER, "/login?reset=done".to_owned())
    );
    let (_, login) = page(&client, &app, "/login?reset=done").await;
    assert!(login.contains("Password changed."));
    assert_eq!(page(&client, &app, &path).await.0, StatusCode::NOT_FOUND, "used up");
}

#[tokio::test]
async fn saving_the_form_keeps_lifetimes_the_api_set_in_seconds() {
    use std::time::Duration;

    let app = spawn_app().await;
    let (client, org) = owner_with_org(&app, "ada@example.com", "Acme").await;
    let (_, html) = page(&client, &app, &format!("{org}/servers/new")).await;
    let csrf = csrf_in(&html);
    let form = server_form(&csrf, "acme", "Acme");
    let created = post_form(&client, &app, &format!("{org}/servers/new"), &form).await;
    let server_page = location(&created);
    // The API sets lifetimes in seconds, finer than the form's minutes and days.
    let slug = mcplatform_core::mcp_server::Slug::parse("acme").unwrap();
    let server = app.store.find_mcp_server_by_slug(&slug).await.unwrap().unwrap();
    let mut settings = server.settings.clone();
    settings.access_token_ttl = Duration::from_secs(90);
    settings.refresh_token_ttl = Duration::from_secs(36 * 3600);
    app.store
        .update_mcp_server(server.organization_id, server.id, &settings, app.clock_now())
        .await
        .unwrap();

    // The form shows them rounded (1 minute, 1 day) and is saved with another change.
    let (_, html) = page(&client, &app, &server_page).await;
    assert!(
        html.contains(
            r#"name="access_token_ttl_minutes" type="number" min="1" max="1440" value="1""#
        ),
        "{html}"
    );
    let csrf = csrf_in(&html);
    let mut form = server_form(&csrf, "acme", "Acme Docs");
    form.retain(|(k, _)| !k.ends_with("_minutes") && !k.ends_with("_days"));
    form.extend([("access_token_ttl_minutes", "1"), ("refresh_token_ttl_days", "1")]);
    let response = post_form(&client, &app, &server_page, &form).await;
    assert_eq!(response.status(), StatusCode::OK);

    let stored = app.store.find_mcp_server_by_slug(&slug).await.unwrap().unwrap();
    assert_eq!(stored.settings.name, "Acme Docs");
    assert_eq!(stored.settings.access_token_ttl, Duration::from_secs(90), "not rounded down");
    assert_eq!(stored.settings.refresh_token_ttl, Duration::from_secs(36 * 3600));

    // A number the person changed does apply.
    form.retain(|(k, _)| *k != "access_token_ttl_minutes");
    form.push(("access_token_ttl_minutes", "5"));
    post_form(&client, &app, &server_page, &form).await;
    let stored = app.store.find_mcp_server_by_slug(&slug).await.unwrap().unwrap();
    assert_eq!(stored.settings.access_token_ttl, Duration::from_secs(300));
}

#[tokio::test]
async fn the_home_page_opens_the_organization_last_worked_in_while_still_a_member() {
    let app = spawn_app().await;
    let (client, org_path) = owner_with_org(&app, "ada@example.com", "Acme").await;
    assert_eq!(page(&client, &app, &org_path).await.0, StatusCode::OK);
    let response = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(location(&response), org_path);

    // Once the organization is gone, home is the list again.
    let org = org_path.trim_start_matches("/orgs/").parse().unwrap();
    app.store.delete_organization(org).await.unwrap();
    let response = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(location(&response), "/orgs");
}
