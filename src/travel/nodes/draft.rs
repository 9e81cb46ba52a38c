//! `draft`: an itinerary from the candidates. The LLM drafts first when there is one; the
//! embedded composer drafts otherwise, when the LLM's answer stays invalid, and for every
//! revision the checker asks for (each more conservative than the last). Live places that
//! cannot make a valid plan are helped by the curated catalog. No plan within budget: the
//! cheapest goes on for approval when it is close enough, else the plan fails.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::{
    graph::{Node, NodeContext, NodeError, to_output},
    llm::LlmReport,
    metrics,
    travel::{
        check, compose,
        nodes::{
            context::output,
            gathered::Gathered,
            outputs::{Drafted, Fallback},
            policy::PlannerPolicy,
            step::Step,
        },
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
                    fallback: None,
                    over_budget_by: None,
                    llm: Some(answer.report),
                });
            }
            metrics::llm_fallback(Step::Draft.as_str());
            report = Some(answer.report);
        }
        // A revision drafts more conservatively than the draft the checker rejected.
        let thrift = (ctx.visit - 1).min(u32::from(compose::MAX_THRIFT)) as u8;
        let drafted = self.compose_from_any_source(gathered, thrift, report)?;
        to_output(&drafted)
    }
}

impl Draft {
    /// The composer's plan from the live places; when they cannot make one that passes the
    /// checker (or are too few for the days), from the curated catalog mixed in, then alone.
    /// With no valid plan from any source, the live attempt goes on for the checker or the
    /// budget to judge.
    fn compose_from_any_source(
        &self,
        gathered: Gathered,
        thrift: u8,
        llm: Option<LlmReport>,
    ) -> Result<Drafted, NodeError> {
        let sources: &[Option<Fallback>] = if gathered.places_are_live() {
            &[None, Some(Fallback::Mixed), Some(Fallback::Curated)]
        } else {
            &[None]
        };
        let mut first = None;
        for &fallback in sources {
            let g = gathered.clone().with_fallback(fallback);
            let enough = fallback.is_some() || g.attractions.len() >= g.request.days as usize * 2;
            let composed = compose::compose(&g.request, &g.weather.data, &g.candidates(), thrift);
            if let Ok(plan) = &composed
                && enough
                && check::check(plan, &g.request, &g.candidates()).is_empty()
            {
                let plan = plan.clone();
                return Ok(Drafted {
                    plan,
                    fallback,
                    over_budget_by: None,
                    llm,
                });
            }
            first.get_or_insert(composed);
        }
        let Some(composed) = first else {
            return Err(NodeError::permanent("graph", "no candidates to compose from"));
        };
        match composed {
            Ok(plan) => Ok(Drafted {
                plan,
                fallback: None,
                over_budget_by: None,
                llm,
            }),
            Err(infeasible) => {
                let budget = gathered.request.budget.unwrap_or(0.0);
                let over = infeasible.cheapest.total - budget;
                if budget <= 0.0 || over > budget * self.0.approval_over_budget {
                    return Err(NodeError::permanent("budget_too_low", infeasible.message));
                }
                Ok(Drafted {
                    plan: *infeasible.plan,
                    fallback: None,
                    over_budget_by: Some(over),
                    llm,
                })
            }
        }
    }
}
