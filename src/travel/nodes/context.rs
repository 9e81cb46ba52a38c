//! What every node reads from its context: the outputs of the steps before it, the catalog
//! city of the request, and the stamp of a source it used.

use chrono::Utc;
use serde::de::DeserializeOwned;

use crate::{
    catalog,
    domain::City,
    graph::{NodeContext, NodeError},
    travel::{itinerary::Source, nodes::step::Step},
};

/// The latest output of `step`, decoded.
pub fn output<T: DeserializeOwned>(ctx: &NodeContext, step: Step) -> Result<T, NodeError> {
    ctx.output(step.as_str())
}

pub fn city_of(id: &str) -> Result<&'static City, NodeError> {
    catalog::city(id).ok_or_else(|| NodeError::permanent("unknown_destination", format!("no data for {id}")))
}

pub fn source(kind: &str, provider: &str) -> Source {
    Source {
        kind: kind.into(),
        provider: provider.into(),
        at: Utc::now().to_rfc3339(),
    }
}
