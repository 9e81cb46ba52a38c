//! The outside services a worker calls, and the resilience policy each gets by default.

use std::time::Duration;

use crate::resilience::{OnOpen, Policy};

/// The outside services a worker calls, each under a resilience policy of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Upstream {
    Weather,
    Maps,
    Llm,
}

impl Upstream {
    pub const ALL: [Upstream; 3] = [Upstream::Weather, Upstream::Maps, Upstream::Llm];

    /// Its name in metrics, logs and `RESILIENCE_{NAME}_…`.
    pub fn as_str(self) -> &'static str {
        match self {
            Upstream::Weather => "weather",
            Upstream::Maps => "maps",
            Upstream::Llm => "llm",
        }
    }

    /// Weather and the LLM are optional: without them a plan is still a plan (climate
    /// normals, the rule parser and composer). Places are not: a plan waits for them. An
    /// LLM writing a whole itinerary takes tens of seconds, a small one on a CPU longer.
    pub fn default_policy(self) -> Policy {
        let on_open = match self {
            Upstream::Weather | Upstream::Llm => OnOpen::Degrade,
            Upstream::Maps => OnOpen::Wait,
        };
        let timeout = match self {
            Upstream::Llm => Duration::from_secs(60),
            Upstream::Weather | Upstream::Maps => Policy::default().timeout,
        };
        Policy {
            on_open,
            timeout,
            ..Policy::default()
        }
    }
}
