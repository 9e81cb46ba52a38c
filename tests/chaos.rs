//! Chaos: 300 plans, 3 worker processes, one SIGKILLed about every 2 s and restarted, and one
//! PostgreSQL restart in the middle. Afterwards every plan is terminal, none is lost, none is
//! finalized twice, and no checkpointed node ran more than once per crash. Prints the figures.
//!
//! It restarts the whole PostgreSQL cluster, so it lives alone in this test binary (cargo runs
//! test binaries one after another) and needs to run as a user allowed to `pg_ctlcluster`.

mod common;

use std::{
    collections::HashMap,
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};

use common::{Proc, call, database_url, in_days, migrated};
use planner::store::submissions::{self, Created, NewPlan};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

const PLANS: usize = 300;
const CITIES: [&str; 8] = ["北京", "上海", "杭州", "成都", "西安", "厦门", "Tokyo", "Bangkok"];

fn restart_postgres() -> std::process::ExitStatus {
    let version = std::fs::read_dir("/etc/postgresql")
        .ok()
        .and_then(|d| d.filter_map(|e| e.ok()?.file_name().into_string().ok()).max())
        .unwrap_or_else(|| "15".into());
    Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", &version, "main", "restart"])
        .status()
        .expect("pg_ctlcluster")
}

/// A query that waits out the database restart.
async fn retrying<T, F, Fut>(mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    let start = Instant::now();
    loop {
        match f().await {
            Ok(v) => return v,
            Err(e) => {
                assert!(
                    start.elapsed() < Duration::from_secs(60),
                    "database never came back: {e}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

#[sqlx::test(migrations = false)]
async fn chaos_kills_and_a_database_restart_lose_nothing(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    let mut ids = Vec::new();
    for i in 0..PLANS {
        let request = json!({"destination": CITIES[i % CITIES.len()], "start_date": in_days(3 + (i % 20) as i64), "days": 2 + i % 3,
                             "travelers": 1 + i % 3});
        match submissions::create(
            &pool,
            NewPlan {
                trace_context: None,
                owner: "chaos",
                idempotency_key: None,
                request: &request,
                max_attempts: 10,
                not_before: None,
            },
        )
        .await
        .unwrap()
        {
            Created::New(p) => ids.push(p.id),
            _ => panic!("not created"),
        }
    }
    let env: Vec<(&str, &str)> = vec![
        ("QUEUE_HEARTBEAT_SECS", "1"),
        ("QUEUE_MISSED_HEARTBEATS", "3"),
        ("PLANNER_FAULT_NODE_DELAY", "draft=600,places=300"),
        ("PLAN_RETRY_BASE_MS", "500"),
        ("WORKER_CONCURRENCY", "4"),
    ];
    let mut workers: Vec<Proc> = (0..3).map(|_| Proc::worker(&url, &env)).collect();
    // The API's readiness, on a pool of its own with a short acquire timeout.
    let api_pool = planner::db::connect(&url, 4).await.unwrap();
    let app = common::router(&api_pool);

    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(7);
    let (mut kills, mut restarted_db, mut saw_503) = (0, false, false);
    let restart: Arc<std::sync::Mutex<Option<std::process::ExitStatus>>> = Arc::default();
    let mut restart_task = None;
    loop {
        tokio::time::sleep(Duration::from_millis(1800 + rng.random_range(0..400))).await;
        let open: i64 = retrying(|| {
            sqlx::query_scalar(
                "SELECT count(*) FROM plans WHERE status NOT IN ('succeeded', 'failed', 'cancelled', 'rejected')",
            )
            .fetch_one(&pool)
        })
        .await;
        let done = PLANS as i64 - open;
        if open == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "{open} plans still open after 10 minutes"
        );
        if !restarted_db && done as usize >= PLANS / 3 {
            restarted_db = true;
            let slot = restart.clone();
            restart_task = Some(tokio::task::spawn_blocking(move || {
                *slot.lock().unwrap() = Some(restart_postgres());
            }));
            // Readiness says 503 while it is down.
            let until = Instant::now() + Duration::from_secs(15);
            while Instant::now() < until && restart.lock().unwrap().is_none() {
                let ready = call(&app, "GET", "/ready", None, &[]).await;
                if ready.status == 503 {
                    saw_503 = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            println!(
                "chaos: PostgreSQL restarted at {:.1}s with {done}/{PLANS} plans done",
                started.elapsed().as_secs_f64()
            );
            continue;
        }
        let victim = rng.random_range(0..workers.len());
        workers[victim].sigkill();
        workers[victim] = Proc::worker(&url, &env);
        kills += 1;
    }
    let elapsed = started.elapsed();
    if let Some(task) = restart_task {
        task.await.unwrap();
    }
    assert!(restarted_db, "the database restart never happened");
    assert!(
        restart.lock().unwrap().is_some_and(|s| s.success()),
        "pg_ctlcluster restart failed"
    );
    drop(workers);

    // Every plan is terminal and none is lost.
    let rows: Vec<(Uuid, String, i32, i32, Option<serde_json::Value>)> =
        sqlx::query_as("SELECT id, status, attempts, runs, error FROM plans")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(rows.len(), PLANS, "plans lost");
    let mut by_status: HashMap<&str, usize> = HashMap::new();
    for (id, status, _, _, error) in &rows {
        *by_status.entry(status.as_str()).or_default() += 1;
        assert!(ids.contains(id));
        assert!(status == "succeeded" || status == "failed", "plan {id} ended {status}");
        if status == "failed" {
            let code = error.as_ref().and_then(|e| e["code"].as_str()).unwrap_or("");
            assert_eq!(
                code, "attempts_exhausted",
                "plan {id} failed for another reason: {error:?}"
            );
        }
    }
    // None finalized twice: one `succeeded` write per succeeded plan, none for the others.
    let finalize_writes: Vec<(Uuid, i64)> =
        sqlx::query_as("SELECT plan_id, count(*) FROM plan_events WHERE kind = 'succeeded' GROUP BY plan_id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(
        finalize_writes.iter().all(|(_, n)| *n == 1),
        "a plan was finalized twice"
    );
    assert_eq!(finalize_writes.len(), by_status.get("succeeded").copied().unwrap_or(0));
    // Each checkpoint written once; no node started more often than its plan was run
    // (each run that crashed may have had one node in flight).
    let twice: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT plan_id, node FROM plan_events WHERE kind = 'node_finished' GROUP BY plan_id, node HAVING count(*) > 1) t",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(twice, 0, "a checkpointed node finished twice");
    let over: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT e.plan_id, e.node, count(*) AS n FROM plan_events e WHERE e.kind = 'node_started'
                               GROUP BY e.plan_id, e.node) s JOIN plans p ON p.id = s.plan_id WHERE s.n > p.runs",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(over, 0, "a node ran more than once per run of its plan");
    let reran_after_checkpoint: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM plan_events s JOIN plan_events f ON f.plan_id = s.plan_id AND f.node = s.node AND f.kind = 'node_finished'
         WHERE s.kind = 'node_started' AND s.id > f.id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        reran_after_checkpoint, 0,
        "a node ran again after its checkpoint was written"
    );

    let (rescued, retried, handed, max_runs, mean_attempts): (i64, i64, i64, i32, f64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM plan_events WHERE kind = 'rescued'),
                (SELECT count(*) FROM plan_events WHERE kind = 'retry_scheduled'),
                (SELECT count(*) FROM plan_events WHERE kind = 'rescued_stuck'),
                (SELECT max(runs) FROM plans),
                (SELECT avg(attempts)::float8 FROM plans)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    println!(
        "chaos: {PLANS} plans in {:.1}s with 3 workers; {kills} SIGKILLs, 1 PostgreSQL restart (readiness 503 seen: {saw_503}); \
         succeeded {}, failed {}; rescued runs {rescued}, retries {retried}, stuck rescues {handed}; max runs of a plan {max_runs}, \
         mean attempts {mean_attempts:.2}; finalize writes {} (one per succeeded plan); checkpoints written twice: {twice}",
        elapsed.as_secs_f64(),
        by_status.get("succeeded").copied().unwrap_or(0),
        by_status.get("failed").copied().unwrap_or(0),
        finalize_writes.len(),
    );
    assert!(kills >= 5, "only {kills} kills: the run was too short to mean much");
    assert!(rescued > 0, "no plan was ever rescued from a killed worker");
}
