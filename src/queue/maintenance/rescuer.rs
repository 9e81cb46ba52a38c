//! The last line against stuck plans: a plan `running` untouched for longer than any run may
//! take — its run is dead and the queue did not notice (say the worker stayed alive but the
//! run's outcome could not be written). It goes back to the queue; the next claim's run
//! number fences out any zombie. One process at a time, under an advisory lock of its own.

use std::time::Duration;

use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    queue::maintenance::lock::exclusively,
    store::{
        events, queue, runs,
        states::{EventKind, PlanStatus},
    },
};

/// Arbitrary, fixed: the key of the rescuer's advisory lock.
const RESCUE_LOCK: i64 = 0x0070_6c61_6e72_6573;

/// `None` when another process is rescuing right now; else the plans put back in the queue.
pub async fn rescue_stuck(pool: &PgPool, stale_after: Duration) -> Result<Option<Vec<Uuid>>, sqlx::Error> {
    let Some(mut tx) = exclusively(pool, RESCUE_LOCK).await? else {
        return Ok(None);
    };
    let stuck: Vec<(Uuid, i32, Option<String>)> = sqlx::query_as(
        "SELECT p.id, p.attempts, p.worker FROM plans p
         WHERE p.status = 'running' AND p.updated_at < now() - make_interval(secs => $1)
         FOR UPDATE OF p SKIP LOCKED",
    )
    .bind(stale_after.as_secs_f64())
    .fetch_all(&mut *tx)
    .await?;
    for (id, attempts, worker) in &stuck {
        runs::back_in_queue(&mut tx, *id).await?;
        let detail = json!({"was": PlanStatus::Running, "worker": worker});
        events::record(&mut tx, *id, EventKind::RescuedStuck, None, *attempts, detail).await?;
        tracing::warn!(plan_id = %id, "stuck plan back in the queue");
        crate::metrics::requeued("stuck");
    }
    if !stuck.is_empty() {
        queue::wake(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(Some(stuck.into_iter().map(|s| s.0).collect()))
}
