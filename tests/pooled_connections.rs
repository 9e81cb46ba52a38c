//! The pool hands out connections without a round trip of its own (`db::connect`, and the
//! release patch in `vendor/sqlx-core`): a statement abandoned mid-flight must not leak its
//! answer, nor its error, to the connection's next user, a dropped transaction must be rolled
//! back at once rather than when the connection is next used, and a connection the server
//! dropped while it sat idle must be replaced rather than fail a query.

mod common;

use std::time::{Duration, Instant};

use common::database_url;
use sqlx::{Connection, PgConnection, PgPool};

async fn backend_pid(conn: &mut PgConnection) -> i32 {
    sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(conn)
        .await
        .unwrap()
}

#[sqlx::test(migrations = false)]
async fn a_statement_dropped_mid_flight_leaves_its_connection_clean(test_pool: PgPool) {
    let pool = planner::db::connect(&database_url(&test_pool).await, 2).await.unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let abandoned_pid = backend_pid(&mut conn).await;
    let slow = sqlx::query_scalar::<_, i32>("SELECT 41 FROM pg_sleep(0.3)").fetch_one(&mut *conn);
    assert!(
        tokio::time::timeout(Duration::from_millis(50), slow).await.is_err(),
        "the statement is abandoned"
    );
    drop(conn);

    // Both connections of the pool at once, so that one of them is the abandoned one.
    let (mut a, mut b) = (pool.acquire().await.unwrap(), pool.acquire().await.unwrap());
    let pids = [backend_pid(&mut a).await, backend_pid(&mut b).await];
    assert!(
        pids.contains(&abandoned_pid),
        "the abandoned connection went back to the pool: {pids:?} / {abandoned_pid}"
    );
    for conn in [&mut a, &mut b] {
        for n in 0..3 {
            let answer: i32 = sqlx::query_scalar("SELECT $1")
                .bind(n)
                .fetch_one(&mut **conn)
                .await
                .unwrap();
            assert_eq!(
                answer, n,
                "each statement gets its own answer, never the abandoned one's"
            );
        }
    }
}

#[sqlx::test(migrations = false)]
async fn the_error_of_an_abandoned_statement_never_reaches_the_next_user(test_pool: PgPool) {
    let pool = planner::db::connect(&database_url(&test_pool).await, 2).await.unwrap();
    // One connection held aside, so that the statement below runs on the other one.
    let held = pool.acquire().await.unwrap();
    // Fails on the server after the caller has given up (random() keeps it from failing early).
    let failing = sqlx::query_scalar::<_, i32>("SELECT 1 / (random() * 0)::int FROM pg_sleep(0.2)").fetch_one(&pool);
    assert!(tokio::time::timeout(Duration::from_millis(50), failing).await.is_err());
    // Had the abandoned connection gone straight back, it would now be first in line. (sqlx 0.9,
    // patched or not, may keep it out of the pool for good once its release ping meets the
    // error: the next users get the other connection.)
    drop(held);

    for n in 0..10 {
        let answer: i32 = sqlx::query_scalar("SELECT $1").bind(n).fetch_one(&pool).await.unwrap();
        assert_eq!(answer, n);
        let mut tx = pool.begin().await.unwrap();
        let answer: i32 = sqlx::query_scalar("SELECT $1")
            .bind(n)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(answer, n);
        tx.commit().await.unwrap();
    }
    let stuck: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(stuck, 0, "no connection was left inside a transaction");
}

#[sqlx::test(migrations = false)]
async fn a_dropped_transaction_is_rolled_back_before_the_connection_is_used_again(test_pool: PgPool) {
    let url = database_url(&test_pool).await;
    let pool = planner::db::connect(&url, 2).await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock(4242)")
        .execute(&mut *tx)
        .await
        .unwrap();
    drop(tx);

    // Nothing uses the pool again: only the release may send the rollback.
    let mut other = PgConnection::connect(&url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(4242)")
            .fetch_one(&mut other)
            .await
            .unwrap();
        if got {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the dropped transaction still holds its lock after 2 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let idle_in_transaction: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
    )
    .fetch_one(&mut other)
    .await
    .unwrap();
    assert_eq!(idle_in_transaction, 0);
}

#[sqlx::test(migrations = false)]
async fn a_connection_dropped_by_the_server_while_idle_is_replaced(test_pool: PgPool) {
    let url = database_url(&test_pool).await;
    let pool = planner::db::connect(&url, 2).await.unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let first = backend_pid(&mut conn).await;
    drop(conn);
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut admin = PgConnection::connect(&url).await.unwrap();
    let terminated: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(first)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert!(terminated);
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut conn = pool.acquire().await.expect("the pool replaces the dropped connection");
    let second = backend_pid(&mut conn).await;
    assert_ne!(second, first);
    let answer: i32 = sqlx::query_scalar("SELECT 7").fetch_one(&mut *conn).await.unwrap();
    assert_eq!(answer, 7);
}
