//! One process at a time per duty: a transaction-scoped advisory lock, skipped (not waited
//! for) when another process holds it.

use sqlx::{PgPool, Postgres, Transaction};

/// A transaction holding the service's advisory lock (released at commit or rollback), or
/// `None` when another process holds it: one process at a time does each duty.
pub async fn exclusively(pool: &PgPool, lock: i64) -> Result<Option<Transaction<'static, Postgres>>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(lock)
        .fetch_one(&mut *tx)
        .await?;
    Ok(locked.then_some(tx))
}
