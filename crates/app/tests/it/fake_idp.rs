//! A small identity provider on a loopback port, for tests that need the platform to talk to
//! one: an OpenID discovery document (whose `issuer` a test can make wrong) and a JWKS, plus a
//! plain OAuth 2.0 authorization server (authorize → code → token → userinfo) whose userinfo
//! answer the test chooses. The end-to-end suite uses the real `oidc-provider` from npm.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::{Value, json};

#[derive(Clone, Default)]
struct Shared {
    issuer: Arc<Mutex<String>>,
    /// What `/userinfo` answers to a valid token.
    userinfo: Arc<Mutex<Value>>,
    /// Issued codes → the PKCE challenge and redirect URI they were issued for.
    codes: Arc<Mutex<HashMap<String, (String, String)>>>,
}

pub struct FakeIdp {
    /// `http://127.0.0.1:{port}`, also the issuer it announces by default.
    pub base: String,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl FakeIdp {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let shared = Shared::default();
        *shared.issuer.lock().unwrap() = base.clone();
        *shared.userinfo.lock().unwrap() =
            json!({"sub": "user-1", "email": "ada@idp.test", "name": "Ada"});
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(|| async { Json(json!({"keys": []})) }))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/userinfo", get(userinfo))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { base, shared, task }
    }

    /// Makes the discovery document announce another issuer than the one it is served from.
    pub fn announce_issuer(&self, issuer: &str) {
        *self.shared.issuer.lock().unwrap() = issuer.to_owned();
    }

    pub fn set_userinfo(&self, userinfo: Value) {
        *self.shared.userinfo.lock().unwrap() = userinfo;
    }
}

impl Drop for FakeIdp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn discovery(State(shared): State<Shared>, headers: HeaderMap) -> Json<Value> {
    let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or_default();
    let base = format!("http://{host}");
    Json(json!({
        "issuer": *shared.issuer.lock().unwrap(),
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "userinfo_endpoint": format!("{base}/userinfo"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

/// Approves at once: a code for whoever asks, remembered with its PKCE challenge.
async fn authorize(
    State(shared): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let (Some(redirect_uri), Some(state), Some(challenge)) =
        (query.get("redirect_uri"), query.get("state"), query.get("code_challenge"))
    else {
        return (StatusCode::BAD_REQUEST, "redirect_uri, state and code_challenge required")
            .into_response();
    };
    let code = format!("code-{}", shared.codes.lock().unwrap().len());
    shared.codes.lock().unwrap().insert(code.clone(), (challenge.clone(), redirect_uri.clone()));
    let mut target = url::Url::parse(redirect_uri).unwrap();
    target.query_pairs_mut().append_pair("code", &code).append_pair("state", state);
    Redirect::to(target.as_str()).into_response()
}

/// RFC 6749 §4.1.3 with PKCE (RFC 7636 §4.6), client authentication by HTTP Basic.
async fn token(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    use base64::Engine as _;
    use sha2::Digest as _;
    let basic = headers.get("authorization").and_then(|h| h.to_str().ok()).unwrap_or_default();
    let expected = base64::engine::general_purpose::STANDARD.encode("client-1:secret-1");
    if basic != format!("Basic {expected}") {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_client"})))
            .into_response();
    }
    let code = form.get("code").cloned().unwrap_or_default();
    let Some((challenge, redirect_uri)) = shared.codes.lock().unwrap().remove(&code) else {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_grant"}))).into_response();
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    if computed != challenge || form.get("redirect_uri") != Some(&redirect_uri) {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_grant"}))).into_response();
    }
    Json(json!({"access_token": "upstream-token", "token_type": "Bearer", "expires_in": 60}))
        .into_response()
}

async fn userinfo(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    match headers.get("authorization").and_then(|h| h.to_str().ok()) {
        Some("Bearer upstream-token") => {
            Json(shared.userinfo.lock().unwrap().clone()).into_response()
        }
        _ => StatusCode::UNAUTHORIZED.into_response(),
    }
}
