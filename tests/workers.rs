//! Real `planner worker` processes against real PostgreSQL: throughput across two workers
//! with every result checked, pickup latency, cancel, the poison pill (and its count in the
//! metrics), and a database outage.

mod common;

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use common::{Proc, call, database_url, in_days, migrated, router, submit, wait_for};
use planner::{
    catalog,
    domain::PlaceKind,
    store::plans,
    travel::{candidates::Candidates, check, geo::Roads, itinerary::Itinerary, request::TripRequest},
};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

const DESTINATIONS: [&str; 15] = [
    "北京",
    "上海",
    "杭州",
    "成都",
    "西安",
    "广州",
    "深圳",
    "重庆",
    "南京",
    "苏州",
    "厦门",
    "桂林",
    "Tokyo",
    "Singapore",
    "Bangkok",
];

fn request(i: usize) -> Value {
    let city = DESTINATIONS[i % DESTINATIONS.len()];
    match i % 3 {
        0 => {
            json!({"destination": city, "start_date": in_days(3 + i as i64), "days": 1 + i % 5, "travelers": 1 + i % 4,
                    "budget": {"amount": 4000 + 1500 * (i % 5), "currency": "CNY"}, "interests": ["food", "history"]})
        }
        1 => {
            json!({"query": format!("帮我规划{city}{}天的旅行，{}个人，预算{}元，喜欢美食和自然风光", 2 + i % 4, 1 + i % 3, 6000 + 1000 * (i % 4))})
        }
        _ => {
            json!({"query": format!("{} days in {city} for {}, budget {} CNY, relaxed", 2 + i % 3, 1 + i % 2, 5000 + 1000 * (i % 3))})
        }
    }
}

/// Re-checks a delivered plan from scratch against the catalog and the understood request.
async fn verify(pool: &PgPool, id: Uuid) -> (TripRequest, Itinerary) {
    let (result, understood): (Value, Value) = sqlx::query_as(
        "SELECT p.result, c.output FROM plans p JOIN plan_checkpoints c ON c.plan_id = p.id AND c.node = 'understand' WHERE p.id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap();
    let plan: Itinerary = serde_json::from_value(result).unwrap();
    let request: TripRequest = serde_json::from_value(understood).unwrap();
    let places = catalog::places(&request.city);
    let pick = |k: PlaceKind| places.iter().filter(|p| p.kind == k).cloned().collect::<Vec<_>>();
    let (a, r, h) = (
        pick(PlaceKind::Attraction),
        pick(PlaceKind::Restaurant),
        pick(PlaceKind::Hotel),
    );
    let violations = check::check(
        &plan,
        &request,
        &Candidates {
            attractions: &a,
            restaurants: &r,
            hotels: &h,
            roads: Roads::NONE,
        },
    );
    assert!(violations.is_empty(), "plan {id} breaks the rules: {violations:?}");
    (request, plan)
}

async fn wait_registered(pool: &PgPool) {
    let start = Instant::now();
    while sqlx::query_scalar::<_, i64>("SELECT count(*) FROM queue_workers")
        .fetch_one(pool)
        .await
        .unwrap()
        == 0
    {
        assert!(start.elapsed() < Duration::from_secs(30), "worker never registered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[sqlx::test(migrations = false)]
async fn fifty_plans_on_two_worker_processes_all_succeed_and_pass_the_checker(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    let results = std::env::temp_dir().join(format!("planner-results-{}", Uuid::new_v4()));
    let results_env = results.to_string_lossy().to_string();
    let app = router(&pool);
    let _workers = [
        Proc::worker(&url, &[("RESULTS_DIR", &results_env)]),
        Proc::worker(&url, &[("RESULTS_DIR", &results_env)]),
    ];
    // Both registered before the plans come, so that neither can finish all fifty before the
    // other has started (the path is fast enough for that).
    let start = Instant::now();
    loop {
        let registered: i64 = sqlx::query_scalar("SELECT count(*) FROM queue_workers")
            .fetch_one(&pool)
            .await
            .unwrap();
        if registered == 2 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{registered} of 2 workers registered after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut ids = Vec::new();
    for i in 0..50 {
        ids.push((submit(&app, &request(i)).await, request(i)));
    }
    for (id, _) in &ids {
        let (status, _) = wait_for(&pool, *id, Duration::from_secs(120), |s, _| {
            s != "queued" && s != "running"
        })
        .await;
        assert_eq!(
            status,
            "succeeded",
            "plan {id}: {:?}",
            plans::get(&pool, *id).await.unwrap().map(|p| p.error)
        );
    }
    for (id, submitted) in &ids {
        let (request, plan) = verify(&pool, *id).await;
        assert_eq!(plan.days.len() as u32, request.days);
        assert_eq!(plan.start_date, request.start_date.to_string());
        assert_eq!(plan.end_date, request.end_date().to_string());
        if let Some(days) = submitted["days"].as_u64() {
            assert_eq!(plan.days.len() as u64, days);
            assert_eq!(plan.start_date, submitted["start_date"].as_str().unwrap());
        }
        let budget = request.budget.expect("every request here has a budget");
        assert!(plan.costs.total <= budget, "{id}: {} over {budget}", plan.costs.total);
        let md = call(&app, "GET", &format!("/v1/plans/{id}/itinerary.md"), None, &[]).await;
        assert_eq!(md.status, 200);
        assert!(md.text.contains(&plan.destination));
        // RESULTS_DIR (the deprecated alias of a file:// RESULTS_STORE): exported soon after.
        let start = Instant::now();
        while !(results.join(format!("{id}.json")).exists() && results.join(format!("{id}.md")).exists()) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "plan {id} never exported to {results:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // Two processes, two distinct worker names, both did work.
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM queue_workers")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(names.iter().collect::<HashSet<_>>().len(), 2, "{names:?}");
    assert!(names.iter().all(|n| n.starts_with("planner-")));
    let busy: i64 =
        sqlx::query_scalar("SELECT count(DISTINCT detail->>'worker') FROM plan_events WHERE kind = 'started'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(busy, 2, "one worker did all the work");
    // Each plan claimed once and finished once, and no worker holds any.
    let (started, succeeded, held): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM plan_events WHERE kind = 'started'),
                (SELECT count(*) FROM plan_events WHERE kind = 'succeeded'),
                (SELECT count(*) FROM plans WHERE worker IS NOT NULL)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (started, succeeded, held),
        (50, 50, 0),
        "every plan claimed and finished exactly once"
    );
    let _ = std::fs::remove_dir_all(&results);
}

#[sqlx::test(migrations = false)]
async fn an_idle_worker_starts_a_new_plan_within_two_seconds(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    let _worker = Proc::worker(&url, &[]);
    // Wait until the worker is registered, then leave it idle past several poll intervals.
    wait_registered(&pool).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    for round in 0..3 {
        let id = submit(
            &router(&pool),
            &json!({"destination": "成都", "start_date": in_days(2), "days": 2}),
        )
        .await;
        wait_for(&pool, id, Duration::from_secs(10), |s, _| s == "succeeded").await;
        let waited: f64 =
            sqlx::query_scalar("SELECT extract(epoch FROM started_at - created_at)::float8 FROM plans WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap();
        println!("round {round}: picked up after {waited:.3}s");
        assert!(waited < 2.0, "picked up after {waited:.3}s");
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
}

#[sqlx::test(migrations = false)]
async fn cancel_ends_a_queued_plan_and_stops_a_running_one_at_the_next_node(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    let app = router(&pool);
    let body = json!({"destination": "南京", "start_date": in_days(4), "days": 3});
    // Queued, no worker yet: cancelled at once, and a worker never starts it.
    let queued = submit(&app, &body).await;
    assert_eq!(
        call(&app, "POST", &format!("/v1/plans/{queued}/cancel"), None, &[])
            .await
            .status,
        200
    );

    let _worker = Proc::worker(&url, &[("PLANNER_FAULT_NODE_DELAY", "draft=4000")]);
    let running = submit(&app, &body).await;
    let start = Instant::now();
    loop {
        let drafting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM plan_events WHERE plan_id = $1 AND kind = 'node_started' AND node = 'draft'",
        )
        .bind(running)
        .fetch_one(&pool)
        .await
        .unwrap();
        if drafting > 0 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "never reached draft");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reply = call(&app, "POST", &format!("/v1/plans/{running}/cancel"), None, &[]).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    assert_eq!(reply.body["cancel_requested"], true);
    let (status, _) = wait_for(&pool, running, Duration::from_secs(15), |s, _| s != "running").await;
    assert_eq!(status, "cancelled");
    let nodes: Vec<String> = sqlx::query_scalar("SELECT node FROM plan_checkpoints WHERE plan_id = $1")
        .bind(running)
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(
        nodes.contains(&"draft".to_string()),
        "the node in flight finishes: {nodes:?}"
    );
    assert!(
        !nodes.contains(&"check".to_string()) && !nodes.contains(&"finalize".to_string()),
        "ran past the boundary: {nodes:?}"
    );

    let (status, _) = common::status(&pool, queued).await;
    assert_eq!(status, "cancelled");
    let started: i64 = sqlx::query_scalar("SELECT count(*) FROM plan_events WHERE plan_id = $1 AND kind = 'started'")
        .bind(queued)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(started, 0, "a cancelled queued plan was started");
}

#[sqlx::test(migrations = false)]
async fn a_plan_whose_worker_is_killed_on_every_attempt_fails_after_max_attempts(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    let request = json!({"destination": "重庆", "start_date": in_days(3), "days": 2});
    let plan_id = common::create_plan(&pool, &request, 3).await;
    let env = [
        ("QUEUE_HEARTBEAT_SECS", "1"),
        ("QUEUE_MISSED_HEARTBEATS", "2"),
        ("PLANNER_FAULT_NODE_DELAY", "draft=600000"),
    ];
    for attempt in 1..=3 {
        let mut worker = Proc::worker(&url, &env);
        wait_for(&pool, plan_id, Duration::from_secs(60), |s, a| {
            s == "running" && a == attempt
        })
        .await;
        worker.sigkill();
    }
    let last_addr = format!("127.0.0.1:{}", common::free_port());
    let mut last_env = env.to_vec();
    last_env.push(("WORKER_ADDR", &last_addr));
    let _last = Proc::worker(&url, &last_env);
    let (status, attempts) = wait_for(&pool, plan_id, Duration::from_secs(60), |s, _| s == "failed").await;
    assert_eq!(attempts, 3);
    // The worker that failed it counts it, as the plan-failure alert reads this counter.
    common::shows_metric(&last_addr, "planner_plans_finished_total{status=\"failed\"} 1").await;
    let error: Value = sqlx::query_scalar("SELECT error FROM plans WHERE id = $1")
        .bind(plan_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(error["code"], "attempts_exhausted", "{error}");
    assert!(error["message"].as_str().unwrap().contains("3 attempts"), "{error}");
    assert_eq!(status, "failed");
    // The plan is not picked up again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(common::status(&pool, plan_id).await, ("failed".to_string(), 3));
}

/// A defect that panics in a node fails that plan at once with `internal_error`; the worker's
/// consumer keeps running (no restart, no plan handed back), so the plan does not come round
/// again with its attempt returned, and the other plans are unaffected.
#[sqlx::test(migrations = false)]
async fn a_node_that_panics_fails_its_plan_without_restarting_the_worker(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    let mut ids = Vec::new();
    for city in ["成都", "西安", "苏州"] {
        let request = json!({"destination": city, "start_date": in_days(3), "days": 2});
        ids.push(common::create_plan(&pool, &request, 3).await);
    }
    let _worker = Proc::worker(&url, &[("PLANNER_FAULT_NODE_PANIC", "draft")]);
    for id in &ids {
        let (_, attempts) = wait_for(&pool, *id, Duration::from_secs(60), |s, _| s == "failed").await;
        assert_eq!(attempts, 1, "a defect is not retried");
        let (code, node, error) = common::failure_of(&pool, *id).await;
        assert_eq!(
            (code.as_deref(), node.as_deref()),
            (Some("internal_error"), Some("draft")),
            "{error}"
        );
    }
    let (handed, restarted): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM plan_events WHERE kind = 'handed_back'),
                (SELECT count(*) FROM queue_workers WHERE name LIKE '%-r_')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((handed, restarted), (0, 0), "the consumer restarted");
}

#[sqlx::test(migrations = false)]
async fn a_worker_survives_a_database_outage_longer_than_its_acquire_timeout(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    let mut worker = Proc::worker(&url, &[]);
    let app = router(&pool);
    let first = submit(
        &app,
        &json!({"destination": "苏州", "start_date": in_days(2), "days": 2}),
    )
    .await;
    wait_for(&pool, first, Duration::from_secs(30), |s, _| s == "succeeded").await;

    // Refuse every connection to this database for longer than the pool's 5 s acquire timeout.
    let outage = common::Outage::start(&pool).await;
    tokio::time::sleep(Duration::from_secs(9)).await;
    outage.end().await;

    assert!(
        worker.child.try_wait().unwrap().is_none(),
        "the worker process exited during the outage"
    );
    let second = submit(
        &app,
        &json!({"destination": "苏州", "start_date": in_days(2), "days": 3}),
    )
    .await;
    wait_for(&pool, second, Duration::from_secs(60), |s, _| s == "succeeded").await;
}

#[sqlx::test(migrations = false)]
async fn a_delayed_job_is_found_by_polling_when_no_notify_announces_it(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    let _worker = Proc::worker(&url, &[]);
    wait_registered(&pool).await;
    // A plan due in 3 s, as a retry is: nothing announces it, so only the poll can find it.
    let id = Uuid::new_v4();
    let run_at = chrono::Utc::now() + chrono::Duration::seconds(3);
    sqlx::query("INSERT INTO plans (id, owner, request, due_at, delay_reason) VALUES ($1, 'test', $2, $3, 'backoff')")
        .bind(id)
        .bind(json!({"destination": "厦门", "start_date": in_days(2), "days": 2}))
        .bind(run_at)
        .execute(&pool)
        .await
        .unwrap();
    wait_for(&pool, id, Duration::from_secs(20), |s, _| s == "succeeded").await;
    let late: f64 =
        sqlx::query_scalar("SELECT extract(epoch FROM started_at - $2::timestamptz)::float8 FROM plans WHERE id = $1")
            .bind(id)
            .bind(run_at)
            .fetch_one(&pool)
            .await
            .unwrap();
    println!("delayed plan started {late:.3}s after it was due");
    assert!((0.0..2.5).contains(&late), "started {late:.3}s after it was due");
}

#[sqlx::test(migrations = false)]
async fn a_worker_runs_at_most_its_concurrency(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    let app = router(&pool);
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(
            submit(
                &app,
                &json!({"destination": "桂林", "start_date": in_days(2 + i), "days": 2}),
            )
            .await,
        );
    }
    let _worker = Proc::worker(
        &url,
        &[("WORKER_CONCURRENCY", "2"), ("PLANNER_FAULT_NODE_DELAY", "draft=1500")],
    );
    let start = Instant::now();
    loop {
        let open: i64 = sqlx::query_scalar("SELECT count(*) FROM plans WHERE status IN ('queued', 'running')")
            .fetch_one(&pool)
            .await
            .unwrap();
        if open == 0 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "plans still open");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Plans running at once, from when their graphs ran (the slow draft's start and end), not
    // from the status column: a finished run's final write leaves the slot (queue/finishing),
    // so a plan may still read `running` for the moment its successor has started.
    let peak: i64 = sqlx::query_scalar(
        "WITH draft AS (
             SELECT plan_id,
                    min(created_at) FILTER (WHERE kind = 'node_started') AS began,
                    max(created_at) FILTER (WHERE kind = 'node_finished') AS ended
             FROM plan_events WHERE node = 'draft' GROUP BY plan_id)
         SELECT max((SELECT count(*) FROM draft o WHERE o.began <= d.began AND o.ended > d.began))
         FROM draft d",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(peak, 2, "WORKER_CONCURRENCY=2 but {peak} plans ran at once");
    for id in ids {
        assert_eq!(common::status(&pool, id).await.0, "succeeded");
    }
}

#[sqlx::test(migrations = false)]
async fn a_transient_failure_is_retried_with_growing_delays_then_fails_with_the_last_error(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    // finalize slower than the node timeout: a transient failure on every attempt.
    let request = json!({"destination": "广州", "start_date": in_days(3), "days": 2});
    let plan_id = common::create_plan(&pool, &request, 3).await;
    let _worker = Proc::worker(
        &url,
        &[
            ("PLANNER_FAULT_NODE_DELAY", "finalize=3000"),
            ("NODE_TIMEOUT_SECS", "1"),
            ("PLAN_RETRY_BASE_MS", "1000"),
        ],
    );
    let (status, attempts) = wait_for(&pool, plan_id, Duration::from_secs(60), |s, _| s == "failed").await;
    assert_eq!((status.as_str(), attempts), ("failed", 3));
    let error: Value = sqlx::query_scalar("SELECT error FROM plans WHERE id = $1")
        .bind(plan_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(error["code"], "attempts_exhausted", "{error}");
    assert_eq!(error["node"], "finalize");
    assert!(error["message"].as_str().unwrap().contains("timed out"), "{error}");
    // Two retries were scheduled, the second further out than the first.
    let delays: Vec<f64> = sqlx::query_scalar(
        "SELECT extract(epoch FROM (detail->>'run_at')::timestamptz - created_at)::float8 FROM plan_events
         WHERE plan_id = $1 AND kind = 'retry_scheduled' ORDER BY id",
    )
    .bind(plan_id)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(delays.len(), 2, "{delays:?}");
    assert!(
        delays[0] >= 1.0 && delays[1] >= 2.0 && delays[1] > delays[0],
        "{delays:?}"
    );
    // Earlier nodes ran once: retries resumed from their checkpoints.
    let understood: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM plan_events WHERE plan_id = $1 AND kind = 'node_started' AND node = 'understand'",
    )
    .bind(plan_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(understood, 1);
}
