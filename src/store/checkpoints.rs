//! Checkpoints in PostgreSQL. A save writes the node's output, the plan's progress and a
//! `node_finished` event in one transaction, fenced by the attempt number: a worker that
//! lost the plan to another attempt writes nothing.

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

    async fn save(&self, plan_id: Uuid, attempt: i32, checkpoint: &Checkpoint) -> anyhow::Result<Ownership> {
        let mut tx = self.pool.begin().await?;
        let owned: Option<bool> = sqlx::query_scalar(
            "UPDATE plans SET current_node = $3, updated_at = now()
             WHERE id = $1 AND attempts = $2 AND status = 'running'
             RETURNING cancel_requested",
        )
        .bind(plan_id)
        .bind(attempt)
        .bind(&checkpoint.node)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(cancel_requested) = owned else {
            tx.rollback().await?;
            return Ok(Ownership::Lost);
        };
        sqlx::query(
            "INSERT INTO plan_checkpoints (plan_id, node, output, attempt) VALUES ($1, $2, $3, $4)
             ON CONFLICT (plan_id, node) DO NOTHING",
        )
        .bind(plan_id)
        .bind(&checkpoint.key)
        .bind(&checkpoint.output)
        .bind(attempt)
        .execute(&mut *tx)
        .await?;
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

    async fn started(&self, plan_id: Uuid, attempt: i32, node: &str) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO plan_events (plan_id, kind, node, attempt)
             SELECT id, 'node_started', $2, $3 FROM plans WHERE id = $1 AND attempts = $3",
        )
        .bind(plan_id)
        .bind(node)
        .bind(attempt)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn ownership(&self, plan_id: Uuid, attempt: i32) -> anyhow::Result<Ownership> {
        let row: Option<(i32, String, bool)> =
            sqlx::query_as("SELECT attempts, status, cancel_requested FROM plans WHERE id = $1")
                .bind(plan_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(match row {
            Some((a, status, _)) if a != attempt || status != "running" => Ownership::Lost,
            Some((_, _, true)) => Ownership::CancelRequested,
            Some(_) => Ownership::Owned,
            None => Ownership::Lost,
        })
    }
}
