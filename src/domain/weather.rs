//! One day's weather at the destination, as a forecast or the climate normals give it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayWeather {
    pub date: String,
    pub condition: String,
    pub temp_min: f64,
    pub temp_max: f64,
    pub precip_mm: f64,
    pub rainy: bool,
    /// Daytime wind, e.g. "东北风 3级 (16 km/h)", when the source knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wind: Option<String>,
    pub source: String,
}
