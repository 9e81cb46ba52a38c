//! Roads between places: what a map service measured, and the estimate from coordinates
//! when nobody measured.

use serde::{Deserialize, Serialize};

/// Straight-line distances are stretched by this factor to approximate the street network.
const ROAD_FACTOR: f64 = 1.3;

/// A road between two places as a map service measured it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Road {
    pub km: f64,
    pub drive_minutes: u32,
}

/// Great-circle distance.
pub fn distance_km(lat1: f64, lng1: f64, lat2: f64, lng2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lng2 - lng1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    6371.0 * 2.0 * a.sqrt().atan2((1.0 - a).sqrt())
}

/// The estimated length of the road between two points.
pub fn road_km(lat1: f64, lng1: f64, lat2: f64, lng2: f64) -> f64 {
    distance_km(lat1, lng1, lat2, lng2) * ROAD_FACTOR
}
