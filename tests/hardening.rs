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

/// A self-signed certificate for `localhost` and 127.0.0.1, written to two PEM files.
fn self_signed(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, reqwest::Certificate) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let trusted = reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).unwrap();
    (cert, key, trusted)
}

fn scratch_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("planner-tls-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[sqlx::test(migrations = false)]
async fn api_tls_cert_and_key_serve_https(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    let dir = scratch_dir();
    let (cert, key, trusted) = self_signed(&dir);
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let env = [
        ("API_ADDR", addr.as_str()),
        ("API_TLS_CERT", cert.to_str().unwrap()),
        ("API_TLS_KEY", key.to_str().unwrap()),
    ];
    let _api = common::Proc::spawn(&["api"], &url, &env);
    let client = reqwest::Client::builder()
        .add_root_certificate(trusted)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let base = format!("https://localhost:{port}");
    let started = Instant::now();
    loop {
        match client.get(format!("{base}/ready")).send().await {
            Ok(r) if r.status() == 200 => break,
            _ => {
                assert!(
                    started.elapsed() < Duration::from_secs(30),
                    "the api never answered over HTTPS"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    // A client that connects and never says a word does not hold up anyone else's handshake.
    let mut silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let submitted = client
        .post(format!("{base}/v1/plans"))
        .json(&serde_json::json!({"query": "3 days in Chengdu for 2, budget 5000 CNY"}))
        .send()
        .await
        .unwrap();
    assert_eq!(submitted.status(), 202);
    assert_eq!(submitted.headers()["x-content-type-options"], "nosniff");
    let listed: serde_json::Value = client
        .get(format!("{base}/v1/plans"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["plans"].as_array().map(Vec::len), Some(1), "{listed}");

    // Plain HTTP to the HTTPS port gets no HTTP answer, and a client that does not trust the
    // certificate is refused by its own TLS check.
    let plain = reqwest::Client::new().get(format!("http://{addr}/health")).send().await;
    assert!(
        plain.is_err() || plain.is_ok_and(|r| r.status() == 400),
        "plain HTTP was served"
    );
    let untrusting = reqwest::Client::new().get(format!("{base}/health")).send().await;
    assert!(
        untrusting.is_err(),
        "a self-signed certificate was accepted without trust"
    );

    // The silent client is dropped once its handshake has had 10 s, rather than held forever.
    let mut byte = [0u8; 1];
    let closed = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::io::AsyncReadExt::read(&mut silent, &mut byte),
    )
    .await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "a connection that never started its handshake was kept: {closed:?}"
    );

    // The image's HEALTHCHECK speaks HTTPS to its own api.
    let health = Command::new(env!("CARGO_BIN_EXE_planner"))
        .arg("healthcheck")
        .envs(env)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(health.status.success(), "{}", String::from_utf8_lossy(&health.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

#[sqlx::test(migrations = false)]
async fn a_bad_tls_setting_stops_the_start_with_its_name(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    let dir = scratch_dir();
    let (cert, key, _) = self_signed(&dir);
    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "not a key\n").unwrap();
    let missing = dir.join("missing.pem");
    let (cert, key, garbage, missing) = (
        cert.to_str().unwrap(),
        key.to_str().unwrap(),
        garbage.to_str().unwrap(),
        missing.to_str().unwrap(),
    );
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("API_TLS_CERT", cert)], "API_TLS_KEY"),
        (&[("API_TLS_KEY", key)], "API_TLS_CERT"),
        (&[("API_TLS_CERT", missing), ("API_TLS_KEY", key)], "API_TLS_CERT"),
        (&[("API_TLS_CERT", cert), ("API_TLS_KEY", garbage)], "API_TLS_KEY"),
        // A key that is not the certificate's.
        (
            &[("API_TLS_CERT", cert), ("API_TLS_KEY", &*other_key(&dir))],
            "do not make a usable pair",
        ),
    ];
    for (env, named) in cases {
        let addr = format!("127.0.0.1:{}", free_port());
        let output = Command::new(env!("CARGO_BIN_EXE_planner"))
            .arg("api")
            .env("DATABASE_URL", &url)
            .env("API_ADDR", &addr)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{env:?} started");
        assert!(stderr.contains(named), "{env:?}: {stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn other_key(dir: &std::path::Path) -> String {
    let path = dir.join("other-key.pem");
    let other = rcgen::KeyPair::generate().unwrap();
    std::fs::write(&path, other.serialize_pem()).unwrap();
    path.to_str().unwrap().to_string()
}
