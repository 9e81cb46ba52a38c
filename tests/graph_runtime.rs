//! The graph runtime against real PostgreSQL: a run that fails after node k resumes
//! without running nodes 1..k again; fan-out runs concurrently; a stale attempt is fenced
//! out; a cancel stops the run at the next node boundary; a node that panics fails its plan.

mod common;

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use planner::{
    graph::{Graph, Node, NodeContext, NodeError, Resume, RunError, Runner, Saving},
    store::checkpoints::{self, PgCheckpoints},
};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::sync::Barrier;
use uuid::Uuid;

type Calls = Arc<Mutex<HashMap<String, u32>>>;

struct Counting {
    name: &'static str,
    calls: Calls,
    fail_once: Option<Arc<AtomicBool>>,
    sleep: Duration,
    /// Nodes sharing a barrier only get past it when all of them are in flight at once.
    rendezvous: Option<Arc<Barrier>>,
}

#[async_trait]
impl Node for Counting {
    async fn run(&self, ctx: &NodeContext) -> Result<Value, NodeError> {
        *self.calls.lock().unwrap().entry(self.name.to_string()).or_default() += 1;
        tokio::time::sleep(self.sleep).await;
        if let Some(barrier) = &self.rendezvous
            && tokio::time::timeout(Duration::from_secs(20), barrier.wait())
                .await
                .is_err()
        {
            return Err(NodeError::Transient(format!(
                "{} waited alone for its siblings",
                self.name
            )));
        }
        if let Some(flag) = &self.fail_once
            && !flag.swap(true, Ordering::SeqCst)
        {
            return Err(NodeError::Transient(format!("{} failed", self.name)));
        }
        let seen: Vec<&String> = ctx.outputs.keys().collect();
        Ok(json!({ "node": self.name, "saw": seen.len(), "visit": ctx.visit }))
    }
}

fn node(name: &'static str, calls: &Calls) -> Counting {
    Counting {
        name,
        calls: calls.clone(),
        fail_once: None,
        sleep: Duration::ZERO,
        rendezvous: None,
    }
}

async fn running_plan(pool: &PgPool, attempt: i32) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query("INSERT INTO plans (id, request, status, attempts, runs) VALUES ($1, '{}', 'running', $2, $2)")
        .bind(id)
        .bind(attempt)
        .execute(pool)
        .await
        .unwrap();
    id
}

/// The plan claimed again, as `claim_plans` leaves it: its second run and attempt, its last
/// write cleared (the new run's first write follows none).
async fn claimed_again(pool: &PgPool, id: Uuid) {
    sqlx::query("UPDATE plans SET attempts = 2, runs = 2, last_write = NULL WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
}

/// What a new attempt starts from: the checkpoints earlier ones saved, as a claim reads them.
async fn resume(pool: &PgPool, id: Uuid) -> Resume {
    Resume {
        saved: checkpoints::in_order(pool, id).await.unwrap().into_iter().collect(),
        entry_started: false,
    }
}

fn runner(pool: &PgPool, graph: Graph) -> Runner {
    graph.validate().expect("valid graph");
    Runner {
        graph,
        store: Arc::new(PgCheckpoints::new(pool.clone())),
        delays: HashMap::new(),
        panics: Vec::new(),
        node_timeout: Duration::from_secs(30),
    }
}

/// A node with a defect: it panics.
struct Panicking;

#[async_trait]
impl Node for Panicking {
    async fn run(&self, _: &NodeContext) -> Result<Value, NodeError> {
        let empty: Vec<u32> = Vec::new();
        Ok(json!(empty[3]))
    }
}

#[sqlx::test(migrations = false)]
async fn a_node_that_panics_fails_its_plan_and_nothing_else(pool: PgPool) {
    common::migrated(&pool).await;
    let calls: Calls = Arc::default();
    let graph = Graph::new("a")
        .node("a", node("a", &calls))
        .node("b", Panicking)
        .node("c", node("c", &calls))
        .edge("a", &["b", "c"])
        .end("b")
        .end("c");
    let runner = runner(&pool, graph);
    let id = running_plan(&pool, 1).await;
    let ran = runner.run(id, 1, &json!({}), Resume::default()).await;
    match ran {
        Err(RunError::Node {
            node,
            error: NodeError::Permanent { code, message },
        }) => {
            assert_eq!((node.as_str(), code.as_str()), ("b", "internal_error"));
            assert!(message.contains("index out of bounds"), "{message}");
        }
        other => panic!("a panicking node ended the run with {other:?}"),
    }
    // Its sibling in the wave ran to its end.
    assert_eq!(calls.lock().unwrap()["c"], 1);
}

#[sqlx::test(migrations = false)]
async fn a_failed_run_resumes_after_its_last_checkpoint(pool: PgPool) {
    common::migrated(&pool).await;
    let calls: Calls = Arc::default();
    let failed = Arc::new(AtomicBool::new(false));
    let graph = Graph::new("a")
        .node("a", node("a", &calls))
        .node("b", node("b", &calls))
        .node(
            "c",
            Counting {
                fail_once: Some(failed.clone()),
                ..node("c", &calls)
            },
        )
        .node("d", node("d", &calls))
        .edge("a", &["b"])
        .edge("b", &["c"])
        .edge("c", &["d"])
        .end("d");
    let runner = runner(&pool, graph);
    let id = running_plan(&pool, 1).await;

    let first = runner.run(id, 1, &json!({}), Resume::default()).await;
    assert!(
        matches!(first, Err(RunError::Node { ref node, error: NodeError::Transient(_) }) if node == "c"),
        "{first:?}"
    );
    claimed_again(&pool, id).await;
    let outputs = runner
        .run(id, 2, &json!({}), resume(&pool, id).await)
        .await
        .expect("second attempt succeeds")
        .outputs;

    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls["a"], 1, "a ran again: {calls:?}");
    assert_eq!(calls["b"], 1, "b ran again: {calls:?}");
    assert_eq!(calls["c"], 2);
    assert_eq!(calls["d"], 1);
    assert_eq!(
        outputs.value("d").unwrap()["saw"],
        3,
        "d sees every earlier output, replayed or fresh"
    );
    let checkpoints: Vec<(String, i32)> =
        sqlx::query_as("SELECT node, attempt FROM plan_checkpoints WHERE plan_id = $1 ORDER BY created_at")
            .bind(id)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        checkpoints,
        vec![("a".into(), 1), ("b".into(), 1), ("c".into(), 2), ("d".into(), 2)]
    );
    let events: i64 =
        sqlx::query_scalar("SELECT count(*) FROM plan_events WHERE plan_id = $1 AND kind = 'node_finished'")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(events, 4, "one node_finished event per checkpoint, written with it");
}

#[sqlx::test(migrations = false)]
async fn fan_out_runs_concurrently_and_loops_are_checkpointed_per_visit(pool: PgPool) {
    common::migrated(&pool).await;
    let calls: Calls = Arc::default();
    // x, y and z each wait until all three are running: run one after another, they would
    // time out waiting instead. A barrier proves the overlap without timing the run.
    let barrier = Arc::new(Barrier::new(3));
    let slow = |name| Counting {
        rendezvous: Some(barrier.clone()),
        ..node(name, &calls)
    };
    let graph = Graph::new("start")
        .node("start", node("start", &calls))
        .node("x", slow("x"))
        .node("y", slow("y"))
        .node("z", slow("z"))
        .node("join", node("join", &calls))
        .edge("start", &["x", "y", "z"])
        .edge("x", &["join"])
        .edge("y", &["join"])
        .edge("z", &["join"])
        // Loop back to join until its third visit.
        .branch("join", |outputs| {
            if outputs.value("join").and_then(|v| v["visit"].as_u64()) < Some(3) {
                vec!["join"]
            } else {
                vec![]
            }
        });
    let runner = runner(&pool, graph);
    let id = running_plan(&pool, 1).await;
    if let Err(error) = runner.run(id, 1, &json!({}), Resume::default()).await {
        panic!("x, y, z did not run at the same time: {error:?}");
    }
    assert_eq!(calls.lock().unwrap()["join"], 3);
    let keys: Vec<String> =
        sqlx::query_scalar("SELECT node FROM plan_checkpoints WHERE plan_id = $1 AND node LIKE 'join%' ORDER BY node")
            .bind(id)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(keys, vec!["join", "join#2", "join#3"]);
}

#[sqlx::test(migrations = false)]
async fn a_stale_attempt_is_fenced_out_and_a_cancel_stops_at_the_next_boundary(pool: PgPool) {
    common::migrated(&pool).await;
    let calls: Calls = Arc::default();
    let graph = Graph::new("a")
        .node(
            "a",
            Counting {
                sleep: Duration::from_millis(300),
                ..node("a", &calls)
            },
        )
        .node("b", node("b", &calls))
        .edge("a", &["b"])
        .end("b");
    let runner = Arc::new(runner(&pool, graph));

    // Another attempt takes the plan while node a runs: nothing of the old attempt lands.
    let id = running_plan(&pool, 1).await;
    let run = tokio::spawn({
        let runner = runner.clone();
        async move { runner.run(id, 1, &json!({}), Resume::default()).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    claimed_again(&pool, id).await;
    assert!(matches!(run.await.unwrap(), Err(RunError::Lost)));
    let saved: i64 = sqlx::query_scalar("SELECT count(*) FROM plan_checkpoints WHERE plan_id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(saved, 0, "a fenced-out attempt wrote a checkpoint");

    // A cancel requested while node a runs: a is kept, b never runs.
    let id = running_plan(&pool, 1).await;
    let run = tokio::spawn({
        let runner = runner.clone();
        async move { runner.run(id, 1, &json!({}), Resume::default()).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    sqlx::query("UPDATE plans SET cancel_requested = true WHERE id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    assert!(matches!(run.await.unwrap(), Err(RunError::Cancelled)));
    assert_eq!(calls.lock().unwrap().get("b"), None);
}

/// A node that only computes: saved with the run's next write.
struct Pure(Counting);

#[async_trait]
impl Node for Pure {
    fn saving(&self) -> Saving {
        Saving::WithNext
    }

    async fn run(&self, ctx: &NodeContext) -> Result<Value, NodeError> {
        self.0.run(ctx).await
    }
}

#[sqlx::test(migrations = false)]
async fn nodes_saved_with_the_next_write_are_kept_when_a_later_node_fails(pool: PgPool) {
    common::migrated(&pool).await;
    let calls: Calls = Arc::default();
    let failed = Arc::new(AtomicBool::new(false));
    // a does work worth keeping; b and c only compute; d fails once, then e ends the run.
    let graph = Graph::new("a")
        .node("a", node("a", &calls))
        .node("b", Pure(node("b", &calls)))
        .node("c", Pure(node("c", &calls)))
        .node(
            "d",
            Counting {
                fail_once: Some(failed.clone()),
                ..node("d", &calls)
            },
        )
        .node("e", Pure(node("e", &calls)))
        .edge("a", &["b"])
        .edge("b", &["c"])
        .edge("c", &["d"])
        .edge("d", &["e"])
        .end("e");
    let runner = runner(&pool, graph);
    let id = running_plan(&pool, 1).await;
    let first = runner.run(id, 1, &json!({}), Resume::default()).await;
    assert!(
        matches!(first, Err(RunError::Node { ref node, .. }) if node == "d"),
        "{first:?}"
    );
    let saved: Vec<String> = checkpoints::in_order(&pool, id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.0)
        .collect();
    assert_eq!(saved, ["a", "b", "c"], "b and c were written before d ran");

    claimed_again(&pool, id).await;
    let ran = runner
        .run(id, 2, &json!({}), resume(&pool, id).await)
        .await
        .expect("second attempt succeeds");
    let calls = calls.lock().unwrap().clone();
    assert_eq!(
        (calls["a"], calls["b"], calls["c"], calls["d"], calls["e"]),
        (1, 1, 1, 2, 1),
        "{calls:?}"
    );
    // e only computes and ends the run: it is left for the caller's final write.
    let unsaved: Vec<&str> = ran.unsaved.checkpoints().map(|(c, _)| c.key.as_str()).collect();
    assert_eq!(unsaved, ["e"]);
    let saved = checkpoints::in_order(&pool, id).await.unwrap().len();
    assert_eq!(saved, 4, "a, b, c, d saved; e not yet");
    // Each node started once per run that ran it, in order, and finished once.
    let timeline: Vec<(String, String)> = sqlx::query_as(
        "SELECT kind, node FROM plan_events WHERE plan_id = $1 AND kind IN ('node_started', 'node_finished') ORDER BY id",
    )
    .bind(id)
    .fetch_all(&pool)
    .await
    .unwrap();
    let expected: Vec<(String, String)> = [
        ("node_started", "a"),
        ("node_finished", "a"),
        ("node_started", "b"),
        ("node_finished", "b"),
        ("node_started", "c"),
        ("node_finished", "c"),
        ("node_started", "d"),
        ("node_started", "d"),
        ("node_finished", "d"),
        ("node_started", "e"),
    ]
    .map(|(k, n)| (k.to_string(), n.to_string()))
    .to_vec();
    assert_eq!(timeline, expected);
}
