//! A place a trip can go: an attraction, a restaurant or a hotel, with what it costs, how
//! long a visit takes and when it is open.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlaceKind {
    Attraction,
    Restaurant,
    Hotel,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Place {
    pub id: String,
    pub name: String,
    pub kind: PlaceKind,
    pub lat: f64,
    pub lng: f64,
    /// CNY: ticket per person, meal per person, or room per night.
    pub price: f64,
    /// Typical visit or meal duration; 0 for hotels.
    pub minutes: u32,
    /// Minutes after midnight.
    pub opens: u32,
    pub closes: u32,
    pub indoor: bool,
    pub tags: Vec<String>,
}

impl Place {
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }
}
