//! The result exporter: copies finished plans to the results store, and deletes the copies of
//! plans retention has removed, in every worker that has a store (`RESULTS_STORE`). Both come
//! from outboxes (`store::exports`) written in the transactions that made them due, so
//! nothing is lost when a worker dies or the store is down: each export or deletion is
//! claimed under a lease (several exporters share the work), tried, and on failure due again
//! after an exponential backoff, for as long as it takes (an export ends at the latest when
//! retention removes its plan). Polled: exports wait a poll at most, and nothing is added to
//! a plan's own transactions.

use std::time::Duration;

use serde_json::Value;
use sqlx::PgPool;
use tracing::Instrument;
use uuid::Uuid;

use crate::{
    config::ResultsSettings,
    metrics,
    queue::retry,
    results::store::{self, Object, ResultsStore, StoreError},
    store::exports::{self, DueDeletion, DueExport},
    travel::itinerary::Itinerary,
};

/// Exports (or deletions) claimed at once.
pub const BATCH: usize = 16;
/// The longest wait between two tries.
const LONGEST_BACKOFF: Duration = Duration::from_secs(600);
/// A claimed try is someone's until its requests could have timed out, and some slack.
const LEASE: Duration = Duration::from_secs(2 * store::REQUEST_TIMEOUT.as_secs() + 30);
/// How often the backlog gauges are refreshed.
const GAUGE_PERIOD: Duration = Duration::from_secs(15);

/// Exports and deletes as they come due until the task is dropped; nothing without a store.
pub async fn run(pool: PgPool, store: Option<ResultsStore>, settings: ResultsSettings) {
    let Some(store) = store else {
        tracing::debug!("result exporter off: no RESULTS_STORE");
        return;
    };
    tracing::info!(store = %store, "result exporter started");
    let mut gauges_at: Option<tokio::time::Instant> = None;
    loop {
        let exported = export_due(&pool, &store, settings.retry_base).await;
        let deleted = delete_due(&pool, &store, settings.retry_base).await;
        if gauges_at.is_none_or(|at| at.elapsed() >= GAUGE_PERIOD) {
            refresh_gauges(&pool).await;
            gauges_at = Some(tokio::time::Instant::now());
        }
        match (exported, deleted) {
            // A full batch: there may be more due right now.
            (Ok(e), Ok(d)) if e == BATCH || d == BATCH => continue,
            (Ok(_), Ok(_)) => {}
            (Err(e), _) | (_, Err(e)) => tracing::warn!(error = %e, "result exports not claimed; trying again"),
        }
        tokio::time::sleep(settings.poll_interval).await;
    }
}

/// Claims the due exports (up to a batch), writes each plan's objects, and records how each
/// went. Returns how many were claimed.
pub async fn export_due(pool: &PgPool, store: &ResultsStore, retry_base: Duration) -> Result<usize, sqlx::Error> {
    let due = exports::claim_exports(pool, BATCH as i64, LEASE).await?;
    let tries = due.iter().map(|e| {
        let span = tracing::info_span!("result_export", plan_id = %e.plan_id, attempt = e.attempts);
        export_one(pool, store, e, retry_base).instrument(span)
    });
    for result in futures::future::join_all(tries).await {
        result?;
    }
    Ok(due.len())
}

async fn export_one(
    pool: &PgPool,
    store: &ResultsStore,
    e: &DueExport,
    retry_base: Duration,
) -> Result<(), sqlx::Error> {
    match write_objects(store, e).await {
        Ok(()) => {
            let location = store.location(e.plan_id, Object::Json);
            exports::exported(pool, e.plan_id, &location).await?;
            tracing::info!(location, "plan exported to the results store");
            metrics::result_export("exported");
        }
        Err(error) => {
            let retry_in = backoff(retry_base, e.attempts);
            let error = error.to_string();
            if exports::export_failed(pool, e.plan_id, e.attempts, &error, retry_in).await? {
                let retry_ms = retry_in.as_millis() as u64;
                tracing::warn!(error, retry_ms, "plan not exported; retry scheduled");
                metrics::result_export("retry");
            }
        }
    }
    Ok(())
}

/// The Markdown first: the JSON is what a reader waits for, so its presence means both are in.
async fn write_objects(store: &ResultsStore, e: &DueExport) -> Result<(), StoreError> {
    store
        .put(e.plan_id, Object::Markdown, e.markdown.clone().into_bytes())
        .await?;
    store.put(e.plan_id, Object::Json, pretty_json(&e.result)).await
}

/// The itinerary as `finalize` made it: its fields in their declared order, as the files
/// always were (the database's `jsonb` keeps its own key order). A result from an older
/// shape of the itinerary is written as stored.
fn pretty_json(stored: &str) -> Vec<u8> {
    let pretty = match serde_json::from_str::<Itinerary>(stored) {
        Ok(plan) => serde_json::to_vec_pretty(&plan),
        Err(_) => serde_json::from_str::<Value>(stored).and_then(|v| serde_json::to_vec_pretty(&v)),
    };
    pretty.unwrap_or_else(|_| stored.as_bytes().to_vec())
}

/// Claims the due deletions (up to a batch), deletes each plan's objects, and records how
/// each went. Returns how many were claimed.
pub async fn delete_due(pool: &PgPool, store: &ResultsStore, retry_base: Duration) -> Result<usize, sqlx::Error> {
    let due = exports::claim_deletions(pool, BATCH as i64, LEASE).await?;
    let tries = due.iter().map(|d| {
        let span = tracing::info_span!("result_deletion", plan_id = %d.plan_id, attempt = d.attempts);
        delete_one(pool, store, *d, retry_base).instrument(span)
    });
    for result in futures::future::join_all(tries).await {
        result?;
    }
    Ok(due.len())
}

async fn delete_one(
    pool: &PgPool,
    store: &ResultsStore,
    d: DueDeletion,
    retry_base: Duration,
) -> Result<(), sqlx::Error> {
    match delete_objects(store, d.plan_id).await {
        Ok(()) => {
            exports::deleted(pool, d.plan_id).await?;
            tracing::info!("expired plan's objects deleted from the results store");
            metrics::result_deletion("deleted");
        }
        Err(error) => {
            let retry_in = backoff(retry_base, d.attempts);
            let error = error.to_string();
            if exports::deletion_failed(pool, d.plan_id, d.attempts, &error, retry_in).await? {
                let retry_ms = retry_in.as_millis() as u64;
                tracing::warn!(error, retry_ms, "expired plan's objects not deleted; retry scheduled");
                metrics::result_deletion("retry");
            }
        }
    }
    Ok(())
}

async fn delete_objects(store: &ResultsStore, plan_id: Uuid) -> Result<(), StoreError> {
    for object in Object::BOTH {
        store.delete(plan_id, object).await?;
    }
    Ok(())
}

async fn refresh_gauges(pool: &PgPool) {
    match exports::backlog(pool).await {
        Ok(b) => metrics::results_backlog(b.exports, b.deletions),
        Err(e) => tracing::debug!(error = %e, "results backlog not counted"),
    }
}

/// The wait after try `attempt` (1-based): `base` × 2^(attempt-1), +0–25 % jitter, at most
/// ten minutes.
pub fn backoff(base: Duration, attempt: i32) -> Duration {
    retry::capped(base, attempt, LONGEST_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_stops_at_ten_minutes() {
        let base = Duration::from_millis(500);
        for (attempt, plain_ms) in [(1, 500), (2, 1000), (3, 2000), (4, 4000)] {
            let wait = backoff(base, attempt);
            let plain = Duration::from_millis(plain_ms);
            assert!(wait >= plain && wait <= plain.mul_f64(1.25), "{attempt}: {wait:?}");
        }
        for attempt in [40, i32::MAX] {
            let wait = backoff(base, attempt);
            assert!(
                wait <= LONGEST_BACKOFF && wait >= LONGEST_BACKOFF.mul_f64(0.75),
                "{attempt}: {wait:?}"
            );
        }
    }

    #[test]
    fn stored_json_that_is_no_itinerary_is_written_as_stored() {
        assert_eq!(pretty_json(r#"{"a":1}"#), b"{\n  \"a\": 1\n}");
        assert_eq!(pretty_json("not json"), b"not json");
    }
}
