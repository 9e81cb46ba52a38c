//! `understand`: the submitted request made complete and valid. The structured fields win;
//! free text is read by the LLM when one is configured, by the rule parser otherwise (and
//! whenever the LLM's reading never validates). What the request asks for that the planner
//! cannot act on is named in a warning here, once.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::{
    graph::{Node, NodeContext, NodeError, to_output},
    metrics,
    travel::{
        nodes::{outputs::Understood, plan_input::plan_input, step::Step},
        prompts, request,
        sources::Sources,
        unhonoured,
    },
};

pub struct Understand(pub Arc<Sources>);

#[async_trait]
impl Node for Understand {
    async fn run(&self, ctx: &NodeContext) -> Result<Value, NodeError> {
        let submitted = plan_input(ctx)?.request;
        let today = chrono::Local::now().date_naive();
        // The rules' reading: the fallback when the LLM gives none.
        let ruled = request::resolve(&submitted, today).map_err(|e| NodeError::permanent(e.code.as_str(), e.message));
        let query = submitted.query.as_deref().map(str::trim).filter(|q| !q.is_empty());
        let mut understood = match (&self.0.llm, query) {
            (Some(llm), Some(query)) => {
                let answer = prompts::understand::read_query(llm, &submitted, query, today).await;
                let (request, warnings) = match answer.value {
                    Some(read) => (read.request, read.warnings),
                    None => {
                        metrics::llm_fallback(Step::Understand.as_str());
                        (ruled?, Vec::new())
                    }
                };
                Understood {
                    request,
                    llm: Some(answer.report),
                    warnings,
                }
            }
            _ => Understood {
                request: ruled?,
                llm: None,
                warnings: Vec::new(),
            },
        };
        let unhonoured = unhonoured::warning(submitted.unhonoured.as_ref(), understood.request.language);
        understood.warnings.extend(unhonoured);
        to_output(&understood)
    }
}
