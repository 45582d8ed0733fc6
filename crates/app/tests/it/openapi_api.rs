//! The OpenAPI document: served to anyone, kept in `docs/openapi.json`, and true to the router.

use std::collections::BTreeSet;
use std::path::PathBuf;

use mcplatform_core::ids::OrgId;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app};

const REGENERATE: &str =
    "MCPLATFORM_UPDATE_OPENAPI=1 cargo nextest run -p mcplatform -E 'test(/openapi_api/)'";

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

async fn served_document(app: &TestApp) -> Value {
    let response = app.get("/api/v1/openapi.json").await;
    assert_eq!(response.status(), StatusCode::OK, "no login needed");
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.expect("the document is JSON")
}

#[tokio::test]
async fn docs_openapi_json_is_the_document_the_api_serves() {
    let app = spawn_app().await;
    let served = served_document(&app).await;
    let rendered = format!("{}\n", serde_json::to_string_pretty(&served).unwrap());
    let path = committed_path();
    if std::env::var_os("MCPLATFORM_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &rendered).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != rendered {
        let line = committed
            .lines()
            .zip(rendered.lines())
            .position(|(old, new)| old != new)
            .unwrap_or_else(|| committed.lines().count().min(rendered.lines().count()));
        panic!(
            "docs/openapi.json is not the document the API serves now (first difference at line \
             {}: {:?} where the API has {:?}).\nIf the API change is intended, regenerate the \
             file and commit it:\n    {REGENERATE}",
            line + 1,
            committed.lines().nth(line).unwrap_or("<end of file>"),
            rendered.lines().nth(line).unwrap_or("<end of document>"),
        );
    }
}

/// A documented path with a fresh id in each `{param}`.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(
            |segment| {
                if segment.starts_with('{') { OrgId::new().to_string() } else { segment.to_owned() }
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether `probe` falls under the documented `template` (`{param}` matches any segment).
fn matches(template: &str, probe: &str) -> bool {
    let (template, probe): (Vec<_>, Vec<_>) =
        (template.split('/').collect(), probe.split('/').collect());
    template.len() == probe.len()
        && template.iter().zip(&probe).all(|(t, p)| t.starts_with('{') || t == p)
}

async fn anonymous(app: &TestApp, method: &Method, path: &str) -> StatusCode {
    app.request(method.clone(), path).send().await.unwrap().status()
}

const METHODS: [Method; 5] =
    [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE];

#[tokio::test]
async fn every_documented_operation_is_routed_and_no_other_is() {
    let app = spawn_app().await;
    let document = served_document(&app).await;
    let paths = document["paths"].as_object().unwrap();
    assert!(paths.len() > 15, "{paths:?}");

    for (path, item) in paths {
        assert!(path.starts_with("/api/v1/"), "{path}");
        let url = concrete(path);
        for method in &METHODS {
            let status = anonymous(&app, method, &url).await;
            let name = method.as_str().to_lowercase();
            match item.get(&name) {
                // Without a login, an operation stops at the authentication or the body, with
                // an answer its documentation lists.
                Some(operation) => {
                    let documented = operation["responses"].as_object().unwrap();
                    assert!(
                        documented.contains_key(status.as_str()),
                        "{method} {path} answers {status}, which it does not document \
                         (it lists {:?})",
                        documented.keys().collect::<Vec<_>>()
                    );
                }
                None => assert_eq!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path} is routed but not in the document"
                ),
            }
        }
    }

    // Around the documented paths, nothing answers: not their parents (unless documented
    // themselves), not one segment further, not another version.
    let mut undocumented = BTreeSet::from(["/api/v2/orgs".to_owned(), "/api/v1/".to_owned()]);
    for path in paths.keys() {
        let segments: Vec<&str> = path.split('/').collect();
        for end in 3..segments.len() {
            let parent = segments[..end].join("/");
            if !paths.contains_key(&parent) {
                undocumented.insert(parent);
            }
        }
        undocumented.insert(format!("{path}/more"));
    }
    undocumented.retain(|probe| !paths.keys().any(|path| matches(path, probe)));
    for path in undocumented {
        let url = concrete(&path);
        for method in [Method::GET, Method::POST] {
            assert_eq!(
                anonymous(&app, &method, &url).await,
                StatusCode::NOT_FOUND,
                "{method} {path} answers, but the document does not have it"
            );
        }
    }
}

#[tokio::test]
async fn operations_have_unique_ids_known_tags_and_say_how_to_authenticate() {
    let app = spawn_app().await;
    let document = served_document(&app).await;
    let tags: BTreeSet<&str> =
        document["tags"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    let schemes = document["components"]["securitySchemes"].as_object().unwrap();
    let mut ids = BTreeSet::new();
    let mut public = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap();
            assert!(ids.insert(id), "operationId {id} twice");
            for tag in operation["tags"].as_array().unwrap() {
                assert!(tags.contains(tag.as_str().unwrap()), "{method} {path}: tag {tag}");
            }
            match operation.get("security").and_then(Value::as_array) {
                Some(requirements) => {
                    for scheme in requirements.iter().flat_map(|r| r.as_object().unwrap().keys()) {
                        assert!(schemes.contains_key(scheme), "{method} {path}: {scheme}");
                    }
                }
                None => {
                    public.insert(format!("{} {path}", method.to_uppercase()));
                }
            }
        }
    }
    let expected = [
        "GET /api/v1/openapi.json",
        "POST /api/v1/auth/login",
        "POST /api/v1/auth/password-reset",
        "POST /api/v1/auth/password-reset/confirm",
        "POST /api/v1/auth/signup",
    ];
    assert_eq!(public, expected.map(str::to_owned).into(), "only these need no login");

    let schemas = &document["components"]["schemas"];
    assert_eq!(schemas["Role"]["enum"], serde_json::json!(["member", "admin", "owner"]));
    assert_eq!(
        schemas["ApiKeyScope"]["enum"],
        serde_json::json!(["telemetry:write", "auth:introspect", "management"])
    );
    assert_eq!(schemas["User"]["properties"]["created_at"]["format"], "date-time");
    assert_eq!(schemas["User"]["properties"]["id"]["format"], "uuid");
}
