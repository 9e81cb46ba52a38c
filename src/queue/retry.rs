//! The retry policy of plan attempts: a transient failure spends the attempt and the plan
//! runs again after an exponential backoff with jitter, through the queue (never by apalis,
//! which would retry within milliseconds), until `PLAN_MAX_ATTEMPTS` are spent.

use std::time::Duration;

/// The longest wait between two attempts.
const CAP: Duration = Duration::from_secs(600);
/// Up to this share is added at random, so that plans failed together do not retry together.
const JITTER: f64 = 0.25;

/// `base` doubled for every attempt already spent, plus up to 25 % jitter, capped at ten
/// minutes, jitter included.
pub fn backoff(base: Duration, attempt: i32) -> Duration {
    capped(base, attempt, CAP)
}

/// The outboxes' backoff (webhook deliveries, result exports): `base` × 2^(attempt-1) for
/// try `attempt` (1-based), +0–25 % jitter, never over `cap`, jitter included.
pub fn capped(base: Duration, attempt: i32, cap: Duration) -> Duration {
    let doublings = attempt.saturating_sub(1).clamp(0, 30) as u32;
    let plain = base.saturating_mul(1u32 << doublings).min(cap);
    plain.mul_f64(1.0 + rand::random::<f64>() * JITTER).min(cap)
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
        assert!(backoff(base, 30) >= CAP.mul_f64(0.8));
    }
}
