//! A small identity provider on a loopback port, for tests that need the platform to talk to
//! one: OpenID discovery, a key set, authorize → code → token (PKCE checked, an RS256-signed
//! ID token when `openid` was asked for) → userinfo. A test chooses the userinfo answer, extra
//! ID-token claims, and one way to misbehave. The end-to-end suite uses the real
//! `oidc-provider` from npm.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use openidconnect::core::{CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey};
use openidconnect::{JsonWebKeyId, PrivateSigningKey as _};
use serde_json::{Value, json};
use sha2::Digest as _;

/// A test-only RSA key (PKCS#1 PEM) that signs the fake provider's ID tokens.
const SIGNING_KEY: &str = include_str!("fake_idp_key.pem");

/// One way for the provider to get something wrong, to see the platform refuse it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Misbehaviour {
    #[default]
    None,
    /// The authorization response carries another issuer's `iss` (RFC 9207).
    WrongIss,
    /// The authorization response has no `iss` although discovery announces it.
    NoIss,
    /// The ID token carries another nonce than the one asked for.
    WrongNonce,
    /// The token response has no ID token.
    NoIdToken,
    /// Userinfo describes another user than the ID token.
    OtherUserinfoSubject,
}

struct Issued {
    challenge: String,
    redirect_uri: String,
    nonce: Option<String>,
    openid: bool,
}

#[derive(Clone, Default)]
struct Shared {
    issuer: Arc<Mutex<String>>,
    /// What `/userinfo` answers to a valid token.
    userinfo: Arc<Mutex<Value>>,
    /// Claims added to the ID token beyond `iss`, `sub`, `aud`, `exp`, `iat`, `nonce`.
    id_token_claims: Arc<Mutex<Value>>,
    misbehaviour: Arc<Mutex<Misbehaviour>>,
    codes: Arc<Mutex<HashMap<String, Issued>>>,
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
        *shared.id_token_claims.lock().unwrap() = json!({});
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
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

    pub fn set_id_token_claims(&self, claims: Value) {
        *self.shared.id_token_claims.lock().unwrap() = claims;
    }

    pub fn misbehave(&self, how: Misbehaviour) {
        *self.shared.misbehaviour.lock().unwrap() = how;
    }
}

impl Drop for FakeIdp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn signing_key() -> CoreRsaPrivateSigningKey {
    CoreRsaPrivateSigningKey::from_pem(SIGNING_KEY, Some(JsonWebKeyId::new("k1".into()))).unwrap()
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
        "authorization_response_iss_parameter_supported": true,
    }))
}

async fn jwks() -> Json<Value> {
    Json(json!({"keys": [signing_key().as_verification_key()]}))
}

/// Approves at once: a code for whoever asks, remembered with its PKCE challenge and nonce.
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
    let issued = Issued {
        challenge: challenge.clone(),
        redirect_uri: redirect_uri.clone(),
        nonce: query.get("nonce").cloned(),
        openid: query.get("scope").is_some_and(|s| s.split(' ').any(|s| s == "openid")),
    };
    shared.codes.lock().unwrap().insert(code.clone(), issued);
    let mut target = url::Url::parse(redirect_uri).unwrap();
    target.query_pairs_mut().append_pair("code", &code).append_pair("state", state);
    let issuer = shared.issuer.lock().unwrap().clone();
    match *shared.misbehaviour.lock().unwrap() {
        Misbehaviour::NoIss => {}
        Misbehaviour::WrongIss => {
            target.query_pairs_mut().append_pair("iss", "https://impostor.example");
        }
        _ => {
            target.query_pairs_mut().append_pair("iss", &issuer);
        }
    }
    Redirect::to(target.as_str()).into_response()
}

/// RFC 6749 §4.1.3 with PKCE (RFC 7636 §4.6), client authentication by HTTP Basic.
async fn token(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let basic = headers.get("authorization").and_then(|h| h.to_str().ok()).unwrap_or_default();
    if basic != format!("Basic {}", STANDARD.encode("client-1:secret-1")) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_client"})))
            .into_response();
    }
    let code = form.get("code").cloned().unwrap_or_default();
    let Some(issued) = shared.codes.lock().unwrap().remove(&code) else {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_grant"}))).into_response();
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    let computed = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    if computed != issued.challenge || form.get("redirect_uri") != Some(&issued.redirect_uri) {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_grant"}))).into_response();
    }
    let misbehaviour = *shared.misbehaviour.lock().unwrap();
    let mut answer =
        json!({"access_token": "upstream-token", "token_type": "Bearer", "expires_in": 60});
    if issued.openid && misbehaviour != Misbehaviour::NoIdToken {
        // openidconnect checks `exp` and `iat` against the real clock, not the app's.
        #[allow(clippy::disallowed_methods)]
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let nonce = match misbehaviour {
            Misbehaviour::WrongNonce => Some("another-nonce".to_owned()),
            _ => issued.nonce,
        };
        let mut claims = json!({
            "iss": *shared.issuer.lock().unwrap(),
            "sub": "user-1",
            "aud": "client-1",
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
        });
        let extra = shared.id_token_claims.lock().unwrap().clone();
        if let (Value::Object(claims), Value::Object(extra)) = (&mut claims, extra) {
            claims.extend(extra);
        }
        answer["id_token"] = Value::String(sign(&claims));
    }
    Json(answer).into_response()
}

/// A compact JWS (RFC 7515 §7.1) of `claims`, signed RS256 with the test key.
fn sign(claims: &Value) -> String {
    let header = json!({"alg": "RS256", "kid": "k1", "typ": "JWT"});
    let encode = |value: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap());
    let input = format!("{}.{}", encode(&header), encode(claims));
    let signature = signing_key()
        .sign(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, input.as_bytes())
        .unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

async fn userinfo(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    match headers.get("authorization").and_then(|h| h.to_str().ok()) {
        Some("Bearer upstream-token") => {
            let mut answer = shared.userinfo.lock().unwrap().clone();
            if *shared.misbehaviour.lock().unwrap() == Misbehaviour::OtherUserinfoSubject {
                answer["sub"] = json!("someone-else");
            }
            Json(answer).into_response()
        }
        _ => StatusCode::UNAUTHORIZED.into_response(),
    }
}
