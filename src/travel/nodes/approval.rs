//! `approval`: the plan waits for a person when the request asks for it, when its cheapest
//! version is over budget, or (by policy) when it was built on degraded data. A plan that
//! was approved goes on; one that needs no approval goes on at once.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::{
    graph::{Node, NodeContext, NodeError, to_output},
    travel::nodes::{
        context::output,
        gathered::Gathered,
        outputs::{Approved, Drafted},
        plan_input::plan_input,
        policy::PlannerPolicy,
        step::Step,
    },
};

pub struct Approval(pub Arc<PlannerPolicy>);

#[async_trait]
impl Node for Approval {
    async fn run(&self, ctx: &NodeContext) -> Result<Value, NodeError> {
        let gathered = Gathered::read(ctx)?;
        let drafted: Drafted = output(ctx, Step::Draft)?;
        let mut reasons = Vec::new();
        if gathered.request.require_approval {
            reasons.push("the request asks for approval".to_string());
        }
        if let Some(over) = drafted.over_budget_by {
            reasons.push(format!("over budget by {over:.0} {}", gathered.request.currency));
        }
        if self.0.approval_on_degraded {
            reasons.extend(gathered.degraded().into_iter().map(|d| format!("degraded data: {d}")));
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
