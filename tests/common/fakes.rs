//! Loopback fakes of the live upstreams, speaking their documented formats from the samples
//! in `tests/fixtures/`: QWeather (GeoAPI lookup, daily forecast; gzip bodies, numbers as
//! strings, v1 `code` and v2 error objects), Amap (place/text, geocode, distance; `status`,
//! `infocode`, `[]` for missing values) and an OpenAI chat-completions server (JSON-schema
//! answers scripted by the test, errors, 429). Each records the calls it received, and
//! each can be told to fail its next calls with a given status and error sample.

use std::{
    collections::{HashMap, VecDeque},
    io::Write,
    path::Path,
    sync::{Arc, Mutex},
};

use axum::{
    Router,
    body::Bytes,
    extract::{Path as UrlPath, Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};

pub const QWEATHER_KEY: &str = "qw-test-key";
pub const AMAP_KEY: &str = "amap-test-key";
pub const OPENAI_KEY: &str = "openai-test-key";
pub const OPENAI_MODEL: &str = "fake-model";

pub fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[derive(Debug, Clone)]
pub struct Call {
    pub path: String,
    pub query: HashMap<String, String>,
    pub headers: HeaderMap,
    pub body: Value,
}

#[derive(Clone, Default)]
struct Shared {
    calls: Arc<Mutex<Vec<Call>>>,
    /// Answers to give instead of the normal ones, first in first out: (status, fixture).
    failures: Arc<Mutex<VecDeque<(u16, String)>>>,
    /// Paths that answer every call with (status, fixture).
    refused: Arc<Mutex<HashMap<String, (u16, String)>>>,
    responder: Option<Responder>,
}

impl Shared {
    fn record(&self, path: &str, query: HashMap<String, String>, headers: &HeaderMap, body: Value) {
        self.calls.lock().unwrap().push(Call {
            path: path.to_string(),
            query,
            headers: headers.clone(),
            body,
        });
    }

    fn next_failure(&self, path: &str) -> Option<Response> {
        let refusal = self.refused.lock().unwrap().get(path).cloned();
        let (status, name) = refusal.or_else(|| self.failures.lock().unwrap().pop_front())?;
        Some(json_response(
            StatusCode::from_u16(status).unwrap(),
            &fixture(&name),
            false,
        ))
    }
}

pub struct Fake {
    pub url: String,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Fake {
    async fn start(router: Router<Shared>, shared: Shared) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = router.with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, shared, task }
    }

    pub fn calls(&self) -> Vec<Call> {
        self.shared.calls.lock().unwrap().clone()
    }

    /// Calls whose path starts with `prefix`.
    pub fn count(&self, prefix: &str) -> usize {
        self.calls().iter().filter(|c| c.path.starts_with(prefix)).count()
    }

    /// Every call to `path` from now on gets this status and the body of this fixture.
    pub fn refuse(&self, path: &str, status: u16, fixture: &str) {
        self.shared
            .refused
            .lock()
            .unwrap()
            .insert(path.to_string(), (status, fixture.to_string()));
    }

    /// The next call gets this status and the body of this fixture.
    pub fn fail_next(&self, status: u16, fixture: &str) {
        self.shared
            .failures
            .lock()
            .unwrap()
            .push_back((status, fixture.to_string()));
    }
}

fn json_response(status: StatusCode, body: &Value, gzip: bool) -> Response {
    let bytes = serde_json::to_vec(body).unwrap();
    if gzip {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(&bytes).unwrap();
        let compressed = encoder.finish().unwrap();
        (
            status,
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CONTENT_ENCODING, "gzip"),
            ],
            compressed,
        )
            .into_response()
    } else {
        (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response()
    }
}

// ---- QWeather -------------------------------------------------------------------------

pub async fn qweather() -> Fake {
    let router = Router::new()
        .route("/geo/v2/city/lookup", get(qweather_lookup))
        .route("/v7/weather/{days}", get(qweather_daily));
    Fake::start(router, Shared::default()).await
}

fn qweather_gate(shared: &Shared, path: &str, query: HashMap<String, String>, headers: &HeaderMap) -> Option<Response> {
    shared.record(path, query, headers, Value::Null);
    if let Some(failure) = shared.next_failure(path) {
        return Some(failure);
    }
    let key = headers.get("X-QW-Api-Key").and_then(|v| v.to_str().ok());
    (key != Some(QWEATHER_KEY)).then(|| {
        json_response(
            StatusCode::UNAUTHORIZED,
            &fixture("qweather/error_v2_401_unauthorized.json"),
            false,
        )
    })
}

fn gzip_accepted(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("gzip"))
}

async fn qweather_lookup(
    State(shared): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let location = query.get("location").cloned().unwrap_or_default();
    if let Some(refused) = qweather_gate(&shared, "/geo/v2/city/lookup", query, &headers) {
        return refused;
    }
    let body = if location == "杭州" {
        fixture("qweather/city_lookup_hangzhou.json")
    } else {
        json!({"code": "404"})
    };
    json_response(StatusCode::OK, &body, gzip_accepted(&headers))
}

async fn qweather_daily(
    State(shared): State<Shared>,
    UrlPath(days): UrlPath<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let location = query.get("location").cloned().unwrap_or_default();
    if let Some(refused) = qweather_gate(&shared, &format!("/v7/weather/{days}"), query, &headers) {
        return refused;
    }
    if location != "101210101" {
        return json_response(StatusCode::OK, &json!({"code": "404"}), false);
    }
    let count: usize = days.trim_end_matches('d').parse().unwrap_or(3);
    let mut body = fixture("qweather/weather_7d_hangzhou.json");
    let sample = body["daily"].as_array().cloned().unwrap_or_default();
    // The sample's days, dated from today as the live service would.
    let today = chrono::Local::now().date_naive();
    let daily: Vec<Value> = (0..count)
        .map(|i| {
            let mut day = sample[i % sample.len()].clone();
            day["fxDate"] = json!((today + chrono::Duration::days(i as i64)).to_string());
            day
        })
        .collect();
    body["daily"] = json!(daily);
    json_response(StatusCode::OK, &body, gzip_accepted(&headers))
}

// ---- Amap -----------------------------------------------------------------------------

pub async fn amap() -> Fake {
    let router = Router::new()
        .route("/v3/place/text", get(amap_place_text))
        .route("/v3/geocode/geo", get(amap_geocode))
        .route("/v3/distance", get(amap_distance));
    Fake::start(router, Shared::default()).await
}

fn amap_gate(shared: &Shared, path: &str, query: &HashMap<String, String>, headers: &HeaderMap) -> Option<Response> {
    shared.record(path, query.clone(), headers, Value::Null);
    if let Some(failure) = shared.next_failure(path) {
        return Some(failure);
    }
    (query.get("key").map(String::as_str) != Some(AMAP_KEY))
        .then(|| json_response(StatusCode::OK, &fixture("amap/error_invalid_user_key.json"), false))
}

async fn amap_place_text(
    State(shared): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = amap_gate(&shared, "/v3/place/text", &query, &headers) {
        return refused;
    }
    let types = query.get("types").cloned().unwrap_or_default();
    let city = query.get("city").cloned().unwrap_or_default();
    let name = if types.starts_with("110000") {
        "attractions"
    } else if types.starts_with("050000") {
        "restaurants"
    } else {
        "hotels"
    };
    let body = if city == "杭州" {
        fixture(&format!("amap/place_text_{name}.json"))
    } else {
        json!({"status": "1", "count": "0", "info": "OK", "infocode": "10000", "pois": []})
    };
    json_response(StatusCode::OK, &body, false)
}

async fn amap_geocode(
    State(shared): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = amap_gate(&shared, "/v3/geocode/geo", &query, &headers) {
        return refused;
    }
    json_response(StatusCode::OK, &fixture("amap/geocode.json"), false)
}

async fn amap_distance(
    State(shared): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = amap_gate(&shared, "/v3/distance", &query, &headers) {
        return refused;
    }
    let point = |raw: &str| -> Option<(f64, f64)> {
        let (lng, lat) = raw.split_once(',')?;
        Some((lng.parse().ok()?, lat.parse().ok()?))
    };
    let origins: Vec<Option<(f64, f64)>> = query
        .get("origins")
        .map(|o| o.split('|').map(point).collect())
        .unwrap_or_default();
    let destination = query.get("destination").and_then(|d| point(d));
    let mut body = fixture("amap/distance.json");
    let sample = body["results"][0].clone();
    // Each route measured from the coordinates, the way the sample spells it (numbers as
    // strings); an origin it cannot read gets no route, like Amap's per-pair failures.
    let results: Vec<Value> = origins
        .iter()
        .enumerate()
        .filter_map(|(i, origin)| {
            let road = fake_road(origin.as_ref()?, destination.as_ref()?);
            let mut r = sample.clone();
            r["origin_id"] = json!((i + 1).to_string());
            r["distance"] = json!(format!("{:.0}", road.0));
            r["duration"] = json!(format!("{:.0}", road.1));
            Some(r)
        })
        .collect();
    body["count"] = json!(results.len().to_string());
    body["results"] = json!(results);
    json_response(StatusCode::OK, &body, false)
}

/// The fake's road between two (lng, lat) points: metres and seconds. Its roads wind more
/// than the planner's estimate (1.6 × the straight line against 1.3) and its traffic is
/// slower than the estimate's taxi, so a plan built on them is told apart from one built
/// on estimates.
pub fn fake_road(from: &(f64, f64), to: &(f64, f64)) -> (f64, f64) {
    let (lat1, lat2) = (from.1.to_radians(), to.1.to_radians());
    let (dlat, dlng) = ((to.1 - from.1).to_radians(), (to.0 - from.0).to_radians());
    let a = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlng / 2.0).sin().powi(2);
    let meters = (6_371_000.0 * 2.0 * a.sqrt().atan2((1.0 - a).sqrt()) * 1.6).round();
    (meters, (meters / 5.0).round())
}

// ---- OpenAI ---------------------------------------------------------------------------

/// What the fake LLM says to one request.
pub enum LlmReply {
    /// The assistant message's content.
    Content(String),
    /// An HTTP error with the body of this fixture.
    Error(u16, &'static str),
}

/// Decides the answer from the request body (the test reads the schema name, the messages).
pub type Responder = Arc<dyn Fn(&Value) -> LlmReply + Send + Sync>;

pub async fn openai(responder: Responder) -> Fake {
    let router = Router::new().route("/v1/chat/completions", post(openai_chat));
    let shared = Shared {
        responder: Some(responder),
        ..Shared::default()
    };
    let mut fake = Fake::start(router, shared).await;
    // Clients are given the API base, as with api.openai.com/v1.
    fake.url.push_str("/v1");
    fake
}

async fn openai_chat(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    shared.record("/v1/chat/completions", HashMap::new(), &headers, request.clone());
    if let Some(failure) = shared.next_failure("/v1/chat/completions") {
        return failure;
    }
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if auth != Some(&format!("Bearer {OPENAI_KEY}")) {
        return json_response(
            StatusCode::UNAUTHORIZED,
            &fixture("openai/error_401_invalid_api_key.json"),
            false,
        );
    }
    let responder = shared.responder.clone().expect("an OpenAI fake has a responder");
    match responder(&request) {
        LlmReply::Content(content) => {
            let mut reply = fixture("openai/chat_completion.json");
            reply["model"] = request["model"].clone();
            reply["choices"][0]["message"]["content"] = json!(content);
            json_response(StatusCode::OK, &reply, false)
        }
        LlmReply::Error(status, name) => json_response(StatusCode::from_u16(status).unwrap(), &fixture(name), false),
    }
}

/// The schema name of a chat request: `trip_request` (understand) or `itinerary_selection` (draft).
pub fn schema_name(request: &Value) -> &str {
    request["response_format"]["json_schema"]["name"].as_str().unwrap_or("")
}

/// The text of the request's last user message.
pub fn last_user_message(request: &Value) -> String {
    request["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or("")
        .to_string()
}
