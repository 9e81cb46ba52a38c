//! The candidates a plan is drafted from: the attractions, restaurants and hotels the
//! places and lodging nodes fetched, and the roads measured between them. The composer and
//! the LLM choose among them; the checker accepts nothing else.

use std::collections::HashMap;

use crate::{domain::Place, travel::geo::Roads};

pub struct Candidates<'a> {
    pub attractions: &'a [Place],
    pub restaurants: &'a [Place],
    pub hotels: &'a [Place],
    /// Measured roads between them; `Roads::NONE` estimates every leg from coordinates.
    pub roads: &'a Roads,
}

impl Candidates<'_> {
    /// Every candidate by id.
    pub fn by_id(&self) -> HashMap<&str, &Place> {
        self.attractions
            .iter()
            .chain(self.restaurants)
            .chain(self.hotels)
            .map(|p| (p.id.as_str(), p))
            .collect()
    }
}
