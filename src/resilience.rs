//! One wrapper for every upstream call, embedded ones included: a client-side rate limit,
//! a circuit breaker per upstream, a timeout per try, and retries of transient failures only
//! (timeouts, connection errors, 5xx, 429 — honouring Retry-After) with exponential backoff
//! and jitter. Each call gets a span and a log line with upstream, outcome and duration.
//!
//! Generic over the caller's error: the error classifies itself (`Failure`), so this file
//! knows nothing of HTTP, MCP or the LLM. It also owns its settings (`Policy::from_vars`).
//!
//! Retries here are fast and few: they ride out a blip inside one node. Longer outages are
//! the plan's business (`queue::executor`), which retries through the queue, or waits for the
//! breaker without spending an attempt, or degrades to embedded data.

use std::{
    fmt::Display,
    future::Future,
    num::NonZeroU32,
    str::FromStr,
    sync::Arc,
    time::{Duration, Instant},
};

use backon::{BackoffBuilder, ExponentialBuilder};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use recloser::{AsyncRecloser, Recloser};
use tracing::Instrument;

use crate::metrics;

/// How a failed call classifies itself for the wrapper.
pub trait Failure: Display + Sized {
    /// A timeout, a connection error, a 5xx: counts against the breaker.
    fn is_transient(&self) -> bool;
    /// Worth another try now: transient failures and rate limits.
    fn is_retryable(&self) -> bool;
    /// How long the upstream asked us to wait before the next try, if it said.
    fn retry_after(&self) -> Option<Duration>;
    /// The `outcome` label of the call's metric.
    fn outcome(&self) -> &'static str;
    /// The error of a try that ran past its timeout.
    fn timed_out(upstream: &str, after: Duration) -> Self;
    /// The error of a call the open breaker refused without making it.
    fn breaker_open(upstream: &str, cool_down: Duration) -> Self;
    /// The same error, saying how many tries it took.
    fn after_tries(self, tries: usize) -> Self;
}

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

impl Default for Policy {
    fn default() -> Self {
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
            on_open: OnOpen::Wait,
        }
    }
}

impl Policy {
    /// `RESILIENCE_{NAME}_{TIMEOUT_MS,RETRIES,BACKOFF_MS,BREAKER_OPEN_SECS,BREAKER_WINDOW,RATE_PER_SEC,ON_OPEN}`
    /// read through `var`, over `defaults`.
    pub fn from_vars(name: &str, defaults: Policy, var: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let key = |k: &str| format!("RESILIENCE_{}_{k}", name.to_uppercase());
        let read = |k: &str, default: u64| parsed(var, &key(k), default);
        let on_open = match var(&key("ON_OPEN")).as_deref() {
            None => defaults.on_open,
            Some("degrade") => OnOpen::Degrade,
            Some("wait") => OnOpen::Wait,
            Some(other) => anyhow::bail!("{} must be degrade or wait, not {other:?}", key("ON_OPEN")),
        };
        Ok(Policy {
            timeout: Duration::from_millis(read("TIMEOUT_MS", defaults.timeout.as_millis() as u64)?),
            retries: parsed(var, &key("RETRIES"), defaults.retries)?,
            backoff_min: Duration::from_millis(read("BACKOFF_MS", defaults.backoff_min.as_millis() as u64)?),
            breaker_open: Duration::from_secs(read("BREAKER_OPEN_SECS", defaults.breaker_open.as_secs())?),
            breaker_window: parsed(var, &key("BREAKER_WINDOW"), defaults.breaker_window)?,
            rate_per_sec: parsed(var, &key("RATE_PER_SEC"), defaults.rate_per_sec)?,
            on_open,
            ..defaults
        })
    }
}

fn parsed<T: FromStr>(var: &dyn Fn(&str) -> Option<String>, name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: Display,
{
    match var(name) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse()
            .map_err(|e| anyhow::anyhow!("{name}={raw:?} is not valid: {e}")),
    }
}

pub struct Resilience {
    upstream: String,
    policy: Policy,
    breaker: AsyncRecloser,
    limiter: Option<DefaultDirectRateLimiter>,
}

impl Resilience {
    pub fn new(upstream: &str, policy: Policy) -> Arc<Self> {
        let breaker = Recloser::custom()
            .error_rate(policy.breaker_error_rate)
            .closed_len(policy.breaker_window.max(1))
            .half_open_len(policy.breaker_probes.max(1))
            .open_wait(policy.breaker_open)
            .build();
        metrics::breaker_state(upstream, false);
        metrics::provider_known(upstream);
        let limiter = NonZeroU32::new(policy.rate_per_sec)
            .map(|rate| RateLimiter::direct(Quota::per_second(rate).allow_burst(rate)));
        Arc::new(Self {
            upstream: upstream.to_string(),
            limiter,
            breaker: breaker.into(),
            policy,
        })
    }

    pub fn upstream(&self) -> &str {
        &self.upstream
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Runs `call` under the policy. `call` is invoked once per try.
    pub async fn call<T, E, F, Fut>(&self, op: &str, mut call: F) -> Result<T, E>
    where
        E: Failure,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let span = tracing::info_span!("provider_call", provider = %self.upstream, op);
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
                let result = self.try_once(&mut call).await;
                let duration_ms = started.elapsed().as_millis() as u64;
                let error = match result {
                    Ok(value) => {
                        metrics::provider_call(&self.upstream, "ok", started.elapsed());
                        metrics::breaker_state(&self.upstream, false);
                        tracing::info!(provider = %self.upstream, op, outcome = "ok", duration_ms, tries, "provider call");
                        return Ok(value);
                    }
                    Err(recloser::Error::Rejected) => {
                        metrics::provider_call(&self.upstream, "breaker_open", started.elapsed());
                        metrics::breaker_state(&self.upstream, true);
                        tracing::warn!(provider = %self.upstream, op, outcome = "breaker_open", duration_ms, tries, "provider call");
                        return Err(E::breaker_open(&self.upstream, self.policy.breaker_open));
                    }
                    Err(recloser::Error::Inner(e)) => e,
                };
                let outcome = error.outcome();
                metrics::provider_call(&self.upstream, outcome, started.elapsed());
                if !error.is_retryable() {
                    tracing::warn!(provider = %self.upstream, op, outcome, duration_ms, tries, error = %error, "provider call");
                    return Err(error);
                }
                let Some(delay) = delays.next() else {
                    tracing::warn!(provider = %self.upstream, op, outcome, duration_ms, tries, error = %error, "provider call; retries exhausted");
                    return Err(error.after_tries(tries));
                };
                let delay = error.retry_after().map_or(delay, |after| delay.max(after));
                tracing::info!(provider = %self.upstream, op, outcome, duration_ms, tries, retry_in_ms = delay.as_millis() as u64, error = %error, "provider call; retrying");
                tokio::time::sleep(delay).await;
            }
        }
        .instrument(span)
        .await
    }

    /// One try through the breaker, abandoned at the timeout. Only transient failures count
    /// against the breaker: a bad request says nothing about the upstream's health.
    async fn try_once<T, E, F, Fut>(&self, call: &mut F) -> Result<T, recloser::Error<E>>
    where
        E: Failure,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let timeout = self.policy.timeout;
        let attempt = async {
            match tokio::time::timeout(timeout, call()).await {
                Ok(result) => result,
                Err(_) => Err(E::timed_out(&self.upstream, timeout)),
            }
        };
        self.breaker.call_with(|e: &E| e.is_transient(), attempt).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// The classification the wrapper sees, as a provider's error would give it.
    #[derive(Debug, Clone, PartialEq)]
    enum TestError {
        Transient { message: String },
        RateLimited { retry_after: Option<Duration> },
        Permanent,
        BreakerOpen,
    }

    impl Display for TestError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{self:?}")
        }
    }

    impl Failure for TestError {
        fn is_transient(&self) -> bool {
            matches!(self, TestError::Transient { .. })
        }
        fn is_retryable(&self) -> bool {
            matches!(self, TestError::Transient { .. } | TestError::RateLimited { .. })
        }
        fn retry_after(&self) -> Option<Duration> {
            match self {
                TestError::RateLimited { retry_after } => *retry_after,
                _ => None,
            }
        }
        fn outcome(&self) -> &'static str {
            "test"
        }
        fn timed_out(_: &str, after: Duration) -> Self {
            TestError::Transient {
                message: format!("timed out after {} ms", after.as_millis()),
            }
        }
        fn breaker_open(_: &str, _: Duration) -> Self {
            TestError::BreakerOpen
        }
        fn after_tries(self, _: usize) -> Self {
            self
        }
    }

    fn quick() -> Policy {
        Policy {
            timeout: Duration::from_millis(50),
            retries: 2,
            backoff_min: Duration::from_millis(5),
            backoff_max: Duration::from_millis(20),
            breaker_window: 4,
            breaker_open: Duration::from_millis(200),
            breaker_probes: 1,
            ..Policy::default()
        }
    }

    fn transient() -> TestError {
        TestError::Transient { message: "503".into() }
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
                async { Err(TestError::Permanent) }
            })
            .await;
        assert!(matches!(out, Err(TestError::Permanent)));
        assert_eq!(calls.load(Ordering::SeqCst), 1, "a permanent error is never retried");
    }

    #[tokio::test]
    async fn times_out_opens_the_breaker_and_closes_it_after_the_cool_down() {
        let r = Resilience::new("test", quick());
        let calls = AtomicUsize::new(0);
        // Hangs past the timeout: 3 tries, each a transient failure.
        let out: Result<(), TestError> = r
            .call("op", || {
                calls.fetch_add(1, Ordering::SeqCst);
                async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    Ok(())
                }
            })
            .await;
        assert!(
            matches!(out, Err(TestError::Transient { ref message, .. }) if message.contains("timed out")),
            "{out:?}"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        // One more failure fills the window of 4 at 100 %: open.
        let _ = r.call("op", || async { Err::<(), _>(transient()) }).await;
        let before = calls.load(Ordering::SeqCst);
        let out: Result<(), TestError> = r
            .call("op", || {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Ok(()) }
            })
            .await;
        assert!(matches!(out, Err(TestError::BreakerOpen)), "{out:?}");
        assert_eq!(
            calls.load(Ordering::SeqCst),
            before,
            "an open breaker fails fast without calling"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
        let out: Result<_, TestError> = r.call("op", || async { Ok(7) }).await;
        assert_eq!(out, Ok(7), "half-open probe succeeds and closes the breaker");
        assert_eq!(r.call("op", || async { Ok::<_, TestError>(8) }).await, Ok(8));
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
                        Err(TestError::RateLimited {
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
