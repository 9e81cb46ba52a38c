//! What `draft`, `check`, `approval` and `finalize` plan from, gathered from the outputs of
//! understand, weather, places, lodging and routes.

use crate::{
    domain::{DayWeather, Place, PlaceKind},
    graph::{NodeContext, NodeError},
    travel::{
        candidates::Candidates,
        itinerary::Source,
        nodes::{
            context::output,
            outputs::{Fetched, Routed},
            step::Step,
        },
        request::TripRequest,
    },
};

pub struct Gathered {
    pub request: TripRequest,
    pub weather: Fetched<Vec<DayWeather>>,
    pub attractions: Vec<Place>,
    pub restaurants: Vec<Place>,
    pub hotels: Fetched<Vec<Place>>,
    pub places_source: Source,
    pub places_degraded: Option<String>,
    pub routes: Routed,
}

impl Gathered {
    pub fn read(ctx: &NodeContext) -> Result<Self, NodeError> {
        let places: Fetched<Vec<Place>> = output(ctx, Step::Places)?;
        let (attractions, restaurants) = places.data.into_iter().partition(|p| p.kind == PlaceKind::Attraction);
        Ok(Self {
            request: output(ctx, Step::Understand)?,
            weather: output(ctx, Step::Weather)?,
            attractions,
            restaurants,
            hotels: output(ctx, Step::Lodging)?,
            places_source: places.source,
            places_degraded: places.degraded,
            routes: output(ctx, Step::Routes)?,
        })
    }

    pub fn candidates(&self) -> Candidates<'_> {
        Candidates {
            attractions: &self.attractions,
            restaurants: &self.restaurants,
            hotels: &self.hotels.data,
            roads: &self.routes.roads,
        }
    }

    /// Why each source that degraded to embedded data did.
    pub fn degraded(&self) -> Vec<String> {
        [&self.weather.degraded, &self.places_degraded, &self.hotels.degraded]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }
}
