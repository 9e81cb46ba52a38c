//! Our apalis backend: the plans table is the queue under an apalis worker. apalis drives it
//! (`Persisted`): the worker's registration and heartbeat, and a fetch whenever the worker
//! has free slots — which takes that many plans already claimed (`claims`), whose claims
//! run in the background, in batches (`store::queue::claim`), for the free slots plus
//! `prefetch` (0 by default), so that no claimed plan waits long for a slot. The heartbeat
//! also puts back in the queue the plans of workers gone silent.
//!
//! A failed database call is logged and tried again at the next wake-up rather than ending
//! the consumer's stream: the plans in flight keep running and nothing is orphaned by a
//! dropped connection (an attempt's end and a run's checkpoint writes wait out the outage; a
//! write that fails otherwise spends the attempt, and the plan resumes from its last saved
//! node).

use std::{
    convert::Infallible,
    sync::Arc,
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
use futures::future::BoxFuture;
use sqlx::PgPool;

use crate::{
    metrics,
    queue::{
        claims::{self, Claims},
        consumer::Consumer,
        wake::Nudge,
    },
    store::{
        queue::{self, Claimed},
        runs,
        states::PlanStatus,
    },
};

#[derive(Clone)]
pub struct PlanQueue {
    pool: PgPool,
    consumer: Arc<Consumer>,
    claims: Arc<Claims>,
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
                for plan in &rescued.exhausted {
                    tracing::error!(plan_id = %plan.id, "plan failed: attempts exhausted by workers that stopped");
                    metrics::plan_finished(PlanStatus::Failed.as_str(), plan.age());
                }
            }
            Err(e) => tracing::warn!(error = %e, "rescue of silent workers' plans failed"),
        }
        Ok(())
    }

    async fn fetch_next(&mut self, worker: &WorkerContext) -> Result<Vec<Task<Claimed>>, Infallible> {
        // apalis fetches again only once the plans fetched before have all been handed to
        // slots; a claim that lands plans nudges the worker into fetching them.
        let free = self.consumer.concurrency.saturating_sub(worker.task_count());
        Ok(self.claims.take(worker.name(), free).into_iter().map(task).collect())
    }

    /// Plans claimed and never started (the worker stopped first) go back with their attempt.
    async fn reenqueue_abandoned(
        &mut self,
        tasks: Vec<Task<Claimed>>,
        worker: &WorkerContext,
    ) -> Result<u64, Infallible> {
        let ids: Vec<_> = tasks.iter().map(|t| t.args.plan_id).collect();
        Ok(claims::hand_back(&self.pool, worker.name(), &ids).await)
    }

    /// A run records its own outcome; the queue has nothing to acknowledge.
    async fn handle_events(&mut self, _: Vec<TaskEvent<()>>, _: &WorkerContext) -> Result<(), Infallible> {
        Ok(())
    }

    /// Plans enter the queue through `store::submissions::create`, never through apalis.
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
    claims: Arc<Claims>,
    heartbeat: Duration,
    closing: Option<BoxFuture<'static, ()>>,
}

impl PlanBackend {
    /// `nudge` wakes the worker when a claim lands plans.
    pub fn new(pool: PgPool, consumer: Consumer, nudge: Nudge) -> Self {
        let heartbeat = consumer.heartbeat;
        let consumer = Arc::new(consumer);
        let claims = Claims::new(pool.clone(), consumer.clone(), nudge);
        let queue = PlanQueue {
            pool,
            consumer,
            claims: claims.clone(),
        };
        Self {
            persisted: Persisted::new(queue),
            claims,
            heartbeat,
            closing: None,
        }
    }
}

/// A worker that stopped without closing its backend (apalis restarting it) leaves no
/// claimed plan behind either.
impl Drop for PlanBackend {
    fn drop(&mut self) {
        if self.closing.is_none()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let claims = self.claims.clone();
            runtime.spawn(async move { claims.close().await });
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
        std::task::ready!(self.persisted.poll_close(cx, worker))?;
        let closing = self.closing.get_or_insert_with(|| {
            let claims = self.claims.clone();
            Box::pin(async move { claims.close().await })
        });
        closing.as_mut().poll(cx).map(Ok)
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
