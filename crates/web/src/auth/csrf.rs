//! CSRF protection for cookie-authenticated, state-changing requests.
//!
//! Every form carries a `csrf_token` field (JSON requests an `x-csrf-token` header) whose value
//! is derived from the cookie secret: the session's, or before login an anonymous cookie's. A
//! cross-site page can make the browser send our cookies, but it cannot read them, so it cannot
//! produce the token. `SameSite=Lax` cookies and an `Origin` check are the other two layers.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use mcplatform_core::crypto::{NewSecretToken, constant_time_eq, csrf_token_for};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::session::CurrentSession;
use crate::{ApiError, AppState};

pub(crate) const ANONYMOUS_CSRF_COOKIE: &str = "mcplatform_csrf";
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// The token a page must embed in its forms.
#[derive(Debug, Clone)]
pub struct CsrfToken(pub String);

/// For pages shown before login: the anonymous CSRF cookie's token, and the cookie to set when
/// the browser did not have one yet.
#[derive(Debug)]
pub struct AnonymousCsrf {
    pub token: CsrfToken,
    pub new_cookie: Option<Cookie<'static>>,
}

impl FromRequestParts<AppState> for AnonymousCsrf {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(current) = parts.extensions.get::<Arc<CurrentSession>>() {
            return Ok(Self { token: CsrfToken(current.csrf_token.clone()), new_cookie: None });
        }
        let jar = CookieJar::from_headers(&parts.headers);
        if let Some(cookie) = jar.get(ANONYMOUS_CSRF_COOKIE) {
            return Ok(Self { token: CsrfToken(csrf_token_for(cookie.value())), new_cookie: None });
        }
        let secret = NewSecretToken::generate("mcpa_").secret.expose_secret().to_owned();
        let token = CsrfToken(csrf_token_for(&secret));
        let cookie = Cookie::build((ANONYMOUS_CSRF_COOKIE, secret))
            .http_only(true)
            .secure(state.config.is_https())
            .same_site(SameSite::Strict)
            .path("/")
            .build();
        Ok(Self { token, new_cookie: Some(cookie) })
    }
}

impl AnonymousCsrf {
    /// `jar` plus the anonymous cookie when this response must set it.
    pub fn set_cookie(new_cookie: Option<Cookie<'static>>, jar: CookieJar) -> CookieJar {
        match new_cookie {
            Some(cookie) => jar.add(cookie),
            None => jar,
        }
    }
}

/// The token this request must present: from its session, else from its anonymous cookie.
fn expected_token(parts: &Parts) -> Option<String> {
    if let Some(current) = parts.extensions.get::<Arc<CurrentSession>>() {
        return Some(current.csrf_token.clone());
    }
    let jar = CookieJar::from_headers(&parts.headers);
    jar.get(ANONYMOUS_CSRF_COOKIE).map(|cookie| csrf_token_for(cookie.value()))
}

/// Refuses a request whose `Origin` names another site (browsers send it on every POST). The
/// page's origin must be the configured base URL's, or the host the request was sent to.
fn check_origin(headers: &HeaderMap, state: &AppState) -> Result<(), ApiError> {
    // `null` (privacy-sensitive contexts) says nothing either way: the token decides.
    let origin = headers.get(header::ORIGIN).and_then(|value| value.to_str().ok());
    let Some(origin) = origin.filter(|origin| *origin != "null") else {
        return Ok(());
    };
    if origin == state.config.base_url.origin().ascii_serialization() {
        return Ok(());
    }
    let origin_authority = origin.split_once("://").map(|(_, authority)| authority);
    let host = headers.get(header::HOST).and_then(|value| value.to_str().ok());
    match (origin_authority, host) {
        (Some(authority), Some(host)) if authority.eq_ignore_ascii_case(host) => Ok(()),
        _ => Err(ApiError::CsrfFailed),
    }
}

pub(crate) fn verify(
    parts: &Parts,
    state: &AppState,
    presented: Option<&str>,
) -> Result<(), ApiError> {
    check_origin(&parts.headers, state)?;
    match (expected_token(parts), presented) {
        (Some(expected), Some(presented))
            if constant_time_eq(expected.as_bytes(), presented.as_bytes()) =>
        {
            Ok(())
        }
        _ => Err(ApiError::CsrfFailed),
    }
}

/// The header form, for cookie-authenticated JSON requests.
pub(crate) fn verify_header(parts: &Parts, state: &AppState) -> Result<(), ApiError> {
    let presented = parts.headers.get(CSRF_HEADER).and_then(|value| value.to_str().ok());
    verify(parts, state, presented)
}

/// A urlencoded form whose `csrf_token` field has been checked.
#[derive(Debug)]
pub struct CsrfForm<T>(pub T);

#[derive(Deserialize)]
struct TokenField {
    csrf_token: Option<String>,
}

impl<T: DeserializeOwned> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let is_form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(ApiError::UnsupportedMediaType(
                "expected Content-Type: application/x-www-form-urlencoded".into(),
            ));
        }
        let body = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(|rejection| match rejection.status() {
                axum::http::StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
                _ => ApiError::BadRequest(rejection.body_text()),
            })?;
        let field: TokenField = serde_urlencoded::from_bytes(&body)
            .map_err(|err| ApiError::BadRequest(format!("malformed form: {err}")))?;
        verify(&parts, state, field.csrf_token.as_deref())?;
        serde_urlencoded::from_bytes(&body)
            .map(Self)
            .map_err(|err| ApiError::InvalidBody(err.to_string()))
    }
}
