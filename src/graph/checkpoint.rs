//! Where the runtime keeps node outputs. A run collects what it did — node starts and
//! finished nodes' outputs, in order — as `Unsaved`, and hands it to the store in one write
//! (see `Saving` for when). A write also answers whether the run still owns the plan.

use std::{collections::HashMap, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::graph::node::Output;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// The visit: `draft`, `draft#2`… (see `visit_key`).
    pub key: String,
    pub node: String,
    pub output: Output,
}

/// One step of a run, as its timeline records it.
#[derive(Debug, Clone)]
pub enum RunStep {
    Started { key: String, at: DateTime<Utc> },
    Finished { checkpoint: Checkpoint, at: DateTime<Utc> },
}

/// What a run has done and not written yet, in the order it happened.
#[derive(Debug, Clone, Default)]
pub struct Unsaved {
    pub steps: Vec<RunStep>,
}

impl Unsaved {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    pub fn started(&mut self, key: String) {
        self.steps.push(RunStep::Started { key, at: Utc::now() });
    }

    pub fn finished(&mut self, checkpoint: Checkpoint) {
        self.steps.push(RunStep::Finished {
            checkpoint,
            at: Utc::now(),
        });
    }

    pub fn checkpoints(&self) -> impl Iterator<Item = (&Checkpoint, DateTime<Utc>)> {
        self.steps.iter().filter_map(|s| match s {
            RunStep::Finished { checkpoint, at } => Some((checkpoint, *at)),
            RunStep::Started { .. } => None,
        })
    }
}

/// Where a run starts from.
#[derive(Debug, Clone, Default)]
pub struct Resume {
    /// Outputs earlier runs saved, by visit key.
    pub saved: HashMap<String, Value>,
    /// The start of the entry node is recorded already (a plan's first claim records it).
    pub entry_started: bool,
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

/// Who writes, and after what: a run of a plan, and its last write that landed. Each write
/// names the one it follows, so a late try of an earlier write (held by a pooler or the
/// network after the run gave up on its connection) cannot land over a later one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunFence {
    pub plan_id: Uuid,
    pub run: i32,
    /// The run's last write that landed; `None` before its first.
    pub last_write: Option<Uuid>,
}

impl RunFence {
    /// A run before its first write (its claim cleared the plan's last write).
    pub fn new(plan_id: Uuid, run: i32) -> Self {
        Self {
            plan_id,
            run,
            last_write: None,
        }
    }
}

#[async_trait]
pub trait CheckpointStore: Send + Sync {
    /// Writes the steps after `fence`'s last write, and moves the fence on to this one;
    /// `Ownership::Lost` when another run owns the plan.
    async fn save(&self, fence: &mut RunFence, unsaved: Unsaved) -> anyhow::Result<Ownership>;
    /// Records that the node visit `key` ran past its timeout and was abandoned.
    async fn timed_out(&self, plan_id: Uuid, run: i32, key: &str, after: Duration) -> anyhow::Result<()>;
}
