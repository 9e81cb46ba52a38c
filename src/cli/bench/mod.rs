//! `planner bench`: throughput figures, printed, never asserted. Each section runs in a
//! scratch database of its own next to DATABASE_URL's, dropped afterwards:
//! - `whole`: plans through the whole path — submitted, claimed, the nine-node graph on the
//!   embedded providers, finalized — with the transactions each plan cost (`transactions`);
//! - `queue`: no-op jobs (minimal plans) through the queue core: claim, a handler that does
//!   nothing, the success written;
//! - `apalis`: the same no-op jobs through apalis-postgres, for reference;
//! - `submit` and `poll`: HTTP submissions and plan reads against the API (`http`);
//! - `memory`: a worker process's peak memory with many plans in flight on a slow LLM;
//! - `streams`: many live event streams on one api process: its memory, and each event's
//!   time from its commit to its arrival at the client.
//!
//! Every line is `bench=NAME key=value…`, for `scripts/bench-peers.sh` to read.

mod apalis_reference;
mod args;
mod figures;
mod http;
mod memory;
mod queue_core;
mod streams;
mod transactions;
mod whole;

pub use args::BenchArgs;
use args::Section;

use crate::{config::Settings, db};

pub async fn run(settings: Settings, args: BenchArgs) -> anyhow::Result<()> {
    println!(
        "# bench: {} plans, {} no-op jobs, concurrency {:?}, {} owners (cap {} running each), sections {:?}",
        args.plans, args.jobs, args.concurrency, args.owners, settings.queue.owner_max_running, args.only
    );
    for &concurrency in &args.concurrency {
        let concurrency = concurrency.max(1);
        if args.only.contains(&Section::Whole) {
            let scratch = scratch(&settings, "whole", concurrency).await?;
            let result = whole::run(&scratch, &settings, &args, concurrency).await;
            scratch.finish(args.keep_database).await?;
            result?;
        }
        if args.only.contains(&Section::Queue) {
            let scratch = scratch(&settings, "queue", concurrency).await?;
            let result = queue_core::run(&scratch, &settings, &args, concurrency).await;
            scratch.finish(args.keep_database).await?;
            result?;
        }
        if args.only.contains(&Section::Apalis) {
            let scratch = scratch(&settings, "apalis", concurrency).await?;
            let result = apalis_reference::run(&scratch, &settings, args.jobs, concurrency).await;
            scratch.finish(args.keep_database).await?;
            result?;
        }
    }
    if args.only.contains(&Section::Submit) || args.only.contains(&Section::Poll) {
        let scratch = scratch(&settings, "http", args.poll_clients.max(args.submit_clients)).await?;
        let result = http::run(&scratch, &settings, &args).await;
        scratch.finish(args.keep_database).await?;
        result?;
    }
    if args.only.contains(&Section::Memory) {
        let scratch = scratch(&settings, "memory", 8).await?;
        let result = memory::run(&scratch, &settings, &args).await;
        scratch.finish(args.keep_database).await?;
        result?;
    }
    if args.only.contains(&Section::Streams) {
        let scratch = scratch(&settings, "streams", 8).await?;
        let result = streams::run(&scratch, &args).await;
        scratch.finish(args.keep_database).await?;
        result?;
    }
    Ok(())
}

async fn scratch(settings: &Settings, section: &str, connections: usize) -> anyhow::Result<db::Scratch> {
    let prefix = format!("planner_bench_{section}_{connections}");
    let connections = (connections as u32 + 8).max(settings.db_pool_max);
    db::Scratch::create(&settings.database_url, &prefix, connections).await
}
