//! Providers guarded by the resilience policy of their upstream: every call to them goes
//! through `Resilience::call`. The breaker and limiter are shared by every plan of the
//! process, as they must be to protect the upstream.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;

use crate::{
    domain::{City, DayWeather, Place, Road},
    providers::{PlacesProvider, ProviderError, WeatherProvider},
    resilience::Resilience,
};

pub struct GuardedWeather {
    pub inner: Arc<dyn WeatherProvider>,
    pub resilience: Arc<Resilience>,
}

#[async_trait]
impl WeatherProvider for GuardedWeather {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn forecast(&self, city: &City, start: NaiveDate, days: u32) -> Result<Vec<DayWeather>, ProviderError> {
        self.resilience
            .call("forecast", || self.inner.forecast(city, start, days))
            .await
    }
}

pub struct GuardedPlaces {
    pub inner: Arc<dyn PlacesProvider>,
    pub resilience: Arc<Resilience>,
}

#[async_trait]
impl PlacesProvider for GuardedPlaces {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn places(&self, city: &City) -> Result<Vec<Place>, ProviderError> {
        self.resilience.call("places", || self.inner.places(city)).await
    }

    async fn hotels(&self, city: &City) -> Result<Vec<Place>, ProviderError> {
        self.resilience.call("hotels", || self.inner.hotels(city)).await
    }

    fn measures_roads(&self) -> bool {
        self.inner.measures_roads()
    }

    async fn roads_to(&self, origins: &[Place], to: &Place) -> Result<Vec<Option<Road>>, ProviderError> {
        self.resilience.call("roads", || self.inner.roads_to(origins, to)).await
    }
}
