//! API errors: every one is JSON, `{"error": {"code", "message", "field"}}`, with the status
//! that fits. Nothing a client sends can produce a 500; a database outage is a 503.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use serde_json::json;

use crate::travel::request::InvalidRequest;

/// Every error answer's body, as the OpenAPI document describes it (`IntoResponse` below
/// writes it).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// What went wrong, for programs: `invalid_request`, `not_found`, `unknown_destination`, …
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
    /// The request field (or header, or `query`, `path`, `body`) at fault; `null` when none is.
    #[schema(required = true)]
    pub field: Option<String>,
    /// `unknown_destination`: the destinations there is data for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supported: Option<Vec<String>>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub field: Option<String>,
    pub extra: Option<serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            field: None,
            extra: None,
        }
    }

    pub fn field(mut self, field: &str) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn bad_request(field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message).field(field)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }

    pub fn conflict(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }
}

impl From<InvalidRequest> for ApiError {
    fn from(e: InvalidRequest) -> Self {
        let status = if e.is_unprocessable() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::BAD_REQUEST
        };
        let extra = (!e.supported.is_empty()).then(|| json!({ "supported": e.supported }));
        Self {
            status,
            code: e.code.as_str().to_string(),
            message: e.message,
            field: Some(e.field),
            extra,
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        if crate::db::is_unavailable(&e) {
            tracing::warn!(error = %e, "database unavailable");
            return Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the database is unavailable; try again shortly",
            );
        }
        tracing::error!(error = %e, "database error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message, "field": self.field });
        if let (Some(extra), Some(obj)) = (self.extra, error.as_object_mut())
            && let Some(extra) = extra.as_object()
        {
            obj.extend(extra.clone());
        }
        (self.status, Json(json!({ "error": error }))).into_response()
    }
}
