//! Travel legs between places, on foot, by metro or by taxi: how long they take and what
//! they cost, on roads a map service measured or estimated from coordinates. The composer
//! and the checker share them, so a plan is judged by the same yardstick it was built with.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::{Place, Road, road::road_km};

/// Legs up to this many road kilometres are walked.
pub const WALK_MAX_KM: f64 = 1.2;
const WALK_KMH: f64 = 4.5;
const TAXI_KMH: f64 = 25.0;
const METRO_KMH: f64 = 30.0;
/// Waiting for a taxi and getting out at the other end.
const TAXI_PICKUP_MINUTES: u32 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Walk,
    Metro,
    Taxi,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Leg {
    pub mode: Mode,
    pub km: f64,
    pub minutes: u32,
    /// CNY for the whole party.
    pub cost_cny: f64,
}

/// Measured roads between candidate places, from id → to id → road. A pair the table does
/// not hold (or an empty table: the embedded catalog measures none) is estimated from the
/// coordinates. The composer and the checker both read legs from here.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Roads(BTreeMap<String, BTreeMap<String, Road>>);

impl Roads {
    pub const NONE: &'static Roads = &Roads(BTreeMap::new());

    pub fn insert(&mut self, from: &str, to: &str, road: Road) {
        self.0.entry(from.to_string()).or_default().insert(to.to_string(), road);
    }

    /// The measured road, either way round (driving distances are close to symmetric).
    pub fn get(&self, from: &str, to: &str) -> Option<Road> {
        let one_way = |a: &str, b: &str| self.0.get(a).and_then(|to| to.get(b)).copied();
        one_way(from, to).or_else(|| one_way(to, from))
    }

    pub fn len(&self) -> usize {
        self.0.values().map(BTreeMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn km(&self, from: &Place, to: &Place) -> f64 {
        match self.get(&from.id, &to.id) {
            Some(road) => road.km,
            None => road_km(from.lat, from.lng, to.lat, to.lng),
        }
    }

    /// The leg from one place to the next by `mode` (see `leg`); a taxi takes the measured
    /// driving time when there is one.
    pub fn leg(&self, from: &Place, to: &Place, mode: Mode, travelers: u32) -> Leg {
        let road = self.get(&from.id, &to.id);
        let km = road.map_or_else(|| road_km(from.lat, from.lng, to.lat, to.lng), |r| r.km);
        let mut leg = leg(km, mode, travelers);
        if let (Mode::Taxi, Some(road)) = (leg.mode, road) {
            leg.minutes = road.drive_minutes + TAXI_PICKUP_MINUTES;
        }
        leg
    }
}

/// The leg by `mode`; walking is chosen whenever the distance allows it.
pub fn leg(km: f64, mode: Mode, travelers: u32) -> Leg {
    if km <= WALK_MAX_KM || mode == Mode::Walk {
        return Leg {
            mode: Mode::Walk,
            km,
            minutes: (km / WALK_KMH * 60.0).ceil() as u32,
            cost_cny: 0.0,
        };
    }
    match mode {
        Mode::Taxi => {
            let cars = travelers.div_ceil(4) as f64;
            let fare = 13.0 + 2.5 * (km - 3.0).max(0.0);
            Leg {
                mode,
                km,
                minutes: (km / TAXI_KMH * 60.0).ceil() as u32 + TAXI_PICKUP_MINUTES,
                cost_cny: (cars * fare).round(),
            }
        }
        Mode::Metro | Mode::Walk => {
            let fare = 3.0 + (km / 6.0).floor();
            Leg {
                mode: Mode::Metro,
                km,
                minutes: (km / METRO_KMH * 60.0).ceil() as u32 + 15,
                cost_cny: (travelers as f64 * fare).round(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::road::distance_km;

    #[test]
    fn short_legs_are_walked_and_long_ones_cost() {
        let walk = leg(0.8, Mode::Taxi, 2);
        assert_eq!(walk.mode, Mode::Walk);
        assert_eq!(walk.cost_cny, 0.0);
        let taxi = leg(10.0, Mode::Taxi, 5);
        assert_eq!(taxi.mode, Mode::Taxi);
        assert_eq!(taxi.cost_cny, (2.0 * (13.0 + 17.5_f64)).round());
        let metro = leg(10.0, Mode::Metro, 2);
        assert!(metro.minutes > taxi.minutes - 10);
        assert!(metro.cost_cny < taxi.cost_cny);
        // Hangzhou West Lake to Lingyin Temple: about 4 km apart.
        let km = distance_km(30.2431, 120.1500, 30.2408, 120.1010);
        assert!((4.0..5.5).contains(&km), "{km}");
    }

    fn at(id: &str, lat: f64, lng: f64) -> Place {
        Place {
            id: id.into(),
            name: id.into(),
            kind: crate::domain::PlaceKind::Attraction,
            lat,
            lng,
            price: 0.0,
            minutes: 60,
            opens: 0,
            closes: 24 * 60,
            indoor: false,
            tags: Vec::new(),
        }
    }

    #[test]
    fn measured_roads_win_over_estimates_either_way_round() {
        let (lake, temple, tower) = (
            at("lake", 30.2431, 120.1500),
            at("temple", 30.2408, 120.1010),
            at("tower", 30.2317, 120.1468),
        );
        let mut roads = Roads::default();
        roads.insert(
            "lake",
            "temple",
            Road {
                km: 9.5,
                drive_minutes: 31,
            },
        );
        assert_eq!(roads.len(), 1);
        assert_eq!(roads.km(&lake, &temple), 9.5);
        assert_eq!(
            roads.km(&temple, &lake),
            9.5,
            "the reverse direction reads the same road"
        );
        let taxi = roads.leg(&temple, &lake, Mode::Taxi, 2);
        assert_eq!(
            (taxi.mode, taxi.km, taxi.minutes),
            (Mode::Taxi, 9.5, 31 + TAXI_PICKUP_MINUTES)
        );
        assert_eq!(taxi.cost_cny, leg(9.5, Mode::Taxi, 2).cost_cny);
        let metro = roads.leg(&lake, &temple, Mode::Metro, 2);
        assert_eq!(metro, leg(9.5, Mode::Metro, 2), "the metro keeps its own speed");
        // A pair nobody measured, or no table at all: estimated from the coordinates.
        let estimated = road_km(lake.lat, lake.lng, tower.lat, tower.lng);
        assert_eq!(roads.km(&lake, &tower), estimated);
        assert_eq!(
            Roads::NONE.km(&lake, &temple),
            road_km(lake.lat, lake.lng, temple.lat, temple.lng)
        );
        assert_eq!(
            Roads::NONE.leg(&lake, &tower, Mode::Taxi, 2),
            leg(estimated, Mode::Taxi, 2)
        );
    }
}
