//! OAuth error answers: RFC 6749 §5.2 at the token endpoint (and the endpoints that follow its
//! form: RFC 7009, RFC 7662), RFC 7591 §3.2.2 at registration. JSON, never cached.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mcplatform_core::error_chain;
use serde_json::json;

use crate::ApiError;

/// The registered error codes we answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    /// RFC 8707 §2: the resource is not one of this server's.
    InvalidTarget,
    AccessDenied,
    UnsupportedResponseType,
    ServerError,
    TemporarilyUnavailable,
    /// RFC 7591 §3.2.2.
    InvalidRedirectUri,
    InvalidClientMetadata,
}

impl ErrorCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::InvalidClientMetadata => "invalid_client_metadata",
        }
    }
}

/// The challenge of a 401 at the endpoints where clients authenticate (RFC 6749 §5.2).
const CLIENT_CHALLENGE: &str = "Basic realm=\"oauth\", charset=\"UTF-8\"";

#[derive(Debug)]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: String,
    /// The `WWW-Authenticate` challenge of its 401 (RFC 9110 §15.5.2 requires one).
    challenge: &'static str,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        let description = error_description(&description.into());
        Self { code, description, challenge: CLIENT_CHALLENGE }
    }

    /// Another authentication scheme than client authentication failed (a resource server's
    /// Bearer API key).
    pub fn with_challenge(mut self, challenge: &'static str) -> Self {
        self.challenge = challenge;
        self
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, description)
    }

    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidClient, description)
    }

    fn status(&self) -> StatusCode {
        match self.code {
            ErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
            ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// Failures of our own (the store, a key) become `server_error`; their cause goes to the log only.
impl From<ApiError> for OAuthError {
    fn from(err: ApiError) -> Self {
        match err {
            ApiError::Unavailable(cause) => {
                tracing::error!(error = %error_chain(cause.as_ref()), "oauth endpoint: store unavailable");
                Self::new(ErrorCode::TemporarilyUnavailable, "try again shortly")
            }
            ApiError::NotFound => Self::invalid_request("not found"),
            err if err.status().is_server_error() => {
                tracing::error!(error = %error_chain(&err), "oauth endpoint failed");
                Self::new(ErrorCode::ServerError, "the authorization server failed; try again")
            }
            err => Self::invalid_request(err.to_string()),
        }
    }
}

impl From<mcplatform_store::StoreError> for OAuthError {
    fn from(err: mcplatform_store::StoreError) -> Self {
        ApiError::from(err).into()
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = json!({"error": self.code.as_str(), "error_description": self.description});
        let mut response = (status, no_store(), Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(self.challenge));
        }
        response
    }
}

/// RFC 6749 §5.2 and §4.1.2.1: `error_description` is printable ASCII without `"` and `\`.
/// Our messages quote what they refuse, so quotes become apostrophes and anything else
/// outside the set a `?`.
pub fn error_description(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' => '\'',
            '\\' => '/',
            ' '..='~' => c,
            _ => '?',
        })
        .collect()
}

/// RFC 6749 §5.1: answers carrying tokens or secrets must not be cached.
pub fn no_store() -> [(header::HeaderName, HeaderValue); 2] {
    [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::PRAGMA, HeaderValue::from_static("no-cache")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_keep_to_the_characters_rfc_6749_allows() {
        assert_eq!(
            error_description("resource \"a\\b\" is not ours: café\n"),
            "resource 'a/b' is not ours: caf??"
        );
    }
}
