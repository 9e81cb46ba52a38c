//! Live providers behind `provider_cache`: a forecast is reused for hours, places and roads for days,
//! by every worker. Outermost wrapper: a hit makes no upstream call, spends no rate limit and
//! never meets the circuit breaker.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::NaiveDate;

use crate::{
    domain::{City, DayWeather, Place, Road},
    providers::{PlacesProvider, ProviderError, WeatherProvider},
    store::cache::ProviderCache,
};

pub struct CachedWeather {
    pub inner: Arc<dyn WeatherProvider>,
    pub cache: ProviderCache,
    pub ttl: Duration,
}

#[async_trait]
impl WeatherProvider for CachedWeather {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn forecast(&self, city: &City, start: NaiveDate, days: u32) -> Result<Vec<DayWeather>, ProviderError> {
        let key = format!("forecast:{}:{start}:{days}", city.id);
        self.cache
            .get_or_fetch(
                self.inner.name(),
                &key,
                self.ttl,
                self.inner.forecast(city, start, days),
            )
            .await
    }
}

pub struct CachedPlaces {
    pub inner: Arc<dyn PlacesProvider>,
    pub cache: ProviderCache,
    pub ttl: Duration,
}

#[async_trait]
impl PlacesProvider for CachedPlaces {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn places(&self, city: &City) -> Result<Vec<Place>, ProviderError> {
        let key = format!("places:{}", city.id);
        self.cache
            .get_or_fetch(self.inner.name(), &key, self.ttl, self.inner.places(city))
            .await
    }

    async fn hotels(&self, city: &City) -> Result<Vec<Place>, ProviderError> {
        let key = format!("hotels:{}", city.id);
        self.cache
            .get_or_fetch(self.inner.name(), &key, self.ttl, self.inner.hotels(city))
            .await
    }

    fn measures_roads(&self) -> bool {
        self.inner.measures_roads()
    }

    async fn roads_to(&self, origins: &[Place], to: &Place) -> Result<Vec<Option<Road>>, ProviderError> {
        let from: Vec<&str> = origins.iter().map(|o| o.id.as_str()).collect();
        let key = format!("roads:{}:{}", to.id, from.join(","));
        self.cache
            .get_or_fetch(self.inner.name(), &key, self.ttl, self.inner.roads_to(origins, to))
            .await
    }
}
