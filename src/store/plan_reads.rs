//! A plan as a client reads it (`GET /v1/plans/{id}`): its row, its progress, why it waits
//! while it is queued, its webhook deliveries and its copy to the results store. Under load
//! the reads of many requests share one statement (`Reads`).

use std::collections::HashMap;

use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    db,
    store::{
        batch::{BatchStatement, Batcher},
        exports::ExportStatus,
        plans::{PlanRow, WaitCounts},
        queue::{self, WaitReason},
        states::PlanStatus,
        webhooks::DeliveryStatus,
    },
};

/// A plan as a client reads it: the row, its `done_nodes`, while it is queued why, and its
/// webhook deliveries.
pub struct PlanRead {
    pub plan: PlanRow,
    pub done: Vec<String>,
    pub wait: Option<WaitReason>,
    pub webhooks: Vec<DeliveryStatus>,
    /// Its copy to the results store, when a worker with a store finished it.
    pub export: Option<ExportStatus>,
}

#[derive(Clone, sqlx::FromRow)]
struct ReadRow {
    #[sqlx(flatten)]
    plan: PlanRow,
    done: Vec<String>,
    #[sqlx(flatten)]
    counts: WaitCounts,
    has_callback: bool,
}

#[derive(sqlx::FromRow)]
struct Deliveries {
    webhooks: sqlx::types::Json<Vec<DeliveryStatus>>,
    export: Option<sqlx::types::Json<ExportStatus>>,
}

/// The plan, its progress and its wait reason, read alone on `pool` (the API reads through
/// `Reads`; this is the same read without the batcher).
pub async fn read(pool: &PgPool, id: Uuid, owner_cap: u32) -> Result<Option<PlanRead>, sqlx::Error> {
    let row = read_rows(pool, &[id], owner_cap).await?.pop().flatten();
    with_deliveries(pool, row, owner_cap).await
}

/// `read`'s rows of many plans in one statement, answered in the order of `ids` (`None`: no
/// such plan). For a due queued plan it counts its owner's running plans, its owner's due
/// plans before it (up to the cap: they take the owner's room first) and every due plan
/// before it (up to `AHEAD_COUNTED`). The statuses are written out, not bound, so that the
/// statement's cached plan uses the queue's partial indexes; the counts walk those indexes in
/// their order (`ORDER BY`) and stop at the limit, which does not change what they count. The
/// webhook deliveries and the
/// copy to the results store come from a second statement, only for a plan whose request
/// has a `callback_url` or that succeeded: PostgreSQL sets up every subquery of a statement
/// before it runs, used or not, and those two made the common read a fifth dearer.
async fn read_rows(pool: &PgPool, ids: &[Uuid], owner_cap: u32) -> Result<Vec<Option<ReadRow>>, sqlx::Error> {
    let rows: Vec<ReadRow> = sqlx::query_as(
        "SELECT p.*,
                ARRAY(SELECT c.node FROM plan_checkpoints c WHERE c.plan_id = p.id ORDER BY c.created_at, c.node) AS done,
                w.running, w.owners_before, w.ahead,
                p.request ? 'callback_url' AS has_callback
         FROM plans p
         LEFT JOIN LATERAL (
            SELECT (SELECT count(*) FROM plans r WHERE r.owner = p.owner AND r.status = 'running') AS running,
                   (SELECT count(*) FROM (SELECT 1 FROM plans q WHERE q.owner = p.owner AND q.status = 'queued'
                        AND q.due_at <= now() AND (q.due_at, q.id) < (p.due_at, p.id)
                        ORDER BY q.due_at, q.id LIMIT $2) mine) AS owners_before,
                   (SELECT count(*) FROM (SELECT 1 FROM plans q WHERE q.status = 'queued'
                        AND q.due_at <= now() AND (q.due_at, q.id) < (p.due_at, p.id)
                        ORDER BY q.due_at, q.id LIMIT $3) before) AS ahead
            WHERE p.status = 'queued' AND p.due_at <= now()
         ) w ON true
         WHERE p.id = ANY($1)",
    )
    .bind(ids)
    .bind(i64::from(owner_cap))
    .bind(queue::AHEAD_COUNTED)
    .fetch_all(pool)
    .await?;
    // A copy for every asker: the same plan may be asked for twice in one batch.
    let by_id: HashMap<Uuid, ReadRow> = rows.into_iter().map(|r| (r.plan.id, r)).collect();
    Ok(ids.iter().map(|id| by_id.get(id).cloned()).collect())
}

async fn with_deliveries(pool: &PgPool, row: Option<ReadRow>, owner_cap: u32) -> Result<Option<PlanRead>, sqlx::Error> {
    let Some(row) = row else {
        return Ok(None);
    };
    let succeeded = row.plan.status == PlanStatus::Succeeded;
    let (webhooks, export) = if row.has_callback || succeeded {
        deliveries(pool, row.plan.id, row.has_callback, succeeded).await?
    } else {
        (Vec::new(), None)
    };
    let wait = row.counts.reason(&row.plan, owner_cap);
    Ok(Some(PlanRead {
        plan: row.plan,
        done: row.done,
        wait,
        webhooks,
        export,
    }))
}

/// Most reads in flight in one statement.
const READ_BATCH: usize = 64;
/// Statements reading at once: one gathers the next batch while another runs.
const READERS: u32 = 2;

/// Plan reads of many requests at once: the reads waiting when a statement starts share it
/// (`read_rows`), and with it one round trip and one set-up of its subqueries, which were
/// most of a read's cost. A read alone runs at once; each read sees the plan as it is after
/// the read was asked for.
#[derive(Clone)]
pub struct Reads {
    rows: Batcher<ReadRows>,
    pool: PgPool,
    owner_cap: u32,
}

impl Reads {
    /// Starts the reading tasks (needs a Tokio runtime). `owner_cap` decides the wait reasons.
    pub fn spawn(pool: PgPool, owner_cap: u32) -> Self {
        let statement = ReadRows {
            pool: db::generic_plan_pool(&pool, READERS),
            owner_cap,
        };
        Self {
            rows: Batcher::spawn(statement, READ_BATCH, READERS as usize),
            pool,
            owner_cap,
        }
    }

    /// As `read`.
    pub async fn read(&self, id: Uuid) -> Result<Option<PlanRead>, sqlx::Error> {
        let row = self.rows.call(id).await?;
        with_deliveries(&self.pool, row, self.owner_cap).await
    }
}

struct ReadRows {
    pool: PgPool,
    owner_cap: u32,
}

#[async_trait::async_trait]
impl BatchStatement for ReadRows {
    type Item = Uuid;
    type Answer = Option<ReadRow>;

    async fn run(&self, ids: &[Uuid]) -> Result<Vec<Option<ReadRow>>, sqlx::Error> {
        read_rows(&self.pool, ids, self.owner_cap).await
    }
}

/// A plan's webhook deliveries (when it has a callback) and its copy to the results store
/// (when it succeeded).
async fn deliveries(
    pool: &PgPool,
    id: Uuid,
    has_callback: bool,
    succeeded: bool,
) -> Result<(Vec<DeliveryStatus>, Option<ExportStatus>), sqlx::Error> {
    let row: Deliveries = sqlx::query_as(
        "SELECT CASE WHEN $2 THEN (
                    SELECT coalesce(jsonb_agg(jsonb_build_object(
                        'id', d.id, 'event', d.event, 'state', d.state, 'attempts', d.attempts,
                        'last_status_code', d.last_status_code, 'last_error', d.last_error,
                        'next_attempt_at', CASE WHEN d.state = 'pending' THEN d.next_attempt_at END,
                        'created_at', d.created_at, 'delivered_at', d.delivered_at) ORDER BY d.created_at, d.id),
                        '[]'::jsonb)
                    FROM webhook_deliveries d WHERE d.plan_id = $1)
                ELSE '[]'::jsonb END AS webhooks,
                CASE WHEN $3 THEN (
                    SELECT jsonb_build_object('state', x.state, 'attempts', x.attempts, 'last_error', x.last_error,
                        'next_attempt_at', CASE WHEN x.state = 'pending' THEN x.next_attempt_at END,
                        'location', x.location, 'exported_at', x.exported_at)
                    FROM result_exports x WHERE x.plan_id = $1)
                END AS export",
    )
    .bind(id)
    .bind(has_callback)
    .bind(succeeded)
    .fetch_one(pool)
    .await?;
    Ok((row.webhooks.0, row.export.map(|e| e.0)))
}
