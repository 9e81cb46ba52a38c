//! Submissions and plan reads through the API, as clients make them: the api runs in this
//! process on a loopback port, `clients` connections (kept alive) send requests back to back
//! for the given seconds. Submitting writes the plan row and its event (and wakes the
//! workers) in one statement; no worker runs, so the plans read are queued ones, whose view
//! says why they wait. Prints requests/s and latency percentiles.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use serde_json::json;
use uuid::Uuid;

use crate::{
    api::{self, AppState},
    cli::bench::{
        args::{BenchArgs, Section},
        figures::percentile,
    },
    config::Settings,
    db,
};

/// What one client saw: each answer's latency in milliseconds, and the failures.
#[derive(Default)]
struct Seen {
    latencies: Vec<f64>,
    failures: usize,
    ids: Vec<Uuid>,
}

pub async fn run(scratch: &db::Scratch, settings: &Settings, args: &BenchArgs) -> anyhow::Result<()> {
    let state = AppState::new(scratch.pool.clone(), Arc::new(settings.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(api::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    let seconds = Duration::from_secs(args.http_seconds.max(1));
    let submit_to = base.clone();
    let submitted = load(args.submit_clients, seconds, move |client, _| {
        submit(client, submit_to.clone())
    })
    .await;
    if args.only.contains(&Section::Submit) {
        report("submit", args.submit_clients, seconds, &submitted);
    }
    if args.only.contains(&Section::Poll) {
        let ids: Arc<Vec<Uuid>> = Arc::new(submitted.iter().flat_map(|s| s.ids.iter().copied()).collect());
        anyhow::ensure!(!ids.is_empty(), "no plan was submitted, so none can be read");
        let read = load(args.poll_clients, seconds, move |client, n| {
            let id = ids[n % ids.len()];
            read(client, format!("{base}/v1/plans/{id}"))
        })
        .await;
        report("poll", args.poll_clients, seconds, &read);
    }
    let _ = stop.send(());
    let _ = server.await;
    Ok(())
}

/// Runs `clients` loops of `request` for `seconds`; each client has its own connection.
async fn load<F, Fut>(clients: usize, seconds: Duration, request: F) -> Vec<Seen>
where
    F: Fn(reqwest::Client, usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<Option<Uuid>, String>> + Send,
{
    let deadline = Instant::now() + seconds;
    let tasks: Vec<_> = (0..clients.max(1))
        .map(|c| {
            let request = request.clone();
            tokio::spawn(async move {
                let client = reqwest::Client::builder()
                    .pool_max_idle_per_host(1)
                    .build()
                    .unwrap_or_default();
                let mut seen = Seen::default();
                let mut n = c;
                while Instant::now() < deadline {
                    let started = Instant::now();
                    match request(client.clone(), n).await {
                        Ok(id) => {
                            seen.latencies.push(started.elapsed().as_secs_f64() * 1000.0);
                            seen.ids.extend(id);
                        }
                        Err(e) => {
                            if seen.failures == 0 {
                                eprintln!("bench: request failed: {e}");
                            }
                            seen.failures += 1;
                        }
                    }
                    n += clients;
                }
                seen
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        if let Ok(seen) = task.await {
            all.push(seen);
        }
    }
    all
}

async fn submit(client: reqwest::Client, base: String) -> Result<Option<Uuid>, String> {
    let start_date = (chrono::Local::now().date_naive() + chrono::Duration::days(10)).to_string();
    let body = json!({"destination": "杭州", "start_date": start_date, "days": 3, "travelers": 2});
    let response = client
        .post(format!("{base}/v1/plans"))
        .json(&body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if response.status() != reqwest::StatusCode::ACCEPTED {
        return Err(format!("submit answered {}", response.status()));
    }
    let view: serde_json::Value = response.json().await.map_err(|e| e.to_string())?;
    Ok(view["id"].as_str().and_then(|id| id.parse().ok()))
}

async fn read(client: reqwest::Client, url: String) -> Result<Option<Uuid>, String> {
    let response = client.get(url).send().await.map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("read answered {}", response.status()));
    }
    response.bytes().await.map_err(|e| e.to_string())?;
    Ok(None)
}

fn report(name: &str, clients: usize, seconds: Duration, seen: &[Seen]) {
    let mut latencies: Vec<f64> = seen.iter().flat_map(|s| s.latencies.iter().copied()).collect();
    latencies.sort_by(f64::total_cmp);
    let failures: usize = seen.iter().map(|s| s.failures).sum();
    println!(
        "bench={name} clients={clients} seconds={} requests={} requests_per_s={:.0} p50_ms={:.2} p99_ms={:.2} failures={failures}",
        seconds.as_secs(),
        latencies.len(),
        latencies.len() as f64 / seconds.as_secs_f64(),
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
    );
}
