//! The travel-planning graph and its nodes, one file each:
//!
//! ```text
//! understand ─┬─ weather ─┐
//!             ├─ places  ─┼─ routes ── draft ── check ──(violations, ≤2 revisions)──> draft
//!             └─ lodging ─┘                          └─(ok, or out of revisions)── approval ── finalize
//! ```
//!
//! Each node's output is JSON (`outputs`), checkpointed by the runtime. With an LLM
//! configured, `understand` and `draft` ask it first and fall back to the embedded rules and
//! composer (with a warning) when its answers stay invalid or it is out of reach.

mod approval;
mod check;
mod draft;
mod fetch;
mod finalize;
mod inputs;
pub mod outputs;
pub mod routes;
mod step;
mod understand;

use std::{path::PathBuf, sync::Arc};

use chrono::Utc;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::{
    catalog,
    domain::City,
    graph::{Graph, Node, NodeContext, NodeError},
    travel::{itinerary::Source, request::SubmitRequest, sources::Sources},
};

pub use outputs::{CheckReport, Finalized};
pub use step::{STEPS, Step};

/// Revisions after the first draft before the plan fails instead of being delivered broken.
pub const MAX_REVISIONS: u32 = 2;

/// The planner's policies, from the settings.
#[derive(Debug, Clone)]
pub struct PlannerPolicy {
    pub results_dir: Option<PathBuf>,
    /// Over budget by at most this share: ask for approval rather than fail.
    pub approval_over_budget: f64,
    /// Built on degraded data: ask for approval.
    pub approval_on_degraded: bool,
}

/// The graph's input: the request as submitted (`R` is the stored JSON when the input is
/// built, the typed request when a node reads it) and a person's answer, if the plan
/// waited for one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanInput<R = SubmitRequest> {
    pub request: R,
    #[serde(default)]
    pub answer: Option<Answer>,
}

/// A person's answer to a plan that waited for approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub approved: bool,
    pub by: Option<String>,
}

pub fn planning_graph(sources: Sources, policy: PlannerPolicy) -> Graph {
    let sources = Arc::new(sources);
    let policy = Arc::new(policy);
    let mut graph = Graph::new(Step::Understand.as_str());
    for &step in Step::ALL {
        graph = graph.node_arc(step.as_str(), node(step, &sources, &policy));
    }
    let fan_out = [Step::Weather, Step::Places, Step::Lodging].map(Step::as_str);
    graph
        .edge(Step::Understand.as_str(), &fan_out)
        // Waves run in step: everything after the fan-out waits for all three.
        .edge(Step::Weather.as_str(), &[Step::Routes.as_str()])
        .edge(Step::Places.as_str(), &[Step::Routes.as_str()])
        .edge(Step::Lodging.as_str(), &[Step::Routes.as_str()])
        .edge(Step::Routes.as_str(), &[Step::Draft.as_str()])
        .edge(Step::Draft.as_str(), &[Step::Check.as_str()])
        .branch(Step::Check.as_str(), |outputs| {
            let report: Option<CheckReport> = outputs
                .get(Step::Check.as_str())
                .and_then(|v| serde_json::from_value(v.clone()).ok());
            match report {
                Some(r) if !r.violations.is_empty() && r.round <= MAX_REVISIONS => vec![Step::Draft.as_str()],
                _ => vec![Step::Approval.as_str()],
            }
        })
        .edge(Step::Approval.as_str(), &[Step::Finalize.as_str()])
        .end(Step::Finalize.as_str())
}

fn node(step: Step, sources: &Arc<Sources>, policy: &Arc<PlannerPolicy>) -> Arc<dyn Node> {
    let sources = sources.clone();
    match step {
        Step::Understand => Arc::new(understand::Understand(sources)),
        Step::Weather => Arc::new(fetch::Weather(sources)),
        Step::Places => Arc::new(fetch::Places(sources)),
        Step::Lodging => Arc::new(fetch::Lodging(sources)),
        Step::Routes => Arc::new(routes::Routes(sources)),
        Step::Draft => Arc::new(draft::Draft(policy.clone(), sources)),
        Step::Check => Arc::new(check::Check),
        Step::Approval => Arc::new(approval::Approval(policy.clone())),
        Step::Finalize => Arc::new(finalize::Finalize(policy.clone())),
    }
}

/// The latest output of `step`, decoded.
fn output<T: DeserializeOwned>(ctx: &NodeContext, step: Step) -> Result<T, NodeError> {
    ctx.output(step.as_str())
}

/// The graph's input, decoded; a request that does not decode can never be planned.
fn input(ctx: &NodeContext) -> Result<PlanInput, NodeError> {
    ctx.input()
        .map_err(|e| NodeError::permanent("invalid_request", format!("request is malformed: {e}")))
}

fn city_of(id: &str) -> Result<&'static City, NodeError> {
    catalog::city(id).ok_or_else(|| NodeError::permanent("unknown_destination", format!("no data for {id}")))
}

fn source(kind: &str, provider: &str) -> Source {
    Source {
        kind: kind.into(),
        provider: provider.into(),
        at: Utc::now().to_rfc3339(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_graph_has_a_node_for_every_step_and_only_those() {
        let settings = crate::config::Settings::for_database("postgres://unused").expect("settings");
        let policy = PlannerPolicy {
            results_dir: None,
            approval_over_budget: 0.2,
            approval_on_degraded: true,
        };
        let graph = planning_graph(Sources::embedded(&settings), policy);
        assert_eq!(graph.validate(), Ok(()));
        assert_eq!(graph.expected_steps(), STEPS);
    }
}
