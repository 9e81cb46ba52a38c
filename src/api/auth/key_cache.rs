//! The API keys an api process has looked up, by their token's hash, each trusted for
//! `REVOCATION_DELAY`: a revoked key is refused by every process within that time, and a busy
//! key costs one lookup per process per interval.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use sqlx::PgPool;

use crate::store::keys::{self, ActiveKey};

pub const REVOCATION_DELAY: Duration = Duration::from_secs(5);
/// Lookups kept at most; beyond, the cache starts again empty.
const CACHED_KEYS: usize = 10_000;

/// A lookup's answer (`None`: unknown or revoked) and when it was made.
type Seen = HashMap<Vec<u8>, (Option<ActiveKey>, Instant)>;

#[derive(Clone, Default)]
pub struct KeyCache {
    seen: Arc<Mutex<Seen>>,
}

impl KeyCache {
    pub async fn find(&self, pool: &PgPool, hash: Vec<u8>) -> Result<Option<ActiveKey>, sqlx::Error> {
        if let Some((key, at)) = self.lock().get(&hash)
            && at.elapsed() < REVOCATION_DELAY
        {
            return Ok(key.clone());
        }
        let key = keys::use_key(pool, &hash).await?;
        let mut seen = self.lock();
        if seen.len() >= CACHED_KEYS {
            seen.clear();
        }
        seen.insert(hash, (key.clone(), Instant::now()));
        Ok(key)
    }

    fn lock(&self) -> MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }
}
