//! Requests per API key: a token bucket per key, its size and refill set per role
//! (`RATE_LIMIT_USER_PER_MIN`, `RATE_LIMIT_ADMIN_PER_MIN`; 0 = no limit). The buckets live in
//! each api process: behind N processes a key may make up to N times its rate (README).

use std::{num::NonZeroU32, sync::Arc, time::Duration};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock};

use crate::store::states::Role;

#[derive(Clone)]
pub struct RateLimits {
    user: Option<Arc<DefaultKeyedRateLimiter<String>>>,
    admin: Option<Arc<DefaultKeyedRateLimiter<String>>>,
}

impl RateLimits {
    pub fn new(user_per_min: u32, admin_per_min: u32) -> Self {
        let bucket = |per_min: u32| {
            NonZeroU32::new(per_min).map(|n| Arc::new(RateLimiter::keyed(Quota::per_minute(n).allow_burst(n))))
        };
        Self {
            user: bucket(user_per_min),
            admin: bucket(admin_per_min),
        }
    }

    /// `Err(wait)` when the key's bucket is empty: how long until it may call again.
    pub fn check(&self, key: &str, role: Role) -> Result<(), Duration> {
        let limiter = match role {
            Role::User => &self.user,
            Role::Admin => &self.admin,
        };
        let Some(limiter) = limiter else {
            return Ok(());
        };
        limiter.check_key(&key.to_string()).map_err(|not_until| {
            let now = governor::clock::DefaultClock::default().now();
            not_until.wait_time_from(now)
        })?;
        // Keys no longer calling are forgotten now and then, so the map does not grow forever.
        if limiter.len() > 10_000 {
            limiter.retain_recent();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_has_its_own_bucket_sized_by_its_role() {
        let limits = RateLimits::new(2, 0);
        assert!(limits.check("a", Role::User).is_ok());
        assert!(limits.check("a", Role::User).is_ok());
        let wait = limits.check("a", Role::User).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(30), "{wait:?}");
        assert!(limits.check("b", Role::User).is_ok(), "another key is not slowed");
        for _ in 0..100 {
            assert!(limits.check("ops", Role::Admin).is_ok(), "0 means no limit");
        }
    }
}
