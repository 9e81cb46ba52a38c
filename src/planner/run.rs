//! One attempt of one plan, as a worker runs it when the queue hands it the plan's job:
//! claim the attempt, run the graph within the plan's execution timeout, and record the
//! outcome. Each failure class has one owner:
//! - a transient failure spends the attempt and is retried through the queue after an
//!   exponential backoff (never by apalis, which would retry within milliseconds);
//! - an upstream whose breaker is open parks the plan for the cool-down, attempt returned;
//! - a plan that needs a person parks in `awaiting_approval`, holding no worker slot;
//! - a worker shutting down hands its plans back, attempts returned;
//! - a permanent failure fails the plan with the reason.
//!
//! Every outcome is written through `durable`, which waits out a database outage.

use std::{sync::Arc, time::Duration};

use rand::Rng;
use serde_json::json;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use crate::{
    config::Settings,
    graph::{NodeError, RunError, Runner},
    metrics,
    planner::nodes::{self, Finalized, PlannerPolicy},
    providers::Providers,
    store::{
        checkpoints::PgCheckpoints,
        plans::{self, Claim, Lease, Requeue},
    },
};

pub struct PlanRunner {
    pub pool: PgPool,
    pub runner: Runner,
    pub retry_base: Duration,
    pub plan_timeout: Duration,
    /// Fires when the worker's shutdown grace period is over: in-flight plans are handed back.
    pub shutdown: CancellationToken,
}

enum Outcome {
    Graph(Result<std::collections::HashMap<String, serde_json::Value>, RunError>),
    TimedOut,
    ShuttingDown,
}

impl PlanRunner {
    pub fn new(pool: PgPool, settings: &Settings, providers: Providers) -> Arc<Self> {
        let policy = PlannerPolicy {
            results_dir: settings.results_dir.clone(),
            approval_over_budget: settings.approval_over_budget,
            approval_on_degraded: settings.approval_on_degraded,
        };
        let runner = Runner {
            graph: nodes::planner_graph(providers, policy),
            store: Arc::new(PgCheckpoints { pool: pool.clone() }),
            delays: settings.node_delays.clone(),
            node_timeout: settings.node_timeout,
        };
        Arc::new(Self {
            pool,
            runner,
            retry_base: settings.queue.retry_base,
            plan_timeout: settings.plan_timeout,
            shutdown: CancellationToken::new(),
        })
    }

    /// Errors only when the database fails; the queue then retries the job.
    pub async fn run(&self, plan_id: Uuid, worker: &str) -> anyhow::Result<()> {
        let (lease, input, created_at, trace_context) = match durable("claim", || {
            plans::claim(&self.pool, plan_id, worker)
        })
        .await?
        {
            Claim::Run {
                lease,
                input,
                created_at,
                queued_for,
                trace_context,
            } => {
                if let Some(wait) = queued_for {
                    metrics::queue_wait(wait);
                }
                (lease, input, created_at, trace_context)
            }
            Claim::Skip => return Ok(()),
            Claim::Cancelled => {
                tracing::info!(plan_id = %plan_id, status = "cancelled", "plan cancelled before it started");
                return Ok(());
            }
            Claim::Exhausted { attempts, created_at } => {
                tracing::error!(plan_id = %plan_id, attempts, status = "failed", "plan failed: attempts exhausted by workers that stopped");
                metrics::plan_finished("failed", age(created_at));
                return Ok(());
            }
        };
        let span = tracing::info_span!("plan", plan_id = %plan_id, attempt = lease.attempt, run = lease.run);
        let carrier: std::collections::HashMap<String, String> = trace_context
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        crate::telemetry::continue_trace(&span, &carrier);
        metrics::plans_in_flight(1.0);
        let started = std::time::Instant::now();
        let result = self.attempt(plan_id, lease, &input).instrument(span).await;
        metrics::plans_in_flight(-1.0);
        match &result {
            Ok((outcome, terminal)) => {
                let (outcome, terminal): (&str, &Option<&str>) = (outcome, terminal);
                metrics::graph_run(outcome, started.elapsed());
                if let Some(status) = terminal {
                    metrics::plan_finished(status, age(created_at));
                }
            }
            Err(_) => metrics::graph_run("error", started.elapsed()),
        }
        result.map(|_| ())
    }

    /// Returns the attempt's outcome (a metric label) and the terminal status it set, if any.
    async fn attempt(&self, plan_id: Uuid, lease: Lease, input: &serde_json::Value) -> anyhow::Result<Ended> {
        tracing::info!(status = "running", "plan attempt started");
        let outcome = tokio::select! {
            result = tokio::time::timeout(self.plan_timeout, self.runner.run(plan_id, lease.run, input)) => match result {
                Ok(result) => Outcome::Graph(result),
                Err(_) => Outcome::TimedOut,
            },
            _ = self.shutdown.cancelled() => Outcome::ShuttingDown,
        };
        let pool = &self.pool;
        let (owned, ended) = match outcome {
            Outcome::ShuttingDown => {
                tracing::info!(status = "queued", "worker shutting down; plan handed back");
                metrics::requeued("hand_back");
                let error = json!({"code": "handed_back", "message": "the worker shut down before the plan finished"});
                let why = Requeue::HandBack;
                (
                    durable("hand back", || {
                        plans::requeue(pool, plan_id, lease, why, &error, Duration::ZERO)
                    })
                    .await?,
                    ("handed_back", None),
                )
            }
            Outcome::TimedOut => {
                let after_ms = self.plan_timeout.as_millis() as u64;
                tracing::warn!(after_ms, "plan run timed out");
                metrics::timeout("plan");
                let detail = json!({"scope": "plan", "after_ms": after_ms});
                self.runner
                    .store
                    .record(plan_id, lease.run, "timeout", "plan", detail)
                    .await?;
                let message = format!("the plan run timed out after {after_ms} ms");
                (
                    self.transient(plan_id, lease, "plan", message).await?,
                    ("timeout", None),
                )
            }
            Outcome::Graph(Ok(outputs)) => {
                let finalized: Finalized = outputs
                    .get("finalize")
                    .cloned()
                    .map(serde_json::from_value)
                    .transpose()?
                    .ok_or_else(|| anyhow::anyhow!("graph ended without finalize"))?;
                let result = serde_json::to_value(&finalized.result)?;
                let warnings = json!(finalized.result.warnings);
                let markdown = &finalized.markdown;
                let usage = finalized.token_usage.map(|u| json!(u));
                let owned = durable("succeed", || {
                    plans::succeed(pool, plan_id, lease, &result, markdown, &warnings, usage.as_ref())
                })
                .await?;
                if owned {
                    tracing::info!(
                        status = "succeeded",
                        total = finalized.result.costs.total,
                        "plan succeeded"
                    );
                }
                (owned, ("succeeded", Some("succeeded")))
            }
            Outcome::Graph(Err(RunError::Cancelled)) => {
                tracing::info!(status = "cancelled", "plan cancelled at a node boundary");
                (
                    durable("cancel", || plans::end(pool, plan_id, lease, "cancelled", None)).await?,
                    ("cancelled", Some("cancelled")),
                )
            }
            Outcome::Graph(Err(RunError::Lost)) => (false, ("lost", None)),
            // The database failed under the run (a checkpoint could not be written): the
            // attempt is lost; record that once the database answers again.
            Outcome::Graph(Err(RunError::Store(e))) => {
                tracing::warn!(error = %e, "checkpoint store failed; retrying the plan");
                let message = format!("the database failed during the run: {e}");
                (
                    self.transient(plan_id, lease, "checkpoint", message).await?,
                    ("store_error", None),
                )
            }
            Outcome::Graph(Err(RunError::Node { node, error })) => match error {
                NodeError::Permanent { code, message } => {
                    tracing::warn!(status = "failed", node, code, message, "plan failed");
                    let error = json!({"code": code, "message": message, "node": node});
                    (
                        durable("fail", || plans::end(pool, plan_id, lease, "failed", Some(&error))).await?,
                        ("failed", Some("failed")),
                    )
                }
                NodeError::Transient(message) => (
                    self.transient(plan_id, lease, &node, message).await?,
                    ("transient", None),
                ),
                NodeError::Wait { delay, reason } => {
                    tracing::warn!(
                        status = "queued",
                        node,
                        reason,
                        delay_ms = delay.as_millis() as u64,
                        "waiting for an upstream; attempt not spent"
                    );
                    metrics::requeued("wait");
                    let error = json!({"code": "waiting_for_upstream", "message": reason, "node": node});
                    let why = Requeue::WaitForUpstream;
                    (
                        durable("wait", || plans::requeue(pool, plan_id, lease, why, &error, delay)).await?,
                        ("waiting", None),
                    )
                }
                NodeError::AwaitApproval { reason } => {
                    tracing::info!(status = "awaiting_approval", reason, "plan awaits approval");
                    (
                        durable("await approval", || {
                            plans::await_approval(pool, plan_id, lease, &reason)
                        })
                        .await?,
                        ("awaiting_approval", None),
                    )
                }
            },
        };
        if !owned {
            tracing::warn!("another run owns the plan now; this run's outcome is dropped");
            return Ok(("lost", None));
        }
        // A transient failure on the last attempt ends the plan `failed`.
        if matches!(ended.0, "transient" | "timeout" | "store_error") && lease.attempt >= lease.max_attempts {
            return Ok((ended.0, Some("failed")));
        }
        Ok(ended)
    }

    /// A transient failure spends the attempt: retry after a backoff, or fail when none is left.
    async fn transient(&self, plan_id: Uuid, lease: Lease, node: &str, message: String) -> anyhow::Result<bool> {
        if lease.attempt < lease.max_attempts {
            let delay = backoff(self.retry_base, lease.attempt);
            tracing::warn!(
                status = "queued",
                node,
                message,
                delay_ms = delay.as_millis() as u64,
                "attempt failed; retry scheduled"
            );
            metrics::requeued("retry");
            let error = json!({"code": "transient", "message": message, "node": node});
            return durable("retry", || {
                plans::requeue(&self.pool, plan_id, lease, Requeue::Retry, &error, delay)
            })
            .await;
        }
        tracing::warn!(status = "failed", node, message, "plan failed: attempts exhausted");
        let error = json!({
            "code": "attempts_exhausted",
            "message": format!("gave up after {} attempts; last error in {node}: {message}", lease.attempt),
            "node": node,
        });
        durable("fail", || {
            plans::end(&self.pool, plan_id, lease, "failed", Some(&error))
        })
        .await
    }
}

/// The attempt's outcome label and the terminal status it set, if any.
type Ended = (&'static str, Option<&'static str>);

fn age(created_at: chrono::DateTime<chrono::Utc>) -> Duration {
    (chrono::Utc::now() - created_at).to_std().unwrap_or_default()
}

/// Runs a write until the database answers: an outage of a few seconds (a restart, a
/// failover) must not leave a plan `running` with nobody working on it. Other errors, and
/// an outage longer than five minutes, are returned.
async fn durable<T, F, Fut>(what: &str, mut write: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    let mut delay = Duration::from_millis(250);
    loop {
        match write().await {
            Ok(value) => return Ok(value),
            Err(e) if crate::db::is_unavailable(&e) && std::time::Instant::now() < deadline => {
                tracing::warn!(what, error = %e, retry_in_ms = delay.as_millis() as u64, "database unavailable; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(anyhow::Error::new(e).context(format!("{what} failed"))),
        }
    }
}

/// Exponential backoff with up to 25% jitter, capped at ten minutes.
pub fn backoff(base: Duration, attempt: i32) -> Duration {
    let exp = base.saturating_mul(1u32 << (attempt.clamp(1, 16) - 1) as u32);
    let capped = exp.min(Duration::from_secs(600));
    let jitter = rand::rng().random_range(0.0..0.25);
    capped + capped.mul_f64(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_secs(2);
        let first = backoff(base, 1);
        assert!(first >= base && first <= base.mul_f64(1.25));
        assert!(backoff(base, 3) >= Duration::from_secs(8));
        assert!(backoff(base, 30) <= Duration::from_secs(750));
    }
}
