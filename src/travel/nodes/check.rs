//! `check`: the checker's verdict on the latest draft. Violations send the graph back to
//! `draft` (at most `MAX_REVISIONS` times); a draft over budget that may go to approval is
//! not held against the budget rule here, since a person will be asked to accept it.

use async_trait::async_trait;
use serde_json::Value;

use crate::{
    graph::{Node, NodeContext, NodeError, Saving, to_output},
    travel::{
        check::{self, ViolationCode},
        nodes::{
            context::output,
            gathered::Gathered,
            outputs::{CheckReport, Drafted},
            step::Step,
        },
    },
};

pub struct Check;

#[async_trait]
impl Node for Check {
    /// The checker reads earlier outputs only: cheaper to run again than to save alone.
    fn saving(&self) -> Saving {
        Saving::WithNext
    }

    async fn run(&self, ctx: &NodeContext) -> Result<Value, NodeError> {
        let drafted: Drafted = output(ctx, Step::Draft)?;
        let gathered = Gathered::read(ctx)?.with_fallback(drafted.fallback);
        let mut violations = check::check(&drafted.plan, &gathered.request, &gathered.candidates());
        if drafted.over_budget_by.is_some() {
            // Not silently: the approval node asks a person to accept it.
            violations.retain(|v| v.code != ViolationCode::Budget);
        }
        if !violations.is_empty() {
            tracing::warn!(round = ctx.visit, count = violations.len(), first = %violations[0].message, "draft breaks hard constraints");
        }
        to_output(&CheckReport {
            round: ctx.visit,
            violations,
        })
    }
}
