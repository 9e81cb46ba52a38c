//! What `draft`, `check`, `approval` and `finalize` plan from, gathered from the outputs of
//! understand, weather, places, lodging and routes.

use crate::{
    catalog,
    domain::{DayWeather, Place, PlaceKind, road::distance_km},
    graph::{NodeContext, NodeError},
    travel::{
        candidates::Candidates,
        itinerary::Source,
        nodes::{
            context::output,
            outputs::{Fallback, Fetched, Routed},
            step::Step,
        },
        request::TripRequest,
    },
};

/// Two places of one kind this close are one place listed by two sources.
const SAME_PLACE_KM: f64 = 0.2;

/// The provider name of the embedded catalog and climate normals.
const EMBEDDED: &str = "embedded";

#[derive(Clone)]
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

    /// Whether the places came live from a provider (not the embedded catalog).
    pub fn places_are_live(&self) -> bool {
        self.places_degraded.is_none() && self.places_source.provider != EMBEDDED
    }

    /// The candidates with the curated catalog of the city mixed in, or instead, as a
    /// draft fell back to; the same for every node that judges that draft.
    pub fn with_fallback(mut self, fallback: Option<Fallback>) -> Self {
        let Some(fallback) = fallback else {
            return self;
        };
        let curated = catalog::places(&self.request.city);
        let of = |kind: PlaceKind| curated.iter().filter(move |p| p.kind == kind).cloned();
        if fallback == Fallback::Curated {
            self.attractions.clear();
            self.restaurants.clear();
            self.hotels.data.clear();
        }
        // A curated place the live source lists too (by name, or a place of its kind
        // within a short walk) is not listed twice.
        let same = |a: &Place, b: &Place| a.name == b.name || distance_km(a.lat, a.lng, b.lat, b.lng) < SAME_PLACE_KM;
        let add = |list: &mut Vec<Place>, kind: PlaceKind| {
            for place in of(kind) {
                if !list.iter().any(|p| same(p, &place)) {
                    list.push(place);
                }
            }
        };
        add(&mut self.attractions, PlaceKind::Attraction);
        add(&mut self.restaurants, PlaceKind::Restaurant);
        add(&mut self.hotels.data, PlaceKind::Hotel);
        self
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
