//! The JSON API's error: what went wrong, as a status and a `{"code", "message"}` body.
//!
//! Server-side failures (5xx) carry their cause only into the log, never into the response; the
//! [`log_server_errors`](crate::middleware::log_server_errors) middleware writes that log line
//! once, inside the request's span.

use std::sync::Arc;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mcplatform_core::{ValidationError, error_chain};
use mcplatform_store::StoreError;
use serde::Serialize;

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// Like `Validation`, for a field deep in a document (`steps[3].title`).
    #[error("{field}: {message}")]
    InvalidField { field: String, message: String },
    #[error("authentication required")]
    Unauthorized,
    #[error("not allowed")]
    Forbidden,
    /// A cookie-authenticated change arrived without the matching anti-CSRF token.
    #[error("missing or invalid CSRF token")]
    CsrfFailed,
    #[error("too many attempts: try again in {} seconds", retry_after.as_secs().max(1))]
    TooManyRequests { retry_after: std::time::Duration },
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("already exists: {0}")]
    Conflict(&'static str),
    /// Something else depends on what was to be removed or changed; says what.
    #[error("{0}")]
    InUse(String),
    /// The body parsed but does not have the expected shape.
    #[error("{0}")]
    InvalidBody(String),
    #[error("request body is too large")]
    PayloadTooLarge,
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    #[error("service unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The body of every error answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable, machine-readable name for the error: `bad_request`, `invalid_input`,
    /// `unauthorized`, `forbidden`, `csrf_failed`, `too_many_requests`, `not_found`,
    /// `method_not_allowed`, `conflict`, `invalid_body`, `payload_too_large`,
    /// `unsupported_media_type`, `unavailable` or `internal`.
    #[schema(example = "invalid_input")]
    code: &'static str,
    /// What went wrong, for people.
    #[schema(example = "is reserved")]
    message: String,
    /// The input at fault, with `invalid_input`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "slug")]
    field: Option<String>,
}

/// The cause of a 5xx, kept in the response's extensions for the logging middleware.
#[derive(Debug, Clone)]
pub struct ServerErrorDetail(pub Arc<str>);

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Validation(_) | Self::InvalidField { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden | Self::CsrfFailed => StatusCode::FORBIDDEN,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) | Self::InUse(_) => StatusCode::CONFLICT,
            Self::InvalidBody(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A stable, machine-readable name for the error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Validation(_) | Self::InvalidField { .. } => "invalid_input",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::CsrfFailed => "csrf_failed",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict(_) | Self::InUse(_) => "conflict",
            Self::InvalidBody(_) => "invalid_body",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => Self::NotFound,
            StoreError::Conflict(what) => Self::Conflict(what),
            StoreError::Unavailable(_) => Self::Unavailable(Box::new(err)),
            other => Self::Internal(Box::new(other)),
        }
    }
}

/// A step the ticket lifecycle forbids: the request conflicts with the ticket as it is.
impl From<mcplatform_core::support::lifecycle::TransitionError> for ApiError {
    fn from(err: mcplatform_core::support::lifecycle::TransitionError) -> Self {
        Self::InUse(err.to_string())
    }
}

impl From<mcplatform_core::walkthrough::exchange::ImportError> for ApiError {
    fn from(err: mcplatform_core::walkthrough::exchange::ImportError) -> Self {
        Self::InvalidField { field: err.path, message: err.message }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let field = match &self {
            Self::Validation(err) => Some(err.field.to_owned()),
            Self::InvalidField { field, .. } => Some(field.clone()),
            _ => None,
        };
        let message = match &self {
            Self::Validation(err) => err.message.clone(),
            Self::InvalidField { message, .. } => message.clone(),
            other => other.to_string(),
        };
        let body = ErrorBody { code: self.code(), message, field };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Self::TooManyRequests { retry_after } = &self {
            let seconds = retry_after.as_secs().max(1).to_string();
            if let Ok(value) = HeaderValue::from_str(&seconds) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        if status.is_server_error() {
            response.extensions_mut().insert(ServerErrorDetail(error_chain(&self).into()));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_json(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn validation_errors_name_the_field() {
        let response = ApiError::from(ValidationError::new("slug", "is reserved")).into_response();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            body_json(response).await,
            serde_json::json!({"code": "invalid_input", "message": "is reserved", "field": "slug"})
        );
    }

    #[tokio::test]
    async fn internal_errors_hide_their_cause_from_the_client_but_keep_it_for_the_log() {
        let cause = std::io::Error::other("disk on fire at /var/lib/secret");
        let response = ApiError::Internal(Box::new(cause)).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let detail = response.extensions().get::<ServerErrorDetail>().cloned().unwrap();
        assert!(detail.0.contains("disk on fire"));
        let body = body_json(response).await;
        assert_eq!(body, serde_json::json!({"code": "internal", "message": "internal error"}));
    }

    #[tokio::test]
    async fn unauthorized_responses_carry_a_bearer_challenge() {
        let response = ApiError::Unauthorized.into_response();
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }

    /// Every variant once; the match stops compiling when a variant is added, until it is
    /// listed here too.
    fn one_of_each() -> Vec<ApiError> {
        let all = vec![
            ApiError::BadRequest("b".into()),
            ApiError::Validation(ValidationError::new("f", "m")),
            ApiError::InvalidField { field: "f".into(), message: "m".into() },
            ApiError::Unauthorized,
            ApiError::Forbidden,
            ApiError::CsrfFailed,
            ApiError::TooManyRequests { retry_after: std::time::Duration::from_secs(1) },
            ApiError::NotFound,
            ApiError::MethodNotAllowed,
            ApiError::Conflict("c"),
            ApiError::InUse("u".into()),
            ApiError::InvalidBody("i".into()),
            ApiError::PayloadTooLarge,
            ApiError::UnsupportedMediaType("u".into()),
            ApiError::Unavailable(Box::new(std::io::Error::other("u"))),
            ApiError::Internal(Box::new(std::io::Error::other("i"))),
        ];
        for err in &all {
            match err {
                ApiError::BadRequest(_)
                | ApiError::Validation(_)
                | ApiError::InvalidField { .. }
                | ApiError::Unauthorized
                | ApiError::Forbidden
                | ApiError::CsrfFailed
                | ApiError::TooManyRequests { .. }
                | ApiError::NotFound
                | ApiError::MethodNotAllowed
                | ApiError::Conflict(_)
                | ApiError::InUse(_)
                | ApiError::InvalidBody(_)
                | ApiError::PayloadTooLarge
                | ApiError::UnsupportedMediaType(_)
                | ApiError::Unavailable(_)
                | ApiError::Internal(_) => {}
            }
        }
        all
    }

    #[test]
    fn the_openapi_schema_names_every_error_code() {
        let schema = serde_json::to_value(<ErrorBody as utoipa::PartialSchema>::schema()).unwrap();
        let documented = schema["properties"]["code"]["description"].as_str().unwrap();
        for err in one_of_each() {
            assert!(documented.contains(&format!("`{}`", err.code())), "{}", err.code());
        }
    }

    #[test]
    fn store_errors_map_to_the_matching_status() {
        assert_eq!(ApiError::from(StoreError::NotFound).status(), StatusCode::NOT_FOUND);
        assert_eq!(ApiError::from(StoreError::Conflict("slug")).status(), StatusCode::CONFLICT);
        let corrupt = StoreError::Corrupt { table: "t", detail: "d".into() };
        assert_eq!(ApiError::from(corrupt).status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
