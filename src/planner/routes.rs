//! Measured roads between the candidate places, for the composer and the checker to share.
//! One upstream call per place asks for the roads to it from every place listed before it,
//! so each pair is measured once (either direction reads the same road); hotel to hotel is
//! skipped, nobody travels between hotels. A call that fails leaves its pairs to the
//! estimate from coordinates, with a warning: estimated legs are what the embedded planner
//! always plans with, so a failure here never fails the plan.

use futures::{StreamExt, stream};

use crate::{
    planner::{
        catalog::{Place, PlaceKind},
        geo::Roads,
    },
    providers::{PlacesProvider, ProviderError},
};

/// Upstream calls in flight at once for one plan (each one is rate limited and cached).
const CALLS_IN_FLIGHT: usize = 4;

/// The roads between `places` as `provider` measures them, and a warning when some could
/// not be measured.
pub async fn measure(provider: &dyn PlacesProvider, places: &[Place]) -> (Roads, Option<String>) {
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
        format!(
            "road distances: {} of {total} lookups failed ({first}); those legs are estimated from coordinates",
            failed.len()
        )
    });
    (roads, warning)
}
