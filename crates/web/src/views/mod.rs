//! The dashboard: server-rendered pages (askama), one module per area. Every page renders its
//! data without JavaScript.

mod account;
mod analytics;
mod audit;
mod auth;
mod end_users;
mod export;
mod external_login;
mod invitations;
mod keys;
mod members;
mod orgs;
mod password;
mod providers;
mod servers;
mod sign_ins;
mod support;
mod tickets;
mod upstream;
mod walkthroughs;

pub(crate) use auth::client_details;
pub(crate) use upstream::Outcome;

use askama::Template;
use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::de::DeserializeOwned;

use crate::access::OrgAccess;
use crate::auth::{CsrfForm, CurrentSession};
use crate::{ApiError, AppState};
use mcplatform_core::org::Role;

/// The stylesheet and script the pages load: no session needed.
pub fn assets_router() -> Router<AppState> {
    Router::new()
        .route("/static/app.css", get(stylesheet))
        .route("/static/htmx.min.js", get(htmx))
        .route(
            "/static/analytics.js",
            get(|| async { script(include_str!("../../static/analytics.js")) }),
        )
        .route(
            "/static/echarts.min.js",
            get(|| async { script(include_str!("../../static/echarts.min.js")) }),
        )
        // A hosted server's own pages (consent, sign-in) on its subdomain.
        .route("/s/{slug}/static/app.css", get(stylesheet))
        .merge(walkthroughs::assets_router())
}

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(auth::router())
        .merge(account::router())
        .merge(orgs::router())
        .merge(servers::router())
        .merge(sign_ins::router())
        .merge(end_users::router())
        .merge(walkthroughs::router())
        .merge(analytics::router())
        .merge(export::router())
        .merge(tickets::router())
        .merge(support::router())
        .merge(members::router())
        .merge(invitations::router())
        .merge(keys::router())
        .merge(providers::router())
        .merge(upstream::router())
        .merge(external_login::router())
        .merge(audit::router())
        .merge(password::router())
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
        ],
        include_str!("../../static/app.css"),
    )
}

/// htmx 2.0.11, vendored (npm `htmx.org`), for the few live parts of forms.
async fn htmx() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400")),
        ],
        include_str!("../../static/htmx.min.js"),
    )
}

/// An option of a `<select>`.
pub(crate) struct Choice {
    pub value: String,
    pub label: String,
}

/// The organization's servers' names, by id.
pub(crate) async fn server_names(
    state: &AppState,
    access: &OrgAccess,
) -> Result<std::collections::HashMap<mcplatform_core::ids::McpServerId, String>, ApiError> {
    let listed =
        state.store.list_mcp_servers(access.org.id, mcplatform_store::PageRequest::ALL).await?;
    Ok(listed.items.into_iter().map(|server| (server.id, server.settings.name)).collect())
}

/// Servers as the choices of a filter, by name.
pub(crate) fn server_choices(
    names: &std::collections::HashMap<mcplatform_core::ids::McpServerId, String>,
) -> Vec<Choice> {
    let mut choices: Vec<Choice> = names
        .iter()
        .map(|(id, name)| Choice { value: id.to_string(), label: name.clone() })
        .collect();
    choices.sort_by(|a, b| a.label.cmp(&b.label));
    choices
}

/// A page's own script, cached for an hour.
pub(crate) fn script(body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
        ],
        body,
    )
        .into_response()
}

/// `value` as JSON to embed in a `<script type="application/json">` element: `<`, `>` and
/// `&` are written as JSON escapes, so no `</script>` or `<!--` can end or bend the element.
pub(crate) fn script_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value)
        .unwrap_or_default()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// What the shared layout shows around every page.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    pub title: String,
    pub user: Option<UserBadge>,
    pub org: Option<OrgNav>,
    pub csrf_token: String,
    pub notice: Option<String>,
}

#[derive(Debug, Clone)]
pub struct UserBadge {
    pub display_name: String,
}

#[derive(Debug, Clone)]
pub struct OrgNav {
    pub id: String,
    pub name: String,
    /// Whether the viewer administers it (admin-only links show).
    pub is_admin: bool,
}

impl Layout {
    pub fn anonymous(title: &str, csrf_token: String) -> Self {
        Self { title: title.to_owned(), csrf_token, ..Self::default() }
    }

    pub fn for_session(title: &str, current: &CurrentSession) -> Self {
        Self {
            title: title.to_owned(),
            user: Some(UserBadge { display_name: current.user.display_name.as_str().to_owned() }),
            csrf_token: current.csrf_token.clone(),
            ..Self::default()
        }
    }

    pub fn in_org(mut self, access: &OrgAccess) -> Self {
        self.org = Some(OrgNav {
            id: access.org.id.to_string(),
            name: access.org.name.as_str().to_owned(),
            is_admin: access.role.at_least(Role::Admin),
        });
        self
    }

    pub fn with_notice(mut self, notice: Option<String>) -> Self {
        self.notice = notice;
        self
    }
}

/// Renders a template with a status; a rendering failure is a 500 like any other.
pub fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(err) => PageError(ApiError::Internal(Box::new(err))).into_response(),
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorView {
    layout: Layout,
    heading: &'static str,
    message: String,
}

/// An [`ApiError`] met by a browser: an HTML page, or the login page when not logged in.
#[derive(Debug)]
pub struct PageError(pub ApiError);

impl<E: Into<ApiError>> From<E> for PageError {
    fn from(err: E) -> Self {
        Self(err.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let (heading, message) = match &self.0 {
            ApiError::Unauthorized => return Redirect::to("/login").into_response(),
            ApiError::NotFound => {
                ("Not found", "There is nothing here, or you do not have access to it.".to_owned())
            }
            ApiError::Forbidden => {
                ("Not allowed", "Your role in this organization does not allow this.".to_owned())
            }
            ApiError::CsrfFailed => (
                "Form expired",
                "This form is no longer valid. Go back, reload the page and try again.".to_owned(),
            ),
            err if status.is_server_error() => {
                ("Something went wrong", format!("{err}. Please try again."))
            }
            err => ("That did not work", err.to_string()),
        };
        let mut response = render(
            status,
            &ErrorView { layout: Layout::anonymous(heading, String::new()), heading, message },
        );
        // Keep the cause for the log line written by the error-logging middleware.
        let api = self.0.into_response();
        if let Some(detail) = api.extensions().get::<crate::error::ServerErrorDetail>().cloned() {
            response.extensions_mut().insert(detail);
        }
        response
    }
}

pub type PageResult<T = Response> = Result<T, PageError>;

/// A moment as pages show it (RFC 2822, UTC).
pub(crate) fn format_time(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc2822).unwrap_or_default()
}

/// `?offset=` of a page that lists a page at a time.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct OffsetQuery {
    #[serde(default)]
    pub offset: u32,
}

/// The offsets of the newer and older pages around a page of `size` rows at `offset`; the
/// older one exists when the query found a row beyond this page.
pub(crate) fn page_links(offset: u32, size: u32, has_more: bool) -> (Option<u32>, Option<u32>) {
    let newer = (offset > 0).then(|| offset.saturating_sub(size));
    let older = has_more.then(|| offset.saturating_add(size));
    (newer, older)
}

/// The logged-in session, for pages: anonymous visitors are sent to the login page.
#[derive(Debug, Clone)]
pub struct PageSession(pub CurrentSession);

impl FromRequestParts<AppState> for PageSession {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match CurrentSession::from_request_parts(parts, state).await {
            Ok(current) => Ok(Self(current)),
            Err(_) => {
                let next = parts.uri.path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
                let to = format!("/login?next={}", urlencoding(next));
                Err(Redirect::to(&to).into_response())
            }
        }
    }
}

fn urlencoding(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A CSRF-checked form, for pages: a failed check renders an HTML error page.
#[derive(Debug)]
pub struct PageForm<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for PageForm<T> {
    type Rejection = PageError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        CsrfForm::<T>::from_request(request, state)
            .await
            .map(|CsrfForm(form)| Self(form))
            .map_err(PageError)
    }
}
