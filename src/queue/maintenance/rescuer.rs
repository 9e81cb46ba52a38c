//! The last line against stuck plans: a plan `running` untouched for longer than any run may
//! take (its run is dead, and the queue did not notice — say its job's acknowledgement was
//! lost in a database outage while the worker stayed alive), or `queued` and long due with no
//! job to run it. Each gets a fresh job; the next claim's run number fences out any zombie.
//! One process at a time, under the maintenance advisory lock of its own.

use std::time::Duration;

use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    queue::maintenance::lock::exclusively,
    store::{
        events, jobs,
        states::{EventKind, PlanStatus},
    },
};

/// Arbitrary, fixed: the key of the rescuer's advisory lock.
const RESCUE_LOCK: i64 = 0x0070_6c61_6e72_6573;

/// `None` when another process is rescuing right now; else the plans given a new job.
pub async fn rescue_stuck(pool: &PgPool, stale_after: Duration) -> Result<Option<Vec<Uuid>>, sqlx::Error> {
    let Some(mut tx) = exclusively(pool, RESCUE_LOCK).await? else {
        return Ok(None);
    };
    let stuck: Vec<(Uuid, PlanStatus, i32, i32)> = sqlx::query_as(
        "SELECT p.id, p.status, p.attempts, p.max_attempts FROM plans p
         WHERE (p.status = $3 AND p.updated_at < now() - make_interval(secs => $1))
            OR (p.status = $4 AND coalesce(p.next_attempt_at, p.updated_at) < now() - make_interval(secs => $1)
                AND NOT EXISTS (
                    SELECT 1 FROM apalis.jobs j
                    WHERE j.job_type = $2 AND j.status IN ('Pending', 'Queued', 'Running', 'Failed')
                      AND convert_from(j.job, 'UTF8')::jsonb ->> 'plan_id' = p.id::text))
         FOR UPDATE OF p SKIP LOCKED",
    )
    .bind(stale_after.as_secs_f64())
    .bind(jobs::QUEUE_NAME)
    .bind(PlanStatus::Running)
    .bind(PlanStatus::Queued)
    .fetch_all(&mut *tx)
    .await?;
    for (id, status, attempts, max_attempts) in &stuck {
        sqlx::query("UPDATE plans SET status = $2, current_node = NULL, updated_at = now() WHERE id = $1")
            .bind(id)
            .bind(PlanStatus::Queued)
            .execute(&mut *tx)
            .await?;
        let detail = json!({"was": status});
        events::record(&mut tx, *id, EventKind::RescuedStuck, None, *attempts, detail).await?;
        jobs::enqueue(&mut tx, *id, None, *max_attempts).await?;
        tracing::warn!(plan_id = %id, was = %status, "stuck plan given a new job");
        crate::metrics::requeued("stuck");
    }
    tx.commit().await?;
    Ok(Some(stuck.into_iter().map(|s| s.0).collect()))
}
