//! What each node checkpoints: the contract between a node and the nodes after it (and,
//! for `finalize`, the queue that stores the plan). Old checkpoints must keep decoding, so
//! fields added later default.

use serde::{Deserialize, Serialize};

use crate::{
    llm::{LlmReport, Usage},
    travel::{
        check::Violation,
        geo::Roads,
        itinerary::{Itinerary, Source},
        request::TripRequest,
    },
};

/// The output of `weather`, `places` and `lodging`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fetched<T> {
    pub data: T,
    pub source: Source,
    /// Why the embedded fallback was used instead of the provider, when it was.
    #[serde(default)]
    pub degraded: Option<String>,
}

/// The output of `routes`: measured roads (empty when legs are estimated).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Routed {
    pub roads: Roads,
    pub source: Source,
    /// Why some or all roads are estimated although the source measures them.
    #[serde(default)]
    pub warning: Option<String>,
}

/// The output of `understand`: the request, and what the LLM did for it, if one is used.
/// Flattened, so that nodes reading a plain `TripRequest` keep working.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Understood {
    #[serde(flatten)]
    pub request: TripRequest,
    #[serde(default)]
    pub llm: Option<LlmReport>,
    /// Where the LLM's reading was overruled by the text, or not used.
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// Where the candidates of a draft came from when the live places could not make a valid
/// plan: the curated catalog mixed in, or alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fallback {
    Mixed,
    Curated,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Drafted {
    pub plan: Itinerary,
    /// Set when the plan is drawn from the curated catalog, not only the live places.
    #[serde(default)]
    pub fallback: Option<Fallback>,
    /// Set when no plan fits the budget but the cheapest is close enough to offer for approval.
    #[serde(default)]
    pub over_budget_by: Option<f64>,
    /// The LLM's part in this draft and any earlier visit of `draft`.
    #[serde(default)]
    pub llm: Option<LlmReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckReport {
    pub round: u32,
    pub violations: Vec<Violation>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Approved {
    pub reasons: Vec<String>,
    pub decided_by: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finalized {
    pub result: Itinerary,
    pub markdown: String,
    /// LLM tokens over understand and every draft; `None` without an LLM.
    #[serde(default)]
    pub token_usage: Option<Usage>,
}
