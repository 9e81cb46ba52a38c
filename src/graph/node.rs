//! A node of a graph: what it sees when it runs (`NodeContext`), what it returns (its output
//! as JSON), and how it fails (`NodeError`, which says what the run should do about it).

use std::{collections::HashMap, sync::Arc};

use async_trait::async_trait;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use uuid::Uuid;

/// The latest output of every node so far, by node name. Shared, not copied: a wave's
/// nodes, the run and its unsaved checkpoints hold the same outputs.
pub type Outputs = HashMap<String, Arc<Value>>;

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
        T::deserialize(&**value)
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
