//! A worker process's queue consumer: one apalis worker on our backend (`backend`, woken by
//! `wake`) under a `Monitor`, with the maintenance services beside it.

use std::{sync::Arc, time::Duration};

use apalis::prelude::*;
use sqlx::PgPool;

use crate::{
    config::Settings,
    queue::{backend::PlanBackend, consumer::Consumer, executor::Executor, maintenance, wake::Wake},
    results::store::ResultsStore,
    store::{durable::durable, queue::Claimed, runs},
};

/// host-pid-random: liveness is keyed by worker name, and two processes sharing a name
/// would keep a crashed one's plans `running` forever.
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

async fn handle(plan: Claimed, executor: Data<Arc<Executor>>) -> Result<(), BoxDynError> {
    let plan_id = plan.plan_id;
    executor.run(plan).await.map_err(|e| {
        tracing::error!(plan_id = %plan_id, error = %e, "plan's outcome not recorded: the database failed; the stuck-plan rescue will retry it");
        e.into()
    })
}

/// How this process's worker consumes the queue.
pub fn consumer(settings: &Settings, entry: &'static str) -> Consumer {
    let queue = &settings.queue;
    Consumer {
        concurrency: settings.worker_concurrency.max(1),
        owner_cap: queue.owner_max_running,
        prefetch: queue.prefetch,
        entry: Some(entry),
        heartbeat: queue.heartbeat_interval,
        silent_for: queue.heartbeat_interval * queue.missed_heartbeats.max(1) as u32,
        retry_base: queue.retry_base,
    }
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
    let consumer = consumer(settings, executor.entry());
    let concurrency = consumer.concurrency;
    let poll_interval = settings.queue.poll_interval;
    let grace = settings.shutdown_grace;
    tracing::info!(worker = %name, concurrency, owner_cap = consumer.owner_cap, "worker starting");
    let results = ResultsStore::from_settings(&settings.results)?;
    let maintenance = tokio::spawn(maintenance::run(
        pool.clone(),
        maintenance::Schedule::from_settings(settings),
    ));
    let webhook_sender = tokio::spawn(maintenance::webhook_sender::run(pool.clone(), settings.webhook.clone()));
    let result_exporter = tokio::spawn(maintenance::result_exporter::run(
        pool.clone(),
        results,
        settings.results.clone(),
    ));
    let factory = {
        let executor = executor.clone();
        move |restarts: usize| {
            // Each incarnation of the consumer has a name of its own: the plans a stopped one
            // held are handed back at once, and the new one's are never mistaken for them.
            if restarts > 0 {
                tokio::spawn(hand_back(pool.clone(), incarnation(&name, restarts - 1)));
            }
            let wake = Wake::listen(&pool, poll_interval);
            executor.finishing.wake(wake.nudger());
            let backend = PlanBackend::new(pool.clone(), consumer.clone(), wake.nudger()).poll_with_strategy(wake);
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
        // Our backend outlives database outages; should the worker stop anyway, restart it
        // rather than leave the process idle forever.
        .should_restart(|ctx, error| {
            tracing::warn!(worker = ctx.name(), %error, restarts = ctx.restarts(), "queue worker stopped; restarting");
            !ctx.is_shutting_down()
        })
        .register(factory)
        // Past the grace period plans are handed back, which takes a moment more.
        .shutdown_timeout(grace + Duration::from_secs(10))
        .run_with_signal(signal)
        .await;
    // Results on their way land before the worker says it has stopped.
    let pending = executor.finishing.pending();
    if !executor.finishing.drain(Duration::from_secs(10)).await {
        tracing::warn!(
            pending,
            "results not all written; their plans will be rescued and run again"
        );
    }
    executor.shutdown.cancel();
    maintenance.abort();
    // A try cut short stays claimed until its lease ends, then another sender makes it.
    webhook_sender.abort();
    result_exporter.abort();
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

/// Hands back the plans a stopped incarnation held, once the database answers.
async fn hand_back(pool: PgPool, stopped: String) {
    match durable("hand back a stopped consumer's plans", || {
        runs::hand_back(&pool, &stopped, None)
    })
    .await
    {
        Ok(n) => tracing::warn!(worker = %stopped, plans = n, "consumer restarted; its plans handed back"),
        Err(e) => tracing::error!(worker = %stopped, error = %e, "plans of a stopped consumer not handed back"),
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
