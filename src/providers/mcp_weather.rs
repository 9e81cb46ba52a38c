//! Weather from an MCP weather server (`WEATHER_MCP_URL`, streamable HTTP) — ours, `planner
//! weather-mcp`, or any server with the same `get_forecast` tool. One MCP session is kept
//! and shared; a failed session is dropped and the next call opens a new one.

use async_trait::async_trait;
use chrono::{Duration, NaiveDate};
use rmcp::{
    RoleClient, ServiceExt, model::CallToolRequestParams, service::RunningService,
    transport::StreamableHttpClientTransport,
};
use serde_json::json;
use tokio::sync::Mutex;

use crate::{
    planner::{catalog::City, itinerary::DayWeather},
    providers::{ProviderError, WeatherProvider},
};

const NAME: &str = "mcp";

pub struct McpWeather {
    url: String,
    session: Mutex<Option<RunningService<RoleClient, ()>>>,
}

impl McpWeather {
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_string(),
            session: Mutex::new(None),
        }
    }
}

fn transient(message: impl std::fmt::Display) -> ProviderError {
    ProviderError::Transient {
        provider: NAME.into(),
        message: message.to_string(),
    }
}

#[async_trait]
impl WeatherProvider for McpWeather {
    fn name(&self) -> &str {
        NAME
    }

    async fn forecast(&self, city: &City, start: NaiveDate, days: u32) -> Result<Vec<DayWeather>, ProviderError> {
        let mut session = self.session.lock().await;
        if session.is_none() {
            let transport = StreamableHttpClientTransport::from_uri(self.url.clone());
            *session = Some(
                ().serve(transport)
                    .await
                    .map_err(|e| transient(format!("cannot open an MCP session: {e}")))?,
            );
        }
        let Some(client) = session.as_ref() else {
            return Err(transient("no MCP session"));
        };
        let end = start + Duration::days(i64::from(days.max(1)) - 1);
        let arguments = json!({"city": city.id, "start_date": start.to_string(), "end_date": end.to_string()});
        let request = CallToolRequestParams::new("get_forecast")
            .with_arguments(arguments.as_object().cloned().unwrap_or_default());
        let result = match client.call_tool(request).await {
            Ok(result) => result,
            Err(e) => {
                // The session may be dead: open a new one next time.
                *session = None;
                return Err(transient(format!("get_forecast failed: {e}")));
            }
        };
        let content = result.structured_content.unwrap_or_default();
        if result.is_error == Some(true) {
            return Err(ProviderError::Permanent {
                provider: NAME.into(),
                message: content["error"].to_string(),
            });
        }
        let mut days: Vec<DayWeather> = serde_json::from_value(content["days"].clone())
            .map_err(|e| transient(format!("unreadable get_forecast result: {e}")))?;
        let source = content["source"]
            .as_str()
            .map_or(NAME.to_string(), |s| format!("{NAME}:{s}"));
        for day in &mut days {
            day.source = source.clone();
        }
        Ok(days)
    }
}
