//! A hosted server as an OAuth 2.1 authorization server, driven over HTTP like a client and a
//! browser would: registration (RFC 7591), authorization with PKCE, our consent page, login
//! through the organization's identity provider (the fake IdP), codes, tokens, refresh rotation,
//! and every way a request can be wrong.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::dashboard::{hidden, location};
use crate::fake_idp::FakeIdp;
use crate::helpers::{TestApp, TestUser, call, new_client, spawn_app_with};

pub(crate) const REDIRECT: &str = "http://127.0.0.1:43210/callback";
const VERIFIER: &str = "a-code-verifier-that-is-long-enough-for-rfc-7636-0123456789";

pub(crate) struct Fixture {
    pub app: TestApp,
    pub idp: FakeIdp,
    pub owner: TestUser,
    pub org: String,
    /// The server the helpers talk to: at first `acme`, signing in through the fake IdP.
    pub slug: String,
    pub server_name: String,
    pub server_id: String,
    /// `http://localhost:{port}/s/{slug}`
    pub issuer: String,
}

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
}

/// An organization with a `custom_oauth` server `acme` signing in through the fake IdP.
pub(crate) async fn fixture() -> Fixture {
    fixture_with(|_| {}).await
}

/// The fixture on an app whose configuration `customize` adjusted.
async fn fixture_with(customize: impl FnOnce(&mut mcplatform_app::config::Config)) -> Fixture {
    let idp = FakeIdp::start().await;
    let app = spawn_app_with(|c| {
        c.http.outbound_allow_private_networks = true;
        customize(c);
    })
    .await;
    let ada = app.signup("ada@example.com").await;
    let org = app.create_org(&ada, "Acme").await;
    let body = json!({"kind": "oidc", "name": "Acme SSO", "client_id": "client-1",
        "client_secret": "secret-1", "issuer": idp.base});
    let path = format!("/api/v1/orgs/{org}/identity-providers");
    let (status, provider) = call(&app, &ada, Method::POST, &path, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{provider}");
    let body = json!({"slug": "acme", "name": "Acme Docs", "auth_mode": "custom_oauth",
        "identity_provider_id": provider["id"]});
    let server = app.create_server(&ada, &org, body).await;
    let port = app.port().to_owned();
    let server_id = server["id"].as_str().unwrap().to_owned();
    Fixture {
        app,
        idp,
        owner: ada,
        org,
        slug: "acme".into(),
        server_name: "Acme Docs".into(),
        server_id,
        issuer: format!("http://localhost:{port}/s/acme"),
    }
}

impl Fixture {
    /// Creates another server of the organization (`body` names slug, name and auth mode) and
    /// points the helpers at it.
    pub async fn use_new_server(&mut self, body: Value) -> Value {
        let server = self.app.create_server(&self.owner, &self.org, body).await;
        self.slug = server["slug"].as_str().unwrap().to_owned();
        self.server_name = server["name"].as_str().unwrap().to_owned();
        self.server_id = server["id"].as_str().unwrap().to_owned();
        self.issuer = format!("http://localhost:{}/s/{}", self.app.port(), self.slug);
        server
    }

    /// A path on the current server: `/s/{slug}{path}`.
    pub fn path(&self, path: &str) -> String {
        format!("/s/{}{path}", self.slug)
    }

    /// A new API key of server `server_id` with `scopes`: its secret.
    pub async fn server_key(&self, server_id: &str, scopes: &[&str]) -> String {
        let path = format!("/api/v1/orgs/{}/api-keys", self.org);
        let body = json!({"name": "resource server", "scopes": scopes, "mcp_server_id": server_id});
        let (status, key) = call(&self.app, &self.owner, Method::POST, &path, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{key}");
        key["secret"].as_str().unwrap().to_owned()
    }

    pub async fn introspect(&self, slug: &str, key: &str, token: &str) -> (StatusCode, Value) {
        let response = self
            .app
            .client
            .post(self.app.url(&format!("/s/{slug}/oauth/introspect")))
            .bearer_auth(key)
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }

    /// Signs in a public client and exchanges the code: the client id and the tokens.
    pub async fn tokens(&self) -> (String, Value) {
        self.tokens_in(&new_client()).await
    }

    /// [`Self::tokens`] with the sign-in in `browser`, which stays signed in at the server.
    pub async fn tokens_in(&self, browser: &reqwest::Client) -> (String, Value) {
        let client_id = self.public_client().await;
        let back = self.sign_in(browser, &self.authorize_path(&client_id, &[])).await;
        let (status, tokens) = self.exchange(&client_id, &param(&back, "code").unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        (client_id, tokens)
    }

    pub async fn register(&self, body: Value) -> (StatusCode, Value) {
        let response = self
            .app
            .client
            .post(self.app.url(&self.path("/oauth/register")))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert_eq!(response.headers()["cache-control"], "no-store");
        (status, response.json().await.unwrap())
    }

    pub async fn public_client(&self) -> String {
        let (status, client) = self
            .register(json!({
                "redirect_uris": [REDIRECT],
                "token_endpoint_auth_method": "none",
                "client_name": "Test Editor",
                "application_type": "native",
            }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{client}");
        client["client_id"].as_str().unwrap().to_owned()
    }

    pub fn authorize_path(&self, client_id: &str, extra: &[(&str, &str)]) -> String {
        let challenge = challenge(VERIFIER);
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("state", "client-state-1"),
        ];
        for (name, value) in extra {
            params.retain(|(n, _)| n != name);
            if !value.is_empty() {
                params.push((name, value));
            }
        }
        let query: String =
            url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
        self.path(&format!("/oauth/authorize?{query}"))
    }

    /// Opens the consent page in `browser`: the request id and the form token.
    pub async fn consent(&self, browser: &reqwest::Client, path: &str) -> (String, String) {
        let response = browser.get(self.app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{:?}", response.headers().get("location"));
        assert_eq!(response.headers()["cache-control"], "no-store");
        let html = response.text().await.unwrap();
        let asks = format!("Allow Test Editor to use {}?", self.server_name);
        assert!(html.contains(&asks), "{html}");
        assert!(html.contains("127.0.0.1"), "the redirect host is shown: {html}");
        assert!(html.contains("runs on your own computer"), "localhost-only apps are flagged");
        (hidden(&html, "request"), hidden(&html, "csrf_token"))
    }

    pub async fn decide(
        &self,
        browser: &reqwest::Client,
        request: &str,
        csrf: &str,
        decision: &str,
    ) -> reqwest::Response {
        browser
            .post(self.app.url(&self.path("/oauth/authorize/decision")))
            .form(&[("request", request), ("csrf_token", csrf), ("decision", decision)])
            .send()
            .await
            .unwrap()
    }

    /// Consent, then the IdP, then back: the redirect to the client.
    pub async fn sign_in(&self, browser: &reqwest::Client, path: &str) -> url::Url {
        let (request, csrf) = self.consent(browser, path).await;
        let response = self.decide(browser, &request, &csrf, "allow").await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let upstream = location(&response);
        assert!(upstream.starts_with(&self.idp.base), "to the customer's IdP: {upstream}");
        let response = new_client().get(&upstream).send().await.unwrap();
        let callback = self.app.local(&location(&response));
        let response = browser.get(&callback).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{}", response.text().await.unwrap());
        let resume = location(&response);
        assert!(
            resume.starts_with(&format!("{}/oauth/authorize/continue", self.issuer)),
            "{resume}"
        );
        let response = browser.get(self.app.local(&resume)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{}", response.text().await.unwrap());
        url::Url::parse(&location(&response)).unwrap()
    }

    pub async fn token(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let response = self
            .app
            .client
            .post(self.app.url(&self.path("/oauth/token")))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert_eq!(response.headers()["cache-control"], "no-store");
        if status == StatusCode::UNAUTHORIZED {
            // RFC 9110 §15.5.2: every 401 says how to authenticate.
            assert!(response.headers().contains_key("www-authenticate"));
        }
        (status, response.json().await.unwrap())
    }

    pub async fn exchange(&self, client_id: &str, code: &str) -> (StatusCode, Value) {
        self.exchange_with(client_id, code, &[]).await
    }

    /// The code exchange with some fields replaced or added (an empty value drops the field).
    pub async fn exchange_with(
        &self,
        client_id: &str,
        code: &str,
        changes: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", client_id),
        ];
        for (name, value) in changes {
            form.retain(|(n, _)| n != name);
            if !value.is_empty() {
                form.push((name, value));
            }
        }
        self.token(&form).await
    }

    pub async fn refresh(&self, client_id: &str, refresh_token: &str) -> (StatusCode, Value) {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", client_id),
        ])
        .await
    }
}

pub(crate) fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

pub(crate) fn jwt_parts(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let mut decode =
        || serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap()).unwrap();
    (decode(), decode())
}

#[tokio::test]
async fn a_public_client_registers_gets_consent_signs_in_upstream_and_gets_audience_bound_tokens() {
    let f = fixture().await;
    let client_id = f.public_client().await;
    assert!(client_id.starts_with("mcp_client_"), "{client_id}");

    let browser = new_client();
    let back = f.sign_in(&browser, &f.authorize_path(&client_id, &[])).await;
    assert!(back.as_str().starts_with(REDIRECT), "{back}");
    assert_eq!(param(&back, "state").as_deref(), Some("client-state-1"));
    assert_eq!(param(&back, "iss").as_deref(), Some(f.issuer.as_str()), "RFC 9207");
    let code = param(&back, "code").unwrap();
    assert!(code.starts_with("mcp_ac_"));

    let (status, tokens) = f.exchange(&client_id, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert_eq!(tokens["scope"], "mcp", "the default scope");
    assert!(tokens["refresh_token"].as_str().unwrap().starts_with("mcp_rt_"));
    let (header, claims) = jwt_parts(tokens["access_token"].as_str().unwrap());
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "ES256");
    assert_eq!(claims["iss"], f.issuer.as_str());
    assert_eq!(claims["aud"], format!("{}/mcp", f.issuer), "the default resource");
    assert_eq!(claims["client_id"], client_id.as_str());
    assert_eq!(claims["scope"], "mcp");
    assert!(claims["jti"].is_string() && claims["sub"].is_string());

    // The key that signed it is published at the issuer's JWKS.
    let jwks: Value = f.app.get("/s/acme/oauth/jwks").await.json().await.unwrap();
    assert!(jwks["keys"].as_array().unwrap().iter().any(|k| k["kid"] == header["kid"]));

    // The end user was recorded with what the provider said, their IdP token kept server-side.
    let sub = claims["sub"].as_str().unwrap().parse().unwrap();
    let org = f
        .app
        .store
        .find_mcp_server_by_slug(&mcplatform_core::mcp_server::Slug::parse("acme").unwrap())
        .await
        .unwrap()
        .unwrap();
    let end_user = f.app.store.get_end_user(org.organization_id, sub).await.unwrap();
    assert_eq!(end_user.email.as_deref(), Some("ada@idp.test"));
    assert_eq!(end_user.name.as_deref(), Some("Ada"));
    assert!(!tokens.to_string().contains("upstream-token"), "no token passthrough");
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(f.app.db.url.expose()).await.unwrap();
    let sealed: String = sqlx::query_scalar(
        "SELECT access_token_sealed FROM upstream_tokens WHERE end_user_id = $1",
    )
    .bind(end_user.id.to_string())
    .fetch_one(&db)
    .await
    .unwrap();
    let sealed = base64::engine::general_purpose::STANDARD.decode(sealed).unwrap();
    assert!(!sealed.windows(14).any(|w| w == b"upstream-token"), "kept, sealed");

    // The same browser again: consent is remembered and the sign-in too, so the code comes at once.
    let response = browser.get(f.app.url(&f.authorize_path(&client_id, &[]))).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let again = url::Url::parse(&location(&response)).unwrap();
    assert!(param(&again, "code").is_some(), "{again}");
    // Asking for more than was allowed shows the consent page again.
    let wider = f.authorize_path(&client_id, &[("scope", "mcp email")]);
    f.consent(&browser, &wider).await;
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_its_whole_family() {
    let f = fixture().await;
    let client_id = f.public_client().await;
    let back = f.sign_in(&new_client(), &f.authorize_path(&client_id, &[])).await;
    let (_, tokens) = f.exchange(&client_id, &param(&back, "code").unwrap()).await;
    let first = tokens["refresh_token"].as_str().unwrap().to_owned();

    let (status, refreshed) = f.refresh(&client_id, &first).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let second = refreshed["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(first, second, "rotated");
    let (_, old_claims) = jwt_parts(tokens["access_token"].as_str().unwrap());
    let (_, new_claims) = jwt_parts(refreshed["access_token"].as_str().unwrap());
    assert_eq!(new_claims["sub"], old_claims["sub"]);
    assert_eq!(new_claims["sid"], old_claims["sid"], "the same family");
    assert_ne!(new_claims["jti"], old_claims["jti"]);

    // A narrower scope is fine; a wider one is not.
    let wider = f
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &second),
            ("client_id", &client_id),
            ("scope", "mcp email"),
        ])
        .await;
    assert_eq!(
        (wider.0, wider.1["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );

    // The first token again: someone else has it. The family dies, the live token with it.
    let (status, reused) = f.refresh(&client_id, &first).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(reused["error"], "invalid_grant");
    assert!(reused["error_description"].as_str().unwrap().contains("already used"));
    let (status, dead) = f.refresh(&client_id, &second).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(dead["error_description"], "the refresh token was revoked");
}

#[tokio::test]
async fn a_code_works_once_and_its_replay_revokes_what_it_issued() {
    let f = fixture().await;
    let client_id = f.public_client().await;
    let back = f.sign_in(&new_client(), &f.authorize_path(&client_id, &[])).await;
    let code = param(&back, "code").unwrap();

    // Wrong verifier, wrong redirect URI, another resource: refused without using the code up.
    let other_verifier = VERIFIER.replace('a', "b");
    let (status, wrong) =
        f.exchange_with(&client_id, &code, &[("code_verifier", &other_verifier)]).await;
    assert_eq!((status, wrong["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    assert!(wrong["error_description"].as_str().unwrap().contains("code_verifier"));
    let (_, wrong) = f
        .exchange_with(&client_id, &code, &[("redirect_uri", "http://127.0.0.1:43210/other")])
        .await;
    assert_eq!(wrong["error"], "invalid_grant");
    let (_, wrong) =
        f.exchange_with(&client_id, &code, &[("resource", "https://elsewhere.example/mcp")]).await;
    assert_eq!(wrong["error"], "invalid_target");

    let (status, tokens) = f.exchange(&client_id, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let (status, replay) = f.exchange(&client_id, &code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(replay["error_description"], "the code was already used");
    let (_, dead) = f.refresh(&client_id, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(dead["error_description"], "the refresh token was revoked");
}

#[tokio::test]
async fn an_expired_code_and_an_unknown_client_are_refused() {
    let f = fixture().await;
    let client_id = f.public_client().await;
    let back = f.sign_in(&new_client(), &f.authorize_path(&client_id, &[])).await;
    f.app.clock.advance(std::time::Duration::from_secs(6 * 60));
    let (status, expired) = f.exchange(&client_id, &param(&back, "code").unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(expired["error_description"], "the code has expired");

    let (status, unknown) = f.exchange("mcp_client_nobody", "mcp_ac_nothing").await;
    assert_eq!(
        (status, unknown["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    let (status, no_grant) =
        f.token(&[("grant_type", "password"), ("client_id", &client_id)]).await;
    assert_eq!(
        (status, no_grant["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
    );
}

#[tokio::test]
async fn bad_authorization_requests_get_the_exact_error_where_it_belongs() {
    let f = fixture().await;
    let client_id = f.public_client().await;
    let app = &f.app;
    let get = |path: String| async move { app.client.get(app.url(&path)).send().await.unwrap() };

    // The redirect URI cannot be trusted: the person sees the error, the client gets nothing.
    for (extra, said) in [
        (vec![("redirect_uri", "http://127.0.0.1:43210/evil")], "is not registered"),
        (vec![("redirect_uri", "https://attacker.example/callback")], "is not registered"),
        (vec![("client_id", "mcp_client_unknown")], "No application"),
    ] {
        let response = get(f.authorize_path(&client_id, &extra)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(response.headers().get("location").is_none(), "no redirect");
        assert!(response.text().await.unwrap().contains(said));
    }
    // Any port of a loopback redirect is the same redirect (RFC 8252 §7.3).
    let other_port =
        f.authorize_path(&client_id, &[("redirect_uri", "http://127.0.0.1:5999/callback")]);
    assert_eq!(get(other_port).await.status(), StatusCode::OK);

    // Otherwise the error goes back to the client, with its state and our iss.
    for (extra, error) in [
        (vec![("code_challenge", "")], "invalid_request"),
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (vec![("code_challenge_method", "")], "invalid_request"),
        (vec![("response_type", "token")], "unsupported_response_type"),
        (vec![("scope", "mcp admin")], "invalid_scope"),
        (vec![("resource", "https://elsewhere.example/mcp")], "invalid_target"),
    ] {
        let response = get(f.authorize_path(&client_id, &extra)).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{extra:?}");
        let back = url::Url::parse(&location(&response)).unwrap();
        assert!(back.as_str().starts_with(REDIRECT));
        assert_eq!(param(&back, "error").as_deref(), Some(error), "{extra:?}");
        assert_eq!(param(&back, "state").as_deref(), Some("client-state-1"));
        assert_eq!(param(&back, "iss").as_deref(), Some(f.issuer.as_str()));
    }
    // A state that could not come back byte for byte is refused, without echoing it.
    let response = get(f.authorize_path(&client_id, &[("state", "caf\u{e9}")])).await;
    let back = url::Url::parse(&location(&response)).unwrap();
    assert_eq!(param(&back, "error").as_deref(), Some("invalid_request"));
    assert_eq!(param(&back, "state"), None);
    // RFC 6749 §3.1: a repeated parameter is an error, a repeated state too.
    let twice = format!("{}&state=other", f.authorize_path(&client_id, &[]));
    let back = url::Url::parse(&location(&get(twice).await)).unwrap();
    assert_eq!(param(&back, "error").as_deref(), Some("invalid_request"));
    assert_eq!(param(&back, "state"), None);
    // Descriptions keep to RFC 6749's characters, though they quote what they refuse.
    let response = get(f.authorize_path(&client_id, &[("scope", "mcp admin")])).await;
    let back = url::Url::parse(&location(&response)).unwrap();
    let description = param(&back, "error_description").unwrap();
    assert!(description.contains("admin") && !description.contains('"'), "{description}");
    let not_utf8 = format!("{}&x=%FF", f.authorize_path(&client_id, &[]));
    let response = get(not_utf8).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("not valid UTF-8"));

    // A client that registered its scopes asks within them, and gets them by default.
    let (_, narrow) = f
        .register(json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none",
            "scope": "mcp"}))
        .await;
    let narrow_id = narrow["client_id"].as_str().unwrap();
    let response = get(f.authorize_path(narrow_id, &[("scope", "mcp email")])).await;
    let back = url::Url::parse(&location(&response)).unwrap();
    assert_eq!(param(&back, "error").as_deref(), Some("invalid_scope"));

    // Both URL forms' resources are the server's.
    let port = f.app.port();
    let subdomain_resource = format!("http://acme.localhost:{port}/mcp");
    let ok = f.authorize_path(&client_id, &[("resource", &subdomain_resource)]);
    assert_eq!(get(ok).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn consent_is_bound_to_the_browser_that_asked_and_can_be_declined() {
    let f = fixture().await;
    let client_id = f.public_client().await;
    let victim = new_client();
    let (request, csrf) = f.consent(&victim, &f.authorize_path(&client_id, &[])).await;

    // Another browser (an attacker who learned the ids) cannot approve it.
    let attacker = new_client();
    let response = f.decide(&attacker, &request, &csrf, "allow").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // Nor can a form without the page's token, or one posted from another site.
    let response = f.decide(&victim, &request, "forged", "allow").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = victim
        .post(f.app.url("/s/acme/oauth/authorize/decision"))
        .header("origin", "https://attacker.example")
        .form(&[("request", request.as_str()), ("csrf_token", &csrf), ("decision", "allow")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // The person declines: the client hears access_denied.
    let response = f.decide(&victim, &request, &csrf, "deny").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let back = url::Url::parse(&location(&response)).unwrap();
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&back, "iss").as_deref(), Some(f.issuer.as_str()));
}

#[tokio::test]
async fn registration_checks_metadata_and_confidential_clients_authenticate() {
    let f = fixture().await;
    for (body, error) in [
        (json!({"redirect_uris": ["http://attacker.example/cb"]}), "invalid_redirect_uri"),
        (json!({"redirect_uris": []}), "invalid_redirect_uri"),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["implicit"]}),
            "invalid_client_metadata",
        ),
        (json!({"redirect_uris": "https://a.example/cb"}), "invalid_client_metadata"),
    ] {
        let (status, answer) = f.register(body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer["error"], error, "{body}: {answer}");
    }

    let (status, client) =
        f.register(json!({"redirect_uris": [REDIRECT], "client_name": "Server App"})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(client["token_endpoint_auth_method"], "client_secret_basic", "RFC 7591 default");
    let secret = client["client_secret"].as_str().unwrap();
    assert!(secret.starts_with("mcp_secret_"));
    assert_eq!(client["client_secret_expires_at"], 0);
    let client_id = client["client_id"].as_str().unwrap();

    // Without its secret, or with a wrong one: 401 with a Basic challenge.
    let (status, answer) = f.exchange(client_id, "mcp_ac_x").await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    let response = f
        .app
        .client
        .post(f.app.url("/s/acme/oauth/token"))
        .basic_auth(client_id, Some("mcp_secret_wrong"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "mcp_ac_x"),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic"));
    // With it (Basic or in the form), the client is known and only the code is wrong.
    let response = f
        .app
        .client
        .post(f.app.url("/s/acme/oauth/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "mcp_ac_x"),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["error"], "invalid_grant");
    let (_, answer) = f
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", "mcp_ac_x"),
            ("code_verifier", VERIFIER),
            ("client_id", client_id),
            ("client_secret", secret),
        ])
        .await;
    assert_eq!(answer["error"], "invalid_grant");
}

#[tokio::test]
async fn clients_and_codes_of_one_server_mean_nothing_to_another() {
    let f = fixture().await;
    let client_id = f.public_client().await;
    let back = f.sign_in(&new_client(), &f.authorize_path(&client_id, &[])).await;
    let code = param(&back, "code").unwrap();

    // A second organization's server, with its own client.
    let app = &f.app;
    let bob = app.signup("bob@example.com").await;
    let globex = app.create_org(&bob, "Globex").await;
    app.create_server(&bob, &globex, json!({"slug": "globex", "name": "Globex"})).await;
    let response = app
        .client
        .post(app.url("/s/globex/oauth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "acme's client is unknown to globex");
    let path = format!("/s/globex/oauth/authorize?client_id={client_id}&response_type=code");
    let response = app.client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // A server whose users are not identified by OAuth has no authorization server at all.
    app.create_server(&bob, &globex, json!({"slug": "anon", "name": "Anon", "auth_mode": "none"}))
        .await;
    for path in ["/s/anon/.well-known/oauth-authorization-server", "/s/anon/oauth/jwks"] {
        assert_eq!(app.get(path).await.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let response = app
        .client
        .post(app.url("/s/anon/oauth/register"))
        .json(&json!({"redirect_uris": [REDIRECT]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn introspection_validation_userinfo_and_revocation_agree_on_what_a_token_is_worth() {
    let f = fixture().await;
    let (client_id, tokens) = f.tokens().await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let key = f.server_key(&f.server_id, &["auth:introspect"]).await;

    let (status, answer) = f.introspect("acme", &key, access).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["client_id"], client_id.as_str());
    assert_eq!(answer["aud"], format!("{}/mcp", f.issuer));
    assert_eq!(answer["scope"], "mcp");
    assert_eq!(answer["email"], "ada@idp.test", "who the end user is");
    let (_, answer) = f.introspect("acme", &key, refresh).await;
    assert_eq!(
        (answer["active"].as_bool(), answer["token_type"].as_str()),
        (Some(true), Some("refresh_token"))
    );

    // The SDK endpoint answers the same for the key's server.
    let response = f
        .app
        .client
        .post(f.app.url("/api/mcp-auth/validate"))
        .bearer_auth(&key)
        .json(&json!({"token": access}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let validated: Value = response.json().await.unwrap();
    assert_eq!(validated["sub"], answer["sub"]);
    assert_eq!(validated["active"], true);

    // Callers need a key with the scope; garbage and tampered tokens are simply inactive.
    let telemetry = f.server_key(&f.server_id, &["telemetry:write"]).await;
    for bad_key in ["", "mcpk_unknown", telemetry.as_str()] {
        let (status, answer) = f.introspect("acme", bad_key, access).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad_key}: {answer}");
    }
    // Another end user's id in the payload, the signature left as it was.
    let parts: Vec<&str> = access.split('.').collect();
    let (_, mut claims) = jwt_parts(access);
    claims["sub"] = json!("someone-else");
    let forged_payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let tampered = format!("{}.{forged_payload}.{}", parts[0], parts[2]);
    for token in ["not-a-token", tampered.as_str(), "mcp_rt_unknown"] {
        let (_, answer) = f.introspect("acme", &key, token).await;
        assert_eq!(answer, json!({"active": false}), "{token}");
    }

    // Another server of the same organization does not accept acme's tokens (issuer, audience).
    let other =
        f.app.create_server(&f.owner, &f.org, json!({"slug": "acme-two", "name": "Two"})).await;
    let other_key = f.server_key(other["id"].as_str().unwrap(), &["auth:introspect"]).await;
    let (_, answer) = f.introspect("acme-two", &other_key, access).await;
    assert_eq!(answer, json!({"active": false}));
    let (status, _) = f.introspect("acme", &other_key, access).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a key of another server");

    // Userinfo with the access token; without one, or with a bad one, a Bearer challenge.
    let response = f
        .app
        .client
        .get(f.app.url("/s/acme/oauth/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let info: Value = response.json().await.unwrap();
    assert_eq!(info["sub"], answer_sub(&validated));
    assert!(info.get("email").is_none(), "the mcp scope alone does not reveal the email");
    let response = f
        .app
        .client
        .get(f.app.url("/s/acme/oauth/userinfo"))
        .bearer_auth(&tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], "Bearer error=\"invalid_token\"");

    // An expired access token is inactive; the refresh token still works.
    f.app.clock.advance(std::time::Duration::from_secs(3601));
    let (_, answer) = f.introspect("acme", &key, access).await;
    assert_eq!(answer["active"], false, "expired");
    let (status, refreshed) = f.refresh(&client_id, refresh).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let access = refreshed["access_token"].as_str().unwrap();
    assert_eq!(f.introspect("acme", &key, access).await.1["active"], true);

    // The client revokes its refresh token (RFC 7009): everything issued with it is revoked.
    let response = f
        .app
        .client
        .post(f.app.url("/s/acme/oauth/revoke"))
        .form(&[("token", refreshed["refresh_token"].as_str().unwrap()), ("client_id", &client_id)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(f.introspect("acme", &key, access).await.1["active"], false);
    let (_, dead) = f.refresh(&client_id, refreshed["refresh_token"].as_str().unwrap()).await;
    assert_eq!(dead["error"], "invalid_grant");
    // Unknown tokens are answered 200 all the same (RFC 7009 §2.2).
    let response = f
        .app
        .client
        .post(f.app.url("/s/acme/oauth/revoke"))
        .form(&[("token", "mcp_rt_nothing"), ("client_id", client_id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

fn answer_sub(answer: &Value) -> Value {
    answer["sub"].clone()
}

#[tokio::test]
async fn clients_of_2025_03_26_find_the_endpoints_at_the_root_of_the_server_subdomain() {
    let f = fixture().await;
    let port = f.app.port().to_owned();
    let host = format!("acme.localhost:{port}");
    let response = f
        .app
        .client
        .post(f.app.url("/register"))
        .header("host", &host)
        .json(&json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none",
            "client_name": "Test Editor"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let client: Value = response.json().await.unwrap();
    let path = f.authorize_path(client["client_id"].as_str().unwrap(), &[]);
    let root_path = path.replace("/s/acme/oauth/authorize", "/authorize");
    let response =
        f.app.client.get(f.app.url(&root_path)).header("host", &host).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(
        html.contains(&format!("action=\"http://{host}/oauth/authorize/decision\"")),
        "the consent form posts to the subdomain issuer: {html}"
    );
    // `/token` at the root: the client is known there (only the made-up code is not).
    let response = f
        .app
        .client
        .post(f.app.url("/token"))
        .header("host", &host)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "mcp_ac_made_up"),
            ("code_verifier", VERIFIER),
            ("client_id", client["client_id"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["error"], "invalid_grant");
}

#[tokio::test]
async fn the_organization_pre_registers_lists_and_revokes_clients_and_revoking_ends_their_tokens() {
    let f = fixture().await;
    let (dynamic_id, tokens) = f.tokens().await;
    let base = format!("/api/v1/orgs/{}/servers/{}/oauth-clients", f.org, f.server_id);
    f.app.clock.advance(std::time::Duration::from_secs(1));

    let body = json!({"client_name": "Acme CI", "redirect_uris": ["https://ci.acme.example/cb"],
        "token_endpoint_auth_method": "client_secret_post"});
    let (status, created) = call(&f.app, &f.owner, Method::POST, &base, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["kind"], "preregistered");
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    let pre_id = created["client_id"].as_str().unwrap().to_owned();
    let (_, answer) = f.exchange_with(&pre_id, "mcp_ac_x", &[("client_secret", &secret)]).await;
    assert_eq!(answer["error"], "invalid_grant", "the client authenticated");

    let bad = json!({"redirect_uris": ["http://ci.acme.example/cb"]});
    let (status, error) = call(&f.app, &f.owner, Method::POST, &base, Some(bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["field"], "redirect_uris");

    let (status, list) = call(&f.app, &f.owner, Method::GET, &base, None).await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [pre_id.as_str(), dynamic_id.as_str()], "newest first");
    assert!(!list.to_string().contains(&secret), "secrets are shown once");
    assert_eq!(list["items"][1]["display_name"], "Test Editor");

    // Another organization sees nothing of it; a plain member cannot change it.
    let eve = f.app.signup("eve@example.com").await;
    let (status, _) = call(&f.app, &eve, Method::GET, &base, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    f.app.add_member(&f.org, "eve@example.com", mcplatform_core::org::Role::Member).await;
    let (status, _) =
        call(&f.app, &eve, Method::DELETE, &format!("{base}/{dynamic_id}"), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Revoking the editor's client ends what it holds.
    let key = f.server_key(&f.server_id, &["auth:introspect"]).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(f.introspect("acme", &key, access).await.1["active"], true);
    let (status, _) =
        call(&f.app, &f.owner, Method::DELETE, &format!("{base}/{dynamic_id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(f.introspect("acme", &key, access).await.1["active"], false);
    let (status, answer) = f.refresh(&dynamic_id, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    let (status, _) =
        call(&f.app, &f.owner, Method::DELETE, &format!("{base}/{dynamic_id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "already revoked");
    let (_, list) = call(&f.app, &f.owner, Method::GET, &base, None).await;
    assert!(list["items"][1]["revoked_at"].is_string());
}

#[tokio::test]
async fn a_sign_in_finished_in_another_browser_completes_nothing() {
    let f = fixture().await;
    let client_id = f.public_client().await;
    // The attacker starts an authorization for their client and allows it, but does not sign in:
    // they send the provider link to a victim instead.
    let attacker = new_client();
    let (request, csrf) = f.consent(&attacker, &f.authorize_path(&client_id, &[])).await;
    let response = f.decide(&attacker, &request, &csrf, "allow").await;
    let upstream = location(&response);

    // The victim signs in at the provider; their browser comes back without the request's cookie.
    let victim = new_client();
    let response = new_client().get(&upstream).send().await.unwrap();
    let response = victim.get(f.app.local(&location(&response))).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let resume = f.app.local(&location(&response));
    let response = victim.get(&resume).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "the victim's browser did not ask");

    // The attacker's browser holds the cookie but not the handoff the victim's browser got.
    let guessed =
        f.app.url(&format!("/s/acme/oauth/authorize/continue?request={request}&handoff=x"));
    let response = attacker.get(&guessed).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers().get("location").is_none(), "no code for the attacker's client");

    // Declining closes a request for good: it cannot be allowed afterwards.
    let (request, csrf) = f.consent(&attacker, &f.authorize_path(&client_id, &[])).await;
    assert_eq!(f.decide(&attacker, &request, &csrf, "deny").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(f.decide(&attacker, &request, &csrf, "allow").await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn dynamic_registration_is_throttled_per_client_address() {
    // Two a minute: a slot comes back only after 30 s, far longer than this test runs.
    let f = fixture_with(|c| c.auth.client_registrations_per_minute_per_ip = 2).await;
    let body = json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"});
    for _ in 0..2 {
        let (status, client) = f.register(body.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{client}");
    }
    let response =
        f.app.client.post(f.app.url("/s/acme/oauth/register")).json(&body).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let path = format!("/api/v1/orgs/{}/servers/{}/oauth-clients?limit=200", f.org, f.server_id);
    let (_, clients) = call(&f.app, &f.owner, Method::GET, &path, None).await;
    assert_eq!(clients["items"].as_array().unwrap().len(), 2, "nothing more was stored");
}
