//! `spawn_app()`: the real application on port 0 with a fresh database (SQLite by default,
//! PostgreSQL when `MCPLATFORM_TEST_DATABASE_URL` is set), and typed request helpers.

use std::sync::{Arc, LazyLock};

use mcplatform_app::config::{Config, LogConfig};
use mcplatform_app::{Application, telemetry};
use mcplatform_core::clock::ManualClock;
use mcplatform_store::Store;
use mcplatform_store::testing::TestDatabase;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Logs appear only when `TEST_LOG` is set.
static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var_os("TEST_LOG").is_some() {
        let config = LogConfig { level: "debug,sqlx=warn".into(), ..LogConfig::default() };
        telemetry::init(&config, None).expect("test log config is valid");
    }
});

pub struct TestApp {
    /// `http://127.0.0.1:{port}`
    pub address: String,
    pub client: reqwest::Client,
    pub store: Arc<dyn Store>,
    /// The clock the app reads; tests move it to make time pass.
    #[allow(dead_code)]
    pub clock: ManualClock,
    pub db: TestDatabase,
    #[allow(dead_code)]
    pub data_dir: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// An app that may call identity providers and documents on loopback (the tests' fakes).
pub async fn spawn_app_reaching_loopback() -> TestApp {
    spawn_app_with(|c| c.http.outbound_allow_private_networks = true).await
}

/// Starts the app after `customize` has adjusted the test configuration.
pub async fn spawn_app_with(customize: impl FnOnce(&mut Config)) -> TestApp {
    LazyLock::force(&TRACING);
    let db = TestDatabase::create().await;
    let data_dir = tempfile::tempdir().expect("create data dir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
    let port = listener.local_addr().expect("local addr").port();

    let mut config = Config {
        base_url: format!("http://localhost:{port}").parse().expect("valid base url"),
        data_dir: data_dir.path().to_owned(),
        ..Config::default()
    };
    config.database.url = Some(SecretString::from(db.url.expose().to_owned()));
    config.database.max_connections = 5;
    customize(&mut config);

    let clock =
        ManualClock::new(OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("valid"));
    let app = Application::build_with_listener(&config, Arc::new(clock.clone()), listener)
        .await
        .expect("build application");
    let store = app.store();
    let (shutdown, stop) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stop.await;
    }));

    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("build http client");
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        client,
        store,
        clock,
        db,
        data_dir,
        shutdown: Some(shutdown),
        server: Some(server),
    }
}

impl TestApp {
    pub fn clock_now(&self) -> OffsetDateTime {
        use mcplatform_core::clock::Clock;
        self.clock.now()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// The port the app listens on.
    pub fn port(&self) -> &str {
        self.address.rsplit(':').next().unwrap_or_default()
    }

    /// A URL the app sent (on its `localhost` base URL, or a provider's redirect to it) as the
    /// test reaches it: the same path and query on the test's address.
    pub fn local(&self, url: &str) -> String {
        let parsed = url::Url::parse(url).expect("an absolute URL");
        let query = parsed.query().map(|q| format!("?{q}")).unwrap_or_default();
        self.url(&format!("{}{query}", parsed.path()))
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path).send().await.expect("send GET")
    }

    /// GET expecting `status`, returning the JSON body.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str, status: StatusCode) -> T {
        let response = self.get(path).await;
        assert_eq!(response.status(), status, "GET {path}");
        response.json().await.expect("JSON body")
    }

    /// Stops the server and hands back its database, to look at what it left behind.
    pub async fn stop_keeping_database(mut self) -> TestDatabase {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task did not panic").expect("server stopped cleanly");
        }
        let placeholder = TestDatabase::create_sqlite();
        std::mem::replace(&mut self.db, placeholder)
    }

    /// Stops the server the way SIGTERM would, and waits for it to finish.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        match self.server.take() {
            Some(server) => server.await.expect("server task did not panic"),
            None => Ok(()),
        }
    }
}

/// A browser-like client with its own cookie jar, logged in through the JSON API.
pub struct TestUser {
    pub client: reqwest::Client,
    pub jar: Arc<reqwest::cookie::Jar>,
    pub id: String,
    pub csrf_token: String,
}

pub const PASSWORD: &str = "correct horse battery staple";

pub fn new_client() -> reqwest::Client {
    new_client_with_jar().0
}

/// A client that does not follow redirects, and its cookie jar.
pub fn new_client_with_jar() -> (reqwest::Client, Arc<reqwest::cookie::Jar>) {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_provider(jar.clone())
        .build()
        .expect("build http client");
    (client, jar)
}

impl TestApp {
    /// Signs up a new account through the API, returning a client holding its session.
    pub async fn signup(&self, email: &str) -> TestUser {
        let (client, jar) = new_client_with_jar();
        let response = client
            .post(self.url("/api/v1/auth/signup"))
            .json(&serde_json::json!({"email": email, "display_name": "Test User", "password": PASSWORD}))
            .send()
            .await
            .expect("send signup");
        assert_eq!(response.status(), StatusCode::CREATED, "signup {email}");
        let body: serde_json::Value = response.json().await.expect("signup body");
        TestUser {
            client,
            jar,
            id: body["user"]["id"].as_str().expect("user id").to_owned(),
            csrf_token: body["csrf_token"].as_str().expect("csrf token").to_owned(),
        }
    }

    /// Logs in an existing account (created by `signup`) with a fresh client.
    pub async fn signup_again(&self, email: &str) -> TestUser {
        let (client, jar) = new_client_with_jar();
        let response = client
            .post(self.url("/api/v1/auth/login"))
            .json(&serde_json::json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .expect("send login");
        assert_eq!(response.status(), StatusCode::OK, "login {email}");
        let body: serde_json::Value = response.json().await.expect("login body");
        TestUser {
            client,
            jar,
            id: body["user"]["id"].as_str().expect("user id").to_owned(),
            csrf_token: body["csrf_token"].as_str().expect("csrf token").to_owned(),
        }
    }

    /// Creates a server of `org` as `user` with the settings in `body` (at least `slug` and
    /// `name`) through the API, expecting success; the server as the API answered.
    pub async fn create_server(
        &self,
        user: &TestUser,
        org: &str,
        body: serde_json::Value,
    ) -> serde_json::Value {
        let path = format!("/api/v1/orgs/{org}/servers");
        let (status, server) = call(self, user, Method::POST, &path, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{server}");
        server
    }

    /// Makes the account with `email` a member of `org` (an id, or an `/orgs/{id}` path)
    /// directly in the store, without the invitation round trip.
    pub async fn add_member(&self, org: &str, email: &str, role: mcplatform_core::org::Role) {
        let org = org.trim_start_matches("/orgs/").parse().expect("an organization id");
        let email = mcplatform_core::user::EmailAddress::parse(email).expect("an email address");
        let user = self.store.find_user_by_email(&email).await.expect("query").expect("an account");
        self.store.add_member(org, user.id, role, self.clock_now()).await.expect("add member");
    }

    /// Creates an organization owned by `user` through the API; returns its id.
    pub async fn create_org(&self, user: &TestUser, name: &str) -> String {
        let response = user
            .client
            .post(self.url("/api/v1/orgs"))
            .header("x-csrf-token", &user.csrf_token)
            .json(&serde_json::json!({"name": name}))
            .send()
            .await
            .expect("send create org");
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: serde_json::Value = response.json().await.expect("org body");
        body["id"].as_str().expect("org id").to_owned()
    }
}

impl TestUser {
    /// The value of the session cookie the client holds now.
    pub fn session_cookie(&self, app: &TestApp) -> Option<String> {
        use reqwest::cookie::CookieStore;
        let url = app.url("/").parse().expect("valid url");
        let header = self.jar.cookies(&url)?;
        header
            .to_str()
            .ok()?
            .split("; ")
            .find_map(|pair| pair.strip_prefix("mcplatform_session="))
            .map(str::to_owned)
    }

    /// A request with the session cookie and, for changes, the CSRF header.
    pub fn request(&self, app: &TestApp, method: Method, path: &str) -> RequestBuilder {
        let request = self.client.request(method.clone(), app.url(path));
        if method.is_safe() { request } else { request.header("x-csrf-token", &self.csrf_token) }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// A JSON API call as `user` (CSRF header included for changes): the status and the body.
pub async fn call(
    app: &TestApp,
    user: &TestUser,
    method: Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (StatusCode, serde_json::Value) {
    let mut request = user.request(app, method, path);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("send API request");
    let status = response.status();
    (status, response.json().await.unwrap_or(serde_json::Value::Null))
}

/// Waits up to 10 s for `check` to find something (a background job's work).
pub async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..100 {
        if let Some(found) = check().await {
            return found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{what} did not happen");
}

/// A dashboard form post for `user`: its status and page.
pub async fn form_post(
    app: &TestApp,
    user: &TestUser,
    path: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, String) {
    let mut form = vec![("csrf_token", user.csrf_token.as_str())];
    form.extend_from_slice(fields);
    let response = user.client.post(app.url(path)).form(&form).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}
