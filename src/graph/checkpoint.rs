//! Where the runtime keeps node outputs. Saving a checkpoint also records progress and a
//! plan event, in one transaction, and only while the run still owns the plan.

use std::{collections::HashMap, time::Duration};

use async_trait::async_trait;
use serde_json::Value;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// The visit: `draft`, `draft#2`… (see `visit_key`).
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
    async fn save(&self, plan_id: Uuid, run: i32, checkpoint: &Checkpoint) -> anyhow::Result<Ownership>;
    /// Records that the node visit `key` starts (an event for the timeline).
    async fn started(&self, plan_id: Uuid, run: i32, key: &str) -> anyhow::Result<()>;
    /// Records that the node visit `key` ran past its timeout and was abandoned.
    async fn timed_out(&self, plan_id: Uuid, run: i32, key: &str, after: Duration) -> anyhow::Result<()>;
    async fn ownership(&self, plan_id: Uuid, run: i32) -> anyhow::Result<Ownership>;
}
