//! QWeather (和风天气): the GeoAPI city lookup, then the daily forecast for the days within
//! the key's horizon (`QWEATHER_FORECAST_DAYS`); days beyond it come from the embedded
//! climate normals, marked as such. Authenticated with the `X-QW-Api-Key` header; bodies
//! are gzip-compressed and every number is a string.
//!
//! QWeather reports errors two ways: v1 answers HTTP 200 with a `code` other than "200";
//! v2 answers an HTTP error status with `{"error": {status, type, title, detail}}`. Both are
//! classified the same: over quota or too many requests → rate limited; 5xx → transient;
//! every other 4xx (bad key, bad request, no data) → permanent, never retried.

use std::{collections::HashMap, time::Duration};

use async_trait::async_trait;
use chrono::NaiveDate;
use reqwest::StatusCode;
use serde::{Deserialize, de::DeserializeOwned};
use tokio::sync::Mutex;

use crate::{
    config::{LiveSettings, Secret},
    domain::{City, DayWeather},
    providers::{ProviderError, WeatherProvider, embedded_weather, http, lenient},
};

const NAME: &str = "qweather";

pub struct QWeather {
    http: reqwest::Client,
    base: String,
    key: Secret,
    horizon: u32,
    /// City id → QWeather LocationID, looked up once per process.
    locations: Mutex<HashMap<String, String>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Location {
    pub id: String,
    pub name: String,
    #[serde(default, deserialize_with = "lenient::number")]
    pub lat: Option<f64>,
    #[serde(default, deserialize_with = "lenient::number")]
    pub lon: Option<f64>,
    #[serde(default)]
    pub adm1: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LookupBody {
    code: String,
    #[serde(default)]
    location: Vec<Location>,
}

#[derive(Debug, Deserialize)]
struct DailyBody {
    code: String,
    #[serde(default)]
    daily: Vec<Daily>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Daily {
    fx_date: String,
    #[serde(default, deserialize_with = "lenient::number")]
    temp_max: Option<f64>,
    #[serde(default, deserialize_with = "lenient::number")]
    temp_min: Option<f64>,
    #[serde(default)]
    text_day: String,
    #[serde(default, deserialize_with = "lenient::number")]
    precip: Option<f64>,
    #[serde(default, deserialize_with = "lenient::text")]
    wind_dir_day: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    wind_scale_day: Option<String>,
    #[serde(default, deserialize_with = "lenient::number")]
    wind_speed_day: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct V2ErrorBody {
    error: V2Error,
}

#[derive(Debug, Deserialize)]
struct V2Error {
    #[serde(default)]
    status: Option<u16>,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    detail: String,
}

impl QWeather {
    /// `host` is a bare API host (`abc123.re.qweatherapi.com`) or a whole base URL.
    pub fn new(key: Secret, host: &str, horizon: u32, timeout: Duration) -> reqwest::Result<Self> {
        let host = host.trim().trim_end_matches('/');
        let base = if host.starts_with("http://") || host.starts_with("https://") {
            host.to_string()
        } else {
            format!("https://{host}")
        };
        Ok(Self {
            http: http::client(timeout)?,
            base,
            key,
            horizon,
            locations: Mutex::new(HashMap::new()),
        })
    }

    /// The client `QWEATHER_*` describe, when a key is set.
    pub fn from_settings(live: &LiveSettings, timeout: Duration) -> reqwest::Result<Option<Self>> {
        let Some(key) = live.qweather_api_key.clone() else {
            return Ok(None);
        };
        Self::new(key, &live.qweather_api_host, live.qweather_forecast_days, timeout).map(Some)
    }

    /// GeoAPI city lookup: the best match for `name`.
    pub async fn lookup(&self, name: &str) -> Result<Location, ProviderError> {
        let body: LookupBody = self
            .get(
                "/geo/v2/city/lookup",
                &[("location", name), ("number", "1"), ("lang", "zh")],
            )
            .await?;
        check_code(&body.code)?;
        body.location
            .into_iter()
            .next()
            .ok_or_else(|| ProviderError::Permanent {
                provider: NAME.into(),
                message: format!("GeoAPI found no city named {name:?}"),
            })
    }

    async fn location_id(&self, city: &City) -> Result<String, ProviderError> {
        if let Some(id) = self.locations.lock().await.get(&city.id) {
            return Ok(id.clone());
        }
        let id = self.lookup(&city.name).await?.id;
        self.locations.lock().await.insert(city.id.clone(), id.clone());
        Ok(id)
    }

    async fn daily(&self, location: &str) -> Result<Vec<Daily>, ProviderError> {
        let path = format!("/v7/weather/{}d", self.horizon);
        let body: DailyBody = self
            .get(&path, &[("location", location), ("lang", "zh"), ("unit", "m")])
            .await?;
        check_code(&body.code)?;
        Ok(body.daily)
    }

    async fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, &str)]) -> Result<T, ProviderError> {
        let request = self
            .http
            .get(format!("{}{path}", self.base))
            .header("X-QW-Api-Key", self.key.expose())
            .query(query);
        let http::Answer { status, headers, text } = http::send(NAME, request).await?;
        if !status.is_success() {
            return Err(match serde_json::from_str::<V2ErrorBody>(&text) {
                Ok(body) => classify_v2(status, &headers, body.error),
                Err(_) => {
                    http::from_status(NAME, status, &headers, &text).unwrap_or_else(|| http::garbage_text(NAME, &text))
                }
            });
        }
        serde_json::from_str(&text).map_err(|e| http::garbage(NAME, &e))
    }
}

/// v1 error codes, sent with HTTP 200.
fn check_code(code: &str) -> Result<(), ProviderError> {
    let message = |what: &str| format!("code {code}: {what}");
    let provider = NAME.to_string();
    match code {
        "200" => Ok(()),
        "402" => Err(ProviderError::RateLimited {
            provider,
            message: message("over quota or out of balance"),
            retry_after: None,
        }),
        "429" => Err(ProviderError::RateLimited {
            provider,
            message: message("too many requests"),
            retry_after: None,
        }),
        "500" => Err(ProviderError::Transient {
            provider,
            message: message("upstream error or timeout"),
        }),
        "204" => Err(ProviderError::Permanent {
            provider,
            message: message("no data for this location"),
        }),
        "401" => Err(ProviderError::Permanent {
            provider,
            message: message("authentication failed: check QWEATHER_API_KEY"),
        }),
        other => Err(ProviderError::Permanent {
            provider,
            message: format!("code {other}: request refused"),
        }),
    }
}

/// v2 errors: an HTTP status with an error object.
fn classify_v2(status: StatusCode, headers: &reqwest::header::HeaderMap, error: V2Error) -> ProviderError {
    let status = error
        .status
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(status);
    let message = format!("HTTP {} {}: {}", status.as_u16(), error.title, error.detail);
    let provider = NAME.to_string();
    let quota = ["no-credit", "overdue", "over-free-daily-limit", "over-monthly-limit"]
        .iter()
        .any(|k| error.kind.ends_with(k));
    if status == StatusCode::TOO_MANY_REQUESTS || quota {
        ProviderError::RateLimited {
            provider,
            message,
            retry_after: http::retry_after(headers),
        }
    } else if status.is_server_error() {
        ProviderError::Transient { provider, message }
    } else {
        ProviderError::Permanent { provider, message }
    }
}

fn to_day(d: &Daily) -> DayWeather {
    let precip = d.precip.unwrap_or(0.0);
    let wind = d.wind_dir_day.as_ref().map(|dir| {
        let scale = d
            .wind_scale_day
            .as_deref()
            .map(|s| format!(" {s}级"))
            .unwrap_or_default();
        let speed = d.wind_speed_day.map(|s| format!(" ({s:.0} km/h)")).unwrap_or_default();
        format!("{dir}{scale}{speed}")
    });
    DayWeather {
        date: d.fx_date.clone(),
        condition: d.text_day.clone(),
        temp_min: d.temp_min.unwrap_or(0.0),
        temp_max: d.temp_max.unwrap_or(0.0),
        precip_mm: precip,
        rainy: d.text_day.contains('雨') || d.text_day.contains('雪') || precip >= 1.0,
        wind,
        source: NAME.into(),
    }
}

#[async_trait]
impl WeatherProvider for QWeather {
    fn name(&self) -> &str {
        NAME
    }

    async fn forecast(&self, city: &City, start: NaiveDate, days: u32) -> Result<Vec<DayWeather>, ProviderError> {
        let dates: Vec<NaiveDate> = (0..days)
            .map(|i| start + chrono::Duration::days(i64::from(i)))
            .collect();
        let horizon_end = chrono::Local::now().date_naive() + chrono::Duration::days(i64::from(self.horizon) - 1);
        let forecast: HashMap<String, DayWeather> = if start <= horizon_end {
            let location = self.location_id(city).await?;
            self.daily(&location)
                .await?
                .iter()
                .map(|d| (d.fx_date.clone(), to_day(d)))
                .collect()
        } else {
            HashMap::new()
        };
        Ok(dates
            .into_iter()
            .map(|date| {
                forecast
                    .get(&date.to_string())
                    .cloned()
                    .unwrap_or_else(|| embedded_weather::day(city, date))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_codes_are_classified() {
        assert!(check_code("200").is_ok());
        assert!(matches!(check_code("402"), Err(ProviderError::RateLimited { .. })));
        assert!(matches!(check_code("429"), Err(ProviderError::RateLimited { .. })));
        assert!(matches!(check_code("500"), Err(ProviderError::Transient { .. })));
        for code in ["204", "400", "401", "403", "404"] {
            assert!(
                matches!(check_code(code), Err(ProviderError::Permanent { .. })),
                "{code}"
            );
        }
    }
}
