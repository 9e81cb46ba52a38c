//! `provider_cache`: upstream answers shared by every worker, keyed by (provider, request
//! key), each row with its own expiry. The cache is an optimisation, never a dependency: a
//! read that fails is a miss and a write that fails is logged, so a database blip costs an
//! upstream call, not a plan.

use std::time::Duration;

use serde::{Serialize, de::DeserializeOwned};
use sqlx::PgPool;

use crate::metrics;

#[derive(Clone)]
pub struct ProviderCache {
    pool: PgPool,
}

impl ProviderCache {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The cached answer when one is fresh, else `fetch`'s answer, stored for `ttl`.
    /// Errors are not cached.
    pub async fn get_or_fetch<T, E, F>(&self, provider: &str, key: &str, ttl: Duration, fetch: F) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        F: Future<Output = Result<T, E>>,
    {
        if let Some(hit) = self.get(provider, key).await {
            metrics::provider_cache(provider, "hit");
            return Ok(hit);
        }
        metrics::provider_cache(provider, "miss");
        let value = fetch.await?;
        self.put(provider, key, &value, ttl).await;
        Ok(value)
    }

    pub async fn get<T: DeserializeOwned>(&self, provider: &str, key: &str) -> Option<T> {
        let row: Result<Option<serde_json::Value>, _> = sqlx::query_scalar(
            "SELECT response FROM provider_cache WHERE provider = $1 AND key = $2 AND expires_at > now()",
        )
        .bind(provider)
        .bind(key)
        .fetch_optional(&self.pool)
        .await;
        match row {
            Ok(Some(value)) => serde_json::from_value(value)
                .map_err(|e| tracing::warn!(provider, key, error = %e, "unreadable cache entry; refetching"))
                .ok(),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(provider, key, error = %e, "cache read failed; calling the upstream");
                None
            }
        }
    }

    pub async fn put<T: Serialize>(&self, provider: &str, key: &str, value: &T, ttl: Duration) {
        let Ok(json) = serde_json::to_value(value) else {
            return;
        };
        let written = sqlx::query(
            "INSERT INTO provider_cache (provider, key, response, expires_at)
             VALUES ($1, $2, $3, now() + make_interval(secs => $4))
             ON CONFLICT (provider, key) DO UPDATE
               SET response = EXCLUDED.response, created_at = now(), expires_at = EXCLUDED.expires_at",
        )
        .bind(provider)
        .bind(key)
        .bind(json)
        .bind(ttl.as_secs_f64())
        .execute(&self.pool)
        .await;
        if let Err(e) = written {
            tracing::warn!(provider, key, error = %e, "cache write failed");
        }
    }
}
