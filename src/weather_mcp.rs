//! `planner weather-mcp`: an MCP server with two tools, `lookup_city` and `get_forecast`,
//! over stdio or streamable HTTP. It answers from QWeather when `QWEATHER_API_KEY` is set
//! (forecast within the key's horizon, climate normals beyond) and from the embedded climate
//! normals otherwise, so any MCP client can use the same weather the planner does. A failed
//! upstream call is a tool error naming its kind (`transient`, `rate_limited`, `permanent`):
//! the client owns the retries, so they are not multiplied here.

use std::sync::Arc;

use chrono::NaiveDate;
use rmcp::{
    ErrorData, ServerHandler, ServiceExt,
    handler::server::wrapper::Parameters,
    model::{CallToolResult, ServerCapabilities, ServerConfig},
    schemars, tool, tool_handler, tool_router,
    transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
    },
};
use serde::Deserialize;
use serde_json::json;

use crate::{
    catalog,
    config::Settings,
    config::Upstream,
    providers::{WeatherProvider, embedded_weather::ClimateNormals, guarded::GuardedWeather, qweather::QWeather},
    resilience::{Policy, Resilience},
};

/// The longest range one call may ask for.
pub const MAX_DAYS: i64 = 30;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct LookupCity {
    /// A city name in Chinese or English, e.g. "杭州" or "Chengdu".
    pub name: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct GetForecast {
    /// A city name or id, as `lookup_city` returns it.
    pub city: String,
    /// First day, YYYY-MM-DD.
    pub start_date: String,
    /// Last day, YYYY-MM-DD (at most 30 days after the first).
    pub end_date: String,
}

#[derive(Clone)]
pub struct WeatherServer {
    weather: Arc<dyn WeatherProvider>,
    /// QWeather's GeoAPI, for `lookup_city` to add the city's QWeather LocationID.
    geo: Option<Arc<QWeather>>,
}

impl WeatherServer {
    pub fn new(weather: Arc<dyn WeatherProvider>) -> Self {
        Self { weather, geo: None }
    }

    pub fn embedded() -> Self {
        Self::new(Arc::new(ClimateNormals))
    }

    /// QWeather when `QWEATHER_API_KEY` is set, else the embedded normals. QWeather calls get
    /// the `weather` policy's timeout and breaker but no retries: the MCP client owns them.
    pub fn from_settings(settings: &Settings) -> reqwest::Result<Self> {
        let policy = Policy {
            retries: 0,
            ..settings.policy(Upstream::Weather)
        };
        let Some(qweather) = QWeather::from_settings(&settings.live, policy.timeout)? else {
            return Ok(Self::embedded());
        };
        let qweather = Arc::new(qweather);
        Ok(Self {
            weather: Arc::new(GuardedWeather {
                inner: qweather.clone(),
                resilience: Resilience::new(Upstream::Weather.as_str(), policy),
            }),
            geo: Some(qweather),
        })
    }
}

fn invalid(message: String) -> Result<CallToolResult, ErrorData> {
    Ok(CallToolResult::structured_error(
        json!({ "error": message, "kind": "permanent" }),
    ))
}

#[tool_router]
impl WeatherServer {
    #[tool(
        description = "Find a supported city by name (Chinese or English): id, names, country, coordinates, and its QWeather LocationID when QWeather is configured."
    )]
    async fn lookup_city(
        &self,
        Parameters(LookupCity { name }): Parameters<LookupCity>,
    ) -> Result<CallToolResult, ErrorData> {
        match catalog::find_city(&name) {
            Some(c) => {
                let mut found = json!({
                    "id": c.id, "name": c.name, "name_en": c.name_en, "country": c.country, "lat": c.lat, "lng": c.lng,
                });
                if let Some(geo) = &self.geo {
                    match geo.lookup(&c.name).await {
                        Ok(l) => {
                            found["qweather"] = json!({
                                "id": l.id, "name": l.name, "adm1": l.adm1, "country": l.country, "lat": l.lat, "lon": l.lon,
                            })
                        }
                        Err(e) => found["qweather_error"] = json!(e.to_string()),
                    }
                }
                Ok(CallToolResult::structured(found))
            }
            None => invalid(format!(
                "unknown city {name:?}; supported: {}",
                catalog::city_names().join(", ")
            )),
        }
    }

    #[tool(
        description = "Daily weather for a city between two dates: condition, temperature min/max (°C), precipitation (mm), daytime wind; each day names its source (forecast or climate normals)."
    )]
    async fn get_forecast(&self, Parameters(req): Parameters<GetForecast>) -> Result<CallToolResult, ErrorData> {
        let Some(city) = catalog::find_city(&req.city) else {
            return invalid(format!("unknown city {:?}", req.city));
        };
        let parse = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d");
        let (Ok(start), Ok(end)) = (parse(&req.start_date), parse(&req.end_date)) else {
            return invalid("start_date and end_date must be YYYY-MM-DD".into());
        };
        let days = (end - start).num_days() + 1;
        if !(1..=MAX_DAYS).contains(&days) {
            return invalid(format!("the range must be 1 to {MAX_DAYS} days, not {days}"));
        }
        match self.weather.forecast(city, start, days as u32).await {
            Ok(days) => Ok(CallToolResult::structured(json!({
                "city": city.id, "source": self.weather.name(), "days": days,
            }))),
            Err(e) => Ok(CallToolResult::structured_error(json!({
                "error": e.to_string(), "kind": e.outcome(),
            }))),
        }
    }
}

#[tool_handler]
impl ServerHandler for WeatherServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_instructions("Weather for travel planning: lookup_city, then get_forecast for a date range.")
    }
}

/// Serves over stdin/stdout until the client closes them.
pub async fn serve_stdio(server: WeatherServer) -> anyhow::Result<()> {
    let running = server.serve(rmcp::transport::stdio()).await?;
    running.waiting().await?;
    Ok(())
}

/// Serves streamable HTTP at `/mcp`. `allowed_hosts` are the Host headers accepted besides
/// loopback (rmcp refuses every other host by default, against DNS rebinding).
pub async fn serve_http(
    server: WeatherServer,
    listener: tokio::net::TcpListener,
    allowed_hosts: Vec<String>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let mut config = StreamableHttpServerConfig::default();
    config.allowed_hosts.extend(allowed_hosts);
    let service: StreamableHttpService<WeatherServer, LocalSessionManager> =
        StreamableHttpService::new(move || Ok(server.clone()), Default::default(), config);
    let app = axum::Router::new()
        .nest_service("/mcp", service)
        .route("/health", axum::routing::get(|| async { "ok" }));
    tracing::info!(addr = %listener.local_addr()?, "weather MCP server listening on /mcp");
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await?;
    Ok(())
}
