//! A worker process's queue consumer: one apalis worker under a `Monitor`, configured so
//! that none of apalis-postgres's unsafe defaults applies (see each setting below).

use std::{sync::Arc, time::Duration};

use apalis::prelude::*;
use apalis_postgres::{Config, PostgresStorage};
use sqlx::PgPool;

use crate::{
    config::{QueueSettings, Settings},
    queue::{durable::durable, executor::Executor, maintenance, poll},
    store::jobs::{self, PlanJob, QUEUE_NAME},
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

async fn handle(job: PlanJob, worker: WorkerContext, executor: Data<Arc<Executor>>) -> Result<(), BoxDynError> {
    executor.run(job.plan_id, worker.name()).await.map_err(|e| {
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
    executor: Arc<Executor>,
    settings: &Settings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let name = unique_worker_name();
    let concurrency = settings.worker_concurrency.max(1);
    let queue = settings.queue.clone();
    let grace = settings.shutdown_grace;
    tracing::info!(worker = %name, concurrency, queue = QUEUE_NAME, "worker starting");
    let maintenance = tokio::spawn(maintenance::run(
        pool.clone(),
        maintenance::Schedule::from_settings(settings),
    ));
    let factory = {
        let executor = executor.clone();
        move |restarts: usize| {
            // Each incarnation of the consumer has a name of its own: the jobs a stopped one
            // held are handed back at once, and the new one's are never mistaken for them.
            if restarts > 0 {
                tokio::spawn(hand_back(pool.clone(), incarnation(&name, restarts - 1)));
            }
            let backend = PostgresStorage::<PlanJob>::new(&pool)
                .with_config(storage_config(&queue, concurrency))
                // NOTIFY wakes the worker at once for new jobs; the poll finds delayed ones
                // (retries with run_at), which NOTIFY never announces.
                .with_pubsub()
                .poll_with_strategy(poll::Tick::every(queue.poll_interval));
            WorkerBuilder::new(incarnation(&name, restarts))
                .backend(backend)
                .data(executor.clone())
                .concurrency(concurrency)
                .build(handle)
        }
    };
    let hand_back = executor.shutdown.clone();
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
    executor.shutdown.cancel();
    maintenance.abort();
    tracing::info!("worker stopped");
    result.map_err(Into::into)
}

/// The consumer's name after `restarts` restarts.
fn incarnation(name: &str, restarts: usize) -> String {
    if restarts == 0 {
        name.to_string()
    } else {
        format!("{name}-r{restarts}")
    }
}

/// Hands back the jobs a stopped incarnation held, once the database answers.
async fn hand_back(pool: PgPool, stopped: String) {
    match durable("hand back a stopped consumer's jobs", || {
        jobs::hand_back_held_by(&pool, &stopped)
    })
    .await
    {
        Ok(n) => tracing::warn!(worker = %stopped, jobs = n, "consumer restarted; its jobs handed back"),
        Err(e) => tracing::error!(worker = %stopped, error = %e, "jobs of a stopped consumer not handed back"),
    }
}

/// A worker inside this process (the CLI's in-process mode, the benchmark): returns its task
/// and the sender that stops it.
pub fn spawn_in_process(
    pool: PgPool,
    executor: Arc<Executor>,
    settings: Settings,
) -> (
    tokio::task::JoinHandle<anyhow::Result<()>>,
    tokio::sync::oneshot::Sender<()>,
) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        run(pool, executor, &settings, async move {
            let _ = stopped.await;
        })
        .await
    });
    (task, stop)
}
