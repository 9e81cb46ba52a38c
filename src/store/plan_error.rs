//! `plans.error`: why a plan failed or was last set back — a code clients can branch on, a
//! message people can read, and the node it came from.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanError {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

impl PlanError {
    pub fn new(code: &str, message: impl Into<String>, node: Option<&str>) -> Self {
        Self {
            code: code.to_string(),
            message: message.into(),
            node: node.map(str::to_string),
        }
    }

    /// A worker shutting down gave the plan back before it finished.
    pub fn handed_back() -> Self {
        Self::new("handed_back", "the worker shut down before the plan finished", None)
    }

    /// The plan waits for an upstream whose breaker is open.
    pub fn waiting_for_upstream(reason: impl Into<String>, node: &str) -> Self {
        Self::new("waiting_for_upstream", reason, Some(node))
    }

    /// An attempt failed in a way worth another; one is scheduled.
    pub fn transient(message: impl Into<String>, node: &str) -> Self {
        Self::new("transient", message, Some(node))
    }

    /// No attempt is left.
    pub fn attempts_exhausted(message: impl Into<String>, node: Option<&str>) -> Self {
        Self::new("attempts_exhausted", message, node)
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}
