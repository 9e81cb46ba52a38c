//! Random requests against every route, with a fixed seed so a failure reproduces: methods,
//! paths (real, unknown and malformed ids), query strings, headers (`Authorization` among
//! them) and bodies (JSON of the fields the routes read, with values of every type, NUL,
//! huge numbers, nesting, and bytes that are not JSON). Whatever is sent, the answer is never
//! a 5xx, and every non-2xx is the JSON error body. Run with `AUTH_MODE` off and required.

mod common;

use std::sync::Arc;

use axum::{body::Body, http::Request};
use common::{in_days, migrated};
use http_body_util::BodyExt;
use planner::{
    api::{self, auth::token},
    config::{AuthMode, Settings},
    store::{keys, states::Role},
};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};
use serde_json::{Value, json};
use sqlx::PgPool;
use tower::ServiceExt;

const CASES: usize = 600;

const ROUTES: &[&str] = &[
    "/v1/plans",
    "/v1/plans/{id}",
    "/v1/plans/{id}/cancel",
    "/v1/plans/{id}/approve",
    "/v1/plans/{id}/reject",
    "/v1/plans/{id}/retry",
    "/v1/plans/{id}/itinerary.md",
    "/v1/plans/{id}/events",
    "/v1/destinations",
    "/plan",
    "/status/{id}",
    "/download/{id}",
    "/tasks",
    "/chat",
    "/health",
    "/ready",
    "/openapi.json",
    "/",
    "/assets/{id}",
    "/nowhere/{id}",
];

const FIELDS: &[&str] = &[
    "destination",
    "start_date",
    "end_date",
    "days",
    "travelers",
    "budget",
    "interests",
    "pace",
    "require_approval",
    "query",
    "language",
    "not_before",
    "callback_url",
    "unhonoured",
    "message",
    "group_size",
    "budget_range",
    "activity_level",
    "dietary_restrictions",
    "currency",
    "amount",
    "x",
];

fn text(rng: &mut StdRng) -> String {
    let pool = [
        "杭州",
        "Chengdu",
        "",
        " ",
        "\u{0}",
        "a\u{0}b",
        "2026-12-01",
        "1999-01-01",
        "-1",
        "3",
        "😀",
        "<script>alert(1)</script>",
        "http://127.0.0.1/",
        "https://example.com/hook",
        "轻松",
        "经济型 (300-800元/天)",
        "relaxed",
        "zh",
        "en",
        "CNY",
        "USD",
        "9999999999999999999999",
        // Lowercasing changes these characters' byte lengths.
        "İ元旦ẞ",
        "ẞ五一İ杭州",
    ];
    let mut s = (*pool.choose(rng).unwrap_or(&"")).to_string();
    if rng.random_bool(0.05) {
        s = "x".repeat(rng.random_range(1000..70_000));
    }
    s
}

fn value(rng: &mut StdRng, depth: u32) -> Value {
    match rng.random_range(0..9) {
        0 => Value::Null,
        1 => json!(rng.random_bool(0.5)),
        2 => json!(rng.random_range(-5i64..40)),
        3 => [json!(1e308), json!(-0.5), json!(1e-9), json!(i64::MAX), json!(u64::MAX)][rng.random_range(0..5)].clone(),
        4 | 5 => json!(text(rng)),
        6 if depth < 3 => Value::Array((0..rng.random_range(0..4)).map(|_| value(rng, depth + 1)).collect()),
        7 if depth < 3 => object(rng, depth + 1),
        _ => json!(text(rng)),
    }
}

fn object(rng: &mut StdRng, depth: u32) -> Value {
    let mut map = serde_json::Map::new();
    for _ in 0..rng.random_range(0..6) {
        let key = FIELDS.choose(rng).copied().unwrap_or("x");
        map.insert(key.to_string(), value(rng, depth));
    }
    Value::Object(map)
}

fn body(rng: &mut StdRng) -> Option<Vec<u8>> {
    match rng.random_range(0..10) {
        0 => None,
        1 => Some(b"{not json".to_vec()),
        2 => Some((0..rng.random_range(1..64)).map(|_| rng.random::<u8>()).collect()),
        3 => Some(b"[1,2]".to_vec()),
        4 => Some(
            json!({"destination": "杭州", "start_date": in_days(5), "days": 2})
                .to_string()
                .into_bytes(),
        ),
        _ => Some(object(rng, 0).to_string().into_bytes()),
    }
}

fn path(rng: &mut StdRng, real: &str) -> String {
    let route = ROUTES.choose(rng).copied().unwrap_or("/");
    let id = match rng.random_range(0..6) {
        0 | 1 => real.to_string(),
        2 => uuid::Uuid::new_v4().to_string(),
        3 => "not-a-uuid".to_string(),
        4 => "%00".to_string(),
        _ => "%FF%FE".to_string(),
    };
    let query = match rng.random_range(0..8) {
        0 => "?limit=abc",
        1 => "?status=%00",
        2 => "?after=-1",
        3 => "?cursor=zzz&limit=5",
        4 => "?limit=1&limit=2",
        5 => "?after=99999999999999999999",
        _ => "",
    };
    format!("{}{query}", route.replace("{id}", &id))
}

async fn run(pool: &PgPool, mode: AuthMode, seed: u64) {
    let mut settings = Settings::for_database("postgres://unused").unwrap();
    settings.auth_mode = mode;
    let app = api::router(api::AppState::new(pool.clone(), Arc::new(settings)));
    let new = token::generate();
    let name = format!("fuzz-{seed}");
    assert!(matches!(
        keys::create(pool, &name, Role::User, &new.hash, &new.shown)
            .await
            .unwrap(),
        keys::Created::Created
    ));
    let valid = format!("Bearer {}", new.token);
    let real = common::create_plan(pool, &json!({"destination": "杭州", "days": 2}), 3)
        .await
        .to_string();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut answered: std::collections::BTreeMap<u16, usize> = std::collections::BTreeMap::new();
    let methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"];
    let authorizations = [
        None,
        Some(valid.as_str()),
        Some("Bearer junk"),
        Some("Basic Zm9vOmJhcg=="),
        Some("Bearer "),
    ];
    for case in 0..CASES {
        let uri = path(&mut rng, &real);
        // Mostly the method the route takes, so that most cases reach a handler.
        let takes_post = ["/cancel", "/approve", "/reject", "/retry", "/plan", "/chat"]
            .iter()
            .any(|end| uri.split('?').next().unwrap_or("").ends_with(end))
            || (uri.starts_with("/v1/plans?") || uri == "/v1/plans") && rng.random_bool(0.6);
        let method = if rng.random_bool(0.75) {
            if takes_post { "POST" } else { "GET" }
        } else {
            methods.choose(&mut rng).copied().unwrap_or("GET")
        };
        let mut request = Request::builder().method(method).uri(&uri);
        let authorization = if rng.random_bool(0.6) {
            Some(valid.as_str())
        } else {
            authorizations.choose(&mut rng).copied().flatten()
        };
        if let Some(auth) = authorization {
            request = request.header("authorization", auth);
        }
        if rng.random_bool(0.8) {
            request = request.header(
                "content-type",
                ["application/json", "text/plain"][rng.random_range(0..2)],
            );
        }
        if rng.random_bool(0.2) {
            request = request.header("idempotency-key", text(&mut rng).chars().take(300).collect::<String>());
        }
        if rng.random_bool(0.2) {
            request = request.header("last-event-id", text(&mut rng).chars().take(40).collect::<String>());
        }
        let sent = body(&mut rng);
        let described = format!(
            "case {case} ({mode:?}, seed {seed}): {method} {uri} body {:?}",
            sent.as_ref()
                .map(|b| String::from_utf8_lossy(&b[..b.len().min(200)]).to_string())
        );
        // What a client could not even send (a header value with a control character) is skipped.
        let Ok(request) = request.body(sent.map(Body::from).unwrap_or_else(Body::empty)) else {
            continue;
        };
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        assert!(status < 500, "{described} → {status}");
        *answered.entry(status).or_default() += 1;
        if content_type.starts_with("text/event-stream") {
            continue;
        }
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        if status >= 400 && method != "HEAD" {
            assert!(
                content_type.starts_with("application/json"),
                "{described} → {status} {content_type}"
            );
            let error: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            assert!(error["error"]["code"].is_string(), "{described} → {status}: {error}");
        }
    }
    // The run reached the routes: most cases were sent, and some were accepted.
    let sent: usize = answered.values().sum();
    println!("{mode:?}: {sent} of {CASES} cases sent; statuses {answered:?}");
    assert!(sent > CASES / 2, "{answered:?}");
    assert!(answered.keys().any(|s| *s < 300), "{answered:?}");
}

#[sqlx::test(migrations = false)]
async fn random_requests_without_keys_get_no_5xx_and_json_errors(pool: PgPool) {
    migrated(&pool).await;
    run(&pool, AuthMode::Off, 11).await;
}

#[sqlx::test(migrations = false)]
async fn random_requests_with_keys_required_get_no_5xx_and_json_errors(pool: PgPool) {
    migrated(&pool).await;
    run(&pool, AuthMode::Required, 23).await;
}
