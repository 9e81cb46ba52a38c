//! `planner eval FILE`: how faithfully the planner answers a set of requests. Each line of
//! the file (JSONL) is a request and what its answer must honour:
//!
//! ```json
//! {"name": "zh-range", "request": {"query": "12月5日到8日去厦门，两个人"},
//!  "expect": {"destination": "xiamen", "days": 4, "travelers": 2, "start": "12-05", "language": "zh"}}
//! ```
//!
//! `expect` may name `destination` (city id), `days`, `travelers`, `budget` (the trip's
//! total), `currency`, `language`, `start` (`MM-DD`, its next occurrence, or `+N` days from
//! today), or `refused` (the field a refused request must name). Every case runs through the
//! whole path — validation, the queue, the graph with the configured sources (embedded
//! without keys) — in a scratch database. Printed per case and in total: delivered, the
//! checker's verdict re-run on the delivered plan, and fidelity field by field. Any miss
//! makes the exit code 1.

use std::{
    path::PathBuf,
    process::ExitCode,
    time::{Duration, Instant},
};

use anyhow::Context;
use chrono::{Datelike, NaiveDate};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use crate::{
    catalog,
    config::Settings,
    db,
    graph::{NodeContext, Outputs, node_of, output_of},
    queue::{executor::Executor, worker},
    store::{
        checkpoints, plans,
        states::PlanStatus,
        submissions::{self, Created, NewPlan},
    },
    travel::{
        itinerary::Itinerary,
        nodes,
        request::{self, SubmitRequest},
        sources::Sources,
    },
};

#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// The cases, one JSON object a line.
    pub file: PathBuf,
    /// Plans in flight in the worker.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Keep the scratch database afterwards, to study its plans.
    #[arg(long)]
    pub keep_database: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    #[serde(default)]
    name: Option<String>,
    request: Value,
    #[serde(default)]
    expect: Expect,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    destination: Option<String>,
    days: Option<usize>,
    travelers: Option<u64>,
    budget: Option<f64>,
    currency: Option<String>,
    language: Option<String>,
    start: Option<String>,
    refused: Option<String>,
}

/// What became of one case.
#[derive(Default)]
struct Verdict {
    label: String,
    delivered: bool,
    checker: Option<bool>,
    /// (field, honoured, what was expected, what came)
    fields: Vec<(&'static str, bool, String, String)>,
    problems: Vec<String>,
}

impl Verdict {
    fn missed(&self) -> bool {
        !self.problems.is_empty() || self.checker == Some(false) || self.fields.iter().any(|f| !f.1)
    }
}

/// How long every plan together may take.
const PATIENCE: Duration = Duration::from_secs(600);

pub async fn run(settings: Settings, args: EvalArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    let cases = read_cases(&text)?;
    let connections = (args.concurrency as u32 + 8).max(settings.db_pool_max);
    let scratch = db::Scratch::create(&settings.database_url, "planner_eval", connections).await?;
    println!(
        "eval {}: {} cases, database {}",
        args.file.display(),
        cases.len(),
        scratch.name
    );
    let result = evaluate(&scratch.pool, &settings, &args, &cases).await;
    scratch.finish(args.keep_database).await?;
    let verdicts = result?;
    Ok(report(&verdicts))
}

fn read_cases(text: &str) -> anyhow::Result<Vec<Case>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with("//"))
        .map(|(n, line)| serde_json::from_str(line).with_context(|| format!("line {}: not a case", n + 1)))
        .collect()
}

async fn evaluate(
    pool: &sqlx::PgPool,
    settings: &Settings,
    args: &EvalArgs,
    cases: &[Case],
) -> anyhow::Result<Vec<Verdict>> {
    let today = chrono::Local::now().date_naive();
    let mut verdicts = Vec::new();
    let mut planned: Vec<(usize, Uuid)> = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let label = case.name.clone().unwrap_or_else(|| format!("case {}", i + 1));
        let mut verdict = Verdict {
            label,
            ..Verdict::default()
        };
        match submit(pool, settings, case, today).await? {
            Submitted::Planned(id) => planned.push((i, id)),
            Submitted::Refused(field) => match &case.expect.refused {
                Some(expected) => verdict
                    .fields
                    .push(("refused", *expected == field, expected.clone(), field)),
                None => verdict.problems.push(format!("refused, naming {field}")),
            },
        }
        verdicts.push(verdict);
    }
    let executor = Executor::new(pool.clone(), settings, Sources::from_settings(settings, pool)?);
    let worker_settings = Settings {
        worker_concurrency: args.concurrency,
        ..settings.clone()
    };
    let (task, stop) = worker::spawn_in_process(pool.clone(), executor, worker_settings);
    let waited = wait_all(pool, &planned).await;
    let _ = stop.send(());
    let _ = task.await;
    waited?;
    for (i, id) in planned {
        judge(pool, id, &cases[i].expect, today, &mut verdicts[i]).await?;
    }
    Ok(verdicts)
}

enum Submitted {
    Planned(Uuid),
    /// Refused as the API would, naming the field.
    Refused(String),
}

async fn submit(pool: &sqlx::PgPool, settings: &Settings, case: &Case, today: NaiveDate) -> anyhow::Result<Submitted> {
    let input: SubmitRequest = match serde_json::from_value(case.request.clone()) {
        Ok(input) => input,
        Err(e) => return Ok(Submitted::Refused(format!("body ({e})"))),
    };
    if let Err(e) = request::resolve(&input, today) {
        return Ok(Submitted::Refused(e.field));
    }
    let new = NewPlan {
        owner: "eval",
        trace_context: None,
        idempotency_key: None,
        request: &case.request,
        max_attempts: settings.plan_max_attempts,
        not_before: None,
    };
    match submissions::create(pool, new).await? {
        Created::New(plan) | Created::Existing(plan) | Created::KeyReused(plan) => Ok(Submitted::Planned(plan.id)),
    }
}

async fn wait_all(pool: &sqlx::PgPool, planned: &[(usize, Uuid)]) -> anyhow::Result<()> {
    let started = Instant::now();
    for (_, id) in planned {
        loop {
            let plan = plans::get(pool, *id).await?.context("a plan disappeared")?;
            if plan.status.is_terminal() || plan.status == PlanStatus::AwaitingApproval {
                break;
            }
            anyhow::ensure!(started.elapsed() < PATIENCE, "plans still running after {PATIENCE:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

/// Delivery, the checker re-run on the plan, and each expected field.
async fn judge(
    pool: &sqlx::PgPool,
    id: Uuid,
    expect: &Expect,
    today: NaiveDate,
    v: &mut Verdict,
) -> anyhow::Result<()> {
    let plan = plans::get(pool, id).await?.context("a plan disappeared")?;
    if plan.status != PlanStatus::Succeeded {
        let why = plan
            .error
            .as_ref()
            .and_then(|e| e["message"].as_str())
            .unwrap_or("")
            .to_string();
        v.problems.push(format!("{}: {why}", plan.status));
        return Ok(());
    }
    v.delivered = true;
    let result = plan.result.context("a succeeded plan has a result")?;
    let itinerary: Itinerary = serde_json::from_value(result.clone())?;
    let mut outputs = Outputs::default();
    for (key, output) in checkpoints::in_order(pool, id).await? {
        outputs.insert(node_of(&key).to_string(), output_of(&output));
    }
    let ctx = NodeContext {
        plan_id: id,
        run: plan.runs,
        input: std::sync::Arc::new(Value::Null),
        visit: 1,
        outputs: std::sync::Arc::new(outputs),
    };
    match nodes::recheck(&ctx, &itinerary) {
        Ok(violations) => v.checker = Some(violations.is_empty()),
        Err(e) => v.problems.push(format!("cannot re-check: {e}")),
    }
    fidelity(&itinerary, expect, today, v);
    Ok(())
}

fn fidelity(plan: &Itinerary, expect: &Expect, today: NaiveDate, v: &mut Verdict) {
    let mut field = |name: &'static str, expected: Option<String>, got: String| {
        if let Some(expected) = expected {
            v.fields.push((name, expected == got, expected, got));
        }
    };
    // The destination is named in the plan's language.
    let city_name = |id: &String| {
        let named = |c: &crate::domain::City| {
            if plan.language.is_english() {
                c.name_en.clone()
            } else {
                c.name.clone()
            }
        };
        catalog::city(id).map_or_else(|| id.clone(), named)
    };
    field(
        "destination",
        expect.destination.as_ref().map(city_name),
        plan.destination.clone(),
    );
    field("days", expect.days.map(|d| d.to_string()), plan.days.len().to_string());
    field(
        "travelers",
        expect.travelers.map(|t| t.to_string()),
        plan.travelers.to_string(),
    );
    field(
        "budget",
        expect.budget.map(|b| format!("{b:.0}")),
        plan.budget.map_or("none".into(), |b| format!("{b:.0}")),
    );
    field("currency", expect.currency.clone(), plan.currency.clone());
    let language = serde_json::to_value(plan.language)
        .ok()
        .and_then(|l| l.as_str().map(str::to_owned));
    field("language", expect.language.clone(), language.unwrap_or_default());
    field(
        "start",
        expect.start.as_ref().map(|s| expected_start(s, today)),
        plan.start_date.clone(),
    );
}

/// `MM-DD` at its next occurrence, or `+N` days from today, as `YYYY-MM-DD`.
fn expected_start(raw: &str, today: NaiveDate) -> String {
    if let Some(days) = raw.strip_prefix('+').and_then(|n| n.parse::<i64>().ok()) {
        return (today + chrono::Duration::days(days)).to_string();
    }
    let date = raw.split_once('-').and_then(|(m, d)| {
        let (m, d) = (m.parse().ok()?, d.parse().ok()?);
        let this_year = NaiveDate::from_ymd_opt(today.year(), m, d)?;
        if this_year >= today {
            Some(this_year)
        } else {
            NaiveDate::from_ymd_opt(today.year() + 1, m, d)
        }
    });
    date.map_or_else(|| format!("(bad start {raw:?})"), |d| d.to_string())
}

fn report(verdicts: &[Verdict]) -> ExitCode {
    let mut misses = 0;
    for v in verdicts {
        let miss = v.missed();
        misses += usize::from(miss);
        let fields: Vec<String> = v
            .fields
            .iter()
            .filter(|f| !f.1)
            .map(|(name, _, expected, got)| format!("{name} {got} ≠ {expected}"))
            .collect();
        let checker = match v.checker {
            Some(true) => "checker ✓",
            Some(false) => "checker ✗",
            None => "",
        };
        let honoured = v.fields.iter().filter(|f| f.1).count();
        println!(
            "{} {:<24} {} {checker} fidelity {honoured}/{} {}{}",
            if miss { "MISS" } else { "ok  " },
            v.label,
            if v.delivered { "delivered" } else { "not delivered" },
            v.fields.len(),
            fields.join(", "),
            v.problems.join("; ")
        );
    }
    let expected_plans = verdicts
        .iter()
        .filter(|v| !v.fields.iter().any(|f| f.0 == "refused"))
        .count();
    let delivered = verdicts.iter().filter(|v| v.delivered).count();
    let checked = verdicts.iter().filter(|v| v.checker == Some(true)).count();
    let all_fields: usize = verdicts.iter().map(|v| v.fields.len()).sum();
    let honoured: usize = verdicts.iter().map(|v| v.fields.iter().filter(|f| f.1).count()).sum();
    println!(
        "total: {} cases; delivered {delivered}/{expected_plans}; checker passed {checked}/{delivered}; fidelity {honoured}/{all_fields} fields; {misses} miss(es)",
        verdicts.len()
    );
    if misses == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
