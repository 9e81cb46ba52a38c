//! What wakes an idle worker: a NOTIFY on `WAKE_CHANNEL` (a plan queued to run now), a
//! nudge from inside the process (a result landed, freeing its owner's room), or the poll tick, which finds what NOTIFY never announces — plans due later (retries, scheduled
//! plans, waits for an upstream) — and covers a NOTIFY missed while the listener reconnects.
//!
//! The tick polls its interval until it is pending again, which registers the waker for the
//! next tick every time (apalis-core 1.0's `IntervalStrategy` re-arms its timer without
//! polling it, and so stops ticking).

use std::{
    task::{Context, Poll},
    time::Duration,
};

use apalis::prelude::{PollSnapshot, PollStrategy};
use sqlx::{PgPool, postgres::PgListener};
use tokio::{
    sync::mpsc,
    time::{Interval, MissedTickBehavior},
};

use crate::store::queue::WAKE_CHANNEL;

pub struct Wake {
    notified: mpsc::Receiver<()>,
    nudge: mpsc::Sender<()>,
    tick: Tick,
}

impl Wake {
    /// Listens on its own connection until the `Wake` is dropped; ticks every `period`.
    pub fn listen(pool: &PgPool, period: Duration) -> Self {
        let (sender, notified) = mpsc::channel(1);
        tokio::spawn(listen(pool.clone(), sender.clone()));
        Self {
            notified,
            nudge: sender,
            tick: Tick::every(period),
        }
    }

    /// Wakes the worker from inside the process (a full channel already holds a wake-up).
    pub fn nudger(&self) -> Nudge {
        Nudge(self.nudge.clone())
    }
}

/// A handle that wakes one worker.
#[derive(Clone)]
pub struct Nudge(mpsc::Sender<()>);

impl Nudge {
    pub fn wake(&self) {
        let _ = self.0.try_send(());
    }

    /// A nudge and what it wakes, without a database.
    #[cfg(test)]
    pub fn channel() -> (Self, mpsc::Receiver<()>) {
        let (sender, receiver) = mpsc::channel(1);
        (Self(sender), receiver)
    }
}

/// The poll tick alone, for a backend with a wake-up of its own (the benchmark's
/// apalis-postgres reference).
pub struct Tick {
    interval: Interval,
}

impl Tick {
    pub fn every(period: Duration) -> Self {
        Self {
            interval: interval(period),
        }
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

fn interval(period: Duration) -> Interval {
    let mut tick = tokio::time::interval(period.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tick
}

impl PollStrategy for Wake {
    fn poll_drive(&mut self, cx: &mut Context<'_>, snapshot: &PollSnapshot) -> Poll<Option<()>> {
        let mut fired = false;
        while let Poll::Ready(Some(())) = self.notified.poll_recv(cx) {
            fired = true;
        }
        let ticked = self.tick.poll_drive(cx, snapshot).is_ready();
        if fired || ticked {
            Poll::Ready(Some(()))
        } else {
            Poll::Pending
        }
    }
}

async fn listen(pool: PgPool, wake: mpsc::Sender<()>) {
    let mut listener: Option<PgListener> = None;
    loop {
        let Some(active) = listener.as_mut() else {
            match subscribe(&pool).await {
                Ok(l) => listener = Some(l),
                // The process is shutting its pool: nobody is left to wake.
                Err(sqlx::Error::PoolClosed) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot LISTEN for queued plans; polling until it can");
                    tokio::select! {
                        _ = wake.closed() => return,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
            continue;
        };
        tokio::select! {
            _ = wake.closed() => return,
            // `try_recv` says when the connection was lost (`Ok(None)`; the next call
            // reconnects): plans queued meanwhile were announced to nobody.
            received = active.try_recv() => match received {
                // A full channel already holds a wake-up: this one adds nothing.
                Ok(_) => { let _ = wake.try_send(()); }
                Err(sqlx::Error::PoolClosed) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "LISTEN connection lost; reconnecting");
                    listener = None;
                    // Plans queued meanwhile were announced to nobody.
                    let _ = wake.try_send(());
                }
            },
        }
    }
}

async fn subscribe(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(WAKE_CHANNEL).await?;
    Ok(listener)
}
