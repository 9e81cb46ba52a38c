//! Every answer outside 2xx–3xx carries the JSON error body. The handlers' own errors already
//! do; this layer rewrites what axum and tower answer by themselves — a 405, a path or query
//! string they could not read, a timeout — keeping their headers (`Allow`, …) and their
//! message.

use axum::{
    extract::Request,
    http::{HeaderMap, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::api::error::ApiError;

/// How much of a plain-text error body is kept as the message.
const MESSAGE_BYTES: usize = 1024;

pub async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(response.headers()) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, MESSAGE_BYTES).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_string(),
        Err(_) => String::new(),
    };
    let mut rewritten = described(status, &parts.headers, text).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rewritten.headers_mut().insert(name.clone(), value.clone());
        }
    }
    rewritten
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

fn described(status: StatusCode, headers: &HeaderMap, text: String) -> ApiError {
    let reason = status.canonical_reason().unwrap_or("error");
    let message = if text.is_empty() { reason.to_string() } else { text };
    match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            let allowed = headers.get(header::ALLOW).and_then(|v| v.to_str().ok()).unwrap_or("");
            ApiError::new(
                status,
                "method_not_allowed",
                format!("this route does not take that method; it takes {allowed}"),
            )
        }
        StatusCode::REQUEST_TIMEOUT => ApiError::new(status, "timeout", "the request took too long; try again"),
        StatusCode::BAD_REQUEST if message.starts_with("Failed to deserialize query string") => {
            ApiError::new(status, "invalid_request", message).field("query")
        }
        StatusCode::BAD_REQUEST if message.starts_with("Invalid URL") => {
            ApiError::new(status, "invalid_request", message).field("path")
        }
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(status, "body_too_large", message).field("body"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ApiError::new(status, "unsupported_media_type", message).field("content-type")
        }
        _ => ApiError::new(status, &reason.to_lowercase().replace([' ', '-'], "_"), message),
    }
}
