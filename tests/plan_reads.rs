//! Batched plan reads (`plan_reads::Reads`) against real PostgreSQL: many reads asked at once
//! share statements, and each asker still gets its own plan, as one read alone sees it —
//! the same plan asked twice, a plan that does not exist, plans of several owners in every
//! state a reader meets.

mod common;

use common::{migrated, plan_of};
use futures::future::join_all;
use planner::store::{
    plan_reads::{self, PlanRead, Reads},
    queue::{self, ClaimLimits},
};
use sqlx::PgPool;
use uuid::Uuid;

/// What a reader is shown of a read, to compare two reads of the same plan.
fn shown(read: &Option<PlanRead>) -> Option<String> {
    read.as_ref().map(|r| {
        format!(
            "{} {} {:?} {:?} run {}",
            r.plan.id,
            r.plan.status.as_str(),
            r.done,
            r.wait,
            r.plan.runs
        )
    })
}

#[sqlx::test(migrations = false)]
async fn reads_asked_together_each_get_their_own_plan_as_a_read_alone_sees_it(pool: PgPool) {
    migrated(&pool).await;
    let mut ids = Vec::new();
    for i in 0..40 {
        ids.push(plan_of(&pool, &format!("owner-{}", i % 4)).await);
    }
    // Some running (so that owners have running plans and some plans wait on their quota),
    // the rest queued.
    let limits = ClaimLimits {
        max: 12,
        owner_cap: 8,
        after_owner: None,
    };
    let claimed = queue::claim(&pool, "test-worker", limits, Some("understand"), uuid::Uuid::new_v4())
        .await
        .unwrap();
    assert_eq!(claimed.len(), 12);
    let unknown = Uuid::now_v7();
    // Every plan three times, and a plan that does not exist, all asked at once.
    let asked: Vec<Uuid> = ids.iter().chain(&ids).chain(&ids).copied().chain([unknown]).collect();
    let reads = Reads::spawn(pool.clone(), 8);
    let answers = join_all(asked.iter().map(|id| reads.read(*id))).await;

    let mut alone = Vec::new();
    for id in &asked {
        alone.push(plan_reads::read(&pool, *id, 8).await.unwrap());
    }
    let mut waits = std::collections::BTreeSet::new();
    for ((id, batched), alone) in asked.iter().zip(answers).zip(alone) {
        let batched = batched.unwrap();
        assert_eq!(shown(&batched), shown(&alone), "plan {id}");
        match &batched {
            Some(read) => {
                assert_eq!(read.plan.id, *id);
                if let Some(wait) = &read.wait {
                    waits.insert(wait.code());
                }
            }
            None => assert_eq!(*id, unknown),
        }
    }
    // The reads met both reasons a due plan waits for.
    assert_eq!(
        waits.into_iter().collect::<Vec<_>>(),
        ["owner_quota", "queued"],
        "reasons seen"
    );
}

#[sqlx::test(migrations = false)]
async fn the_reads_connections_run_generic_plans_even_after_the_server_drops_one(pool: PgPool) {
    let reads = planner::db::generic_plan_pool(&pool, 2);
    let mode = |p: PgPool| async move {
        sqlx::query_as::<_, (String, i32)>("SELECT current_setting('plan_cache_mode'), pg_backend_pid()")
            .fetch_one(&p)
            .await
            .unwrap()
    };
    let (first, pid) = mode(reads.clone()).await;
    assert_eq!(first, "force_generic_plan");
    assert_eq!(
        mode(pool.clone()).await.0,
        "auto",
        "the shared pool keeps PostgreSQL's choice"
    );

    let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(ended);
    // Idle long enough that the pool pings it before handing it out, finds it gone and opens
    // another.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (again, new_pid) = mode(reads.clone()).await;
    assert_ne!(new_pid, pid, "a new connection");
    assert_eq!(again, "force_generic_plan");
}
