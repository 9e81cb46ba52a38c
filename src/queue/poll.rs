//! The idle worker's poll. apalis-core 1.0's `IntervalStrategy` re-arms its timer after it
//! fires without polling the new timer, so nothing wakes the worker for the next tick until
//! something else does (a NOTIFY, a heartbeat): delayed jobs — retries with `run_at` — then
//! start up to a heartbeat late. This strategy polls its interval until it is pending again,
//! which registers the waker for the next tick every time.

use std::{
    task::{Context, Poll},
    time::Duration,
};

use apalis::prelude::{PollSnapshot, PollStrategy};
use tokio::time::{Interval, MissedTickBehavior};

pub struct Tick {
    interval: Interval,
}

impl Tick {
    pub fn every(period: Duration) -> Self {
        let mut interval = tokio::time::interval(period.max(Duration::from_millis(10)));
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Self { interval }
    }
}

impl PollStrategy for Tick {
    fn poll_drive(&mut self, cx: &mut Context<'_>, _snapshot: &PollSnapshot) -> Poll<Option<()>> {
        let mut fired = false;
        while self.interval.poll_tick(cx).is_ready() {
            fired = true;
        }
        if fired { Poll::Ready(Some(())) } else { Poll::Pending }
    }
}
