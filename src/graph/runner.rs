//! The runner: runs a graph in waves from its entry. Each wave's nodes run concurrently;
//! a node whose checkpoint exists is not run again but replayed from it. What a run does
//! is written in as few writes as durability allows: after each wave with a node saved
//! `AtOnce` (its outputs, with the starts of the next wave), and before such a wave when
//! something is still unwritten. Waves of `WithNext` nodes write nothing; their steps go
//! out with the next write, or with the result (`Ran::unsaved`). Each write answers
//! whether the run still owns the plan and whether a cancel was asked for.

use std::{
    collections::HashMap,
    panic::AssertUnwindSafe,
    sync::Arc,
    time::{Duration, Instant},
};

use futures::{FutureExt, future::join_all};
use serde_json::Value;
use tracing::Instrument;
use uuid::Uuid;

use crate::graph::{
    checkpoint::{Checkpoint, CheckpointStore, Ownership, Resume, RunFence, Unsaved},
    node::{NodeContext, NodeError, Outputs, Saving, output_of},
    progress::visit_key,
    shape::{Edge, Graph},
};

/// Guards against a graph whose conditional edges loop forever.
const MAX_WAVES: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cancelled")]
    Cancelled,
    #[error("another run owns the plan")]
    Lost,
    #[error("node {node} failed: {error}")]
    Node { node: String, error: NodeError },
    #[error("checkpoint store: {0}")]
    Store(#[from] anyhow::Error),
}

/// A run that reached the end of the graph.
#[derive(Debug)]
pub struct Ran {
    /// The latest output of every node.
    pub outputs: Outputs,
    /// Steps of the last waves not written yet: the caller writes them with the result.
    pub unsaved: Unsaved,
    /// What the result's write follows.
    pub fence: RunFence,
}

pub struct Runner {
    pub graph: Graph,
    pub store: Arc<dyn CheckpointStore>,
    /// Fault injection: a pause before the named nodes run.
    pub delays: HashMap<String, Duration>,
    /// Fault injection: the named nodes panic.
    pub panics: Vec<String>,
    /// A node running longer is abandoned: a transient failure, recorded as a timeout.
    pub node_timeout: Duration,
}

/// A node's visit in a wave.
struct Visit {
    name: &'static str,
    key: String,
    visit: u32,
}

impl Runner {
    /// Runs the plan to the end of the graph.
    pub async fn run(&self, plan_id: Uuid, run: i32, input: &Value, resume: Resume) -> Result<Ran, RunError> {
        let Resume { saved, entry_started } = resume;
        let input = Arc::new(input.clone());
        let mut outputs = Outputs::default();
        let mut visits: HashMap<&'static str, u32> = HashMap::new();
        let mut unsaved = Unsaved::default();
        let mut fence = RunFence::new(plan_id, run);
        let mut wave = visit(&[self.graph.entry], &mut visits);
        if !entry_started {
            started(&wave, &saved, &mut unsaved);
        }
        for _ in 0..MAX_WAVES {
            if wave.is_empty() {
                return Ok(Ran {
                    outputs,
                    unsaved,
                    fence,
                });
            }
            let names: Vec<&'static str> = wave.iter().map(|v| v.name).collect();
            let mut jobs = Vec::new();
            for v in wave {
                match saved.get(&v.key) {
                    Some(output) => {
                        outputs.insert(v.name.to_string(), output_of(output));
                    }
                    None => jobs.push(v),
                }
            }
            let at_once = jobs.iter().any(|v| self.saving(v.name) == Saving::AtOnce);
            if at_once && !unsaved.is_empty() {
                self.write(&mut fence, &mut unsaved).await?;
            }
            let snapshot = Arc::new(outputs.clone());
            let results = join_all(jobs.into_iter().map(|v| {
                let ctx = NodeContext {
                    plan_id,
                    run,
                    input: input.clone(),
                    visit: v.visit,
                    outputs: snapshot.clone(),
                };
                let span = tracing::info_span!("node", node = v.name, plan_id = %plan_id, run);
                self.run_node(v.name, v.key, ctx).instrument(span)
            }))
            .await;
            let mut failed = None;
            for result in results {
                match result {
                    Ok(checkpoint) => {
                        outputs.insert(checkpoint.node.clone(), checkpoint.output.clone());
                        unsaved.finished(checkpoint);
                    }
                    Err(error) => failed = failed.or(Some(error)),
                }
            }
            if let Some(error) = failed {
                // The siblings that finished are kept: the next attempt runs only the rest.
                if !unsaved.is_empty() {
                    self.write(&mut fence, &mut unsaved).await?;
                }
                return Err(error);
            }
            wave = visit(&self.successors(&names, &outputs), &mut visits);
            started(&wave, &saved, &mut unsaved);
            if at_once {
                self.write(&mut fence, &mut unsaved).await?;
            }
        }
        Err(RunError::Node {
            node: "graph".into(),
            error: NodeError::permanent("graph", format!("more than {MAX_WAVES} steps: the graph loops")),
        })
    }

    fn saving(&self, name: &str) -> Saving {
        self.graph.nodes.get(name).map_or(Saving::AtOnce, |n| n.saving())
    }

    /// Writes what the run did; stops the run when it no longer owns the plan or a cancel
    /// was asked for.
    async fn write(&self, fence: &mut RunFence, unsaved: &mut Unsaved) -> Result<(), RunError> {
        match self.store.save(fence, std::mem::take(unsaved)).await? {
            Ownership::Owned => Ok(()),
            Ownership::CancelRequested => Err(RunError::Cancelled),
            Ownership::Lost => Err(RunError::Lost),
        }
    }

    async fn run_node(&self, name: &'static str, key: String, ctx: NodeContext) -> Result<Checkpoint, RunError> {
        let (plan_id, run) = (ctx.plan_id, ctx.run);
        let node = self.graph.nodes.get(name).ok_or_else(|| RunError::Node {
            node: name.into(),
            error: NodeError::permanent("graph", format!("no node named {name}")),
        })?;
        let started = Instant::now();
        // The injected delay is part of the node: it counts against the node's timeout.
        let delay = self.delays.get(name).copied().unwrap_or_default();
        let panics = self.panics.iter().any(|p| p == name);
        let work = async {
            tokio::time::sleep(delay).await;
            if panics {
                panic!("PLANNER_FAULT_NODE_PANIC names {name}");
            }
            node.run(&ctx).await
        };
        // A panic is a defect in the node, not in the worker: it fails this plan alone.
        // Left to unwind, it would end the worker's consumer, whose restart hands back every
        // plan it held with their attempts returned, the panicking one among them, for ever.
        let work = AssertUnwindSafe(work).catch_unwind().map(|caught| {
            caught.unwrap_or_else(|panic| {
                let said = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "no message".into());
                tracing::error!(plan_id = %plan_id, node = name, panic = %said, "node panicked");
                Err(NodeError::Permanent {
                    code: "internal_error".into(),
                    message: format!("node {name} failed on a defect in the planner ({said})"),
                })
            })
        });
        let output = match tokio::time::timeout(self.node_timeout, work).await {
            Ok(output) => output,
            Err(_) => {
                let after_ms = self.node_timeout.as_millis() as u64;
                tracing::warn!(plan_id = %plan_id, node = name, after_ms, "node timed out");
                crate::metrics::timeout("node");
                self.store.timed_out(plan_id, run, &key, self.node_timeout).await?;
                Err(NodeError::Transient(format!(
                    "node {name} timed out after {after_ms} ms"
                )))
            }
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let outcome = output.as_ref().map_or_else(NodeError::outcome, |_| "ok");
        crate::metrics::node_run(name, outcome, started.elapsed());
        match output {
            Ok(output) => {
                tracing::info!(node = name, elapsed_ms, "node finished");
                Ok(Checkpoint {
                    key,
                    node: name.to_string(),
                    output: output_of(&output),
                })
            }
            Err(error) => {
                tracing::warn!(node = name, elapsed_ms, %error, "node failed");
                Err(RunError::Node {
                    node: name.into(),
                    error,
                })
            }
        }
    }

    fn successors(&self, wave: &[&'static str], outputs: &Outputs) -> Vec<&'static str> {
        let mut next: Vec<&'static str> = Vec::new();
        for name in wave {
            let targets = match self.graph.edges.get(name) {
                Some(Edge::To(to)) => to.clone(),
                Some(Edge::Branch(pick)) => pick(outputs),
                Some(Edge::End) | None => Vec::new(),
            };
            for t in targets {
                if !next.contains(&t) {
                    next.push(t);
                }
            }
        }
        next
    }
}

/// The wave's visits, counting each node's visits so far.
fn visit(names: &[&'static str], visits: &mut HashMap<&'static str, u32>) -> Vec<Visit> {
    names
        .iter()
        .map(|&name| {
            let n = visits.entry(name).and_modify(|v| *v += 1).or_insert(1);
            Visit {
                name,
                key: visit_key(name, *n),
                visit: *n,
            }
        })
        .collect()
}

/// Records the start of the wave's nodes that will run (those not replayed).
fn started(wave: &[Visit], saved: &HashMap<String, Value>, unsaved: &mut Unsaved) {
    for v in wave.iter().filter(|v| !saved.contains_key(&v.key)) {
        unsaved.started(v.key.clone());
    }
}
