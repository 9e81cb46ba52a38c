//! Our apalis backend: the plans table is the queue under an apalis worker. apalis drives it
//! (`Persisted`): the worker's registration and heartbeat, and a fetch whenever the worker
//! has free slots — which claims at most that many due plans (plus `prefetch`, 0 by default)
//! in one statement (`store::queue::claim`), so that no claimed plan waits long for a slot. The heartbeat
//! also puts back in the queue the plans of workers gone silent.
//!
//! A failed database call is logged and tried again at the next wake-up rather than ending
//! the consumer's stream: the plans in flight keep running (their writes wait out the outage)
//! and nothing is orphaned by a dropped connection.

use std::{
    convert::Infallible,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};

use apalis::prelude::{Backend, Identity, Task, TaskBuilder, TaskId};
use apalis_core::{
    backend::{
        BackendConfig,
        finalize::Ephemeral,
        persistence::{Persisted, Persistence, TaskEvent},
    },
    task::task_id::RandomId,
    worker::context::WorkerContext,
};
use sqlx::PgPool;

use crate::{
    metrics,
    store::{
        queue::{self, ClaimLimits, Claimed},
        runs,
    },
};

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
}

#[derive(Clone)]
pub struct PlanQueue {
    pool: PgPool,
    consumer: Arc<Consumer>,
    /// The owner this worker served last: the next claim starts with the owner after it.
    last_owner: Arc<Mutex<Option<String>>>,
}

impl Persistence for PlanQueue {
    type Compact = Claimed;
    type Response = ();
    type Error = Infallible;

    async fn register(&mut self, worker: &WorkerContext) -> Result<(), Infallible> {
        self.heartbeat(worker).await
    }

    async fn heartbeat(&mut self, worker: &WorkerContext) -> Result<(), Infallible> {
        let name = worker.name();
        if let Err(e) = queue::heartbeat(&self.pool, name, self.consumer.concurrency).await {
            tracing::warn!(worker = name, error = %e, "heartbeat failed; trying again at the next");
            return Ok(());
        }
        match runs::rescue_orphans(&self.pool, self.consumer.silent_for).await {
            Ok(rescued) => {
                for id in &rescued.requeued {
                    tracing::warn!(plan_id = %id, "plan of a silent worker back in the queue");
                    metrics::requeued("rescued");
                }
                for id in &rescued.exhausted {
                    tracing::error!(plan_id = %id, "plan failed: attempts exhausted by workers that stopped");
                }
            }
            Err(e) => tracing::warn!(error = %e, "rescue of silent workers' plans failed"),
        }
        Ok(())
    }

    async fn fetch_next(&mut self, worker: &WorkerContext) -> Result<Vec<Task<Claimed>>, Infallible> {
        // apalis fetches again only once the plans fetched before have all been handed to
        // slots, so at most `prefetch` plans wait here for a slot.
        let free = self.consumer.concurrency.saturating_sub(worker.task_count()) + self.consumer.prefetch;
        let after = self.last_owner.lock().map(|o| o.clone()).unwrap_or_default();
        let limits = ClaimLimits {
            max: free,
            owner_cap: self.consumer.owner_cap,
            after_owner: after.as_deref(),
        };
        match queue::claim(&self.pool, worker.name(), limits, self.consumer.entry).await {
            Ok(claimed) => {
                if let (Some(last), Ok(mut cursor)) = (claimed.last(), self.last_owner.lock()) {
                    *cursor = Some(last.owner.clone());
                }
                Ok(claimed.into_iter().map(task).collect())
            }
            Err(e) => {
                tracing::warn!(worker = worker.name(), error = %e, "claim failed; trying again at the next wake-up");
                Ok(Vec::new())
            }
        }
    }

    /// Plans claimed and never started (the worker stopped first) go back with their attempt.
    async fn reenqueue_abandoned(
        &mut self,
        tasks: Vec<Task<Claimed>>,
        worker: &WorkerContext,
    ) -> Result<u64, Infallible> {
        let ids: Vec<_> = tasks.iter().map(|t| t.args.plan_id).collect();
        match runs::hand_back(&self.pool, worker.name(), Some(&ids)).await {
            Ok(n) => Ok(n),
            Err(e) => {
                tracing::warn!(error = %e, plans = ids.len(), "claimed plans not handed back; the rescue will");
                Ok(0)
            }
        }
    }

    /// A run records its own outcome; the queue has nothing to acknowledge.
    async fn handle_events(&mut self, _: Vec<TaskEvent<()>>, _: &WorkerContext) -> Result<(), Infallible> {
        Ok(())
    }

    /// Plans enter the queue through `store::plans::create`, never through apalis.
    async fn push_tasks(&mut self, tasks: Vec<Task<Claimed>>) -> Result<(), Infallible> {
        tracing::error!(
            tasks = tasks.len(),
            "plans cannot be pushed through the worker; ignored"
        );
        Ok(())
    }
}

fn task(claimed: Claimed) -> Task<Claimed> {
    let id = TaskId::String(format!("{}:{}", claimed.plan_id, claimed.lease.run));
    TaskBuilder::new(claimed).task_id(id).build()
}

/// The backend a worker runs on.
pub struct PlanBackend {
    persisted: Persisted<PlanQueue>,
    heartbeat: Duration,
}

impl PlanBackend {
    pub fn new(pool: PgPool, consumer: Consumer) -> Self {
        let heartbeat = consumer.heartbeat;
        let queue = PlanQueue {
            pool,
            consumer: Arc::new(consumer),
            last_owner: Arc::default(),
        };
        Self {
            persisted: Persisted::new(queue),
            heartbeat,
        }
    }
}

impl Backend for PlanBackend {
    type Task = Task<Claimed>;
    type Error = Infallible;

    fn poll_ready(&mut self, cx: &mut Context<'_>, worker: &WorkerContext) -> Poll<Result<(), Infallible>> {
        self.persisted.poll_ready(cx, worker, self.heartbeat)
    }

    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Option<Result<Task<Claimed>, Infallible>>> {
        self.persisted.poll_next(cx, worker)
    }

    fn poll_close(&mut self, cx: &mut Context<'_>, worker: &WorkerContext) -> Poll<Result<(), Infallible>> {
        self.persisted.poll_close(cx, worker)
    }
}

impl BackendConfig for PlanBackend {
    type Args = Claimed;
    type Id = RandomId;
    type Kind = Ephemeral;
    type Config = ();
    type Layer = Identity;

    fn config(&self) -> &() {
        &()
    }

    fn middleware(&mut self, _: &mut WorkerContext) -> Identity {
        Identity::new()
    }
}
