//! A submitted `callback_url`, checked before the plan is accepted: only when deliveries
//! can be signed (`WEBHOOK_SECRET`), and only to a URL the sender may call (see
//! `webhook::target`; the sender checks it again at each try).

use axum::http::StatusCode;

use crate::{api::error::ApiError, config::WebhookSettings, webhook::target};

const FIELD: &str = "callback_url";

pub async fn check(settings: &WebhookSettings, raw: &str) -> Result<(), ApiError> {
    if settings.secret.is_none() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "webhooks_unavailable",
            "callback_url cannot be used: this service has no WEBHOOK_SECRET to sign deliveries with",
        )
        .field(FIELD));
    }
    match target::check(raw, settings.allow_private).await {
        Ok(_) => Ok(()),
        Err(refused) => Err(ApiError::bad_request(
            FIELD,
            format!("callback_url {}", refused.message()),
        )),
    }
}
