//! The same no-op jobs through apalis-postgres (its own `apalis` schema, LISTEN/NOTIFY and a
//! poll, a batch the size of the concurrency): the figure the queue core replaced, measured
//! the same way for reference.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Instant,
};

use apalis::prelude::*;
use apalis_postgres::{Config, PostgresStorage};

use crate::{
    cli::bench::figures::until_done,
    config::Settings,
    db,
    queue::{wake::Tick, worker::unique_worker_name},
};

const QUEUE: &str = "travel-planner.bench-noop";
const ENQUEUE_BATCH: usize = 1000;

async fn noop(_job: u64, done: Data<Arc<AtomicUsize>>) -> Result<(), BoxDynError> {
    done.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

pub async fn run(scratch: &db::Scratch, settings: &Settings, jobs: usize, concurrency: usize) -> anyhow::Result<()> {
    let pool = &scratch.pool;
    PostgresStorage::setup(pool).await?;
    let started = Instant::now();
    for first in (0..jobs).step_by(ENQUEUE_BATCH) {
        let tasks: Vec<_> = (first..(first + ENQUEUE_BATCH).min(jobs))
            .map(|i| {
                let args = serde_json::to_vec(&(i as u64)).unwrap_or_default();
                TaskBuilder::new(args).max_attempts(5).build()
            })
            .collect();
        let mut tx = pool.begin().await?;
        apalis_postgres::queries::push_tasks(&mut *tx, QUEUE, tasks).await?;
        tx.commit().await?;
    }
    let enqueued = started.elapsed();
    let done = Arc::new(AtomicUsize::new(0));
    let config = Config::default()
        .queue(QUEUE)
        .batch_size(concurrency)
        .heartbeat_interval(settings.queue.heartbeat_interval);
    let backend = PostgresStorage::<u64>::new(pool)
        .with_config(config)
        .with_pubsub()
        .poll_with_strategy(Tick::every(settings.queue.poll_interval));
    let worker = WorkerBuilder::new(unique_worker_name())
        .backend(backend)
        .data(done.clone())
        .concurrency(concurrency)
        .build(noop);
    let handle = tokio::spawn(worker.run());
    let elapsed = until_done(&done, jobs).await;
    handle.abort();
    let finished = done.load(Ordering::Relaxed);
    println!(
        "bench=apalis-postgres concurrency={concurrency} jobs={jobs} enqueue_jobs_per_s={:.0} process_jobs_per_s={:.0} done={finished}",
        jobs as f64 / enqueued.as_secs_f64(),
        finished as f64 / elapsed.as_secs_f64(),
    );
    Ok(())
}
