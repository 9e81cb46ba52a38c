//! Checkpoints in PostgreSQL (`plan_checkpoints`), the graph runtime's store. A save writes
//! the node's output, the plan's progress and a `node_finished` event in one transaction,
//! fenced by the run that owns the plan: a worker that lost the plan to another run writes
//! nothing.

use std::{collections::HashMap, time::Duration};

use async_trait::async_trait;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    graph::{Checkpoint, CheckpointStore, Ownership},
    store::states::{EventKind, PlanStatus},
};

pub struct PgCheckpoints {
    pub pool: PgPool,
}

#[async_trait]
impl CheckpointStore for PgCheckpoints {
    async fn load(&self, plan_id: Uuid) -> anyhow::Result<HashMap<String, Value>> {
        let rows: Vec<(String, Value)> = sqlx::query_as("SELECT node, output FROM plan_checkpoints WHERE plan_id = $1")
            .bind(plan_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().collect())
    }

    async fn save(&self, plan_id: Uuid, run: i32, checkpoint: &Checkpoint) -> anyhow::Result<Ownership> {
        let mut tx = self.pool.begin().await?;
        let owned: Option<(bool, i32)> = sqlx::query_as(
            "UPDATE plans SET current_node = $3, updated_at = now()
             WHERE id = $1 AND runs = $2 AND status = $4
             RETURNING cancel_requested, attempts",
        )
        .bind(plan_id)
        .bind(run)
        .bind(&checkpoint.node)
        .bind(PlanStatus::Running)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((cancel_requested, attempt)) = owned else {
            tx.rollback().await?;
            return Ok(Ownership::Lost);
        };
        let inserted = sqlx::query(
            "INSERT INTO plan_checkpoints (plan_id, node, output, attempt) VALUES ($1, $2, $3, $4)
             ON CONFLICT (plan_id, node) DO NOTHING",
        )
        .bind(plan_id)
        .bind(&checkpoint.key)
        .bind(&checkpoint.output)
        .bind(attempt)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            // Another run saved this node first: it owns the plan.
            tx.rollback().await?;
            return Ok(Ownership::Lost);
        }
        sqlx::query("INSERT INTO plan_events (plan_id, kind, node, attempt) VALUES ($1, $2, $3, $4)")
            .bind(plan_id)
            .bind(EventKind::NodeFinished)
            .bind(&checkpoint.key)
            .bind(attempt)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(if cancel_requested {
            Ownership::CancelRequested
        } else {
            Ownership::Owned
        })
    }

    async fn started(&self, plan_id: Uuid, run: i32, key: &str) -> anyhow::Result<()> {
        let empty = Value::Object(Default::default());
        record(&self.pool, plan_id, run, EventKind::NodeStarted, key, empty).await
    }

    async fn timed_out(&self, plan_id: Uuid, run: i32, key: &str, after: Duration) -> anyhow::Result<()> {
        record_timeout(&self.pool, plan_id, run, key, "node", after).await
    }

    async fn ownership(&self, plan_id: Uuid, run: i32) -> anyhow::Result<Ownership> {
        let row: Option<(i32, PlanStatus, bool)> =
            sqlx::query_as("SELECT runs, status, cancel_requested FROM plans WHERE id = $1")
                .bind(plan_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(match row {
            Some((owner, status, _)) if owner != run || status != PlanStatus::Running => Ownership::Lost,
            Some((_, _, true)) => Ownership::CancelRequested,
            Some(_) => Ownership::Owned,
            None => Ownership::Lost,
        })
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
    sqlx::query(
        "INSERT INTO plan_events (plan_id, kind, node, attempt, detail)
         SELECT id, $2, $3, attempts, $5 FROM plans WHERE id = $1 AND runs = $4",
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
