//! The runner: runs a graph in waves from its entry. Each wave's nodes run concurrently;
//! a node whose checkpoint exists is not run again but replayed from it. Between waves the
//! run checks that it still owns the plan and that nobody asked to cancel it.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use futures::future::join_all;
use serde_json::Value;
use tracing::Instrument;
use uuid::Uuid;

use crate::graph::{
    checkpoint::{Checkpoint, CheckpointStore, Ownership},
    node::{NodeContext, NodeError},
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

pub struct Runner {
    pub graph: Graph,
    pub store: Arc<dyn CheckpointStore>,
    /// Fault injection: a pause before the named nodes run.
    pub delays: HashMap<String, Duration>,
    /// A node running longer is abandoned: a transient failure, recorded as a timeout.
    pub node_timeout: Duration,
}

impl Runner {
    /// Runs the plan to the end; returns the latest output of every node.
    pub async fn run(&self, plan_id: Uuid, run: i32, input: &Value) -> Result<HashMap<String, Value>, RunError> {
        let saved = self.store.load(plan_id).await?;
        let mut outputs: HashMap<String, Value> = HashMap::new();
        let mut visits: HashMap<&'static str, u32> = HashMap::new();
        let mut wave = vec![self.graph.entry];
        for _ in 0..MAX_WAVES {
            if wave.is_empty() {
                return Ok(outputs);
            }
            match self.store.ownership(plan_id, run).await? {
                Ownership::Owned => {}
                Ownership::CancelRequested => return Err(RunError::Cancelled),
                Ownership::Lost => return Err(RunError::Lost),
            }
            let mut jobs = Vec::new();
            for &name in &wave {
                let visit = visits.entry(name).and_modify(|v| *v += 1).or_insert(1);
                let key = visit_key(name, *visit);
                match saved.get(&key) {
                    Some(output) => {
                        outputs.insert(name.to_string(), output.clone());
                    }
                    None => jobs.push((name, key, *visit)),
                }
            }
            let snapshot = outputs.clone();
            let results = join_all(jobs.into_iter().map(|(name, key, visit)| {
                let ctx = NodeContext {
                    plan_id,
                    run,
                    input: input.clone(),
                    visit,
                    outputs: snapshot.clone(),
                };
                let span = tracing::info_span!("node", node = name, plan_id = %plan_id, run);
                self.run_node(name, key, ctx).instrument(span)
            }))
            .await;
            let mut ownership = Ownership::Owned;
            for result in results {
                let (checkpoint, owned) = result?;
                if owned != Ownership::Owned {
                    ownership = owned;
                }
                outputs.insert(checkpoint.node, checkpoint.output);
            }
            match ownership {
                Ownership::Owned => {}
                Ownership::CancelRequested => return Err(RunError::Cancelled),
                Ownership::Lost => return Err(RunError::Lost),
            }
            wave = self.successors(&wave, &outputs);
        }
        Err(RunError::Node {
            node: "graph".into(),
            error: NodeError::permanent("graph", format!("more than {MAX_WAVES} steps: the graph loops")),
        })
    }

    async fn run_node(
        &self,
        name: &'static str,
        key: String,
        ctx: NodeContext,
    ) -> Result<(Checkpoint, Ownership), RunError> {
        let (plan_id, run) = (ctx.plan_id, ctx.run);
        self.store.started(plan_id, run, &key).await?;
        let node = self.graph.nodes.get(name).ok_or_else(|| RunError::Node {
            node: name.into(),
            error: NodeError::permanent("graph", format!("no node named {name}")),
        })?;
        let started = Instant::now();
        // The injected delay is part of the node: it counts against the node's timeout.
        let delay = self.delays.get(name).copied().unwrap_or_default();
        let work = async {
            tokio::time::sleep(delay).await;
            node.run(&ctx).await
        };
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
        let output = match output {
            Ok(output) => output,
            Err(error) => {
                tracing::warn!(node = name, elapsed_ms, %error, "node failed");
                return Err(RunError::Node {
                    node: name.into(),
                    error,
                });
            }
        };
        tracing::info!(node = name, elapsed_ms, "node finished");
        let checkpoint = Checkpoint {
            key,
            node: name.to_string(),
            output,
        };
        let owned = self.store.save(plan_id, run, &checkpoint).await?;
        Ok((checkpoint, owned))
    }

    fn successors(&self, wave: &[&'static str], outputs: &HashMap<String, Value>) -> Vec<&'static str> {
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
