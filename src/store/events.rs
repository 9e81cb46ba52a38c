//! `plan_events`: the append-only timeline of each plan, one row per state change and node
//! step, written in the same transaction as the change it records.

use serde_json::Value;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::store::{durable::WriteId, states::EventKind};

pub async fn record(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    kind: EventKind,
    node: Option<&str>,
    attempt: i32,
    detail: Value,
) -> Result<(), sqlx::Error> {
    record_by(tx, None, id, kind, node, attempt, detail).await
}

/// An event, recorded by a worker's `write` when one writes it: the evidence that the write
/// landed (see `store::durable`), which no later write replaces.
pub async fn record_by(
    tx: &mut Transaction<'_, Postgres>,
    write: Option<WriteId>,
    id: Uuid,
    kind: EventKind,
    node: Option<&str>,
    attempt: i32,
    detail: Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO plan_events (plan_id, kind, node, attempt, detail, write_id) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(kind)
    .bind(node)
    .bind(attempt)
    .bind(detail)
    .bind(write)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Whether the write `write` recorded an event on the plan `id`, that is, whether it landed.
pub async fn written_by(pool: &PgPool, id: Uuid, write: WriteId) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM plan_events WHERE plan_id = $1 AND write_id = $2)")
        .bind(id)
        .bind(write)
        .fetch_one(pool)
        .await
}
