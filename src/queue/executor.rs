//! The attempt executor: one attempt of one plan, as a worker runs it once the queue has
//! claimed it — run the planning graph within the plan's execution timeout, and record how
//! it ended. Each way of ending has one owner:
//! - a transient failure spends the attempt and is retried through the queue after the
//!   backoff of `retry`;
//! - an upstream whose breaker is open parks the plan for the cool-down, attempt returned;
//! - a plan that needs a person parks in `awaiting_approval`, holding no worker slot;
//! - a worker shutting down hands its plans back, attempts returned;
//! - a permanent failure fails the plan with the reason.
//!
//! Every outcome is written through `runs::end_durably`, which waits out a database outage
//! and counts a write that committed and lost its answer as written.

use std::{collections::HashMap, sync::Arc, time::Duration};

use serde_json::{Value, json};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use crate::{
    config::Settings,
    graph::{NodeError, Ran, Resume, RunError, Runner},
    metrics,
    queue::{finishing::Finishing, outcome::Outcome, retry},
    store::{
        approval::{Approval, Decision},
        checkpoints::{self, PgCheckpoints},
        plan_error::PlanError,
        progress::Success,
        queue::{Claimed, Lease},
        runs::{self, Requeue},
        states::PlanStatus,
    },
    travel::{
        nodes::{self, Answer, Finalized, PlanInput, PlannerPolicy, Step},
        sources::Sources,
    },
};

/// What a failure that belongs to no node is recorded against: the run as a whole (its
/// timeout), or the checkpoint store.
const WHOLE_PLAN: &str = "plan";
const CHECKPOINTS: &str = "checkpoint";

pub struct Executor {
    pool: PgPool,
    graph: Runner,
    checkpoints: PgCheckpoints,
    retry_base: Duration,
    plan_timeout: Duration,
    /// Fires when the worker's shutdown grace period is over: in-flight plans are handed back.
    pub shutdown: CancellationToken,
    /// Final writes of succeeded runs, off their worker slots.
    pub finishing: Finishing,
    /// A results store is configured: a success records its export (`store::exports`).
    export_results: bool,
}

/// One attempt of a plan, as its recording needs it.
#[derive(Clone, Copy)]
struct Attempt {
    plan_id: Uuid,
    lease: Lease,
    created_at: chrono::DateTime<chrono::Utc>,
    started: std::time::Instant,
}

/// How the graph's run ended, before it is recorded.
enum Ended {
    Graph(Result<Ran, RunError>),
    TimedOut,
    ShuttingDown,
}

impl Executor {
    pub fn new(pool: PgPool, settings: &Settings, sources: Sources) -> Arc<Self> {
        let policy = PlannerPolicy {
            approval_over_budget: settings.approval_over_budget,
            approval_on_degraded: settings.approval_on_degraded,
        };
        let checkpoints = PgCheckpoints::new(pool.clone());
        let graph = Runner {
            graph: nodes::planning_graph(sources, policy),
            store: Arc::new(checkpoints.clone()),
            delays: settings.node_delays.clone(),
            panics: settings.node_panics.clone(),
            node_timeout: settings.node_timeout,
        };
        Arc::new(Self {
            pool,
            graph,
            checkpoints,
            retry_base: settings.queue.retry_base,
            plan_timeout: settings.plan_timeout,
            shutdown: CancellationToken::new(),
            finishing: Finishing::for_concurrency(settings.worker_concurrency),
            export_results: settings.results.store.is_some(),
        })
    }

    /// The graph's entry node.
    pub fn entry(&self) -> &'static str {
        self.graph.graph.entry()
    }

    /// Runs the claimed attempt and records its outcome; errors only when the database
    /// fails for longer than `durable` waits. A run that succeeded returns as soon as its
    /// final write is handed to `finishing`, giving its slot to the next plan.
    pub async fn run(self: &Arc<Self>, plan: Claimed) -> anyhow::Result<()> {
        let Claimed {
            plan_id,
            owner: _,
            lease,
            request,
            approval,
            created_at,
            queued_for,
            trace_context,
            checkpoints,
        } = plan;
        if let Some(wait) = queued_for {
            metrics::queue_wait(wait);
        }
        let span = tracing::info_span!("plan", plan_id = %plan_id, attempt = lease.attempt, run = lease.run);
        let carrier: HashMap<String, String> = trace_context
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        crate::telemetry::continue_trace(&span, &carrier);
        let input = serde_json::to_value(PlanInput {
            request,
            answer: answer(&approval),
        })?;
        let resume = Resume {
            entry_started: checkpoints.is_empty(),
            saved: checkpoints,
        };
        let in_flight = metrics::InFlight::enter();
        let attempt = Attempt {
            plan_id,
            lease,
            created_at,
            started: std::time::Instant::now(),
        };
        // Boxed: a task waiting in the graph holds the run's state, not the recording's too.
        let ended = Box::pin(self.attempt(&attempt, &input, resume))
            .instrument(span.clone())
            .await;
        if let Ended::Graph(Ok(ran)) = ended {
            let this = self.clone();
            let write = async move {
                let result = this.conclude(&attempt, Ended::Graph(Ok(ran)), in_flight).await;
                if let Err(e) = result {
                    tracing::error!(error = %e, "plan's result not recorded: the database failed; the plan will be rescued and run again from its checkpoints");
                }
            };
            self.finishing.hand_off(write.instrument(span)).await;
            return Ok(());
        }
        Box::pin(self.conclude(&attempt, ended, in_flight))
            .instrument(span)
            .await
    }

    /// Runs the graph, within the plan's timeout and until the worker's grace runs out.
    async fn attempt(&self, attempt: &Attempt, input: &Value, resume: Resume) -> Ended {
        tracing::info!(status = %PlanStatus::Running, "plan attempt started");
        let run = self.graph.run(attempt.plan_id, attempt.lease.run, input, resume);
        tokio::select! {
            result = tokio::time::timeout(self.plan_timeout, run) => match result {
                Ok(result) => Ended::Graph(result),
                Err(_) => Ended::TimedOut,
            },
            _ = self.shutdown.cancelled() => Ended::ShuttingDown,
        }
    }

    /// Records how the attempt ended, and its metrics.
    async fn conclude(&self, attempt: &Attempt, ended: Ended, in_flight: metrics::InFlight) -> anyhow::Result<()> {
        let Attempt {
            plan_id,
            lease,
            created_at,
            started,
        } = *attempt;
        let result = match self.record(plan_id, lease, ended).await {
            Ok((true, outcome)) => Ok(outcome),
            Ok((false, _)) => {
                tracing::warn!("another run owns the plan now; this run's outcome is dropped");
                Ok(Outcome::Lost)
            }
            Err(e) => Err(e),
        };
        drop(in_flight);
        let outcome = result.as_ref().map_or(Outcome::Aborted, |o| *o);
        metrics::graph_run(outcome.label(), started.elapsed());
        if let Some(status) = outcome.terminal_status(lease.is_last_attempt()) {
            metrics::plan_finished(status.as_str(), age(created_at));
        }
        result.map(|_| ())
    }

    /// Writes the attempt's end; `false` with it when another run owns the plan now.
    async fn record(&self, plan_id: Uuid, lease: Lease, ended: Ended) -> anyhow::Result<(bool, Outcome)> {
        let pool = &self.pool;
        Ok(match ended {
            Ended::ShuttingDown => {
                tracing::info!(status = %PlanStatus::Queued, "worker shutting down; plan handed back");
                let error = PlanError::handed_back();
                let why = Requeue::HandBack;
                let hand_back = |w| runs::requeue(pool, plan_id, lease, w, why.clone(), &error, Duration::ZERO);
                let owned = runs::end_durably(pool, "hand back", plan_id, hand_back).await?;
                if owned {
                    metrics::requeued("hand_back");
                }
                (owned, Outcome::HandedBack)
            }
            Ended::TimedOut => {
                let after = self.plan_timeout;
                tracing::warn!(after_ms = after.as_millis() as u64, "plan run timed out");
                metrics::timeout(WHOLE_PLAN);
                // The event tells the timeline; the attempt's end below (which waits out an
                // outage) is what must not be missed, so a failure here does not stop it.
                if let Err(e) =
                    checkpoints::record_timeout(pool, plan_id, lease.run, WHOLE_PLAN, WHOLE_PLAN, after).await
                {
                    tracing::warn!(error = %e, "the plan's timeout event could not be written");
                }
                let message = format!("the plan run timed out after {} ms", after.as_millis());
                (
                    self.transient(plan_id, lease, WHOLE_PLAN, message).await?,
                    Outcome::TimedOut,
                )
            }
            Ended::Graph(Ok(ran)) => (self.succeed(ran).await?, Outcome::Succeeded),
            Ended::Graph(Err(RunError::Cancelled)) => {
                tracing::info!(status = %PlanStatus::Cancelled, "plan cancelled at a node boundary");
                let cancel = |w| runs::end(pool, plan_id, lease, w, PlanStatus::Cancelled, None);
                let owned = runs::end_durably(pool, "cancel", plan_id, cancel).await?;
                (owned, Outcome::Cancelled)
            }
            Ended::Graph(Err(RunError::Lost)) => (false, Outcome::Lost),
            // The database failed under the run for longer than a write waits, or in a way
            // waiting does not mend: the attempt is lost; record that once it answers again.
            Ended::Graph(Err(RunError::Store(e))) => {
                tracing::warn!(error = %e, "checkpoint store failed; retrying the plan");
                let message = format!("the database failed during the run: {e}");
                (
                    self.transient(plan_id, lease, CHECKPOINTS, message).await?,
                    Outcome::StoreError,
                )
            }
            Ended::Graph(Err(RunError::Node { node, error })) => self.node_failed(plan_id, lease, &node, error).await?,
        })
    }

    /// Stores the plan `finalize` produced, with the run's last steps.
    async fn succeed(&self, ran: Ran) -> anyhow::Result<bool> {
        // The outputs are let go before the write: only the unsaved steps and the result
        // wait for the commit (with a thousand plans in flight, that is most of the memory).
        let Ran {
            outputs,
            unsaved,
            fence,
        } = ran;
        let finalized: Finalized = outputs
            .read::<Finalized>(Step::Finalize.as_str())
            .transpose()?
            .ok_or_else(|| anyhow::anyhow!("graph ended without {}", Step::Finalize))?;
        drop(outputs);
        let total = finalized.result.costs.total;
        let success = Success {
            result: serde_json::value::to_raw_value(&finalized.result)?,
            warnings: json!(finalized.result.warnings),
            markdown: finalized.markdown,
            token_usage: finalized.token_usage.map(|u| json!(u)),
            export: self.export_results,
        };
        let owned = self.checkpoints.succeed(fence, unsaved, success).await?;
        if owned {
            tracing::info!(status = %PlanStatus::Succeeded, total, "plan succeeded");
        }
        Ok(owned)
    }

    /// A node's failure, by its kind.
    async fn node_failed(
        &self,
        plan_id: Uuid,
        lease: Lease,
        node: &str,
        error: NodeError,
    ) -> anyhow::Result<(bool, Outcome)> {
        let pool = &self.pool;
        Ok(match error {
            NodeError::Permanent { code, message } => {
                tracing::warn!(status = %PlanStatus::Failed, node, code, message, "plan failed");
                let error = PlanError::new(&code, message, Some(node));
                let end = |w| runs::end(pool, plan_id, lease, w, PlanStatus::Failed, Some(&error));
                let owned = runs::end_durably(pool, "fail", plan_id, end).await?;
                (owned, Outcome::Failed)
            }
            NodeError::Transient(message) => (self.transient(plan_id, lease, node, message).await?, Outcome::Transient),
            NodeError::Wait {
                delay,
                upstream,
                reason,
            } => {
                let delay_ms = delay.as_millis() as u64;
                tracing::warn!(status = %PlanStatus::Queued, node, upstream, reason, delay_ms, "waiting for an upstream; attempt not spent");
                let error = PlanError::waiting_for_upstream(reason, node);
                let why = Requeue::WaitForUpstream { provider: upstream };
                let wait = |w| runs::requeue(pool, plan_id, lease, w, why.clone(), &error, delay);
                let owned = runs::end_durably(pool, "wait", plan_id, wait).await?;
                if owned {
                    metrics::requeued("wait");
                }
                (owned, Outcome::Waiting)
            }
            NodeError::AwaitApproval { reason } => {
                tracing::info!(status = %PlanStatus::AwaitingApproval, reason, "plan awaits approval");
                let park = |w| runs::await_approval(pool, plan_id, lease, w, node, &reason);
                let owned = runs::end_durably(pool, "await approval", plan_id, park).await?;
                (owned, Outcome::AwaitingApproval)
            }
        })
    }

    /// A transient failure spends the attempt: retry after a backoff, or fail when none is left.
    async fn transient(&self, plan_id: Uuid, lease: Lease, node: &str, message: String) -> anyhow::Result<bool> {
        retry::spend_attempt(&self.pool, self.retry_base, plan_id, lease, node, message).await
    }
}

/// A person's decision on the plan, as the approval node reads it.
fn answer(approval: &Approval) -> Option<Answer> {
    approval.decision.map(|decision| Answer {
        approved: decision == Decision::Approved,
        by: approval.decided_by.clone(),
    })
}

fn age(created_at: chrono::DateTime<chrono::Utc>) -> Duration {
    (chrono::Utc::now() - created_at).to_std().unwrap_or_default()
}
