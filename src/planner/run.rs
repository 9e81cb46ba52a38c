//! One attempt of one plan, as a worker runs it when the queue hands it the plan's job:
//! claim the attempt, run the graph, and record the outcome — succeeded, failed, cancelled,
//! or queued again with a backoff when the failure is worth another attempt.

use std::{sync::Arc, time::Duration};

use rand::Rng;
use serde_json::json;
use sqlx::PgPool;
use tracing::Instrument;
use uuid::Uuid;

use crate::{
    config::Settings,
    graph::{NodeError, RunError, Runner},
    planner::nodes::{self, Finalized},
    providers::Providers,
    store::{
        checkpoints::PgCheckpoints,
        plans::{self, Claim},
    },
};

pub struct PlanRunner {
    pub pool: PgPool,
    pub runner: Runner,
    pub retry_base: Duration,
}

impl PlanRunner {
    pub fn new(pool: PgPool, settings: &Settings, providers: Providers) -> Arc<Self> {
        let graph = nodes::planner_graph(providers, settings.results_dir.clone());
        let runner = Runner {
            graph,
            store: Arc::new(PgCheckpoints { pool: pool.clone() }),
            delays: settings.node_delays.clone(),
        };
        Arc::new(Self {
            pool,
            runner,
            retry_base: settings.queue.retry_base,
        })
    }

    /// Errors only when the database fails; the queue then retries the job.
    pub async fn run(&self, plan_id: Uuid, worker: &str) -> anyhow::Result<()> {
        let (attempt, max_attempts, request) = match plans::claim(&self.pool, plan_id, worker).await? {
            Claim::Run {
                attempt,
                max_attempts,
                request,
            } => (attempt, max_attempts, request),
            Claim::Skip => return Ok(()),
            Claim::Cancelled => {
                tracing::info!(plan_id = %plan_id, "plan cancelled before it started");
                return Ok(());
            }
            Claim::Exhausted { attempts } => {
                tracing::error!(plan_id = %plan_id, attempts, "plan failed: attempts exhausted by crashed workers");
                return Ok(());
            }
        };
        let span = tracing::info_span!("plan", plan_id = %plan_id, attempt);
        self.attempt(plan_id, attempt, max_attempts, &request)
            .instrument(span)
            .await
    }

    async fn attempt(
        &self,
        plan_id: Uuid,
        attempt: i32,
        max_attempts: i32,
        request: &serde_json::Value,
    ) -> anyhow::Result<()> {
        tracing::info!(status = "running", "plan attempt started");
        let outcome = self.runner.run(plan_id, attempt, request).await;
        let owned = match outcome {
            Ok(outputs) => {
                let finalized: Finalized = outputs
                    .get("finalize")
                    .cloned()
                    .map(serde_json::from_value)
                    .transpose()?
                    .ok_or_else(|| anyhow::anyhow!("graph ended without finalize"))?;
                let result = serde_json::to_value(&finalized.result)?;
                let warnings = json!(finalized.result.warnings);
                let owned =
                    plans::succeed(&self.pool, plan_id, attempt, &result, &finalized.markdown, &warnings).await?;
                if owned {
                    tracing::info!(
                        status = "succeeded",
                        total = finalized.result.costs.total,
                        "plan succeeded"
                    );
                }
                owned
            }
            Err(RunError::Cancelled) => {
                tracing::info!(status = "cancelled", "plan cancelled at a node boundary");
                plans::end(&self.pool, plan_id, attempt, "cancelled", None).await?
            }
            Err(RunError::Lost) => false,
            Err(RunError::Node {
                node,
                error: NodeError::Permanent { code, message },
            }) => {
                tracing::warn!(status = "failed", node, code, message, "plan failed");
                let error = json!({"code": code, "message": message, "node": node});
                plans::end(&self.pool, plan_id, attempt, "failed", Some(&error)).await?
            }
            Err(RunError::Node {
                node,
                error: NodeError::Transient(message),
            }) => {
                let error = json!({"code": "transient", "message": message, "node": node});
                if attempt < max_attempts {
                    let delay = backoff(self.retry_base, attempt);
                    tracing::warn!(
                        status = "queued",
                        node,
                        message,
                        delay_ms = delay.as_millis() as u64,
                        "attempt failed; retry scheduled"
                    );
                    plans::retry_later(&self.pool, plan_id, attempt, max_attempts, &error, delay).await?
                } else {
                    let error = json!({
                        "code": "attempts_exhausted",
                        "message": format!("gave up after {attempt} attempts; last error in {node}: {message}"),
                        "node": node,
                    });
                    tracing::warn!(status = "failed", node, message, "plan failed: attempts exhausted");
                    plans::end(&self.pool, plan_id, attempt, "failed", Some(&error)).await?
                }
            }
            Err(RunError::Store(e)) => return Err(e),
        };
        if !owned {
            tracing::warn!("another attempt owns the plan now; this attempt's outcome is dropped");
        }
        Ok(())
    }
}

/// Exponential backoff with up to 25% jitter, capped at ten minutes.
pub fn backoff(base: Duration, attempt: i32) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.clamp(1, 16).saturating_sub(1) as u32);
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
