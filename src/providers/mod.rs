//! Where the planner's outside knowledge comes from, behind one trait per need. Each has
//! an embedded implementation that needs no key; live clients plug in behind the same trait.

pub mod embedded_places;
pub mod embedded_weather;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;

use crate::planner::{
    catalog::{City, Place},
    itinerary::DayWeather,
};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    /// Worth retrying: timeouts, connection errors, 5xx.
    #[error("{provider}: transient: {message}")]
    Transient { provider: String, message: String },
    /// Not worth retrying: bad key, bad request, unknown city.
    #[error("{provider}: {message}")]
    Permanent { provider: String, message: String },
}

#[async_trait]
pub trait WeatherProvider: Send + Sync {
    fn name(&self) -> &str;
    async fn forecast(&self, city: &City, start: NaiveDate, days: u32) -> Result<Vec<DayWeather>, ProviderError>;
}

#[async_trait]
pub trait PlacesProvider: Send + Sync {
    fn name(&self) -> &str;
    /// Attractions and restaurants worth visiting in the city.
    async fn places(&self, city: &City) -> Result<Vec<Place>, ProviderError>;
    async fn hotels(&self, city: &City) -> Result<Vec<Place>, ProviderError>;
}

#[derive(Clone)]
pub struct Providers {
    pub weather: Arc<dyn WeatherProvider>,
    pub places: Arc<dyn PlacesProvider>,
}

impl Providers {
    pub fn embedded() -> Self {
        Self {
            weather: Arc::new(embedded_weather::ClimateNormals),
            places: Arc::new(embedded_places::CuratedPlaces),
        }
    }
}
