//! A worker's claims: plans it claimed and has not yet handed to a slot, and the claims on
//! their way. The worker takes from here as many plans as it has free slots; whenever it
//! will want more than are here or on their way (its free slots plus `prefetch`), a claim
//! starts in the background. Up to two claims run at once, so that one claim's commit
//! overlaps the next one's work (`claim_plans` locks only the owners it serves). A claim that
//! lands plans nudges the worker. Plans still here when the worker stops, or landing after,
//! go back to the queue; those of a claim that failed (it may have committed with its answer
//! lost) spend their attempt, as after any transient failure.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    queue::{consumer::Consumer, retry, wake::Nudge},
    store::{
        durable::durable,
        queue::{self, ClaimLimits, Claimed},
        runs,
    },
};

/// Claims on their way at once. A second starts only for a shortfall of at least half of
/// what the worker holds, so that claims stay large.
const MAX_IN_FLIGHT: usize = 2;

/// What a plan's error names when the claim that took it failed.
const CLAIM: &str = "claim";

pub struct Claims {
    pool: PgPool,
    consumer: Arc<Consumer>,
    nudge: Nudge,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    ready: VecDeque<Claimed>,
    /// Plans the claims on their way asked for.
    asked: usize,
    in_flight: usize,
    /// The worker asked for plans while a claim was on its way: should that claim come back
    /// empty, one more is tried, since what woke the worker may have committed after it looked.
    asked_meanwhile: bool,
    /// The owner served last: the next claim starts with the owner after it.
    last_owner: Option<String>,
    /// The worker's name, once it first asked.
    worker: Option<String>,
    closed: bool,
}

impl Claims {
    pub fn new(pool: PgPool, consumer: Arc<Consumer>, nudge: Nudge) -> Arc<Self> {
        Arc::new(Self {
            pool,
            consumer,
            nudge,
            state: Mutex::default(),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // No code panics while holding it; a poisoned state is still consistent.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Up to `free` claimed plans for `worker`'s free slots; starts a claim when the worker
    /// will want more than are claimed or on their way.
    pub fn take(self: &Arc<Self>, worker: &str, free: usize) -> Vec<Claimed> {
        let mut state = self.state();
        if state.worker.is_none() {
            state.worker = Some(worker.to_string());
        }
        let n = free.min(state.ready.len());
        let taken: Vec<Claimed> = state.ready.drain(..n).collect();
        let wanted = free - taken.len() + self.consumer.prefetch;
        let short = wanted.saturating_sub(state.ready.len() + state.asked);
        if state.closed {
            return taken;
        }
        let held = self.consumer.concurrency + self.consumer.prefetch;
        if short > 0 && (state.in_flight == 0 || (state.in_flight < MAX_IN_FLIGHT && short * 2 >= held)) {
            state.in_flight += 1;
            state.asked += short;
            state.asked_meanwhile = false;
            let after_owner = state.last_owner.clone();
            tokio::spawn(self.clone().claim(worker.to_string(), short, after_owner));
        } else if state.in_flight > 0 {
            state.asked_meanwhile = true;
        }
        taken
    }

    async fn claim(self: Arc<Self>, worker: String, asked: usize, after_owner: Option<String>) {
        let limits = ClaimLimits {
            max: asked,
            owner_cap: self.consumer.owner_cap,
            after_owner: after_owner.as_deref(),
        };
        let claim_id = Uuid::new_v4();
        let result = queue::claim(&self.pool, &worker, limits, self.consumer.entry, claim_id).await;
        let failed = result.is_err();
        let (back, wake) = {
            let mut state = self.state();
            state.in_flight -= 1;
            state.asked -= asked;
            match result {
                Err(e) => {
                    // The next wake-up (a NOTIFY, a nudge or the poll tick) tries again.
                    tracing::warn!(worker, error = %e, "claim failed; trying again at the next wake-up");
                    (Vec::new(), false)
                }
                Ok(claimed) if state.closed => (claimed, false),
                Ok(claimed) => {
                    if let Some(last) = claimed.last() {
                        state.last_owner = Some(last.owner.clone());
                    }
                    let wake = !claimed.is_empty() || std::mem::take(&mut state.asked_meanwhile);
                    state.ready.extend(claimed);
                    (Vec::new(), wake)
                }
            }
        };
        if wake {
            self.nudge.wake();
        }
        hand_back(&self.pool, &worker, &ids(&back)).await;
        if failed {
            release(&self.pool, &worker, claim_id, self.consumer.retry_base).await;
        }
    }

    /// The worker stops: claimed plans not handed to it go back to the queue, now and as
    /// the claims on their way land. (Closing twice hands back nothing more.)
    pub async fn close(&self) {
        let (worker, back): (Option<String>, Vec<Claimed>) = {
            let mut state = self.state();
            state.closed = true;
            (state.worker.clone(), state.ready.drain(..).collect())
        };
        if let Some(worker) = worker {
            hand_back(&self.pool, &worker, &ids(&back)).await;
        }
    }
}

/// Plans claimed and never started go back with their attempt; how many went back.
pub async fn hand_back(pool: &PgPool, worker: &str, plans: &[Uuid]) -> u64 {
    if plans.is_empty() {
        return 0;
    }
    match runs::hand_back(pool, worker, Some(plans)).await {
        Ok(n) => {
            tracing::info!(worker, plans = n, "claimed plans not started handed back");
            n
        }
        Err(e) => {
            tracing::warn!(worker, error = %e, plans = plans.len(), "claimed plans not handed back; the rescue will");
            0
        }
    }
}

/// A failed claim may have committed, its answer lost with the connection: the plans it
/// took spend their attempt as after any transient failure (back in the queue after the
/// backoff, or failed once no attempt is left, so that a claim failing the same way each
/// time cannot go round for ever), once the database answers. Nothing, when it rolled back.
async fn release(pool: &PgPool, worker: &str, claim_id: Uuid, retry_base: Duration) {
    let claimed = match durable("read a failed claim's plans", || {
        runs::claimed_by(pool, worker, claim_id)
    })
    .await
    {
        Ok(claimed) => claimed,
        Err(e) => {
            tracing::error!(worker, error = %e, "a failed claim's plans not released; the stuck-plan rescue will");
            return;
        }
    };
    for (plan_id, lease) in claimed {
        let message = "the claim's answer was lost with its connection".to_string();
        if let Err(e) = retry::spend_attempt(pool, retry_base, plan_id, lease, CLAIM, message).await {
            tracing::error!(worker, %plan_id, error = %e, "a failed claim's plan not released; the stuck-plan rescue will");
        }
    }
}

fn ids(plans: &[Claimed]) -> Vec<Uuid> {
    plans.iter().map(|p| p.plan_id).collect()
}
