//! Where the planner's outside knowledge comes from, behind one trait per need. Each has
//! an embedded implementation that needs no key; live clients plug in behind the same trait.

pub mod embedded_places;
pub mod embedded_weather;
pub mod http;
pub mod mcp_weather;
pub mod resilient;

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::NaiveDate;

use crate::{
    config::Settings,
    planner::{
        catalog::{City, Place},
        itinerary::DayWeather,
    },
    resilience::{OnOpen, Policy, Resilience},
};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    /// Worth retrying: timeouts, connection errors, 5xx, garbage bodies.
    #[error("{provider}: {message}")]
    Transient { provider: String, message: String },
    /// The upstream or our quota says slow down: retried after `retry_after` when given.
    #[error("{provider}: rate limited: {message}")]
    RateLimited {
        provider: String,
        message: String,
        retry_after: Option<Duration>,
    },
    /// Not worth retrying: bad key, bad request, unknown city.
    #[error("{provider}: {message}")]
    Permanent { provider: String, message: String },
    /// The provider's circuit breaker is open: the call was not made.
    #[error("{provider}: circuit breaker open (cool-down {} s)", cool_down.as_secs())]
    BreakerOpen { provider: String, cool_down: Duration },
}

impl ProviderError {
    /// Counts against the circuit breaker.
    pub fn is_transient(&self) -> bool {
        matches!(self, ProviderError::Transient { .. })
    }

    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ProviderError::Transient { .. } | ProviderError::RateLimited { .. }
        )
    }

    pub fn outcome(&self) -> &'static str {
        match self {
            ProviderError::Transient { .. } => "transient",
            ProviderError::RateLimited { .. } => "rate_limited",
            ProviderError::Permanent { .. } => "permanent",
            ProviderError::BreakerOpen { .. } => "breaker_open",
        }
    }

    /// The same error, saying how many tries it took.
    pub fn after_tries(self, tries: usize) -> Self {
        match self {
            ProviderError::Transient { provider, message } => ProviderError::Transient {
                provider,
                message: format!("{message} (after {tries} tries)"),
            },
            ProviderError::RateLimited {
                provider,
                message,
                retry_after,
            } => ProviderError::RateLimited {
                provider,
                message: format!("{message} (after {tries} tries)"),
                retry_after,
            },
            other => other,
        }
    }
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

/// The providers a worker plans with, each behind the resilience policy of its upstream,
/// and what to do when that upstream is out of reach.
#[derive(Clone)]
pub struct Providers {
    pub weather: Arc<dyn WeatherProvider>,
    pub places: Arc<dyn PlacesProvider>,
    pub weather_on_open: OnOpen,
    pub places_on_open: OnOpen,
}

impl Providers {
    /// The embedded providers, wrapped like live ones so that behaviour is uniform — but
    /// with no rate limit: there is no upstream quota to protect.
    pub fn embedded(settings: &Settings) -> Self {
        let unlimited = |name: &str| Policy {
            rate_per_sec: 0,
            ..settings.policy(name)
        };
        Self::with_policies(
            Arc::new(embedded_weather::ClimateNormals),
            Arc::new(embedded_places::CuratedPlaces),
            unlimited("weather"),
            unlimited("maps"),
        )
    }

    /// What a worker plans with: the MCP weather server when `WEATHER_MCP_URL` is set
    /// (with the `weather` resilience policy), embedded sources for the rest.
    pub fn from_settings(settings: &Settings) -> Self {
        match &settings.weather_mcp_url {
            Some(url) => Self::with_policies(
                Arc::new(mcp_weather::McpWeather::new(url)),
                Arc::new(embedded_places::CuratedPlaces),
                settings.policy("weather"),
                Policy {
                    rate_per_sec: 0,
                    ..settings.policy("maps")
                },
            ),
            None => Self::embedded(settings),
        }
    }

    pub fn resilient(weather: Arc<dyn WeatherProvider>, places: Arc<dyn PlacesProvider>, settings: &Settings) -> Self {
        Self::with_policies(weather, places, settings.policy("weather"), settings.policy("maps"))
    }

    fn with_policies(
        weather: Arc<dyn WeatherProvider>,
        places: Arc<dyn PlacesProvider>,
        weather_policy: Policy,
        maps_policy: Policy,
    ) -> Self {
        Self {
            weather_on_open: weather_policy.on_open,
            places_on_open: maps_policy.on_open,
            weather: Arc::new(resilient::ResilientWeather {
                inner: weather,
                resilience: Resilience::new("weather", weather_policy),
            }),
            places: Arc::new(resilient::ResilientPlaces {
                inner: places,
                resilience: Resilience::new("maps", maps_policy),
            }),
        }
    }
}
