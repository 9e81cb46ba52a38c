//! `planner bench`: throughput figures, printed, never asserted.
//! 1. plans/s through the whole path — insert (plan row + job in one transaction) →
//!    queue → graph → finalize — with embedded providers at a given worker concurrency;
//! 2. no-op jobs/s through the apalis-postgres queue alone, with the same settings.
//!
//! It runs in a scratch database next to DATABASE_URL's and drops it afterwards.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use apalis::prelude::*;
use apalis_postgres::PostgresStorage;
use serde_json::json;

use crate::{
    config::Settings,
    db,
    queue::{
        executor::Executor,
        poll,
        worker::{self, storage_config},
    },
    store::{
        plans::{self, NewPlan},
        states::PlanStatus,
    },
    travel::sources::Sources,
};

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Plans to run through the whole path.
    #[arg(long, default_value_t = 200)]
    pub plans: usize,
    /// No-op jobs to run through the queue alone.
    #[arg(long, default_value_t = 2000)]
    pub jobs: usize,
    /// Jobs in flight in the worker.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Keep the scratch database afterwards, to study its plans and events.
    #[arg(long)]
    pub keep_database: bool,
}

const DESTINATIONS: [&str; 8] = ["杭州", "成都", "北京", "上海", "西安", "厦门", "Tokyo", "Singapore"];

pub async fn run(settings: Settings, args: BenchArgs) -> anyhow::Result<()> {
    let connections = (args.concurrency as u32 + 8).max(settings.db_pool_max);
    let scratch = db::Scratch::create(&settings.database_url, "planner_bench", connections).await?;
    let pool = scratch.pool.clone();
    println!(
        "bench: {} plans, {} no-op jobs, worker concurrency {}, database {}",
        args.plans, args.jobs, args.concurrency, scratch.name
    );
    let result = async {
        whole_path(&pool, &settings, &args).await?;
        queue_only(&pool, &settings, &args).await
    }
    .await;
    scratch.finish(args.keep_database).await?;
    result
}

async fn whole_path(pool: &sqlx::PgPool, settings: &Settings, args: &BenchArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    submit(pool, args.plans).await?;
    let inserted = started.elapsed();
    let executor = Executor::new(pool.clone(), settings, Sources::embedded(settings));
    let worker_settings = Settings {
        worker_concurrency: args.concurrency,
        ..settings.clone()
    };
    let (worker, stop_tx) = worker::spawn_in_process(pool.clone(), executor, worker_settings);
    let run_started = Instant::now();
    loop {
        let open: i64 = sqlx::query_scalar("SELECT count(*) FROM plans WHERE status = ANY($1)")
            .bind([PlanStatus::Queued, PlanStatus::Running].as_slice())
            .fetch_one(pool)
            .await?;
        if open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ran = run_started.elapsed();
    let _ = stop_tx.send(());
    let _ = worker.await;
    let (succeeded, p50, p95): (i64, Option<f64>, Option<f64>) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = $1),
                percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at)),
                percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at))
         FROM plans",
    )
    .bind(PlanStatus::Succeeded)
    .fetch_one(pool)
    .await?;
    println!(
        "whole path: inserted {} plans in {:.2}s ({:.0}/s); ran them in {:.2}s: {:.1} plans/s; {succeeded} succeeded; run time p50 {:.0} ms, p95 {:.0} ms",
        args.plans,
        inserted.as_secs_f64(),
        args.plans as f64 / inserted.as_secs_f64(),
        ran.as_secs_f64(),
        args.plans as f64 / ran.as_secs_f64(),
        p50.unwrap_or(0.0) * 1000.0,
        p95.unwrap_or(0.0) * 1000.0,
    );
    Ok(())
}

/// `count` plans over a few destinations, sizes and parties, each with its job.
async fn submit(pool: &sqlx::PgPool, count: usize) -> anyhow::Result<()> {
    let start_date = (chrono::Local::now().date_naive() + chrono::Duration::days(10)).to_string();
    for i in 0..count {
        let request = json!({
            "destination": DESTINATIONS[i % DESTINATIONS.len()],
            "start_date": start_date,
            "days": 2 + (i % 4),
            "travelers": 1 + (i % 3),
            "budget": {"amount": 20000, "currency": "CNY"},
        });
        let new = NewPlan {
            trace_context: None,
            owner: "bench",
            idempotency_key: None,
            request: &request,
            max_attempts: 5,
        };
        plans::create(pool, new).await?;
    }
    Ok(())
}

const NOOP_QUEUE: &str = "travel-planner.bench-noop";

async fn noop(_job: u64, done: Data<Arc<AtomicUsize>>) -> Result<(), BoxDynError> {
    done.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

async fn queue_only(pool: &sqlx::PgPool, settings: &Settings, args: &BenchArgs) -> anyhow::Result<()> {
    let tasks: Vec<_> = (0..args.jobs as u64)
        .map(|i| {
            TaskBuilder::new(serde_json::to_vec(&i).unwrap_or_default())
                .max_attempts(5)
                .build()
        })
        .collect();
    let mut tx = pool.begin().await?;
    apalis_postgres::queries::push_tasks(&mut *tx, NOOP_QUEUE, tasks).await?;
    tx.commit().await?;
    let done = Arc::new(AtomicUsize::new(0));
    let config = storage_config(&settings.queue, args.concurrency).queue(NOOP_QUEUE);
    let backend = PostgresStorage::<u64>::new(pool)
        .with_config(config)
        .with_pubsub()
        .poll_with_strategy(poll::Tick::every(settings.queue.poll_interval));
    let worker = WorkerBuilder::new(worker::unique_worker_name())
        .backend(backend)
        .data(done.clone())
        .concurrency(args.concurrency)
        .build(noop);
    let started = Instant::now();
    let handle = tokio::spawn(worker.run());
    while done.load(Ordering::Relaxed) < args.jobs && started.elapsed() < Duration::from_secs(300) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    handle.abort();
    println!(
        "queue only: {} no-op jobs in {:.2}s: {:.0} jobs/s",
        done.load(Ordering::Relaxed),
        elapsed.as_secs_f64(),
        done.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}
