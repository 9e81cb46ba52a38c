//! The `plans` table when an attempt ends other than in success (`progress` writes that
//! one): a retry, a wait, a hand-back, approval, failure — written by the worker, fenced by
//! the run that claimed the plan (`Lease`) so that a worker that lost the plan to another run
//! cannot overwrite it — and the ends nobody wrote: a worker that died mid-run
//! (`rescue_orphans`), a consumer that stopped (`hand_back`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::store::{
    approval::Approval,
    durable::{WriteId, durable_once},
    events,
    plan_error::PlanError,
    queue::{self, Delay, Lease},
    states::{EventKind, PlanStatus},
};

/// Locks the plan if `lease` still owns it. (A try of an end after one still running waits
/// here for its row, then finds the plan ended: see `durable`.)
async fn owned(tx: &mut Transaction<'_, Postgres>, id: Uuid, lease: Lease) -> Result<bool, sqlx::Error> {
    let row: Option<i32> =
        sqlx::query_scalar("SELECT runs FROM plans WHERE id = $1 AND runs = $2 AND status = $3 FOR NO KEY UPDATE")
            .bind(id)
            .bind(lease.run)
            .bind(PlanStatus::Running)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(row.is_some())
}

/// Writes an attempt's end (`write`, given its id), waiting out an outage. A try that
/// committed and lost its answer is taken as written (its event carries the id), not as a
/// plan another run took: its outcome is counted once, even when another run has claimed the
/// plan since.
pub async fn end_durably<F, Fut>(pool: &PgPool, what: &str, id: Uuid, mut write: F) -> anyhow::Result<bool>
where
    F: FnMut(WriteId) -> Fut,
    Fut: Future<Output = Result<bool, sqlx::Error>>,
{
    let this = WriteId::new();
    let landed = || async move { Ok(events::written_by(pool, id, this).await?.then_some(true)) };
    durable_once(what, || write(this), |owned| !owned, landed).await
}

/// Ends the plan with a terminal status; `false` when this lease no longer owns it.
pub async fn end(
    pool: &PgPool,
    id: Uuid,
    lease: Lease,
    write: WriteId,
    status: PlanStatus,
    error: Option<&PlanError>,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    if !owned(&mut tx, id, lease).await? {
        return Ok(false);
    }
    let detail = error.map_or_else(|| json!({}), PlanError::to_json);
    finish(&mut tx, id, lease.attempt, Some(write), status, error, detail).await?;
    tx.commit().await?;
    Ok(true)
}

/// Ends the plan with `status`, and records it (as `write` when a worker's write ends it).
pub(crate) async fn finish(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    attempt: i32,
    write: Option<WriteId>,
    status: PlanStatus,
    error: Option<&PlanError>,
    detail: Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE plans SET status = $2, error = coalesce($3, error), finished_at = now(), updated_at = now(),
            current_node = NULL, next_attempt_at = NULL, worker = NULL
         WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(error.map(PlanError::to_json))
    .execute(&mut **tx)
    .await?;
    events::record_by(tx, write, id, EventKind::reached(status), None, attempt, detail).await
}

/// Why a plan goes back to the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requeue {
    /// A transient failure: the attempt is spent.
    Retry,
    /// An upstream's circuit breaker is open and the data has no fallback: wait for it
    /// without spending the attempt.
    WaitForUpstream { provider: String },
    /// The worker is shutting down: hand the plan to another without spending the attempt.
    HandBack,
}

impl Requeue {
    /// The attempts spent once the plan is back in the queue, and the event saying why.
    fn accounting(&self, lease: Lease) -> (i32, EventKind) {
        match self {
            Requeue::Retry => (lease.attempt, EventKind::RetryScheduled),
            Requeue::WaitForUpstream { .. } => (lease.attempt - 1, EventKind::WaitingForUpstream),
            Requeue::HandBack => (lease.attempt - 1, EventKind::HandedBack),
        }
    }

    /// Why the plan waits, when it is due later than now.
    fn delay(&self) -> Delay {
        match self {
            Requeue::Retry | Requeue::HandBack => Delay::Backoff,
            Requeue::WaitForUpstream { provider } => Delay::UpstreamWait {
                provider: provider.clone(),
            },
        }
    }
}

/// Puts the plan back in the queue to run after `delay`; `false` when no longer owned.
pub async fn requeue(
    pool: &PgPool,
    id: Uuid,
    lease: Lease,
    write: WriteId,
    why: Requeue,
    error: &PlanError,
    delay: std::time::Duration,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    if !owned(&mut tx, id, lease).await? {
        return Ok(false);
    }
    let run_at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
    let (spent, kind) = why.accounting(lease);
    let later = delay > std::time::Duration::ZERO;
    let error = error.to_json();
    sqlx::query(
        "UPDATE plans SET status = $5, attempts = $2, error = $3, next_attempt_at = $4, due_at = $4,
            delay_reason = $6, worker = NULL, current_node = NULL, updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(spent)
    .bind(&error)
    .bind(run_at)
    .bind(PlanStatus::Queued)
    .bind(later.then(|| why.delay().to_string()))
    .execute(&mut *tx)
    .await?;
    let detail = json!({"run_at": run_at, "error": error});
    events::record_by(&mut tx, Some(write), id, kind, None, lease.attempt, detail).await?;
    if !later {
        queue::wake(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// Parks the plan at `node` until a person approves or rejects it. It holds no worker slot
/// and its attempt is handed back: approval resumes it from its checkpoints.
pub async fn await_approval(
    pool: &PgPool,
    id: Uuid,
    lease: Lease,
    write: WriteId,
    node: &str,
    reason: &str,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    if !owned(&mut tx, id, lease).await? {
        return Ok(false);
    }
    let approval = Approval::requested(reason).to_json();
    sqlx::query(
        "UPDATE plans SET status = $5, attempts = $2, approval = $3, current_node = $4, worker = NULL,
            updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(lease.attempt - 1)
    .bind(&approval)
    .bind(node)
    .bind(PlanStatus::AwaitingApproval)
    .execute(&mut *tx)
    .await?;
    let kind = EventKind::AwaitingApproval;
    events::record_by(&mut tx, Some(write), id, kind, Some(node), lease.attempt, approval).await?;
    tx.commit().await?;
    Ok(true)
}

/// What `rescue_orphans` did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rescued {
    /// Back in the queue: they resume from their checkpoints.
    pub requeued: Vec<Uuid>,
    /// Failed: their last attempt was spent by a worker that died.
    pub exhausted: Vec<Exhausted>,
}

/// A plan failed because every attempt was spent by a worker that died.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exhausted {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
}

impl Exhausted {
    /// Submit → failed, for `planner_plan_duration_seconds`.
    pub fn age(&self) -> Duration {
        (Utc::now() - self.created_at).to_std().unwrap_or_default()
    }
}

/// Fails a plan whose last attempt was spent by a run that stopped (`why`: how it stopped).
pub(crate) async fn give_up(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    attempts: i32,
    why: &str,
    detail: Value,
) -> Result<(), sqlx::Error> {
    let error = PlanError::attempts_exhausted(format!("gave up after {attempts} attempts: {why}"), None);
    finish(tx, id, attempts, None, PlanStatus::Failed, Some(&error), detail).await
}

/// A plan `running` under a worker that stopped heartbeating.
#[derive(sqlx::FromRow)]
struct Orphan {
    id: Uuid,
    runs: i32,
    attempts: i32,
    max_attempts: i32,
    worker: Option<String>,
    created_at: DateTime<Utc>,
}

/// Puts back in the queue the plans `running` under a worker silent for `silent_for` (or
/// unknown): the worker died mid-run, and the attempt it spent stays spent, so a plan that
/// kills every worker that runs it fails once its attempts are used up. Safe to run from any
/// number of workers at once (the plans are locked, skipping those another is rescuing).
pub async fn rescue_orphans(pool: &PgPool, silent_for: Duration) -> Result<Rescued, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let orphans: Vec<Orphan> = sqlx::query_as(
        "SELECT p.id, p.runs, p.attempts, p.max_attempts, p.worker, p.created_at FROM plans p
         WHERE p.status = 'running'
           AND NOT EXISTS (SELECT 1 FROM queue_workers w
                           WHERE w.name = p.worker AND w.heartbeat_at >= now() - make_interval(secs => $1))
         FOR UPDATE OF p SKIP LOCKED",
    )
    .bind(silent_for.as_secs_f64())
    .fetch_all(&mut *tx)
    .await?;
    let mut rescued = Rescued::default();
    for Orphan {
        id,
        runs: run,
        attempts,
        max_attempts,
        worker,
        created_at,
    } in orphans
    {
        if attempts >= max_attempts {
            let why =
                "the worker running the plan stopped before finishing it each time (crash, kill or lost connection)";
            let detail = json!({"reason": "attempts_exhausted", "worker": worker});
            give_up(&mut tx, id, attempts, why, detail).await?;
            rescued.exhausted.push(Exhausted { id, created_at });
        } else {
            back_in_queue(&mut tx, id).await?;
            let detail = json!({"worker": worker, "run": run});
            events::record(&mut tx, id, EventKind::Rescued, None, attempts, detail).await?;
            rescued.requeued.push(id);
        }
    }
    if !rescued.requeued.is_empty() {
        queue::wake(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(rescued)
}

/// Puts a plan nobody is running back in the queue, due now, its attempt spent (the
/// rescues of plans whose worker went silent or that stopped making progress).
pub async fn back_in_queue(tx: &mut Transaction<'_, Postgres>, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE plans SET status = $2, worker = NULL, current_node = NULL, due_at = now(), updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(PlanStatus::Queued)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The plans `worker`'s claim `claim_id` took, with their leases, once that claim's
/// transaction has ended (its advisory lock, see the migration `claim_ids`): a claim that
/// failed may have committed, its answer lost. Empty when it rolled back.
pub async fn claimed_by(pool: &PgPool, worker: &str, claim_id: Uuid) -> Result<Vec<(Uuid, Lease)>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(1885433203, hashtext($1::uuid::text))")
        .bind(claim_id)
        .execute(&mut *tx)
        .await?;
    let rows: Vec<(Uuid, i32, i32, i32)> = sqlx::query_as(
        "SELECT id, runs, attempts, max_attempts FROM plans WHERE status = $1 AND worker = $2 AND claim = $3",
    )
    .bind(PlanStatus::Running)
    .bind(worker)
    .bind(claim_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|(id, run, attempt, max_attempts)| {
            let lease = Lease {
                run,
                attempt,
                max_attempts,
            };
            (id, lease)
        })
        .collect())
}

/// Hands back to the queue the plans `running` under `worker` — all of them, or only `ids` —
/// with their attempts returned: the consumer stopped (its stream ended on a dropped
/// connection, or it shut down with plans claimed and not started), and nobody will finish
/// them. Returns how many.
pub async fn hand_back(pool: &PgPool, worker: &str, ids: Option<&[Uuid]>) -> Result<u64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let error = PlanError::handed_back().to_json();
    let handed: Vec<(Uuid, i32, i32)> = sqlx::query_as(
        "UPDATE plans SET status = $3, worker = NULL, current_node = NULL, attempts = greatest(attempts - 1, 0),
            error = $4, due_at = now(), updated_at = now()
         WHERE status = $2 AND worker = $1 AND ($5::uuid[] IS NULL OR id = ANY($5))
         RETURNING id, attempts, runs",
    )
    .bind(worker)
    .bind(PlanStatus::Running)
    .bind(PlanStatus::Queued)
    .bind(&error)
    .bind(ids)
    .fetch_all(&mut *tx)
    .await?;
    for (id, attempts, run) in &handed {
        let detail = json!({"worker": worker, "run": run, "error": error});
        events::record(&mut tx, *id, EventKind::HandedBack, None, attempts + 1, detail).await?;
    }
    if !handed.is_empty() {
        queue::wake(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(handed.len() as u64)
}
