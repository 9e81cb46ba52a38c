//! The last line against stuck plans: a plan `running` untouched for longer than any run may
//! take (its run is dead, and the queue did not notice — say its job's acknowledgement was
//! lost in a database outage while the worker stayed alive), or `queued` and long due with no
//! job to run it. Each gets a fresh job; the next claim's run number fences out any zombie.
//! One process at a time, under a transaction-scoped advisory lock.

use std::time::Duration;

use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{queue, store::plans};

const RESCUE_LOCK: i64 = 0x0070_6c61_6e72_6573;

/// `None` when another process is rescuing right now; else the plans given a new job.
pub async fn rescue_stuck(pool: &PgPool, stale_after: Duration) -> Result<Option<Vec<Uuid>>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(RESCUE_LOCK)
        .fetch_one(&mut *tx)
        .await?;
    if !locked {
        return Ok(None);
    }
    let stuck: Vec<(Uuid, String, i32, i32)> = sqlx::query_as(
        "SELECT p.id, p.status, p.attempts, p.max_attempts FROM plans p
         WHERE (p.status = 'running' AND p.updated_at < now() - make_interval(secs => $1))
            OR (p.status = 'queued' AND coalesce(p.next_attempt_at, p.updated_at) < now() - make_interval(secs => $1)
                AND NOT EXISTS (
                    SELECT 1 FROM apalis.jobs j
                    WHERE j.job_type = $2 AND j.status IN ('Pending', 'Queued', 'Running', 'Failed')
                      AND convert_from(j.job, 'UTF8')::jsonb ->> 'plan_id' = p.id::text))
         FOR UPDATE OF p SKIP LOCKED",
    )
    .bind(stale_after.as_secs_f64())
    .bind(queue::QUEUE_NAME)
    .fetch_all(&mut *tx)
    .await?;
    for (id, status, attempts, max_attempts) in &stuck {
        sqlx::query("UPDATE plans SET status = 'queued', current_node = NULL, updated_at = now() WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        plans::event(&mut tx, *id, "rescued_stuck", None, *attempts, json!({"was": status})).await?;
        queue::enqueue(&mut tx, *id, None, *max_attempts).await?;
        tracing::warn!(plan_id = %id, was = %status, "stuck plan given a new job");
        crate::metrics::requeued("stuck");
    }
    tx.commit().await?;
    Ok(Some(stuck.into_iter().map(|s| s.0).collect()))
}
