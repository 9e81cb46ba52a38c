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
mod context;
mod draft;
mod fetch;
mod finalize;
mod gathered;
pub mod outputs;
mod plan_input;
mod policy;
pub mod routes;
mod step;
mod understand;

use std::sync::Arc;

use crate::{
    graph::{Graph, Node, NodeContext, NodeError},
    travel::{
        check::{self as checker, Violation},
        itinerary::Itinerary,
        sources::Sources,
    },
};

pub use outputs::{CheckReport, Finalized};
pub use plan_input::{Answer, PlanInput};
pub use policy::{MAX_REVISIONS, PlannerPolicy};
pub use step::{STEPS, Step};

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
            let report: Option<CheckReport> = outputs.read(Step::Check.as_str()).and_then(Result::ok);
            match report {
                Some(r) if !r.violations.is_empty() && r.round <= MAX_REVISIONS => vec![Step::Draft.as_str()],
                _ => vec![Step::Approval.as_str()],
            }
        })
        .edge(Step::Approval.as_str(), &[Step::Finalize.as_str()])
        .end(Step::Finalize.as_str())
}

/// The checker's verdict on a delivered plan, from the outputs its run checkpointed: the
/// plan against the request and the candidates its draft was made from.
pub fn recheck(ctx: &NodeContext, plan: &Itinerary) -> Result<Vec<Violation>, NodeError> {
    let drafted: outputs::Drafted = context::output(ctx, Step::Draft)?;
    let gathered = gathered::Gathered::read(ctx)?.with_fallback(drafted.fallback);
    Ok(checker::check(plan, &gathered.request, &gathered.candidates()))
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
        Step::Finalize => Arc::new(finalize::Finalize),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_graph_has_a_node_for_every_step_and_only_those() {
        let settings = crate::config::Settings::for_database("postgres://unused").expect("settings");
        let policy = PlannerPolicy {
            approval_over_budget: 0.2,
            approval_on_degraded: true,
        };
        let graph = planning_graph(Sources::embedded(&settings), policy);
        assert_eq!(graph.validate(), Ok(()));
        assert_eq!(graph.expected_steps(), STEPS);
    }
}
