//! A small durable graph runtime. A graph is named nodes joined by edges: a plain edge to
//! one or more nodes (more than one fans out and the nodes run concurrently; the next wave
//! joins them), a conditional edge that picks its successors from the outputs so far, or
//! the end. Every node's output is checkpointed; a re-run loads checkpoints instead of
//! running their nodes again, so work survives a crash or a retry.

mod checkpoint;
mod progress;
mod runner;

use std::{collections::HashMap, sync::Arc};

use async_trait::async_trait;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use uuid::Uuid;

pub use checkpoint::{Checkpoint, CheckpointStore, Ownership};
pub use progress::{Progress, node_of, visit_key};
pub use runner::{RunError, Runner};

/// What a node sees: the plan it works for and the latest output of every node so far.
pub struct NodeContext {
    pub plan_id: Uuid,
    /// The run (claim) that owns the plan; every write is fenced by it.
    pub run: i32,
    /// The plan's input, as the caller of `Runner::run` gave it.
    pub input: Value,
    /// How many times this node has run in this plan, counting this one (1 the first time).
    pub visit: u32,
    pub outputs: HashMap<String, Value>,
}

impl NodeContext {
    /// The graph's input, decoded.
    pub fn input<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_value(self.input.clone())
    }

    /// The latest output of `node`, decoded.
    pub fn output<T: DeserializeOwned>(&self, node: &str) -> Result<T, NodeError> {
        let value = self
            .outputs
            .get(node)
            .ok_or_else(|| NodeError::permanent("graph", format!("node {node} has no output yet")))?;
        serde_json::from_value(value.clone())
            .map_err(|e| NodeError::permanent("graph", format!("output of {node} is malformed: {e}")))
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NodeError {
    /// Worth another attempt of the plan later.
    #[error("{0}")]
    Transient(String),
    /// The plan cannot succeed: fail it with this code and message.
    #[error("{code}: {message}")]
    Permanent { code: String, message: String },
    /// Come back after `delay` without spending an attempt: something the node needs is
    /// out of reach for a known while (an upstream's open circuit breaker).
    #[error("waiting {} s: {reason}", delay.as_secs())]
    Wait { delay: std::time::Duration, reason: String },
    /// A person must approve before the graph goes on.
    #[error("awaiting approval: {reason}")]
    AwaitApproval { reason: String },
}

impl NodeError {
    /// The `outcome` label of the node's metric.
    pub fn outcome(&self) -> &'static str {
        match self {
            NodeError::Transient(_) => "transient",
            NodeError::Permanent { .. } => "permanent",
            NodeError::Wait { .. } => "wait",
            NodeError::AwaitApproval { .. } => "awaiting_approval",
        }
    }

    pub fn permanent(code: &str, message: impl Into<String>) -> Self {
        NodeError::Permanent {
            code: code.into(),
            message: message.into(),
        }
    }
}

pub fn to_output<T: Serialize>(value: &T) -> Result<Value, NodeError> {
    serde_json::to_value(value).map_err(|e| NodeError::permanent("graph", format!("cannot encode output: {e}")))
}

#[async_trait]
pub trait Node: Send + Sync {
    async fn run(&self, ctx: &NodeContext) -> Result<Value, NodeError>;
}

pub type Branch = Arc<dyn Fn(&HashMap<String, Value>) -> Vec<&'static str> + Send + Sync>;

#[derive(Clone)]
pub enum Edge {
    To(Vec<&'static str>),
    Branch(Branch),
    End,
}

#[derive(Clone)]
pub struct Graph {
    entry: &'static str,
    nodes: HashMap<&'static str, Arc<dyn Node>>,
    edges: HashMap<&'static str, Edge>,
}

impl Graph {
    pub fn new(entry: &'static str) -> Self {
        Self {
            entry,
            nodes: HashMap::new(),
            edges: HashMap::new(),
        }
    }

    pub fn node(self, name: &'static str, node: impl Node + 'static) -> Self {
        self.node_arc(name, Arc::new(node))
    }

    pub fn node_arc(mut self, name: &'static str, node: Arc<dyn Node>) -> Self {
        self.nodes.insert(name, node);
        self
    }

    pub fn edge(mut self, from: &'static str, to: &[&'static str]) -> Self {
        self.edges.insert(from, Edge::To(to.to_vec()));
        self
    }

    pub fn branch(
        mut self,
        from: &'static str,
        pick: impl Fn(&HashMap<String, Value>) -> Vec<&'static str> + Send + Sync + 'static,
    ) -> Self {
        self.edges.insert(from, Edge::Branch(Arc::new(pick)));
        self
    }

    pub fn end(mut self, at: &'static str) -> Self {
        self.edges.insert(at, Edge::End);
        self
    }

    /// The nodes of one straight run, for progress percentages.
    pub fn expected_steps(&self) -> usize {
        self.nodes.len()
    }

    /// Every edge names a known node and every node has an edge out.
    pub fn validate(&self) -> Result<(), String> {
        if !self.nodes.contains_key(self.entry) {
            return Err(format!("entry {} is not a node", self.entry));
        }
        for name in self.nodes.keys() {
            if !self.edges.contains_key(name) {
                return Err(format!("node {name} has no edge out"));
            }
        }
        for (from, edge) in &self.edges {
            if let Edge::To(to) = edge
                && let Some(missing) = to.iter().find(|t| !self.nodes.contains_key(*t))
            {
                return Err(format!("edge {from} → {missing} names no node"));
            }
        }
        Ok(())
    }
}
