//! Checkpoints in PostgreSQL. A save writes the node's output, the plan's progress and a
//! `node_finished` event in one transaction, fenced by the run that owns the plan: a
//! worker that lost the plan to another run writes nothing.

use std::collections::HashMap;

use async_trait::async_trait;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::graph::{Checkpoint, CheckpointStore, Ownership};

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

    async fn save(&self, plan_id: Uuid, lease: i32, checkpoint: &Checkpoint) -> anyhow::Result<Ownership> {
        let mut tx = self.pool.begin().await?;
        let owned: Option<(bool, i32)> = sqlx::query_as(
            "UPDATE plans SET current_node = $3, updated_at = now()
             WHERE id = $1 AND runs = $2 AND status = 'running'
             RETURNING cancel_requested, attempts",
        )
        .bind(plan_id)
        .bind(lease)
        .bind(&checkpoint.node)
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
        sqlx::query("INSERT INTO plan_events (plan_id, kind, node, attempt) VALUES ($1, 'node_finished', $2, $3)")
            .bind(plan_id)
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

    async fn started(&self, plan_id: Uuid, lease: i32, node: &str) -> anyhow::Result<()> {
        self.record(plan_id, lease, "node_started", node, Value::Object(Default::default()))
            .await
    }

    async fn record(&self, plan_id: Uuid, lease: i32, kind: &str, node: &str, detail: Value) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO plan_events (plan_id, kind, node, attempt, detail)
             SELECT id, $2, $3, attempts, $5 FROM plans WHERE id = $1 AND runs = $4",
        )
        .bind(plan_id)
        .bind(kind)
        .bind(node)
        .bind(lease)
        .bind(detail)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn ownership(&self, plan_id: Uuid, lease: i32) -> anyhow::Result<Ownership> {
        let row: Option<(i32, String, bool)> =
            sqlx::query_as("SELECT runs, status, cancel_requested FROM plans WHERE id = $1")
                .bind(plan_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(match row {
            Some((run, status, _)) if run != lease || status != "running" => Ownership::Lost,
            Some((_, _, true)) => Ownership::CancelRequested,
            Some(_) => Ownership::Owned,
            None => Ownership::Lost,
        })
    }
}
