//! Weather from an MCP weather server — ours, `planner weather-mcp`, or any server with the
//! same `get_forecast` tool — over streamable HTTP (`WEATHER_MCP_URL`) or stdio, spawning
//! the server as a child process (`WEATHER_MCP_COMMAND`). One MCP session is kept and
//! shared; a failed session is dropped (a child process with it) and the next call opens a
//! new one. A tool error says its kind, so the upstream's rate limits stay rate limits here.

use async_trait::async_trait;
use chrono::{Duration, NaiveDate};
use rmcp::{
    RoleClient, ServiceExt,
    model::CallToolRequestParams,
    service::RunningService,
    transport::{StreamableHttpClientTransport, TokioChildProcess},
};
use serde_json::json;
use tokio::sync::Mutex;

use crate::{
    domain::{City, DayWeather},
    providers::{ProviderError, WeatherProvider},
};

const NAME: &str = "mcp";

pub enum McpTarget {
    /// A running server's streamable HTTP endpoint.
    Http(String),
    /// A command line that serves MCP on stdin/stdout.
    Command(String),
}

pub struct McpWeather {
    target: McpTarget,
    session: Mutex<Option<RunningService<RoleClient, ()>>>,
}

impl McpWeather {
    pub fn new(target: McpTarget) -> Self {
        Self {
            target,
            session: Mutex::new(None),
        }
    }

    async fn connect(&self) -> Result<RunningService<RoleClient, ()>, ProviderError> {
        let opened = match &self.target {
            McpTarget::Http(url) => ().serve(StreamableHttpClientTransport::from_uri(url.clone())).await,
            McpTarget::Command(line) => {
                let mut words = line.split_whitespace();
                let program = words.next().ok_or_else(|| transient("WEATHER_MCP_COMMAND is empty"))?;
                let mut command = tokio::process::Command::new(program);
                command.args(words);
                let child =
                    TokioChildProcess::new(command).map_err(|e| transient(format!("cannot spawn {line:?}: {e}")))?;
                ().serve(child).await
            }
        };
        opened.map_err(|e| transient(format!("cannot open an MCP session: {e}")))
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
            *session = Some(self.connect().await?);
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
            let provider = NAME.to_string();
            let message = content["error"].as_str().unwrap_or("tool error").to_string();
            return Err(match content["kind"].as_str() {
                Some("transient" | "breaker_open") => ProviderError::Transient { provider, message },
                Some("rate_limited") => ProviderError::RateLimited {
                    provider,
                    message,
                    retry_after: None,
                },
                _ => ProviderError::Permanent { provider, message },
            });
        }
        let mut days: Vec<DayWeather> = serde_json::from_value(content["days"].clone())
            .map_err(|e| transient(format!("unreadable get_forecast result: {e}")))?;
        for day in &mut days {
            day.source = format!("{NAME}:{}", day.source);
        }
        Ok(days)
    }
}
