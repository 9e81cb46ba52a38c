//! The `plans` table and its timeline: creating a plan together with its queue job,
//! reading and listing plans, and every status change. Status changes made by a worker
//! are fenced by the run that claimed the plan, so a worker that lost it cannot overwrite it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::queue;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PlanRow {
    pub id: Uuid,
    pub runs: i32,
    pub approval: Option<Value>,
    pub owner: String,
    pub idempotency_key: Option<String>,
    pub request: Value,
    pub status: String,
    pub current_node: Option<String>,
    pub attempts: i32,
    pub max_attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub error: Option<Value>,
    pub warnings: Value,
    pub result: Option<Value>,
    pub result_markdown: Option<String>,
    pub cancel_requested: bool,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub trace_context: Option<Value>,
    pub token_usage: Option<Value>,
}

pub const TERMINAL: [&str; 4] = ["succeeded", "failed", "cancelled", "rejected"];

pub struct NewPlan<'a> {
    pub owner: &'a str,
    /// W3C trace headers of the submitting request, for the worker to continue.
    pub trace_context: Option<&'a Value>,
    pub idempotency_key: Option<&'a str>,
    pub request: &'a Value,
    pub max_attempts: i32,
}

pub enum Created {
    New(PlanRow),
    /// The same idempotency key was used before with the same request.
    Existing(PlanRow),
    /// The same idempotency key was used before with a different request.
    KeyReused(PlanRow),
}

/// Inserts the plan, its `queued` event and its queue job in one transaction.
pub async fn create(pool: &PgPool, new: NewPlan<'_>) -> Result<Created, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let inserted: Option<PlanRow> = sqlx::query_as(
        "INSERT INTO plans (id, owner, idempotency_key, request, max_attempts, trace_context)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (owner, idempotency_key) DO NOTHING
         RETURNING *",
    )
    .bind(Uuid::new_v4())
    .bind(new.owner)
    .bind(new.idempotency_key)
    .bind(new.request)
    .bind(new.max_attempts)
    .bind(new.trace_context)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(plan) = inserted else {
        let existing: PlanRow = sqlx::query_as("SELECT * FROM plans WHERE owner = $1 AND idempotency_key = $2")
            .bind(new.owner)
            .bind(new.idempotency_key)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        return Ok(if &existing.request == new.request {
            Created::Existing(existing)
        } else {
            Created::KeyReused(existing)
        });
    };
    event(&mut tx, plan.id, "queued", None, 0, json!({})).await?;
    queue::enqueue(&mut tx, plan.id, None, plan.max_attempts).await?;
    tx.commit().await?;
    Ok(Created::New(plan))
}

pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<PlanRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM plans WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Newest first; `after` is the (created_at, id) of the last plan of the previous page.
pub async fn list(
    pool: &PgPool,
    owner: &str,
    status: Option<&str>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<PlanRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT * FROM plans
         WHERE owner = $1
           AND ($2::text IS NULL OR status = $2)
           AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
         ORDER BY created_at DESC, id DESC
         LIMIT $5",
    )
    .bind(owner)
    .bind(status)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Node checkpoints in the order they were written: the plan's progress.
pub async fn done_nodes(pool: &PgPool, id: Uuid) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT node FROM plan_checkpoints WHERE plan_id = $1 ORDER BY created_at, node")
        .bind(id)
        .fetch_all(pool)
        .await
}

pub enum CancelOutcome {
    /// It was waiting: it is cancelled now.
    Cancelled(PlanRow),
    /// It is running: its worker stops at the next node boundary.
    Requested(PlanRow),
    AlreadyFinished(PlanRow),
    NotFound,
}

pub async fn cancel(pool: &PgPool, id: Uuid) -> Result<CancelOutcome, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let updated: Option<PlanRow> = sqlx::query_as(
        "UPDATE plans SET
            cancel_requested = true,
            status = CASE WHEN status = 'running' THEN status ELSE 'cancelled' END,
            finished_at = CASE WHEN status = 'running' THEN finished_at ELSE now() END,
            next_attempt_at = NULL,
            updated_at = now()
         WHERE id = $1 AND status IN ('queued', 'running', 'awaiting_approval')
         RETURNING *",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let outcome = match updated {
        Some(plan) if plan.status == "cancelled" => {
            event(&mut tx, id, "cancelled", None, plan.attempts, json!({"by": "client"})).await?;
            CancelOutcome::Cancelled(plan)
        }
        Some(plan) => {
            event(&mut tx, id, "cancel_requested", None, plan.attempts, json!({})).await?;
            CancelOutcome::Requested(plan)
        }
        None => match sqlx::query_as("SELECT * FROM plans WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
        {
            Some(plan) => CancelOutcome::AlreadyFinished(plan),
            None => CancelOutcome::NotFound,
        },
    };
    tx.commit().await?;
    Ok(outcome)
}

/// The right to write a plan: the run number that claimed it. Every write of a worker
/// is fenced by `runs = lease.run AND status = 'running'`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub run: i32,
    /// The attempt this run spends (1-based).
    pub attempt: i32,
    pub max_attempts: i32,
}

pub enum Claim {
    /// This job runs the plan under `lease`; `input` is `{"request", "approval"}`.
    /// `queued_for` is set on the plan's first start: how long it waited in the queue.
    Run {
        lease: Lease,
        input: Value,
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
    let Some(PlanRow {
        status,
        runs,
        attempts,
        max_attempts,
        cancel_requested,
        request,
        approval,
        created_at,
        started_at,
        trace_context,
        ..
    }) = current
    else {
        return Ok(Claim::Skip);
    };
    if status != "queued" && status != "running" {
        return Ok(Claim::Skip);
    }
    if cancel_requested {
        finish(&mut tx, id, attempts, "cancelled", None, json!({"by": "client"})).await?;
        tx.commit().await?;
        return Ok(Claim::Cancelled);
    }
    if attempts >= max_attempts {
        let error = json!({
            "code": "attempts_exhausted",
            "message": format!(
                "gave up after {attempts} attempts: the worker running the plan stopped before finishing it each time (crash, kill or lost connection)"
            ),
        });
        finish(
            &mut tx,
            id,
            attempts,
            "failed",
            Some(&error),
            json!({"reason": "attempts_exhausted"}),
        )
        .await?;
        tx.commit().await?;
        return Ok(Claim::Exhausted { attempts, created_at });
    }
    let lease = Lease {
        run: runs + 1,
        attempt: attempts + 1,
        max_attempts,
    };
    sqlx::query(
        "UPDATE plans SET status = 'running', runs = $2, attempts = $3, next_attempt_at = NULL,
            started_at = coalesce(started_at, now()), updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(lease.run)
    .bind(lease.attempt)
    .execute(&mut *tx)
    .await?;
    // A plan found `running` lost its worker: it is rescued, not started.
    let kind = if status == "running" { "rescued" } else { "started" };
    event(
        &mut tx,
        id,
        kind,
        None,
        lease.attempt,
        json!({"worker": worker, "run": lease.run}),
    )
    .await?;
    tx.commit().await?;
    let queued_for = started_at
        .is_none()
        .then(|| (Utc::now() - created_at).to_std().unwrap_or_default());
    if status == "running" {
        crate::metrics::requeued("rescued");
    }
    Ok(Claim::Run {
        lease,
        input: json!({ "request": request, "approval": approval }),
        created_at,
        queued_for,
        trace_context,
    })
}

/// Locks the plan if `lease` still owns it.
async fn owned(tx: &mut Transaction<'_, Postgres>, id: Uuid, lease: Lease) -> Result<bool, sqlx::Error> {
    let row: Option<i32> =
        sqlx::query_scalar("SELECT runs FROM plans WHERE id = $1 AND runs = $2 AND status = 'running' FOR UPDATE")
            .bind(id)
            .bind(lease.run)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(row.is_some())
}

/// Stores the finished plan; `false` when this lease no longer owns it.
pub async fn succeed(
    pool: &PgPool,
    id: Uuid,
    lease: Lease,
    result: &Value,
    markdown: &str,
    warnings: &Value,
    token_usage: Option<&Value>,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    if !owned(&mut tx, id, lease).await? {
        return Ok(false);
    }
    sqlx::query(
        "UPDATE plans SET status = 'succeeded', result = $2, result_markdown = $3, warnings = $4,
            token_usage = $5, error = NULL, current_node = NULL, finished_at = now(), updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(result)
    .bind(markdown)
    .bind(warnings)
    .bind(token_usage)
    .execute(&mut *tx)
    .await?;
    event(&mut tx, id, "succeeded", None, lease.attempt, json!({"run": lease.run})).await?;
    tx.commit().await?;
    Ok(true)
}

/// Ends the plan with a terminal status; `false` when this lease no longer owns it.
pub async fn end(
    pool: &PgPool,
    id: Uuid,
    lease: Lease,
    status: &str,
    error: Option<&Value>,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    if !owned(&mut tx, id, lease).await? {
        return Ok(false);
    }
    let detail = error.cloned().unwrap_or_else(|| json!({}));
    finish(&mut tx, id, lease.attempt, status, error, detail).await?;
    tx.commit().await?;
    Ok(true)
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

/// Puts the plan back in the queue to run after `delay`; `false` when no longer owned.
pub async fn requeue(
    pool: &PgPool,
    id: Uuid,
    lease: Lease,
    why: Requeue,
    error: &Value,
    delay: std::time::Duration,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    if !owned(&mut tx, id, lease).await? {
        return Ok(false);
    }
    let run_at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
    let (spent, kind) = match why {
        Requeue::Retry => (lease.attempt, "retry_scheduled"),
        Requeue::WaitForUpstream => (lease.attempt - 1, "waiting_for_upstream"),
        Requeue::HandBack => (lease.attempt - 1, "handed_back"),
    };
    sqlx::query(
        "UPDATE plans SET status = 'queued', attempts = $2, error = $3, next_attempt_at = $4, current_node = NULL,
            updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(spent)
    .bind(error)
    .bind(run_at)
    .execute(&mut *tx)
    .await?;
    event(
        &mut tx,
        id,
        kind,
        None,
        lease.attempt,
        json!({"run_at": run_at, "error": error}),
    )
    .await?;
    queue::enqueue(
        &mut tx,
        id,
        (delay > std::time::Duration::ZERO).then_some(run_at),
        lease.max_attempts,
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Parks the plan until a person approves or rejects it. It holds no worker slot and its
/// attempt is handed back: approval resumes it from its checkpoints.
pub async fn await_approval(pool: &PgPool, id: Uuid, lease: Lease, reason: &str) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    if !owned(&mut tx, id, lease).await? {
        return Ok(false);
    }
    let approval = json!({"reason": reason, "requested_at": Utc::now()});
    sqlx::query(
        "UPDATE plans SET status = 'awaiting_approval', attempts = $2, approval = $3, current_node = 'approval',
            updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(lease.attempt - 1)
    .bind(&approval)
    .execute(&mut *tx)
    .await?;
    event(
        &mut tx,
        id,
        "awaiting_approval",
        Some("approval"),
        lease.attempt,
        approval,
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

pub enum Decision {
    Done(PlanRow),
    /// The plan is not in the state the action needs.
    WrongState(PlanRow),
    NotFound,
}

/// Locks the plan if it is in `status`; otherwise says why the action cannot happen.
async fn lock_in_state(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    status: &str,
) -> Result<Result<PlanRow, Decision>, sqlx::Error> {
    let plan = sqlx::query_as::<_, PlanRow>("SELECT * FROM plans WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(match plan {
        None => Err(Decision::NotFound),
        Some(plan) if plan.status != status => Err(Decision::WrongState(plan)),
        Some(plan) => Ok(plan),
    })
}

/// `approve`: resume an awaiting plan; `reject`: end it `rejected`.
pub async fn decide(pool: &PgPool, id: Uuid, approve: bool, by: &str) -> Result<Decision, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let plan = match lock_in_state(&mut tx, id, "awaiting_approval").await? {
        Ok(plan) => plan,
        Err(other) => return Ok(other),
    };
    let mut approval = plan.approval.clone().unwrap_or_else(|| json!({}));
    approval["decision"] = json!(if approve { "approved" } else { "rejected" });
    approval["decided_at"] = json!(Utc::now());
    approval["decided_by"] = json!(by);
    let status = if approve { "queued" } else { "rejected" };
    let updated: PlanRow = sqlx::query_as(
        "UPDATE plans SET status = $2, approval = $3, updated_at = now(),
            finished_at = CASE WHEN $2 = 'rejected' THEN now() ELSE NULL END,
            current_node = CASE WHEN $2 = 'rejected' THEN NULL ELSE current_node END
         WHERE id = $1 RETURNING *",
    )
    .bind(id)
    .bind(status)
    .bind(&approval)
    .fetch_one(&mut *tx)
    .await?;
    event(
        &mut tx,
        id,
        if approve { "approved" } else { "rejected" },
        Some("approval"),
        plan.attempts,
        approval,
    )
    .await?;
    if approve {
        queue::enqueue(&mut tx, id, None, plan.max_attempts).await?;
    }
    tx.commit().await?;
    Ok(Decision::Done(updated))
}

/// Runs a failed plan again with a fresh set of attempts; its checkpoints are kept, so
/// the nodes that had finished are not run again.
pub async fn retry_failed(pool: &PgPool, id: Uuid) -> Result<Decision, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let plan = match lock_in_state(&mut tx, id, "failed").await? {
        Ok(plan) => plan,
        Err(other) => return Ok(other),
    };
    let updated: PlanRow = sqlx::query_as(
        "UPDATE plans SET status = 'queued', attempts = 0, error = NULL, finished_at = NULL, next_attempt_at = NULL,
            cancel_requested = false, updated_at = now()
         WHERE id = $1 RETURNING *",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    event(
        &mut tx,
        id,
        "retry_requested",
        None,
        0,
        json!({"previous_error": plan.error}),
    )
    .await?;
    queue::enqueue(&mut tx, id, None, plan.max_attempts).await?;
    tx.commit().await?;
    Ok(Decision::Done(updated))
}

async fn finish(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    attempt: i32,
    status: &str,
    error: Option<&Value>,
    detail: Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE plans SET status = $2, error = coalesce($3, error), finished_at = now(), updated_at = now(),
            current_node = NULL, next_attempt_at = NULL
         WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(error)
    .execute(&mut **tx)
    .await?;
    event(tx, id, status, None, attempt, detail).await
}

pub async fn event(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    kind: &str,
    node: Option<&str>,
    attempt: i32,
    detail: Value,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO plan_events (plan_id, kind, node, attempt, detail) VALUES ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(kind)
        .bind(node)
        .bind(attempt)
        .bind(detail)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct Progress {
    pub node: Option<String>,
    pub done: Vec<String>,
    pub percent: u32,
}

/// Plans by open status (every open status listed, zeros included) and the age of the
/// oldest plan that is due and still queued.
pub async fn queue_depth(pool: &PgPool) -> Result<(Vec<(String, i64)>, std::time::Duration), sqlx::Error> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT s.status, count(p.id) FROM unnest(ARRAY['queued', 'running', 'awaiting_approval']) AS s(status)
         LEFT JOIN plans p ON p.status = s.status GROUP BY s.status ORDER BY s.status",
    )
    .fetch_all(pool)
    .await?;
    let oldest: Option<f64> = sqlx::query_scalar(
        "SELECT extract(epoch FROM now() - min(coalesce(next_attempt_at, created_at)))::float8 FROM plans
         WHERE status = 'queued' AND coalesce(next_attempt_at, created_at) <= now()",
    )
    .fetch_one(pool)
    .await?;
    Ok((rows, std::time::Duration::from_secs_f64(oldest.unwrap_or(0.0).max(0.0))))
}
