//! The cleaner: terminal plans older than the retention age go, with their checkpoints and
//! events, and so do workers long gone and expired provider cache rows. One process at a
//! time: the cleaner takes its advisory lock and skips when another holds it.

use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    queue::maintenance::lock::exclusively,
    store::{plans, queue, states::PlanStatus},
};

/// Arbitrary, fixed: the key of the cleanup's advisory lock.
const CLEANUP_LOCK: i64 = 0x0070_6c61_6e63_6c65;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cleaned {
    pub plans: u64,
    pub workers: u64,
    pub cache_entries: u64,
}

/// `None` when another process is cleaning up right now.
pub async fn clean(pool: &PgPool, older_than: Duration) -> Result<Option<Cleaned>, sqlx::Error> {
    let Some(mut tx) = exclusively(pool, CLEANUP_LOCK).await? else {
        return Ok(None);
    };
    let age = older_than.as_secs_f64();
    let gone: Vec<Uuid> = sqlx::query_scalar(
        "DELETE FROM plans WHERE status = ANY($2)
           AND finished_at < now() - make_interval(secs => $1)
         RETURNING id",
    )
    .bind(age)
    .bind(&PlanStatus::TERMINAL[..])
    .fetch_all(&mut *tx)
    .await?;
    plans::forget_deleted(&mut *tx, &gone).await?;
    let workers = queue::forget_workers(&mut tx, older_than).await?;
    let cache_entries = sqlx::query("DELETE FROM provider_cache WHERE expires_at <= now()")
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(Some(Cleaned {
        plans: gone.len() as u64,
        workers,
        cache_entries,
    }))
}
