//! The plans table as a queue (see the `queue_core` migration): claiming due plans in
//! batches, fairly between owners, and the workers' heartbeats. Whatever queues a plan to
//! run now also wakes the idle workers on `WAKE_CHANNEL` (`wake`). Putting a plan back in
//! the queue is an attempt's end, in `runs`.

use std::{collections::HashMap, fmt, str::FromStr, time::Duration};

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::store::approval::Approval;

/// LISTEN/NOTIFY channel: a plan is due now.
pub const WAKE_CHANNEL: &str = "planner_plans";

/// Why a queued plan is due later than now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delay {
    /// A failed attempt waits out its backoff before the next.
    Backoff,
    /// The client asked for the plan to be made later (`not_before`).
    Scheduled,
    /// An upstream the plan needs has its circuit breaker open.
    UpstreamWait { provider: String },
}

impl fmt::Display for Delay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Delay::Backoff => f.write_str("backoff"),
            Delay::Scheduled => f.write_str("scheduled"),
            Delay::UpstreamWait { provider } => write!(f, "upstream_wait:{provider}"),
        }
    }
}

impl FromStr for Delay {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.split_once(':') {
            None if text == "backoff" => Ok(Delay::Backoff),
            None if text == "scheduled" => Ok(Delay::Scheduled),
            Some(("upstream_wait", provider)) => Ok(Delay::UpstreamWait {
                provider: provider.to_string(),
            }),
            _ => Err(format!("{text:?} is not a delay reason")),
        }
    }
}

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

/// A plan a worker claimed: the attempt it runs and what the run starts from.
#[derive(Debug)]
pub struct Claimed {
    pub plan_id: Uuid,
    pub owner: String,
    pub lease: Lease,
    /// The request as submitted.
    pub request: Value,
    /// A person's answer, when the plan waited for one.
    pub approval: Approval,
    pub created_at: DateTime<Utc>,
    /// On the plan's first start: how long it waited in the queue.
    pub queued_for: Option<Duration>,
    pub trace_context: Option<Value>,
    /// Outputs its earlier runs saved, by visit key; empty on the first run, whose claim
    /// recorded the start of the graph's entry node.
    pub checkpoints: HashMap<String, Value>,
}

#[derive(sqlx::FromRow)]
struct ClaimRow {
    id: Uuid,
    owner: String,
    runs: i32,
    attempts: i32,
    max_attempts: i32,
    request: Value,
    approval: Option<Value>,
    created_at: DateTime<Utc>,
    first_start: bool,
    trace_context: Option<Value>,
    checkpoints: Value,
}

/// How a worker claims: at most `max` plans, each owner at most `owner_cap` running, owners
/// served in turn from the one after `after_owner`.
#[derive(Debug, Clone, Copy)]
pub struct ClaimLimits<'a> {
    pub max: usize,
    pub owner_cap: u32,
    pub after_owner: Option<&'a str>,
}

/// Claims up to `limits.max` due plans for `worker` (one statement, one transaction), in
/// the order the owners were served.
/// `entry` is the graph's first node, whose start the claim records for a plan's first run.
/// `claim_id` is kept on the plans claimed: should the answer be lost after the commit,
/// the worker finds them with `runs::claimed_by` and puts them back.
pub async fn claim(
    pool: &PgPool,
    worker: &str,
    limits: ClaimLimits<'_>,
    entry: Option<&str>,
    claim_id: Uuid,
) -> Result<Vec<Claimed>, sqlx::Error> {
    if limits.max == 0 {
        return Ok(Vec::new());
    }
    let rows: Vec<ClaimRow> = sqlx::query_as("SELECT * FROM claim_plans($1, $2, $3, $4, $5, $6)")
        .bind(worker)
        .bind(limits.max.min(i32::MAX as usize) as i32)
        .bind(limits.owner_cap.min(i32::MAX as u32) as i32)
        .bind(entry)
        .bind(limits.after_owner)
        .bind(claim_id)
        .fetch_all(pool)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| Claimed {
            plan_id: row.id,
            owner: row.owner,
            lease: Lease {
                run: row.runs,
                attempt: row.attempts,
                max_attempts: row.max_attempts,
            },
            queued_for: row
                .first_start
                .then(|| (Utc::now() - row.created_at).to_std().unwrap_or_default()),
            approval: Approval::from_json(row.approval.as_ref()),
            request: row.request,
            created_at: row.created_at,
            trace_context: row.trace_context,
            checkpoints: serde_json::from_value(row.checkpoints).unwrap_or_default(),
        })
        .collect())
}

/// Wakes the idle workers: a plan is due now. Sent at the commit of the caller's transaction.
pub async fn wake(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(WAKE_CHANNEL)
        .execute(conn)
        .await?;
    Ok(())
}

/// Registers the worker, or says it is alive: its heartbeat.
pub async fn heartbeat(pool: &PgPool, worker: &str, concurrency: usize) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO queue_workers (name, concurrency) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET heartbeat_at = now(), concurrency = excluded.concurrency",
    )
    .bind(worker)
    .bind(concurrency.min(i32::MAX as usize) as i32)
    .execute(pool)
    .await?;
    Ok(())
}

/// Forgets workers silent for longer than `older_than` that hold no plan.
pub async fn forget_workers(conn: &mut PgConnection, older_than: Duration) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "DELETE FROM queue_workers w WHERE w.heartbeat_at < now() - make_interval(secs => $1)
           AND NOT EXISTS (SELECT 1 FROM plans p WHERE p.status = 'running' AND p.worker = w.name)",
    )
    .bind(older_than.as_secs_f64())
    .execute(conn)
    .await?
    .rows_affected())
}

/// `WaitReason::Queued::ahead` counts up to this many.
pub const AHEAD_COUNTED: i64 = 100;

/// Why a queued plan is not running yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitReason {
    /// Due, waiting for a free worker slot behind `ahead` plans due before it (counted up to
    /// `AHEAD_COUNTED`).
    Queued { ahead: i64 },
    /// Due, but its owner already has `running` plans running, its cap.
    OwnerQuota { running: i64, cap: u32 },
    /// Due later, for `delay`.
    Delayed { delay: Delay, until: DateTime<Utc> },
}

impl WaitReason {
    /// The reason's name: `queued`, `owner_quota`, `backoff`, `scheduled`,
    /// `upstream_wait:{provider}` (the label of `planner_plans_waiting`).
    pub fn code(&self) -> String {
        match self {
            WaitReason::Queued { .. } => "queued".into(),
            WaitReason::OwnerQuota { .. } => "owner_quota".into(),
            WaitReason::Delayed { delay, .. } => delay.to_string(),
        }
    }
}

/// What decides why a due plan waits: its owner's running plans, its owner's due plans
/// before it, and every due plan before it (counted up to `AHEAD_COUNTED`).
#[derive(Debug, Clone, Copy)]
pub struct QueueCounts {
    pub running: i64,
    pub owners_before: i64,
    pub ahead: i64,
}

impl WaitReason {
    pub fn delayed(until: DateTime<Utc>, delay_reason: Option<&str>) -> Self {
        let delay = delay_reason.and_then(|r| r.parse().ok()).unwrap_or(Delay::Scheduled);
        WaitReason::Delayed { delay, until }
    }

    /// A due plan waits for its owner's room first, then for a worker slot.
    pub fn due(counts: QueueCounts, owner_cap: u32) -> Self {
        if counts.running + counts.owners_before >= i64::from(owner_cap) {
            WaitReason::OwnerQuota {
                running: counts.running,
                cap: owner_cap,
            }
        } else {
            WaitReason::Queued { ahead: counts.ahead }
        }
    }
}

/// Queued plans by wait reason (`WaitReason::code`), the figures of `planner_plans_waiting`.
/// (Statuses written out so that the cached plan reads the queue's partial indexes.)
pub async fn waiting(pool: &PgPool, owner_cap: u32) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "WITH due AS (SELECT owner, count(*) AS n FROM plans WHERE status = 'queued' AND due_at <= now() GROUP BY owner),
              room AS (SELECT d.owner, d.n,
                              greatest($1 - (SELECT count(*) FROM plans r WHERE r.owner = d.owner AND r.status = 'running'), 0) AS free
                       FROM due d)
         SELECT 'queued', coalesce(sum(least(n, free)), 0)::bigint FROM room
         UNION ALL
         SELECT 'owner_quota', coalesce(sum(n - least(n, free)), 0)::bigint FROM room
         UNION ALL
         SELECT coalesce(delay_reason, 'scheduled'), count(*) FROM plans
         WHERE status = 'queued' AND due_at > now() GROUP BY 1",
    )
    .bind(i64::from(owner_cap))
    .fetch_all(pool)
    .await
}
