//! Liveness (the process answers) and readiness (the database answers and its schema is
//! current): an orchestrator restarts on the first and routes traffic on the second.

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde::Serialize;
use serde_json::json;

use crate::{api::state::AppState, db};

/// `/health` and `/ready`: `ok`, `ready`, or `unavailable` with why.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Liveness {
    pub status: String,
    /// `unavailable`: `{"code": "not_ready", "message"}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub error: Option<serde_json::Value>,
}

#[utoipa::path(
    get, path = "/health", operation_id = "health", tag = "operations",
    summary = "Liveness: the process answers",
    responses((status = 200, description = "`{\"status\": \"ok\"}`", body = Liveness))
)]
pub async fn health() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

#[utoipa::path(
    get, path = "/ready", operation_id = "ready", tag = "operations",
    summary = "Readiness: the database answers and every migration is applied",
    responses(
        (status = 200, description = "`{\"status\": \"ready\"}`", body = Liveness),
        (status = 503, description = "`{\"status\": \"unavailable\", \"error\": {\"code\": \"not_ready\", \"message\"}}`", body = Liveness),
    )
)]
pub async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    match db::is_ready(&state.pool).await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ready" }))),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "error": { "code": "not_ready", "message": reason } })),
        ),
    }
}
