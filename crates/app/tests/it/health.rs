use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn healthz_answers_while_the_process_is_up() {
    let app = spawn_app().await;
    let body: Value = app.get_json("/healthz", StatusCode::OK).await;
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn readyz_reports_the_database_and_turns_503_when_it_is_gone() {
    let app = spawn_app().await;
    let body: Value = app.get_json("/readyz", StatusCode::OK).await;
    assert_eq!(body, json!({"status": "ready", "database": "ok"}));

    app.store.close().await;

    let body: Value = app.get_json("/readyz", StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(body, json!({"status": "unavailable", "database": "unreachable"}));
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), StatusCode::OK, "liveness does not depend on the database");
    // Not even for a browser that still carries a session cookie.
    for path in ["/healthz", "/static/app.css"] {
        let response = reqwest::Client::new()
            .get(app.url(path))
            .header("cookie", "mcplatform_session=mcps_stale")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
}

/// PostgreSQL only: the database refuses connections for a while, then accepts them again, and
/// readiness follows without a restart.
#[tokio::test]
async fn readyz_recovers_when_postgres_comes_back() {
    let app = spawn_app().await;
    if app.db.backend() != mcplatform_store::Backend::Postgres {
        eprintln!("skipped: needs MCPLATFORM_TEST_DATABASE_URL (PostgreSQL)");
        return;
    }
    let admin_url = std::env::var(mcplatform_store::testing::TEST_DATABASE_URL_VAR).unwrap();
    let admin = sqlx::PgPool::connect(&admin_url).await.unwrap();
    let name = app.db.url.expose().rsplit('/').next().unwrap().to_owned();
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);

    sqlx::query(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
        .bind(&name)
        .execute(&admin)
        .await
        .unwrap();
    assert_eq!(app.get("/readyz").await.status(), StatusCode::SERVICE_UNAVAILABLE);

    sqlx::query(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        .execute(&admin)
        .await
        .unwrap();
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn unknown_routes_and_methods_get_json_errors() {
    let app = spawn_app().await;
    let body: Value = app.get_json("/no/such/page", StatusCode::NOT_FOUND).await;
    assert_eq!(body, json!({"code": "not_found", "message": "not found"}));

    let response = app.request(Method::DELETE, "/healthz").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "method_not_allowed");
}

#[tokio::test]
async fn oversized_bodies_are_refused_before_they_are_read() {
    let app = spawn_app_with(|config| config.http.max_body_bytes = 4096).await;
    let response =
        app.request(Method::POST, "/healthz").body(vec![b'x'; 5000]).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "payload_too_large");
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_security_headers() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    let headers = response.headers();
    let generated = headers["x-request-id"].to_str().unwrap();
    assert_eq!(generated.len(), 36, "a UUID: {generated}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "same-origin");
    assert!(
        headers["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'")
    );
    assert!(headers.get("strict-transport-security").is_none(), "plain http: no HSTS");

    let response = app
        .request(Method::GET, "/nowhere")
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-me-42", "a caller's id is kept");
}

#[tokio::test]
async fn https_deployments_send_hsts() {
    let app =
        spawn_app_with(|config| config.base_url = "https://mcp.example.com".parse().unwrap()).await;
    let response = app.get("/healthz").await;
    assert!(
        response.headers()["strict-transport-security"].to_str().unwrap().starts_with("max-age=")
    );
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_status() {
    let app = spawn_app().await;
    for _ in 0..3 {
        app.get("/healthz").await;
    }
    app.get("/readyz").await;

    let response = app.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = response.text().await.unwrap();
    assert!(
        text.contains(
            r#"mcplatform_http_requests_total{method="GET",route="/healthz",status="200"} 3"#
        ),
        "{text}"
    );
    assert!(text.contains(
        r#"mcplatform_http_requests_total{method="GET",route="/readyz",status="200"} 1"#
    ));
    assert!(text.contains(
        r#"mcplatform_http_request_duration_seconds_count{method="GET",route="/healthz"} 3"#
    ));
    assert!(text.contains(&format!(
        r#"mcplatform_build_info{{version="{}"}} 1"#,
        env!("CARGO_PKG_VERSION")
    )));
}

#[tokio::test]
async fn stopping_closes_the_listener_and_the_database() {
    let app = spawn_app().await;
    let store = app.store.clone();
    let url = app.url("/healthz");
    app.stop().await.unwrap();
    assert!(reqwest::get(&url).await.is_err(), "nothing listens any more");
    assert!(store.ping().await.is_err(), "pool closed");
}
