//! The Kubernetes deployment's one piece of SQL: the KEDA query that sizes the worker pool
//! (deploy/k8s/base/worker-scaledobject.yaml), run as written against a known mix of plans.

mod common;

use common::{create_plan, in_days, migrated};
use serde_json::json;
use sqlx::PgPool;

/// The `query:` of the ScaledObject's PostgreSQL trigger, as KEDA will send it.
fn keda_query() -> String {
    let manifest = include_str!("../deploy/k8s/base/worker-scaledobject.yaml");
    let line = manifest
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("query:"))
        .expect("the ScaledObject has a query");
    let quoted = line.trim_start_matches("query:").trim();
    quoted.trim_matches('"').to_string()
}

#[sqlx::test(migrations = false)]
async fn the_keda_query_counts_plans_that_need_a_worker_slot_now(pool: PgPool) {
    migrated(&pool).await;
    let request = json!({"destination": "杭州", "start_date": in_days(5), "days": 2});
    let mut ids = Vec::new();
    for _ in 0..10 {
        ids.push(create_plan(&pool, &request, 3).await);
    }
    let set = |sql: &'static str, id| {
        let pool = pool.clone();
        async move { sqlx::query(sql).bind(id).execute(&pool).await.unwrap() }
    };
    // 0–2 stay queued and due now.
    // 3–4 back off before a retry; 5 is scheduled for later.
    for &id in &ids[3..6] {
        set(
            "UPDATE plans SET due_at = now() + interval '5 minutes' WHERE id = $1",
            id,
        )
        .await;
    }
    // 6–7 run on some worker.
    for &id in &ids[6..8] {
        set(
            "UPDATE plans SET status = 'running', started_at = now() WHERE id = $1",
            id,
        )
        .await;
    }
    set("UPDATE plans SET status = 'awaiting_approval' WHERE id = $1", ids[8]).await;
    set(
        "UPDATE plans SET status = 'succeeded', finished_at = now() WHERE id = $1",
        ids[9],
    )
    .await;

    let query = keda_query();
    assert!(query.starts_with("SELECT count(*) FROM plans"), "{query}");
    let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(query.clone()))
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        count,
        3 + 2,
        "3 due queued + 2 running; not the 3 waiting, the 1 awaiting approval or the 1 done"
    );

    // A backing-off plan that comes due is counted from then on.
    set(
        "UPDATE plans SET due_at = now() - interval '1 second' WHERE id = $1",
        ids[3],
    )
    .await;
    let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(query.clone()))
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 6);
}
