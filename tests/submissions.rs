//! Batched submissions (`submissions::submit_all`, `submissions::Submissions`) against real PostgreSQL:
//! plans submitted in one statement each get their own plan and `queued` event, the reason
//! each waits as a read of it says, and an idempotency key still makes one plan.

mod common;

use common::{in_days, migrated};
use futures::future::join_all;
use planner::store::{
    plan_reads,
    queue::{self, ClaimLimits, WaitReason},
    submissions::{self, Created, NewPlan, Submissions},
};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

fn request(days: u32) -> Value {
    json!({"destination": "杭州", "start_date": in_days(5), "days": days})
}

fn new<'a>(owner: &'a str, request: &'a Value, key: Option<&'a str>) -> NewPlan<'a> {
    NewPlan {
        owner,
        trace_context: None,
        idempotency_key: key,
        request,
        max_attempts: 5,
        not_before: None,
    }
}

fn id_of(created: &Created) -> Uuid {
    match created {
        Created::New(p) | Created::Existing(p) | Created::KeyReused(p) => p.id,
    }
}

async fn queued_events(pool: &PgPool, id: Uuid) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM plan_events WHERE plan_id = $1 AND kind = 'queued'")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = false)]
async fn plans_submitted_in_one_statement_wait_as_a_read_of_each_says(pool: PgPool) {
    migrated(&pool).await;
    // Two of owner a's plans running and three queued before the batch.
    let two = request(2);
    for _ in 0..5 {
        submissions::create(&pool, new("a", &two, None)).await.unwrap();
    }
    let limits = ClaimLimits {
        max: 2,
        owner_cap: 8,
        after_owner: None,
    };
    assert_eq!(
        queue::claim(&pool, "w", limits, None, uuid::Uuid::new_v4())
            .await
            .unwrap()
            .len(),
        2
    );

    let three = request(3);
    let later = chrono::Utc::now() + chrono::Duration::hours(2);
    let mut batch: Vec<NewPlan> = (0..6).map(|_| new("a", &two, None)).collect();
    batch.extend((0..3).map(|_| new("b", &two, None)));
    batch.push(NewPlan {
        not_before: Some(later),
        ..new("b", &two, None)
    });
    // One key three times: the first makes the plan, the same request again is that plan,
    // a different request under it is refused.
    batch.push(new("b", &two, Some("k")));
    batch.push(new("b", &two, Some("k")));
    batch.push(new("b", &three, Some("k")));
    let answers = submissions::submit_all(&pool, batch, 8).await.unwrap();
    assert_eq!(answers.len(), 13);

    let mut reasons = Vec::new();
    for (created, wait) in &answers[..11] {
        let Created::New(plan) = created else {
            panic!("a new plan expected");
        };
        assert_eq!(queued_events(&pool, plan.id).await, 1);
        let read = plan_reads::read(&pool, plan.id, 8).await.unwrap().unwrap();
        assert_eq!(wait, &read.wait, "plan {} of {}", plan.id, plan.owner);
        reasons.push(wait.as_ref().map(WaitReason::code).unwrap_or_default());
    }
    // a: 2 running + 3 queued before, so its first three new plans have room and the next
    // three wait on its quota; b's due plans have room; one of b's is scheduled.
    assert_eq!(reasons.iter().filter(|r| *r == "owner_quota").count(), 3, "{reasons:?}");
    assert_eq!(reasons.iter().filter(|r| *r == "scheduled").count(), 1, "{reasons:?}");
    assert_eq!(reasons.iter().filter(|r| *r == "queued").count(), 7, "{reasons:?}");
    // The scheduled plan's `queued` event names its time as the API writes times.
    let scheduled = id_of(&answers[9].0);
    let detail: Value = sqlx::query_scalar("SELECT detail FROM plan_events WHERE plan_id = $1 AND kind = 'queued'")
        .bind(scheduled)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(detail, json!({"not_before": later}));
    let keyed = id_of(&answers[10].0);
    assert!(matches!(&answers[11].0, Created::Existing(p) if p.id == keyed));
    assert!(matches!(&answers[12].0, Created::KeyReused(p) if p.id == keyed));
    let plans: i64 = sqlx::query_scalar("SELECT count(*) FROM plans")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(plans, 5 + 11);
}

#[sqlx::test(migrations = false)]
async fn submissions_asked_together_each_get_one_plan_and_a_key_one_plan_only(pool: PgPool) {
    migrated(&pool).await;
    let submissions = Submissions::spawn(pool.clone(), 8);
    let two = request(2);
    let three = request(3);
    let owners: Vec<String> = (0..5).map(|i| format!("owner-{i}")).collect();
    let mut asked: Vec<NewPlan> = (0..100).map(|i| new(&owners[i % 5], &two, None)).collect();
    asked.extend((0..10).map(|_| new("keyed", &two, Some("same"))));
    asked.push(new("keyed", &three, Some("same")));
    let answers = join_all(asked.into_iter().map(|n| submissions.submit(n))).await;
    let answers: Vec<Created> = answers.into_iter().map(|a| a.unwrap().0).collect();

    let unkeyed: std::collections::BTreeSet<Uuid> = answers[..100]
        .iter()
        .map(|c| match c {
            Created::New(p) => p.id,
            _ => panic!("a new plan expected"),
        })
        .collect();
    assert_eq!(unkeyed.len(), 100, "every submission its own plan");
    for id in &unkeyed {
        assert_eq!(queued_events(&pool, *id).await, 1);
    }
    let keyed: Vec<&Created> = answers[100..110].iter().collect();
    assert_eq!(keyed.iter().filter(|c| matches!(c, Created::New(_))).count(), 1);
    assert_eq!(keyed.iter().filter(|c| matches!(c, Created::Existing(_))).count(), 9);
    let the_plan = id_of(keyed[0]);
    assert!(keyed.iter().all(|c| id_of(c) == the_plan));
    assert!(matches!(&answers[110], Created::KeyReused(p) if p.id == the_plan));
    let plans: i64 = sqlx::query_scalar("SELECT count(*) FROM plans")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(plans, 101);
}
