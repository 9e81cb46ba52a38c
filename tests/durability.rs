//! Durability with real worker processes: human approval, graceful shutdown, a worker killed
//! mid-plan, timeouts, the retry endpoint, retention, and the database going away.

mod common;

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use common::{Proc, call, database_url, events, in_days, migrated, router, status, submit, wait_for};
use planner::{
    catalog,
    domain::PlaceKind,
    providers::embedded_weather,
    travel::{
        candidates::Candidates,
        compose,
        geo::Roads,
        request::{self, SubmitRequest},
    },
};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

async fn node_runs(pool: &PgPool, id: Uuid, node: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM plan_events WHERE plan_id = $1 AND kind = 'node_started' AND node = $2")
        .bind(id)
        .bind(node)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn wait_event(pool: &PgPool, id: Uuid, kind: &str, node: Option<&str>, count: i64) {
    let start = Instant::now();
    loop {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM plan_events WHERE plan_id = $1 AND kind = $2 AND ($3::text IS NULL OR node = $3)",
        )
        .bind(id)
        .bind(kind)
        .bind(node)
        .fetch_one(pool)
        .await
        .unwrap();
        if n >= count {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no {kind} {node:?} event for {id}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn create(pool: &PgPool, request: Value, max_attempts: i32) -> Uuid {
    common::create_plan(pool, &request, max_attempts).await
}

async fn plan_json(pool: &PgPool, id: Uuid) -> Value {
    let reply = call(&router(pool), "GET", &format!("/v1/plans/{id}"), None, &[]).await;
    reply.body
}

#[sqlx::test(migrations = false)]
async fn approval_waits_holds_no_worker_survives_a_restart_and_resumes_or_rejects(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    let app = router(&pool);
    let body = |city: &str| json!({"destination": city, "start_date": in_days(5), "days": 2, "require_approval": true, "language": "en"});
    let mut worker = Proc::worker(&url, &[("WORKER_CONCURRENCY", "1")]);
    let a = submit(&app, &body("杭州")).await;
    let b = submit(&app, &body("成都")).await;
    for id in [a, b] {
        wait_for(&pool, id, Duration::from_secs(30), |s, _| s == "awaiting_approval").await;
    }
    // Both wait with one worker slot: waiting holds no slot.
    let plan = plan_json(&pool, a).await;
    assert_eq!(plan["approval"]["reason"], "the request asks for approval");
    assert_eq!(plan["attempts"], 0, "waiting for a person spends no attempt");
    assert_eq!(plan["result"], Value::Null);

    // The worker goes away and another comes: the waiting plans are unaffected.
    worker.sigkill();
    let _worker = Proc::worker(&url, &[]);
    assert_eq!(
        call(&app, "POST", &format!("/v1/plans/{a}/approve"), None, &[])
            .await
            .status,
        200
    );
    assert_eq!(
        call(&app, "POST", &format!("/v1/plans/{b}/reject"), None, &[])
            .await
            .status,
        200
    );
    let (s, attempts) = wait_for(&pool, a, Duration::from_secs(30), |s, _| s == "succeeded").await;
    assert_eq!((s.as_str(), attempts), ("succeeded", 1));
    assert_eq!(status(&pool, b).await.0, "rejected");
    let plan = plan_json(&pool, a).await;
    assert_eq!(plan["approval"]["decision"], "approved");
    // Resumed from checkpoints: the nodes before approval ran once.
    assert_eq!(node_runs(&pool, a, "draft").await, 1);
    assert_eq!(node_runs(&pool, a, "approval").await, 2);
    // Deciding twice, or on a plan that is not waiting, conflicts.
    assert_eq!(
        call(&app, "POST", &format!("/v1/plans/{a}/approve"), None, &[])
            .await
            .status,
        409
    );
    assert_eq!(
        call(&app, "POST", &format!("/v1/plans/{b}/approve"), None, &[])
            .await
            .status,
        409
    );
    assert_eq!(
        call(&app, "POST", &format!("/v1/plans/{}/reject", Uuid::new_v4()), None, &[])
            .await
            .status,
        404
    );
}

#[sqlx::test(migrations = false)]
async fn a_plan_slightly_over_budget_waits_for_approval_and_carries_the_warning(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    let start = in_days(6);
    // What the cheapest valid plan for this trip costs, computed the way the worker will.
    let input: SubmitRequest =
        serde_json::from_value(json!({"destination": "上海", "start_date": start, "days": 3, "travelers": 2})).unwrap();
    let mut trip = request::resolve(&input, chrono::Local::now().date_naive()).unwrap();
    trip.budget = Some(1.0);
    let places = catalog::places("shanghai");
    let pick = |k: PlaceKind| places.iter().filter(|p| p.kind == k).cloned().collect::<Vec<_>>();
    let (a, r, h) = (
        pick(PlaceKind::Attraction),
        pick(PlaceKind::Restaurant),
        pick(PlaceKind::Hotel),
    );
    let city = catalog::city("shanghai").unwrap();
    let date = NaiveDate::parse_from_str(&start, "%Y-%m-%d").unwrap();
    let weather: Vec<_> = (0..3)
        .map(|d| embedded_weather::day(city, date + chrono::Duration::days(d)))
        .collect();
    let cheapest = compose::compose(
        &trip,
        &weather,
        &Candidates {
            attractions: &a,
            restaurants: &r,
            hotels: &h,
            roads: Roads::NONE,
        },
        0,
    )
    .unwrap_err()
    .cheapest
    .total;
    let budget = (cheapest / 1.1).floor();

    let _worker = Proc::worker(&url, &[]);
    let app = router(&pool);
    let id = submit(
        &app,
        &json!({"destination": "上海", "start_date": start, "days": 3, "travelers": 2, "budget": {"amount": budget}, "language": "en"}),
    )
    .await;
    wait_for(&pool, id, Duration::from_secs(30), |s, _| s == "awaiting_approval").await;
    let plan = plan_json(&pool, id).await;
    assert!(
        plan["approval"]["reason"].as_str().unwrap().contains("over budget"),
        "{}",
        plan["approval"]
    );
    call(&app, "POST", &format!("/v1/plans/{id}/approve"), None, &[]).await;
    wait_for(&pool, id, Duration::from_secs(30), |s, _| s == "succeeded").await;
    let plan = plan_json(&pool, id).await;
    assert!(plan["result"]["costs"]["total"].as_f64().unwrap() > budget);
    assert!(
        plan["result"]["warnings"].to_string().contains("over budget"),
        "{}",
        plan["result"]["warnings"]
    );

    // Far over budget is not offered for approval: it fails, saying what would work.
    let id = submit(
        &app,
        &json!({"destination": "上海", "start_date": start, "days": 5, "budget": {"amount": 100}, "language": "en"}),
    )
    .await;
    wait_for(&pool, id, Duration::from_secs(30), |s, _| s == "failed").await;
    let plan = plan_json(&pool, id).await;
    assert_eq!(plan["error"]["code"], "budget_too_low");
    assert!(plan["error"]["message"].as_str().unwrap().contains("would work"));
}

#[sqlx::test(migrations = false)]
async fn sigterm_lets_in_flight_plans_finish_within_the_grace_period(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    let app = router(&pool);
    let mut worker = Proc::worker(
        &url,
        &[
            ("PLANNER_FAULT_NODE_DELAY", "draft=2000"),
            ("SHUTDOWN_GRACE_SECS", "20"),
        ],
    );
    let mut ids = Vec::new();
    for city in ["北京", "广州", "深圳"] {
        ids.push(submit(&app, &json!({"destination": city, "start_date": in_days(4), "days": 2})).await);
    }
    for id in &ids {
        wait_event(&pool, *id, "node_started", Some("draft"), 1).await;
    }
    worker.sigterm();
    let exit = tokio::task::spawn_blocking(move || {
        let status = worker.child.wait().unwrap();
        (status, worker)
    });
    let (exit_status, _worker) = tokio::time::timeout(Duration::from_secs(30), exit)
        .await
        .expect("worker exits")
        .unwrap();
    assert!(exit_status.success(), "{exit_status:?}");
    for id in ids {
        assert_eq!(status(&pool, id).await, ("succeeded".to_string(), 1), "plan {id}");
    }
}

#[sqlx::test(migrations = false)]
async fn sigterm_hands_back_plans_that_outlast_the_grace_period_without_spending_attempts(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    let app = router(&pool);
    let mut worker = Proc::worker(
        &url,
        &[
            ("PLANNER_FAULT_NODE_DELAY", "draft=30000"),
            ("SHUTDOWN_GRACE_SECS", "1"),
        ],
    );
    let a = submit(
        &app,
        &json!({"destination": "重庆", "start_date": in_days(4), "days": 2}),
    )
    .await;
    let b = submit(
        &app,
        &json!({"destination": "桂林", "start_date": in_days(4), "days": 2}),
    )
    .await;
    for id in [a, b] {
        wait_event(&pool, id, "node_started", Some("draft"), 1).await;
    }
    let stopped = Instant::now();
    worker.sigterm();
    let exit = tokio::task::spawn_blocking(move || worker.child.wait().unwrap());
    let exit_status = tokio::time::timeout(Duration::from_secs(20), exit)
        .await
        .expect("worker exits")
        .unwrap();
    assert!(exit_status.success(), "{exit_status:?}");
    println!("worker exited {:.1}s after SIGTERM", stopped.elapsed().as_secs_f64());
    for id in [a, b] {
        assert_eq!(
            status(&pool, id).await,
            ("queued".to_string(), 0),
            "handed back with its attempt"
        );
        assert_eq!(events(&pool, id, "handed_back").await, 1);
    }
    let _next = Proc::worker(&url, &[]);
    for id in [a, b] {
        let (s, attempts) = wait_for(&pool, id, Duration::from_secs(30), |s, _| s == "succeeded").await;
        assert_eq!((s.as_str(), attempts), ("succeeded", 1));
        assert_eq!(
            node_runs(&pool, id, "understand").await,
            1,
            "resumed from its checkpoints"
        );
    }
}

#[sqlx::test(migrations = false)]
async fn a_killed_worker_is_rescued_from_its_last_checkpoint_and_a_slow_healthy_one_is_not(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    let quick = [("QUEUE_HEARTBEAT_SECS", "1"), ("QUEUE_MISSED_HEARTBEATS", "3")];
    let mut slow = Proc::worker(
        &url,
        &[quick[0], quick[1], ("PLANNER_FAULT_NODE_DELAY", "draft=600000")],
    );
    let id = submit(
        &router(&pool),
        &json!({"destination": "苏州", "start_date": in_days(4), "days": 3}),
    )
    .await;
    wait_event(&pool, id, "node_started", Some("draft"), 1).await;
    let _other = Proc::worker(&url, &quick);
    // Well past the 3 s orphan window: a worker that is alive keeps its plan.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let runs: i32 = sqlx::query_scalar("SELECT runs FROM plans WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        (status(&pool, id).await.0.as_str(), runs),
        ("running", 1),
        "a healthy slow plan was stolen"
    );

    let killed = Instant::now();
    slow.sigkill();
    wait_for(&pool, id, Duration::from_secs(30), |s, _| s == "succeeded").await;
    println!(
        "rescued and finished {:.1}s after SIGKILL",
        killed.elapsed().as_secs_f64()
    );
    let (runs, attempts): (i32, i32) = sqlx::query_as("SELECT runs, attempts FROM plans WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!((runs, attempts), (2, 2));
    assert_eq!(events(&pool, id, "rescued").await, 1);
    for node in ["understand", "weather", "places", "lodging"] {
        assert_eq!(node_runs(&pool, id, node).await, 1, "{node} ran again after the crash");
    }
    assert_eq!(node_runs(&pool, id, "draft").await, 2, "the node in flight runs again");
}

#[sqlx::test(migrations = false)]
async fn node_and_plan_timeouts_are_recorded_and_treated_as_transient(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    let request = json!({"destination": "厦门", "start_date": in_days(4), "days": 2});
    let node_slow = create(&pool, request.clone(), 2).await;
    let mut worker = Proc::worker(
        &url,
        &[
            ("NODE_TIMEOUT_SECS", "1"),
            ("PLANNER_FAULT_NODE_DELAY", "draft=1500"),
            ("PLAN_RETRY_BASE_MS", "200"),
        ],
    );
    let (s, attempts) = wait_for(&pool, node_slow, Duration::from_secs(30), |s, _| s == "failed").await;
    assert_eq!((s.as_str(), attempts), ("failed", 2));
    assert_eq!(events(&pool, node_slow, "timeout").await, 2);
    assert_eq!(events(&pool, node_slow, "retry_scheduled").await, 1);
    let error: Value = sqlx::query_scalar("SELECT error FROM plans WHERE id = $1")
        .bind(node_slow)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(error["message"].as_str().unwrap().contains("timed out"), "{error}");
    worker.sigkill();

    let plan_slow = create(&pool, request.clone(), 1).await;
    let _worker = Proc::worker(
        &url,
        &[("PLAN_TIMEOUT_SECS", "1"), ("PLANNER_FAULT_NODE_DELAY", "draft=2500")],
    );
    wait_for(&pool, plan_slow, Duration::from_secs(30), |s, _| s == "failed").await;
    let detail: Value = sqlx::query_scalar("SELECT detail FROM plan_events WHERE plan_id = $1 AND kind = 'timeout'")
        .bind(plan_slow)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(detail["scope"], "plan");

    // A timeout event the database refuses does not keep the attempt's end from being written:
    // the plan fails (its only attempt spent) rather than staying `running` with nobody on it.
    sqlx::raw_sql(
        "CREATE FUNCTION refuse_timeouts() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF NEW.kind = 'timeout' THEN RAISE EXCEPTION 'timeout events refused'; END IF; RETURN NEW; END $$;
         CREATE TRIGGER refuse_timeouts BEFORE INSERT ON plan_events FOR EACH ROW EXECUTE FUNCTION refuse_timeouts();",
    )
    .execute(&pool)
    .await
    .unwrap();
    let unrecorded = create(&pool, request, 1).await;
    wait_for(&pool, unrecorded, Duration::from_secs(30), |s, _| s == "failed").await;
}

#[sqlx::test(migrations = false)]
async fn a_failed_plan_is_retried_from_its_checkpoints(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    let id = create(
        &pool,
        json!({"destination": "广州", "start_date": in_days(3), "days": 2}),
        1,
    )
    .await;
    // finalize slower than the node timeout fails the only attempt; a worker without the
    // fault runs the retry.
    let mut failing = Proc::worker(
        &url,
        &[
            ("PLANNER_FAULT_NODE_DELAY", "finalize=3000"),
            ("NODE_TIMEOUT_SECS", "1"),
        ],
    );
    wait_for(&pool, id, Duration::from_secs(30), |s, _| s == "failed").await;
    failing.sigkill();
    let _worker = Proc::worker(&url, &[]);
    let app = router(&pool);
    let reply = call(&app, "POST", &format!("/v1/plans/{id}/retry"), None, &[]).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    assert_eq!(
        (reply.body["status"].as_str(), reply.body["attempts"].as_i64()),
        (Some("queued"), Some(0))
    );
    let (s, attempts) = wait_for(&pool, id, Duration::from_secs(30), |s, _| s == "succeeded").await;
    assert_eq!((s.as_str(), attempts), ("succeeded", 1));
    assert_eq!(node_runs(&pool, id, "understand").await, 1);
    assert_eq!(node_runs(&pool, id, "finalize").await, 2);
    assert_eq!(
        call(&app, "POST", &format!("/v1/plans/{id}/retry"), None, &[])
            .await
            .status,
        409
    );
}

#[sqlx::test(migrations = false)]
async fn retention_deletes_old_terminal_plans_and_long_gone_workers_one_process_at_a_time(pool: PgPool) {
    migrated(&pool).await;
    let old = create(&pool, json!({"destination": "北京"}), 5).await;
    let fresh = create(&pool, json!({"destination": "北京"}), 5).await;
    let waiting = create(&pool, json!({"destination": "北京"}), 5).await;
    sqlx::query("UPDATE plans SET status = 'succeeded', finished_at = now() - interval '40 days' WHERE id = $1")
        .bind(old)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE plans SET status = 'failed', finished_at = now() WHERE id = $1")
        .bind(fresh)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE plans SET created_at = now() - interval '90 days' WHERE id = $1")
        .bind(waiting)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO plan_checkpoints (plan_id, node, output, attempt) VALUES ($1, 'understand', '{}', 1)")
        .bind(old)
        .execute(&pool)
        .await
        .unwrap();
    // A worker gone for 40 days goes; one seen just now stays.
    sqlx::query(
        "INSERT INTO queue_workers (name, concurrency, heartbeat_at) VALUES
            ('gone', 16, now() - interval '40 days'), ('alive', 16, now())",
    )
    .execute(&pool)
    .await
    .unwrap();

    // While another process holds the cleanup lock, this one skips.
    let mut holder = pool.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(0x0070_6c61_6e63_6c65_i64)
        .execute(&mut *holder)
        .await
        .unwrap();
    assert_eq!(
        planner::queue::maintenance::cleaner::clean(&pool, Duration::from_secs(30 * 86_400))
            .await
            .unwrap(),
        None
    );
    holder.rollback().await.unwrap();

    let cleaned = planner::queue::maintenance::cleaner::clean(&pool, Duration::from_secs(30 * 86_400))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((cleaned.plans, cleaned.workers), (1, 1), "{cleaned:?}");
    let workers: Vec<String> = sqlx::query_scalar("SELECT name FROM queue_workers")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(workers, vec!["alive".to_string()]);
    let left: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM plans ORDER BY created_at")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(left.len(), 2);
    assert!(!left.contains(&old) && left.contains(&fresh) && left.contains(&waiting));
    let orphans: i64 = sqlx::query_scalar("SELECT count(*) FROM plan_checkpoints")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(orphans, 0, "checkpoints go with their plan");
    let timelines: Vec<Uuid> = sqlx::query_scalar("SELECT DISTINCT plan_id FROM plan_events ORDER BY plan_id")
        .fetch_all(&pool)
        .await
        .unwrap();
    let mut kept = vec![fresh, waiting];
    kept.sort();
    assert_eq!(timelines, kept, "events go with their plan, and only with it");

    // The same through the command.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_planner"))
        .arg("cleanup")
        .env("DATABASE_URL", database_url(&pool).await)
        .env("RETENTION_DAYS", "0")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("deleted 1 plans"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[sqlx::test(migrations = false)]
async fn while_the_database_is_unreachable_the_api_answers_503_and_workers_carry_on_after(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    let _worker = Proc::worker(&url, &[("PLANNER_FAULT_NODE_DELAY", "draft=1000")]);
    let app = router(&pool);
    let mut ids = Vec::new();
    for city in ["北京", "上海", "杭州", "成都"] {
        ids.push(submit(&app, &json!({"destination": city, "start_date": in_days(4), "days": 2})).await);
    }
    wait_event(&pool, ids[0], "node_started", Some("draft"), 1).await;

    let outage = common::Outage::start(&pool).await;
    let ready = call(&app, "GET", "/ready", None, &[]).await;
    let write = call(
        &app,
        "POST",
        "/v1/plans",
        Some(&json!({"destination": "南京", "start_date": in_days(4)}).to_string()),
        &[],
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    outage.end().await;

    assert_eq!(ready.status, 503, "{}", ready.text);
    assert_eq!(write.status, 503, "{}", write.text);
    assert_eq!(write.body["error"]["code"], "unavailable");
    for id in ids {
        let (s, _) = wait_for(&pool, id, Duration::from_secs(90), |s, _| {
            s == "succeeded" || s == "failed"
        })
        .await;
        assert_eq!(s, "succeeded", "plan {id} was lost in the outage");
    }
    assert_eq!(call(&app, "GET", "/ready", None, &[]).await.status, 200);
}

#[sqlx::test(migrations = false)]
async fn stuck_plans_go_back_to_the_queue(pool: PgPool) {
    migrated(&pool).await;
    let stuck = create(&pool, json!({"destination": "北京"}), 5).await;
    let busy = create(&pool, json!({"destination": "北京"}), 5).await;
    let waiting = create(&pool, json!({"destination": "北京"}), 5).await;
    // Stuck in its last attempt: it fails rather than going round again.
    let last = create(&pool, json!({"destination": "北京"}), 3).await;
    sqlx::query("UPDATE plans SET status = 'running', runs = 1, attempts = 1, updated_at = now() - interval '1 hour' WHERE id = $1")
        .bind(stuck)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE plans SET status = 'running', runs = 3, attempts = 3, updated_at = now() - interval '1 hour' WHERE id = $1")
        .bind(last)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE plans SET status = 'running', runs = 1, attempts = 1, updated_at = now() - interval '1 minute' WHERE id = $1")
        .bind(busy)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE plans SET updated_at = now() - interval '1 hour' WHERE id = $1")
        .bind(waiting)
        .execute(&pool)
        .await
        .unwrap();
    let rescued = planner::queue::maintenance::rescuer::rescue_stuck(&pool, Duration::from_secs(360))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        rescued.requeued,
        vec![stuck],
        "only the plan untouched for longer than a run may take"
    );
    let exhausted: Vec<_> = rescued.exhausted.iter().map(|p| p.id).collect();
    assert_eq!(exhausted, vec![last]);
    assert_eq!(status(&pool, last).await, ("failed".to_string(), 3));
    let error: Value = sqlx::query_scalar("SELECT error FROM plans WHERE id = $1")
        .bind(last)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(error["code"], "attempts_exhausted", "{error}");
    assert_eq!(events(&pool, last, "rescued_stuck").await, 0);
    assert_eq!(status(&pool, stuck).await.0, "queued");
    assert_eq!(status(&pool, busy).await.0, "running");
    assert_eq!(events(&pool, stuck, "rescued_stuck").await, 1);
    // And a worker then finishes the two queued ones.
    sqlx::query("UPDATE plans SET status = 'queued' WHERE id = $1")
        .bind(busy)
        .execute(&pool)
        .await
        .unwrap();
    let _worker = Proc::worker(&database_url(&pool).await, &[]);
    for id in [stuck, busy, waiting] {
        let (_, _) = wait_for(&pool, id, Duration::from_secs(30), |s, _| s == "succeeded").await;
    }
}

/// A write that PostgreSQL aborts to break a deadlock (two writes locking the same rows in
/// opposite order, as a late try of a batch of runs' writes and a consumer's hand-back can) is
/// tried again, as after a dropped connection, rather than failing its plan's attempt.
#[sqlx::test(migrations = false)]
async fn a_write_aborted_to_break_a_deadlock_is_tried_again(pool: PgPool) {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };
    sqlx::raw_sql("CREATE TABLE locked (id int PRIMARY KEY, v int NOT NULL); INSERT INTO locked VALUES (1, 0), (2, 0)")
        .execute(&pool)
        .await
        .unwrap();
    // The other write holds row 1; it never detects the deadlock itself (the write under test,
    // waiting first, detects it after the default 1 s and is the one PostgreSQL aborts).
    let mut other = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL deadlock_timeout = '30s'")
        .execute(&mut *other)
        .await
        .unwrap();
    sqlx::query("UPDATE locked SET v = v + 1 WHERE id = 1")
        .execute(&mut *other)
        .await
        .unwrap();

    let tries = Arc::new(AtomicUsize::new(0));
    let (write_pool, counted) = (pool.clone(), tries.clone());
    let write = tokio::spawn(async move {
        planner::store::durable::durable("lock 2 then 1", || {
            let (pool, tries) = (write_pool.clone(), counted.clone());
            async move {
                tries.fetch_add(1, Ordering::SeqCst);
                let mut tx = pool.begin().await?;
                sqlx::query("UPDATE locked SET v = v + 1 WHERE id = 2")
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE locked SET v = v + 1 WHERE id = 1")
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await
            }
        })
        .await
    });
    // Once the write waits for row 1, the other asks for row 2: a deadlock.
    common::until("the write to wait for row 1", Duration::from_secs(10), async || {
        let waiting: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_locks WHERE NOT granted")
            .fetch_one(&pool)
            .await
            .unwrap();
        waiting > 0
    })
    .await;
    sqlx::query("UPDATE locked SET v = v + 1 WHERE id = 2")
        .execute(&mut *other)
        .await
        .expect("the write under test, not this one, is aborted to break the deadlock");
    other.commit().await.unwrap();

    write
        .await
        .unwrap()
        .expect("the write aborted by the deadlock was not tried again");
    assert_eq!(
        tries.load(Ordering::SeqCst),
        2,
        "the write was not aborted once: the test tested nothing"
    );
    let values: Vec<i32> = sqlx::query_scalar("SELECT v FROM locked ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(values, [2, 2]);
}
