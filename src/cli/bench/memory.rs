//! Memory with many plans in flight: one `planner worker` process (this binary) runs `plans`
//! plans at once while every LLM call takes `llm_delay` on a loopback stand-in of the OpenAI
//! chat API. Prints the worker's peak resident memory (VmHWM, read from /proc) and the time
//! from the worker's start until every plan is done.
//!
//! The stand-in answers what a real model would: the reading of the traveller's text, and
//! the draft the composer makes for that request — learnt from one warm-up plan run on the
//! embedded defaults — so that every plan is accepted at its first answer, with no repair
//! round and no fallback. Each plan thus waits for two calls (understand, draft).

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context as _;
use axum::{Json, Router, extract::State, routing::post};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    cli::bench::{
        args::BenchArgs,
        figures::{open_plans, spawn_planner, status_kib},
    },
    config::Settings,
    db,
    queue::{executor::Executor, worker},
    store::{
        plans,
        states::PlanStatus,
        submissions::{self, Created, NewPlan},
    },
    travel::sources::Sources,
};

const OWNER: &str = "bench-memory";
const API_KEY: &str = "bench-llm-key";

/// What the stand-in model says, and how many calls it holds at once.
struct Model {
    delay: Duration,
    reading: Value,
    draft: Value,
    in_flight: AtomicUsize,
    peak_in_flight: AtomicUsize,
    calls: AtomicUsize,
}

pub async fn run(scratch: &db::Scratch, settings: &Settings, args: &BenchArgs) -> anyhow::Result<()> {
    let url = scratch.url();
    let start_date = (chrono::Local::now().date_naive() + chrono::Days::new(20)).to_string();
    let request = json!({
        "query": format!("杭州3天，{start_date}出发，两个人，预算6000元，喜欢历史"),
    });
    let draft = warm_up(&scratch.pool, settings, &request).await?;
    let model = Arc::new(Model {
        delay: Duration::from_millis(args.llm_delay_ms),
        reading: json!({
            "destination": "hangzhou", "start_date": start_date, "days": 3, "travelers": 2,
            "budget_amount": 6000, "budget_currency": "CNY", "interests": ["history"], "pace": null,
        }),
        draft,
        in_flight: AtomicUsize::new(0),
        peak_in_flight: AtomicUsize::new(0),
        calls: AtomicUsize::new(0),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let llm_url = format!("http://{}/v1", listener.local_addr()?);
    let router = Router::new()
        .route("/v1/chat/completions", post(answer))
        .with_state(model.clone());
    let server = tokio::spawn(async move { axum::serve(listener, router).await });

    for _ in 0..args.memory_plans {
        submit(&scratch.pool, &request).await?;
    }
    let plans = args.memory_plans.to_string();
    let env = [
        ("WORKER_CONCURRENCY", plans.clone()),
        ("OWNER_MAX_RUNNING", plans),
        ("WORKER_ADDR", "127.0.0.1:0".to_string()),
        ("OPENAI_BASE_URL", llm_url.clone()),
        ("OPENAI_API_KEY", API_KEY.to_string()),
        // The default of 50 calls/s per upstream would pace 2,000 calls over 40 s.
        ("RESILIENCE_LLM_RATE_PER_SEC", (4 * args.memory_plans).to_string()),
    ];
    let mut child = spawn_planner("worker", &url, &env).context("starting the worker")?;
    let pid = child.id().context("the worker has no pid")?;
    let started = Instant::now();
    let mut peak_rss_kib = 0;
    let finished = loop {
        peak_rss_kib = peak_rss_kib.max(status_kib(pid, "VmHWM:").unwrap_or(0));
        if open_plans(&scratch.pool).await? == 0 {
            break Some(started.elapsed());
        }
        if started.elapsed() > Duration::from_secs(120) || child.try_wait()?.is_some() {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    peak_rss_kib = peak_rss_kib.max(status_kib(pid, "VmHWM:").unwrap_or(0));
    let _ = child.start_kill();
    let _ = child.wait().await;
    server.abort();
    let succeeded = succeeded(&scratch.pool).await?;
    println!(
        "bench=memory plans={} llm_delay_ms={} peak_rss_mib={:.1} all_done_s={} succeeded={succeeded} \
         llm_calls={} llm_peak_in_flight={}",
        args.memory_plans,
        args.llm_delay_ms,
        peak_rss_kib as f64 / 1024.0,
        finished.map_or_else(|| "unfinished".to_string(), |d| format!("{:.2}", d.as_secs_f64())),
        model.calls.load(Ordering::Relaxed),
        model.peak_in_flight.load(Ordering::Relaxed),
    );
    Ok(())
}

/// One plan of the same request on the embedded defaults: its draft, as the model's answer.
async fn warm_up(pool: &PgPool, settings: &Settings, request: &Value) -> anyhow::Result<Value> {
    let id = submit(pool, request).await?;
    let settings = Settings {
        worker_concurrency: 1,
        ..settings.clone()
    };
    let executor = Executor::new(pool.clone(), &settings, Sources::embedded(&settings));
    let (worker, stop) = worker::spawn_in_process(pool.clone(), executor, settings);
    let started = Instant::now();
    while open_plans(pool).await? > 0 && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(());
    let _ = worker.await;
    let result: Option<Value> = sqlx::query_scalar("SELECT result FROM plans WHERE id = $1 AND status = $2")
        .bind(id)
        .bind(PlanStatus::Succeeded)
        .fetch_one(pool)
        .await?;
    sqlx::query("DELETE FROM plans WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    plans::forget_deleted(pool, &[id]).await?;
    let result = result.context("the warm-up plan did not succeed")?;
    Ok(draft_of(&result))
}

/// The model's draft (`itinerary_selection`) that reproduces a composed plan.
fn draft_of(plan: &Value) -> Value {
    let days = plan["days"].as_array().cloned().unwrap_or_default();
    let hotel = days
        .first()
        .map(|d| d["lodging"]["place_id"].clone())
        .unwrap_or(Value::Null);
    let days: Vec<Value> = days
        .iter()
        .map(|day| {
            let stops: Vec<Value> = day["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|item| {
                    let meal = match item["kind"].as_str()? {
                        "attraction" => Value::Null,
                        "meal" if item["start"].as_str()? < "15:00" => json!("lunch"),
                        "meal" => json!("dinner"),
                        _ => return None,
                    };
                    Some(json!({"place_id": item["place_id"], "meal": meal}))
                })
                .collect();
            json!({"date": day["date"], "stops": stops})
        })
        .collect();
    json!({"hotel_id": hotel, "transport": "taxi", "days": days, "tips": ["早上人少，开门就去。"]})
}

async fn answer(State(model): State<Arc<Model>>, Json(request): Json<Value>) -> Json<Value> {
    let now = model.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
    model.peak_in_flight.fetch_max(now, Ordering::Relaxed);
    model.calls.fetch_add(1, Ordering::Relaxed);
    tokio::time::sleep(model.delay).await;
    model.in_flight.fetch_sub(1, Ordering::Relaxed);
    let content = match request["response_format"]["json_schema"]["name"].as_str() {
        Some("trip_request") => &model.reading,
        _ => &model.draft,
    };
    Json(json!({
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": chrono::Utc::now().timestamp(),
        "model": request["model"],
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content.to_string(), "refusal": null},
            "logprobs": null,
            "finish_reason": "stop",
        }],
        "usage": {"prompt_tokens": 900, "completion_tokens": 120, "total_tokens": 1020},
    }))
}

async fn submit(pool: &PgPool, request: &Value) -> anyhow::Result<Uuid> {
    let new = NewPlan {
        trace_context: None,
        owner: OWNER,
        idempotency_key: None,
        request,
        max_attempts: 5,
        not_before: None,
    };
    match submissions::create(pool, new).await? {
        Created::New(row) | Created::Existing(row) | Created::KeyReused(row) => Ok(row.id),
    }
}

async fn succeeded(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM plans WHERE status = $1")
        .bind(PlanStatus::Succeeded)
        .fetch_one(pool)
        .await
}
