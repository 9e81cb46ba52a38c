//! The live upstreams (`OPENAI_*`, `QWEATHER_*`, `AMAP_*`, weather over MCP) and their caches;
//! each is used only when configured, the embedded sources otherwise.

use std::time::Duration;

use anyhow::bail;

use super::{secret::Secret, vars::Vars};

#[derive(Debug, Clone)]
pub struct LiveSettings {
    /// The LLM is used when a key or a base URL (a local OpenAI-compatible server) is set.
    pub openai_api_key: Option<Secret>,
    pub openai_base_url: Option<String>,
    pub openai_model: String,
    pub qweather_api_key: Option<Secret>,
    /// `abc123.re.qweatherapi.com`, or a whole URL (`http://127.0.0.1:9000` for a fake).
    pub qweather_api_host: String,
    /// How many days ahead the QWeather plan forecasts (3, 7, 10, 15 or 30).
    pub qweather_forecast_days: u32,
    pub amap_api_key: Option<Secret>,
    pub amap_base_url: String,
    /// A command that serves MCP weather on stdin/stdout, e.g. `planner weather-mcp`.
    pub weather_mcp_command: Option<String>,
    pub forecast_cache_ttl: Duration,
    pub places_cache_ttl: Duration,
}

impl LiveSettings {
    pub fn llm_enabled(&self) -> bool {
        self.openai_api_key.is_some() || self.openai_base_url.is_some()
    }

    pub(super) fn read(vars: &Vars) -> anyhow::Result<Self> {
        let forecast_days = vars.parsed("QWEATHER_FORECAST_DAYS", 7)?;
        if ![3, 7, 10, 15, 30].contains(&forecast_days) {
            bail!("QWEATHER_FORECAST_DAYS must be 3, 7, 10, 15 or 30, not {forecast_days}");
        }
        Ok(Self {
            openai_api_key: vars.text("OPENAI_API_KEY").map(Secret),
            openai_base_url: vars.text("OPENAI_BASE_URL"),
            openai_model: vars.text_or("OPENAI_MODEL", "gpt-4o-mini"),
            qweather_api_key: vars.text("QWEATHER_API_KEY").map(Secret),
            qweather_api_host: vars.text_or("QWEATHER_API_HOST", "devapi.qweather.com"),
            qweather_forecast_days: forecast_days,
            amap_api_key: vars.text("AMAP_API_KEY").map(Secret),
            amap_base_url: vars.text_or("AMAP_BASE_URL", "https://restapi.amap.com"),
            weather_mcp_command: vars.text("WEATHER_MCP_COMMAND"),
            forecast_cache_ttl: vars.secs("CACHE_FORECAST_TTL_SECS", 3 * 3600)?,
            places_cache_ttl: vars.secs("CACHE_PLACES_TTL_SECS", 7 * 86_400)?,
        })
    }
}
