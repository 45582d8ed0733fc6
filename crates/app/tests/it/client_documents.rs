//! Client ID Metadata Documents: a client whose `client_id` is the URL of its metadata, served
//! here by a small document host on a loopback port (allowed only because the test app allows
//! private networks; the SSRF guard is tested on an app that does not).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderName, HeaderValue, StatusCode as AxumStatus};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{new_client, spawn_app};
use crate::oauth_flow::{Fixture, REDIRECT, fixture, jwt_parts, param};

/// What the host answers for one path.
#[derive(Clone)]
struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

#[derive(Clone, Default)]
struct Documents {
    answers: Arc<Mutex<HashMap<String, Answer>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

struct DocumentHost {
    base: String,
    documents: Documents,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for DocumentHost {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(State(documents): State<Documents>, Path(name): Path<String>) -> Response {
    *documents.hits.lock().unwrap().entry(name.clone()).or_default() += 1;
    let Some(answer) = documents.answers.lock().unwrap().get(&name).cloned() else {
        return AxumStatus::NOT_FOUND.into_response();
    };
    let mut response = answer.body.into_response();
    *response.status_mut() = AxumStatus::from_u16(answer.status).unwrap();
    for (name, value) in answer.headers {
        response
            .headers_mut()
            .insert(HeaderName::from_static(name), HeaderValue::from_str(&value).unwrap());
    }
    response
}

impl DocumentHost {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let documents = Documents::default();
        let app = Router::new().route("/clients/{name}", get(serve)).with_state(documents.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { base, documents, task }
    }

    fn url(&self, name: &str) -> String {
        format!("{}/clients/{name}", self.base)
    }

    /// Serves `body` at `name` with `status` and `headers`: the client id URL.
    fn put(
        &self,
        name: &str,
        status: u16,
        headers: &[(&'static str, &str)],
        body: String,
    ) -> String {
        let headers = headers.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        self.documents
            .answers
            .lock()
            .unwrap()
            .insert(name.to_owned(), Answer { status, headers, body });
        self.url(name)
    }

    /// Serves a good document for an editor at `name`, with `cache_control`.
    fn editor(&self, name: &str, cache_control: &str) -> String {
        let url = self.url(name);
        let document = json!({"client_id": url, "client_name": "Test Editor",
            "redirect_uris": [REDIRECT], "application_type": "native"});
        self.put(name, 200, &[("cache-control", cache_control)], document.to_string())
    }

    fn hits(&self, name: &str) -> usize {
        self.documents.hits.lock().unwrap().get(name).copied().unwrap_or(0)
    }
}

/// The page `/oauth/authorize` answers for `client_id` on the fixture's server.
async fn authorize(f: &Fixture, client_id: &str) -> (StatusCode, String) {
    let response =
        new_client().get(f.app.url(&f.authorize_path(client_id, &[]))).send().await.unwrap();
    assert!(response.headers().get("location").is_none(), "never redirected to the client");
    (response.status(), response.text().await.unwrap())
}

#[tokio::test]
async fn a_client_named_by_its_metadata_url_signs_in_refreshes_and_is_cached_as_told() {
    let f = fixture().await;
    let metadata: Value =
        f.app.get("/.well-known/oauth-authorization-server/s/acme").await.json().await.unwrap();
    assert_eq!(metadata["client_id_metadata_document_supported"], true);

    let host = DocumentHost::start().await;
    let client_id = host.editor("editor.json", "max-age=60");
    let back = f.sign_in(&new_client(), &f.authorize_path(&client_id, &[])).await;
    assert_eq!(param(&back, "iss").as_deref(), Some(f.issuer.as_str()));
    let (status, tokens) = f.exchange(&client_id, &param(&back, "code").unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let claims = jwt_parts(tokens["access_token"].as_str().unwrap()).1;
    assert_eq!(claims["client_id"], client_id.as_str());
    let (status, refreshed) =
        f.refresh(&client_id, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_eq!(host.hits("editor.json"), 1, "fetched once, then kept for its max-age");

    // Past its max-age, it is fetched again; a changed document is what counts then.
    f.app.clock.advance(std::time::Duration::from_secs(61));
    host.put(
        "editor.json",
        200,
        &[],
        json!({"client_id": client_id, "client_name": "Renamed",
        "redirect_uris": [REDIRECT]})
        .to_string(),
    );
    let (status, page) = authorize(&f, &client_id).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Allow Renamed to use Acme Docs?"), "{page}");
    assert!(page.contains("describes itself at <strong>127.0.0.1</strong>"), "{page}");
    assert_eq!(host.hits("editor.json"), 2);

    // When its host fails, the last document fetched still serves (stale-if-error): an outage
    // there does not sign the client's users out.
    f.app.clock.advance(std::time::Duration::from_secs(6 * 60));
    host.put("editor.json", 503, &[], "down for maintenance".into());
    let (status, again) = f.refresh(&client_id, refreshed["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(host.hits("editor.json"), 3, "it was asked again");
    // Not forever: a day after the last good fetch, the failure is the answer.
    f.app.clock.advance(std::time::Duration::from_secs(24 * 3600));
    let (status, refused) = f.refresh(&client_id, again["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{refused}");
    assert_eq!(refused["error"], "invalid_client", "the document, not the token");

    // `no-store` keeps nothing.
    let fresh = host.editor("fresh.json", "no-store");
    authorize(&f, &fresh).await;
    authorize(&f, &fresh).await;
    assert_eq!(host.hits("fresh.json"), 2);

    // A metadata document has no secret to authenticate with.
    let (status, answer) = f
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", &client_id),
            ("client_secret", "guess"),
        ])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    assert_eq!(answer["error"], "invalid_client");
}

#[tokio::test]
async fn unusable_documents_are_explained_on_our_page_and_never_redirect() {
    let f = fixture().await;
    let host = DocumentHost::start().await;
    let other = host.url("other.json");
    let document = |id: &str| {
        json!({"client_id": id, "client_name": "Test Editor",
        "redirect_uris": [REDIRECT]})
    };
    let cases = [
        (
            host.put("mismatch.json", 200, &[], document(&other).to_string()),
            "not the URL it was fetched from",
        ),
        (host.url("missing.json"), "answered HTTP 404"),
        (host.put("moved.json", 302, &[("location", &other)], String::new()), "answered HTTP 302"),
        (host.put("html.json", 200, &[], "<html></html>".into()), "not JSON"),
        (
            host.put("big.json", 200, &[], format!("{{\"pad\": \"{}\"}}", "x".repeat(6000))),
            "larger than 5120 bytes",
        ),
        (
            host.put("secret.json", 200, &[], {
                let mut doc = document(&host.url("secret.json"));
                doc["token_endpoint_auth_method"] = json!("client_secret_basic");
                doc.to_string()
            }),
            "use none",
        ),
        (format!("{}/clients/../clients/editor.json", host.base), "canonical"),
    ];
    for (client_id, says) in cases {
        let (status, page) = authorize(&f, &client_id).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{client_id}");
        assert!(page.contains(says), "{client_id}: {page}");
    }
    assert_eq!(host.hits("other.json"), 0, "the redirect was not followed");

    // A failed document is not fetched again at once.
    let before = host.hits("missing.json");
    authorize(&f, &host.url("missing.json")).await;
    assert_eq!(host.hits("missing.json"), before);

    // A good document, but a redirect URI it does not list: our page, no redirect.
    let client_id = host.editor("editor.json", "max-age=60");
    let path = f.authorize_path(&client_id, &[("redirect_uri", "https://evil.example/cb")]);
    let response = new_client().get(f.app.url(&path)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("is not registered for this application"));
}

#[tokio::test]
async fn without_private_networks_a_metadata_url_must_be_public_https() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;
    let org = app.create_org(&ada, "Acme").await;
    app.create_server(
        &ada,
        &org,
        json!({"slug": "builtin", "name": "Docs",
        "auth_mode": "platform_oauth"}),
    )
    .await;
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    for (client_id, says) in [
        ("https://127.0.0.1/client.json", "private, loopback or link-local"),
        ("https://10.0.0.8/client.json", "private, loopback or link-local"),
        ("https://[::1]/client.json", "private, loopback or link-local"),
        ("https://169.254.169.254/latest/meta-data", "private, loopback or link-local"),
        ("https://localhost/client.json", "private, loopback or link-local"),
        ("http://app.example/client.json", "must use https"),
    ] {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("response_type", "code"),
                ("client_id", client_id),
                ("redirect_uri", REDIRECT),
                ("code_challenge", challenge),
                ("code_challenge_method", "S256"),
            ])
            .finish();
        let response = new_client()
            .get(app.url(&format!("/s/builtin/oauth/authorize?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{client_id}");
        assert!(response.headers().get("location").is_none());
        let page = response.text().await.unwrap();
        assert!(page.contains(says), "{client_id}: {page}");
    }
}
