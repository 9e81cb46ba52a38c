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

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}
