//! The graph's input, as the queue builds it from the plan's row and the nodes read it.

use serde::{Deserialize, Serialize};

use crate::{
    graph::{NodeContext, NodeError},
    travel::request::SubmitRequest,
};

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

/// The graph's input, decoded; a request that does not decode can never be planned.
pub fn plan_input(ctx: &NodeContext) -> Result<PlanInput, NodeError> {
    ctx.input()
        .map_err(|e| NodeError::permanent("invalid_request", format!("request is malformed: {e}")))
}
