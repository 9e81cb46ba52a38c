//! Creating plans: the plan's row and its `queued` event (or `scheduled`, with a time) in one
//! statement and one transaction, with why the new plan waits counted in the same statement;
//! one at a time (`create`, `submit`) or, under load, the submissions of many requests in one
//! statement and one commit (`Submissions`). Once committed, the plans are announced to the
//! workers and to their live streams.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    db,
    store::{
        batch::{BatchStatement, Batcher},
        plans::{PlanRow, WaitCounts},
        queue::{self, Delay, WAKE_CHANNEL, WaitReason},
        states::EventKind,
        timeline,
    },
};

pub struct NewPlan<'a> {
    pub owner: &'a str,
    /// W3C trace headers of the submitting request, for the worker to continue.
    pub trace_context: Option<&'a Value>,
    pub idempotency_key: Option<&'a str>,
    pub request: &'a Value,
    pub max_attempts: i32,
    /// Make the plan no sooner than this (say, once the trip is within the forecast's reach).
    pub not_before: Option<DateTime<Utc>>,
}

pub enum Created {
    New(PlanRow),
    /// The same idempotency key was used before with the same request.
    Existing(PlanRow),
    /// The same idempotency key was used before with a different request.
    KeyReused(PlanRow),
}

/// Inserts the plan and its `queued` event, and wakes the workers when it is due now: one
/// statement, one transaction.
pub async fn create(pool: &PgPool, new: NewPlan<'_>) -> Result<Created, sqlx::Error> {
    Ok(submit(pool, new, 0).await?.0)
}

/// A new plan's id: a UUIDv7, time-ordered, so that each new plan's entries in the primary
/// key and in its timeline's key go to the right edge of those B-trees rather than to a
/// random page of each (measured on the queue: `bench-results/2026-12-07-time-ordered-ids.txt`).
/// Its first 48 bits are the creation time in milliseconds, which `created_at` shows anyway.
pub fn new_plan_id() -> Uuid {
    Uuid::now_v7()
}

#[derive(sqlx::FromRow)]
struct Inserted {
    #[sqlx(flatten)]
    plan: PlanRow,
    #[sqlx(flatten)]
    counts: WaitCounts,
}

/// A plan to submit, owned, so that it can wait for a batch (`Submissions`).
#[derive(Debug, Clone)]
pub struct Submission {
    id: Uuid,
    owner: String,
    idempotency_key: Option<String>,
    request: Value,
    max_attempts: i32,
    trace_context: Option<Value>,
    /// The plan is scheduled when this is later than the statement's `now()`.
    not_before: Option<DateTime<Utc>>,
}

impl From<NewPlan<'_>> for Submission {
    fn from(new: NewPlan<'_>) -> Self {
        Self {
            id: new_plan_id(),
            owner: new.owner.to_string(),
            idempotency_key: new.idempotency_key.map(str::to_string),
            request: new.request.clone(),
            max_attempts: new.max_attempts,
            trace_context: new.trace_context.cloned(),
            not_before: new.not_before,
        }
    }
}

/// `create`, and why a new plan waits, counted in the same statement (as `read` counts it;
/// the plans due before a new one are all the due plans).
pub async fn submit(
    pool: &PgPool,
    new: NewPlan<'_>,
    owner_cap: u32,
) -> Result<(Created, Option<WaitReason>), sqlx::Error> {
    let submission = Submission::from(new);
    let inserted = insert(pool, pool, std::slice::from_ref(&submission), owner_cap)
        .await?
        .pop()
        .flatten();
    settle(pool, submission, inserted, owner_cap).await
}

/// `submit` for many plans in one statement (`insert`), answered in order.
pub async fn submit_all(
    pool: &PgPool,
    news: Vec<NewPlan<'_>>,
    owner_cap: u32,
) -> Result<Vec<(Created, Option<WaitReason>)>, sqlx::Error> {
    let batch: Vec<Submission> = news.into_iter().map(Submission::from).collect();
    let inserted = insert(pool, pool, &batch, owner_cap).await?;
    let mut answers = Vec::with_capacity(batch.len());
    for (submission, inserted) in batch.into_iter().zip(inserted) {
        answers.push(settle(pool, submission, inserted, owner_cap).await?);
    }
    Ok(answers)
}

/// Inserts many plans with their `queued` events in one statement, and counts why each new
/// one waits; answered in the order of `batch`, `None` for a plan whose idempotency key its
/// owner used before. The counts' subqueries see only the plans there before the statement;
/// a plan adds the due plans of the same statement before it (by id, as `read` orders plans
/// due at the same time). The statement does not notify (a NOTIFY would hold the notification
/// queue's lock until the commit is flushed, so that submissions committed one at a time;
/// see the migration `caller_announces`): once it has committed, `announce_submitted` wakes
/// the workers and the plans' live streams, on `announcer`.
async fn insert(
    pool: &PgPool,
    announcer: &PgPool,
    batch: &[Submission],
    owner_cap: u32,
) -> Result<Vec<Option<Inserted>>, sqlx::Error> {
    let mut c = SubmissionColumns::default();
    for s in batch {
        c.push(s);
    }
    // `quiet` is evaluated with the result rows, before the statement's triggers fire.
    let rows: Vec<Inserted> = sqlx::query_as(
        "WITH item AS (
            SELECT i.id, i.owner, i.idempotency_key, i.request, i.max_attempts, i.trace_context, i.n,
                   CASE WHEN i.not_before > now() THEN i.not_before END AS scheduled,
                   CASE WHEN i.not_before > now() THEN jsonb_build_object('not_before', i.shown) ELSE '{}'::jsonb END AS detail
            FROM unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::int[], $6::jsonb[], $7::timestamptz[], $12::text[])
                WITH ORDINALITY AS i(id, owner, idempotency_key, request, max_attempts, trace_context, not_before, shown, n)
         ),
         plan AS (
            INSERT INTO plans (id, owner, idempotency_key, request, max_attempts, trace_context, due_at, delay_reason)
            SELECT i.id, i.owner, i.idempotency_key, i.request, i.max_attempts, i.trace_context, coalesce(i.scheduled, now()),
                   CASE WHEN i.scheduled IS NOT NULL THEN $8 END
            FROM item i
            -- Keyed plans in one order in every statement: two statements inserting the
            -- same keys never wait for each other in a circle.
            ORDER BY i.owner, i.idempotency_key, i.n
            ON CONFLICT (owner, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
            RETURNING *
         ),
         logged AS (
            INSERT INTO plan_events (plan_id, kind, attempt, detail)
            SELECT plan.id, $9, 0, i.detail
            FROM plan JOIN item i ON i.id = plan.id ORDER BY i.n
         ),
         due AS (
            SELECT plan.*, i.n,
                   count(*) FILTER (WHERE plan.delay_reason IS NULL) OVER (PARTITION BY plan.owner ORDER BY plan.id) - 1 AS owners_in_batch,
                   count(*) FILTER (WHERE plan.delay_reason IS NULL) OVER (ORDER BY plan.id) - 1 AS in_batch
            FROM plan JOIN item i ON i.id = plan.id
         )
         SELECT due.*, w.running,
                CASE WHEN w.running IS NOT NULL THEN least(w.owners_before + due.owners_in_batch, $10) END AS owners_before,
                CASE WHEN w.running IS NOT NULL THEN least(w.ahead + due.in_batch, $11) END AS ahead,
                set_config('planner.caller_announces', 'on', true) AS quiet
         FROM due
         LEFT JOIN LATERAL (
            SELECT (SELECT count(*) FROM plans r WHERE r.owner = due.owner AND r.status = 'running') AS running,
                   (SELECT count(*) FROM (SELECT 1 FROM plans q WHERE q.owner = due.owner AND q.status = 'queued'
                        AND q.due_at <= now() ORDER BY q.due_at, q.id LIMIT $10) mine) AS owners_before,
                   (SELECT count(*) FROM (SELECT 1 FROM plans q WHERE q.status = 'queued'
                        AND q.due_at <= now() ORDER BY q.due_at, q.id LIMIT $11) before) AS ahead
            WHERE due.delay_reason IS NULL
         ) w ON true",
    )
    .bind(&c.id)
    .bind(&c.owner)
    .bind(&c.idempotency_key)
    .bind(&c.request)
    .bind(&c.max_attempts)
    .bind(&c.trace_context)
    .bind(&c.not_before)
    .bind(Delay::Scheduled.to_string())
    .bind(EventKind::Queued)
    .bind(i64::from(owner_cap))
    .bind(queue::AHEAD_COUNTED)
    .bind(&c.shown)
    .fetch_all(pool)
    .await?;
    let due_now = rows.iter().any(|r| r.plan.delay_reason.is_none());
    let ids: Vec<Uuid> = rows.iter().map(|r| r.plan.id).collect();
    if !ids.is_empty() {
        // Spawned: the clients' answers do not wait for it, nor can a client that hangs up
        // cut it short.
        tokio::spawn(announce_submitted(announcer.clone(), ids, due_now));
    }
    let mut by_id: std::collections::HashMap<Uuid, Inserted> = rows.into_iter().map(|r| (r.plan.id, r)).collect();
    Ok(batch.iter().map(|s| by_id.remove(&s.id)).collect())
}

#[derive(Default)]
struct SubmissionColumns {
    id: Vec<Uuid>,
    owner: Vec<String>,
    idempotency_key: Vec<Option<String>>,
    request: Vec<Value>,
    max_attempts: Vec<i32>,
    trace_context: Vec<Option<Value>>,
    not_before: Vec<Option<DateTime<Utc>>>,
    /// `not_before` as the timeline shows it (RFC 3339, as serde writes it).
    shown: Vec<Option<String>>,
}

impl SubmissionColumns {
    fn push(&mut self, s: &Submission) {
        self.id.push(s.id);
        self.owner.push(s.owner.clone());
        self.idempotency_key.push(s.idempotency_key.clone());
        self.request.push(s.request.clone());
        self.max_attempts.push(s.max_attempts);
        self.trace_context.push(s.trace_context.clone());
        self.not_before.push(s.not_before);
        self.shown.push(
            s.not_before
                .and_then(|at| serde_json::to_value(at).ok())
                .and_then(|v| v.as_str().map(str::to_string)),
        );
    }
}

/// What a submission made: its new plan, or the plan its idempotency key made before.
async fn settle(
    pool: &PgPool,
    submission: Submission,
    inserted: Option<Inserted>,
    owner_cap: u32,
) -> Result<(Created, Option<WaitReason>), sqlx::Error> {
    if let Some(row) = inserted {
        let wait = row.counts.reason(&row.plan, owner_cap);
        return Ok((Created::New(row.plan), wait));
    }
    let existing: PlanRow = sqlx::query_as("SELECT * FROM plans WHERE owner = $1 AND idempotency_key = $2")
        .bind(&submission.owner)
        .bind(&submission.idempotency_key)
        .fetch_one(pool)
        .await?;
    let created = if existing.request == submission.request {
        Created::Existing(existing)
    } else {
        Created::KeyReused(existing)
    };
    Ok((created, None))
}

/// Most submissions in one statement.
const SUBMIT_BATCH: usize = 64;
/// Statements submitting at once: one gathers the next batch while another commits.
const SUBMITTERS: u32 = 2;

/// Submissions of many requests at once: the submissions waiting when a statement starts
/// share it and its commit (`insert`), as the runs' writes share theirs. Every plan still
/// goes in with its `queued` event in one transaction; a submission alone runs at once. The
/// statements run on connections of their own that always use the generic plan
/// (`db::generic_plan_pool`), as the shared reads do.
#[derive(Clone)]
pub struct Submissions {
    rows: Batcher<InsertRows>,
    pool: PgPool,
    owner_cap: u32,
}

impl Submissions {
    /// Starts the submitting tasks (needs a Tokio runtime). `owner_cap` decides the wait reasons.
    pub fn spawn(pool: PgPool, owner_cap: u32) -> Self {
        let statement = InsertRows {
            statements: db::generic_plan_pool(&pool, SUBMITTERS),
            pool: pool.clone(),
            owner_cap,
        };
        Self {
            rows: Batcher::spawn(statement, SUBMIT_BATCH, SUBMITTERS as usize),
            pool,
            owner_cap,
        }
    }

    /// As `submit`.
    pub async fn submit(&self, new: NewPlan<'_>) -> Result<(Created, Option<WaitReason>), sqlx::Error> {
        let submission = Submission::from(new);
        let inserted = self.rows.call(submission.clone()).await?;
        settle(&self.pool, submission, inserted, self.owner_cap).await
    }
}

struct InsertRows {
    /// The statements' own connections, which always run the generic plan (as reads do).
    statements: PgPool,
    pool: PgPool,
    owner_cap: u32,
}

#[async_trait::async_trait]
impl BatchStatement for InsertRows {
    type Item = Submission;
    type Answer = Option<Inserted>;

    async fn run(&self, batch: &[Submission]) -> Result<Vec<Option<Inserted>>, sqlx::Error> {
        insert(&self.statements, &self.pool, batch, self.owner_cap).await
    }
}

/// After a submission statement's commit: each plan's `queued` event on the timeline channel,
/// and, when one is due now, a wake-up for the idle workers. In a transaction of its own that
/// does not wait for its commit to be flushed, so that it holds the notification lock only
/// for a moment. A lost announcement delays nothing for long: workers poll every
/// `QUEUE_POLL_MS`, and no live stream can be waiting on a plan that did not exist before
/// this commit.
async fn announce_submitted(pool: PgPool, ids: Vec<Uuid>, due_now: bool) {
    let sent = sqlx::query(
        "SELECT set_config('synchronous_commit', 'off', true),
                (SELECT count(pg_notify($1, id::text)) FROM unnest($2::uuid[]) AS id),
                (SELECT pg_notify($3, '') WHERE $4)",
    )
    .bind(timeline::CHANNEL)
    .bind(&ids)
    .bind(WAKE_CHANNEL)
    .bind(due_now)
    .execute(&pool)
    .await;
    match sent {
        Ok(_) => {}
        // The pool was closed: this process is shutting down (workers still poll for the plans).
        Err(sqlx::Error::PoolClosed) => {}
        Err(error) => {
            tracing::warn!(plans = ids.len(), %error, "could not announce submitted plans; workers find them at their next poll")
        }
    }
}
