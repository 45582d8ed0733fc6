//! What the authorization server's own pages share (consent, sign-in, grants): their error
//! page, cookies on the issuer's path, no caching, the same-origin check of their forms, and
//! form and query extractors that answer bad input on that page rather than in plain text.

use askama::Template;
use axum::extract::{Form, FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, SameSite};
use mcplatform_core::oauth::ServerOrigin;
use serde::de::DeserializeOwned;
use url::Url;

use super::error::no_store;
use crate::AppState;

/// Cookies of a server's pages live on its issuer's path: `/` on its subdomain, `/s/{slug}` on
/// the shared host, so that two servers never see each other's.
pub(super) fn cookie<'a>(
    state: &AppState,
    origin: &ServerOrigin,
    name: &'a str,
    value: String,
) -> Cookie<'a> {
    let path = Url::parse(&origin.issuer()).map(|u| u.path().to_owned()).unwrap_or_default();
    Cookie::build((name, value))
        .http_only(true)
        .secure(state.config.is_https())
        .same_site(SameSite::Lax)
        .path(if path.is_empty() { "/".to_owned() } else { path })
        .build()
}

#[derive(Template)]
#[template(path = "oauth/error.html")]
struct ErrorPage {
    title: String,
    message: String,
}

/// An error shown to the person, not sent to the client: the client or its redirect URI cannot
/// be trusted with it (RFC 6749 §4.1.2.1), or the browser's request is stale.
pub(super) fn error_page(status: StatusCode, title: &str, message: impl Into<String>) -> Response {
    let page = ErrorPage { title: title.to_owned(), message: message.into() };
    crate::views::render(status, &page)
}

/// Pages with per-request secrets (the consent form's token) are not to be stored.
pub(super) fn no_cache(response: Response) -> Response {
    (no_store(), response).into_response()
}

/// A form posted from another site is refused whatever it carries (`Origin`, sent by browsers
/// on every POST, must be this issuer's).
pub(crate) fn same_origin(headers: &HeaderMap, origin: &ServerOrigin) -> bool {
    let Some(sent) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let ours = Url::parse(&origin.issuer()).map(|u| u.origin().ascii_serialization());
    ours.is_ok_and(|ours| ours == sent)
}

/// A urlencoded form of one of these pages; malformed, it gets the error page.
pub(super) struct PageForm<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for PageForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        match Form::<T>::from_request(request, state).await {
            Ok(Form(value)) => Ok(Self(value)),
            Err(e) => Err(error_page(e.status(), "Invalid request", e.body_text())),
        }
    }
}

/// The query of one of these pages; malformed, it gets the error page.
pub(super) struct PageQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for PageQuery<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Self(value)),
            Err(e) => Err(error_page(e.status(), "Invalid request", e.body_text())),
        }
    }
}
