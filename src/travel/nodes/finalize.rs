//! `finalize`: the delivered plan. A draft still breaking a hard rule after the last
//! revision fails the plan here; otherwise the itinerary gets its sources, every warning
//! (degraded data, estimated roads, the LLM given up on, a budget overrun accepted at
//! approval), the LLM's token usage and its Markdown. Copies to the results store are made
//! after the plan's success is stored (`queue::maintenance::result_exporter`), never here:
//! the store can neither fail nor delay a plan.

use async_trait::async_trait;
use serde_json::Value;

use crate::{
    graph::{Node, NodeContext, NodeError, Saving, to_output},
    llm::{LlmReport, Usage},
    travel::{
        markdown,
        nodes::{
            context::{output, source},
            gathered::Gathered,
            outputs::{CheckReport, Drafted, Fallback, Finalized, Understood},
            policy::MAX_REVISIONS,
            step::Step,
        },
        words::Words,
    },
};

pub struct Finalize;

#[async_trait]
impl Node for Finalize {
    /// Assembles earlier outputs: cheaper to run again than to save alone.
    fn saving(&self) -> Saving {
        Saving::WithNext
    }

    async fn run(&self, ctx: &NodeContext) -> Result<Value, NodeError> {
        let gathered = Gathered::read(ctx)?;
        let words = Words(gathered.request.language);
        let report: CheckReport = output(ctx, Step::Check)?;
        if !report.violations.is_empty() {
            let list: Vec<String> = report.violations.iter().take(5).map(|v| v.message.clone()).collect();
            let message = words.constraints_violated(MAX_REVISIONS, &list);
            return Err(NodeError::permanent("constraints_violated", message));
        }
        let drafted: Drafted = output(ctx, Step::Draft)?;
        let understood: Understood = output(ctx, Step::Understand)?;
        let reports = [&understood.llm, &drafted.llm];
        let mut result = drafted.plan;
        let (mut places, mut hotels) = (gathered.places_source.clone(), gathered.hotels.source.clone());
        if let Some(fallback) = drafted.fallback {
            for source in [&mut places, &mut hotels] {
                source.provider = match fallback {
                    Fallback::Mixed => format!("{}+embedded", source.provider),
                    Fallback::Curated => "embedded".to_string(),
                };
            }
            let mixed = fallback == Fallback::Mixed;
            result
                .warnings
                .push(words.curated_fallback(mixed, &gathered.request.destination));
        }
        result.sources = vec![
            gathered.weather.source.clone(),
            places,
            hotels,
            source(Step::Draft.as_str(), &drafted_by(drafted.llm.as_ref())),
            gathered.routes.source.clone(),
        ];
        result.warnings.extend(understood.warnings.iter().cloned());
        result.warnings.extend(gathered.degraded());
        result.warnings.extend(gathered.routes.warning.clone());
        for why in reports.into_iter().flatten().filter_map(|r| r.fallback.as_ref()) {
            result.warnings.push(words.llm_fallback(why));
        }
        if let Some(over) = drafted.over_budget_by {
            result.warnings.push(words.over_budget_accepted(over, &result.currency));
        }
        let markdown = markdown::render(&result);
        to_output(&Finalized {
            result,
            markdown,
            token_usage: token_usage(&reports),
        })
    }
}

/// `llm:{model}` when the LLM's draft was kept, else `embedded`.
fn drafted_by(report: Option<&LlmReport>) -> String {
    match report {
        Some(r) if r.fallback.is_none() => format!("llm:{}", r.model),
        _ => "embedded".to_string(),
    }
}

/// Tokens over every LLM report; `None` when the LLM was never asked.
fn token_usage(reports: &[&Option<LlmReport>]) -> Option<Usage> {
    reports.iter().copied().flatten().fold(None, |sum: Option<Usage>, r| {
        let mut sum = sum.unwrap_or_default();
        sum.add(r.usage);
        Some(sum)
    })
}
