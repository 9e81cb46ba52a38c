//! `approval`: the plan waits for a person when the request asks for it, when its cheapest
//! version is over budget, or (by policy) when it was built on degraded data. A plan that
//! was approved goes on; one that needs no approval goes on at once.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::{
    graph::{Node, NodeContext, NodeError, Saving, to_output},
    travel::nodes::{
        context::output,
        gathered::Gathered,
        outputs::{Approved, Drafted},
        plan_input::plan_input,
        policy::PlannerPolicy,
        step::Step,
    },
    travel::words::Words,
};

pub struct Approval(pub Arc<PlannerPolicy>);

#[async_trait]
impl Node for Approval {
    /// Reads earlier outputs and the request's answer only: cheaper to run again than to save alone.
    fn saving(&self) -> Saving {
        Saving::WithNext
    }

    async fn run(&self, ctx: &NodeContext) -> Result<Value, NodeError> {
        let drafted: Drafted = output(ctx, Step::Draft)?;
        let gathered = Gathered::read(ctx)?.with_fallback(drafted.fallback);
        let words = Words(gathered.request.language);
        let mut reasons = Vec::new();
        if gathered.request.require_approval {
            reasons.push(words.approval_requested());
        }
        if let Some(over) = drafted.over_budget_by {
            reasons.push(words.approval_over_budget(over, &gathered.request.currency));
        }
        if self.0.approval_on_degraded {
            reasons.extend(gathered.degraded().iter().map(|d| words.approval_degraded(d)));
        }
        let answer = plan_input(ctx)?.answer;
        let approved = answer.as_ref().is_some_and(|a| a.approved);
        if !reasons.is_empty() && !approved {
            return Err(NodeError::AwaitApproval {
                reason: reasons.join("; "),
            });
        }
        to_output(&Approved {
            reasons,
            decided_by: answer.and_then(|a| a.by),
        })
    }
}
