//! A node of a graph: what it sees when it runs (`NodeContext`), what it returns (its output
//! as JSON), and how it fails (`NodeError`, which says what the run should do about it).

use std::{collections::HashMap, sync::Arc};

use async_trait::async_trait;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Value, value::RawValue};
use uuid::Uuid;

/// A node's output as JSON text, shared, not copied, by a wave's nodes, the run and its
/// unsaved checkpoint. Text, because a parsed `Value` takes five times the memory and a
/// worker holds every output of a thousand plans in flight; readers deserialize from it.
pub type Output = Arc<RawValue>;

/// `value` as an `Output`.
pub fn output_of(value: &Value) -> Output {
    match serde_json::value::to_raw_value(value) {
        Ok(raw) => Arc::from(raw),
        // A `Value` always serializes; keep the function total anyway.
        Err(_) => Arc::from(RawValue::NULL.to_owned()),
    }
}

/// The latest output of every node so far, by node name.
#[derive(Debug, Clone, Default)]
pub struct Outputs(HashMap<String, Output>);

impl Outputs {
    pub fn insert(&mut self, node: String, output: Output) {
        self.0.insert(node, output);
    }

    pub fn get(&self, node: &str) -> Option<&Output> {
        self.0.get(node)
    }

    /// The output of `node`, decoded; `None` when it has none.
    pub fn read<T: DeserializeOwned>(&self, node: &str) -> Option<Result<T, serde_json::Error>> {
        self.0.get(node).map(|raw| serde_json::from_str(raw.get()))
    }

    /// The output of `node` as a `Value`, for readers without a type.
    pub fn value(&self, node: &str) -> Option<Value> {
        self.read(node).and_then(Result::ok)
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.keys()
    }
}

/// What a node sees: the plan it works for and the latest output of every node so far.
pub struct NodeContext {
    pub plan_id: Uuid,
    /// The run (claim) that owns the plan; every write is fenced by it.
    pub run: i32,
    /// The plan's input, as the caller of `Runner::run` gave it.
    pub input: Arc<Value>,
    /// How many times this node has run in this plan, counting this one (1 the first time).
    pub visit: u32,
    /// Shared by the nodes of a wave.
    pub outputs: Arc<Outputs>,
}

impl NodeContext {
    /// The graph's input, decoded.
    pub fn input<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&*self.input)
    }

    /// The latest output of `node`, decoded.
    pub fn output<T: DeserializeOwned>(&self, node: &str) -> Result<T, NodeError> {
        let value = self
            .outputs
            .get(node)
            .ok_or_else(|| NodeError::permanent("graph", format!("node {node} has no output yet")))?;
        serde_json::from_str(value.get())
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
    #[error("waiting {} s for {upstream}: {reason}", delay.as_secs())]
    Wait {
        delay: std::time::Duration,
        upstream: String,
        reason: String,
    },
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

/// When a node's output is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saving {
    /// Before anything else runs: the node did work worth keeping (an upstream call, an
    /// LLM answer), and a crash must not make the plan do it again.
    AtOnce,
    /// With the run's next write: the node only computes over earlier outputs, so running
    /// it again after a crash costs less than a write of its own.
    WithNext,
}

#[async_trait]
pub trait Node: Send + Sync {
    async fn run(&self, ctx: &NodeContext) -> Result<Value, NodeError>;

    fn saving(&self) -> Saving {
        Saving::AtOnce
    }
}
