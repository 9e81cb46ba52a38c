//! The finished plan's JSON (`plans.result`). Field names are a contract with clients.

use serde::{Deserialize, Serialize};

use crate::{
    domain::DayWeather,
    travel::{geo::Mode, language::Language},
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Itinerary {
    pub destination: String,
    pub start_date: String,
    pub end_date: String,
    pub travelers: u32,
    pub currency: String,
    pub budget: Option<f64>,
    pub days: Vec<Day>,
    pub costs: Costs,
    pub tips: Vec<String>,
    pub warnings: Vec<String>,
    pub sources: Vec<Source>,
    /// The language the plan is written in.
    #[serde(default)]
    pub language: Language,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Day {
    pub date: String,
    pub weather: DayWeather,
    pub items: Vec<Item>,
    pub lodging: Option<Lodging>,
    pub cost: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    Attraction,
    Meal,
    Transfer,
    Free,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub start: String,
    pub end: String,
    pub kind: ItemKind,
    pub place_id: Option<String>,
    pub name: String,
    pub cost: f64,
    /// Minutes walked from the previous item; longer legs are `transfer` items of their own.
    pub travel_minutes: u32,
    pub indoor: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    pub note: String,
    /// Where the place is (WGS-84 degrees), for clients that draw the day's route; absent on
    /// transfers, free time and plans stored before coordinates were kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lng: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lodging {
    pub place_id: String,
    pub name: String,
    pub cost: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lng: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Costs {
    pub lodging: f64,
    pub food: f64,
    pub tickets: f64,
    pub transport: f64,
    pub total: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub kind: String,
    pub provider: String,
    pub at: String,
}
