//! `planner plan "杭州3天2晚，预算3000元"`: submit to a running API (`--api URL`), or run
//! everything in this process against the database; follow progress with a bar; print the
//! itinerary as Markdown, or the plan as JSON with `--json`.

use std::{process::ExitCode, time::Duration};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use crate::{
    api::view::plan_view,
    config::Settings,
    db,
    queue::{executor::Executor, worker},
    store::{
        plans,
        states::PlanStatus,
        submissions::{self, Created, NewPlan},
    },
    travel::{request, sources::Sources},
};

#[derive(clap::Args)]
pub struct PlanArgs {
    /// The trip in your own words, e.g. "杭州3天2晚，预算3000元" or "3 days in Chengdu for 2".
    pub query: String,
    /// A running API, e.g. http://localhost:8080; without it everything runs in this process.
    #[arg(long)]
    pub api: Option<String>,
    /// Print the whole plan as JSON instead of the itinerary as Markdown.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(settings: Settings, args: PlanArgs) -> anyhow::Result<ExitCode> {
    let body = json!({ "query": args.query });
    let bar = ProgressBar::new(100);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos:>3}% {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let plan = match &args.api {
        Some(api) => via_api(api.trim_end_matches('/'), &body, &bar).await?,
        None => in_process(settings, &body, &bar).await?,
    };
    bar.finish_and_clear();
    let status = plan["status"].as_str().unwrap_or("unknown");
    let succeeded = status == PlanStatus::Succeeded.as_str();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
    } else if succeeded {
        let md = plan["result_markdown"].as_str().map(str::to_owned);
        match md {
            Some(md) => println!("{md}"),
            None => println!("{}", serde_json::to_string_pretty(&plan["result"])?),
        }
    }
    if !succeeded {
        let message = plan["error"]["message"].as_str().unwrap_or("no error recorded");
        eprintln!("plan {status}: {message}");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn show(bar: &ProgressBar, plan: &Value) {
    bar.set_position(plan["progress"]["percent"].as_u64().unwrap_or(0));
    let node = plan["progress"]["node"].as_str().unwrap_or("");
    bar.set_message(format!("{} {node}", plan["status"].as_str().unwrap_or("")));
}

async fn via_api(api: &str, body: &Value, bar: &ProgressBar) -> anyhow::Result<Value> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    let response = client
        .post(format!("{api}/v1/plans"))
        .json(body)
        .send()
        .await
        .with_context(|| format!("cannot reach {api}"))?;
    let status = response.status();
    let submitted: Value = response
        .json()
        .await
        .context("the API answered with something other than JSON")?;
    if !status.is_success() {
        bail!(
            "{}",
            submitted["error"]["message"]
                .as_str()
                .unwrap_or("the API refused the request")
        );
    }
    let id = submitted["id"]
        .as_str()
        .context("the API answered without a plan id")?
        .to_string();
    loop {
        let plan: Value = client.get(format!("{api}/v1/plans/{id}")).send().await?.json().await?;
        show(bar, &plan);
        let status = plan["status"].as_str().and_then(|s| s.parse::<PlanStatus>().ok());
        if status.is_some_and(PlanStatus::is_terminal) {
            let mut plan = plan;
            if status == Some(PlanStatus::Succeeded) {
                let md = client
                    .get(format!("{api}/v1/plans/{id}/itinerary.md"))
                    .send()
                    .await?
                    .text()
                    .await?;
                plan["result_markdown"] = Value::String(md);
            }
            return Ok(plan);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn in_process(settings: Settings, body: &Value, bar: &ProgressBar) -> anyhow::Result<Value> {
    let input: request::SubmitRequest = serde_json::from_value(body.clone())?;
    if let Err(e) = request::resolve(&input, chrono::Local::now().date_naive()) {
        bail!("{} ({})", e.message, e.field);
    }
    let pool = db::open(&settings.database_url, settings.db_pool_max).await?;
    let created = submissions::create(
        &pool,
        NewPlan {
            trace_context: None,
            owner: "cli",
            idempotency_key: None,
            request: body,
            max_attempts: settings.plan_max_attempts,
            not_before: None,
        },
    )
    .await?;
    let Created::New(plan) = created else {
        bail!("the plan could not be created")
    };
    let executor = Executor::new(pool.clone(), &settings, Sources::embedded(&settings));
    let worker_settings = Settings {
        worker_concurrency: 2,
        shutdown_grace: Duration::from_secs(5),
        ..settings.clone()
    };
    let (worker, stop_tx) = worker::spawn_in_process(pool.clone(), executor, worker_settings);
    let finished = loop {
        let row = plans::get(&pool, plan.id).await?.context("the plan disappeared")?;
        let done = plans::done_nodes(&pool, plan.id).await?;
        let markdown = row.result_markdown.clone();
        let terminal = row.status.is_terminal();
        let mut view = serde_json::to_value(plan_view(row, done))?;
        show(bar, &view);
        if terminal {
            view["result_markdown"] = markdown.map(Value::String).unwrap_or(Value::Null);
            break view;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    };
    let _ = stop_tx.send(());
    let _ = worker.await;
    Ok(finished)
}
