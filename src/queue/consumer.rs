//! How a worker consumes the queue: its slots, its prefetch, the per-owner cap it claims
//! under, and its heartbeat. Read by the backend (`backend`) and its claims (`claims`).

use std::time::Duration;

/// How a worker consumes the queue.
#[derive(Debug, Clone)]
pub struct Consumer {
    /// Plans the worker runs at once.
    pub concurrency: usize,
    /// Plans of one owner running at once, across every worker.
    pub owner_cap: u32,
    /// Plans claimed beyond the free slots, held until a slot frees.
    pub prefetch: usize,
    /// The graph's entry node, whose start a plan's first claim records.
    pub entry: Option<&'static str>,
    pub heartbeat: Duration,
    /// A worker silent this long is dead: its plans go back to the queue.
    pub silent_for: Duration,
    /// Base of the backoff after a failed attempt (a failed claim spends one).
    pub retry_base: Duration,
}
