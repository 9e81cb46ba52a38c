//! Chaos of another kind: every connection to the database is terminated once a second for
//! 20 s (`pg_terminate_backend`, as poolers, failovers and idle timeouts do) while 300 plans
//! run on two worker processes. A consumer whose stream ends on a dropped connection is
//! restarted, and the plans it had in flight must not wait for the stuck-plan rescue (11 min
//! by default): every plan succeeds within 30 s of the storm, none is finalized twice.
//! Prints the figures.

mod common;

use std::time::{Duration, Instant};

use common::{Proc, database_url, in_days, migrated};
use planner::store::submissions::{self, Created, NewPlan};
use serde_json::json;
use sqlx::{Connection, PgConnection, PgPool};

const PLANS: usize = 300;
const STORM: Duration = Duration::from_secs(20);
const AFTER_THE_STORM: Duration = Duration::from_secs(30);
const CITIES: [&str; 6] = ["北京", "上海", "杭州", "成都", "Tokyo", "Bangkok"];

/// Terminates every other backend of `database`; how many.
async fn terminate_all(conn: &mut PgConnection, database: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(database)
    .fetch_one(conn)
    .await
}

/// A query that waits out a dropped connection.
async fn open_plans(url: &str) -> i64 {
    loop {
        if let Ok(mut conn) = PgConnection::connect(url).await {
            let open: Result<i64, _> = sqlx::query_scalar("SELECT count(*) FROM plans WHERE status <> 'succeeded'")
                .fetch_one(&mut conn)
                .await;
            if let Ok(open) = open {
                return open;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[sqlx::test(migrations = false)]
async fn dropped_connections_orphan_no_plan(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    let database: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&pool)
        .await
        .unwrap();
    for i in 0..PLANS {
        let request = json!({"destination": CITIES[i % CITIES.len()], "start_date": in_days(3 + (i % 20) as i64),
                             "days": 2 + i % 3, "travelers": 1 + i % 3});
        let new = NewPlan {
            trace_context: None,
            owner: "storm",
            idempotency_key: None,
            request: &request,
            max_attempts: 5,
            not_before: None,
        };
        assert!(matches!(
            submissions::create(&pool, new).await.unwrap(),
            Created::New(_)
        ));
    }
    let env = [
        ("PLANNER_FAULT_NODE_DELAY", "draft=500"),
        ("PLAN_RETRY_BASE_MS", "500"),
        ("WORKER_CONCURRENCY", "4"),
    ];
    let _workers: Vec<Proc> = (0..2).map(|_| Proc::worker(&url, &env)).collect();
    // Let the first plans get going, then the storm.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut storm = PgConnection::connect(&url).await.unwrap();
    let started = Instant::now();
    let mut terminated = 0;
    while started.elapsed() < STORM {
        terminated += terminate_all(&mut storm, &database).await.unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let storm_over = Instant::now();
    let open_at_the_end = open_plans(&url).await;
    loop {
        let open = open_plans(&url).await;
        if open == 0 {
            break;
        }
        if storm_over.elapsed() >= AFTER_THE_STORM {
            let states: Vec<(String, i64)> =
                sqlx::query_as("SELECT status || coalesce(' ' || (error->>'code'), ''), count(*) FROM plans WHERE status <> 'succeeded' GROUP BY 1")
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            panic!("{open} plans not succeeded 30 s after the storm: {states:?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let settled = storm_over.elapsed();
    let twice: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT plan_id FROM plan_events WHERE kind = 'succeeded'
         GROUP BY plan_id HAVING count(*) > 1) t",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let rescued: i64 = sqlx::query_scalar("SELECT count(*) FROM plan_events WHERE kind = 'rescued'")
        .fetch_one(&pool)
        .await
        .unwrap();
    println!(
        "connection storm: {terminated} connections terminated in {}s; {open_at_the_end} plans open when it ended, all {PLANS} succeeded {:.1}s later; {rescued} runs rescued from a restarted consumer",
        STORM.as_secs(),
        settled.as_secs_f64()
    );
    assert_eq!(twice, 0, "a plan finalized twice");
}
