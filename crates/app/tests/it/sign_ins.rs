//! Who signed in to a server, seen and revoked: by the organization on the dashboard's
//! sign-ins page, and by the end user on the server's own `/oauth/grants` page.

use mcplatform_core::org::Role;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::dashboard::{csrf_in, hidden, page, post_form};
use crate::helpers::{call, new_client};
use crate::oauth_flow::{Fixture, fixture, param};

/// The status `/oauth/userinfo` answers for an access token.
async fn userinfo(f: &Fixture, tokens: &Value) -> StatusCode {
    let token = tokens["access_token"].as_str().unwrap();
    let url = f.app.url(&f.path("/oauth/userinfo"));
    f.app.client.get(url).bearer_auth(token).send().await.unwrap().status()
}

#[tokio::test]
async fn the_organization_sees_who_allowed_what_and_revoking_ends_that_access_at_once() {
    let f = fixture().await;
    let browser = new_client();
    let (client_id, tokens) = f.tokens_in(&browser).await;
    let (other_client, other_tokens) = f.tokens_in(&new_client()).await;
    assert_eq!(userinfo(&f, &tokens).await, StatusCode::OK);

    let path = format!("/orgs/{}/servers/{}/sign-ins", f.org, f.server_id);
    let (status, html) = page(&f.owner.client, &f.app, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("ada@idp.test") && html.contains("Test Editor"), "{html}");
    assert!(html.contains(&client_id) && html.contains("self-registered"), "{html}");
    assert!(html.contains("public (PKCE only)") && html.contains("127.0.0.1"), "{html}");
    let server_page = format!("/orgs/{}/servers/{}", f.org, f.server_id);
    assert!(page(&f.owner.client, &f.app, &server_page).await.1.contains(&path));

    // A member sees the page but cannot revoke.
    let bob = f.app.signup("bob@example.com").await;
    f.app.add_member(&f.org, "bob@example.com", Role::Member).await;
    let (status, member_view) = page(&bob.client, &f.app, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!member_view.contains("grants/revoke"), "no revoke buttons for members");
    let end_user = hidden(&html, "end_user_id");
    let revoke = format!("/orgs/{}/servers/{}/grants/revoke", f.org, f.server_id);
    let form = [
        ("csrf_token", csrf_in(&member_view)),
        ("end_user_id", end_user.clone()),
        ("client_id", client_id.clone()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(
        post_form(&bob.client, &f.app, &revoke, &form).await.status(),
        StatusCode::FORBIDDEN
    );

    // Another organization's admin finds nothing there.
    let eve = f.app.signup("eve@example.com").await;
    f.app.create_org(&eve, "Elsewhere").await;
    assert_eq!(page(&eve.client, &f.app, &path).await.0, StatusCode::NOT_FOUND);

    // A code issued under the consent but not exchanged yet (the browser is still signed in
    // and the client allowed: the code comes at once).
    let response = browser.get(f.app.url(&f.authorize_path(&client_id, &[]))).send().await.unwrap();
    let pending = param(&url::Url::parse(&crate::dashboard::location(&response)).unwrap(), "code");

    // The owner revokes the first client's grant: its tokens stop working, the other's do not.
    let form = [
        ("csrf_token", csrf_in(&html)),
        ("end_user_id", end_user.clone()),
        ("client_id", client_id.clone()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response = post_form(&f.owner.client, &f.app, &revoke, &form).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(userinfo(&f, &tokens).await, StatusCode::UNAUTHORIZED);
    let (status, answer) = f.refresh(&client_id, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(userinfo(&f, &other_tokens).await, StatusCode::OK);
    let (status, answer) = f.exchange(&client_id, &pending.unwrap()).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // Revoked twice: there is nothing left to revoke.
    let response = post_form(&f.owner.client, &f.app, &revoke, &form).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // The consent is gone: the same browser is asked again.
    let response = browser.get(f.app.url(&f.authorize_path(&client_id, &[]))).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "the consent page again");

    // Revoking the other client itself, from the same page.
    let revoke_client =
        format!("/orgs/{}/servers/{}/oauth-clients/{other_client}/revoke", f.org, f.server_id);
    let csrf = csrf_in(&html);
    let response =
        post_form(&f.owner.client, &f.app, &revoke_client, &[("csrf_token", &csrf)]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(userinfo(&f, &other_tokens).await, StatusCode::UNAUTHORIZED);

    let audit = format!("/api/v1/orgs/{}/audit-events?area=oauth_client", f.org);
    let (status, events) = call(&f.app, &f.owner, Method::GET, &audit, None).await;
    assert_eq!(status, StatusCode::OK);
    let actions: Vec<&str> =
        events["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"oauth_client.grant_revoked"), "{actions:?}");
    assert!(actions.contains(&"oauth_client.revoked"), "{actions:?}");
}

#[tokio::test]
async fn an_end_user_sees_and_revokes_the_applications_they_allowed_in_their_own_browser() {
    let f = fixture().await;
    let browser = new_client();
    let (_, tokens) = f.tokens_in(&browser).await;
    let grants = f.app.url(&f.path("/oauth/grants"));

    let response = browser.get(&grants).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let html = response.text().await.unwrap();
    assert!(html.contains("Test Editor") && html.contains("ada@idp.test"), "{html}");
    assert!(html.contains("Use this MCP server"), "scopes are described: {html}");

    // Without the sign-in cookie, nothing is shown; a forged or cross-site form does nothing.
    assert_eq!(new_client().get(&grants).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let client_id = hidden(&html, "client_id");
    let revoke = f.app.url(&f.path("/oauth/grants/revoke"));
    let forged = [("csrf_token", "forged"), ("client_id", client_id.as_str())];
    let response = browser.post(&revoke).form(&forged).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let csrf = hidden(&html, "csrf_token");
    let form = [("csrf_token", csrf.as_str()), ("client_id", client_id.as_str())];
    let response =
        browser.post(&revoke).header("origin", "https://evil.example").form(&form).send().await;
    assert_eq!(response.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(userinfo(&f, &tokens).await, StatusCode::OK);

    let response = browser.post(&revoke).form(&form).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(html.contains("Access revoked") && html.contains("None."), "{html}");
    assert_eq!(userinfo(&f, &tokens).await, StatusCode::UNAUTHORIZED);
}
