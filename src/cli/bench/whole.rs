//! Plans through the whole path: submitted (the plan row and its event in one statement),
//! claimed, the planning graph on the embedded providers, finalized. Prints plans/s, the run
//! time percentiles and the transactions each plan cost from claim to success.

use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::PgPool;

use crate::{
    cli::bench::{
        args::BenchArgs,
        figures::{open_plans, owner, percentile},
        transactions::Transactions,
    },
    config::Settings,
    db,
    queue::{executor::Executor, worker},
    store::{
        states::PlanStatus,
        submissions::{self, NewPlan},
    },
    travel::sources::Sources,
};

const DESTINATIONS: [&str; 8] = ["杭州", "成都", "北京", "上海", "西安", "厦门", "Tokyo", "Singapore"];

pub async fn run(
    scratch: &db::Scratch,
    settings: &Settings,
    args: &BenchArgs,
    concurrency: usize,
) -> anyhow::Result<()> {
    let url = scratch.url();
    scratch.pool.close().await;
    let submitting = db::connect(&url, 8).await?;
    let started = Instant::now();
    submit(&submitting, args.plans, args.owners).await?;
    let inserted = started.elapsed();
    submitting.close().await;

    let counted = Transactions::start(&url, &scratch.name).await?;
    let pool = db::connect(&url, concurrency as u32 + 8).await?;
    let settings = Settings {
        worker_concurrency: concurrency,
        ..settings.clone()
    };
    let executor = Executor::new(pool.clone(), &settings, Sources::embedded(&settings));
    let (worker, stop) = worker::spawn_in_process(pool.clone(), executor, settings);
    let run_started = Instant::now();
    let mut probes = 0;
    let watching = db::connect(&url, 1).await?;
    while open_plans(&watching).await? > 0 {
        probes += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ran = run_started.elapsed();
    let _ = stop.send(());
    let _ = worker.await;
    pool.close().await;
    let (succeeded, mut seconds) = outcome(&watching).await?;
    watching.close().await;
    // The probes and the outcome read are not the plans' transactions.
    let transactions = counted.since_start().await? - probes - 2;
    seconds.sort_by(f64::total_cmp);
    println!(
        "bench=whole concurrency={concurrency} plans={} owners={} submit_per_s={:.0} plans_per_s={:.1} succeeded={succeeded} \
         run_p50_ms={:.0} run_p95_ms={:.0} transactions_per_plan={:.2}",
        args.plans,
        args.owners,
        args.plans as f64 / inserted.as_secs_f64(),
        args.plans as f64 / ran.as_secs_f64(),
        percentile(&seconds, 50.0) * 1000.0,
        percentile(&seconds, 95.0) * 1000.0,
        transactions as f64 / args.plans.max(1) as f64,
    );
    Ok(())
}

/// `count` plans over a few destinations, sizes and parties, dealt to the owners.
async fn submit(pool: &PgPool, count: usize, owners: usize) -> anyhow::Result<()> {
    let start_date = (chrono::Local::now().date_naive() + chrono::Duration::days(10)).to_string();
    for i in 0..count {
        let request = json!({
            "destination": DESTINATIONS[i % DESTINATIONS.len()],
            "start_date": start_date,
            "days": 2 + (i % 4),
            "travelers": 1 + (i % 3),
            "budget": {"amount": 20000, "currency": "CNY"},
        });
        let owner = owner(i, owners);
        let new = NewPlan {
            trace_context: None,
            owner: &owner,
            idempotency_key: None,
            request: &request,
            max_attempts: 5,
            not_before: None,
        };
        submissions::create(pool, new).await?;
    }
    Ok(())
}

/// Plans succeeded, and every plan's run time in seconds.
async fn outcome(pool: &PgPool) -> Result<(i64, Vec<f64>), sqlx::Error> {
    let rows: Vec<(PlanStatus, Option<f64>)> =
        sqlx::query_as("SELECT status, extract(epoch FROM finished_at - started_at)::float8 FROM plans")
            .fetch_all(pool)
            .await?;
    let succeeded = rows.iter().filter(|(s, _)| *s == PlanStatus::Succeeded).count() as i64;
    Ok((succeeded, rows.into_iter().filter_map(|(_, s)| s).collect()))
}
