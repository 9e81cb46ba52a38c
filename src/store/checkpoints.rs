//! Checkpoints in PostgreSQL (`plan_checkpoints`), the graph runtime's store. A run's writes
//! go through the group-commit `Batcher` of `progress`: many runs' steps in one statement,
//! each fenced by the run that owns its plan and by the run's write it follows. A write waits
//! out an outage and lands once (`durable_once`): a dropped connection spends no attempt and
//! writes nothing twice.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    graph::{CheckpointStore, Ownership, RunFence, Unsaved},
    store::{
        batch::Batcher,
        durable::{WriteId, durable_once},
        progress::{self, RunWrite, RunWrites, Success, Written},
        states::EventKind,
    },
};

/// Writes of more runs than this wait for the next statement.
const MAX_BATCH: usize = 256;
/// Statements in flight at once: PostgreSQL works on one while the next batch gathers.
const WRITERS: usize = 2;

#[derive(Clone)]
pub struct PgCheckpoints {
    pub pool: PgPool,
    writes: Batcher<RunWrites>,
}

impl PgCheckpoints {
    /// Starts the writing tasks (needs a Tokio runtime).
    pub fn new(pool: PgPool) -> Self {
        let writes = Batcher::spawn(RunWrites { pool: pool.clone() }, MAX_BATCH, WRITERS);
        Self { pool, writes }
    }

    /// Writes the run's last steps with its result: the plan `succeeded`. `false` when another
    /// run owns the plan.
    pub async fn succeed(&self, fence: RunFence, unsaved: Unsaved, success: Success) -> anyhow::Result<bool> {
        let write = RunWrite {
            fence,
            id: WriteId::new(),
            unsaved: Arc::new(unsaved),
            success: Some(Arc::new(success)),
        };
        Ok(matches!(self.write("succeed", write).await?, Written::Owned { .. }))
    }

    /// Writes `write` once, waiting out an outage.
    async fn write(&self, what: &str, write: RunWrite) -> anyhow::Result<Written> {
        // A write is shared, not copied, by its tries (a result may be large).
        let again = || self.writes.call(write.clone());
        let lost = |w: &Written| *w == Written::Lost;
        durable_once(what, again, lost, || progress::landed(&self.pool, &write)).await
    }
}

#[async_trait]
impl CheckpointStore for PgCheckpoints {
    async fn save(&self, fence: &mut RunFence, unsaved: Unsaved) -> anyhow::Result<Ownership> {
        let write = RunWrite {
            fence: *fence,
            id: WriteId::new(),
            unsaved: Arc::new(unsaved),
            success: None,
        };
        let id = write.id;
        let written = self.write("checkpoint", write).await?;
        if let Written::Owned { .. } = written {
            fence.last_write = Some(id.uuid());
        }
        Ok(match written {
            Written::Owned { cancel_requested: true } => Ownership::CancelRequested,
            Written::Owned {
                cancel_requested: false,
            } => Ownership::Owned,
            Written::Lost => Ownership::Lost,
        })
    }

    async fn timed_out(&self, plan_id: Uuid, run: i32, key: &str, after: Duration) -> anyhow::Result<()> {
        record_timeout(&self.pool, plan_id, run, key, "node", after).await
    }
}

/// A `timeout` event: `node` (or the whole plan, `scope` "plan") ran past its timeout.
pub async fn record_timeout(
    pool: &PgPool,
    plan_id: Uuid,
    run: i32,
    node: &str,
    scope: &str,
    after: Duration,
) -> anyhow::Result<()> {
    let detail = json!({"scope": scope, "after_ms": after.as_millis() as u64});
    record(pool, plan_id, run, EventKind::Timeout, node, detail).await
}

/// An event of the run, written only while `run` is the plan's latest run.
async fn record(
    pool: &PgPool,
    plan_id: Uuid,
    run: i32,
    kind: EventKind,
    node: &str,
    detail: Value,
) -> anyhow::Result<()> {
    // Under the plan row's lock, like every other timeline write: a plan's events then take
    // their ids in commit order, which live streams rely on (they read `id > last`).
    sqlx::query(
        "INSERT INTO plan_events (plan_id, kind, node, attempt, detail)
         SELECT id, $2, $3, attempts, $5 FROM plans WHERE id = $1 AND runs = $4 FOR NO KEY UPDATE",
    )
    .bind(plan_id)
    .bind(kind)
    .bind(node)
    .bind(run)
    .bind(detail)
    .execute(pool)
    .await?;
    Ok(())
}

/// Every checkpoint of a plan as (visit key, output), in the order they were saved.
pub async fn in_order(pool: &PgPool, plan_id: Uuid) -> Result<Vec<(String, Value)>, sqlx::Error> {
    sqlx::query_as("SELECT node, output FROM plan_checkpoints WHERE plan_id = $1 ORDER BY created_at, node")
        .bind(plan_id)
        .fetch_all(pool)
        .await
}
