//! async-openai's errors as provider errors, so the resilience policy treats the LLM like
//! any other upstream.

use async_openai::error::OpenAIError;

use crate::providers::{ProviderError, http};

/// async-openai's errors → ours. 429 is a rate limit unless the account is out of quota
/// (billing: no point retrying); other 4xx are permanent; 5xx, timeouts, connection errors
/// and unreadable bodies are transient.
pub fn classify(name: &str, e: OpenAIError) -> ProviderError {
    let provider = name.to_string();
    match e {
        OpenAIError::ApiError(api) => {
            let status = api.status_code;
            let message = format!("HTTP {} {}", status.as_u16(), api.api_error);
            if api.api_error.code.as_deref() == Some("insufficient_quota") {
                ProviderError::Permanent { provider, message }
            } else if status.as_u16() == 429 {
                ProviderError::RateLimited {
                    provider,
                    message,
                    retry_after: None,
                }
            } else if status.is_server_error() || status.as_u16() == 408 {
                ProviderError::Transient { provider, message }
            } else {
                ProviderError::Permanent { provider, message }
            }
        }
        OpenAIError::Reqwest(e) => http::from_reqwest(name, &e),
        OpenAIError::InvalidArgument(message) => ProviderError::Permanent { provider, message },
        other => ProviderError::Transient {
            provider,
            message: other.to_string(),
        },
    }
}
