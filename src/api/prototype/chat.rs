//! `POST /chat`: one message read by the rules (`travel::prototype::chat`) and, when they
//! find no destination and an LLM is configured, by the LLM for the destination. When it
//! names a destination and a date or a number of days, the plan is submitted as
//! `POST /v1/plans` would submit it and its id returned (the worker's `understand` node then
//! reads the whole message, with the LLM when there is one); otherwise the answer asks for
//! what is missing, in the message's language. With no keys the rules alone answer.

use axum::{
    Json,
    extract::State,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::json;

use crate::{
    api::{
        body::JsonBody,
        error::ApiError,
        plans::{Submitted, enqueue},
        state::AppState,
    },
    llm::Llm,
    travel::prototype::chat::{read_message, with_llm_destination},
};

/// The longest message read, as for a v1 `query`.
const MAX_MESSAGE_CHARS: usize = 2000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatMessage {
    #[serde(default)]
    message: Option<String>,
}

pub async fn chat(State(state): State<AppState>, JsonBody(body): JsonBody<ChatMessage>) -> Result<Response, ApiError> {
    let message = body.message.as_deref().map(str::trim).unwrap_or_default();
    if message.is_empty() {
        return Err(ApiError::bad_request("message", "message is required"));
    }
    if message.contains('\0') {
        return Err(ApiError::bad_request(
            "message",
            "message contains a NUL character (\\u0000)",
        ));
    }
    if message.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ApiError::bad_request(
            "message",
            format!("message is longer than {MAX_MESSAGE_CHARS} characters"),
        ));
    }
    let today = chrono::Local::now().date_naive();
    let mut reading = read_message(message, today);
    if reading.lacks_destination() {
        match Llm::from_settings(&state.settings) {
            Ok(Some(llm)) => reading = with_llm_destination(&llm, reading, message, today).await,
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "no LLM client for the chat; the rules answer alone"),
        }
    }
    let task_id = match &reading.request {
        Some(input) => {
            let Submitted { view, .. } = enqueue(&state, input, None).await?;
            Some(view.id)
        }
        None => None,
    };
    Ok(Json(json!({
        "understood": reading.understood,
        "extracted_info": reading.extracted,
        "missing_info": reading.missing,
        "clarification": reading.clarification,
        "can_proceed": task_id.is_some(),
        "task_id": task_id,
    }))
    .into_response())
}
