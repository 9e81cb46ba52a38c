//! Each live provider against its loopback fake (`common::fakes`, samples in
//! `tests/fixtures/`): QWeather and Amap happy paths and error classification, and the MCP
//! weather server answering from QWeather over stdio and streamable HTTP.

mod common;

use std::time::Duration;

use chrono::Local;
use common::fakes::{self, AMAP_KEY, QWEATHER_KEY};
use planner::{
    catalog,
    config::Secret,
    domain::{Place, PlaceKind},
    providers::{PlacesProvider, ProviderError, WeatherProvider, amap::Amap, amap::LngLat, qweather::QWeather},
    resilience::{Policy, Resilience},
};
use rmcp::{
    RoleClient, ServiceExt,
    model::CallToolRequestParams,
    service::RunningService,
    transport::{StreamableHttpClientTransport, TokioChildProcess},
};
use serde_json::{Value, json};

fn qweather(url: &str) -> QWeather {
    QWeather::new(Secret(QWEATHER_KEY.into()), url, 7, Duration::from_secs(5)).unwrap()
}

fn amap(url: &str) -> Amap {
    Amap::new(Secret(AMAP_KEY.into()), url, Duration::from_secs(5)).unwrap()
}

fn quick_policy() -> Policy {
    Policy {
        retries: 2,
        backoff_min: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
        ..Policy::default()
    }
}

#[tokio::test]
async fn qweather_forecast_comes_from_the_geo_lookup_and_daily_forecast_with_normals_beyond_the_horizon() {
    let fake = fakes::qweather().await;
    let client = qweather(&fake.url);
    let city = catalog::city("hangzhou").unwrap();
    let today = Local::now().date_naive();

    let days = client
        .forecast(city, today + chrono::Duration::days(4), 4)
        .await
        .unwrap();
    assert_eq!(days.len(), 4);
    // Sample day 4: 中雨, tempMax "15", tempMin "8", precip "6.5", 南风 3-4 级 18 km/h.
    assert_eq!(days[0].date, (today + chrono::Duration::days(4)).to_string());
    assert_eq!(
        (
            days[0].condition.as_str(),
            days[0].temp_max,
            days[0].temp_min,
            days[0].precip_mm
        ),
        ("中雨", 15.0, 8.0, 6.5)
    );
    assert!(days[0].rainy);
    assert_eq!(days[0].wind.as_deref(), Some("南风 3-4级 (18 km/h)"));
    assert_eq!(days[1].source, "qweather");
    assert!(!days[1].rainy);
    // The forecast covers today..today+6; today+7 is past the horizon: climate normals.
    assert_eq!(days[2].source, "qweather");
    assert_eq!(days[3].source, "normals");
    assert_eq!(days[3].wind, None);

    let calls = fake.calls();
    assert_eq!(fake.count("/geo/v2/city/lookup"), 1);
    assert_eq!(fake.count("/v7/weather/7d"), 1);
    assert_eq!(calls[0].query["location"], "杭州");
    assert_eq!(calls[1].query["location"], "101210101");
    assert!(calls.iter().all(|c| c.headers["x-qw-api-key"] == QWEATHER_KEY));
    assert!(
        calls
            .iter()
            .all(|c| c.headers["accept-encoding"].to_str().unwrap().contains("gzip")),
        "gzip asked for (and the fake answered gzip-compressed bodies)"
    );

    // The LocationID is looked up once per process; a range past the horizon calls nothing.
    client.forecast(city, today, 2).await.unwrap();
    assert_eq!(fake.count("/geo/v2/city/lookup"), 1);
    let far = client
        .forecast(city, today + chrono::Duration::days(20), 3)
        .await
        .unwrap();
    assert!(far.iter().all(|d| d.source == "normals"));
    assert_eq!(fake.calls().len(), 3);

    // A wrong key is the v2 401 from the service.
    let wrong = QWeather::new(Secret("wrong".into()), &fake.url, 7, Duration::from_secs(5)).unwrap();
    let err = wrong.lookup("杭州").await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::Permanent { message, .. } if message.contains("401")),
        "{err}"
    );
}

#[tokio::test]
async fn qweather_error_codes_are_classified_and_only_transient_ones_retried() {
    let fake = fakes::qweather().await;
    let client = qweather(&fake.url);
    for (status, sample, expected) in [
        (401, "qweather/error_v2_401_unauthorized.json", "permanent"),
        (400, "qweather/error_v2_400_invalid_parameter.json", "permanent"),
        (429, "qweather/error_v2_429_over_free_daily_limit.json", "rate_limited"),
        (403, "qweather/error_v2_403_no_credit.json", "rate_limited"),
        (200, "qweather/error_v1_402_over_quota.json", "rate_limited"),
        (200, "qweather/error_v1_401.json", "permanent"),
        (200, "qweather/error_v1_500.json", "transient"),
    ] {
        fake.fail_next(status, sample);
        let err = client.lookup("杭州").await.unwrap_err();
        assert_eq!(err.outcome(), expected, "{sample}: {err}");
    }

    // Through the resilience policy: a bad key is tried once, an over-quota answer retried.
    let resilience = Resilience::new("weather", quick_policy());
    let before = fake.count("/geo");
    fake.fail_next(401, "qweather/error_v2_401_unauthorized.json");
    let err = resilience.call("lookup", || client.lookup("杭州")).await.unwrap_err();
    assert_eq!(err.outcome(), "permanent");
    assert_eq!(fake.count("/geo") - before, 1, "a 4xx is never retried");
    fake.fail_next(429, "qweather/error_v2_429_over_free_daily_limit.json");
    fake.fail_next(200, "qweather/error_v1_402_over_quota.json");
    let found = resilience.call("lookup", || client.lookup("杭州")).await.unwrap();
    assert_eq!(found.id, "101210101");
    assert_eq!(
        fake.count("/geo") - before,
        4,
        "two rate-limited tries, then the answer"
    );
}

#[tokio::test]
async fn amap_search_geocoding_and_distance_map_into_places() {
    let fake = fakes::amap().await;
    let client = amap(&fake.url);
    let city = catalog::city("hangzhou").unwrap();

    let places = client.places(city).await.unwrap();
    let attractions: Vec<_> = places.iter().filter(|p| p.kind == PlaceKind::Attraction).collect();
    let restaurants: Vec<_> = places.iter().filter(|p| p.kind == PlaceKind::Restaurant).collect();
    assert_eq!((attractions.len(), restaurants.len()), (15, 9));
    assert!(places.iter().all(|p| p.id.starts_with("amap:B0FFF")));
    // Ordered by rating, best first.
    let lingyin = attractions.iter().find(|p| p.name == "灵隐寺·飞来峰").unwrap();
    assert_eq!(lingyin.price, 75.0);
    assert_eq!((lingyin.opens, lingyin.closes), (7 * 60, 18 * 60));
    assert!(!lingyin.indoor);
    assert!(lingyin.has_tag("history") || lingyin.has_tag("culture"));
    // `location: []` in the sample: geocoded from its address.
    let leifeng = attractions.iter().find(|p| p.name == "雷峰塔").unwrap();
    assert_eq!((leifeng.lng, leifeng.lat), (120.1487, 30.2311));
    assert_eq!(fake.count("/v3/geocode/geo"), 1);
    // `cost: []`: the conservative default ticket; `open_time: []`: default hours.
    let hefang = attractions.iter().find(|p| p.name == "河坊街").unwrap();
    assert_eq!(hefang.price, 60.0);
    assert_eq!((hefang.opens, hefang.closes), (9 * 60, 22 * 60));
    let xihu = attractions.iter().find(|p| p.name == "西湖").unwrap();
    assert_eq!((xihu.price, xihu.opens, xihu.closes), (0.0, 8 * 60 + 30, 17 * 60 + 30));
    let museum = attractions.iter().find(|p| p.name.contains("浙江省博物馆")).unwrap();
    assert!(museum.indoor);
    assert!(museum.has_tag("history"));
    assert!(restaurants.iter().all(|r| r.has_tag("local") && r.minutes == 75));
    assert_eq!(restaurants.iter().find(|r| r.name == "奎元馆").unwrap().price, 45.0);

    let hotels = client.hotels(city).await.unwrap();
    assert_eq!(hotels.len(), 6);
    assert!(hotels.iter().all(|h| h.kind == PlaceKind::Hotel && h.minutes == 0));
    for tier in ["budget", "mid", "luxury"] {
        assert!(hotels.iter().any(|h| h.has_tag(tier)), "{tier}");
    }

    let routes = client
        .distance(&[LngLat(120.15, 30.24), LngLat(120.10, 30.24)], LngLat(120.16, 30.25))
        .await
        .unwrap();
    let expected: Vec<(f64, f64)> = [(120.15, 30.24), (120.10, 30.24)]
        .iter()
        .map(|from| fakes::fake_road(from, &(120.16, 30.25)))
        .collect();
    let got: Vec<(f64, f64)> = routes
        .iter()
        .map(|r| r.map(|r| (r.meters, r.seconds)).unwrap())
        .collect();
    assert_eq!(got, expected);
    // As roads between places: kilometres and whole minutes of driving, in the origins' order.
    let roads = client.roads_to(&hotels[..2], attractions[0]).await.unwrap();
    for (hotel, road) in hotels[..2].iter().zip(&roads) {
        let (meters, seconds) = fakes::fake_road(&(hotel.lng, hotel.lat), &(attractions[0].lng, attractions[0].lat));
        let road = road.expect("measured");
        assert_eq!(
            (road.km, road.drive_minutes),
            (meters / 1000.0, (seconds / 60.0).ceil() as u32)
        );
    }
    assert!(client.measures_roads());
    // More origins than one request may carry: asked in requests of 100, answered in order.
    let before = fake.count("/v3/distance");
    let many: Vec<Place> = (0..150)
        .map(|i| Place {
            lat: 30.20 + i as f64 * 0.001,
            ..attractions[i % attractions.len()].clone()
        })
        .collect();
    let roads = client.roads_to(&many, &hotels[0]).await.unwrap();
    assert_eq!(fake.count("/v3/distance") - before, 2);
    let last = fakes::fake_road(&(many[149].lng, many[149].lat), &(hotels[0].lng, hotels[0].lat));
    assert_eq!((roads.len(), roads[149].map(|r| r.km)), (150, Some(last.0 / 1000.0)));

    let searches: Vec<_> = fake
        .calls()
        .into_iter()
        .filter(|c| c.path == "/v3/place/text")
        .collect();
    assert_eq!(searches.len(), 3);
    for c in &searches {
        assert_eq!(c.query["key"], AMAP_KEY);
        assert_eq!(c.query["city"], "杭州");
        assert_eq!(c.query["citylimit"], "true");
    }
    let distance = fake.calls().into_iter().find(|c| c.path == "/v3/distance").unwrap();
    assert_eq!(distance.query["origins"], "120.150000,30.240000|120.100000,30.240000");
}

#[tokio::test]
async fn amap_status_and_infocode_errors_are_classified_and_quota_counts_as_rate_limiting() {
    let fake = fakes::amap().await;
    let client = amap(&fake.url);
    let city = catalog::city("hangzhou").unwrap();
    for (status, sample, expected) in [
        (200, "amap/error_invalid_user_key.json", "permanent"),
        (200, "amap/error_daily_query_over_limit.json", "rate_limited"),
        (200, "amap/error_cuqps_exceeded.json", "rate_limited"),
        (200, "amap/error_server_is_busy.json", "transient"),
        (503, "amap/error_server_is_busy.json", "transient"),
    ] {
        fake.fail_next(status, sample);
        let err = client.hotels(city).await.unwrap_err();
        assert_eq!(err.outcome(), expected, "{sample}: {err}");
    }
    let wrong = Amap::new(Secret("wrong".into()), &fake.url, Duration::from_secs(5)).unwrap();
    let err = wrong.hotels(city).await.unwrap_err();
    assert!(err.to_string().contains("INVALID_USER_KEY"), "{err}");

    let resilience = Resilience::new("maps", quick_policy());
    let before = fake.count("/v3");
    let err = resilience.call("hotels", || wrong.hotels(city)).await.unwrap_err();
    assert_eq!(err.outcome(), "permanent");
    assert_eq!(fake.count("/v3") - before, 1, "a bad key is never retried");
    fake.fail_next(200, "amap/error_daily_query_over_limit.json");
    let hotels = resilience.call("hotels", || client.hotels(city)).await.unwrap();
    assert_eq!(hotels.len(), 6);
    assert_eq!(fake.count("/v3") - before, 3, "over quota: retried as a rate limit");
}

fn args(value: Value) -> serde_json::Map<String, Value> {
    value.as_object().cloned().unwrap()
}

async fn forecast_over(client: &RunningService<RoleClient, ()>) -> Value {
    let today = Local::now().date_naive();
    let result = client
        .call_tool(CallToolRequestParams::new("get_forecast").with_arguments(args(json!({
            "city": "杭州",
            "start_date": (today + chrono::Duration::days(1)).to_string(),
            "end_date": (today + chrono::Duration::days(9)).to_string(),
        }))))
        .await
        .unwrap();
    assert_ne!(result.is_error, Some(true), "{result:?}");
    result.structured_content.unwrap()
}

fn assert_qweather_days(content: &Value) {
    assert_eq!(content["source"], "qweather");
    let days = content["days"].as_array().unwrap();
    assert_eq!(days.len(), 9);
    // Tomorrow..today+6 forecast, the rest climate normals.
    assert!(
        days[..6]
            .iter()
            .all(|d| d["source"] == "qweather" && d["wind"].is_string())
    );
    assert!(days[6..].iter().all(|d| d["source"] == "normals"));
    assert_eq!(days[3]["condition"], "中雨");
}

#[tokio::test]
async fn the_mcp_weather_server_answers_from_qweather_over_stdio_and_streamable_http() {
    let fake = fakes::qweather().await;
    let env = [
        ("QWEATHER_API_KEY", QWEATHER_KEY),
        ("QWEATHER_API_HOST", fake.url.as_str()),
    ];

    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_planner"));
    command.arg("weather-mcp").envs(env);
    let stdio = ().serve(TokioChildProcess::new(command).unwrap()).await.unwrap();
    let city = stdio
        .call_tool(CallToolRequestParams::new("lookup_city").with_arguments(args(json!({"name": "Hangzhou"}))))
        .await
        .unwrap()
        .structured_content
        .unwrap();
    assert_eq!(
        (&city["id"], &city["qweather"]["id"]),
        (&json!("hangzhou"), &json!("101210101"))
    );
    assert_qweather_days(&forecast_over(&stdio).await);
    // An upstream quota error is a tool error that says so, for the client to classify.
    fake.fail_next(429, "qweather/error_v2_429_over_free_daily_limit.json");
    let limited = stdio
        .call_tool(CallToolRequestParams::new("get_forecast").with_arguments(args(json!({
            "city": "hangzhou", "start_date": Local::now().date_naive().to_string(),
            "end_date": Local::now().date_naive().to_string(),
        }))))
        .await
        .unwrap();
    assert_eq!(limited.is_error, Some(true));
    assert_eq!(limited.structured_content.unwrap()["kind"], "rate_limited");
    stdio.cancel().await.unwrap();

    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_planner"))
        .args(["weather-mcp", "--http", &addr])
        .envs(env)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://{addr}/mcp");
    let mut http = None;
    for _ in 0..100 {
        if let Ok(client) = ().serve(StreamableHttpClientTransport::from_uri(url.clone())).await {
            http = Some(client);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let http = http.expect("the HTTP server comes up");
    assert_qweather_days(&forecast_over(&http).await);
    http.cancel().await.unwrap();
    let _ = server.kill();
    let _ = server.wait();
    assert!(fake.count("/v7/weather/7d") >= 3);
}
