//! What makes the api safe to put on a network beyond keys: security headers on every
//! answer, CORS closed unless configured, a bound on request headers, and no token in the
//! process's logs.

mod common;

use std::{
    process::{Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use common::{call, database_url, free_port, migrated};
use planner::{
    api::{self, auth::token},
    config::Settings,
    store::{keys, states::Role},
};
use sqlx::PgPool;

fn app_with(pool: &PgPool, change: impl FnOnce(&mut Settings)) -> axum::Router {
    let mut settings = Settings::for_database("postgres://unused").unwrap();
    change(&mut settings);
    api::router(api::AppState::new(pool.clone(), Arc::new(settings)))
}

#[sqlx::test(migrations = false)]
async fn every_answer_carries_the_security_headers(pool: PgPool) {
    migrated(&pool).await;
    let app = app_with(&pool, |_| {});
    for (method, uri) in [
        ("GET", "/v1/plans"),
        ("GET", "/health"),
        ("GET", "/nowhere"),
        ("DELETE", "/v1/plans"),
    ] {
        let reply = call(&app, method, uri, None, &[]).await;
        let csp = reply.headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
            "{uri}: {csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{uri}: {csp}");
        assert_eq!(reply.headers["x-content-type-options"], "nosniff", "{uri}");
        assert_eq!(reply.headers["referrer-policy"], "no-referrer", "{uri}");
        assert_eq!(reply.headers["x-frame-options"], "DENY", "{uri}");
    }
    let docs = call(&app, "GET", "/docs/", None, &[]).await;
    let csp = docs.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("script-src 'self' 'unsafe"),
        "{csp}"
    );
}

#[sqlx::test(migrations = false)]
async fn cors_is_closed_unless_origins_are_named(pool: PgPool) {
    migrated(&pool).await;
    let closed = app_with(&pool, |_| {});
    let reply = call(
        &closed,
        "GET",
        "/v1/plans",
        None,
        &[("origin", "https://elsewhere.example")],
    )
    .await;
    assert_eq!(reply.status, 200);
    assert!(!reply.headers.contains_key("access-control-allow-origin"));

    let open = app_with(&pool, |s| s.cors_origins = vec!["https://app.example".into()]);
    let preflight = [
        ("origin", "https://app.example"),
        ("access-control-request-method", "POST"),
        ("access-control-request-headers", "authorization, content-type"),
    ];
    let reply = call(&open, "OPTIONS", "/v1/plans", None, &preflight).await;
    assert_eq!(
        reply.headers["access-control-allow-origin"], "https://app.example",
        "{}",
        reply.text
    );
    let reply = call(
        &open,
        "GET",
        "/v1/plans",
        None,
        &[("origin", "https://elsewhere.example")],
    )
    .await;
    assert!(!reply.headers.contains_key("access-control-allow-origin"));
}

#[sqlx::test(migrations = false)]
async fn oversized_headers_are_a_431_json_error(pool: PgPool) {
    migrated(&pool).await;
    let app = app_with(&pool, |_| {});
    let big = "x".repeat(planner::api::MAX_HEADER_BYTES + 1);
    let reply = call(&app, "GET", "/v1/plans", None, &[("x-padding", &big)]).await;
    assert_eq!(reply.status, 431, "{}", reply.text);
    assert_eq!(reply.body["error"]["code"], "headers_too_large");
}

#[sqlx::test(migrations = false)]
async fn no_token_reaches_the_logs(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    let new = token::generate();
    assert!(matches!(
        keys::create(&pool, "logged", Role::User, &new.hash, &new.shown)
            .await
            .unwrap(),
        keys::Created::Created
    ));
    let unknown = format!("tp_{}", "cd".repeat(32));
    let log = std::env::temp_dir().join(format!("planner-log-{}.txt", uuid::Uuid::new_v4()));
    let addr = format!("127.0.0.1:{}", free_port());
    let mut api = Command::new(env!("CARGO_BIN_EXE_planner"))
        .arg("api")
        .env("DATABASE_URL", &url)
        .env("API_ADDR", &addr)
        .env("AUTH_MODE", "required")
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "trace")
        // Logs are JSON lines on stdout.
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let base = format!("http://{addr}");
    let started = Instant::now();
    while client.get(format!("{base}/ready")).send().await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "api never answered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for token in [&new.token, &unknown] {
        for path in ["/v1/plans", "/v1/plans/not-a-uuid", "/tasks"] {
            let _ = client
                .get(format!("{base}{path}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
        }
        let _ = client
            .post(format!("{base}/v1/plans"))
            .bearer_auth(token)
            .body("{not json")
            .send()
            .await
            .unwrap();
    }
    let _ = api.kill();
    let _ = api.wait();
    let logged = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    assert!(logged.contains("/v1/plans"), "the api logged its requests:\n{logged}");
    for secret in [new.token.as_str(), unknown.as_str(), &new.token[3..], &unknown[3..]] {
        assert!(!logged.contains(secret), "a token was logged");
    }
}
