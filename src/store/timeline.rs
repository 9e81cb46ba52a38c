//! A plan's timeline read in pages for live streams: the events after a given one, and the
//! plan's status read just before them. A terminal status is written in the same transaction
//! as its event, so a page that finds the plan finished also holds (or follows) its last event.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::store::states::{EventKind, PlanStatus};

/// The LISTEN/NOTIFY channel on which every write to `plan_events` names the plans it touched
/// (migration `20261128000003_timeline_notify`).
pub const CHANNEL: &str = "plan_events";

/// Events one read returns at most; a stream reads again at once when a page is full.
pub const PAGE: i64 = 500;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TimelineEvent {
    pub id: i64,
    pub kind: EventKind,
    pub node: Option<String>,
    pub attempt: i32,
    pub detail: Value,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug)]
pub struct Page {
    pub status: PlanStatus,
    pub events: Vec<TimelineEvent>,
}

impl Page {
    /// Nothing more will ever be added: the plan is finished and this read reached the end.
    pub fn is_last(&self) -> bool {
        self.status.is_terminal() && (self.events.len() as i64) < PAGE
    }
}

/// Events of `plan` after event `after`, oldest first; `None` when there is no such plan.
pub async fn after(pool: &PgPool, plan: Uuid, after: i64) -> Result<Option<Page>, sqlx::Error> {
    let Some(status) = sqlx::query_scalar::<_, PlanStatus>("SELECT status FROM plans WHERE id = $1")
        .bind(plan)
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    let events = sqlx::query_as::<_, TimelineEvent>(
        "SELECT id, kind, node, attempt, detail, created_at FROM plan_events
         WHERE plan_id = $1 AND id > $2 ORDER BY id LIMIT $3",
    )
    .bind(plan)
    .bind(after)
    .bind(PAGE)
    .fetch_all(pool)
    .await?;
    Ok(Some(Page { status, events }))
}

/// The distinct nodes finished up to and including event `upto`: where a resumed stream's
/// percentage starts.
pub async fn nodes_finished(pool: &PgPool, plan: Uuid, upto: i64) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT node FROM plan_events
         WHERE plan_id = $1 AND id <= $2 AND kind = 'node_finished' AND node IS NOT NULL",
    )
    .bind(plan)
    .bind(upto)
    .fetch_all(pool)
    .await
}
