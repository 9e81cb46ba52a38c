//! The plans' queue jobs, in apalis-postgres's tables (schema `apalis`). A job carries only
//! a plan id; the plan's own row holds its state, its attempt count and its schedule. Jobs
//! are written on the caller's transaction, so a plan and its job exist together or not at
//! all, and every status change that puts a plan back in the queue pushes its job with it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

/// Fixed on purpose: apalis would name the queue after the Rust type, and renaming the
/// type would orphan every queued job.
pub const QUEUE_NAME: &str = "travel-planner.plans";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanJob {
    pub plan_id: Uuid,
}

/// Pushes the plan's job, due at `run_at` (now when `None`).
pub async fn enqueue(
    tx: &mut Transaction<'_, Postgres>,
    plan_id: Uuid,
    run_at: Option<DateTime<Utc>>,
    max_attempts: i32,
) -> Result<(), sqlx::Error> {
    let args = serde_json::to_vec(&PlanJob { plan_id }).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let mut task = apalis::prelude::TaskBuilder::new(args).max_attempts(max_attempts.max(1) as usize);
    if let Some(at) = run_at {
        // apalis stores whole seconds: round up, or a job could run up to a second early.
        let secs = at.timestamp() + i64::from(at.timestamp_subsec_nanos() > 0);
        task = task.run_at_timestamp(secs.max(0) as u64);
    }
    apalis_postgres::queries::push_tasks(&mut **tx, QUEUE_NAME, vec![task.build()])
        .await
        .map_err(|e| match e {
            apalis_postgres::Error::Database(e) => e,
            other => sqlx::Error::Protocol(other.to_string()),
        })
}

/// Jobs of our queue by apalis status, for tests and operators.
pub async fn job_counts(pool: &sqlx::PgPool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT status, count(*) FROM apalis.jobs WHERE job_type = $1 GROUP BY status ORDER BY status")
        .bind(QUEUE_NAME)
        .fetch_all(pool)
        .await
}

/// Puts back in the queue the plans' jobs a consumer held when it stopped: a consumer whose
/// stream ended (say on a dropped connection) is gone with the work it had in flight, and its
/// name no longer heartbeats for them. Returns how many.
pub async fn hand_back_held_by(pool: &sqlx::PgPool, worker: &str) -> Result<u64, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE apalis.jobs SET status = 'Pending', done_at = NULL, lock_by = NULL, lock_at = NULL,
            last_result = '{\"Err\": \"Re-enqueued: its consumer restarted\"}'::jsonb
         WHERE job_type = $1 AND lock_by = $2 AND status IN ('Queued', 'Running')",
    )
    .bind(QUEUE_NAME)
    .bind(worker)
    .execute(pool)
    .await?;
    Ok(result.rows_affected())
}
