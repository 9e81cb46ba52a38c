//! The last line against stuck plans: a plan `running` untouched for longer than any run may
//! take — its run is dead and the queue did not notice (say the worker stayed alive but the
//! run's outcome could not be written). It goes back to the queue, or fails when that run
//! spent its last attempt; the next claim's run number fences out any zombie. One process at
//! a time, under an advisory lock of its own.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    metrics,
    queue::maintenance::lock::exclusively,
    store::{
        events, queue,
        runs::{self, Exhausted, Rescued},
        states::{EventKind, PlanStatus},
    },
};

/// Arbitrary, fixed: the key of the rescuer's advisory lock.
const RESCUE_LOCK: i64 = 0x0070_6c61_6e72_6573;

/// A plan `running` untouched for too long.
#[derive(sqlx::FromRow)]
struct Stuck {
    id: Uuid,
    attempts: i32,
    max_attempts: i32,
    worker: Option<String>,
    created_at: DateTime<Utc>,
}

/// `None` when another process is rescuing right now; else the plans put back in the queue
/// and those failed because the stuck run spent their last attempt (as `rescue_orphans`
/// does for a dead worker's plans, so a plan that gets stuck every time stops).
pub async fn rescue_stuck(pool: &PgPool, stale_after: Duration) -> Result<Option<Rescued>, sqlx::Error> {
    let Some(mut tx) = exclusively(pool, RESCUE_LOCK).await? else {
        return Ok(None);
    };
    let stuck: Vec<Stuck> = sqlx::query_as(
        "SELECT p.id, p.attempts, p.max_attempts, p.worker, p.created_at FROM plans p
         WHERE p.status = 'running' AND p.updated_at < now() - make_interval(secs => $1)
         FOR UPDATE OF p SKIP LOCKED",
    )
    .bind(stale_after.as_secs_f64())
    .fetch_all(&mut *tx)
    .await?;
    let mut rescued = Rescued::default();
    for plan in stuck {
        if plan.attempts >= plan.max_attempts {
            let why = "the plan's last run stopped making progress and was given up as stuck";
            let detail = json!({"reason": "attempts_exhausted", "was": PlanStatus::Running, "worker": plan.worker});
            runs::give_up(&mut tx, plan.id, plan.attempts, why, detail).await?;
            rescued.exhausted.push(Exhausted {
                id: plan.id,
                created_at: plan.created_at,
            });
        } else {
            runs::back_in_queue(&mut tx, plan.id).await?;
            let detail = json!({"was": PlanStatus::Running, "worker": plan.worker});
            events::record(&mut tx, plan.id, EventKind::RescuedStuck, None, plan.attempts, detail).await?;
            rescued.requeued.push(plan.id);
        }
    }
    if !rescued.requeued.is_empty() {
        queue::wake(&mut tx).await?;
    }
    tx.commit().await?;
    for id in &rescued.requeued {
        tracing::warn!(plan_id = %id, "stuck plan back in the queue");
        metrics::requeued("stuck");
    }
    for plan in &rescued.exhausted {
        tracing::error!(plan_id = %plan.id, "stuck plan failed: attempts exhausted");
        metrics::plan_finished(PlanStatus::Failed.as_str(), plan.age());
    }
    Ok(Some(rescued))
}
