//! `draft`: an itinerary from the candidates. The LLM drafts first when there is one; the
//! embedded composer drafts otherwise, when the LLM's answer stays invalid, and for every
//! revision the checker asks for (each more conservative than the last). No plan within
//! budget: the cheapest goes on for approval when it is close enough, else the plan fails.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::{
    graph::{Node, NodeContext, NodeError, to_output},
    llm::LlmReport,
    metrics,
    travel::{
        compose,
        nodes::{context::output, gathered::Gathered, outputs::Drafted, policy::PlannerPolicy, step::Step},
        prompts,
        sources::Sources,
    },
};

pub struct Draft(pub Arc<PlannerPolicy>, pub Arc<Sources>);

#[async_trait]
impl Node for Draft {
    async fn run(&self, ctx: &NodeContext) -> Result<Value, NodeError> {
        let gathered = Gathered::read(ctx)?;
        // The LLM drafts first; a revision (the checker rejected the composer's draft) does not
        // ask it again, but keeps its report.
        let mut report: Option<LlmReport> = if ctx.visit > 1 {
            output::<Drafted>(ctx, Step::Draft).ok().and_then(|d| d.llm)
        } else {
            None
        };
        if let (Some(llm), 1) = (&self.1.llm, ctx.visit) {
            let candidates = gathered.candidates();
            let answer =
                prompts::draft::pick_itinerary(llm, &gathered.request, &gathered.weather.data, &candidates).await;
            if let Some(plan) = answer.value {
                return to_output(&Drafted {
                    plan,
                    over_budget_by: None,
                    llm: Some(answer.report),
                });
            }
            metrics::llm_fallback(Step::Draft.as_str());
            report = Some(answer.report);
        }
        // A revision drafts more conservatively than the draft the checker rejected.
        let thrift = (ctx.visit - 1).min(u32::from(compose::MAX_THRIFT)) as u8;
        let drafted = match compose::compose(
            &gathered.request,
            &gathered.weather.data,
            &gathered.candidates(),
            thrift,
        ) {
            Ok(plan) => Drafted {
                plan,
                over_budget_by: None,
                llm: report,
            },
            Err(infeasible) => {
                let budget = gathered.request.budget.unwrap_or(0.0);
                let over = infeasible.cheapest.total - budget;
                if budget <= 0.0 || over > budget * self.0.approval_over_budget {
                    return Err(NodeError::permanent("budget_too_low", infeasible.message));
                }
                Drafted {
                    plan: *infeasible.plan,
                    over_budget_by: Some(over),
                    llm: report,
                }
            }
        };
        to_output(&drafted)
    }
}
