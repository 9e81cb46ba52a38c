//! The retry policy of plan attempts: a transient failure spends the attempt and the plan
//! runs again after an exponential backoff with jitter, through the queue (never by apalis,
//! which would retry within milliseconds), until `PLAN_MAX_ATTEMPTS` are spent
//! (`spend_attempt`).

use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    metrics,
    store::{
        plan_error::PlanError,
        queue::Lease,
        runs::{self, Requeue},
        states::PlanStatus,
    },
};

/// A transient failure in `node` spends the attempt: the plan runs again after the backoff,
/// or fails when no attempt is left. `false` when another run owns the plan now.
pub async fn spend_attempt(
    pool: &PgPool,
    retry_base: Duration,
    plan_id: Uuid,
    lease: Lease,
    node: &str,
    message: String,
) -> anyhow::Result<bool> {
    if !lease.is_last_attempt() {
        let delay = backoff(retry_base, lease.attempt);
        let delay_ms = delay.as_millis() as u64;
        tracing::warn!(status = %PlanStatus::Queued, node, message, delay_ms, "attempt failed; retry scheduled");
        let error = PlanError::transient(message, node);
        let requeue = |w| runs::requeue(pool, plan_id, lease, w, Requeue::Retry, &error, delay);
        let owned = runs::end_durably(pool, "retry", plan_id, requeue).await?;
        if owned {
            metrics::requeued("retry");
        }
        return Ok(owned);
    }
    tracing::warn!(status = %PlanStatus::Failed, node, message, "plan failed: attempts exhausted");
    let message = format!(
        "gave up after {} attempts; last error in {node}: {message}",
        lease.attempt
    );
    let error = PlanError::attempts_exhausted(message, Some(node));
    let end = |w| runs::end(pool, plan_id, lease, w, PlanStatus::Failed, Some(&error));
    runs::end_durably(pool, "fail", plan_id, end).await
}

/// The longest wait between two attempts.
const CAP: Duration = Duration::from_secs(600);
/// Up to this share is added at random, so that plans failed together do not retry together.
const JITTER: f64 = 0.25;

/// `base` doubled for every attempt already spent, plus up to 25 % jitter, capped at ten
/// minutes, jitter included (below the cap once the doubling reaches it).
pub fn backoff(base: Duration, attempt: i32) -> Duration {
    capped(base, attempt, CAP)
}

/// The outboxes' backoff (webhook deliveries, result exports): `base` × 2^(attempt-1) for
/// try `attempt` (1-based), +0–25 % jitter, never over `cap`, jitter included. Once the
/// doubling reaches the cap the jitter goes below it (0–25 % less), so that what failed
/// together still does not come back together.
pub fn capped(base: Duration, attempt: i32, cap: Duration) -> Duration {
    let doublings = attempt.saturating_sub(1).clamp(0, 30) as u32;
    let plain = base.saturating_mul(1u32 << doublings);
    let jitter = rand::random::<f64>() * JITTER;
    if plain >= cap {
        cap.mul_f64(1.0 - jitter)
    } else {
        plain.mul_f64(1.0 + jitter).min(cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_secs(2);
        let first = backoff(base, 1);
        assert!(first >= base && first <= base.mul_f64(1.25));
        assert!(backoff(base, 3) >= Duration::from_secs(8));
        for attempt in [9, 10, 30, i32::MAX] {
            for _ in 0..50 {
                assert!(backoff(base, attempt) <= CAP, "attempt {attempt}: over ten minutes");
            }
        }
        let at_the_cap: std::collections::HashSet<Duration> = (0..50).map(|_| backoff(base, 30)).collect();
        assert!(at_the_cap.iter().all(|d| *d >= CAP.mul_f64(0.75)), "{at_the_cap:?}");
        assert!(at_the_cap.len() > 1, "no jitter at the cap: {at_the_cap:?}");
    }
}
