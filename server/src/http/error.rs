//! The one error type of the HTTP API: every failure becomes a status code and a body
//! `{"error": {"code": "...", "message": "..."}}`, so clients branch on `code` and show
//! `message` to a person.
//!
//! The store, the keys and the memory budget have errors of their own, free of HTTP; they
//! become statuses here, at the edge, and nowhere else.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::AuthError;
use crate::budget::BudgetError;
use crate::store::StoreError;

/// What went wrong with a request, and the status code it answers with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed or its vectors cannot go through the shim.
    #[error("{0}")]
    BadRequest(String),
    /// 401: keys are configured and the request carries none that is valid.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: a valid key without the admin role on an admin route.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such shim, alias or route.
    #[error("{0}")]
    NotFound(String),
    /// 405: the route exists, the method does not.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 408: the request body did not arrive within the body timeout.
    #[error("{0}")]
    Timeout(String),
    /// 409: the request conflicts with the current state (nothing to roll back to, an alias
    /// that would shadow a shim).
    #[error("{0}")]
    Conflict(String),
    /// 413: the body or the batch is over the configured limit.
    #[error("{0}")]
    TooLarge(String),
    /// 415: the content type is not one the endpoint reads.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 503: not ready (no shim loaded), the key file failed to load, or the server is at
    /// its limit of large batches.
    #[error("{0}")]
    Unavailable(String),
    /// 500: the server failed (a file it could not write, a task that died); never bad input.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable code in the body.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::Timeout(_) => "request_timeout",
            ApiError::Conflict(_) => "conflict",
            ApiError::TooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
}

/// The body of every error response.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// `bad_request`, `unauthorized`, `forbidden`, `not_found`, `method_not_allowed`,
    /// `request_timeout`, `conflict`, `payload_too_large`, `unsupported_media_type`,
    /// `unavailable`, `internal`.
    pub code: String,
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if matches!(self, ApiError::Internal(_)) {
            tracing::error!("internal error: {self}");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
                message: self.to_string(),
            },
        };
        (self.status(), Json(body)).into_response()
    }
}

impl From<axum::extract::rejection::BytesRejection> for ApiError {
    fn from(r: axum::extract::rejection::BytesRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(format!("request body over the limit: {}", r.body_text()))
        } else {
            ApiError::BadRequest(format!(
                "could not read the request body: {}",
                r.body_text()
            ))
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let message = e.to_string();
        match e {
            StoreError::NoSuchName { .. }
            | StoreError::TargetNotLoaded { .. }
            | StoreError::NoSuchShim { .. }
            | StoreError::NoSuchAlias { .. } => ApiError::NotFound(message),
            StoreError::ShadowsShim { .. }
            | StoreError::NothingToRollBack { .. }
            | StoreError::PreviousNotLoaded { .. } => ApiError::Conflict(message),
            StoreError::InvalidName { .. } => ApiError::BadRequest(message),
            StoreError::Dir { .. } | StoreError::Persist { .. } => ApiError::Internal(message),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        let message = e.to_string();
        match e {
            AuthError::KeyFileFailed => ApiError::Unavailable(message),
            AuthError::Missing | AuthError::Invalid => ApiError::Unauthorized(message),
            AuthError::NotAdmin => ApiError::Forbidden(message),
        }
    }
}

impl From<BudgetError> for ApiError {
    fn from(e: BudgetError) -> Self {
        let message = e.to_string();
        match e {
            BudgetError::TooLarge { .. } => ApiError::TooLarge(message),
            BudgetError::Busy { .. } => ApiError::Unavailable(message),
        }
    }
}
