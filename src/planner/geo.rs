//! Distances and travel legs between places. The composer and the checker share these
//! estimates, so a plan is judged by the same yardstick it was built with.

use serde::{Deserialize, Serialize};

/// Straight-line distances are stretched by this factor to approximate the street network.
const ROAD_FACTOR: f64 = 1.3;
/// Legs up to this many road kilometres are walked.
pub const WALK_MAX_KM: f64 = 1.2;
const WALK_KMH: f64 = 4.5;
const TAXI_KMH: f64 = 25.0;
const METRO_KMH: f64 = 30.0;

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

pub fn distance_km(lat1: f64, lng1: f64, lat2: f64, lng2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lng2 - lng1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    6371.0 * 2.0 * a.sqrt().atan2((1.0 - a).sqrt())
}

pub fn road_km(lat1: f64, lng1: f64, lat2: f64, lng2: f64) -> f64 {
    distance_km(lat1, lng1, lat2, lng2) * ROAD_FACTOR
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
                minutes: (km / TAXI_KMH * 60.0).ceil() as u32 + 10,
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
}
