//! How a provider call failed, as the resilience wrapper and the nodes need to know it:
//! transient (retry), rate limited (retry later), permanent (never retry) or refused by the
//! open circuit breaker.

use std::time::Duration;

use crate::resilience::Failure;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    /// Worth retrying: timeouts, connection errors, 5xx, garbage bodies.
    #[error("{provider}: {message}")]
    Transient { provider: String, message: String },
    /// The upstream or our quota says slow down: retried after `retry_after` when given.
    #[error("{provider}: rate limited: {message}")]
    RateLimited {
        provider: String,
        message: String,
        retry_after: Option<Duration>,
    },
    /// Not worth retrying: bad key, bad request, unknown city.
    #[error("{provider}: {message}")]
    Permanent { provider: String, message: String },
    /// The provider's circuit breaker is open: the call was not made.
    #[error("{provider}: circuit breaker open (cool-down {} s)", cool_down.as_secs())]
    BreakerOpen { provider: String, cool_down: Duration },
}

impl ProviderError {
    /// Counts against the circuit breaker.
    pub fn is_transient(&self) -> bool {
        matches!(self, ProviderError::Transient { .. })
    }

    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ProviderError::Transient { .. } | ProviderError::RateLimited { .. }
        )
    }

    pub fn outcome(&self) -> &'static str {
        match self {
            ProviderError::Transient { .. } => "transient",
            ProviderError::RateLimited { .. } => "rate_limited",
            ProviderError::Permanent { .. } => "permanent",
            ProviderError::BreakerOpen { .. } => "breaker_open",
        }
    }

    /// The same error, saying how many tries it took.
    pub fn after_tries(self, tries: usize) -> Self {
        match self {
            ProviderError::Transient { provider, message } => ProviderError::Transient {
                provider,
                message: format!("{message} (after {tries} tries)"),
            },
            ProviderError::RateLimited {
                provider,
                message,
                retry_after,
            } => ProviderError::RateLimited {
                provider,
                message: format!("{message} (after {tries} tries)"),
                retry_after,
            },
            other => other,
        }
    }
}

impl Failure for ProviderError {
    fn is_transient(&self) -> bool {
        ProviderError::is_transient(self)
    }

    fn is_retryable(&self) -> bool {
        ProviderError::is_retryable(self)
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            ProviderError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    fn outcome(&self) -> &'static str {
        ProviderError::outcome(self)
    }

    fn timed_out(upstream: &str, after: Duration) -> Self {
        ProviderError::Transient {
            provider: upstream.to_string(),
            message: format!("timed out after {} ms", after.as_millis()),
        }
    }

    fn breaker_open(upstream: &str, cool_down: Duration) -> Self {
        ProviderError::BreakerOpen {
            provider: upstream.to_string(),
            cool_down,
        }
    }

    fn after_tries(self, tries: usize) -> Self {
        ProviderError::after_tries(self, tries)
    }
}
