//! What a run writes while it owns a plan: its node starts and checkpoints, and at the end
//! its result. One statement writes many runs' writes at once (see `batch`), each fenced by
//! its run: a run that lost the plan to another writes nothing, and learns it. Each also
//! names the run's write it follows (`RunFence`): a late try of an earlier write, landing
//! after a later one, writes nothing.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Value, json, value::RawValue};
use sqlx::{PgPool, types::Json};
use uuid::Uuid;

use crate::{
    graph::{RunFence, RunStep, Unsaved},
    store::{
        batch::BatchStatement,
        durable::WriteId,
        states::{EventKind, PlanStatus},
    },
};

/// The finished plan as it is stored.
#[derive(Debug, Clone)]
pub struct Success {
    /// The plan as JSON text (a worker may hold many results waiting for their commit).
    pub result: Box<RawValue>,
    pub markdown: String,
    pub warnings: Value,
    pub token_usage: Option<Value>,
    /// Record an export of the result to the results store (`exports`), in the same statement.
    pub export: bool,
}

/// One run's write. Shared with the caller, who may try it again.
#[derive(Debug, Clone)]
pub struct RunWrite {
    /// The run, and the write this one follows.
    pub fence: RunFence,
    /// The same for every try of this write (see `durable`).
    pub id: WriteId,
    pub unsaved: Arc<Unsaved>,
    /// Ends the run: the plan `succeeded` with this result.
    pub success: Option<Arc<Success>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Owned {
        cancel_requested: bool,
    },
    /// Another run owns the plan: nothing was written.
    Lost,
}

pub struct RunWrites {
    pub pool: PgPool,
}

/// The statement's inputs, one array per column (PostgreSQL `unnest`s them back to rows),
/// borrowed from the writes: a result is encoded once, never copied first.
#[derive(Default)]
struct Columns<'a> {
    plan: Vec<Uuid>,
    run: Vec<i32>,
    write: Vec<WriteId>,
    after: Vec<Option<Uuid>>,
    node: Vec<Option<&'a str>>,
    result: Vec<Option<Json<&'a RawValue>>>,
    markdown: Vec<Option<&'a str>>,
    warnings: Vec<Option<&'a Value>>,
    usage: Vec<Option<&'a Value>>,
    export: Vec<bool>,
    checkpoint_plan: Vec<Uuid>,
    checkpoint_key: Vec<&'a str>,
    checkpoint_output: Vec<Json<&'a RawValue>>,
    checkpoint_at: Vec<DateTime<Utc>>,
    event_plan: Vec<Uuid>,
    event_kind: Vec<EventKind>,
    event_node: Vec<Option<&'a str>>,
    event_detail: Vec<Value>,
    event_at: Vec<DateTime<Utc>>,
}

impl<'a> Columns<'a> {
    fn event(&mut self, plan: Uuid, kind: EventKind, node: Option<&'a str>, detail: Value, at: DateTime<Utc>) {
        self.event_plan.push(plan);
        self.event_kind.push(kind);
        self.event_node.push(node);
        self.event_detail.push(detail);
        self.event_at.push(at);
    }

    fn push(&mut self, write: &'a RunWrite) {
        let id = write.fence.plan_id;
        self.plan.push(id);
        self.run.push(write.fence.run);
        self.write.push(write.id);
        self.after.push(write.fence.last_write);
        let last = write.unsaved.checkpoints().last().map(|(c, _)| c.node.as_str());
        self.node.push(last);
        let success = write.success.as_deref();
        self.result.push(success.map(|s| Json(&*s.result)));
        self.markdown.push(success.map(|s| s.markdown.as_str()));
        self.warnings.push(success.map(|s| &s.warnings));
        self.usage.push(success.and_then(|s| s.token_usage.as_ref()));
        self.export.push(success.is_some_and(|s| s.export));
        for step in &write.unsaved.steps {
            match step {
                RunStep::Started { key, at } => self.event(id, EventKind::NodeStarted, Some(key), json!({}), *at),
                RunStep::Finished { checkpoint, at } => {
                    self.checkpoint_plan.push(id);
                    self.checkpoint_key.push(&checkpoint.key);
                    self.checkpoint_output.push(Json(&*checkpoint.output));
                    self.checkpoint_at.push(*at);
                    self.event(id, EventKind::NodeFinished, Some(&checkpoint.key), json!({}), *at);
                }
            }
        }
        if success.is_some() {
            self.event(
                id,
                EventKind::Succeeded,
                None,
                json!({"run": write.fence.run}),
                Utc::now(),
            );
        }
    }
}

#[async_trait]
impl BatchStatement for RunWrites {
    type Item = RunWrite;
    type Answer = Written;

    async fn run(&self, writes: &[RunWrite]) -> Result<Vec<Written>, sqlx::Error> {
        let mut c = Columns::default();
        for write in writes {
            c.push(write);
        }
        // A run owns its plan while the plan is `running` under its run number (checked `IS
        // NOT DISTINCT FROM`, so that plans are found by primary key, never by a scan of the
        // partial index of running plans: see `claim_plans`), and its last write is the one
        // this write follows: not this one (an earlier try landed: see `durable`), nor a later
        // one (this try reached the server late). Checkpoints and events are written
        // only for owned plans; a checkpoint already there means an earlier write of another
        // run got there first, and this run has lost the plan.
        let owned: Vec<(WriteId, bool, i64)> = sqlx::query_as(
            "WITH item AS (
                SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::jsonb[], $5::text[], $6::jsonb[], $7::jsonb[], $19::bool[], $20::uuid[], $21::uuid[])
                    AS i(plan_id, run, node, result, markdown, warnings, usage, export, write_id, after_write)
             ),
             owned AS (
                UPDATE plans p SET
                    status = CASE WHEN i.result IS NULL THEN p.status ELSE $17 END,
                    current_node = CASE WHEN i.result IS NULL THEN coalesce(i.node, p.current_node) END,
                    result = coalesce(i.result, p.result),
                    result_markdown = coalesce(i.markdown, p.result_markdown),
                    warnings = coalesce(i.warnings, p.warnings),
                    token_usage = CASE WHEN i.result IS NULL THEN p.token_usage ELSE i.usage END,
                    error = CASE WHEN i.result IS NULL THEN p.error END,
                    worker = CASE WHEN i.result IS NULL THEN p.worker END,
                    finished_at = CASE WHEN i.result IS NULL THEN p.finished_at ELSE now() END,
                    updated_at = now(),
                    last_write = i.write_id
                FROM item i
                WHERE p.id = i.plan_id AND p.runs = i.run AND p.status IS NOT DISTINCT FROM $18
                    AND p.last_write IS NOT DISTINCT FROM i.after_write
                RETURNING p.id, p.attempts, p.cancel_requested, i.write_id
             ),
             saved AS (
                INSERT INTO plan_checkpoints (plan_id, node, output, attempt, created_at)
                SELECT c.plan_id, c.key, c.output, o.attempts, c.at
                FROM unnest($8::uuid[], $9::text[], $10::jsonb[], $11::timestamptz[]) AS c(plan_id, key, output, at)
                JOIN owned o ON o.id = c.plan_id
                ON CONFLICT (plan_id, node) DO NOTHING
                RETURNING plan_id
             ),
             logged AS (
                INSERT INTO plan_events (plan_id, kind, node, attempt, detail, created_at)
                SELECT e.plan_id, e.kind, e.node, o.attempts, e.detail, e.at
                FROM unnest($12::uuid[], $13::text[], $14::text[], $15::jsonb[], $16::timestamptz[])
                    WITH ORDINALITY AS e(plan_id, kind, node, detail, at, n)
                JOIN owned o ON o.id = e.plan_id
                ORDER BY e.n
             ),
             exporting AS (
                INSERT INTO result_exports (plan_id)
                SELECT o.id FROM owned o JOIN item i ON i.plan_id = o.id
                WHERE i.result IS NOT NULL AND i.export
                ON CONFLICT (plan_id) DO UPDATE SET state = 'pending', attempts = 0, next_attempt_at = now(),
                    last_error = NULL, location = NULL, exported_at = NULL
             )
             SELECT o.write_id, o.cancel_requested, coalesce(s.saved, 0)
             FROM owned o LEFT JOIN (SELECT plan_id, count(*) AS saved FROM saved GROUP BY plan_id) s
                 ON s.plan_id = o.id",
        )
        .bind(&c.plan)
        .bind(&c.run)
        .bind(&c.node)
        .bind(&c.result)
        .bind(&c.markdown)
        .bind(&c.warnings)
        .bind(&c.usage)
        .bind(&c.checkpoint_plan)
        .bind(&c.checkpoint_key)
        .bind(&c.checkpoint_output)
        .bind(&c.checkpoint_at)
        .bind(&c.event_plan)
        .bind(&c.event_kind)
        .bind(&c.event_node)
        .bind(&c.event_detail)
        .bind(&c.event_at)
        .bind(PlanStatus::Succeeded)
        .bind(PlanStatus::Running)
        .bind(&c.export)
        .bind(&c.write)
        .bind(&c.after)
        .fetch_all(&self.pool)
        .await?;
        Ok(writes
            .iter()
            .map(|w| {
                let expected = w.unsaved.checkpoints().count() as i64;
                match owned.iter().find(|(id, _, _)| *id == w.id) {
                    Some(&(_, cancel_requested, saved)) if saved == expected => Written::Owned { cancel_requested },
                    _ => Written::Lost,
                }
            })
            .collect())
    }
}

/// Whether `write` landed (an earlier try committed and lost its answer): the run's answer
/// then (`Lost` when a rescue has taken the plan from the run since); `None` when it did not,
/// or when another run has claimed the plan since (its claim cleared the id; the run's own
/// next write cannot have replaced it: a run waits for each).
pub async fn landed(pool: &PgPool, write: &RunWrite) -> Result<Option<Written>, sqlx::Error> {
    let leaves = match write.success {
        Some(_) => PlanStatus::Succeeded,
        None => PlanStatus::Running,
    };
    let found: Option<(bool, bool)> = sqlx::query_as(
        "SELECT runs = $2 AND status = $4, cancel_requested FROM plans WHERE id = $1 AND last_write = $3",
    )
    .bind(write.fence.plan_id)
    .bind(write.fence.run)
    .bind(write.id)
    .bind(leaves)
    .fetch_optional(pool)
    .await?;
    Ok(found.map(|(owned, cancel_requested)| match owned {
        true => Written::Owned { cancel_requested },
        false => Written::Lost,
    }))
}
