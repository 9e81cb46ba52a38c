//! The queue's settings: polling, heartbeats, backoff, the owners' cap and prefetch.

use std::time::Duration;

use super::vars::Vars;

#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// How often an idle worker polls besides LISTEN/NOTIFY (which misses delayed jobs).
    pub poll_interval: Duration,
    pub heartbeat_interval: Duration,
    /// A worker silent for heartbeat_interval × missed_heartbeats is dead; its plans are re-queued.
    pub missed_heartbeats: usize,
    /// Base of the exponential backoff between plan attempts.
    pub retry_base: Duration,
    /// Plans of one owner running at once, across every worker: one owner's backlog never
    /// holds up another's plans.
    pub owner_max_running: u32,
    /// Plans a worker claims beyond its free slots, to start each the moment a slot frees
    /// (a local queue, as graphile-worker's): worth it only for plans of a few milliseconds.
    pub prefetch: usize,
}

impl QueueSettings {
    pub(super) fn read(vars: &Vars) -> anyhow::Result<Self> {
        Ok(Self {
            poll_interval: vars.millis("QUEUE_POLL_MS", 1000)?,
            heartbeat_interval: vars.secs("QUEUE_HEARTBEAT_SECS", 10)?,
            missed_heartbeats: vars.parsed("QUEUE_MISSED_HEARTBEATS", 6)?,
            retry_base: vars.millis("PLAN_RETRY_BASE_MS", 2000)?,
            owner_max_running: vars.parsed("OWNER_MAX_RUNNING", 8)?,
            prefetch: vars.parsed("QUEUE_PREFETCH", 0)?,
        })
    }
}
