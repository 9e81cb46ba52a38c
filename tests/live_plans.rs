//! Whole plans with live providers against the loopback fakes: all three upstreams at once
//! (LLM, QWeather behind a stdio-spawned MCP server, Amap) in a real worker process; the LLM's
//! repair rounds and fallback; and the provider cache shared by plans.

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use chrono::Local;
use common::{
    Proc, call, database_url,
    fakes::{self, AMAP_KEY, LlmReply, OPENAI_KEY, OPENAI_MODEL, QWEATHER_KEY},
    in_days, migrated, router, submit, wait_for,
};
use planner::{
    api, catalog,
    config::{Secret, Settings, Upstream},
    domain::{Place, PlaceKind},
    llm::Llm,
    providers::{PlacesProvider, WeatherProvider, amap::Amap, embedded_weather::ClimateNormals},
    queue::{executor::Executor, worker},
    resilience::Policy,
    travel::{
        candidates::Candidates,
        check, compose,
        geo::Roads,
        itinerary::{ItemKind, Itinerary},
        language::Language,
        nodes::routes,
        request::{self, SubmitRequest, TripRequest},
        sources::Sources,
        words::Words,
    },
};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

/// The LLM's draft format for a plan: its hotel and, per day, its places in order.
fn selection_of(plan: &Itinerary, tip: &str) -> Value {
    let days: Vec<Value> = plan
        .days
        .iter()
        .map(|d| {
            let stops: Vec<Value> = d
                .items
                .iter()
                .filter(|i| matches!(i.kind, ItemKind::Attraction | ItemKind::Meal))
                .map(|i| {
                    let meal = match i.kind {
                        ItemKind::Meal if i.start.as_str() < "15:00" => json!("lunch"),
                        ItemKind::Meal => json!("dinner"),
                        _ => Value::Null,
                    };
                    json!({"place_id": i.place_id, "meal": meal})
                })
                .collect();
            json!({"date": d.date, "stops": stops})
        })
        .collect();
    let hotel = plan
        .days
        .first()
        .and_then(|d| d.lodging.as_ref())
        .map(|l| l.place_id.clone());
    json!({"hotel_id": hotel, "transport": "taxi", "days": days, "tips": [tip]})
}

fn trip(input: &SubmitRequest) -> TripRequest {
    request::resolve(input, Local::now().date_naive()).unwrap()
}

fn split(places: &[Place]) -> (Vec<Place>, Vec<Place>) {
    places.iter().cloned().partition(|p| p.kind == PlaceKind::Attraction)
}

async fn plan_row(pool: &PgPool, id: Uuid) -> (Value, Value, Option<Value>) {
    sqlx::query_as("SELECT result, warnings, token_usage FROM plans WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn checkpoint(pool: &PgPool, id: Uuid, node: &str) -> Value {
    sqlx::query_scalar("SELECT output FROM plan_checkpoints WHERE plan_id = $1 AND node = $2")
        .bind(id)
        .bind(node)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Re-checks a delivered plan against the candidates its run drafted from.
async fn assert_passes_checker(pool: &PgPool, id: Uuid, result: &Value) {
    let request: TripRequest = serde_json::from_value(checkpoint(pool, id, "understand").await).unwrap();
    let places: Vec<Place> = serde_json::from_value(checkpoint(pool, id, "places").await["data"].clone()).unwrap();
    let hotels: Vec<Place> = serde_json::from_value(checkpoint(pool, id, "lodging").await["data"].clone()).unwrap();
    let roads: Roads = serde_json::from_value(checkpoint(pool, id, "routes").await["roads"].clone()).unwrap();
    let (attractions, restaurants) = split(&places);
    let candidates = Candidates {
        attractions: &attractions,
        restaurants: &restaurants,
        hotels: &hotels,
        roads: &roads,
    };
    let plan: Itinerary = serde_json::from_value(result.clone()).unwrap();
    let violations = check::check(&plan, &request, &candidates);
    assert!(violations.is_empty(), "{violations:?}");
}

#[sqlx::test(migrations = false)]
async fn a_whole_plan_with_the_llm_qweather_over_mcp_and_amap_all_live(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    let (qweather, amap) = (fakes::qweather().await, fakes::amap().await);

    // What the LLM will say: its reading of the query, and a draft over Amap's places.
    let start = in_days(2);
    let query = "杭州3天2晚，后天出发，两个人，预算6000元，喜欢历史";
    let reading = json!({
        "destination": "hangzhou", "start_date": start, "days": 3, "travelers": 2,
        "budget_amount": 6000, "budget_currency": "CNY", "interests": ["history"], "pace": null,
    });
    let request = trip(&SubmitRequest {
        destination: Some("杭州".into()),
        start_date: Some(start.clone()),
        days: Some(3),
        travelers: Some(2),
        budget: Some(request::BudgetInput {
            amount: 6000.0,
            currency: "CNY".into(),
        }),
        interests: Some(vec!["history".into()]),
        ..SubmitRequest::default()
    });
    let scout = fakes::amap().await;
    let client = Amap::new(Secret(AMAP_KEY.into()), &scout.url, Duration::from_secs(5)).unwrap();
    let city = catalog::city("hangzhou").unwrap();
    let places = client.places(city).await.unwrap();
    let hotels = client.hotels(city).await.unwrap();
    let everything: Vec<Place> = places.iter().chain(&hotels).cloned().collect();
    let (roads, unmeasured) = routes::measure(&client, &everything, Words(Language::Zh)).await;
    assert_eq!(unmeasured, None);
    let (attractions, restaurants) = split(&places);
    let candidates = Candidates {
        attractions: &attractions,
        restaurants: &restaurants,
        hotels: &hotels,
        roads: &roads,
    };
    let weather = ClimateNormals.forecast(city, request.start_date, 3).await.unwrap();
    let composed = compose::compose(&request, &weather, &candidates, 0).unwrap();
    let selection = selection_of(&composed, "LLM: 灵隐寺早上人少，建议开门就去。").to_string();
    let reading_text = reading.to_string();
    let llm = fakes::openai(Arc::new(move |req| match fakes::schema_name(req) {
        "trip_request" => LlmReply::Content(reading_text.clone()),
        _ => LlmReply::Content(selection.clone()),
    }))
    .await;

    let mcp_command = format!("{} weather-mcp", env!("CARGO_BIN_EXE_planner"));
    let _worker = Proc::worker(
        &url,
        &[
            ("OPENAI_BASE_URL", llm.url.as_str()),
            ("OPENAI_API_KEY", OPENAI_KEY),
            ("OPENAI_MODEL", OPENAI_MODEL),
            ("AMAP_API_KEY", AMAP_KEY),
            ("AMAP_BASE_URL", amap.url.as_str()),
            ("WEATHER_MCP_COMMAND", mcp_command.as_str()),
            ("QWEATHER_API_KEY", QWEATHER_KEY),
            ("QWEATHER_API_HOST", qweather.url.as_str()),
        ],
    );
    let id = submit(&router(&pool), &json!({ "query": query })).await;
    let (status, _) = wait_for(&pool, id, Duration::from_secs(60), |s, _| {
        matches!(s, "succeeded" | "failed" | "awaiting_approval")
    })
    .await;
    let (result, warnings, usage) = plan_row(&pool, id).await;
    assert_eq!(status, "succeeded", "{warnings} {result}");
    assert_eq!(warnings, json!([]), "no fallback, no degraded data");

    // The start date the text states (后天), read alike by the rules and the model.
    assert_eq!(result["start_date"], start);
    let providers: Vec<(&str, &str)> = result["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["kind"].as_str().unwrap(), s["provider"].as_str().unwrap()))
        .collect();
    assert_eq!(
        providers,
        [
            ("weather", "mcp"),
            ("places", "amap"),
            ("lodging", "amap"),
            ("draft", "llm:fake-model"),
            ("routes", "amap"),
        ]
    );
    assert_eq!(result["days"][0]["weather"]["source"], "mcp:qweather");
    assert!(result["days"][0]["weather"]["wind"].is_string());
    assert!(
        result["tips"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t.as_str().unwrap().starts_with("LLM:"))
    );
    let ids: Vec<&str> = result["days"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["items"].as_array().unwrap())
        .filter_map(|i| i["place_id"].as_str())
        .collect();
    assert!(
        !ids.is_empty() && ids.iter().all(|id| id.starts_with("amap:")),
        "{ids:?}"
    );
    // Two calls (understand, draft), each 812 + 214 tokens in the sample.
    assert_eq!(
        usage,
        Some(json!({"prompt_tokens": 1624, "completion_tokens": 428, "total_tokens": 2052, "calls": 2}))
    );
    assert_passes_checker(&pool, id, &result).await;
    let view = call(&router(&pool), "GET", &format!("/v1/plans/{id}"), None, &[]).await;
    assert_eq!(view.body["token_usage"], usage.unwrap());

    assert_eq!(llm.count("/v1/chat/completions"), 2);
    let first = &llm.calls()[0];
    assert_eq!(first.body["model"], OPENAI_MODEL);
    assert_eq!(first.body["response_format"]["type"], "json_schema");
    assert_eq!(first.body["response_format"]["json_schema"]["strict"], true);
    assert!(fakes::last_user_message(&first.body).contains(query));
    assert_eq!((qweather.count("/geo"), qweather.count("/v7/weather/7d")), (1, 1));
    assert_eq!(amap.count("/v3/place/text"), 3);
    assert_travelled_on_measured_roads(&pool, id, &result, everything.len()).await;
    assert_eq!(
        amap.count("/v3/distance"),
        everything.len() - 1,
        "one call per place but the first"
    );
}

/// The run measured every pair of candidates but hotel to hotel, and each taxi transfer in
/// the plan takes the fake's driving time for that road (plus the pick-up), not the estimate.
async fn assert_travelled_on_measured_roads(pool: &PgPool, id: Uuid, result: &Value, candidates: usize) {
    let routed = checkpoint(pool, id, "routes").await;
    let roads: Roads = serde_json::from_value(routed["roads"].clone()).unwrap();
    let hotels = checkpoint(pool, id, "lodging").await["data"].as_array().unwrap().len();
    let pairs = |n: usize| n * (n - 1) / 2;
    assert_eq!(roads.len(), pairs(candidates) - pairs(hotels));
    let places: Vec<Place> = serde_json::from_value(checkpoint(pool, id, "places").await["data"].clone()).unwrap();
    let at = |place_id: &str| {
        let p = places.iter().find(|p| p.id == place_id).unwrap();
        (p.lng, p.lat)
    };
    let mut taxis = 0;
    for day in result["days"].as_array().unwrap() {
        let (mut from, mut transfer): (Option<&str>, Option<u32>) = (None, None);
        for item in day["items"].as_array().unwrap() {
            let minutes = |t: &str| {
                let (h, m) = t.split_once(':').unwrap();
                h.parse::<u32>().unwrap() * 60 + m.parse::<u32>().unwrap()
            };
            match (item["kind"].as_str().unwrap(), item["place_id"].as_str()) {
                ("free", _) => (from, transfer) = (None, None),
                ("transfer", _) if item["mode"] == "taxi" => {
                    transfer = Some(minutes(item["end"].as_str().unwrap()) - minutes(item["start"].as_str().unwrap()));
                }
                (_, Some(to)) => {
                    if let (Some(from), Some(took)) = (from, transfer) {
                        let (_, seconds) = fakes::fake_road(&at(from), &at(to));
                        assert_eq!(took, (seconds / 60.0).ceil() as u32 + 10, "{from} → {to}");
                        taxis += 1;
                    }
                    (from, transfer) = (Some(to), None);
                }
                _ => {}
            }
        }
    }
    assert!(taxis > 0, "the plan has no taxi transfer to compare");
}

/// Runs one plan in-process with the embedded sources and the fake LLM, submitted to an API
/// that knows an LLM is configured.
async fn plan_with_llm(pool: &PgPool, llm_url: &str, body: Value) -> (Uuid, String) {
    migrated(pool).await;
    let mut settings = Settings::for_database("postgres://unused").expect("settings from the environment");
    settings.live.openai_base_url = Some(llm_url.to_string());
    let app = api::router(api::AppState::new(pool.clone(), Arc::new(settings.clone())));
    let policy = Policy {
        retries: 1,
        backoff_min: Duration::from_millis(10),
        backoff_max: Duration::from_millis(20),
        ..Upstream::Llm.default_policy()
    };
    let providers = Sources {
        llm: Some(Arc::new(
            Llm::new(llm_url, Some(OPENAI_KEY), OPENAI_MODEL, policy).unwrap(),
        )),
        ..Sources::embedded(&settings)
    };
    let runner = Executor::new(pool.clone(), &settings, providers);
    let (task, stop) = worker::spawn_in_process(pool.clone(), runner, settings);
    let id = submit(&app, &body).await;
    let (status, _) = wait_for(pool, id, Duration::from_secs(30), |s, _| {
        matches!(s, "succeeded" | "failed" | "awaiting_approval")
    })
    .await;
    let _ = stop.send(());
    let _ = task.await;
    (id, status)
}

fn embedded_request(budget: Option<f64>) -> (Value, TripRequest) {
    let mut body =
        json!({"destination": "杭州", "start_date": in_days(3), "days": 2, "travelers": 2, "language": "en"});
    if let Some(b) = budget {
        body["budget"] = json!({"amount": b, "currency": "CNY"});
    }
    let input: SubmitRequest = serde_json::from_value(body.clone()).unwrap();
    (body, trip(&input))
}

fn embedded_candidates() -> (Vec<Place>, Vec<Place>, Vec<Place>) {
    let places = catalog::places("hangzhou");
    let (attractions, rest): (Vec<Place>, Vec<Place>) =
        places.iter().cloned().partition(|p| p.kind == PlaceKind::Attraction);
    let (restaurants, hotels) = rest.into_iter().partition(|p| p.kind == PlaceKind::Restaurant);
    (attractions, restaurants, hotels)
}

async fn composed(request: &TripRequest) -> Itinerary {
    let (attractions, restaurants, hotels) = embedded_candidates();
    let city = catalog::city("hangzhou").unwrap();
    let weather = ClimateNormals
        .forecast(city, request.start_date, request.days)
        .await
        .unwrap();
    let candidates = Candidates {
        attractions: &attractions,
        restaurants: &restaurants,
        hotels: &hotels,
        roads: Roads::NONE,
    };
    compose::compose(request, &weather, &candidates, 0).unwrap()
}

fn draft_messages(fake: &fakes::Fake) -> Vec<String> {
    fake.calls()
        .iter()
        .filter(|c| fakes::schema_name(&c.body) == "itinerary_selection")
        .map(|c| fakes::last_user_message(&c.body))
        .collect()
}

fn draft_source(result: &Value) -> String {
    result["sources"][3]["provider"].as_str().unwrap_or("").to_string()
}

#[sqlx::test(migrations = false)]
async fn invalid_json_from_the_llm_is_repaired(pool: PgPool) {
    let (body, request) = embedded_request(None);
    let selection = selection_of(&composed(&request).await, "LLM tip").to_string();
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let llm = fakes::openai(Arc::new(move |_| {
        if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            LlmReply::Content("Sure! Here is your plan: {\"hotel_id\": ".into())
        } else {
            LlmReply::Content(format!("```json\n{selection}\n```"))
        }
    }))
    .await;
    let (id, status) = plan_with_llm(&pool, &llm.url, body).await;
    let (result, warnings, usage) = plan_row(&pool, id).await;
    assert_eq!(status, "succeeded");
    assert_eq!(warnings, json!([]));
    assert_eq!(draft_source(&result), "llm:fake-model");
    let messages = draft_messages(&llm);
    assert_eq!(messages.len(), 2, "one answer, one repair");
    assert!(messages[1].contains("not valid JSON"), "{}", messages[1]);
    assert_eq!(usage.unwrap()["calls"], 2);
    assert_passes_checker(&pool, id, &result).await;
}

#[sqlx::test(migrations = false)]
async fn an_llm_that_names_places_not_among_the_candidates_is_repaired_then_replaced(pool: PgPool) {
    let (body, request) = embedded_request(None);
    let mut invented = selection_of(&composed(&request).await, "LLM tip");
    invented["days"][0]["stops"][0]["place_id"] = json!("made-up-temple");
    let answer = invented.to_string();
    let llm = fakes::openai(Arc::new(move |_| LlmReply::Content(answer.clone()))).await;
    let (id, status) = plan_with_llm(&pool, &llm.url, body).await;
    let (result, warnings, usage) = plan_row(&pool, id).await;
    assert_eq!(status, "succeeded");
    let messages = draft_messages(&llm);
    assert_eq!(messages.len(), 3, "the answer and two repair rounds");
    assert!(
        messages[1..]
            .iter()
            .all(|m| m.contains("made-up-temple") && m.contains("not among the candidates"))
    );
    assert_eq!(draft_source(&result), "embedded");
    let warnings: Vec<String> = serde_json::from_value(warnings).unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("rejected after 2 repair rounds") && w.contains("embedded planner")),
        "{warnings:?}"
    );
    assert_eq!(result["warnings"], json!(warnings));
    assert_eq!(usage.unwrap()["calls"], 3);
    assert_passes_checker(&pool, id, &result).await;
}

#[sqlx::test(migrations = false)]
async fn an_over_budget_llm_plan_gets_the_checkers_feedback_then_the_composer(pool: PgPool) {
    // A budget the composer can meet, and an LLM that insists on the dearest hotel.
    let (_, loose) = embedded_request(None);
    let (_, _, hotels) = embedded_candidates();
    let dearest = hotels.iter().max_by(|a, b| a.price.total_cmp(&b.price)).unwrap();
    let mut lavish = selection_of(&composed(&loose).await, "LLM tip");
    lavish["hotel_id"] = json!(dearest.id);
    let budget = 2600.0;
    let (body, request) = embedded_request(Some(budget));
    assert!(
        composed(&request).await.costs.total <= budget,
        "the composer can meet the budget"
    );
    let answer = lavish.to_string();
    let llm = fakes::openai(Arc::new(move |_| LlmReply::Content(answer.clone()))).await;
    let (id, status) = plan_with_llm(&pool, &llm.url, body).await;
    let (result, warnings, _) = plan_row(&pool, id).await;
    assert_eq!(status, "succeeded", "{warnings}");
    let messages = draft_messages(&llm);
    assert_eq!(messages.len(), 3);
    assert!(messages[1].contains("over the budget"), "{}", messages[1]);
    assert_eq!(draft_source(&result), "embedded");
    assert!(result["costs"]["total"].as_f64().unwrap() <= budget);
    assert!(warnings.to_string().contains("rejected after 2 repair rounds"));
    assert_passes_checker(&pool, id, &result).await;
}

#[sqlx::test(migrations = false)]
async fn an_unreachable_or_refusing_llm_falls_back_for_understand_and_draft(pool: PgPool) {
    // A bad key is permanent: one call each for understand and draft, no retries.
    let llm = fakes::openai(Arc::new(|_| {
        LlmReply::Error(401, "openai/error_401_invalid_api_key.json")
    }))
    .await;
    let body = json!({"query": "杭州两天，一个人", "start_date": in_days(3)});
    let (id, status) = plan_with_llm(&pool, &llm.url, body).await;
    let (result, warnings, usage) = plan_row(&pool, id).await;
    assert_eq!(status, "succeeded");
    assert_eq!(llm.count("/v1/chat/completions"), 2);
    let warnings = warnings.to_string();
    assert!(warnings.contains("LLM unavailable for understand"), "{warnings}");
    assert!(warnings.contains("LLM unavailable for draft"), "{warnings}");
    assert_eq!(draft_source(&result), "embedded");
    assert_eq!(usage.unwrap()["calls"], 0);

    // 429 rate limits and 5xx are retried by our policy (1 retry), not by async-openai.
    let llm = fakes::openai(Arc::new(|_| LlmReply::Error(429, "openai/error_429_rate_limit.json"))).await;
    let (body, _) = embedded_request(None);
    let (_, status) = plan_with_llm(&pool, &llm.url, body).await;
    assert_eq!(status, "succeeded");
    assert_eq!(
        llm.count("/v1/chat/completions"),
        2,
        "draft only (no query): 2 tries, not 2 × 4"
    );
}

#[sqlx::test(migrations = false)]
async fn a_reading_the_text_does_not_support_is_repaired_then_dropped(pool: PgPool) {
    let understand_calls = Arc::new(AtomicUsize::new(0));
    let seen = understand_calls.clone();
    let llm = fakes::openai(Arc::new(move |req| {
        if fakes::schema_name(req) != "trip_request" {
            return LlmReply::Error(500, "openai/error_500_server_error.json");
        }
        // "成都吃吃喝喝，三个人" says nothing of days: first 99 of them, then none.
        let days = if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            json!(99)
        } else {
            Value::Null
        };
        LlmReply::Content(
            json!({"destination": "chengdu", "start_date": null, "days": days, "travelers": 3,
                   "budget_amount": null, "budget_currency": null, "interests": ["food"], "pace": "relaxed"})
            .to_string(),
        )
    }))
    .await;
    let (id, status) = plan_with_llm(&pool, &llm.url, json!({"query": "成都吃吃喝喝，三个人"})).await;
    assert_eq!(status, "succeeded");
    let understood = checkpoint(&pool, id, "understand").await;
    assert_eq!(
        (&understood["days"], &understood["travelers"], &understood["pace"]),
        (&json!(request::DEFAULT_DAYS), &json!(3), &json!("relaxed"))
    );
    assert_eq!(understood["llm"]["repairs"], 1);
    let repair = llm
        .calls()
        .iter()
        .filter(|c| fakes::schema_name(&c.body) == "trip_request")
        .nth(1)
        .map(|c| fakes::last_user_message(&c.body))
        .unwrap();
    assert!(repair.contains("does not state days 99"), "{repair}");
    // The draft's 500s: retried once by the policy, then the composer with a warning.
    let (_, warnings, _) = plan_row(&pool, id).await;
    assert!(warnings.to_string().contains("LLM unavailable for draft"), "{warnings}");
}

#[sqlx::test(migrations = false)]
async fn the_rules_reading_wins_over_a_model_that_contradicts_the_text(pool: PgPool) {
    // Schema-valid and wrong: the current year as the budget, a day short, another city —
    // then, asked again, the same with a made-up start date.
    let llm = fakes::openai(Arc::new(move |req| {
        if fakes::schema_name(req) != "trip_request" {
            return LlmReply::Error(500, "openai/error_500_server_error.json");
        }
        LlmReply::Content(
            json!({"destination": "shenzhen", "start_date": null, "days": 2, "travelers": 2,
                   "budget_amount": 2026, "budget_currency": "SGD", "interests": ["food", "nature"], "pace": null})
            .to_string(),
        )
    }))
    .await;
    let query = "杭州3天2晚，两个人，预算3000元，喜欢美食和自然风光";
    let (id, status) = plan_with_llm(&pool, &llm.url, json!({ "query": query })).await;
    assert_eq!(status, "succeeded");
    let (result, warnings, _) = plan_row(&pool, id).await;
    assert_eq!(
        (
            result["destination"].as_str(),
            result["days"].as_array().map(Vec::len),
            result["travelers"].as_u64(),
            result["budget"].as_f64(),
            result["currency"].as_str()
        ),
        (Some("杭州"), Some(3), Some(2), Some(3000.0), Some("CNY"))
    );
    let warnings = warnings.to_string();
    for overruled in ["目的地读作 shenzhen", "天数读作 2", "预算读作 2026 SGD"] {
        assert!(warnings.contains(overruled), "{overruled} in {warnings}");
    }
    let understood = checkpoint(&pool, id, "understand").await;
    assert_eq!(
        understood["llm"]["repairs"], 0,
        "nothing ungrounded to repair: the rules read it all"
    );
}

/// In-process settings with QWeather and Amap live against these fakes, no LLM.
fn qweather_and_amap(qweather: &fakes::Fake, amap: &fakes::Fake) -> Settings {
    let mut settings = Settings::for_database("postgres://unused").expect("settings from the environment");
    settings.live.qweather_api_key = Some(Secret(QWEATHER_KEY.into()));
    settings.live.qweather_api_host = qweather.url.clone();
    settings.live.amap_api_key = Some(Secret(AMAP_KEY.into()));
    settings.live.amap_base_url = amap.url.clone();
    settings.weather_mcp_url = None;
    settings.live.weather_mcp_command = None;
    settings.live.openai_api_key = None;
    settings.live.openai_base_url = None;
    settings
}

#[sqlx::test(migrations = false)]
async fn roads_amap_cannot_measure_are_estimated_with_a_warning(pool: PgPool) {
    migrated(&pool).await;
    let (qweather, amap) = (fakes::qweather().await, fakes::amap().await);
    // Places and hotels answer; every distance call says the server is busy (transient).
    amap.refuse("/v3/distance", 200, "amap/error_server_is_busy.json");
    let mut settings = qweather_and_amap(&qweather, &amap);
    let quick = Policy {
        retries: 1,
        backoff_min: Duration::from_millis(5),
        backoff_max: Duration::from_millis(10),
        ..Upstream::Maps.default_policy()
    };
    settings.resilience.insert(Upstream::Maps, quick);
    let runner = Executor::new(
        pool.clone(),
        &settings,
        Sources::from_settings(&settings, &pool).unwrap(),
    );
    let (task, stop) = worker::spawn_in_process(pool.clone(), runner, settings);
    let id = submit(
        &router(&pool),
        &json!({"destination": "杭州", "start_date": in_days(1), "days": 2, "language": "en"}),
    )
    .await;
    let (status, _) = wait_for(&pool, id, Duration::from_secs(60), |s, _| {
        s != "queued" && s != "running"
    })
    .await;
    let _ = stop.send(());
    let _ = task.await;

    let (result, warnings, _) = plan_row(&pool, id).await;
    // Not `awaiting_approval` either: estimated legs are not degraded data.
    assert_eq!(status, "succeeded", "a plan does not wait for roads: {warnings}");
    let warnings: Vec<String> = serde_json::from_value(warnings).unwrap();
    let lookups = amap.count("/v3/distance");
    assert!(lookups > 0);
    assert!(
        warnings.iter().any(|w| w.starts_with("road distances: ")
            && w.contains("lookups failed")
            && w.contains("SERVER_IS_BUSY")
            && w.ends_with("those legs are estimated from coordinates")),
        "{warnings:?}"
    );
    assert_eq!(result["sources"][1]["provider"], "amap", "places still from Amap");
    assert_eq!(result["sources"][4]["kind"], "routes");
    assert_eq!(result["sources"][4]["provider"], "estimated");
    let routed = checkpoint(&pool, id, "routes").await;
    assert_eq!(routed["roads"], json!({}));
    // Estimated legs, judged by the same estimates.
    assert_passes_checker(&pool, id, &result).await;
}

#[sqlx::test(migrations = false)]
async fn the_second_identical_plan_takes_weather_and_places_from_the_cache(pool: PgPool) {
    migrated(&pool).await;
    let (qweather, amap) = (fakes::qweather().await, fakes::amap().await);
    let settings = qweather_and_amap(&qweather, &amap);
    let providers = Sources::from_settings(&settings, &pool).unwrap();
    assert!(providers.llm.is_none());
    let runner = Executor::new(pool.clone(), &settings, providers);
    let (task, stop) = worker::spawn_in_process(pool.clone(), runner, settings);
    let app = router(&pool);
    let body = json!({"destination": "杭州", "start_date": in_days(1), "days": 2});

    let first = submit(&app, &body).await;
    let (status, _) = wait_for(&pool, first, Duration::from_secs(30), |s, _| {
        s != "queued" && s != "running"
    })
    .await;
    assert_eq!(status, "succeeded");
    let upstream =
        |q: &fakes::Fake, a: &fakes::Fake| (q.calls().len(), a.count("/v3/place/text"), a.count("/v3/distance"));
    let (_, _, roads_calls) = upstream(&qweather, &amap);
    assert!(roads_calls > 0);
    assert_eq!(
        upstream(&qweather, &amap),
        (2, 3, roads_calls),
        "lookup + daily; attractions, restaurants, hotels; roads"
    );

    let second = submit(&app, &body).await;
    let (status, _) = wait_for(&pool, second, Duration::from_secs(30), |s, _| {
        s != "queued" && s != "running"
    })
    .await;
    assert_eq!(status, "succeeded");
    assert_eq!(
        upstream(&qweather, &amap),
        (2, 3, roads_calls),
        "the second plan made no upstream call"
    );
    let _ = stop.send(());
    let _ = task.await;

    let rows: Vec<(String, String)> = sqlx::query_as("SELECT provider, key FROM provider_cache ORDER BY provider, key")
        .fetch_all(&pool)
        .await
        .unwrap();
    let start = in_days(1);
    let (roads, rows): (Vec<_>, Vec<_>) = rows.into_iter().partition(|(_, key)| key.starts_with("roads:"));
    assert_eq!(roads.len(), roads_calls, "one cached answer per roads call");
    assert_eq!(
        rows,
        [
            ("amap".to_string(), "hotels:hangzhou".to_string()),
            ("amap".to_string(), "places:hangzhou".to_string()),
            ("qweather".to_string(), format!("forecast:hangzhou:{start}:2")),
        ]
    );
    let (first_result, _, _) = plan_row(&pool, first).await;
    let (second_result, _, _) = plan_row(&pool, second).await;
    assert_eq!(first_result["days"], second_result["days"]);
    assert_eq!(second_result["sources"][0]["provider"], "qweather");
    assert_eq!(second_result["sources"][1]["provider"], "amap");
}

#[sqlx::test(migrations = false)]
async fn free_text_the_rules_cannot_read_is_left_to_the_llm(pool: PgPool) {
    let query = "Take my wife and me to see the terracotta warriors, two days";
    let ruled = request::resolve(
        &SubmitRequest {
            query: Some(query.into()),
            ..SubmitRequest::default()
        },
        Local::now().date_naive(),
    )
    .unwrap_err();
    assert_eq!(ruled.code, "not_understood");
    // Without an LLM the API refuses it, naming the field.
    migrated(&pool).await;
    let refused = call(
        &router(&pool),
        "POST",
        "/v1/plans",
        Some(&json!({ "query": query }).to_string()),
        &[],
    )
    .await;
    assert_eq!(
        (refused.status, refused.body["error"]["field"].as_str()),
        (422, Some("query"))
    );

    let reads = Arc::new(AtomicUsize::new(0));
    let seen = reads.clone();
    let llm = fakes::openai(Arc::new(move |req| {
        if fakes::schema_name(req) != "trip_request" {
            return LlmReply::Error(503, "openai/error_500_server_error.json");
        }
        // The first query is understood; the second ("somewhere nice") is not, by anyone.
        let text = fakes::last_user_message(req);
        let destination = if text.contains("terracotta") {
            json!("xian")
        } else {
            Value::Null
        };
        seen.fetch_add(1, Ordering::SeqCst);
        LlmReply::Content(
            json!({"destination": destination, "start_date": null, "days": 2, "travelers": 2,
                   "budget_amount": null, "budget_currency": null, "interests": ["history"], "pace": null})
            .to_string(),
        )
    }))
    .await;
    let (id, status) = plan_with_llm(&pool, &llm.url, json!({ "query": query })).await;
    assert_eq!(status, "succeeded");
    let (result, warnings, _) = plan_row(&pool, id).await;
    assert_eq!(
        (result["destination"].as_str(), result["travelers"].as_u64()),
        (Some("Xi'an"), Some(2))
    );
    assert_eq!(result["days"].as_array().unwrap().len(), 2);
    assert!(warnings.to_string().contains("LLM unavailable for draft"), "{warnings}");

    let (id, status) = plan_with_llm(&pool, &llm.url, json!({ "query": "somewhere nice please" })).await;
    assert_eq!(status, "failed");
    let error: Value = sqlx::query_scalar("SELECT error FROM plans WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(error["code"], "not_understood", "{error}");
    assert_eq!(
        reads.load(Ordering::SeqCst),
        1 + 3,
        "one reading, then one answer and two repairs"
    );
}

/// A model that answers at random: garbage, or schema-valid JSON with any city, any number
/// of days, a party and budget from nowhere, made-up place codes, days too many or too few.
fn adversary(seed: u64) -> fakes::Responder {
    use rand::{Rng, SeedableRng, rngs::StdRng};
    let rng = std::sync::Mutex::new(StdRng::seed_from_u64(seed));
    Arc::new(move |req| {
        let mut rng = rng.lock().unwrap();
        if rng.random_range(0..5) == 0 {
            return LlmReply::Content("I would love to help! {\"days\": ".into());
        }
        let cities: Vec<&str> = catalog::catalog().cities.iter().map(|c| c.id.as_str()).collect();
        if fakes::schema_name(req) == "trip_request" {
            let date = Local::now().date_naive() + chrono::Duration::days(rng.random_range(-30..900));
            return LlmReply::Content(
                json!({
                    "destination": cities[rng.random_range(0..cities.len())],
                    "start_date": if rng.random_bool(0.5) { json!(date.to_string()) } else { Value::Null },
                    "days": rng.random_range(0..45), "travelers": rng.random_range(0..25),
                    "budget_amount": rng.random_range(1..50_000), "budget_currency": "CNY",
                    "interests": ["food"], "pace": "packed"
                })
                .to_string(),
            );
        }
        let code = |rng: &mut StdRng| {
            let kind = ["A", "R", "X"][rng.random_range(0..3)];
            format!("{kind}{}", rng.random_range(1..25))
        };
        let days: Vec<Value> = (0..rng.random_range(0..6))
            .map(|_| {
                let stops: Vec<Value> = (0..rng.random_range(0..7))
                    .map(|_| {
                        let meal = [json!("lunch"), json!("dinner"), Value::Null][rng.random_range(0..3)].clone();
                        json!({"place_id": code(&mut rng), "meal": meal})
                    })
                    .collect();
                json!({"date": "2026-01-01", "stops": stops})
            })
            .collect();
        let hotel = format!("H{}", rng.random_range(1..9));
        LlmReply::Content(
            json!({"hotel_id": hotel, "transport": "metro", "days": days, "tips": ["trust me"]}).to_string(),
        )
    })
}

#[sqlx::test(migrations = false)]
async fn an_adversarial_model_never_gets_a_wrong_or_invalid_plan_delivered(pool: PgPool) {
    let llm = fakes::openai(adversary(7)).await;
    // What the text states, which no answer of the model may change.
    let cases = [
        ("杭州3天2晚，两个人，预算6000元，喜欢美食", "杭州", 3, 2),
        (
            "4 days in Chengdu for a family of 4, budget 20,000 CNY",
            "Chengdu",
            4,
            4,
        ),
        ("厦门两日游，一家三口，每人3000元", "厦门", 2, 3),
        ("Xi'an for two, 5 nights, 15000 yuan", "Xi'an", 6, 2),
        ("北京5天，3大1小，预算2万", "北京", 5, 4),
        ("A week in Guilin, solo, budget 10000 RMB", "Guilin", 7, 1),
        ("苏州，两个人，三天", "苏州", 3, 2),
        ("Tokyo 3 days, a couple, $3,000", "Tokyo", 3, 2),
    ];
    for (i, (query, city, days, travelers)) in cases.iter().enumerate() {
        let (id, status) = plan_with_llm(&pool, &llm.url, json!({ "query": query })).await;
        let (result, warnings, _) = plan_row(&pool, id).await;
        if status == "succeeded" {
            assert_eq!(
                (
                    result["destination"].as_str(),
                    result["days"].as_array().map(Vec::len),
                    result["travelers"].as_u64()
                ),
                (Some(*city), Some(*days), Some(*travelers)),
                "case {i}: {query}: {warnings}"
            );
            assert_passes_checker(&pool, id, &result).await;
        } else {
            let error: Value = sqlx::query_scalar("SELECT error FROM plans WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(status, "failed", "case {i}: {query}");
            let code = error["code"].as_str().unwrap_or("");
            assert!(
                ["budget_too_low", "constraints_violated"].contains(&code),
                "case {i}: {query}: failed without a named reason: {error}"
            );
        }
    }
}
