//! `plan_events`: the append-only timeline of each plan, one row per state change and node
//! step, written in the same transaction as the change it records.

use serde_json::Value;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use crate::store::states::EventKind;

pub async fn record(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    kind: EventKind,
    node: Option<&str>,
    attempt: i32,
    detail: Value,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO plan_events (plan_id, kind, node, attempt, detail) VALUES ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(kind)
        .bind(node)
        .bind(attempt)
        .bind(detail)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
