//! The member, server and API-key lists a page at a time, in the JSON API and in the dashboard.

use std::collections::BTreeSet;

use mcplatform_core::api_key::ApiKeyScope;
use mcplatform_core::crypto::NewSecretToken;
use mcplatform_core::ids::OrgId;
use mcplatform_core::mcp_server::{McpServerSettings, Slug};
use mcplatform_core::org::Role;
use mcplatform_core::user::{DisplayName, EmailAddress};
use mcplatform_store::{NewApiKey, NewPlatformUser};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{TestApp, TestUser, call, spawn_app};

/// Adds `count` members, servers and API keys straight through the store, all at the same
/// moment and with the same server name, so only the id orders them.
async fn seed(app: &TestApp, org: &str, count: usize) {
    let org: OrgId = org.parse().unwrap();
    let now = app.clock_now();
    for n in 0..count {
        let user = NewPlatformUser {
            email: EmailAddress::parse(&format!("member{n:02}@example.com")).unwrap(),
            display_name: DisplayName::parse(&format!("Member {n:02}")).unwrap(),
            password_hash: None,
        };
        let user = app.store.create_user(&user, now).await.unwrap();
        app.store.add_member(org, user.id, Role::Member, now).await.unwrap();
        let slug = Slug::parse(&format!("server-{n:02}")).unwrap();
        let settings = McpServerSettings::new("Docs").unwrap();
        app.store.create_mcp_server(org, &slug, &settings, now).await.unwrap();
        let token = NewSecretToken::generate("mcpk_");
        let key = NewApiKey {
            organization_id: org,
            mcp_server_id: None,
            name: format!("key-{n:02}"),
            visible_prefix: "mcpk_test".into(),
            token_hash: token.hash.clone(),
            scopes: vec![ApiKeyScope::Management],
            created_by: None,
        };
        app.store.create_api_key(&key, now).await.unwrap();
    }
}

/// Follows `next_offset` from the first page to the last, collecting what `id` picks out of
/// each item.
async fn walk(
    app: &TestApp,
    user: &TestUser,
    list: &str,
    limit: u32,
    id: fn(&Value) -> String,
) -> Vec<String> {
    let mut ids = Vec::new();
    let mut offset = Some(0);
    let mut pages = 0;
    while let Some(at) = offset {
        let path = format!("{list}?limit={limit}&offset={at}");
        let (status, body) = call(app, user, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        let items = body["items"].as_array().unwrap();
        offset = body["next_offset"].as_u64().map(|n| u32::try_from(n).unwrap());
        match offset {
            Some(next) => {
                assert_eq!(items.len(), limit as usize, "{path}: only the last page is short");
                assert_eq!(next, at + limit, "{path}");
            }
            None => assert!(body["next_offset"].is_null(), "{path}: {body}"),
        }
        ids.extend(items.iter().map(id));
        pages += 1;
        assert!(pages < 100, "{list} never ends");
    }
    ids
}

fn distinct(ids: &[String]) -> BTreeSet<String> {
    let set: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(set.len(), ids.len(), "no item twice: {ids:?}");
    set
}

#[tokio::test]
async fn members_servers_and_keys_are_walked_page_by_page_each_item_once() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;
    let org = app.create_org(&ada, "Acme").await;
    seed(&app, &org, 7).await;
    let base = format!("/api/v1/orgs/{org}");

    let item_id = |item: &Value| item["id"].as_str().unwrap().to_owned();
    let member_id = |item: &Value| item["user"]["id"].as_str().unwrap().to_owned();
    for (list, id, expected) in [
        (format!("{base}/members"), member_id as fn(&Value) -> String, 8),
        (format!("{base}/servers"), item_id, 7),
        (format!("{base}/api-keys"), item_id, 7),
    ] {
        let (status, whole) = call(&app, &ada, Method::GET, &list, None).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert!(whole["next_offset"].is_null(), "one default page holds everything: {whole}");
        let everything: Vec<String> = whole["items"].as_array().unwrap().iter().map(id).collect();
        assert_eq!(everything.len(), expected, "{list}");
        for limit in [1, 2, 3, 8] {
            let walked = walk(&app, &ada, &list, limit, id).await;
            assert_eq!(walked, everything, "{list} with limit={limit}: same items, same order");
            assert_eq!(distinct(&walked).len(), expected);
        }
    }

    // Past the end is an empty last page, not an error.
    let (status, body) =
        call(&app, &ada, Method::GET, &format!("{base}/servers?offset=4294967295"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((body["items"].as_array().unwrap().len(), &body["next_offset"]), (0, &Value::Null));
}

#[tokio::test]
async fn a_limit_out_of_range_or_an_unknown_parameter_is_a_400_that_says_why() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;
    let org = app.create_org(&ada, "Acme").await;
    let server =
        app.create_server(&ada, &org, serde_json::json!({"slug": "acme", "name": "A"})).await;
    let server = server["id"].as_str().unwrap().to_owned();
    let server_lists = ["tracking-links", "end-users", "sessions", "support-tickets"]
        .map(|list| format!("servers/{server}/{list}"));
    let lists = ["members", "servers", "api-keys", "end-users", "support-tickets"]
        .map(str::to_owned)
        .into_iter()
        .chain(server_lists);
    for list in lists {
        let list = format!("/api/v1/orgs/{org}/{list}");
        for (query, says) in [
            ("limit=0", "between 1 and 200"),
            ("limit=201", "between 1 and 200"),
            ("limit=ten", "limit"),
            ("limit=-1", "limit"),
            ("offset=-5", "offset"),
            ("page=2", "unknown field `page`"),
        ] {
            let (status, body) =
                call(&app, &ada, Method::GET, &format!("{list}?{query}"), None).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{list}?{query}: {body}");
            assert_eq!(body["code"], "bad_request");
            let message = body["message"].as_str().unwrap();
            assert!(message.contains(says), "{list}?{query}: {message}");
        }
        for limit in [1, 200] {
            let path = format!("{list}?limit={limit}");
            assert_eq!(
                call(&app, &ada, Method::GET, &path, None).await.0,
                StatusCode::OK,
                "{path}"
            );
        }
    }
}

/// The `href` of the pager link labelled `label`, if the page has one.
fn link(html: &str, label: &str) -> Option<String> {
    let end = html.find(&format!("\">{label}</a>"))?;
    let start = html[..end].rfind("href=\"")? + "href=\"".len();
    Some(html[start..end].replace("&amp;", "&"))
}

/// Reads a dashboard list from its first page to its last through the pager's links, and
/// counts on how many pages each of `names` shows up.
async fn read_pages(
    app: &TestApp,
    user: &TestUser,
    first: &str,
    next: &str,
    previous: &str,
    names: &[String],
) -> Vec<usize> {
    let mut seen = vec![0; names.len()];
    let mut path = Some(first.to_owned());
    let mut pages = Vec::new();
    while let Some(at) = path {
        let response = user.client.get(app.url(&at)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{at}");
        let html = response.text().await.unwrap();
        for (name, count) in names.iter().zip(seen.iter_mut()) {
            *count += usize::from(html.contains(&format!(">{name}<")));
        }
        assert_eq!(link(&html, previous).is_some(), !pages.is_empty(), "{at}: a way back");
        pages.push(at);
        path = link(&html, next);
        assert!(pages.len() < 10, "{first} never ends");
    }
    assert_eq!(pages.len(), 2, "51 items and more take two pages of 50: {pages:?}");
    seen
}

#[tokio::test]
async fn dashboard_lists_link_to_the_next_and_previous_pages() {
    let app = spawn_app().await;
    let ada = app.signup("ada@example.com").await;
    let org = app.create_org(&ada, "Acme").await;
    seed(&app, &org, 51).await;
    let base = format!("/orgs/{org}");

    let emails: Vec<String> = (0..51).map(|n| format!("member{n:02}@example.com")).collect();
    let seen =
        read_pages(&app, &ada, &format!("{base}/members"), "Next →", "← Previous", &emails).await;
    assert!(seen.iter().all(|&pages| pages == 1), "every member on exactly one page: {seen:?}");

    let slugs: Vec<String> = (0..51).map(|n| format!("server-{n:02}")).collect();
    let seen = read_pages(&app, &ada, &base, "Next →", "← Previous", &slugs).await;
    assert!(seen.iter().all(|&pages| pages == 1), "every server on exactly one page: {seen:?}");

    let keys: Vec<String> = (0..51).map(|n| format!("key-{n:02}")).collect();
    let seen =
        read_pages(&app, &ada, &format!("{base}/api-keys"), "Older →", "← Newer", &keys).await;
    assert!(seen.iter().all(|&pages| pages == 1), "every key on exactly one page: {seen:?}");
}
