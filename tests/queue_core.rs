//! The queue core against real PostgreSQL, without a worker process: claims are batched, fair
//! between owners and capped per owner, also when they run side by side (a claim locks only the
//! owners it reaches, and reads each as it is once locked); a worker's claimed
//! plans not yet started go back to the queue when it stops; a queued plan's `wait_reason` (and the
//! `planner_plans_waiting` figures) say truly why it waits; `not_before` schedules a plan.

mod common;

use std::time::Duration;

use common::{call, in_days, migrated, plan_of, router};
use planner::{
    queue::{claims::Claims, consumer::Consumer, wake::Wake},
    store::{
        durable::WriteId,
        plan_error::PlanError,
        queue::{self, ClaimLimits, Claimed},
        runs::{self, Requeue},
        submissions::{self, Created, NewPlan},
    },
};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

async fn claim(pool: &PgPool, max: usize, cap: u32, after: Option<&str>) -> Vec<Claimed> {
    let limits = ClaimLimits {
        max,
        owner_cap: cap,
        after_owner: after,
    };
    queue::claim(pool, "test-worker", limits, Some("understand"), Uuid::new_v4())
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

async fn running_by_owner(pool: &PgPool) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT owner, count(*) FROM plans WHERE status = 'running' GROUP BY owner ORDER BY owner")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = false)]
async fn claims_side_by_side_skip_an_owner_being_served_and_never_pass_a_cap(pool: PgPool) {
    migrated(&pool).await;
    for owner in ["a", "b", "c", "d"] {
        for _ in 0..12 {
            plan_of(&pool, owner).await;
        }
    }
    // Another claim is serving a right now (it holds a's lock until it commits): this
    // claim does not wait for it, and takes b's plans instead.
    let mut serving_a = pool.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock(1885433202, hashtext('a'))")
        .execute(&mut *serving_a)
        .await
        .unwrap();
    let claimed = tokio::time::timeout(Duration::from_secs(5), claim(&pool, 3, 3, None))
        .await
        .expect("a claim waited for another claim's owner");
    assert!(claimed.iter().all(|c| c.owner == "b"), "{claimed:?}");
    assert_eq!(claimed.len(), 3);
    serving_a.commit().await.unwrap();
    let claimed = claim(&pool, 3, 3, None).await;
    assert!(claimed.iter().all(|c| c.owner == "a"), "{claimed:?}");
    assert_eq!(claimed.len(), 3);

    // Sixteen claims at once, each wanting more than the caps allow: every owner ends at its
    // cap of 5, none past it, and no plan is claimed twice.
    let claims: Vec<_> = (0..16)
        .map(|i| {
            let pool = pool.clone();
            let after = ["a", "b", "c", "d"][i % 4];
            tokio::spawn(async move {
                let limits = ClaimLimits {
                    max: 4,
                    owner_cap: 5,
                    after_owner: Some(after),
                };
                queue::claim(&pool, &format!("worker-{i}"), limits, None, Uuid::new_v4())
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut ids = Vec::new();
    for claim in claims {
        ids.extend(claim.await.unwrap().into_iter().map(|c| c.plan_id));
    }
    let running = running_by_owner(&pool).await;
    assert!(running.iter().all(|(_, n)| *n <= 5), "{running:?}");
    let claimed_now = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), claimed_now, "a plan was claimed twice");
    // A last claim tops every owner up to its cap: the claims above skipped, never overran.
    claim(&pool, 20, 5, None).await;
    let running = running_by_owner(&pool).await;
    assert_eq!(
        running,
        vec![
            ("a".to_string(), 5),
            ("b".to_string(), 5),
            ("c".to_string(), 5),
            ("d".to_string(), 5)
        ]
    );
}

#[sqlx::test(migrations = false)]
async fn a_claim_locks_only_the_owners_it_reaches(pool: PgPool) {
    migrated(&pool).await;
    for owner in ["a", "b", "c", "d"] {
        for _ in 0..4 {
            plan_of(&pool, owner).await;
        }
    }
    let locked_owners = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()";
    // Full after a's three and b's first: c and d are neither locked nor read, so a claim
    // beside this one (still open) may serve them.
    let mut claiming = pool.begin().await.unwrap();
    let taken: Vec<(String,)> = sqlx::query_as("SELECT owner FROM claim_plans('w1', 4, 3, NULL, NULL)")
        .fetch_all(&mut *claiming)
        .await
        .unwrap();
    assert_eq!(taken, [("a",), ("a",), ("a",), ("b",)].map(|(o,)| (o.to_string(),)));
    let locks: i64 = sqlx::query_scalar(locked_owners)
        .fetch_one(&mut *claiming)
        .await
        .unwrap();
    assert_eq!(locks, 2);
    let beside = tokio::time::timeout(Duration::from_secs(5), claim(&pool, 8, 3, Some("b")))
        .await
        .expect("a claim waited for another claim's owner");
    let owners: Vec<&str> = beside.iter().map(|c| c.owner.as_str()).collect();
    assert_eq!(owners, ["c", "c", "c", "d", "d", "d"]);
    claiming.commit().await.unwrap();

    // Past the last owner, a claim goes round to the first ones: a has no room left, b has.
    let mut claiming = pool.begin().await.unwrap();
    let taken: Vec<(String,)> = sqlx::query_as("SELECT owner FROM claim_plans('w1', 5, 3, NULL, 'd')")
        .fetch_all(&mut *claiming)
        .await
        .unwrap();
    assert_eq!(taken, [("b",), ("b",)].map(|(o,)| (o.to_string(),)));
    let locks: i64 = sqlx::query_scalar(locked_owners)
        .fetch_one(&mut *claiming)
        .await
        .unwrap();
    assert_eq!(locks, 4, "every owner with queued plans was visited once");
    claiming.commit().await.unwrap();
}

#[sqlx::test(migrations = false)]
async fn a_claim_reads_each_owner_as_it_is_once_locked(pool: PgPool) {
    migrated(&pool).await;
    let older = plan_of(&pool, "x").await;
    plan_of(&pool, "y").await;
    // On one connection only, taking owner x's lock is slowed: that claim began reading the
    // database before another claim serves x and commits, and locks x after.
    sqlx::query(
        "CREATE FUNCTION public.hashtext(t text) RETURNS integer LANGUAGE plpgsql AS $$
         BEGIN
            IF t = 'x' AND current_setting('test.slow_owner', true) = 'on' THEN PERFORM pg_sleep(2); END IF;
            RETURN pg_catalog.hashtext(t);
         END $$",
    )
    .execute(&pool)
    .await
    .unwrap();
    let mut slow = pool.acquire().await.unwrap();
    sqlx::query("SET search_path = public, pg_catalog")
        .execute(&mut *slow)
        .await
        .unwrap();
    sqlx::query("SET test.slow_owner = 'on'")
        .execute(&mut *slow)
        .await
        .unwrap();
    let slow_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *slow)
        .await
        .unwrap();
    let slow_claim = tokio::spawn(async move {
        sqlx::query_as::<_, (Uuid, String)>("SELECT id, owner FROM claim_plans('slow', 10, 1, NULL, NULL)")
            .fetch_all(&mut *slow)
            .await
            .unwrap()
    });
    let started = std::time::Instant::now();
    loop {
        let waiting: Option<String> = sqlx::query_scalar("SELECT wait_event FROM pg_stat_activity WHERE pid = $1")
            .bind(slow_pid)
            .fetch_optional(&pool)
            .await
            .unwrap()
            .flatten();
        if waiting.as_deref() == Some("PgSleep") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the slow claim never reached x"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Meanwhile a plan of x due before the older one arrives, and another claim takes it (x is
    // then at its cap of 1) and y's plan.
    let first_due = plan_of(&pool, "x").await;
    sqlx::query("UPDATE plans SET due_at = now() - interval '1 hour' WHERE id = $1")
        .bind(first_due)
        .execute(&pool)
        .await
        .unwrap();
    let other: Vec<Uuid> = claim(&pool, 10, 1, None).await.into_iter().map(|c| c.plan_id).collect();
    assert_eq!(other.len(), 2, "{other:?}");
    assert!(other.contains(&first_due) && !other.contains(&older));

    // The slow claim locks x only now: what it read of x before is stale, and taking the older
    // plan would put x past its cap.
    let taken = slow_claim.await.unwrap();
    assert!(taken.is_empty(), "{taken:?}");
    assert_eq!(
        running_by_owner(&pool).await,
        vec![("x".to_string(), 1), ("y".to_string(), 1)]
    );
}

#[sqlx::test(migrations = false)]
async fn a_stopping_worker_hands_back_the_plans_it_claimed_and_never_started(pool: PgPool) {
    migrated(&pool).await;
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(plan_of(&pool, "a").await);
    }
    let consumer = Consumer {
        concurrency: 2,
        owner_cap: 8,
        prefetch: 2,
        entry: Some("understand"),
        heartbeat: Duration::from_secs(10),
        silent_for: Duration::from_secs(30),
        retry_base: Duration::from_secs(2),
    };
    let wake = Wake::listen(&pool, Duration::from_secs(1));
    let claims = Claims::new(pool.clone(), std::sync::Arc::new(consumer), wake.nudger());
    // Two free slots and a prefetch of two: one claim of four, in the background.
    assert!(claims.take("worker-1", 2).is_empty());
    let mut started = Vec::new();
    for _ in 0..100 {
        started = claims.take("worker-1", 1);
        if !started.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(started.len(), 1, "the claim never landed");
    assert_eq!(started[0].plan_id, ids[0]);
    assert_eq!(running_by_owner(&pool).await, vec![("a".to_string(), 4)]);

    claims.close().await;
    // The one started keeps running; the three claimed for later are queued again, with their
    // attempt given back, and say so on their timelines.
    assert_eq!(running_by_owner(&pool).await, vec![("a".to_string(), 1)]);
    let back: Vec<(Uuid, i32)> = sqlx::query_as(
        "SELECT p.id, p.attempts FROM plans p JOIN plan_events e ON e.plan_id = p.id
         WHERE p.status = 'queued' AND e.kind = 'handed_back' ORDER BY p.created_at",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(back, vec![(ids[1], 0), (ids[2], 0), (ids[3], 0)]);
    // A closed worker claims nothing more.
    assert!(claims.take("worker-1", 2).is_empty());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(running_by_owner(&pool).await, vec![("a".to_string(), 1)]);
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
        WriteId::new(),
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
        WriteId::new(),
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
async fn a_submission_its_owner_has_no_room_for_says_owner_quota(pool: PgPool) {
    migrated(&pool).await;
    // Eight of the API's owner's plans running (the default cap) and two more queued.
    for _ in 0..10 {
        plan_of(&pool, "anonymous").await;
    }
    assert_eq!(claim(&pool, 8, 8, None).await.len(), 8);
    let body = json!({"destination": "成都", "start_date": in_days(20), "days": 2});
    let reply = call(&router(&pool), "POST", "/v1/plans", Some(&body.to_string()), &[]).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    assert_eq!(
        reply.body["wait_reason"],
        json!({"reason": "owner_quota", "running": 8, "cap": 8})
    );
    // Another owner's plan has room: it counts every due plan before it.
    let other = plan_of(&pool, "other").await;
    assert_eq!(wait_reason(&pool, other).await, json!({"reason": "queued", "ahead": 3}));
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

/// Submissions announce after their commit, not inside it (the migration `caller_announces`):
/// a due plan still wakes the workers and names itself on the timeline channel; a scheduled
/// plan names itself but wakes nobody; and other timeline writes still announce through the
/// trigger.
#[sqlx::test(migrations = false)]
async fn a_submission_announces_itself_after_its_commit(pool: PgPool) {
    use planner::store::{events, states::EventKind, timeline};
    use sqlx::postgres::PgListener;

    migrated(&pool).await;
    let mut listener = PgListener::connect_with(&pool).await.unwrap();
    listener
        .listen_all([timeline::CHANNEL, queue::WAKE_CHANNEL])
        .await
        .unwrap();
    let mut next = async || {
        let n = tokio::time::timeout(Duration::from_secs(5), listener.recv())
            .await
            .expect("a notification within 5 s")
            .unwrap();
        (n.channel().to_owned(), n.payload().to_owned())
    };

    let due = plan_of(&pool, "alice").await;
    let mut got = vec![next().await, next().await];
    got.sort();
    assert_eq!(
        got,
        vec![
            (timeline::CHANNEL.to_owned(), due.to_string()),
            (queue::WAKE_CHANNEL.to_owned(), String::new()),
        ]
    );

    let request = json!({"destination": "杭州", "start_date": in_days(5), "days": 2});
    let later = NewPlan {
        owner: "alice",
        trace_context: None,
        idempotency_key: None,
        request: &request,
        max_attempts: 5,
        not_before: Some(chrono::Utc::now() + chrono::Duration::hours(1)),
    };
    let Created::New(scheduled) = submissions::create(&pool, later).await.unwrap() else {
        panic!("plan not created")
    };
    assert_eq!(next().await, (timeline::CHANNEL.to_owned(), scheduled.id.to_string()));

    let mut tx = pool.begin().await.unwrap();
    events::record(&mut tx, due, EventKind::NodeStarted, Some("understand"), 1, json!({}))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        next().await,
        (timeline::CHANNEL.to_owned(), due.to_string()),
        "the trigger announces other writes"
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(300), listener.recv())
            .await
            .is_err(),
        "nothing else was announced (the scheduled plan woke nobody)"
    );
}
