//! `streams`: many live event streams held open on one `planner api` process. Opens
//! `--streams` SSE streams, one per queued plan, then writes timeline events to those plans
//! (one per transaction, from a few writers) and times each from its commit to its arrival at
//! the client. Prints the api process's memory idle and with every stream open, and the
//! latency percentiles. No worker runs: the events are written by the bench itself.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::Context as _;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    cli::bench::{
        args::BenchArgs,
        figures::{percentile, spawn_planner, status_kib},
    },
    db,
    store::submissions::{self, Created, NewPlan},
};

/// Rounds of events: each round writes one event to every streamed plan.
const ROUNDS: usize = 3;
/// Concurrent writers of events.
const WRITERS: usize = 4;

/// When each event id arrived, and at how many clients.
type Arrivals = Arc<Mutex<HashMap<i64, Instant>>>;

pub async fn run(scratch: &db::Scratch, args: &BenchArgs) -> anyhow::Result<()> {
    let streams = args.streams.max(1);
    let mut ids = Vec::with_capacity(streams);
    let request = json!({"destination": "杭州", "days": 2});
    for _ in 0..streams {
        ids.push(queued_plan(&scratch.pool, &request).await?);
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = spawn_planner("api", &scratch.url(), &[("API_ADDR", addr.clone())]).context("starting the api")?;
    let pid = child.id().context("the api has no pid")?;
    let base = format!("http://{addr}");
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build()?;
    wait_ready(&client, &base).await?;
    let idle_kib = status_kib(pid, "VmRSS:").unwrap_or(0);

    let arrivals: Arrivals = Arc::new(Mutex::new(HashMap::new()));
    let mut readers = Vec::with_capacity(streams);
    for id in &ids {
        let response = client
            .get(format!("{base}/v1/plans/{id}/events"))
            .send()
            .await
            .context("opening a stream")?;
        readers.push(tokio::spawn(read_stream(response, arrivals.clone())));
    }
    // Every stream has replayed its `queued` event: all are open and waiting.
    let opened = Instant::now();
    while arrivals_len(&arrivals) < streams && opened.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let replayed = arrivals_len(&arrivals);
    let open_kib = status_kib(pid, "VmRSS:").unwrap_or(0);

    let committed: Arc<Mutex<HashMap<i64, Instant>>> = Arc::new(Mutex::new(HashMap::new()));
    let written = Instant::now();
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let mine: Vec<Uuid> = ids.iter().skip(w).step_by(WRITERS).copied().collect();
        let (pool, committed) = (scratch.pool.clone(), committed.clone());
        writers.push(tokio::spawn(async move {
            for _ in 0..ROUNDS {
                for id in &mine {
                    let event: i64 = sqlx::query_scalar(
                        "INSERT INTO plan_events (plan_id, kind, node) VALUES ($1, 'node_started', 'weather') RETURNING id",
                    )
                    .bind(id)
                    .fetch_one(&pool)
                    .await?;
                    lock(&committed).insert(event, Instant::now());
                }
            }
            Ok::<_, sqlx::Error>(())
        }));
    }
    for writer in writers {
        writer.await??;
    }
    let write_secs = written.elapsed().as_secs_f64();
    let expected = replayed + streams * ROUNDS;
    let waited = Instant::now();
    while arrivals_len(&arrivals) < expected && waited.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let peak_kib = status_kib(pid, "VmHWM:").unwrap_or(0);
    for reader in &readers {
        reader.abort();
    }
    let _ = child.start_kill();
    let _ = child.wait().await;

    let committed = lock(&committed).clone();
    let arrived = lock(&arrivals).clone();
    let mut latencies: Vec<f64> = committed
        .iter()
        .filter_map(|(id, at)| {
            arrived
                .get(id)
                .map(|got| got.saturating_duration_since(*at).as_secs_f64() * 1000.0)
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let lost = committed.len() - latencies.len();
    println!(
        "bench=streams streams={streams} replayed={replayed} events={} write_events_per_s={:.0} \
         rss_idle_mib={:.1} rss_open_mib={:.1} peak_rss_mib={:.1} per_stream_kib={:.1} \
         latency_p50_ms={:.1} latency_p99_ms={:.1} latency_max_ms={:.1} lost={lost}",
        committed.len(),
        committed.len() as f64 / write_secs,
        idle_kib as f64 / 1024.0,
        open_kib as f64 / 1024.0,
        peak_kib as f64 / 1024.0,
        open_kib.saturating_sub(idle_kib) as f64 / streams as f64,
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or(0.0),
    );
    Ok(())
}

async fn queued_plan(pool: &PgPool, request: &serde_json::Value) -> anyhow::Result<Uuid> {
    let new = NewPlan {
        trace_context: None,
        owner: "bench-streams",
        idempotency_key: None,
        request,
        max_attempts: 5,
        not_before: None,
    };
    match submissions::create(pool, new).await? {
        Created::New(row) | Created::Existing(row) | Created::KeyReused(row) => Ok(row.id),
    }
}

async fn wait_ready(client: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        if let Ok(r) = client.get(format!("{base}/ready")).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(30),
            "the api never became ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Records the arrival of every event id on one stream until it ends or is aborted.
async fn read_stream(mut response: reqwest::Response, arrivals: Arrivals) {
    let mut pending = String::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let now = Instant::now();
        pending.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = pending.find("\n\n") {
            let block: String = pending.drain(..end + 2).collect();
            if let Some(id) = block
                .lines()
                .find_map(|l| l.strip_prefix("id:"))
                .and_then(|v| v.trim().parse().ok())
            {
                lock(&arrivals).entry(id).or_insert(now);
            }
        }
    }
}

fn arrivals_len(arrivals: &Arrivals) -> usize {
    lock(arrivals).len()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
