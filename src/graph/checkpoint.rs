//! Where the runtime keeps node outputs. Saving a checkpoint also records progress and a
//! plan event, in one transaction, and only while the run (the lease) still owns the plan.

use std::collections::HashMap;

use async_trait::async_trait;
use serde_json::Value;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct Checkpoint {
    pub key: String,
    pub node: String,
    pub output: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// This attempt still owns the plan: carry on.
    Owned,
    /// The client asked to cancel: stop at this node boundary.
    CancelRequested,
    /// Another run owns the plan now (this worker was presumed dead): stop, write nothing.
    Lost,
}

#[async_trait]
pub trait CheckpointStore: Send + Sync {
    /// Every checkpoint of the plan, by key.
    async fn load(&self, plan_id: Uuid) -> anyhow::Result<HashMap<String, Value>>;
    /// Saves a node's output with the progress; `Ownership::Lost` when fenced out.
    async fn save(&self, plan_id: Uuid, lease: i32, checkpoint: &Checkpoint) -> anyhow::Result<Ownership>;
    /// Records that a node starts (an event for the timeline).
    async fn started(&self, plan_id: Uuid, lease: i32, node: &str) -> anyhow::Result<()>;
    async fn ownership(&self, plan_id: Uuid, lease: i32) -> anyhow::Result<Ownership>;
    /// Records another event of the run (a timeout, say) on the plan's timeline.
    async fn record(&self, plan_id: Uuid, lease: i32, kind: &str, node: &str, detail: Value) -> anyhow::Result<()>;
}
