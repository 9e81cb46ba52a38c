//! The sources a plan is made from: weather, places (with the roads between them) and the
//! LLM, each behind the resilience policy of its upstream, and what a node does when that
//! upstream is out of reach. Built from the settings: live where a key or server is
//! configured, embedded otherwise.

use std::sync::Arc;

use sqlx::PgPool;

use crate::{
    config::{Settings, Upstream},
    llm::Llm,
    providers::{
        PlacesProvider, WeatherProvider,
        amap::Amap,
        cached::{CachedPlaces, CachedWeather},
        embedded_places::CuratedPlaces,
        embedded_weather::ClimateNormals,
        guarded::{GuardedPlaces, GuardedWeather},
        mcp_client::{McpTarget, McpWeather},
        qweather::QWeather,
    },
    resilience::{OnOpen, Policy, Resilience},
    store::cache::ProviderCache,
};

#[derive(Clone)]
pub struct Sources {
    pub weather: Arc<dyn WeatherProvider>,
    pub places: Arc<dyn PlacesProvider>,
    pub weather_on_open: OnOpen,
    pub places_on_open: OnOpen,
    /// The LLM for understand and draft; `None` plans with the embedded rules and composer.
    pub llm: Option<Arc<Llm>>,
}

/// An embedded source has no upstream quota to protect: no client-side rate limit.
fn unlimited(policy: Policy) -> Policy {
    Policy {
        rate_per_sec: 0,
        ..policy
    }
}

impl Sources {
    /// The embedded providers, guarded like live ones so that behaviour is uniform.
    pub fn embedded(settings: &Settings) -> Self {
        Self::with_policies(
            Arc::new(ClimateNormals),
            Arc::new(CuratedPlaces),
            unlimited(settings.policy(Upstream::Weather)),
            unlimited(settings.policy(Upstream::Maps)),
        )
    }

    /// What a worker plans with. Weather: the MCP server at `WEATHER_MCP_URL`, else one
    /// spawned by `WEATHER_MCP_COMMAND`, else QWeather in-process when its key is set, else
    /// the embedded normals. Places: Amap when its key is set, else the embedded catalog.
    /// Live sources run under their upstream's resilience policy, behind `provider_cache`.
    pub fn from_settings(settings: &Settings, pool: &PgPool) -> anyhow::Result<Self> {
        let live = &settings.live;
        let (weather_policy, maps_policy) = (settings.policy(Upstream::Weather), settings.policy(Upstream::Maps));
        let live_weather: Option<Arc<dyn WeatherProvider>> =
            match (&settings.weather_mcp_url, &live.weather_mcp_command) {
                (Some(url), _) => Some(Arc::new(McpWeather::new(McpTarget::Http(url.clone())))),
                (None, Some(command)) => Some(Arc::new(McpWeather::new(McpTarget::Command(command.clone())))),
                (None, None) => QWeather::from_settings(live, weather_policy.timeout)?.map(|q| Arc::new(q) as _),
            };
        let live_places: Option<Arc<dyn PlacesProvider>> = match live.amap_api_key.clone() {
            Some(key) => Some(Arc::new(Amap::new(key, &live.amap_base_url, maps_policy.timeout)?)),
            None => None,
        };
        let cache = ProviderCache::new(pool.clone());
        let weather: Arc<dyn WeatherProvider> = match live_weather {
            Some(weather) => Arc::new(CachedWeather {
                inner: guard_weather(weather, weather_policy.clone()),
                cache: cache.clone(),
                ttl: live.forecast_cache_ttl,
            }),
            None => guard_weather(Arc::new(ClimateNormals), unlimited(weather_policy.clone())),
        };
        let places: Arc<dyn PlacesProvider> = match live_places {
            Some(places) => Arc::new(CachedPlaces {
                inner: guard_places(places, maps_policy.clone()),
                cache,
                ttl: live.places_cache_ttl,
            }),
            None => guard_places(Arc::new(CuratedPlaces), unlimited(maps_policy.clone())),
        };
        Ok(Self {
            weather,
            places,
            weather_on_open: weather_policy.on_open,
            places_on_open: maps_policy.on_open,
            llm: Llm::from_settings(settings)?,
        })
    }

    /// Any weather and places providers, each under its upstream's policy from the settings.
    pub fn guarded(weather: Arc<dyn WeatherProvider>, places: Arc<dyn PlacesProvider>, settings: &Settings) -> Self {
        Self::with_policies(
            weather,
            places,
            settings.policy(Upstream::Weather),
            settings.policy(Upstream::Maps),
        )
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
            weather: guard_weather(weather, weather_policy),
            places: guard_places(places, maps_policy),
        }
    }
}

fn guard_weather(inner: Arc<dyn WeatherProvider>, policy: Policy) -> Arc<dyn WeatherProvider> {
    Arc::new(GuardedWeather {
        inner,
        resilience: Resilience::new(Upstream::Weather.as_str(), policy),
    })
}

fn guard_places(inner: Arc<dyn PlacesProvider>, policy: Policy) -> Arc<dyn PlacesProvider> {
    Arc::new(GuardedPlaces {
        inner,
        resilience: Resilience::new(Upstream::Maps.as_str(), policy),
    })
}
