//! The results store end to end, against real `planner` processes: an S3-compatible server on
//! loopback (moto, installed by `scripts/moto.sh` in /tmp/moto-venv) and a folder. A finished
//! plan's objects appear and match the plan; retention deletes them, later when the store is
//! down; a store that is down neither fails nor delays a plan, and its export is written once
//! the store is back; a bad `RESULTS_STORE` stops the start naming the variable.

mod common;

use std::{
    net::TcpStream,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use common::{Proc, api_process, database_url, free_port, in_days, migrated};
use object_store::{ObjectStoreExt, aws::AmazonS3Builder};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

const BUCKET: &str = "plans";
const PREFIX: &str = "exports/test";

/// A moto S3 server on a loopback port, killed when dropped.
struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    /// Starts moto on `port` and waits until it answers; fails the test with a clear message
    /// when it cannot (no skipping: run `scripts/moto.sh` to install it).
    async fn start(port: u16) -> Self {
        let program = std::env::var("MOTO_SERVER").unwrap_or_else(|_| "/tmp/moto-venv/bin/moto_server".into());
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start the S3 test server {program} ({e}): install it with `bash scripts/moto.sh`")
            });
        let mut moto = Self { child, port };
        let start = Instant::now();
        loop {
            if let Ok(r) = reqwest::get(moto.url("")).await
                && r.status().is_success()
            {
                return moto;
            }
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("the S3 test server {program} exited at start ({status}): is port {port} free?");
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the S3 test server {program} did not answer on port {port} within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    /// object_store cannot create buckets; moto's REST API can.
    async fn create_bucket(&self) {
        let r = reqwest::Client::new().put(self.url(BUCKET)).send().await.unwrap();
        assert!(r.status().is_success(), "bucket not created: {}", r.status());
    }

    /// The object's text read back from moto, `None` when it does not exist. Signed (moto
    /// refuses anonymous reads of private objects), through a client of our own.
    async fn object(&self, key: &str) -> Option<String> {
        let bucket = AmazonS3Builder::new()
            .with_endpoint(self.url(""))
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_bucket_name(BUCKET)
            .with_access_key_id("testing")
            .with_secret_access_key("testing")
            .build()
            .unwrap();
        match bucket.get(&object_store::path::Path::from(key)).await {
            Ok(got) => Some(String::from_utf8(got.bytes().await.unwrap().to_vec()).unwrap()),
            Err(object_store::Error::NotFound { .. }) => None,
            Err(e) => panic!("GET {key}: {e}"),
        }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The port is free again once nothing listens on it.
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_ok() && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What a process needs to use the bucket on `port`, with quick polls and retries.
fn s3_env(port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("RESULTS_STORE", format!("s3://{BUCKET}/{PREFIX}")),
        ("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}")),
        ("AWS_ALLOW_HTTP", "true".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("RESULTS_POLL_MS", "200".into()),
        ("RESULTS_RETRY_BASE_MS", "200".into()),
    ]
}

fn borrowed<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn key(id: Uuid, ext: &str) -> String {
    format!("{PREFIX}/{id}.{ext}")
}

async fn submit(base: &str) -> Uuid {
    let body = json!({"destination": "杭州", "start_date": in_days(5), "days": 2, "budget": {"amount": 5000, "currency": "CNY"}});
    let r = reqwest::Client::new()
        .post(format!("{base}/v1/plans"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let plan: Value = r.json().await.unwrap();
    plan["id"].as_str().unwrap().parse().unwrap()
}

async fn plan_view(base: &str, id: Uuid) -> Value {
    reqwest::get(format!("{base}/v1/plans/{id}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Polls the plan view until `done` holds for it, or panics after `limit`.
async fn wait_view(base: &str, id: Uuid, limit: Duration, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let view = plan_view(base, id).await;
        if done(&view) {
            return view;
        }
        assert!(start.elapsed() < limit, "plan {id}: not {what} after {limit:?}: {view}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_succeeded(base: &str, id: Uuid) -> Value {
    let view = wait_view(base, id, Duration::from_secs(60), "finished", |v| {
        !matches!(v["status"].as_str(), Some("queued" | "running"))
    })
    .await;
    assert_eq!(view["status"], "succeeded", "{view}");
    view
}

async fn wait_exported(base: &str, id: Uuid, limit: Duration) -> Value {
    wait_view(base, id, limit, "exported", |v| v["export"]["state"] == "exported").await
}

async fn metric(base: &str, line_start: &str) -> f64 {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {line_start} in /metrics"))
}

/// `planner cleanup` with retention 0: every terminal plan goes.
fn cleanup(url: &str, env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_planner"));
    cmd.arg("cleanup")
        .env("DATABASE_URL", url)
        .env("RETENTION_DAYS", "0")
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run planner cleanup");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "cleanup failed: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

async fn plan_count(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM plans")
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn deletion(pool: &PgPool, id: Uuid) -> Option<(i32, Option<String>)> {
    sqlx::query_as("SELECT attempts, last_error FROM result_deletions WHERE plan_id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = false)]
async fn a_finished_plan_is_exported_to_s3_and_retention_deletes_its_objects(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    let moto = Moto::start(free_port()).await;
    moto.create_bucket().await;
    let env = s3_env(moto.port);
    let (_dev, base) = api_process("dev", &url, &borrowed(&env)).await;
    let id = submit(&base).await;
    let done = wait_succeeded(&base, id).await;
    let view = wait_exported(&base, id, Duration::from_secs(30)).await;
    let export = &view["export"];
    assert_eq!(
        export["location"],
        format!("s3://{BUCKET}/{}", key(id, "json")),
        "{export}"
    );
    assert!(
        export["attempts"].as_i64().unwrap() >= 1 && export["last_error"].is_null(),
        "{export}"
    );
    // The objects are the plan: its result and its Markdown download, which still work.
    let json: Value = serde_json::from_str(&moto.object(&key(id, "json")).await.expect("JSON object")).unwrap();
    assert_eq!(json, done["result"]);
    let markdown = moto.object(&key(id, "md")).await.expect("Markdown object");
    let download = reqwest::get(format!("{base}/v1/plans/{id}/itinerary.md"))
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.text().await.unwrap(), markdown);
    assert_eq!(
        metric(&base, "planner_result_exports_total{outcome=\"exported\"}").await,
        1.0
    );
    assert_eq!(
        metric(&base, "planner_result_exports_total{outcome=\"retry\"}").await,
        0.0
    );
    // Retention: the plan goes, and `planner cleanup` deletes its objects before it exits.
    let said = cleanup(&url, &borrowed(&env));
    assert!(said.contains("deleted 1 plans"), "{said}");
    assert_eq!(plan_count(&pool).await, 0);
    assert_eq!(moto.object(&key(id, "json")).await, None);
    assert_eq!(moto.object(&key(id, "md")).await, None);
    assert_eq!(deletion(&pool, id).await, None, "the deletion is done");
}

#[sqlx::test(migrations = false)]
async fn objects_of_plans_retention_removed_while_the_store_was_down_are_deleted_later(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    let moto = Moto::start(free_port()).await;
    moto.create_bucket().await;
    let env = s3_env(moto.port);
    let (mut dev, base) = api_process("dev", &url, &borrowed(&env)).await;
    let id = submit(&base).await;
    wait_succeeded(&base, id).await;
    wait_exported(&base, id, Duration::from_secs(30)).await;
    dev.sigkill();
    // The cleanup sees the store down (nothing listens on its endpoint): the plan is deleted
    // all the same, and the deletion of its objects waits in the outbox.
    let mut down = s3_env(free_port());
    down.retain(|(k, _)| *k != "AWS_ENDPOINT_URL");
    down.push(("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{}", free_port())));
    cleanup(&url, &borrowed(&down));
    assert_eq!(plan_count(&pool).await, 0);
    let (attempts, error) = deletion(&pool, id).await.expect("the deletion is recorded");
    assert_eq!(attempts, 1);
    assert!(
        error.as_deref().is_some_and(|e| e.contains("cannot delete")),
        "{error:?}"
    );
    assert!(moto.object(&key(id, "json")).await.is_some());
    // A worker that reaches the store deletes them on its retry.
    let _worker = Proc::worker(&url, &borrowed(&env));
    let start = Instant::now();
    while deletion(&pool, id).await.is_some() {
        assert!(start.elapsed() < Duration::from_secs(30), "objects never deleted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(moto.object(&key(id, "json")).await, None);
    assert_eq!(moto.object(&key(id, "md")).await, None);
}

#[sqlx::test(migrations = false)]
async fn a_store_that_is_down_neither_fails_nor_delays_a_plan_and_the_export_lands_when_it_is_back(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    // Nothing listens on the store's port yet.
    let port = free_port();
    let env = s3_env(port);
    let (_dev, base) = api_process("dev", &url, &borrowed(&env)).await;
    let submitted = Instant::now();
    let id = submit(&base).await;
    let done = wait_succeeded(&base, id).await;
    assert!(
        submitted.elapsed() < Duration::from_secs(20),
        "the plan took {:?}",
        submitted.elapsed()
    );
    assert_eq!(done["attempts"], 1, "{done}");
    let view = wait_view(&base, id, Duration::from_secs(30), "retrying its export", |v| {
        v["export"]["attempts"].as_i64().unwrap_or(0) >= 1 && v["export"]["last_error"].is_string()
    })
    .await;
    let export = &view["export"];
    assert_eq!(export["state"], "pending", "{export}");
    assert!(
        export["next_attempt_at"].is_string() && export["location"].is_null(),
        "{export}"
    );
    assert!(metric(&base, "planner_result_exports_total{outcome=\"retry\"}").await >= 1.0);
    // The store comes up (an empty one: the bucket made again); a retry writes the objects.
    let moto = Moto::start(port).await;
    moto.create_bucket().await;
    let view = wait_exported(&base, id, Duration::from_secs(60)).await;
    assert!(view["export"]["attempts"].as_i64().unwrap() >= 2, "{view}");
    let json: Value = serde_json::from_str(&moto.object(&key(id, "json")).await.expect("JSON object")).unwrap();
    assert_eq!(json, done["result"]);
    assert!(moto.object(&key(id, "md")).await.is_some());
}

#[sqlx::test(migrations = false)]
async fn a_file_store_writes_both_files_and_a_broken_folder_fails_no_plan(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    let dir = std::env::temp_dir().join(format!("planner-results-{}", Uuid::new_v4()));
    // A folder below a regular file cannot be made: every export fails until it can.
    let blocker = std::env::temp_dir().join(format!("planner-blocker-{}", Uuid::new_v4()));
    std::fs::write(&blocker, b"not a directory").unwrap();
    let broken = blocker.join("results");
    let file_url = |dir: &PathBuf| format!("file://{}", dir.display());
    let quick = [("RESULTS_POLL_MS", "200"), ("RESULTS_RETRY_BASE_MS", "200")];
    let good = file_url(&dir);
    let mut env = vec![("RESULTS_STORE", good.as_str())];
    env.extend(quick);
    let (good_dev, base) = api_process("dev", &url, &env).await;
    let id = submit(&base).await;
    let done = wait_succeeded(&base, id).await;
    let view = wait_exported(&base, id, Duration::from_secs(30)).await;
    assert_eq!(
        view["export"]["location"],
        format!("file://{}/{id}.json", dir.display())
    );
    let json: Value = serde_json::from_slice(&std::fs::read(dir.join(format!("{id}.json"))).unwrap()).unwrap();
    assert_eq!(json, done["result"]);
    let markdown = std::fs::read_to_string(dir.join(format!("{id}.md"))).unwrap();
    assert!(markdown.contains(done["result"]["destination"].as_str().unwrap()));

    // Stopped first: its exporter shares the outbox and would write the next plan into the
    // good folder.
    drop(good_dev);
    let bad = file_url(&broken);
    let mut env = vec![("RESULTS_STORE", bad.as_str())];
    env.extend(quick);
    let (_broken_dev, base) = api_process("dev", &url, &env).await;
    let id = submit(&base).await;
    let done = wait_succeeded(&base, id).await;
    assert_eq!(done["attempts"], 1);
    let view = wait_view(&base, id, Duration::from_secs(30), "retrying its export", |v| {
        v["export"]["last_error"].is_string()
    })
    .await;
    assert_eq!(view["export"]["state"], "pending", "{view}");
    let _ = std::fs::remove_file(&blocker);
    let _ = std::fs::remove_dir_all(&dir);
}

#[sqlx::test(migrations = false)]
async fn a_bad_results_store_stops_the_start_naming_the_variable(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    for (value, says) in [
        ("ftp://x", "not supported"),
        ("s3://", "no bucket"),
        ("file://relative/results", "absolute path"),
        ("s3://plans/a//b", "not a valid object prefix"),
    ] {
        let mut worker = Command::new(env!("CARGO_BIN_EXE_planner"))
            .arg("worker")
            .env("DATABASE_URL", &url)
            .env("WORKER_ADDR", "127.0.0.1:0")
            .env("RESULTS_STORE", value)
            .env("LOG_FORMAT", "json")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn planner worker");
        let start = Instant::now();
        while worker.try_wait().unwrap().is_none() {
            if start.elapsed() > Duration::from_secs(30) {
                let _ = worker.kill();
                panic!("{value}: the worker started");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let out = worker.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{value}: the worker started");
        assert!(
            stderr.contains("RESULTS_STORE") && stderr.contains(says),
            "{value}: {stderr}"
        );
    }
}
