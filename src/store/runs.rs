//! The `plans` table as a worker changes it while it runs a plan: claiming an attempt and
//! recording how it ended. Every write after the claim is fenced by the run that claimed
//! the plan (`Lease`), so a worker that lost the plan to another run cannot overwrite it.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::store::{
    approval::Approval,
    events, jobs,
    plan_error::PlanError,
    plans::PlanRow,
    states::{EventKind, PlanStatus},
};

/// The right to write a plan: the run number that claimed it. Every write of a worker
/// is fenced by `runs = lease.run AND status = running`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub run: i32,
    /// The attempt this run spends (1-based).
    pub attempt: i32,
    pub max_attempts: i32,
}

impl Lease {
    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts
    }
}

pub enum Claim {
    /// This job runs the plan under `lease`. `queued_for` is set on the plan's first
    /// start: how long it waited in the queue.
    Run {
        lease: Lease,
        /// The request as submitted.
        request: Value,
        /// A person's answer, when the plan waited for one.
        approval: Approval,
        created_at: DateTime<Utc>,
        queued_for: Option<std::time::Duration>,
        trace_context: Option<Value>,
    },
    /// Nothing to do: the plan is finished, cancelled, waiting for approval or gone.
    Skip,
    /// The plan was claimed `max_attempts` times without finishing: it was failed.
    Exhausted {
        attempts: i32,
        created_at: DateTime<Utc>,
    },
    Cancelled,
}

/// Starts an attempt. Attempts are counted here, not by the queue: a plan that kills its
/// worker every time is re-queued by apalis with no attempt limit, and stops only here.
pub async fn claim(pool: &PgPool, id: Uuid, worker: &str) -> Result<Claim, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let current: Option<PlanRow> = sqlx::query_as("SELECT * FROM plans WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(plan) = current else {
        return Ok(Claim::Skip);
    };
    if plan.status != PlanStatus::Queued && plan.status != PlanStatus::Running {
        return Ok(Claim::Skip);
    }
    // A plan found `running` lost its worker: it is rescued, not started.
    let rescued = plan.status == PlanStatus::Running;
    let claim = if plan.cancel_requested {
        let detail = json!({"by": "client"});
        finish(&mut tx, id, plan.attempts, PlanStatus::Cancelled, None, detail).await?;
        Claim::Cancelled
    } else if plan.attempts >= plan.max_attempts {
        give_up(&mut tx, &plan).await?
    } else {
        start(&mut tx, plan, worker).await?
    };
    tx.commit().await?;
    if rescued && matches!(claim, Claim::Run { .. }) {
        crate::metrics::requeued("rescued");
    }
    Ok(claim)
}

/// Fails a plan whose every attempt ended with its worker gone.
async fn give_up(tx: &mut Transaction<'_, Postgres>, plan: &PlanRow) -> Result<Claim, sqlx::Error> {
    let attempts = plan.attempts;
    let message = format!(
        "gave up after {attempts} attempts: the worker running the plan stopped before finishing it each time (crash, kill or lost connection)"
    );
    let error = PlanError::attempts_exhausted(message, None);
    let detail = json!({"reason": "attempts_exhausted"});
    finish(tx, plan.id, attempts, PlanStatus::Failed, Some(&error), detail).await?;
    Ok(Claim::Exhausted {
        attempts,
        created_at: plan.created_at,
    })
}

/// Marks the plan running under a new lease.
async fn start(tx: &mut Transaction<'_, Postgres>, plan: PlanRow, worker: &str) -> Result<Claim, sqlx::Error> {
    let lease = Lease {
        run: plan.runs + 1,
        attempt: plan.attempts + 1,
        max_attempts: plan.max_attempts,
    };
    sqlx::query(
        "UPDATE plans SET status = $4, runs = $2, attempts = $3, next_attempt_at = NULL,
            started_at = coalesce(started_at, now()), updated_at = now()
         WHERE id = $1",
    )
    .bind(plan.id)
    .bind(lease.run)
    .bind(lease.attempt)
    .bind(PlanStatus::Running)
    .execute(&mut **tx)
    .await?;
    let kind = if plan.status == PlanStatus::Running {
        EventKind::Rescued
    } else {
        EventKind::Started
    };
    let detail = json!({"worker": worker, "run": lease.run});
    events::record(tx, plan.id, kind, None, lease.attempt, detail).await?;
    let queued_for = plan
        .started_at
        .is_none()
        .then(|| (Utc::now() - plan.created_at).to_std().unwrap_or_default());
    Ok(Claim::Run {
        lease,
        approval: Approval::from_json(plan.approval.as_ref()),
        request: plan.request,
        created_at: plan.created_at,
        queued_for,
        trace_context: plan.trace_context,
    })
}

/// Locks the plan if `lease` still owns it.
async fn owned(tx: &mut Transaction<'_, Postgres>, id: Uuid, lease: Lease) -> Result<bool, sqlx::Error> {
    let row: Option<i32> =
        sqlx::query_scalar("SELECT runs FROM plans WHERE id = $1 AND runs = $2 AND status = $3 FOR UPDATE")
            .bind(id)
            .bind(lease.run)
            .bind(PlanStatus::Running)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(row.is_some())
}

/// The finished plan as it is stored.
pub struct Finished<'a> {
    pub result: &'a Value,
    pub markdown: &'a str,
    pub warnings: &'a Value,
    pub token_usage: Option<&'a Value>,
}

/// Stores the finished plan; `false` when this lease no longer owns it.
pub async fn succeed(pool: &PgPool, id: Uuid, lease: Lease, finished: &Finished<'_>) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    if !owned(&mut tx, id, lease).await? {
        return Ok(false);
    }
    sqlx::query(
        "UPDATE plans SET status = $6, result = $2, result_markdown = $3, warnings = $4,
            token_usage = $5, error = NULL, current_node = NULL, finished_at = now(), updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(finished.result)
    .bind(finished.markdown)
    .bind(finished.warnings)
    .bind(finished.token_usage)
    .bind(PlanStatus::Succeeded)
    .execute(&mut *tx)
    .await?;
    let detail = json!({"run": lease.run});
    events::record(&mut tx, id, EventKind::Succeeded, None, lease.attempt, detail).await?;
    tx.commit().await?;
    Ok(true)
}

/// Ends the plan with a terminal status; `false` when this lease no longer owns it.
pub async fn end(
    pool: &PgPool,
    id: Uuid,
    lease: Lease,
    status: PlanStatus,
    error: Option<&PlanError>,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    if !owned(&mut tx, id, lease).await? {
        return Ok(false);
    }
    let detail = error.map_or_else(|| json!({}), PlanError::to_json);
    finish(&mut tx, id, lease.attempt, status, error, detail).await?;
    tx.commit().await?;
    Ok(true)
}

async fn finish(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    attempt: i32,
    status: PlanStatus,
    error: Option<&PlanError>,
    detail: Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE plans SET status = $2, error = coalesce($3, error), finished_at = now(), updated_at = now(),
            current_node = NULL, next_attempt_at = NULL
         WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(error.map(PlanError::to_json))
    .execute(&mut **tx)
    .await?;
    events::record(tx, id, EventKind::reached(status), None, attempt, detail).await
}

/// Why a plan goes back to the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requeue {
    /// A transient failure: the attempt is spent.
    Retry,
    /// An upstream's circuit breaker is open and the data has no fallback: wait for it
    /// without spending the attempt.
    WaitForUpstream,
    /// The worker is shutting down: hand the plan to another without spending the attempt.
    HandBack,
}

impl Requeue {
    /// The attempts spent once the plan is back in the queue, and the event saying why.
    fn accounting(self, lease: Lease) -> (i32, EventKind) {
        match self {
            Requeue::Retry => (lease.attempt, EventKind::RetryScheduled),
            Requeue::WaitForUpstream => (lease.attempt - 1, EventKind::WaitingForUpstream),
            Requeue::HandBack => (lease.attempt - 1, EventKind::HandedBack),
        }
    }
}

/// Puts the plan back in the queue to run after `delay`; `false` when no longer owned.
pub async fn requeue(
    pool: &PgPool,
    id: Uuid,
    lease: Lease,
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
    let error = error.to_json();
    sqlx::query(
        "UPDATE plans SET status = $5, attempts = $2, error = $3, next_attempt_at = $4, current_node = NULL,
            updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(spent)
    .bind(&error)
    .bind(run_at)
    .bind(PlanStatus::Queued)
    .execute(&mut *tx)
    .await?;
    let detail = json!({"run_at": run_at, "error": error});
    events::record(&mut tx, id, kind, None, lease.attempt, detail).await?;
    let due = (delay > std::time::Duration::ZERO).then_some(run_at);
    jobs::enqueue(&mut tx, id, due, lease.max_attempts).await?;
    tx.commit().await?;
    Ok(true)
}

/// Parks the plan at `node` until a person approves or rejects it. It holds no worker slot
/// and its attempt is handed back: approval resumes it from its checkpoints.
pub async fn await_approval(
    pool: &PgPool,
    id: Uuid,
    lease: Lease,
    node: &str,
    reason: &str,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    if !owned(&mut tx, id, lease).await? {
        return Ok(false);
    }
    let approval = Approval::requested(reason).to_json();
    sqlx::query(
        "UPDATE plans SET status = $5, attempts = $2, approval = $3, current_node = $4, updated_at = now()
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
    events::record(&mut tx, id, kind, Some(node), lease.attempt, approval).await?;
    tx.commit().await?;
    Ok(true)
}
