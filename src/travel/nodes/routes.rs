//! `routes`: the roads between the candidate places, measured when the places source can
//! (Amap), for the composer and the checker to share. Otherwise, and for any pair it could
//! not measure, legs are estimated from coordinates.
//!
//! One upstream call per place asks for the roads to it from every place listed before it,
//! so each pair is measured once (either direction reads the same road); hotel to hotel is
//! skipped, nobody travels between hotels. A call that fails leaves its pairs to the
//! estimate from coordinates, with a warning: estimated legs are what the embedded planner
//! always plans with, so a failure here never fails the plan.

use std::sync::Arc;

use async_trait::async_trait;
use futures::{StreamExt, stream};
use serde_json::Value;

use crate::{
    domain::{Place, PlaceKind},
    graph::{Node, NodeContext, NodeError, to_output},
    providers::{PlacesProvider, ProviderError},
    travel::{
        geo::Roads,
        nodes::{
            context::{output, source},
            outputs::{Fetched, Routed},
            step::Step,
        },
        request::TripRequest,
        sources::Sources,
        words::Words,
    },
};

pub struct Routes(pub Arc<Sources>);

#[async_trait]
impl Node for Routes {
    async fn run(&self, ctx: &NodeContext) -> Result<Value, NodeError> {
        let request: TripRequest = output(ctx, Step::Understand)?;
        let places: Fetched<Vec<Place>> = output(ctx, Step::Places)?;
        let hotels: Fetched<Vec<Place>> = output(ctx, Step::Lodging)?;
        let p = &self.0.places;
        let kind = Step::Routes.as_str();
        // Degraded candidates come from the embedded catalog, which the live source did not list.
        let routed = if p.measures_roads() && places.degraded.is_none() && hotels.degraded.is_none() {
            let all: Vec<Place> = places.data.into_iter().chain(hotels.data).collect();
            let (roads, warning) = measure(p.as_ref(), &all, Words(request.language)).await;
            let provider = if roads.is_empty() { "estimated" } else { p.name() };
            Routed {
                source: source(kind, provider),
                roads,
                warning,
            }
        } else {
            Routed {
                roads: Roads::default(),
                source: source(kind, "estimated"),
                warning: None,
            }
        };
        to_output(&routed)
    }
}

/// Upstream calls in flight at once for one plan (each one is rate limited and cached).
const CALLS_IN_FLIGHT: usize = 4;

/// The roads between `places` as `provider` measures them, and a warning when some could
/// not be measured.
pub async fn measure(provider: &dyn PlacesProvider, places: &[Place], words: Words) -> (Roads, Option<String>) {
    // Owned, so that the futures below borrow nothing but the provider.
    let lookups: Vec<(Place, Vec<Place>)> = places
        .iter()
        .enumerate()
        .filter_map(|(i, to)| {
            let origins: Vec<Place> = places[..i]
                .iter()
                .filter(|from| !(from.kind == PlaceKind::Hotel && to.kind == PlaceKind::Hotel))
                .cloned()
                .collect();
            (!origins.is_empty()).then(|| (to.clone(), origins))
        })
        .collect();
    let total = lookups.len();
    let answers: Vec<(Place, Vec<Place>, Result<_, ProviderError>)> = stream::iter(lookups)
        .map(|(to, origins)| async move {
            let answer = provider.roads_to(&origins, &to).await;
            (to, origins, answer)
        })
        .buffer_unordered(CALLS_IN_FLIGHT)
        .collect()
        .await;

    let mut roads = Roads::default();
    let mut failed: Vec<ProviderError> = Vec::new();
    for (to, origins, answer) in answers {
        match answer {
            Ok(found) => {
                for (from, road) in origins.iter().zip(found) {
                    if let Some(road) = road {
                        roads.insert(&from.id, &to.id, road);
                    }
                }
            }
            Err(e) => failed.push(e),
        }
    }
    let warning = failed.first().map(|first| {
        tracing::warn!(failed = failed.len(), total, error = %first, "some roads were not measured");
        words.roads_estimated(failed.len(), total, &first.to_string())
    });
    (roads, warning)
}
