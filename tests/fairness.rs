//! Fair admission between owners, on two worker processes: owner A queues 300 plans, then
//! owner B queues 5. B's plans start within 2 s of their submission and all finish before
//! A's last; and the timeline (not a counter of the code under test) shows no owner ever had
//! more than `OWNER_MAX_RUNNING` plans running at once.

mod common;

use std::time::{Duration, Instant};

use common::{Proc, database_url, in_days, migrated};
use planner::store::submissions::{self, Created, NewPlan};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

const CAP: i64 = 4;

async fn submit(pool: &PgPool, owner: &str, n: usize) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for i in 0..n {
        let destination = ["杭州", "成都", "Tokyo"][i % 3];
        let request = json!({"destination": destination, "start_date": in_days(4), "days": 2});
        let new = NewPlan {
            owner,
            trace_context: None,
            idempotency_key: None,
            request: &request,
            max_attempts: 5,
            not_before: None,
        };
        match submissions::create(pool, new).await.unwrap() {
            Created::New(plan) => ids.push(plan.id),
            _ => panic!("plan not created"),
        }
    }
    ids
}

#[sqlx::test(migrations = false)]
async fn one_owners_backlog_does_not_hold_up_another_owners_plans(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    submit(&pool, "a", 300).await;
    let env = [
        ("WORKER_CONCURRENCY", "6"),
        ("OWNER_MAX_RUNNING", "4"),
        ("PLANNER_FAULT_NODE_DELAY", "draft=150"),
    ];
    let _workers: Vec<Proc> = (0..2).map(|_| Proc::worker(&url, &env)).collect();
    // Let A's backlog fill its share of the workers.
    let start = Instant::now();
    loop {
        let running: i64 = sqlx::query_scalar("SELECT count(*) FROM plans WHERE owner = 'a' AND status = 'running'")
            .fetch_one(&pool)
            .await
            .unwrap();
        if running >= CAP {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "A never got going");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let b = submit(&pool, "b", 5).await;

    let start = Instant::now();
    loop {
        let open: i64 = sqlx::query_scalar("SELECT count(*) FROM plans WHERE status NOT IN ('succeeded', 'failed')")
            .fetch_one(&pool)
            .await
            .unwrap();
        if open == 0 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(240), "{open} plans still open");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // B's plans started within 2 s of their submission.
    let waits: Vec<f64> = sqlx::query_scalar(
        "SELECT extract(epoch FROM s.created_at - q.created_at)::float8
         FROM plan_events q JOIN plan_events s ON s.plan_id = q.plan_id AND s.kind = 'started'
         WHERE q.kind = 'queued' AND q.plan_id = ANY($1)",
    )
    .bind(&b)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(waits.len(), 5);
    let slowest = waits.iter().copied().fold(0.0, f64::max);
    // And finished before A's last.
    let (b_last, a_last): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) = sqlx::query_as(
        "SELECT (SELECT max(finished_at) FROM plans WHERE owner = 'b'), (SELECT max(finished_at) FROM plans WHERE owner = 'a')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    // Plans running per owner over time, from the timeline: +1 at each start, -1 when the run
    // ends (in success, failure or back in the queue).
    let peaks: Vec<(String, i64)> = sqlx::query_as(
        "WITH marks AS (
            SELECT p.owner, e.created_at, e.id, CASE WHEN e.kind = 'started' THEN 1 ELSE -1 END AS delta
            FROM plan_events e JOIN plans p ON p.id = e.plan_id
            WHERE e.kind IN ('started', 'succeeded', 'failed', 'cancelled', 'retry_scheduled',
                             'waiting_for_upstream', 'handed_back', 'awaiting_approval', 'rescued')
         )
         SELECT owner, max(running)::bigint FROM (
            SELECT owner, sum(delta) OVER (PARTITION BY owner ORDER BY created_at, id) AS running FROM marks
         ) t GROUP BY owner ORDER BY owner",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let succeeded: i64 = sqlx::query_scalar("SELECT count(*) FROM plans WHERE status = 'succeeded'")
        .fetch_one(&pool)
        .await
        .unwrap();
    println!(
        "fairness: B's slowest start {slowest:.2}s after submission; B done {:.1}s before A; peak running per owner {peaks:?}; {succeeded}/305 succeeded",
        (a_last - b_last).num_milliseconds() as f64 / 1000.0
    );
    assert!(slowest <= 2.0, "B waited {slowest:.2}s: {waits:?}");
    assert!(b_last < a_last, "B finished after A's last plan");
    assert!(
        peaks.iter().all(|(_, peak)| *peak <= CAP),
        "an owner ran past its cap: {peaks:?}"
    );
    assert_eq!(
        peaks.iter().find(|(o, _)| o == "a").map(|p| p.1),
        Some(CAP),
        "A never used its share"
    );
    assert_eq!(succeeded, 305);
}
