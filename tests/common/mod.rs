//! Helpers shared by the integration tests: the test database's URL, the API router on
//! it, spawned `planner` processes, and waiting for plans.
#![allow(dead_code)]

use std::{
    process::{Child, Command, Stdio},
    str::FromStr,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{Router, body::Body, http::Request};
use http_body_util::BodyExt;
use planner::{api, config::Settings};
use serde_json::Value;
use sqlx::{ConnectOptions, PgPool, postgres::PgConnectOptions};
use tower::ServiceExt;
use uuid::Uuid;

/// The URL of the database `sqlx::test` made for this test.
pub async fn database_url(pool: &PgPool) -> String {
    let name: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(pool)
        .await
        .unwrap();
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL points at the test server");
    PgConnectOptions::from_str(&base)
        .unwrap()
        .database(&name)
        .to_url_lossy()
        .to_string()
}

pub async fn migrated(pool: &PgPool) {
    planner::db::migrate(pool).await.expect("migrations apply");
}

pub fn router(pool: &PgPool) -> Router {
    let settings = Settings::for_database("postgres://unused").expect("settings from the environment");
    api::router(api::AppState::new(pool.clone(), Arc::new(settings)))
}

pub struct Reply {
    pub status: u16,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
    pub text: String,
}

pub async fn call(app: &Router, method: &str, uri: &str, body: Option<&str>, headers: &[(&str, &str)]) -> Reply {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).to_string();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        text,
    }
}

pub async fn submit(app: &Router, body: &Value) -> Uuid {
    let reply = call(app, "POST", "/v1/plans", Some(&body.to_string()), &[]).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    Uuid::parse_str(reply.body["id"].as_str().unwrap()).unwrap()
}

/// A spawned `planner` process, killed when dropped.
pub struct Proc {
    pub child: Child,
}

impl Proc {
    pub fn spawn(args: &[&str], url: &str, env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_planner"));
        cmd.args(args)
            .env("DATABASE_URL", url)
            .env("DB_POOL_MAX", "6")
            .env("WORKER_CONCURRENCY", "4")
            .env("WORKER_ADDR", "127.0.0.1:0")
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "warn,planner=info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        Self {
            child: cmd.spawn().expect("spawn planner"),
        }
    }

    pub fn worker(url: &str, env: &[(&str, &str)]) -> Self {
        Self::spawn(&["worker"], url, env)
    }

    pub fn sigkill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn sigterm(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.sigkill();
    }
}

pub async fn status(pool: &PgPool, id: Uuid) -> (String, i32) {
    sqlx::query_as("SELECT status, attempts FROM plans WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Why the plan failed: its error's `code` and `node`, with the whole error for messages.
pub async fn failure_of(pool: &PgPool, id: Uuid) -> (Option<String>, Option<String>, Value) {
    let error: Value = sqlx::query_scalar("SELECT error FROM plans WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap();
    let field = |name: &str| error[name].as_str().map(str::to_string);
    (field("code"), field("node"), error)
}

/// The finished plan's result JSON.
pub async fn result_of(pool: &PgPool, id: Uuid) -> Value {
    sqlx::query_scalar("SELECT result FROM plans WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Why the plan waits for approval.
pub async fn approval_reason(pool: &PgPool, id: Uuid) -> String {
    let approval: Value = sqlx::query_scalar("SELECT approval FROM plans WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap();
    approval["reason"].as_str().unwrap().to_string()
}

/// Polls until `done` holds for the plan's (status, attempts), or panics after `limit`.
pub async fn wait_for(pool: &PgPool, id: Uuid, limit: Duration, done: impl Fn(&str, i32) -> bool) -> (String, i32) {
    let start = Instant::now();
    loop {
        let (s, a) = status(pool, id).await;
        if done(&s, a) {
            return (s, a);
        }
        assert!(
            start.elapsed() < limit,
            "plan {id} still {s} (attempts {a}) after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How many events of `kind` the plan's timeline holds.
pub async fn events(pool: &PgPool, id: Uuid, kind: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM plan_events WHERE plan_id = $1 AND kind = $2")
        .bind(id)
        .bind(kind)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// What the process serving metrics at `addr` shows now.
pub async fn metrics(addr: &str) -> String {
    reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Waits up to 5 s for the process serving metrics at `addr` to show `line` (a worker
/// counts just after its commit, so the scrape may come a moment early).
pub async fn shows_metric(addr: &str, line: &str) {
    let start = Instant::now();
    loop {
        let metrics = metrics(addr).await;
        if metrics.contains(line) {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "no {line} in {metrics}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits up to `limit` for `ready`, checked every 50 ms; panics naming `what` after that.
pub async fn until(what: &str, limit: Duration, mut ready: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !ready().await {
        assert!(start.elapsed() < limit, "{what}: not after {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `planner api` process (or `dev`, by `command`) on a free port, once it answers
/// `/ready`; returns it with its base URL.
pub async fn api_process(command: &str, url: &str, env: &[(&str, &str)]) -> (Proc, String) {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut env = env.to_vec();
    env.push(("API_ADDR", &addr));
    let process = Proc::spawn(&[command], url, &env);
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();
    let start = Instant::now();
    loop {
        if let Ok(r) = client.get(format!("{base}/ready")).send().await
            && r.status() == 200
        {
            return (process, base);
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{command} never became ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn in_days(days: i64) -> String {
    (chrono::Local::now().date_naive() + chrono::Duration::days(days)).to_string()
}

/// Creates a plan (row, event and job) the way the API does, with its own attempt limit.
pub async fn create_plan(pool: &PgPool, request: &Value, max_attempts: i32) -> Uuid {
    let new = planner::store::submissions::NewPlan {
        trace_context: None,
        owner: "test",
        idempotency_key: None,
        request,
        max_attempts,
        not_before: None,
    };
    match planner::store::submissions::create(pool, new).await.unwrap() {
        planner::store::submissions::Created::New(plan) => plan.id,
        _ => panic!("plan not created"),
    }
}

/// Creates a due plan of `owner` the way the API does.
pub async fn plan_of(pool: &PgPool, owner: &str) -> Uuid {
    let request = serde_json::json!({"destination": "杭州", "start_date": in_days(5), "days": 2});
    let new = planner::store::submissions::NewPlan {
        owner,
        trace_context: None,
        idempotency_key: None,
        request: &request,
        max_attempts: 5,
        not_before: None,
    };
    match planner::store::submissions::create(pool, new).await.unwrap() {
        planner::store::submissions::Created::New(plan) => plan.id,
        _ => panic!("plan not created"),
    }
}

/// A database outage for one test database: every connection refused and the open ones
/// terminated, until `end`. Run through the server's admin database, which stays up.
pub struct Outage {
    admin: sqlx::PgConnection,
    name: String,
}

impl Outage {
    pub async fn start(pool: &PgPool) -> Self {
        use sqlx::{Connection, Executor};
        let name: String = sqlx::query_scalar("SELECT current_database()")
            .fetch_one(pool)
            .await
            .unwrap();
        let name = name.as_str();
        let mut admin = sqlx::PgConnection::connect(&std::env::var("DATABASE_URL").unwrap())
            .await
            .unwrap();
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false"
            )))
            .await
            .unwrap();
        sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
            .bind(name)
            .execute(&mut admin)
            .await
            .unwrap();
        Self {
            admin,
            name: name.to_string(),
        }
    }

    pub async fn end(mut self) {
        use sqlx::Executor;
        let sql = format!("ALTER DATABASE \"{}\" ALLOW_CONNECTIONS true", self.name);
        self.admin.execute(sqlx::AssertSqlSafe(sql)).await.unwrap();
    }
}
pub mod fakes;
pub mod pg_proxy;
pub mod sse;
