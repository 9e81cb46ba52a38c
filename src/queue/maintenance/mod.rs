//! Maintenance services, each named for its duty and run by whichever worker takes its
//! advisory lock first: the `rescuer` puts stuck plans back in the queue (every minute), the
//! `cleaner` deletes what retention allows (every `CLEANUP_INTERVAL_SECS`). One loop runs
//! them; `lock` is the advisory lock they share. The `webhook_sender` and the
//! `result_exporter` run in every worker beside them, each on its own loop (their work is
//! shared out by row locks, not one lock).

pub mod cleaner;
mod lock;
pub mod rescuer;
pub mod result_exporter;
pub mod webhook_sender;

use std::time::Duration;

use sqlx::PgPool;

use crate::config::Settings;

/// When the services run and what they act on.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub rescue_every: Duration,
    /// A plan untouched for longer than a whole run may take has no live run.
    pub stale_after: Duration,
    pub clean_every: Duration,
    pub retention: Duration,
}

impl Schedule {
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            rescue_every: Duration::from_secs(60).min(settings.cleanup_interval),
            stale_after: settings.plan_timeout + Duration::from_secs(60),
            clean_every: settings.cleanup_interval,
            retention: settings.retention,
        }
    }
}

/// Runs the services on their schedule until the task is dropped.
pub async fn run(pool: PgPool, schedule: Schedule) {
    let mut last_cleanup = tokio::time::Instant::now();
    loop {
        // Spread the workers' attempts so they do not all queue on the lock at once.
        let jitter = schedule.rescue_every.mul_f64(rand::random::<f64>() * 0.2);
        tokio::time::sleep(schedule.rescue_every + jitter).await;
        if let Err(e) = rescuer::rescue_stuck(&pool, schedule.stale_after).await {
            tracing::warn!(error = %e, "stuck-plan rescue failed");
        }
        if last_cleanup.elapsed() < schedule.clean_every {
            continue;
        }
        last_cleanup = tokio::time::Instant::now();
        match cleaner::clean(&pool, schedule.retention).await {
            Ok(Some(c)) => tracing::info!(
                plans = c.plans,
                workers = c.workers,
                cache_entries = c.cache_entries,
                "retention cleanup"
            ),
            Ok(None) => tracing::debug!("retention cleanup running elsewhere"),
            Err(e) => tracing::warn!(error = %e, "retention cleanup failed"),
        }
    }
}
