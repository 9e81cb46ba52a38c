//! The results export outbox (`result_exports`, `result_deletions`). An export is recorded by
//! the statement that writes a plan's success (`progress`), when the worker has a results
//! store; a deletion by a trigger when the export row goes with its plan (retention). Here
//! both are claimed for a try under a lease, several exporters at once (SKIP LOCKED), and
//! each try's outcome is recorded. No transaction is held across the store's request.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::store::states::ExportState;

/// An export claimed for one try: the finished plan as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueExport {
    pub plan_id: Uuid,
    /// Tries so far, this one included.
    pub attempts: i32,
    /// The plan's result as JSON text.
    pub result: String,
    pub markdown: String,
}

/// A deletion claimed for one try.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct DueDeletion {
    pub plan_id: Uuid,
    pub attempts: i32,
}

/// A plan's export as its reader sees it (`plan_reads`).
#[derive(Debug, Clone, Deserialize)]
pub struct ExportStatus {
    pub state: ExportState,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub location: Option<String>,
    pub exported_at: Option<DateTime<Utc>>,
}

/// Claims up to `limit` due exports for a try each: each is not due again for `lease`,
/// unless its outcome is recorded first. An export whose plan has no result (never the case
/// for a succeeded plan) is not claimed.
pub async fn claim_exports(pool: &PgPool, limit: i64, lease: Duration) -> Result<Vec<DueExport>, sqlx::Error> {
    // `state = 'pending'` is written out so that the statement uses the partial index.
    sqlx::query_as(
        "UPDATE result_exports e
            SET attempts = e.attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
         FROM (SELECT x.plan_id FROM result_exports x
               WHERE x.state = 'pending' AND x.next_attempt_at <= now()
               ORDER BY x.next_attempt_at LIMIT $1
               FOR UPDATE SKIP LOCKED) due, plans p
         WHERE e.plan_id = due.plan_id AND p.id = e.plan_id
           AND p.result IS NOT NULL AND p.result_markdown IS NOT NULL
         RETURNING e.plan_id, e.attempts, p.result::text AS result, p.result_markdown AS markdown",
    )
    .bind(limit)
    .bind(lease.as_secs_f64())
    .fetch_all(pool)
    .await
}

/// Both objects are written, at `location`. Recorded whichever try it was.
pub async fn exported(pool: &PgPool, plan_id: Uuid, location: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE result_exports SET state = $2, location = $3, exported_at = now(), last_error = NULL
         WHERE plan_id = $1 AND state = $4",
    )
    .bind(plan_id)
    .bind(ExportState::Exported)
    .bind(location)
    .bind(ExportState::Pending)
    .execute(pool)
    .await?;
    Ok(())
}

/// Try `attempt` failed: due again after `retry_in`. `false` when a later try has been
/// claimed since (or the export is done): only the latest try's outcome counts.
pub async fn export_failed(
    pool: &PgPool,
    plan_id: Uuid,
    attempt: i32,
    error: &str,
    retry_in: Duration,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE result_exports SET last_error = $3, next_attempt_at = now() + make_interval(secs => $4)
         WHERE plan_id = $1 AND attempts = $2 AND state = $5",
    )
    .bind(plan_id)
    .bind(attempt)
    .bind(error)
    .bind(retry_in.as_secs_f64())
    .bind(ExportState::Pending)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(updated > 0)
}

/// Claims up to `limit` due deletions for a try each, under a lease like exports.
pub async fn claim_deletions(pool: &PgPool, limit: i64, lease: Duration) -> Result<Vec<DueDeletion>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE result_deletions d
            SET attempts = d.attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
         FROM (SELECT plan_id FROM result_deletions WHERE next_attempt_at <= now()
               ORDER BY next_attempt_at LIMIT $1
               FOR UPDATE SKIP LOCKED) due
         WHERE d.plan_id = due.plan_id
         RETURNING d.plan_id, d.attempts",
    )
    .bind(limit)
    .bind(lease.as_secs_f64())
    .fetch_all(pool)
    .await
}

/// The plan's objects are gone: nothing left to do.
pub async fn deleted(pool: &PgPool, plan_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM result_deletions WHERE plan_id = $1")
        .bind(plan_id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Try `attempt` of a deletion failed: due again after `retry_in` (the latest try only).
pub async fn deletion_failed(
    pool: &PgPool,
    plan_id: Uuid,
    attempt: i32,
    error: &str,
    retry_in: Duration,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE result_deletions SET last_error = $3, next_attempt_at = now() + make_interval(secs => $4)
         WHERE plan_id = $1 AND attempts = $2",
    )
    .bind(plan_id)
    .bind(attempt)
    .bind(error)
    .bind(retry_in.as_secs_f64())
    .execute(pool)
    .await?
    .rows_affected();
    Ok(updated > 0)
}

/// Exports not yet written and deletions not yet done: what the store owes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct Backlog {
    pub exports: i64,
    pub deletions: i64,
}

pub async fn backlog(pool: &PgPool) -> Result<Backlog, sqlx::Error> {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM result_exports WHERE state = 'pending') AS exports,
                (SELECT count(*) FROM result_deletions) AS deletions",
    )
    .fetch_one(pool)
    .await
}
