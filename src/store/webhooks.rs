//! The webhook outbox (`webhook_deliveries`). Deliveries are written by a trigger on the
//! plans table in the same transaction as the status change (see the `webhook_outbox`
//! migration); here they are claimed for a try under a lease, and each try's outcome is
//! recorded. A claim counts the try and pushes the delivery's next try past the lease, so a
//! sender that dies mid-try leaves it to another; no transaction is held across the POST.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::store::states::{DeliveryState, PlanStatus};

/// The channel the trigger notifies when it writes a delivery.
pub const WAKE_CHANNEL: &str = "planner_webhooks";

/// A delivery claimed for one try.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Outgoing {
    pub id: Uuid,
    pub plan_id: Uuid,
    pub event: PlanStatus,
    pub url: String,
    /// The payload as JSON text: the body sent, the same on every try.
    pub body: String,
    /// Tries so far, this one included.
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
}

/// A delivery as a plan's reader sees it (`plan_reads`).
#[derive(Debug, Clone, Deserialize)]
pub struct DeliveryStatus {
    pub id: Uuid,
    pub event: PlanStatus,
    pub state: DeliveryState,
    pub attempts: i32,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// Claims up to `limit` due deliveries for a try each, several senders at once (SKIP
/// LOCKED): each is not due again for `lease`, unless its outcome is recorded first.
pub async fn claim_due(pool: &PgPool, limit: i64, lease: Duration) -> Result<Vec<Outgoing>, sqlx::Error> {
    // `state = 'pending'` is written out so that the statement uses the partial index.
    sqlx::query_as(
        "UPDATE webhook_deliveries d
            SET attempts = d.attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
         FROM (SELECT id FROM webhook_deliveries
               WHERE state = 'pending' AND next_attempt_at <= now()
               ORDER BY next_attempt_at LIMIT $1
               FOR UPDATE SKIP LOCKED) due
         WHERE d.id = due.id
         RETURNING d.id, d.plan_id, d.event, d.url, d.payload::text AS body, d.attempts, d.created_at",
    )
    .bind(limit)
    .bind(lease.as_secs_f64())
    .fetch_all(pool)
    .await
}

/// The receiver took it. Recorded whichever try it was: it has been delivered.
pub async fn delivered(pool: &PgPool, id: Uuid, status_code: u16) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE webhook_deliveries SET state = $2, delivered_at = now(), last_status_code = $3, last_error = NULL
         WHERE id = $1 AND state <> $2",
    )
    .bind(id)
    .bind(DeliveryState::Delivered)
    .bind(i32::from(status_code))
    .execute(pool)
    .await?;
    Ok(())
}

/// Try `attempt` failed: the delivery is due again after `retry_in`, or failed for good when
/// that would be later than `give_up_after` its creation. Only the latest try's outcome
/// counts; `None` when a later try (or a delivery) has overtaken this one.
pub async fn try_failed(
    pool: &PgPool,
    id: Uuid,
    attempt: i32,
    status_code: Option<u16>,
    error: &str,
    retry_in: Duration,
    give_up_after: Duration,
) -> Result<Option<DeliveryState>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE webhook_deliveries SET last_error = $3, last_status_code = $4,
            next_attempt_at = now() + make_interval(secs => $5),
            state = CASE WHEN now() + make_interval(secs => $5) > created_at + make_interval(secs => $6)
                         THEN $7 ELSE $8 END
         WHERE id = $1 AND attempts = $2 AND state = $8
         RETURNING state",
    )
    .bind(id)
    .bind(attempt)
    .bind(error)
    .bind(status_code.map(i32::from))
    .bind(retry_in.as_secs_f64())
    .bind(give_up_after.as_secs_f64())
    .bind(DeliveryState::Failed)
    .bind(DeliveryState::Pending)
    .fetch_optional(pool)
    .await
}

/// Never deliverable (a forbidden address, a malformed URL): failed at once, saying why.
pub async fn refused(pool: &PgPool, id: Uuid, error: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE webhook_deliveries SET state = $3, last_error = $2 WHERE id = $1 AND state = $4")
        .bind(id)
        .bind(error)
        .bind(DeliveryState::Failed)
        .bind(DeliveryState::Pending)
        .execute(pool)
        .await?;
    Ok(())
}
