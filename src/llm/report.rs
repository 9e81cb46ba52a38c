//! What the LLM cost and did for a node: tokens spent, repair rounds, and whether the node
//! gave up on it. Checkpointed with the node's output and summed onto the plan.

use serde::{Deserialize, Serialize};

/// Tokens spent, summed over calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    pub calls: u32,
}

impl Usage {
    pub fn add(&mut self, other: Usage) {
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.total_tokens += other.total_tokens;
        self.calls += other.calls;
    }
}

/// What one node got from the LLM, checkpointed with the node's output.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LlmReport {
    pub model: String,
    pub usage: Usage,
    /// Answers rejected before one was accepted (or before giving up).
    pub repairs: u32,
    /// Set when the node gave up on the LLM and used the embedded planner.
    pub fallback: Option<String>,
}
