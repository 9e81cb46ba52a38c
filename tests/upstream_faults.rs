//! Upstream faults from a real HTTP server on loopback: 500s, hangs past the timeout, 429 with
//! Retry-After, garbage bodies. Plans run in an in-process worker whose providers call that
//! server through the resilience wrapper. Asserts what the operations guide asks: retries with
//! growing delays, breakers that open and close, degrade-or-wait per policy, no plan stuck,
//! and call counts that prove there is no retry amplification.

mod common;

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use axum::{
    Json, Router,
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
};
use chrono::NaiveDate;
use common::{in_days, migrated, wait_for};
use planner::{
    catalog,
    config::{self, Settings},
    domain::{City, DayWeather, Place, PlaceKind},
    providers::{PlacesProvider, ProviderError, WeatherProvider, embedded_weather, http},
    queue::{executor::Executor, worker},
    resilience::{OnOpen, Policy},
    store::{approval::Decision, plans},
    travel::sources::Sources,
};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, Clone, Copy)]
enum Fault {
    Status(u16),
    Hang(Duration),
    TooMany(u64),
    Garbage,
}

/// Faults to serve, per endpoint, before answering normally; and every request's time.
#[derive(Default)]
struct Upstream {
    faults: Mutex<std::collections::HashMap<&'static str, VecDeque<Fault>>>,
    always: Mutex<std::collections::HashMap<&'static str, Fault>>,
    log: Mutex<Vec<(&'static str, Instant)>>,
}

impl Upstream {
    fn script(&self, endpoint: &'static str, faults: &[Fault]) {
        self.faults
            .lock()
            .unwrap()
            .insert(endpoint, faults.iter().copied().collect());
    }
    fn always(&self, endpoint: &'static str, fault: Option<Fault>) {
        let mut always = self.always.lock().unwrap();
        match fault {
            Some(f) => always.insert(endpoint, f),
            None => always.remove(endpoint),
        };
    }
    fn calls(&self, endpoint: &str) -> Vec<Instant> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|(e, _)| *e == endpoint)
            .map(|(_, t)| *t)
            .collect()
    }
    async fn serve(&self, endpoint: &'static str, body: Value) -> Response {
        self.log.lock().unwrap().push((endpoint, Instant::now()));
        let scripted = self
            .faults
            .lock()
            .unwrap()
            .get_mut(endpoint)
            .and_then(|q| q.pop_front());
        let fault = scripted.or_else(|| self.always.lock().unwrap().get(endpoint).copied());
        match fault {
            None => Json(body).into_response(),
            Some(Fault::Status(code)) => (StatusCode::from_u16(code).unwrap(), "upstream trouble").into_response(),
            Some(Fault::Hang(d)) => {
                tokio::time::sleep(d).await;
                Json(body).into_response()
            }
            Some(Fault::TooMany(secs)) => {
                let mut h = HeaderMap::new();
                h.insert("retry-after", secs.to_string().parse().unwrap());
                (StatusCode::TOO_MANY_REQUESTS, h, "slow down").into_response()
            }
            Some(Fault::Garbage) => (
                StatusCode::OK,
                [("content-type", "application/json")],
                "{\"days\": [oops",
            )
                .into_response(),
        }
    }
}

#[derive(Deserialize)]
struct Q {
    city: String,
    start: Option<NaiveDate>,
    days: Option<u32>,
}

async fn start_upstream() -> (Arc<Upstream>, String) {
    let upstream = Arc::new(Upstream::default());
    let places_of = |city: &str, hotels: bool| -> Value {
        json!(
            catalog::places(city)
                .iter()
                .filter(|p| (p.kind == PlaceKind::Hotel) == hotels)
                .collect::<Vec<_>>()
        )
    };
    let app = Router::new()
        .route(
            "/forecast",
            get(|State(u): State<Arc<Upstream>>, Query(q): Query<Q>| async move {
                let city = catalog::city(&q.city).unwrap();
                let start = q.start.unwrap();
                let days: Vec<DayWeather> = (0..q.days.unwrap())
                    .map(|i| {
                        let mut d = embedded_weather::day(city, start + chrono::Duration::days(i as i64));
                        d.source = "upstream".into();
                        d
                    })
                    .collect();
                u.serve("forecast", json!(days)).await
            }),
        )
        .route(
            "/places",
            get(move |State(u): State<Arc<Upstream>>, Query(q): Query<Q>| async move {
                u.serve("places", places_of(&q.city, false)).await
            }),
        )
        .route(
            "/hotels",
            get(move |State(u): State<Arc<Upstream>>, Query(q): Query<Q>| async move {
                u.serve("hotels", places_of(&q.city, true)).await
            }),
        )
        .with_state(upstream.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (upstream, format!("http://{addr}"))
}

/// Clients of the fake upstream, mapping its answers with the product's HTTP classifier.
struct HttpUpstream {
    base: String,
    client: reqwest::Client,
}

impl HttpUpstream {
    async fn get<T: serde::de::DeserializeOwned>(&self, provider: &str, path: &str) -> Result<T, ProviderError> {
        let res = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .map_err(|e| http::from_reqwest(provider, &e))?;
        let (status, headers) = (res.status(), res.headers().clone());
        let body = res.text().await.map_err(|e| http::from_reqwest(provider, &e))?;
        if let Some(e) = http::from_status(provider, status, &headers, &body) {
            return Err(e);
        }
        serde_json::from_str(&body).map_err(|e| http::garbage(provider, &e))
    }
}

#[async_trait]
impl WeatherProvider for HttpUpstream {
    fn name(&self) -> &str {
        "upstream-weather"
    }
    async fn forecast(&self, city: &City, start: NaiveDate, days: u32) -> Result<Vec<DayWeather>, ProviderError> {
        self.get(
            "weather",
            &format!("/forecast?city={}&start={start}&days={days}", city.id),
        )
        .await
    }
}

#[async_trait]
impl PlacesProvider for HttpUpstream {
    fn name(&self) -> &str {
        "upstream-maps"
    }
    async fn places(&self, city: &City) -> Result<Vec<Place>, ProviderError> {
        self.get("maps", &format!("/places?city={}", city.id)).await
    }
    async fn hotels(&self, city: &City) -> Result<Vec<Place>, ProviderError> {
        self.get("maps", &format!("/hotels?city={}", city.id)).await
    }
}

fn quick_policy(upstream: config::Upstream) -> Policy {
    Policy {
        timeout: Duration::from_millis(500),
        retries: 2,
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_millis(400),
        breaker_window: 100,
        breaker_open: Duration::from_secs(2),
        breaker_probes: 1,
        ..upstream.default_policy()
    }
}

struct Harness {
    upstream: Arc<Upstream>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    worker: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Harness {
    async fn start(pool: &PgPool, weather: Policy, maps: Policy) -> Self {
        Self::start_with(pool, weather, maps, false).await
    }

    async fn start_with(pool: &PgPool, weather: Policy, maps: Policy, approval_on_degraded: bool) -> Self {
        migrated(pool).await;
        let (upstream, base) = start_upstream().await;
        let mut settings = Settings::for_database("postgres://unused").expect("settings from the environment");
        settings.worker_concurrency = 2;
        settings.approval_on_degraded = approval_on_degraded;
        settings.queue.retry_base = Duration::from_millis(1000);
        settings.queue.poll_interval = Duration::from_millis(200);
        settings.resilience.insert(config::Upstream::Weather, weather);
        settings.resilience.insert(config::Upstream::Maps, maps);
        let client = || {
            Arc::new(HttpUpstream {
                base: base.clone(),
                client: http::client(Duration::from_secs(10)).unwrap(),
            })
        };
        let providers = Sources::guarded(client(), client(), &settings);
        let runner = Executor::new(pool.clone(), &settings, providers);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let pool = pool.clone();
        let worker = tokio::spawn(async move {
            worker::run(pool, runner, &settings, async move {
                let _ = rx.await;
            })
            .await
        });
        Self {
            upstream,
            stop: Some(tx),
            worker,
        }
    }

    async fn stop(mut self) {
        let _ = self.stop.take().map(|tx| tx.send(()));
        let _ = tokio::time::timeout(Duration::from_secs(20), self.worker).await;
    }
}

async fn create(pool: &PgPool, city: &str, days: i64) -> Uuid {
    common::create_plan(
        pool,
        &json!({"destination": city, "start_date": in_days(3), "days": days}),
        5,
    )
    .await
}

fn gaps(times: &[Instant]) -> Vec<Duration> {
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

#[sqlx::test(migrations = false)]
async fn a_weather_outage_opens_the_breaker_and_plans_degrade_without_amplification(pool: PgPool) {
    let weather = Policy {
        breaker_window: 4,
        breaker_open: Duration::from_secs(60),
        ..quick_policy(config::Upstream::Weather)
    };
    assert_eq!(weather.on_open, OnOpen::Degrade);
    let h = Harness::start(&pool, weather, quick_policy(config::Upstream::Maps)).await;
    h.upstream.always("forecast", Some(Fault::Status(500)));
    // One plan alone first, so that its tries are the first calls the upstream sees.
    let first = create(&pool, "杭州", 2).await;
    wait_for(&pool, first, Duration::from_secs(30), |s, _| s == "succeeded").await;
    let mut ids = vec![first];
    for i in 1..8 {
        ids.push(create(&pool, ["杭州", "成都"][i % 2], 2).await);
    }
    for id in &ids {
        let (status, attempts) = wait_for(&pool, *id, Duration::from_secs(60), |s, _| {
            s != "queued" && s != "running"
        })
        .await;
        assert_eq!((status.as_str(), attempts), ("succeeded", 1), "plan {id}");
        let result = common::result_of(&pool, *id).await;
        let warnings = result["warnings"].to_string();
        assert!(
            warnings.contains("weather") && warnings.contains("已改用内置数据"),
            "{warnings}"
        );
        assert_eq!(result["sources"][0]["provider"], "embedded");
        assert_eq!(result["sources"][1]["provider"], "upstream-maps");
    }
    let calls = h.upstream.calls("forecast");
    println!("weather upstream calls for 8 plans: {}", calls.len());
    // Without a breaker: 8 plans × 3 tries = 24. With it: the window of 4, plus at most the
    // tries already in flight from the second concurrent plan.
    assert!(calls.len() <= 6, "{} calls: the breaker did not stop them", calls.len());
    // The first plan's three tries came with growing delays.
    let g = gaps(&calls[..3]);
    assert!(
        g[0] >= Duration::from_millis(50) && g[1] >= Duration::from_millis(100) && g[1] >= g[0],
        "{g:?}"
    );
    h.stop().await;
}

#[sqlx::test(migrations = false)]
async fn a_maps_outage_makes_plans_wait_for_the_breaker_without_spending_attempts(pool: PgPool) {
    let maps = Policy {
        retries: 1,
        breaker_window: 2,
        breaker_open: Duration::from_secs(2),
        ..quick_policy(config::Upstream::Maps)
    };
    assert_eq!(maps.on_open, OnOpen::Wait);
    let h = Harness::start(&pool, quick_policy(config::Upstream::Weather), maps).await;
    h.upstream.always("places", Some(Fault::Status(503)));
    h.upstream.always("hotels", Some(Fault::Status(503)));
    let id = create(&pool, "西安", 3).await;
    // It waits for the breaker: queued again, its attempt handed back.
    let start = Instant::now();
    loop {
        let waits: i64 =
            sqlx::query_scalar("SELECT count(*) FROM plan_events WHERE plan_id = $1 AND kind = 'waiting_for_upstream'")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap();
        if waits > 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "never waited for the breaker"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, attempts) = common::status(&pool, id).await;
    assert_eq!(status, "queued");
    let calls_while_open = h.upstream.calls("places").len() + h.upstream.calls("hotels").len();
    // The upstream recovers; the half-open probe succeeds and the plan goes on.
    h.upstream.always("places", None);
    h.upstream.always("hotels", None);
    let (status, final_attempts) = wait_for(&pool, id, Duration::from_secs(60), |s, _| {
        s != "queued" && s != "running"
    })
    .await;
    assert_eq!(status, "succeeded");
    // Attempt 1 failed on exhausted retries (spent); waiting on the open breaker spent nothing.
    assert_eq!(final_attempts, attempts + 1, "waiting for the breaker spent an attempt");
    assert!(final_attempts <= 2, "{final_attempts}");
    println!("maps calls during the outage: {calls_while_open}");
    // Attempt 1: two tries each for places and hotels at most, fewer once the breaker opens;
    // a later attempt may catch the breaker half-open and send its probes (one per node).
    // Without the breaker every attempt would send four.
    assert!(calls_while_open <= 6, "{calls_while_open} calls during the outage");
    h.stop().await;
}

#[sqlx::test(migrations = false)]
async fn hangs_garbage_and_rate_limits_are_retried_and_retry_after_is_honoured(pool: PgPool) {
    let h = Harness::start(
        &pool,
        Policy {
            retries: 3,
            ..quick_policy(config::Upstream::Weather)
        },
        quick_policy(config::Upstream::Maps),
    )
    .await;
    h.upstream.script(
        "forecast",
        &[Fault::Hang(Duration::from_secs(3)), Fault::Garbage, Fault::TooMany(1)],
    );
    let id = create(&pool, "南京", 2).await;
    let (status, attempts) = wait_for(&pool, id, Duration::from_secs(30), |s, _| {
        s != "queued" && s != "running"
    })
    .await;
    assert_eq!((status.as_str(), attempts), ("succeeded", 1));
    let result = common::result_of(&pool, id).await;
    assert_eq!(
        result["sources"][0]["provider"], "upstream-weather",
        "not degraded: the fourth try succeeded"
    );
    assert_eq!(result["warnings"], json!([]));
    let calls = h.upstream.calls("forecast");
    assert_eq!(calls.len(), 4, "hang, garbage, 429, then the answer");
    let g = gaps(&calls);
    assert!(
        g[0] >= Duration::from_millis(500),
        "the hang was cut at the 500 ms timeout: {g:?}"
    );
    assert!(g[2] >= Duration::from_secs(1), "Retry-After: 1 was not honoured: {g:?}");
    h.stop().await;
}

#[sqlx::test(migrations = false)]
async fn a_node_failing_twice_succeeds_on_the_third_attempt_with_growing_waits(pool: PgPool) {
    // No fast retries and a breaker that never opens: each failure costs a plan attempt.
    let maps = Policy {
        retries: 0,
        ..quick_policy(config::Upstream::Maps)
    };
    let h = Harness::start(&pool, quick_policy(config::Upstream::Weather), maps).await;
    h.upstream.script("places", &[Fault::Status(500), Fault::Status(502)]);
    let id = create(&pool, "厦门", 2).await;
    let (status, attempts) = wait_for(&pool, id, Duration::from_secs(60), |s, _| {
        s != "queued" && s != "running"
    })
    .await;
    assert_eq!((status.as_str(), attempts), ("succeeded", 3));
    let started: Vec<f64> = sqlx::query_scalar(
        "SELECT extract(epoch FROM created_at)::float8 FROM plan_events WHERE plan_id = $1 AND kind = 'started' ORDER BY id",
    )
    .bind(id)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(started.len(), 3);
    let (w1, w2) = (started[1] - started[0], started[2] - started[1]);
    println!("waits between attempts: {w1:.2}s, {w2:.2}s");
    assert!(w1 >= 0.5 && w2 > w1, "waits did not grow: {w1:.2}s then {w2:.2}s");
    // Exactly one upstream call per attempt: no amplification between layers.
    assert_eq!(h.upstream.calls("places").len(), 3);
    // Nodes checkpointed before the failure ran once.
    let understood: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM plan_events WHERE plan_id = $1 AND kind = 'node_started' AND node = 'understand'",
    )
    .bind(id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(understood, 1);
    h.stop().await;
}

#[sqlx::test(migrations = false)]
async fn by_policy_a_plan_on_degraded_data_waits_for_approval(pool: PgPool) {
    let h = Harness::start_with(
        &pool,
        Policy {
            retries: 0,
            ..quick_policy(config::Upstream::Weather)
        },
        quick_policy(config::Upstream::Maps),
        true,
    )
    .await;
    h.upstream.always("forecast", Some(Fault::Status(500)));
    let id = create(&pool, "桂林", 2).await;
    wait_for(&pool, id, Duration::from_secs(30), |s, _| s == "awaiting_approval").await;
    let reason = common::approval_reason(&pool, id).await;
    assert!(reason.contains("数据降级") && reason.contains("weather"), "{reason}");
    let Ok(plans::Action::Done(_)) = plans::decide(&pool, id, Decision::Approved, "ops").await else {
        panic!("approve failed")
    };
    wait_for(&pool, id, Duration::from_secs(30), |s, _| s == "succeeded").await;
    let result = common::result_of(&pool, id).await;
    assert!(result["warnings"].to_string().contains("weather"));
    h.stop().await;
}
