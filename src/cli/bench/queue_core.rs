//! No-op jobs through the queue core, measured the way `../shared/bench-peers/` measures
//! graphile-worker and pg-boss: enqueue N jobs in bulk (1,000 per statement), then from the
//! worker's start until every job is done and its completion committed. A job is a minimal
//! plan; the worker claims it like any plan and the handler only writes its success as a
//! succeeded plan's run does: through the same batched write, handed off the worker slot
//! (`queue::finishing`).

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Instant,
};

use apalis::prelude::*;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    cli::bench::{
        args::BenchArgs,
        figures::{owner, until_done},
        transactions::Transactions,
    },
    config::Settings,
    db,
    graph::{RunFence, Unsaved},
    queue::{
        backend::PlanBackend,
        finishing::Finishing,
        wake::Wake,
        worker::{consumer, unique_worker_name},
    },
    store::{checkpoints::PgCheckpoints, progress::Success, queue::Claimed, states::EventKind, submissions},
};

const ENQUEUE_BATCH: usize = 1000;

struct Done {
    checkpoints: PgCheckpoints,
    finishing: Finishing,
    count: AtomicUsize,
}

async fn noop(job: Claimed, done: Data<Arc<Done>>) -> Result<(), BoxDynError> {
    let success = Success {
        result: serde_json::value::RawValue::from_string("{}".into())?,
        markdown: String::new(),
        warnings: json!([]),
        token_usage: None,
        export: false,
    };
    let writer = Arc::clone(&done);
    let write = async move {
        let written = writer
            .checkpoints
            .succeed(RunFence::new(job.plan_id, job.lease.run), Unsaved::default(), success)
            .await;
        match written {
            Ok(true) => {
                writer.count.fetch_add(1, Ordering::Relaxed);
            }
            Ok(false) => eprintln!("bench: job {} lost to another run", job.plan_id),
            Err(e) => eprintln!("bench: job {} not written: {e}", job.plan_id),
        }
    };
    done.finishing.hand_off(write).await;
    Ok(())
}

pub async fn run(
    scratch: &db::Scratch,
    settings: &Settings,
    args: &BenchArgs,
    concurrency: usize,
) -> anyhow::Result<()> {
    let url = scratch.url();
    scratch.pool.close().await;
    let enqueuing = db::connect(&url, 2).await?;
    let started = Instant::now();
    enqueue(&enqueuing, args.jobs, args.owners).await?;
    let enqueued = started.elapsed();
    enqueuing.close().await;

    let counted = Transactions::start(&url, &scratch.name).await?;
    let pool = db::connect(&url, concurrency as u32 + 8).await?;
    let mut settings = Settings {
        worker_concurrency: concurrency,
        ..settings.clone()
    };
    settings.queue.prefetch = args.prefetch;
    let done = Arc::new(Done {
        checkpoints: PgCheckpoints::new(pool.clone()),
        finishing: Finishing::for_concurrency(concurrency),
        count: AtomicUsize::new(0),
    });
    let mut consumer = consumer(&settings, "noop");
    // A no-op job has no graph: its claim records no node start.
    consumer.entry = None;
    let wake = Wake::listen(&pool, settings.queue.poll_interval);
    done.finishing.wake(wake.nudger());
    let backend = PlanBackend::new(pool.clone(), consumer, wake.nudger()).poll_with_strategy(wake);
    let worker = WorkerBuilder::new(unique_worker_name())
        .backend(backend)
        .data(done.clone())
        .concurrency(concurrency)
        .build(noop);
    let handle = tokio::spawn(worker.run());
    let elapsed = until_done(&done.count, args.jobs).await;
    handle.abort();
    let _ = handle.await;
    pool.close().await;
    let transactions = counted.since_start().await?;
    let finished = done.count.load(Ordering::Relaxed);
    println!(
        "bench=queue concurrency={concurrency} prefetch={} jobs={} owners={} owner_cap={} enqueue_jobs_per_s={:.0} process_jobs_per_s={:.0} done={finished} \
         transactions_per_job={:.3}",
        args.prefetch,
        args.jobs,
        args.owners,
        settings.queue.owner_max_running,
        args.jobs as f64 / enqueued.as_secs_f64(),
        finished as f64 / elapsed.as_secs_f64(),
        transactions as f64 / finished.max(1) as f64,
    );
    Ok(())
}

/// `count` minimal plans with their `queued` events, dealt to the owners.
async fn enqueue(pool: &PgPool, count: usize, owners: usize) -> anyhow::Result<()> {
    let mut i = 0;
    while i < count {
        let n = ENQUEUE_BATCH.min(count - i);
        let ids: Vec<Uuid> = (0..n).map(|_| submissions::new_plan_id()).collect();
        let owners: Vec<String> = (i..i + n).map(|k| owner(k, owners)).collect();
        sqlx::query(
            "WITH plan AS (
                INSERT INTO plans (id, owner, request) SELECT id, owner, '{}'::jsonb FROM unnest($1::uuid[], $2::text[]) AS j(id, owner)
                RETURNING id
             )
             INSERT INTO plan_events (plan_id, kind) SELECT id, $3 FROM plan",
        )
        .bind(&ids)
        .bind(&owners)
        .bind(EventKind::Queued)
        .execute(pool)
        .await?;
        i += n;
    }
    Ok(())
}
