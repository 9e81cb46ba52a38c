//! Prometheus metrics, prefix `planner_`. Every metric the service exports is named here,
//! with the one function that records it, so that the dashboards and alert rules have a
//! single list to match. The recorder is process-global; `/metrics` renders it.

use std::{sync::OnceLock, time::Duration};

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the recorder once per process; later calls return the same handle.
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
            ];
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &buckets)
                .ok()?
                .install_recorder()
                .map_err(|e| tracing::warn!(error = %e, "metrics recorder not installed"))
                .ok()?;
            known_series_at_zero();
            Some(handle)
        })
        .clone()
}

/// Terminal statuses (`PlanStatus::TERMINAL`; tests/api_surface.rs checks the two agree).
pub const FINISHED_STATUSES: [&str; 4] = ["succeeded", "failed", "cancelled", "rejected"];
/// What `timeout` is called with: one node, or the whole plan.
pub const TIMEOUT_SCOPES: [&str; 2] = ["node", "plan"];
/// What `requeued` is called with.
pub const REQUEUE_KINDS: [&str; 5] = ["retry", "wait", "hand_back", "rescued", "stuck"];
/// What `provider_call` is called with: `ok` and `resilience::Failure::outcome`'s values.
pub const PROVIDER_OUTCOMES: [&str; 5] = ["ok", "transient", "rate_limited", "permanent", "breaker_open"];

/// What `result_export` is called with.
pub const RESULT_EXPORT_OUTCOMES: [&str; 2] = ["exported", "retry"];
/// What `result_deletion` is called with.
pub const RESULT_DELETION_OUTCOMES: [&str; 2] = ["deleted", "retry"];

/// Counters whose label sets are known are exported at 0 from the start, so that rates and
/// alert rules have a series before the first event (a timeout may never have happened yet).
fn known_series_at_zero() {
    counter!("planner_plans_submitted_total").increment(0);
    for status in FINISHED_STATUSES {
        counter!("planner_plans_finished_total", "status" => status).increment(0);
    }
    for scope in TIMEOUT_SCOPES {
        counter!("planner_timeouts_total", "scope" => scope).increment(0);
    }
    for kind in REQUEUE_KINDS {
        counter!("planner_plan_requeues_total", "kind" => kind).increment(0);
    }
    for kind in ["prompt", "completion"] {
        counter!("planner_llm_tokens_total", "kind" => kind).increment(0);
    }
    for outcome in ["delivered", "retry", "failed"] {
        counter!("planner_webhook_deliveries_total", "outcome" => outcome).increment(0);
    }
    for outcome in RESULT_EXPORT_OUTCOMES {
        counter!("planner_result_exports_total", "outcome" => outcome).increment(0);
    }
    for outcome in RESULT_DELETION_OUTCOMES {
        counter!("planner_result_deletions_total", "outcome" => outcome).increment(0);
    }
    gauge!("planner_live_streams").set(0.0);
}

/// An upstream is guarded by a resilience policy: its call counters start at 0.
pub fn provider_known(provider: &str) {
    for outcome in PROVIDER_OUTCOMES {
        counter!("planner_provider_calls_total", "provider" => provider.to_string(), "outcome" => outcome).increment(0);
    }
}

pub fn render() -> String {
    install().map(|h| h.render()).unwrap_or_default()
}

pub fn http_request(route: &str, method: &str, status: u16, elapsed: Duration) {
    let labels = [
        ("route", route.to_string()),
        ("method", method.to_string()),
        ("status", status.to_string()),
    ];
    counter!("planner_http_requests_total", &labels).increment(1);
    histogram!("planner_http_request_duration_seconds", &labels).record(elapsed.as_secs_f64());
}

pub fn plan_submitted() {
    counter!("planner_plans_submitted_total").increment(1);
}

/// A plan reached a terminal status; `age` is from submission to now.
pub fn plan_finished(status: &str, age: Duration) {
    counter!("planner_plans_finished_total", "status" => status.to_string()).increment(1);
    histogram!("planner_plan_duration_seconds", "status" => status.to_string()).record(age.as_secs_f64());
}

/// Time a plan spent queued before its first attempt started.
pub fn queue_wait(wait: Duration) {
    histogram!("planner_queue_wait_seconds").record(wait.as_secs_f64());
}

pub fn graph_run(outcome: &str, elapsed: Duration) {
    histogram!("planner_graph_run_duration_seconds", "outcome" => outcome.to_string()).record(elapsed.as_secs_f64());
}

pub fn node_run(node: &str, outcome: &str, elapsed: Duration) {
    histogram!("planner_node_duration_seconds", "node" => node.to_string(), "outcome" => outcome.to_string())
        .record(elapsed.as_secs_f64());
}

pub fn timeout(scope: &str) {
    counter!("planner_timeouts_total", "scope" => scope.to_string()).increment(1);
}

pub fn provider_call(provider: &str, outcome: &str, elapsed: Duration) {
    counter!("planner_provider_calls_total", "provider" => provider.to_string(), "outcome" => outcome.to_string())
        .increment(1);
    histogram!("planner_provider_call_duration_seconds", "provider" => provider.to_string())
        .record(elapsed.as_secs_f64());
}

/// 0 closed, 1 open (calls fail fast), as last seen by this process.
pub fn breaker_state(provider: &str, open: bool) {
    gauge!("planner_circuit_breaker_open", "provider" => provider.to_string()).set(if open { 1.0 } else { 0.0 });
}

/// A plan this worker runs, counted in `planner_worker_plans_in_flight` until dropped: also
/// when its task is dropped before the attempt's end is written.
pub struct InFlight(());

impl InFlight {
    pub fn enter() -> Self {
        gauge!("planner_worker_plans_in_flight").increment(1.0);
        Self(())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        gauge!("planner_worker_plans_in_flight").decrement(1.0);
    }
}

/// Why a plan went back to the queue: `retry`, `wait`, `hand_back`, `rescued` (worker died),
/// `stuck` (rescued by the sweeper).
pub fn requeued(kind: &str) {
    counter!("planner_plan_requeues_total", "kind" => kind.to_string()).increment(1);
}

pub fn queue_depth(status: &str, plans: i64) {
    gauge!("planner_queue_depth", "status" => status.to_string()).set(plans as f64);
}

/// Queued plans by why they wait (`store::queue::WaitReason::code`).
pub fn plans_waiting(reason: &str, plans: i64) {
    gauge!("planner_plans_waiting", "reason" => reason.to_string()).set(plans as f64);
}

pub fn oldest_queued_age(age: Duration) {
    gauge!("planner_queue_oldest_age_seconds").set(age.as_secs_f64());
}

/// A `provider_cache` lookup: `hit` or `miss`.
pub fn provider_cache(provider: &str, result: &str) {
    counter!("planner_provider_cache_total", "provider" => provider.to_string(), "result" => result.to_string())
        .increment(1);
}

/// LLM tokens spent, by `kind` = prompt | completion.
pub fn llm_tokens(kind: &str, tokens: u64) {
    counter!("planner_llm_tokens_total", "kind" => kind.to_string()).increment(tokens);
}

/// The LLM's answer for `node` was given up on (invalid after repairs, or the LLM was out of
/// reach) and the embedded planner used instead.
pub fn llm_fallback(node: &str) {
    counter!("planner_llm_fallbacks_total", "node" => node.to_string()).increment(1);
}

/// Server-Sent Event streams open on this api process.
pub fn live_stream_opened() {
    gauge!("planner_live_streams").increment(1.0);
}

pub fn live_stream_closed() {
    gauge!("planner_live_streams").decrement(1.0);
}

/// A webhook delivery's try ended: `delivered`, `retry` (due again later) or `failed` (given
/// up on after 24 h, or refused: a forbidden address).
pub fn webhook_delivery(outcome: &str) {
    counter!("planner_webhook_deliveries_total", "outcome" => outcome.to_string()).increment(1);
}

/// A try to copy a finished plan to the results store ended: `exported`, or `retry` (due
/// again after a backoff).
pub fn result_export(outcome: &str) {
    counter!("planner_result_exports_total", "outcome" => outcome.to_string()).increment(1);
}

/// A try to delete an expired plan's objects from the results store ended: `deleted` or `retry`.
pub fn result_deletion(outcome: &str) {
    counter!("planner_result_deletions_total", "outcome" => outcome.to_string()).increment(1);
}

/// Exports not yet written and deletions not yet done, across all workers (each exporting
/// worker refreshes them every 15 s; read them with `max`).
pub fn results_backlog(exports: i64, deletions: i64) {
    gauge!("planner_result_exports_pending").set(exports as f64);
    gauge!("planner_result_deletions_pending").set(deletions as f64);
}
