//! A worker process's queue consumer: one apalis worker under a `Monitor`, configured so
//! that none of apalis-postgres's unsafe defaults applies (see each setting below).

use std::{sync::Arc, time::Duration};

use apalis::prelude::*;
use apalis_postgres::{Config, PostgresStorage};
use sqlx::PgPool;

use crate::{
    config::{QueueSettings, Settings},
    planner::run::PlanRunner,
    queue::{PlanJob, QUEUE_NAME, poll},
    store::{rescue, retention},
};

/// host-pid-random: apalis keys liveness by worker name, and two processes sharing a
/// name would leave a crashed one's jobs `Running` forever.
pub fn unique_worker_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    format!(
        "planner-{host}-{}-{:06x}",
        std::process::id(),
        rand::random::<u32>() & 0xff_ffff
    )
}

async fn handle(job: PlanJob, worker: WorkerContext, runner: Data<Arc<PlanRunner>>) -> Result<(), BoxDynError> {
    runner.run(job.plan_id, worker.name()).await.map_err(|e| {
        tracing::error!(plan_id = %job.plan_id, error = %e, "plan job failed on the database; the queue will retry it");
        e.into()
    })
}

pub fn storage_config(settings: &QueueSettings, concurrency: usize) -> Config {
    Config::default()
        .queue(QUEUE_NAME)
        // Fetch about as many jobs as can run: a larger batch would sit locked behind busy slots.
        .batch_size(concurrency.max(1))
        .heartbeat_interval(settings.heartbeat_interval)
        .missed_heartbeats(settings.missed_heartbeats)
}

/// Runs the consumer until `shutdown` resolves. Then it claims nothing new, gives in-flight
/// plans `settings.shutdown_grace` to finish, and hands back those still running.
pub async fn run(
    pool: PgPool,
    runner: Arc<PlanRunner>,
    settings: &Settings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let name = unique_worker_name();
    let concurrency = settings.worker_concurrency.max(1);
    let queue = settings.queue.clone();
    let grace = settings.shutdown_grace;
    tracing::info!(worker = %name, concurrency, queue = QUEUE_NAME, "worker starting");
    // A plan untouched for longer than a whole run may take has no live run.
    let stale_after = settings.plan_timeout + Duration::from_secs(60);
    let cleanup = tokio::spawn(maintenance_loop(
        pool.clone(),
        settings.retention,
        settings.cleanup_interval,
        stale_after,
    ));
    let factory = {
        let runner = runner.clone();
        move |_restarts: usize| {
            let backend = PostgresStorage::<PlanJob>::new(&pool)
                .with_config(storage_config(&queue, concurrency))
                // NOTIFY wakes the worker at once for new jobs; the poll finds delayed ones
                // (retries with run_at), which NOTIFY never announces.
                .with_pubsub()
                .poll_with_strategy(poll::Tick::every(queue.poll_interval));
            WorkerBuilder::new(name.clone())
                .backend(backend)
                .data(runner.clone())
                .concurrency(concurrency)
                .build(handle)
        }
    };
    let hand_back = runner.shutdown.clone();
    let signal = async move {
        shutdown.await;
        tracing::info!(
            grace_ms = grace.as_millis() as u64,
            "shutting down: claiming nothing new; in-flight plans may finish"
        );
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            hand_back.cancel();
        });
        Ok(())
    };
    let result = Monitor::new()
        // A database outage longer than the pool's acquire timeout ends the worker's
        // stream with an error; restart it rather than leave the process idle forever.
        .should_restart(|ctx, error| {
            tracing::warn!(worker = ctx.name(), %error, restarts = ctx.restarts(), "queue worker stopped; restarting");
            !ctx.is_shutting_down()
        })
        .register(factory)
        // Past the grace period plans are handed back, which takes a moment more.
        .shutdown_timeout(grace + Duration::from_secs(10))
        .run_with_signal(signal)
        .await;
    runner.shutdown.cancel();
    cleanup.abort();
    tracing::info!("worker stopped");
    result.map_err(Into::into)
}

/// A worker inside this process (the CLI's in-process mode, the benchmark): returns its task
/// and the sender that stops it.
pub fn spawn_in_process(
    pool: PgPool,
    runner: Arc<PlanRunner>,
    settings: Settings,
) -> (
    tokio::task::JoinHandle<anyhow::Result<()>>,
    tokio::sync::oneshot::Sender<()>,
) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        run(pool, runner, &settings, async move {
            let _ = stopped.await;
        })
        .await
    });
    (task, stop)
}

/// Rescue of stuck plans every minute and retention every `cleanup_interval`, each run by
/// whichever worker takes its advisory lock first.
async fn maintenance_loop(pool: PgPool, retention: Duration, cleanup_interval: Duration, stale_after: Duration) {
    let rescue_interval = Duration::from_secs(60).min(cleanup_interval);
    let mut last_cleanup = tokio::time::Instant::now();
    loop {
        // Spread the workers' attempts so they do not all queue on the lock at once.
        let jitter = rescue_interval.mul_f64(rand::random::<f64>() * 0.2);
        tokio::time::sleep(rescue_interval + jitter).await;
        if let Err(e) = rescue::rescue_stuck(&pool, stale_after).await {
            tracing::warn!(error = %e, "stuck-plan rescue failed");
        }
        if last_cleanup.elapsed() < cleanup_interval {
            continue;
        }
        last_cleanup = tokio::time::Instant::now();
        match retention::cleanup(&pool, retention).await {
            Ok(Some(c)) => tracing::info!(
                plans = c.plans,
                jobs = c.jobs,
                workers = c.workers,
                cache_entries = c.cache_entries,
                "retention cleanup"
            ),
            Ok(None) => tracing::debug!("retention cleanup running elsewhere"),
            Err(e) => tracing::warn!(error = %e, "retention cleanup failed"),
        }
    }
}
