//! Amap (高德) web service: POI text search for attractions, restaurants and hotels by city
//! and keywords, geocoding, and driving distance/duration between places. Amap answers
//! HTTP 200 for everything; `status` "0" and an `infocode` say what went wrong, and a field
//! with no value is an empty array instead of a string.
//!
//! POIs become our `Place`: `location` "lng,lat" (geocoded from the address when missing),
//! price from `biz_ext.cost` (hotels: `lowest_price`), hours from `biz_ext.open_time`,
//! indoor and interest tags from the POI type. What Amap does not say (ticket prices,
//! typical visit length) gets a conservative default, so budgets are not understated.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::Value;

use crate::{
    config::Secret,
    domain::{City, Place, PlaceKind, Road, clock::parse_clock},
    providers::{PlacesProvider, ProviderError, http, lenient},
};

const NAME: &str = "amap";
/// POIs per search page (Amap's maximum is 25).
const PAGE_SIZE: &str = "25";
/// Origins one distance request may carry.
const MAX_ORIGINS: usize = 100;

pub struct Amap {
    http: reqwest::Client,
    base: String,
    key: Secret,
}

#[derive(Debug, Deserialize)]
struct Status {
    #[serde(default, deserialize_with = "lenient::text")]
    status: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    info: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    infocode: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PoiBody {
    #[serde(default)]
    pois: Vec<Poi>,
}

#[derive(Debug, Deserialize)]
struct Poi {
    #[serde(deserialize_with = "lenient::text")]
    id: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    name: Option<String>,
    #[serde(default, rename = "type", deserialize_with = "lenient::text")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    typecode: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    address: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    location: Option<String>,
    #[serde(default)]
    biz_ext: Value,
}

#[derive(Debug, Deserialize)]
struct GeocodeBody {
    #[serde(default)]
    geocodes: Vec<Geocode>,
}

#[derive(Debug, Deserialize)]
struct Geocode {
    #[serde(default, deserialize_with = "lenient::text")]
    location: Option<String>,
}

#[derive(Debug, Deserialize)]
struct DistanceBody {
    #[serde(default)]
    results: Vec<DistanceResult>,
}

#[derive(Debug, Deserialize)]
struct DistanceResult {
    /// 1-based position among the origins.
    #[serde(default, deserialize_with = "lenient::number")]
    origin_id: Option<f64>,
    #[serde(default, deserialize_with = "lenient::number")]
    distance: Option<f64>,
    #[serde(default, deserialize_with = "lenient::number")]
    duration: Option<f64>,
}

/// A point as Amap writes it: longitude first.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LngLat(pub f64, pub f64);

impl LngLat {
    fn parse(raw: &str) -> Option<Self> {
        let (lng, lat) = raw.split_once(',')?;
        Some(Self(lng.trim().parse().ok()?, lat.trim().parse().ok()?))
    }

    fn render(self) -> String {
        format!("{:.6},{:.6}", self.0, self.1)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Route {
    pub meters: f64,
    pub seconds: f64,
}

/// What to search for, per kind of place: Amap POI type codes and a keyword.
fn search_terms(kind: PlaceKind) -> (&'static str, &'static str) {
    match kind {
        // 风景名胜 | 博物馆 | 展览馆 | 美术馆
        PlaceKind::Attraction => ("景点", "110000|140100|140200|140400"),
        PlaceKind::Restaurant => ("美食", "050000"),
        PlaceKind::Hotel => ("酒店", "100100"),
    }
}

impl Amap {
    pub fn new(key: Secret, base_url: &str, timeout: Duration) -> reqwest::Result<Self> {
        Ok(Self {
            http: http::client(timeout)?,
            base: base_url.trim().trim_end_matches('/').to_string(),
            key,
        })
    }

    /// POI text search in `city` (Chinese name) for one kind of place, best rated first.
    pub async fn search(&self, city: &City, kind: PlaceKind) -> Result<Vec<Place>, ProviderError> {
        let (keywords, types) = search_terms(kind);
        let body: PoiBody = self
            .get(
                "/v3/place/text",
                &[
                    ("keywords", keywords),
                    ("types", types),
                    ("city", &city.name),
                    ("citylimit", "true"),
                    ("offset", PAGE_SIZE),
                    ("page", "1"),
                    ("extensions", "all"),
                ],
            )
            .await?;
        let mut places = Vec::new();
        for poi in body.pois {
            let point = match poi.location.as_deref().and_then(LngLat::parse) {
                Some(p) => Some(p),
                None => match &poi.address {
                    Some(address) => self.geocode(address, &city.name).await.ok(),
                    None => None,
                },
            };
            if let Some(place) = point.and_then(|p| to_place(&poi, kind, p))
                && !places.iter().any(|p: &(f64, Place)| p.1.id == place.1.id)
            {
                places.push(place);
            }
        }
        places.sort_by(|a, b| b.0.total_cmp(&a.0));
        Ok(places.into_iter().map(|(_, p)| p).collect())
    }

    /// Geocoding: the coordinates of an address within a city.
    pub async fn geocode(&self, address: &str, city: &str) -> Result<LngLat, ProviderError> {
        let body: GeocodeBody = self
            .get("/v3/geocode/geo", &[("address", address), ("city", city)])
            .await?;
        body.geocodes
            .first()
            .and_then(|g| g.location.as_deref())
            .and_then(LngLat::parse)
            .ok_or_else(|| ProviderError::Permanent {
                provider: NAME.into(),
                message: format!("no geocode for {address:?} in {city}"),
            })
    }

    /// Driving distance and duration from each origin to the destination (at most
    /// `MAX_ORIGINS`), in the origins' order; `None` where Amap gave no route for an origin.
    pub async fn distance(&self, origins: &[LngLat], destination: LngLat) -> Result<Vec<Option<Route>>, ProviderError> {
        let count = origins.len();
        let origins: Vec<String> = origins.iter().map(|o| o.render()).collect();
        let body: DistanceBody = self
            .get(
                "/v3/distance",
                &[
                    ("origins", &origins.join("|")),
                    ("destination", &destination.render()),
                    ("type", "1"),
                ],
            )
            .await?;
        Ok(in_origin_order(&body.results, count))
    }

    async fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, &str)]) -> Result<T, ProviderError> {
        let request = self
            .http
            .get(format!("{}{path}", self.base))
            .query(&[("key", self.key.expose()), ("output", "JSON")])
            .query(query);
        let http::Answer { status, headers, text } = http::send(NAME, request).await?;
        if let Some(e) = http::from_status(NAME, status, &headers, &text) {
            return Err(e);
        }
        let head: Status = serde_json::from_str(&text).map_err(|e| http::garbage(NAME, &e))?;
        if head.status.as_deref() != Some("1") {
            return Err(classify(
                head.infocode.as_deref().unwrap_or(""),
                head.info.as_deref().unwrap_or("unknown error"),
            ));
        }
        serde_json::from_str(&text).map_err(|e| http::garbage(NAME, &e))
    }
}

/// Results placed by their `origin_id` (Amap may leave out an origin it could not route).
fn in_origin_order(results: &[DistanceResult], origins: usize) -> Vec<Option<Route>> {
    let mut routes = vec![None; origins];
    for (position, r) in results.iter().enumerate() {
        let index = r.origin_id.map_or(position, |id| (id as usize).saturating_sub(1));
        if let (Some(slot), Some(meters), Some(seconds)) = (routes.get_mut(index), r.distance, r.duration) {
            *slot = Some(Route { meters, seconds });
        }
    }
    routes
}

/// Amap's `infocode` → our error classes. Quotas and QPS limits are rate limiting; engine
/// and gateway trouble is transient; a bad key, bad parameters or missing rights are not
/// worth retrying.
pub fn classify(infocode: &str, info: &str) -> ProviderError {
    let provider = NAME.to_string();
    let message = format!("infocode {infocode} {info}");
    match infocode {
        "10003" | "10004" | "10010" | "10014" | "10019" | "10020" | "10021" | "10029" | "10044" | "10045" => {
            ProviderError::RateLimited {
                provider,
                message,
                retry_after: None,
            }
        }
        "10015" | "10016" | "10017" | "20003" => ProviderError::Transient { provider, message },
        code if code.starts_with('3') && code.len() == 5 => ProviderError::Transient { provider, message },
        _ => ProviderError::Permanent { provider, message },
    }
}

/// A POI as a `Place`, with its rating for ordering; `None` when it lacks an id or a name.
fn to_place(poi: &Poi, kind: PlaceKind, at: LngLat) -> Option<(f64, Place)> {
    let kind_text = poi.kind.clone().unwrap_or_default();
    let typecode = poi.typecode.clone().unwrap_or_default();
    let ext = |k: &str| poi.biz_ext.get(k).and_then(lenient::as_number);
    let rating = ext("rating").unwrap_or(0.0);
    let hours = ["open_time", "opentime2", "opentime"]
        .iter()
        .find_map(|k| poi.biz_ext.get(*k).and_then(lenient::as_text))
        .and_then(|raw| parse_hours(&raw));
    let (price, minutes, default_hours) = match kind {
        PlaceKind::Attraction => (ext("cost").unwrap_or(60.0), 120, (8 * 60 + 30, 17 * 60 + 30)),
        PlaceKind::Restaurant => (ext("cost").unwrap_or(80.0), 75, (10 * 60 + 30, 21 * 60 + 30)),
        PlaceKind::Hotel => (ext("lowest_price").or(ext("cost")).unwrap_or(450.0), 0, (0, 24 * 60)),
    };
    let (opens, closes) = match kind {
        PlaceKind::Hotel => default_hours,
        _ => hours.unwrap_or(default_hours),
    };
    let indoor = match kind {
        PlaceKind::Attraction => typecode.starts_with("14") || typecode.starts_with("06"),
        _ => true,
    };
    Some((
        rating,
        Place {
            id: format!("amap:{}", poi.id.as_deref()?),
            name: poi.name.clone()?,
            kind,
            lat: at.1,
            lng: at.0,
            price,
            minutes,
            opens,
            closes,
            indoor,
            tags: tags(kind, &kind_text, price),
        },
    ))
}

/// "08:30-17:00", or the first range of "周一至周日 08:30-17:00;...".
fn parse_hours(raw: &str) -> Option<(u32, u32)> {
    let range = raw
        .split([';', '；', ' ', ','])
        .find(|part| part.contains('-') && part.contains(':'))?;
    let (open, close) = range.split_once('-')?;
    let (open, close) = (parse_clock(open.trim()).ok()?, parse_clock(close.trim()).ok()?);
    (open < close).then_some((open, close))
}

fn tags(kind: PlaceKind, type_text: &str, price: f64) -> Vec<String> {
    let mut tags: Vec<&str> = Vec::new();
    match kind {
        PlaceKind::Hotel => tags.push(if price < 350.0 {
            "budget"
        } else if price < 900.0 {
            "mid"
        } else {
            "luxury"
        }),
        PlaceKind::Restaurant => {
            tags.push("food");
            if type_text.contains("中餐") || type_text.contains("特色") {
                tags.push("local");
            }
        }
        PlaceKind::Attraction => {
            for (word, tag) in [
                ("风景名胜", "photography"),
                ("国家级景点", "culture"),
                ("省级景点", "culture"),
                ("公园", "nature"),
                ("植物园", "nature"),
                ("寺庙", "culture"),
                ("道观", "culture"),
                ("纪念馆", "history"),
                ("古迹", "history"),
                ("博物馆", "history"),
                ("博物馆", "culture"),
                ("美术馆", "art"),
                ("展览馆", "art"),
                ("动物园", "family"),
                ("步行街", "shopping"),
            ] {
                if type_text.contains(word) && !tags.contains(&tag) {
                    tags.push(tag);
                }
            }
        }
    }
    tags.into_iter().map(String::from).collect()
}

#[async_trait]
impl PlacesProvider for Amap {
    fn name(&self) -> &str {
        NAME
    }

    async fn places(&self, city: &City) -> Result<Vec<Place>, ProviderError> {
        let mut places = self.search(city, PlaceKind::Attraction).await?;
        places.extend(self.search(city, PlaceKind::Restaurant).await?);
        Ok(places)
    }

    async fn hotels(&self, city: &City) -> Result<Vec<Place>, ProviderError> {
        self.search(city, PlaceKind::Hotel).await
    }

    fn measures_roads(&self) -> bool {
        true
    }

    /// Driving distance and time; a pair Amap could not route (distance 0 between places
    /// apart, or no value) is left to the estimate.
    async fn roads_to(&self, origins: &[Place], to: &Place) -> Result<Vec<Option<Road>>, ProviderError> {
        let points: Vec<LngLat> = origins.iter().map(|o| LngLat(o.lng, o.lat)).collect();
        let mut routes = Vec::with_capacity(points.len());
        for some in points.chunks(MAX_ORIGINS) {
            routes.extend(self.distance(some, LngLat(to.lng, to.lat)).await?);
        }
        Ok(routes
            .into_iter()
            .map(|route| {
                route.filter(|r| r.meters > 0.0).map(|r| Road {
                    km: r.meters / 1000.0,
                    drive_minutes: (r.seconds / 60.0).ceil() as u32,
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_results_are_read_by_origin_id() {
        let body: DistanceBody = serde_json::from_value(serde_json::json!({
            "status": "1", "info": "OK", "infocode": "10000", "count": "2",
            "results": [
                {"origin_id": "3", "dest_id": "1", "distance": "7400", "duration": "1380"},
                {"origin_id": "1", "dest_id": "1", "distance": "5230", "duration": "960"},
                {"origin_id": "2", "dest_id": "1", "info": "未知错误", "code": "1", "distance": [], "duration": []}
            ]
        }))
        .unwrap();
        let routes = in_origin_order(&body.results, 3);
        assert_eq!(
            routes,
            [
                Some(Route {
                    meters: 5230.0,
                    seconds: 960.0
                }),
                None,
                Some(Route {
                    meters: 7400.0,
                    seconds: 1380.0
                }),
            ]
        );
    }

    #[test]
    fn infocodes_are_classified() {
        assert!(matches!(
            classify("10001", "INVALID_USER_KEY"),
            ProviderError::Permanent { .. }
        ));
        assert!(matches!(
            classify("20000", "INVALID_PARAMS"),
            ProviderError::Permanent { .. }
        ));
        for quota in ["10003", "10004", "10044", "10021"] {
            assert!(
                matches!(classify(quota, "x"), ProviderError::RateLimited { .. }),
                "{quota}"
            );
        }
        assert!(classify("10016", "SERVER_IS_BUSY").is_transient());
        assert!(classify("30001", "ENGINE_RESPONSE_DATA_ERROR").is_transient());
    }

    #[test]
    fn hours_parse_from_amap_text() {
        assert_eq!(parse_hours("08:30-17:00"), Some((510, 1020)));
        assert_eq!(
            parse_hours("周一至周日 09:00-21:30;节假日 08:00-22:00"),
            Some((540, 1290))
        );
        assert_eq!(parse_hours("全天开放"), None);
    }
}
