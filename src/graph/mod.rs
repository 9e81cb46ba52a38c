//! A small durable graph runtime. A graph is named nodes joined by edges: a plain edge to
//! one or more nodes (more than one fans out and the nodes run concurrently; the next wave
//! joins them), a conditional edge that picks its successors from the outputs so far, or
//! the end. Every node's output is checkpointed; a re-run loads checkpoints instead of
//! running their nodes again, so work survives a crash or a retry. A run writes once per
//! wave that did work worth keeping, and not at all for waves that only compute (`Saving`).

mod checkpoint;
mod node;
mod progress;
mod runner;
mod shape;

pub use checkpoint::{Checkpoint, CheckpointStore, Ownership, Resume, RunFence, RunStep, Unsaved};
pub use node::{Node, NodeContext, NodeError, Output, Outputs, Saving, output_of, to_output};
pub use progress::{Progress, node_of, visit_key};
pub use runner::{Ran, RunError, Runner};
pub use shape::{Branch, Edge, Graph};
