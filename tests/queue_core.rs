//! The queue core against real PostgreSQL, without a worker process: claims are batched, fair
//! between owners and capped per owner; a queued plan's `wait_reason` (and the
//! `planner_plans_waiting` figures) say truly why it waits; `not_before` schedules a plan.

mod common;

use std::time::Duration;

use common::{call, in_days, migrated, router};
use planner::store::{
    plan_error::PlanError,
    plans::{self, Created, NewPlan},
    queue::{self, ClaimLimits, Claimed},
    runs::{self, Requeue},
};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

async fn plan_of(pool: &PgPool, owner: &str) -> Uuid {
    let request = json!({"destination": "杭州", "start_date": in_days(5), "days": 2});
    let new = NewPlan {
        owner,
        trace_context: None,
        idempotency_key: None,
        request: &request,
        max_attempts: 5,
        not_before: None,
    };
    match plans::create(pool, new).await.unwrap() {
        Created::New(plan) => plan.id,
        _ => panic!("plan not created"),
    }
}

async fn claim(pool: &PgPool, max: usize, cap: u32, after: Option<&str>) -> Vec<Claimed> {
    let limits = ClaimLimits {
        max,
        owner_cap: cap,
        after_owner: after,
    };
    queue::claim(pool, "test-worker", limits, Some("understand"))
        .await
        .unwrap()
}

async fn wait_reason(pool: &PgPool, id: Uuid) -> Value {
    let reply = call(&router(pool), "GET", &format!("/v1/plans/{id}"), None, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body["wait_reason"].clone()
}

#[sqlx::test(migrations = false)]
async fn claims_serve_owners_in_turn_and_never_past_their_cap(pool: PgPool) {
    migrated(&pool).await;
    let mut a = Vec::new();
    for _ in 0..10 {
        a.push(plan_of(&pool, "a").await);
    }
    let b1 = plan_of(&pool, "b").await;
    let b2 = plan_of(&pool, "b").await;
    let c1 = plan_of(&pool, "c").await;

    // A batch of 4 with a cap of 3: a gets 3 (its oldest), then b gets the last place.
    let first = claim(&pool, 4, 3, None).await;
    let got: Vec<(String, Uuid)> = first.iter().map(|c| (c.owner.clone(), c.plan_id)).collect();
    assert_eq!(
        got,
        vec![
            ("a".to_string(), a[0]),
            ("a".to_string(), a[1]),
            ("a".to_string(), a[2]),
            ("b".to_string(), b1)
        ]
    );
    assert!(
        first
            .iter()
            .all(|c| c.lease.run == 1 && c.lease.attempt == 1 && c.checkpoints.is_empty())
    );
    // The next claim starts after b: c, then around to a — at its cap, so none — and b.
    let second = claim(&pool, 10, 3, Some("b")).await;
    let got: Vec<(String, Uuid)> = second.iter().map(|c| (c.owner.clone(), c.plan_id)).collect();
    assert_eq!(got, vec![("c".to_string(), c1), ("b".to_string(), b2)]);
    // Nothing left that the caps allow.
    assert!(claim(&pool, 10, 3, Some("b")).await.is_empty());
    let running: Vec<(String, i64)> = sqlx::query_as(
        "SELECT owner, count(*) FROM plans WHERE status = 'running' AND worker = 'test-worker' GROUP BY owner ORDER BY owner",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        running,
        vec![("a".to_string(), 3), ("b".to_string(), 2), ("c".to_string(), 1)]
    );
    // Each claim recorded its start and the entry node's, in the order served.
    let kinds: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT kind, node FROM plan_events WHERE plan_id = $1 ORDER BY id")
            .bind(a[0])
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        kinds,
        vec![
            ("queued".to_string(), None),
            ("started".to_string(), None),
            ("node_started".to_string(), Some("understand".to_string()))
        ]
    );
}

#[sqlx::test(migrations = false)]
async fn a_queued_plan_says_truly_why_it_waits(pool: PgPool) {
    migrated(&pool).await;
    // `quota`: eight of its plans running (the default cap), a ninth waits for one of them.
    let mut quota = Vec::new();
    for _ in 0..9 {
        quota.push(plan_of(&pool, "quota").await);
    }
    let claimed = claim(&pool, 8, 8, None).await;
    assert_eq!(claimed.len(), 8);
    assert_eq!(
        wait_reason(&pool, quota[8]).await,
        json!({"reason": "owner_quota", "running": 8, "cap": 8})
    );
    // Of the running ones: one retries after a backoff, one waits for Amap's breaker.
    let (retried, waiting) = (&claimed[0], &claimed[1]);
    let error = PlanError::transient("upstream timed out", "places");
    let owned = runs::requeue(
        &pool,
        retried.plan_id,
        retried.lease,
        Requeue::Retry,
        &error,
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    assert!(owned);
    let error = PlanError::waiting_for_upstream("routes: amap circuit breaker open", "routes");
    let why = Requeue::WaitForUpstream {
        provider: "amap".into(),
    };
    let owned = runs::requeue(
        &pool,
        waiting.plan_id,
        waiting.lease,
        why,
        &error,
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert!(owned);
    let backoff = wait_reason(&pool, retried.plan_id).await;
    assert_eq!(backoff["reason"], "backoff", "{backoff}");
    assert!(backoff["until"].is_string());
    let upstream = wait_reason(&pool, waiting.plan_id).await;
    assert_eq!(upstream["reason"], "upstream_wait:amap", "{upstream}");
    // Two of the owner's plans left `running`: its ninth has room now, and waits for a worker.
    assert_eq!(
        wait_reason(&pool, quota[8]).await,
        json!({"reason": "queued", "ahead": 0})
    );
    // Another owner's plan, due after the ninth: one plan ahead of it.
    let other = plan_of(&pool, "other").await;
    assert_eq!(wait_reason(&pool, other).await, json!({"reason": "queued", "ahead": 1}));
    // Submitted through the API and due now: the answer says why it waits (counted in the
    // statement that inserts it), and a read says the same.
    let body = json!({"destination": "成都", "start_date": in_days(20), "days": 2});
    let reply = call(&router(&pool), "POST", "/v1/plans", Some(&body.to_string()), &[]).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    assert_eq!(reply.body["wait_reason"], json!({"reason": "queued", "ahead": 2}));
    let submitted: Uuid = reply.body["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        wait_reason(&pool, submitted).await,
        json!({"reason": "queued", "ahead": 2})
    );
    // Scheduled through the API: not due, and not claimed, before `not_before`.
    let later = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let body = json!({"destination": "成都", "start_date": in_days(20), "days": 2, "not_before": later});
    let reply = call(&router(&pool), "POST", "/v1/plans", Some(&body.to_string()), &[]).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    assert_eq!(reply.body["wait_reason"]["reason"], "scheduled");
    let scheduled: Uuid = reply.body["id"].as_str().unwrap().parse().unwrap();
    let claimed_now: Vec<Uuid> = claim(&pool, 100, 100, None).await.iter().map(|c| c.plan_id).collect();
    assert!(!claimed_now.contains(&scheduled) && claimed_now.contains(&other));
    // A running plan waits for nothing.
    assert_eq!(wait_reason(&pool, other).await, Value::Null);

    // The gauge's figures agree with the plans' own reasons.
    let queued: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM plans WHERE status = 'queued'")
        .fetch_all(&pool)
        .await
        .unwrap();
    let mut by_reason: std::collections::BTreeMap<String, i64> = Default::default();
    for id in queued {
        let reason = wait_reason(&pool, id).await["reason"].as_str().unwrap().to_string();
        *by_reason.entry(reason).or_default() += 1;
    }
    let gauge: std::collections::BTreeMap<String, i64> = queue::waiting(&pool, 8)
        .await
        .unwrap()
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect();
    assert_eq!(gauge, by_reason);
    assert_eq!(
        by_reason.keys().collect::<Vec<_>>(),
        ["backoff", "scheduled", "upstream_wait:amap"]
    );
}

#[sqlx::test(migrations = false)]
async fn a_bad_not_before_is_refused_naming_the_field(pool: PgPool) {
    migrated(&pool).await;
    let app = router(&pool);
    let too_far = (chrono::Utc::now() + chrono::Duration::days(400)).to_rfc3339();
    for not_before in [json!("tomorrow"), json!(too_far), json!(20261201)] {
        let body = json!({"destination": "成都", "start_date": in_days(20), "days": 2, "not_before": not_before});
        let reply = call(&app, "POST", "/v1/plans", Some(&body.to_string()), &[]).await;
        assert_eq!(reply.status, 400, "{not_before}: {}", reply.text);
        assert_eq!(reply.body["error"]["field"], "not_before", "{}", reply.text);
    }
    let plans: i64 = sqlx::query_scalar("SELECT count(*) FROM plans")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(plans, 0);
}
