//! A destination: its names, where it is, and its climate month by month.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MonthNormal {
    pub temp_min: f64,
    pub temp_max: f64,
    pub precip_mm: f64,
    pub rain_days: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct City {
    pub id: String,
    pub name: String,
    pub name_en: String,
    pub aliases: Vec<String>,
    pub country: String,
    pub lat: f64,
    pub lng: f64,
    /// January to December.
    pub climate: Vec<MonthNormal>,
}
