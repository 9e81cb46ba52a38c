//! Runs whose last write is on its way. A run that succeeded hands its final write (the
//! result with its last checkpoints) to a task of its own and gives its worker slot back at
//! once, as graphile-worker completes its jobs in batches off the slot: the next plan starts
//! while PostgreSQL commits the last one's result in a group commit.
//!
//! At most `room` writes wait at once (a full room holds the slot until one lands), and a
//! stopping worker waits for them before it hands plans back. Each write that lands wakes the
//! worker: until then its plan counted against its owner's cap, and a claim may have found
//! nothing to take because of it. A plan whose write is lost
//! with the process is still `running` under the worker's name: it is rescued and run again
//! from its checkpoints, like any plan of a worker that died.

use std::{
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use crate::queue::wake::Nudge;

/// Writes that may wait at once, per worker slot.
const ROOM_PER_SLOT: usize = 8;

#[derive(Clone)]
pub struct Finishing {
    writes: TaskTracker,
    room: Arc<Semaphore>,
    /// The current incarnation of the worker's consumer.
    worker: Arc<Mutex<Option<Nudge>>>,
}

impl Finishing {
    /// Room for the writes of a worker running `concurrency` plans at once.
    pub fn for_concurrency(concurrency: usize) -> Self {
        Self::new(concurrency.max(1) * ROOM_PER_SLOT)
    }

    pub fn new(room: usize) -> Self {
        Self {
            writes: TaskTracker::new(),
            room: Arc::new(Semaphore::new(room.max(1))),
            worker: Arc::default(),
        }
    }

    /// The worker to wake when a write lands.
    pub fn wake(&self, worker: Nudge) {
        if let Ok(mut current) = self.worker.lock() {
            *current = Some(worker);
        }
    }

    /// Starts `write` in a task of its own, once there is room for it.
    pub async fn hand_off(&self, write: impl Future<Output = ()> + Send + 'static) {
        let Ok(permit) = self.room.clone().acquire_owned().await else {
            // The room is never closed; were it, write in place.
            return write.await;
        };
        let worker = self.worker.clone();
        self.writes.spawn(async move {
            write.await;
            drop(permit);
            if let Some(worker) = worker.lock().ok().and_then(|w| w.clone()) {
                worker.wake();
            }
        });
    }

    /// Waits up to `limit` for the writes on their way; `false` if some are still pending.
    pub async fn drain(&self, limit: Duration) -> bool {
        self.writes.close();
        let drained = tokio::time::timeout(limit, self.writes.wait()).await.is_ok();
        self.writes.reopen();
        drained
    }

    pub fn pending(&self) -> usize {
        self.writes.len()
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::oneshot;

    use super::*;

    #[tokio::test]
    async fn a_full_room_holds_the_slot_until_a_write_lands_and_each_landing_wakes_the_worker() {
        let finishing = Finishing::new(1);
        let (worker, mut woken) = Nudge::channel();
        finishing.wake(worker);
        let (land, landed) = oneshot::channel::<()>();
        finishing
            .hand_off(async move {
                let _ = landed.await;
            })
            .await;
        assert_eq!(finishing.pending(), 1);
        // The room is full: the next hand-off waits for the first write.
        let second = finishing.hand_off(async {});
        tokio::pin!(second);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), &mut second)
                .await
                .is_err()
        );
        assert!(woken.try_recv().is_err(), "nothing landed yet");
        let _ = land.send(());
        tokio::time::timeout(Duration::from_secs(5), second)
            .await
            .expect("room once the first landed");
        assert!(finishing.drain(Duration::from_secs(5)).await);
        assert_eq!(finishing.pending(), 0);
        assert!(woken.try_recv().is_ok(), "a landing wakes the worker");
    }

    #[tokio::test]
    async fn draining_gives_up_on_a_write_that_never_lands() {
        let finishing = Finishing::new(4);
        finishing.hand_off(std::future::pending()).await;
        assert!(!finishing.drain(Duration::from_millis(50)).await);
        assert_eq!(finishing.pending(), 1);
        // Still open for writes after a drain.
        finishing.hand_off(async {}).await;
    }
}
