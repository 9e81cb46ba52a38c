//! The `plans` table as clients read and change it after creating it (`submissions.rs`): a
//! plan's row (`PlanRow`) and why a queued plan waits (`WaitCounts`), which submissions and
//! reads answer with; getting and listing plans, their finished steps and the queue's depth;
//! and the client's actions (cancel, approve or reject, retry). Reading plans under load is in
//! `plan_reads.rs`; what a worker writes while it runs a plan is in `runs.rs`.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::{PgExecutor, PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::store::{
    approval::{Approval, Decision},
    events,
    queue::{self, QueueCounts, WaitReason},
    states::{EventKind, PlanStatus},
};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PlanRow {
    pub id: Uuid,
    pub runs: i32,
    pub approval: Option<Value>,
    pub owner: String,
    pub idempotency_key: Option<String>,
    pub request: Value,
    pub status: PlanStatus,
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
    /// When a queued plan may run.
    pub due_at: DateTime<Utc>,
    /// Why a queued plan is due later than now: a `Delay`.
    pub delay_reason: Option<String>,
}

impl PlanRow {
    /// From submission to now.
    pub fn age(&self) -> std::time::Duration {
        (Utc::now() - self.created_at).to_std().unwrap_or_default()
    }
}

/// The counts `submissions::submit` and `plan_reads::read` make for a due queued plan (NULL for any other).
#[derive(Clone, sqlx::FromRow)]
pub(crate) struct WaitCounts {
    running: Option<i64>,
    owners_before: Option<i64>,
    ahead: Option<i64>,
}

impl WaitCounts {
    /// Why `plan` waits: `None` unless it is queued.
    pub(crate) fn reason(&self, plan: &PlanRow, owner_cap: u32) -> Option<WaitReason> {
        if plan.status != PlanStatus::Queued {
            return None;
        }
        Some(match (self.running, self.owners_before, self.ahead) {
            (Some(running), Some(owners_before), Some(ahead)) => {
                let counts = QueueCounts {
                    running,
                    owners_before,
                    ahead,
                };
                WaitReason::due(counts, owner_cap)
            }
            _ => WaitReason::delayed(plan.due_at, plan.delay_reason.as_deref()),
        })
    }
}

pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<PlanRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM plans WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Whose plan it is; `None` when there is no such plan.
pub async fn owner_of(pool: &PgPool, id: Uuid) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT owner FROM plans WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Newest first; `after` is the (created_at, id) of the last plan of the previous page.
/// `owner: None` lists everyone's plans (an admin's list).
pub async fn list(
    pool: &PgPool,
    owner: Option<&str>,
    status: Option<PlanStatus>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<PlanRow>, sqlx::Error> {
    // Two statements, so that an owner's list keeps its index in the cached plan.
    let sql = if owner.is_some() {
        "SELECT * FROM plans
         WHERE owner = $1
           AND ($2::text IS NULL OR status = $2)
           AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
         ORDER BY created_at DESC, id DESC
         LIMIT $5"
    } else {
        "SELECT * FROM plans
         WHERE $1::text IS NULL
           AND ($2::text IS NULL OR status = $2)
           AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
         ORDER BY created_at DESC, id DESC
         LIMIT $5"
    };
    sqlx::query_as(sql)
        .bind(owner)
        .bind(status)
        .bind(after.map(|a| a.0))
        .bind(after.map(|a| a.1))
        .bind(limit)
        .fetch_all(pool)
        .await
}

/// The checkpoint keys of a plan's nodes in the order they were written: its progress.
pub async fn done_nodes(pool: &PgPool, id: Uuid) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT node FROM plan_checkpoints WHERE plan_id = $1 ORDER BY created_at, node")
        .bind(id)
        .fetch_all(pool)
        .await
}

/// `done_nodes` of several plans at once, as (plan, key) in the order they were written.
pub async fn done_nodes_of(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    sqlx::query_as("SELECT plan_id, node FROM plan_checkpoints WHERE plan_id = ANY($1) ORDER BY created_at, node")
        .bind(ids)
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
            status = CASE WHEN status = $2 THEN status ELSE $3 END,
            finished_at = CASE WHEN status = $2 THEN finished_at ELSE now() END,
            next_attempt_at = NULL,
            updated_at = now()
         WHERE id = $1 AND status = ANY($4)
         RETURNING *",
    )
    .bind(id)
    .bind(PlanStatus::Running)
    .bind(PlanStatus::Cancelled)
    .bind(&PlanStatus::OPEN[..])
    .fetch_optional(&mut *tx)
    .await?;
    let outcome = match updated {
        Some(plan) if plan.status == PlanStatus::Cancelled => {
            let detail = json!({"by": "client"});
            events::record(&mut tx, id, EventKind::Cancelled, None, plan.attempts, detail).await?;
            CancelOutcome::Cancelled(plan)
        }
        Some(plan) => {
            events::record(&mut tx, id, EventKind::CancelRequested, None, plan.attempts, json!({})).await?;
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

pub enum Action {
    Done(PlanRow),
    /// The plan is not in the state the action needs.
    WrongState(PlanRow),
    NotFound,
}

/// Locks the plan if it is in `status`; otherwise says why the action cannot happen.
async fn lock_in_state(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    status: PlanStatus,
) -> Result<Result<PlanRow, Action>, sqlx::Error> {
    let plan = sqlx::query_as::<_, PlanRow>("SELECT * FROM plans WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(match plan {
        None => Err(Action::NotFound),
        Some(plan) if plan.status != status => Err(Action::WrongState(plan)),
        Some(plan) => Ok(plan),
    })
}

/// `Approved` resumes an awaiting plan from its checkpoints; `Rejected` ends it `rejected`.
pub async fn decide(pool: &PgPool, id: Uuid, decision: Decision, by: &str) -> Result<Action, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let plan = match lock_in_state(&mut tx, id, PlanStatus::AwaitingApproval).await? {
        Ok(plan) => plan,
        Err(other) => return Ok(other),
    };
    let approval = Approval {
        decision: Some(decision),
        decided_at: Some(Utc::now()),
        decided_by: Some(by.to_string()),
        ..Approval::from_json(plan.approval.as_ref())
    }
    .to_json();
    let (status, kind) = match decision {
        Decision::Approved => (PlanStatus::Queued, EventKind::Approved),
        Decision::Rejected => (PlanStatus::Rejected, EventKind::Rejected),
    };
    let updated: PlanRow = sqlx::query_as(
        "UPDATE plans SET status = $2, approval = $3, updated_at = now(), due_at = now(), delay_reason = NULL,
            finished_at = CASE WHEN $4 THEN now() ELSE NULL END,
            current_node = CASE WHEN $4 THEN NULL ELSE current_node END
         WHERE id = $1 RETURNING *",
    )
    .bind(id)
    .bind(status)
    .bind(&approval)
    .bind(status.is_terminal())
    .fetch_one(&mut *tx)
    .await?;
    // The node that asked, as the worker recorded it when the plan began to wait.
    let node = plan.current_node.as_deref();
    events::record(&mut tx, id, kind, node, plan.attempts, approval).await?;
    if decision == Decision::Approved {
        queue::wake(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(Action::Done(updated))
}

/// Runs a failed plan again with a fresh set of attempts; its checkpoints are kept, so
/// the nodes that had finished are not run again.
pub async fn retry_failed(pool: &PgPool, id: Uuid) -> Result<Action, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let plan = match lock_in_state(&mut tx, id, PlanStatus::Failed).await? {
        Ok(plan) => plan,
        Err(other) => return Ok(other),
    };
    let updated: PlanRow = sqlx::query_as(
        "UPDATE plans SET status = $2, attempts = 0, error = NULL, finished_at = NULL, next_attempt_at = NULL,
            cancel_requested = false, due_at = now(), delay_reason = NULL, updated_at = now()
         WHERE id = $1 RETURNING *",
    )
    .bind(id)
    .bind(PlanStatus::Queued)
    .fetch_one(&mut *tx)
    .await?;
    let detail = json!({"previous_error": plan.error});
    events::record(&mut tx, id, EventKind::RetryRequested, None, 0, detail).await?;
    queue::wake(&mut tx).await?;
    tx.commit().await?;
    Ok(Action::Done(updated))
}

/// Plans by open status (every open status listed, zeros included) and the age of the
/// oldest plan that is due and still queued.
pub async fn queue_depth(pool: &PgPool) -> Result<(Vec<(PlanStatus, i64)>, std::time::Duration), sqlx::Error> {
    // One count per open status (`PlanStatus::OPEN`), each written out so that its cached
    // plan reads the partial index of that status (queue, running, awaiting approval).
    let rows: Vec<(PlanStatus, i64)> = sqlx::query_as(
        "SELECT 'awaiting_approval', count(*) FROM plans WHERE status = 'awaiting_approval'
         UNION ALL SELECT 'queued', count(*) FROM plans WHERE status = 'queued'
         UNION ALL SELECT 'running', count(*) FROM plans WHERE status = 'running'",
    )
    .fetch_all(pool)
    .await?;
    let oldest: Option<f64> = sqlx::query_scalar(
        "SELECT extract(epoch FROM now() - min(due_at))::float8 FROM plans WHERE status = 'queued' AND due_at <= now()",
    )
    .fetch_one(pool)
    .await?;
    Ok((rows, std::time::Duration::from_secs_f64(oldest.unwrap_or(0.0).max(0.0))))
}

/// Deletes the timelines and checkpoints of plans whose rows are gone. Neither has a foreign
/// key to its plan (every row of either is written while its plan's row is held): run it in a
/// statement after the plans' delete, which then sees every row written by a transaction the
/// delete had to wait for.
pub async fn forget_deleted<'c>(executor: impl PgExecutor<'c>, ids: &[Uuid]) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH events AS (DELETE FROM plan_events WHERE plan_id = ANY($1))
         DELETE FROM plan_checkpoints WHERE plan_id = ANY($1)",
    )
    .bind(ids)
    .execute(executor)
    .await?;
    Ok(())
}
