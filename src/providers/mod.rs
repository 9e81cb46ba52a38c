//! Where the planner's outside knowledge comes from, behind one trait per need: weather,
//! and places with the roads between them. Each has an embedded implementation that needs
//! no key (the catalog, the climate normals); live clients (QWeather, Amap, an MCP weather
//! server) plug in behind the same trait, and wrappers add the provider cache (`cached`)
//! and the upstream's resilience policy (`guarded`). `error` and `http` say how an
//! upstream's failure is classified.

pub mod amap;
pub mod cached;
pub mod embedded_places;
pub mod embedded_weather;
pub mod error;
pub mod guarded;
pub mod http;
pub mod lenient;
pub mod mcp_client;
pub mod qweather;

use async_trait::async_trait;
use chrono::NaiveDate;

use crate::domain::{City, DayWeather, Place, Road};

pub use error::ProviderError;

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

    /// Whether `roads_to` measures anything; the embedded catalog does not, and its legs are
    /// estimated from coordinates.
    fn measures_roads(&self) -> bool {
        false
    }

    /// The road from each origin to `to`, in the origins' order (`None` where the source has
    /// no answer for that pair); one upstream call.
    async fn roads_to(&self, origins: &[Place], to: &Place) -> Result<Vec<Option<Road>>, ProviderError> {
        let _ = (origins, to);
        Err(ProviderError::Permanent {
            provider: self.name().to_string(),
            message: "measures no roads".into(),
        })
    }
}
