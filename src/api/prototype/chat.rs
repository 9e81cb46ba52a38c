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
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    api::{
        auth::caller::Caller,
        body::JsonBody,
        error::{ApiError, ErrorBody},
        plans::{Submitted, enqueue},
        state::AppState,
    },
    llm::Llm,
    travel::prototype::chat::{Extracted, Missing, read_message, with_llm_destination},
};

/// The longest message read, as for a v1 `query`.
const MAX_MESSAGE_CHARS: usize = 2000;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatMessage {
    /// 1–2,000 characters, Chinese or English.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 2000)]
    message: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChatReply {
    pub understood: bool,
    pub extracted_info: Extracted,
    pub missing_info: Vec<Missing>,
    /// Asks for what is missing, in the message's language.
    pub clarification: String,
    pub can_proceed: bool,
    /// The submitted plan's id, when the message said enough.
    pub task_id: Option<Uuid>,
}

#[utoipa::path(
    post, path = "/chat", operation_id = "prototype_chat", tag = "prototype",
    summary = "Read one message; submit its plan when it names a destination and dates",
    request_body = ChatMessage,
    responses(
        (status = 200, description = "What the message said, and the task when one was submitted", body = ChatReply),
        (status = 400, description = "No message, a message too long, malformed JSON", body = ErrorBody),
        (status = 413, description = "The body is over 64 KiB", body = ErrorBody),
        (status = 422, description = "The message's request cannot be planned", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    )
)]
pub async fn chat(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<ChatMessage>,
) -> Result<Response, ApiError> {
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
            let Submitted { view, .. } = enqueue(&state, &caller, input, None).await?;
            Some(view.id)
        }
        None => None,
    };
    Ok(Json(ChatReply {
        understood: reading.understood,
        extracted_info: reading.extracted,
        missing_info: reading.missing,
        clarification: reading.clarification,
        can_proceed: task_id.is_some(),
        task_id,
    })
    .into_response())
}
