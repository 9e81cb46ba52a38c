//! Chaos of another kind: every connection to the database is terminated once a second for
//! 20 s (`pg_terminate_backend`, as poolers, failovers and idle timeouts do) while 300 plans
//! run on two worker processes. A consumer whose stream ends on a dropped connection is
//! restarted, and the plans it had in flight must not wait for the stuck-plan rescue (11 min
//! by default): every plan succeeds within 30 s of the storm, none is finalized twice.
//! Prints the figures.

mod common;

use std::{
    str::FromStr,
    time::{Duration, Instant},
};

use common::{Proc, database_url, in_days, migrated, pg_proxy::PgProxy};
use planner::store::submissions::{self, Created, NewPlan};
use serde_json::json;
use sqlx::{
    ConnectOptions, Connection, PgConnection, PgPool,
    postgres::{PgConnectOptions, PgSslMode},
};

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

/// Wraps the real `claim_plans` so that claims' answers cannot be read (`runs` NULL, which
/// no worker decodes) after they commit: the first claim that takes plans only, or every one.
async fn lose_claims_answers(pool: &PgPool, every_time: bool) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE claim_trap (armed boolean NOT NULL, every_time boolean NOT NULL);
         INSERT INTO claim_trap VALUES (true, {every_time});
         ALTER FUNCTION claim_plans(text, integer, integer, text, text, uuid) RENAME TO claim_plans_real;
         CREATE FUNCTION claim_plans(worker text, max_plans integer, owner_cap integer, entry text,
                                     after_owner text, claim_id uuid DEFAULT NULL)
         RETURNS TABLE (
             id uuid, owner text, runs integer, attempts integer, max_attempts integer, request jsonb,
             approval jsonb, created_at timestamptz, first_start boolean, trace_context jsonb, checkpoints jsonb
         )
         LANGUAGE plpgsql AS $$
         DECLARE
             sprung boolean;
         BEGIN
             CREATE TEMP TABLE IF NOT EXISTS claimed_now ON COMMIT DROP AS
                 SELECT * FROM claim_plans_real(worker, max_plans, owner_cap, entry, after_owner, claim_id) WITH NO DATA;
             INSERT INTO claimed_now
                 SELECT * FROM claim_plans_real(worker, max_plans, owner_cap, entry, after_owner, claim_id);
             sprung := EXISTS (SELECT 1 FROM claimed_now)
                       AND EXISTS (SELECT 1 FROM claim_trap WHERE armed);
             IF sprung THEN
                 UPDATE claim_trap SET armed = every_time;
             END IF;
             RETURN QUERY SELECT c.id, c.owner, CASE WHEN sprung THEN NULL ELSE c.runs END, c.attempts,
                                 c.max_attempts, c.request, c.approval, c.created_at, c.first_start,
                                 c.trace_context, c.checkpoints
                          FROM claimed_now c;
         END
         $$;"
    )))
    .execute(pool)
    .await
    .unwrap();
}

async fn plans_in(pool: &PgPool, cities: &[&str]) -> Vec<uuid::Uuid> {
    let mut ids = Vec::new();
    for city in cities {
        let request = json!({"destination": city, "start_date": in_days(3), "days": 2});
        ids.push(common::create_plan(pool, &request, 3).await);
    }
    ids
}

/// The narrowest case of the storm: a claim that commits and whose answer never reaches its
/// worker (here made unreadable, once): the plans are `running` under a worker that
/// heartbeats and never got them. The worker settles them at once, as after any transient
/// failure (the attempt spent, back in the queue after the backoff), and they succeed, rather
/// than waiting for the stuck-plan rescue after the longest a run may take.
#[sqlx::test(migrations = false)]
async fn a_claim_whose_answer_is_lost_puts_its_plans_back_at_once(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    lose_claims_answers(&pool, false).await;
    let ids = plans_in(&pool, &["北京", "上海", "杭州"]).await;
    let started = Instant::now();
    let _worker = Proc::worker(&url, &[("PLAN_RETRY_BASE_MS", "200")]);
    for id in &ids {
        common::wait_for(&pool, *id, Duration::from_secs(60), |s, _| s == "succeeded").await;
    }
    let took = started.elapsed();
    let armed: bool = sqlx::query_scalar("SELECT armed FROM claim_trap")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(!armed, "no claim's answer was lost: the test tested nothing");
    let (released, attempts): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM plan_events WHERE kind = 'retry_scheduled' AND detail->'error'->>'node' = 'claim'),
                (SELECT sum(attempts) FROM plans)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(released >= 1, "the lost claim's plans were not put back");
    assert_eq!(
        attempts,
        ids.len() as i64 + released,
        "one attempt spent per plan the lost claim took"
    );
    println!(
        "a lost claim's answer: {released} plans put back, all {} succeeded {took:.1?} after the worker started",
        ids.len()
    );
}

/// A claim whose answer is lost every time does not go round for ever: each loss spends the
/// plans' attempt, and they fail once none is left, naming the claim.
#[sqlx::test(migrations = false)]
async fn claims_whose_answers_are_always_lost_fail_their_plans_after_max_attempts(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    lose_claims_answers(&pool, true).await;
    let ids = plans_in(&pool, &["成都", "西安"]).await;
    let _worker = Proc::worker(&url, &[("PLAN_RETRY_BASE_MS", "100")]);
    for id in &ids {
        let (_, attempts) = common::wait_for(&pool, *id, Duration::from_secs(60), |s, _| s == "failed").await;
        assert_eq!(attempts, 3);
        let (code, node, error) = common::failure_of(&pool, *id).await;
        assert_eq!(
            (code.as_deref(), node.as_deref()),
            (Some("attempts_exhausted"), Some("claim")),
            "{error}"
        );
    }
}

/// The worker's database URL through `proxy`.
fn through(proxy: &PgProxy, url: &str) -> String {
    PgConnectOptions::from_str(url)
        .unwrap()
        .host("127.0.0.1")
        .port(proxy.port)
        .ssl_mode(PgSslMode::Disable)
        .to_url_lossy()
        .to_string()
}

/// A worker whose connections go through a proxy watching the statement `marker` names, armed
/// by `arm` before the worker starts; with the worker's metrics address.
async fn proxied_worker(
    pool: &PgPool,
    marker: &str,
    arm: impl FnOnce(&PgProxy),
    env: &[(&str, &str)],
) -> (PgProxy, Proc, String) {
    let url = database_url(pool).await;
    let server = PgConnectOptions::from_str(&url).unwrap();
    let proxy = PgProxy::start(&format!("{}:{}", server.get_host(), server.get_port()), marker).await;
    arm(&proxy);
    let metrics_addr = format!("127.0.0.1:{}", common::free_port());
    let mut env = env.to_vec();
    env.push(("WORKER_ADDR", &metrics_addr));
    let worker = Proc::worker(&through(&proxy, &url), &env);
    (proxy, worker, metrics_addr)
}

/// Node events written more than once for a plan: (kind, node, times).
async fn repeated_events(pool: &PgPool, id: uuid::Uuid) -> Vec<(String, String, i64)> {
    sqlx::query_as(
        "SELECT kind, node, count(*) FROM plan_events WHERE plan_id = $1 AND node IS NOT NULL
         GROUP BY kind, node HAVING count(*) > 1",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// A run's write (checkpoints, node events, or the result) that commits and whose answer is
/// lost with its connection: the worker's next try finds it in the database and carries on.
/// The plan keeps its attempt, nothing is written twice, and a success is counted once.
#[sqlx::test(migrations = false)]
async fn a_write_whose_answer_is_lost_is_neither_spent_nor_written_twice(pool: PgPool) {
    migrated(&pool).await;
    let env = [("PLAN_RETRY_BASE_MS", "200")];
    let (proxy, _worker, metrics_addr) = proxied_worker(&pool, "INSERT INTO plan_checkpoints", |_| {}, &env).await;

    // A plan undisturbed: how many writes a plan makes, its result the last. (Read once the
    // worker has counted the success: it has had the answer, so the proxy has counted it.)
    let [quiet] = plans_in(&pool, &["北京"]).await[..] else {
        unreachable!()
    };
    common::wait_for(&pool, quiet, Duration::from_secs(60), |s, _| s == "succeeded").await;
    common::shows_metric(&metrics_addr, "planner_plans_finished_total{status=\"succeeded\"} 1").await;
    let writes = proxy.executed();
    assert!(
        writes >= 2,
        "a plan wrote {writes} times: no checkpoint before its result"
    );

    // The same plan again, its first write (checkpoints of a run under way) lost; then again,
    // its last (the result).
    for (n, lost) in [1, writes].into_iter().enumerate() {
        proxy.drop_after(lost);
        let [id] = plans_in(&pool, &["北京"]).await[..] else {
            unreachable!()
        };
        let (_, attempts) = common::wait_for(&pool, id, Duration::from_secs(60), |s, _| s == "succeeded").await;
        assert_eq!(
            attempts, 1,
            "write {lost} of {writes} lost with its connection spent an attempt"
        );
        assert_eq!(
            repeated_events(&pool, id).await,
            vec![],
            "write {lost} of {writes} written twice"
        );
        let succeeded = format!("planner_plans_finished_total{{status=\"succeeded\"}} {}", n + 2);
        common::shows_metric(&metrics_addr, &succeeded).await;
        assert_eq!(proxy.dropped(), n + 1, "no answer was lost: the test tested nothing");
    }
    // Of the writes, only the result's carries the `succeeded` event's detail, `{"run": …}`.
    assert!(
        !proxy.lost_carried(0, b"{\"run\""),
        "the first lost write ended its run"
    );
    assert!(
        proxy.lost_carried(1, b"{\"run\""),
        "the second lost write was not the result"
    );
}

/// A trap that makes the first statement to fire `trigger` (which executes `slow_once()`)
/// sleep 1.5 s, once.
async fn slow_once(pool: &PgPool, trigger: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE slow_trap (armed boolean NOT NULL);
         INSERT INTO slow_trap VALUES (true);
         CREATE SEQUENCE slow_sprung;
         CREATE FUNCTION slow_once() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF (SELECT armed FROM slow_trap) THEN
                 UPDATE slow_trap SET armed = false;
                 PERFORM nextval('slow_sprung');
                 PERFORM pg_sleep(1.5);
             END IF;
             RETURN NEW;
         END
         $$;
         {trigger};"
    )))
    .execute(pool)
    .await
    .unwrap();
}

/// The trap sprang once (a sequence does not roll back) and stayed sprung: the statement
/// that sprang it committed.
async fn sprang_once_and_committed(pool: &PgPool) -> bool {
    let (armed, sprung): (bool, i64) =
        sqlx::query_as("SELECT armed, (SELECT last_value FROM slow_sprung) FROM slow_trap")
            .fetch_one(pool)
            .await
            .unwrap();
    !armed && sprung == 1
}

/// The same write, but the client hears its connection close before the server has run it:
/// the write (slowed here by a trigger that sleeps, once) commits only after the worker has
/// begun its next try, which waits for the plan's row lock. That try must find the write
/// landed rather than write it again: still one attempt, no event twice, and the run goes on.
#[sqlx::test(migrations = false)]
async fn a_write_that_commits_after_its_connection_closed_lands_once(pool: PgPool) {
    migrated(&pool).await;
    slow_once(
        &pool,
        "CREATE TRIGGER slow_once BEFORE INSERT ON plan_checkpoints FOR EACH ROW EXECUTE FUNCTION slow_once()",
    )
    .await;
    let env = [("PLAN_RETRY_BASE_MS", "200")];
    let (proxy, _worker, _) = proxied_worker(&pool, "INSERT INTO plan_checkpoints", PgProxy::cut_next, &env).await;
    let [id] = plans_in(&pool, &["北京"]).await[..] else {
        unreachable!()
    };
    let (_, attempts) = common::wait_for(&pool, id, Duration::from_secs(60), |s, _| s == "succeeded").await;
    assert!(
        proxy.cut() == 1 && sprang_once_and_committed(&pool).await,
        "no write outlived its connection: the test tested nothing"
    );
    assert_eq!(attempts, 1, "the write that committed late spent an attempt");
    assert_eq!(
        repeated_events(&pool, id).await,
        vec![],
        "the write that committed late was written twice"
    );
}

/// An attempt's end that commits and loses its answer (here a plan failed by a node's
/// defect): the worker's next try finds the plan ended by its own run, and counts the
/// failure, rather than taking the plan for one another run took and dropping its outcome.
#[sqlx::test(migrations = false)]
async fn a_failure_whose_answer_is_lost_is_counted_once(pool: PgPool) {
    migrated(&pool).await;
    let marker = "error = coalesce($3, error)";
    let (proxy, _worker, metrics_addr) = proxied_worker(
        &pool,
        marker,
        |p| p.drop_after(1),
        &[("PLANNER_FAULT_NODE_PANIC", "draft")],
    )
    .await;
    let [id] = plans_in(&pool, &["西安"]).await[..] else {
        unreachable!()
    };
    let (_, attempts) = common::wait_for(&pool, id, Duration::from_secs(60), |s, _| s == "failed").await;
    assert_eq!(attempts, 1);
    let (code, _, error) = common::failure_of(&pool, id).await;
    assert_eq!(code.as_deref(), Some("internal_error"), "{error}");
    assert_eq!(common::events(&pool, id, "failed").await, 1);
    common::shows_metric(&metrics_addr, "planner_plans_finished_total{status=\"failed\"} 1").await;
    assert_eq!(proxy.dropped(), 1, "no answer was lost: the test tested nothing");
}

/// An attempt's end whose commit outlives its connection (a deferred trigger sleeps at the
/// commit, once): the worker's next try waits for the plan's row, finds it ended, and asks
/// whether its own write ended it. Counted once, as a failure.
#[sqlx::test(migrations = false)]
async fn a_failure_that_commits_after_its_connection_closed_is_counted_once(pool: PgPool) {
    migrated(&pool).await;
    slow_once(
        &pool,
        "CREATE CONSTRAINT TRIGGER slow_once AFTER UPDATE ON plans DEFERRABLE INITIALLY DEFERRED
         FOR EACH ROW WHEN (NEW.status = 'failed') EXECUTE FUNCTION slow_once()",
    )
    .await;
    let env = [("PLANNER_FAULT_NODE_PANIC", "draft")];
    let (proxy, _worker, metrics_addr) =
        proxied_worker(&pool, "error = coalesce($3, error)", PgProxy::cut_next, &env).await;
    let [id] = plans_in(&pool, &["西安"]).await[..] else {
        unreachable!()
    };
    let (_, attempts) = common::wait_for(&pool, id, Duration::from_secs(60), |s, _| s == "failed").await;
    common::shows_metric(&metrics_addr, "planner_plans_finished_total{status=\"failed\"} 1").await;
    assert!(
        proxy.cut() == 1 && sprang_once_and_committed(&pool).await,
        "no end outlived its connection: the test tested nothing"
    );
    assert_eq!(attempts, 1);
    assert_eq!(common::events(&pool, id, "failed").await, 1);
}

/// Likewise a plan parked for approval: one `awaiting_approval` event, its attempt given
/// back, and the run counted as parked, not lost.
#[sqlx::test(migrations = false)]
async fn a_park_for_approval_whose_answer_is_lost_is_counted_once(pool: PgPool) {
    migrated(&pool).await;
    let marker = "approval = $3, current_node = $4";
    let (proxy, _worker, metrics_addr) = proxied_worker(&pool, marker, |p| p.drop_after(1), &[]).await;
    let request = json!({"destination": "南京", "start_date": in_days(3), "days": 2, "require_approval": true});
    let id = common::create_plan(&pool, &request, 3).await;
    let (_, attempts) = common::wait_for(&pool, id, Duration::from_secs(60), |s, _| s == "awaiting_approval").await;
    assert_eq!(attempts, 0, "the parked plan's attempt was not given back");
    assert_eq!(common::events(&pool, id, "awaiting_approval").await, 1);
    common::shows_metric(
        &metrics_addr,
        "planner_graph_run_duration_seconds_count{outcome=\"awaiting_approval\"} 1",
    )
    .await;
    // Counted after the worker's next try: the proxy had lost the first answer by then.
    assert_eq!(proxy.dropped(), 1, "no answer was lost: the test tested nothing");
}

/// A run's write that a pooler or the network holds after the worker gave up on its
/// connection, and delivers late: by then the worker has tried it again, landed it, and gone
/// on to the run's next writes. The late try follows a write the plan has moved past, so it
/// writes nothing: no node event twice, and the plan's last node stays where the run is.
#[sqlx::test(migrations = false)]
async fn a_write_that_reaches_the_server_after_the_runs_next_ones_writes_nothing(pool: PgPool) {
    migrated(&pool).await;
    // `draft` waits: the run is still under way when the held write reaches the server.
    let env = [("PLANNER_FAULT_NODE_DELAY", "draft=4000")];
    let (proxy, _worker, _) = proxied_worker(&pool, "INSERT INTO plan_checkpoints", PgProxy::hold_next, &env).await;
    let [id] = plans_in(&pool, &["北京"]).await[..] else {
        unreachable!()
    };
    // The run's first write is held; its second try landed, and the run went on to `routes`.
    common::until(
        "the run's writes after the held one",
        Duration::from_secs(60),
        async || {
            let routed: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM plan_checkpoints WHERE plan_id = $1 AND node = 'routes')",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
            routed
        },
    )
    .await;
    assert_eq!(proxy.held(), 1, "no write was held: the test tested nothing");
    let where_the_run_is = || async {
        let at: (String, Option<String>, Option<uuid::Uuid>) =
            sqlx::query_as("SELECT status, current_node, last_write FROM plans WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap();
        at
    };
    let before = where_the_run_is().await;
    proxy.release();
    common::until(
        "the held write, released, to commit",
        Duration::from_secs(10),
        async || proxy.held_committed() == 1,
    )
    .await;
    assert_eq!(before.0, "running", "the run ended before the held write was released");
    assert_eq!(
        where_the_run_is().await,
        before,
        "the late write landed over the run's later ones"
    );
    assert_eq!(
        repeated_events(&pool, id).await,
        vec![],
        "the late write wrote its steps again"
    );
    let (_, attempts) = common::wait_for(&pool, id, Duration::from_secs(60), |s, _| s == "succeeded").await;
    assert_eq!(attempts, 1);
    assert_eq!(repeated_events(&pool, id).await, vec![]);
}

/// An attempt's end that puts the plan back in the queue (a retry: `draft` runs past its
/// timeout) and loses its answer; another worker claims the plan before the first tries the
/// end again. The first must still count its end as written (the end's event carries its
/// write's id, which no claim or later write removes), not as a plan another run took.
#[sqlx::test(migrations = false)]
async fn a_retry_whose_answer_is_lost_is_counted_though_another_worker_took_the_plan(pool: PgPool) {
    migrated(&pool).await;
    let marker = "delay_reason = $6";
    // One slot, held by the attempt until its end is written: the slow worker cannot take the
    // plan again before its next try.
    let env = [
        ("WORKER_CONCURRENCY", "1"),
        ("NODE_TIMEOUT_SECS", "6"),
        ("PLANNER_FAULT_NODE_DELAY", "draft=8000"),
        ("PLAN_RETRY_BASE_MS", "1"),
    ];
    let (proxy, _slow, metrics_addr) = proxied_worker(&pool, marker, |p| p.drop_after(1), &env).await;
    let [id] = plans_in(&pool, &["成都"]).await[..] else {
        unreachable!()
    };
    common::wait_for(&pool, id, Duration::from_secs(60), |s, _| s == "running").await;
    // A worker that polls every 10 ms takes the plan as soon as it is due again (1 ms later).
    // It must be up before the slow worker's `draft` times out.
    let url = database_url(&pool).await;
    let _quick = Proc::worker(&url, &[("QUEUE_POLL_MS", "10")]);
    common::until("the quick worker to start", Duration::from_secs(30), async || {
        let workers: i64 = sqlx::query_scalar("SELECT count(*) FROM queue_workers")
            .fetch_one(&pool)
            .await
            .unwrap();
        workers == 2
    })
    .await;
    assert_eq!(
        common::events(&pool, id, "timeout").await,
        0,
        "the quick worker started after the slow worker's attempt ended: the test would test nothing"
    );
    let (_, attempts) = common::wait_for(&pool, id, Duration::from_secs(60), |s, _| s == "succeeded").await;
    assert_eq!(attempts, 2, "the second attempt was not the quick worker's");
    assert_eq!(proxy.dropped(), 1, "no answer was lost: the test tested nothing");
    // The slow worker tries again 250 ms after its error, which came after the commit.
    let claimed_after_ms: f64 = sqlx::query_scalar(
        "SELECT (extract(epoch FROM s.created_at - r.created_at) * 1000)::float8 FROM plan_events r, plan_events s
         WHERE r.plan_id = $1 AND r.kind = 'retry_scheduled' AND s.plan_id = $1 AND s.kind = 'started' AND s.attempt = 2",
    )
    .bind(id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(
        claimed_after_ms < 200.0,
        "the quick worker claimed the plan {claimed_after_ms} ms after the retry was written, \
         perhaps after the slow worker's next try: the test tested nothing"
    );
    common::shows_metric(&metrics_addr, "planner_plan_requeues_total{kind=\"retry\"} 1").await;
    common::shows_metric(
        &metrics_addr,
        "planner_graph_run_duration_seconds_count{outcome=\"transient\"} 1",
    )
    .await;
    let metrics = common::metrics(&metrics_addr).await;
    assert!(
        !metrics.contains("outcome=\"lost\""),
        "the retry was counted as lost: {metrics}"
    );
    assert_eq!(common::events(&pool, id, "retry_scheduled").await, 1);
}
