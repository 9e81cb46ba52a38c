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
    insert(tx, id, kind, node, attempt, detail, None).await
}

/// An event a worker's write records, with the write's id: the evidence that the write
/// landed (see `store::durable`), which no later write replaces.
pub async fn record_write(
    tx: &mut Transaction<'_, Postgres>,
    write: WriteId,
    id: Uuid,
    kind: EventKind,
    node: Option<&str>,
    attempt: i32,
    detail: Value,
) -> Result<(), sqlx::Error> {
    insert(tx, id, kind, node, attempt, detail, Some(write)).await
}

async fn insert(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    kind: EventKind,
    node: Option<&str>,
    attempt: i32,
    detail: Value,
    write: Option<WriteId>,
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
