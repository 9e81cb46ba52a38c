//! Where the planner's outside knowledge comes from, behind one trait per need. Each has
//! an embedded implementation that needs no key; live clients plug in behind the same trait.

pub mod amap;
pub mod cached;
pub mod embedded_places;
pub mod embedded_weather;
pub mod http;
pub mod lenient;
pub mod mcp_weather;
pub mod qweather;
pub mod resilient;

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::NaiveDate;

use sqlx::PgPool;

use crate::{
    config::Settings,
    llm::Llm,
    planner::{
        catalog::{City, Place},
        geo::Road,
        itinerary::DayWeather,
    },
    providers::{
        amap::Amap,
        mcp_weather::{McpTarget, McpWeather},
        qweather::QWeather,
    },
    resilience::{OnOpen, Policy, Resilience},
    store::cache::ProviderCache,
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

/// An embedded source has no upstream quota to protect: no client-side rate limit.
fn unlimited(policy: Policy) -> Policy {
    Policy {
        rate_per_sec: 0,
        ..policy
    }
}

/// The providers a worker plans with, each behind the resilience policy of its upstream,
/// and what to do when that upstream is out of reach.
#[derive(Clone)]
pub struct Providers {
    pub weather: Arc<dyn WeatherProvider>,
    pub places: Arc<dyn PlacesProvider>,
    pub weather_on_open: OnOpen,
    pub places_on_open: OnOpen,
    /// The LLM for understand and draft; `None` plans with the embedded rules and composer.
    pub llm: Option<Arc<Llm>>,
}

impl Providers {
    /// The embedded providers, wrapped like live ones so that behaviour is uniform.
    pub fn embedded(settings: &Settings) -> Self {
        Self::with_policies(
            Arc::new(embedded_weather::ClimateNormals),
            Arc::new(embedded_places::CuratedPlaces),
            unlimited(settings.policy("weather")),
            unlimited(settings.policy("maps")),
        )
    }

    /// What a worker plans with. Weather: the MCP server at `WEATHER_MCP_URL`, else one
    /// spawned by `WEATHER_MCP_COMMAND`, else QWeather in-process when its key is set, else
    /// the embedded normals. Places: Amap when its key is set, else the embedded catalog.
    /// Live sources run under their upstream's resilience policy, behind `provider_cache`.
    pub fn from_settings(settings: &Settings, pool: &PgPool) -> Self {
        let live = &settings.live;
        let (weather_policy, maps_policy) = (settings.policy("weather"), settings.policy("maps"));
        let live_weather: Option<Arc<dyn WeatherProvider>> =
            match (&settings.weather_mcp_url, &live.weather_mcp_command) {
                (Some(url), _) => Some(Arc::new(McpWeather::new(McpTarget::Http(url.clone())))),
                (None, Some(command)) => Some(Arc::new(McpWeather::new(McpTarget::Command(command.clone())))),
                (None, None) => QWeather::from_settings(live, weather_policy.timeout).map(|q| Arc::new(q) as _),
            };
        let live_places: Option<Arc<dyn PlacesProvider>> = live
            .amap_api_key
            .clone()
            .map(|key| Arc::new(Amap::new(key, &live.amap_base_url, maps_policy.timeout)) as _);
        let (weather_is_live, places_are_live) = (live_weather.is_some(), live_places.is_some());
        let mut providers = Self::with_policies(
            live_weather.unwrap_or_else(|| Arc::new(embedded_weather::ClimateNormals)),
            live_places.unwrap_or_else(|| Arc::new(embedded_places::CuratedPlaces)),
            if weather_is_live {
                weather_policy
            } else {
                unlimited(weather_policy)
            },
            if places_are_live {
                maps_policy
            } else {
                unlimited(maps_policy)
            },
        );
        let cache = ProviderCache::new(pool.clone());
        if weather_is_live {
            providers.weather = Arc::new(cached::CachedWeather {
                inner: providers.weather,
                cache: cache.clone(),
                ttl: live.forecast_cache_ttl,
            });
        }
        if places_are_live {
            providers.places = Arc::new(cached::CachedPlaces {
                inner: providers.places,
                cache,
                ttl: live.places_cache_ttl,
            });
        }
        providers.llm = Llm::from_settings(settings);
        providers
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
            llm: None,
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
