//! One wrapper for every provider call, embedded ones included: a client-side rate limit,
//! a circuit breaker per provider, a timeout per try, and retries of transient failures only
//! (timeouts, connection errors, 5xx, 429 — honouring Retry-After) with exponential backoff
//! and jitter. Each call gets a span and a log line with provider, outcome and duration.
//!
//! Retries here are fast and few: they ride out a blip inside one node. Longer outages are
//! the plan's business (`planner::run`), which retries through the queue, or waits for the
//! breaker without spending an attempt, or degrades to embedded data.

use std::{
    future::Future,
    num::NonZeroU32,
    sync::Arc,
    time::{Duration, Instant},
};

use backon::{BackoffBuilder, ExponentialBuilder};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use recloser::{AsyncRecloser, Recloser};
use tracing::Instrument;

use crate::{metrics, providers::ProviderError};

/// What a node does when its provider's breaker is open (or its retries ran out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnOpen {
    /// Use the embedded source and put a warning on the plan.
    Degrade,
    /// Reschedule the plan after the breaker's cool-down, without spending an attempt.
    Wait,
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub timeout: Duration,
    /// Retries after the first try (so `retries + 1` tries at most).
    pub retries: usize,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// The breaker opens when this share of the last `breaker_window` calls failed…
    pub breaker_error_rate: f32,
    pub breaker_window: usize,
    /// …stays open this long, then lets `breaker_probes` calls through to decide.
    pub breaker_open: Duration,
    pub breaker_probes: usize,
    /// Client-side limit: calls per second, with bursts up to the same number; 0 for none.
    pub rate_per_sec: u32,
    pub on_open: OnOpen,
}

impl Policy {
    pub fn default_for(provider: &str) -> Self {
        Self {
            timeout: Duration::from_secs(10),
            retries: 2,
            backoff_min: Duration::from_millis(200),
            backoff_max: Duration::from_secs(5),
            breaker_error_rate: 0.5,
            breaker_window: 10,
            breaker_open: Duration::from_secs(30),
            breaker_probes: 2,
            rate_per_sec: 50,
            // Weather is optional: without it a plan is still a plan. Places are not.
            on_open: if provider == "weather" || provider == "llm" {
                OnOpen::Degrade
            } else {
                OnOpen::Wait
            },
        }
    }
}

pub struct Resilience {
    provider: String,
    policy: Policy,
    breaker: AsyncRecloser,
    limiter: Option<DefaultDirectRateLimiter>,
}

impl Resilience {
    pub fn new(provider: &str, policy: Policy) -> Arc<Self> {
        let breaker = Recloser::custom()
            .error_rate(policy.breaker_error_rate)
            .closed_len(policy.breaker_window.max(1))
            .half_open_len(policy.breaker_probes.max(1))
            .open_wait(policy.breaker_open)
            .build();
        metrics::breaker_state(provider, false);
        let limiter = NonZeroU32::new(policy.rate_per_sec)
            .map(|rate| RateLimiter::direct(Quota::per_second(rate).allow_burst(rate)));
        Arc::new(Self {
            provider: provider.to_string(),
            limiter,
            breaker: breaker.into(),
            policy,
        })
    }

    pub fn provider(&self) -> &str {
        &self.provider
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Runs `call` under the policy. `call` is invoked once per try.
    pub async fn call<T, F, Fut>(&self, op: &str, mut call: F) -> Result<T, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let span = tracing::info_span!("provider_call", provider = %self.provider, op);
        async move {
            let mut delays = ExponentialBuilder::default()
                .with_jitter()
                .with_min_delay(self.policy.backoff_min)
                .with_max_delay(self.policy.backoff_max)
                .with_max_times(self.policy.retries)
                .build();
            let mut tries = 0;
            loop {
                tries += 1;
                if let Some(limiter) = &self.limiter {
                    limiter.until_ready().await;
                }
                let started = Instant::now();
                let timeout = self.policy.timeout;
                let attempt = async {
                    match tokio::time::timeout(timeout, call()).await {
                        Ok(result) => result,
                        Err(_) => Err(ProviderError::Transient {
                            provider: self.provider.clone(),
                            message: format!("timed out after {} ms", timeout.as_millis()),
                        }),
                    }
                };
                // Only transient failures count against the breaker: a bad request says
                // nothing about the upstream's health.
                let result = self.breaker.call_with(|e: &ProviderError| e.is_transient(), attempt).await;
                let duration_ms = started.elapsed().as_millis() as u64;
                let error = match result {
                    Ok(value) => {
                        metrics::provider_call(&self.provider, "ok", started.elapsed());
                        metrics::breaker_state(&self.provider, false);
                        tracing::info!(provider = %self.provider, op, outcome = "ok", duration_ms, tries, "provider call");
                        return Ok(value);
                    }
                    Err(recloser::Error::Rejected) => {
                        metrics::provider_call(&self.provider, "breaker_open", started.elapsed());
                        metrics::breaker_state(&self.provider, true);
                        tracing::warn!(provider = %self.provider, op, outcome = "breaker_open", duration_ms, tries, "provider call");
                        return Err(ProviderError::BreakerOpen {
                            provider: self.provider.clone(),
                            cool_down: self.policy.breaker_open,
                        });
                    }
                    Err(recloser::Error::Inner(e)) => e,
                };
                let outcome = error.outcome();
                metrics::provider_call(&self.provider, outcome, started.elapsed());
                if !error.is_retryable() {
                    tracing::warn!(provider = %self.provider, op, outcome, duration_ms, tries, error = %error, "provider call");
                    return Err(error);
                }
                let Some(mut delay) = delays.next() else {
                    tracing::warn!(provider = %self.provider, op, outcome, duration_ms, tries, error = %error, "provider call; retries exhausted");
                    return Err(error.after_tries(tries));
                };
                if let ProviderError::RateLimited { retry_after: Some(after), .. } = &error {
                    delay = delay.max(*after);
                }
                tracing::info!(provider = %self.provider, op, outcome, duration_ms, tries, retry_in_ms = delay.as_millis() as u64, error = %error, "provider call; retrying");
                tokio::time::sleep(delay).await;
            }
        }
        .instrument(span)
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn quick() -> Policy {
        Policy {
            timeout: Duration::from_millis(50),
            retries: 2,
            backoff_min: Duration::from_millis(5),
            backoff_max: Duration::from_millis(20),
            breaker_window: 4,
            breaker_open: Duration::from_millis(200),
            breaker_probes: 1,
            ..Policy::default_for("test")
        }
    }

    fn transient() -> ProviderError {
        ProviderError::Transient {
            provider: "test".into(),
            message: "503".into(),
        }
    }

    #[tokio::test]
    async fn retries_transient_errors_only_then_succeeds() {
        let r = Resilience::new("test", quick());
        let calls = AtomicUsize::new(0);
        let out = r
            .call("op", || {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                async move { if n < 2 { Err(transient()) } else { Ok(n) } }
            })
            .await;
        assert_eq!(out, Ok(2));
        let calls = AtomicUsize::new(0);
        let out: Result<(), _> = r
            .call("op", || {
                calls.fetch_add(1, Ordering::SeqCst);
                async {
                    Err(ProviderError::Permanent {
                        provider: "test".into(),
                        message: "401".into(),
                    })
                }
            })
            .await;
        assert!(matches!(out, Err(ProviderError::Permanent { .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 1, "a permanent error is never retried");
    }

    #[tokio::test]
    async fn times_out_opens_the_breaker_and_closes_it_after_the_cool_down() {
        let r = Resilience::new("test", quick());
        let calls = AtomicUsize::new(0);
        // Hangs past the timeout: 3 tries, each a transient failure.
        let out: Result<(), _> = r
            .call("op", || {
                calls.fetch_add(1, Ordering::SeqCst);
                async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    Ok(())
                }
            })
            .await;
        assert!(
            matches!(out, Err(ProviderError::Transient { ref message, .. }) if message.contains("timed out")),
            "{out:?}"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        // One more failure fills the window of 4 at 100 %: open.
        let _ = r.call("op", || async { Err::<(), _>(transient()) }).await;
        let before = calls.load(Ordering::SeqCst);
        let out: Result<(), _> = r
            .call("op", || {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Ok(()) }
            })
            .await;
        assert!(matches!(out, Err(ProviderError::BreakerOpen { .. })), "{out:?}");
        assert_eq!(
            calls.load(Ordering::SeqCst),
            before,
            "an open breaker fails fast without calling"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
        let out = r.call("op", || async { Ok(7) }).await;
        assert_eq!(out, Ok(7), "half-open probe succeeds and closes the breaker");
        assert_eq!(r.call("op", || async { Ok(8) }).await, Ok(8));
    }

    #[tokio::test]
    async fn honours_retry_after_on_rate_limits() {
        let r = Resilience::new("test", quick());
        let started = Instant::now();
        let calls = AtomicUsize::new(0);
        let out = r
            .call("op", || {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n == 0 {
                        Err(ProviderError::RateLimited {
                            provider: "test".into(),
                            message: "429".into(),
                            retry_after: Some(Duration::from_millis(300)),
                        })
                    } else {
                        Ok(n)
                    }
                }
            })
            .await;
        assert_eq!(out, Ok(1));
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "{:?}",
            started.elapsed()
        );
    }
}
