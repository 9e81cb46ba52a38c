//! The attempt executor: one attempt of one plan, as a worker runs it when the queue hands
//! it the plan's job — claim the attempt, run the planning graph within the plan's
//! execution timeout, and record how it ended. Each way of ending has one owner:
//! - a transient failure spends the attempt and is retried through the queue after the
//!   backoff of `retry`;
//! - an upstream whose breaker is open parks the plan for the cool-down, attempt returned;
//! - a plan that needs a person parks in `awaiting_approval`, holding no worker slot;
//! - a worker shutting down hands its plans back, attempts returned;
//! - a permanent failure fails the plan with the reason.
//!
//! Every outcome is written through `durable`, which waits out a database outage.

use std::{collections::HashMap, sync::Arc, time::Duration};

use serde_json::{Value, json};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use crate::{
    config::Settings,
    graph::{NodeError, RunError, Runner},
    metrics,
    queue::{durable::durable, outcome::Outcome, retry},
    store::{
        approval::{Approval, Decision},
        checkpoints::{self, PgCheckpoints},
        plan_error::PlanError,
        runs::{self, Claim, Finished, Lease, Requeue},
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
    retry_base: Duration,
    plan_timeout: Duration,
    /// Fires when the worker's shutdown grace period is over: in-flight plans are handed back.
    pub shutdown: CancellationToken,
}

/// How the graph's run ended, before it is recorded.
enum Ended {
    Graph(Result<HashMap<String, Value>, RunError>),
    TimedOut,
    ShuttingDown,
}

/// An attempt the executor claimed.
struct Claimed {
    lease: Lease,
    input: Value,
    created_at: chrono::DateTime<chrono::Utc>,
    trace_context: Option<Value>,
}

impl Executor {
    pub fn new(pool: PgPool, settings: &Settings, sources: Sources) -> Arc<Self> {
        let policy = PlannerPolicy {
            results_dir: settings.results_dir.clone(),
            approval_over_budget: settings.approval_over_budget,
            approval_on_degraded: settings.approval_on_degraded,
        };
        let graph = Runner {
            graph: nodes::planning_graph(sources, policy),
            store: Arc::new(PgCheckpoints { pool: pool.clone() }),
            delays: settings.node_delays.clone(),
            node_timeout: settings.node_timeout,
        };
        Arc::new(Self {
            pool,
            graph,
            retry_base: settings.queue.retry_base,
            plan_timeout: settings.plan_timeout,
            shutdown: CancellationToken::new(),
        })
    }

    /// Errors only when the database fails; the queue then retries the job.
    pub async fn run(&self, plan_id: Uuid, worker: &str) -> anyhow::Result<()> {
        let Some(claimed) = self.claim(plan_id, worker).await? else {
            return Ok(());
        };
        let lease = claimed.lease;
        let span = tracing::info_span!("plan", plan_id = %plan_id, attempt = lease.attempt, run = lease.run);
        let carrier: HashMap<String, String> = claimed
            .trace_context
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        crate::telemetry::continue_trace(&span, &carrier);
        metrics::plans_in_flight(1.0);
        let started = std::time::Instant::now();
        let result = self.attempt(plan_id, lease, &claimed.input).instrument(span).await;
        metrics::plans_in_flight(-1.0);
        let outcome = result.as_ref().map_or(Outcome::Aborted, |o| *o);
        metrics::graph_run(outcome.label(), started.elapsed());
        if let Some(status) = outcome.terminal_status(lease.is_last_attempt()) {
            metrics::plan_finished(status.as_str(), age(claimed.created_at));
        }
        result.map(|_| ())
    }

    /// The attempt to run, if there is one: a finished, cancelled, waiting or exhausted plan
    /// has none.
    async fn claim(&self, plan_id: Uuid, worker: &str) -> anyhow::Result<Option<Claimed>> {
        let claim = durable("claim", || runs::claim(&self.pool, plan_id, worker)).await?;
        match claim {
            Claim::Run {
                lease,
                request,
                approval,
                created_at,
                queued_for,
                trace_context,
            } => {
                if let Some(wait) = queued_for {
                    metrics::queue_wait(wait);
                }
                let input = PlanInput {
                    request,
                    answer: answer(&approval),
                };
                Ok(Some(Claimed {
                    lease,
                    input: serde_json::to_value(input)?,
                    created_at,
                    trace_context,
                }))
            }
            Claim::Skip => Ok(None),
            Claim::Cancelled => {
                tracing::info!(plan_id = %plan_id, status = %PlanStatus::Cancelled, "plan cancelled before it started");
                Ok(None)
            }
            Claim::Exhausted { attempts, created_at } => {
                let status = PlanStatus::Failed;
                tracing::error!(plan_id = %plan_id, attempts, %status, "plan failed: attempts exhausted by workers that stopped");
                metrics::plan_finished(status.as_str(), age(created_at));
                Ok(None)
            }
        }
    }

    /// Runs the graph and records how the attempt ended.
    async fn attempt(&self, plan_id: Uuid, lease: Lease, input: &Value) -> anyhow::Result<Outcome> {
        tracing::info!(status = %PlanStatus::Running, "plan attempt started");
        let ended = tokio::select! {
            result = tokio::time::timeout(self.plan_timeout, self.graph.run(plan_id, lease.run, input)) => match result {
                Ok(result) => Ended::Graph(result),
                Err(_) => Ended::TimedOut,
            },
            _ = self.shutdown.cancelled() => Ended::ShuttingDown,
        };
        let (owned, outcome) = self.record(plan_id, lease, ended).await?;
        if !owned {
            tracing::warn!("another run owns the plan now; this run's outcome is dropped");
            return Ok(Outcome::Lost);
        }
        Ok(outcome)
    }

    /// Writes the attempt's end; `false` with it when another run owns the plan now.
    async fn record(&self, plan_id: Uuid, lease: Lease, ended: Ended) -> anyhow::Result<(bool, Outcome)> {
        let pool = &self.pool;
        Ok(match ended {
            Ended::ShuttingDown => {
                tracing::info!(status = %PlanStatus::Queued, "worker shutting down; plan handed back");
                metrics::requeued("hand_back");
                let error = PlanError::handed_back();
                let why = Requeue::HandBack;
                let owned = durable("hand back", || {
                    runs::requeue(pool, plan_id, lease, why, &error, Duration::ZERO)
                })
                .await?;
                (owned, Outcome::HandedBack)
            }
            Ended::TimedOut => {
                let after = self.plan_timeout;
                tracing::warn!(after_ms = after.as_millis() as u64, "plan run timed out");
                metrics::timeout(WHOLE_PLAN);
                checkpoints::record_timeout(pool, plan_id, lease.run, WHOLE_PLAN, WHOLE_PLAN, after).await?;
                let message = format!("the plan run timed out after {} ms", after.as_millis());
                (
                    self.transient(plan_id, lease, WHOLE_PLAN, message).await?,
                    Outcome::TimedOut,
                )
            }
            Ended::Graph(Ok(outputs)) => (self.succeed(plan_id, lease, &outputs).await?, Outcome::Succeeded),
            Ended::Graph(Err(RunError::Cancelled)) => {
                tracing::info!(status = %PlanStatus::Cancelled, "plan cancelled at a node boundary");
                let owned = durable("cancel", || {
                    runs::end(pool, plan_id, lease, PlanStatus::Cancelled, None)
                })
                .await?;
                (owned, Outcome::Cancelled)
            }
            Ended::Graph(Err(RunError::Lost)) => (false, Outcome::Lost),
            // The database failed under the run (a checkpoint could not be written): the
            // attempt is lost; record that once the database answers again.
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

    /// Stores the plan `finalize` produced.
    async fn succeed(&self, plan_id: Uuid, lease: Lease, outputs: &HashMap<String, Value>) -> anyhow::Result<bool> {
        let finalized: Finalized = outputs
            .get(Step::Finalize.as_str())
            .cloned()
            .map(serde_json::from_value)
            .transpose()?
            .ok_or_else(|| anyhow::anyhow!("graph ended without {}", Step::Finalize))?;
        let result = serde_json::to_value(&finalized.result)?;
        let warnings = json!(finalized.result.warnings);
        let usage = finalized.token_usage.map(|u| json!(u));
        let finished = Finished {
            result: &result,
            markdown: &finalized.markdown,
            warnings: &warnings,
            token_usage: usage.as_ref(),
        };
        let owned = durable("succeed", || runs::succeed(&self.pool, plan_id, lease, &finished)).await?;
        if owned {
            let total = finalized.result.costs.total;
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
                let end = || runs::end(pool, plan_id, lease, PlanStatus::Failed, Some(&error));
                (durable("fail", end).await?, Outcome::Failed)
            }
            NodeError::Transient(message) => (self.transient(plan_id, lease, node, message).await?, Outcome::Transient),
            NodeError::Wait { delay, reason } => {
                let delay_ms = delay.as_millis() as u64;
                tracing::warn!(status = %PlanStatus::Queued, node, reason, delay_ms, "waiting for an upstream; attempt not spent");
                metrics::requeued("wait");
                let error = PlanError::waiting_for_upstream(reason, node);
                let why = Requeue::WaitForUpstream;
                let owned = durable("wait", || runs::requeue(pool, plan_id, lease, why, &error, delay)).await?;
                (owned, Outcome::Waiting)
            }
            NodeError::AwaitApproval { reason } => {
                tracing::info!(status = %PlanStatus::AwaitingApproval, reason, "plan awaits approval");
                let park = || runs::await_approval(pool, plan_id, lease, node, &reason);
                (durable("await approval", park).await?, Outcome::AwaitingApproval)
            }
        })
    }

    /// A transient failure spends the attempt: retry after a backoff, or fail when none is left.
    async fn transient(&self, plan_id: Uuid, lease: Lease, node: &str, message: String) -> anyhow::Result<bool> {
        if !lease.is_last_attempt() {
            let delay = retry::backoff(self.retry_base, lease.attempt);
            let delay_ms = delay.as_millis() as u64;
            tracing::warn!(status = %PlanStatus::Queued, node, message, delay_ms, "attempt failed; retry scheduled");
            metrics::requeued("retry");
            let error = PlanError::transient(message, node);
            return durable("retry", || {
                runs::requeue(&self.pool, plan_id, lease, Requeue::Retry, &error, delay)
            })
            .await;
        }
        tracing::warn!(status = %PlanStatus::Failed, node, message, "plan failed: attempts exhausted");
        let message = format!(
            "gave up after {} attempts; last error in {node}: {message}",
            lease.attempt
        );
        let error = PlanError::attempts_exhausted(message, Some(node));
        durable("fail", || {
            runs::end(&self.pool, plan_id, lease, PlanStatus::Failed, Some(&error))
        })
        .await
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
