//! The binary as people use it: `planner dev` serving the API with a worker inside,
//! `planner plan` both against that API and fully in-process, the metrics, `eval`, the
//! profile a process reads away from its `config/` folder, and `healthcheck`.

mod common;

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use common::{Proc, database_url, free_port, migrated};
use sqlx::PgPool;

fn plan_command(args: &[&str], url: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_planner"))
        .args(args)
        .env("DATABASE_URL", url)
        .stdin(Stdio::null())
        .output()
        .expect("run planner plan")
}

/// A probe: the URL answers 200 (a refused connection is not an answer).
async fn answers_ok(client: &reqwest::Client, url: &str) -> bool {
    client.get(url).send().await.is_ok_and(|r| r.status() == 200)
}

#[sqlx::test(migrations = false)]
async fn dev_serves_the_api_and_plan_prints_the_itinerary(pool: PgPool) {
    let url = database_url(&pool).await;
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let _dev = Proc::spawn(&["dev"], &url, &[("API_ADDR", &addr)]);
    let api = format!("http://{addr}");
    let client = reqwest::Client::new();
    let start = Instant::now();
    while !answers_ok(&client, &format!("{api}/ready")).await {
        assert!(start.elapsed() < Duration::from_secs(30), "dev never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let out = tokio::task::spawn_blocking({
        let (api, url) = (api.clone(), url.clone());
        move || {
            plan_command(
                &[
                    "plan",
                    "杭州3天2晚，两个人，预算3000元，喜欢美食和自然风光",
                    "--api",
                    &api,
                ],
                &url,
            )
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("# 杭州") && stdout.contains("第 3 天") && stdout.contains("合计"),
        "{stdout}"
    );

    let out = tokio::task::spawn_blocking({
        let (api, url) = (api.clone(), url.clone());
        move || {
            plan_command(
                &[
                    "plan",
                    "3 days in Chengdu for 2, budget 5000 CNY",
                    "--api",
                    &api,
                    "--json",
                ],
                &url,
            )
        }
    })
    .await
    .unwrap();
    assert!(out.status.success());
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("--json prints the plan as JSON");
    assert_eq!(plan["status"], "succeeded");
    assert_eq!(
        plan["result"]["destination"], "Chengdu",
        "an English request is answered in English"
    );
    assert_eq!(plan["result"]["days"].as_array().unwrap().len(), 3);

    // An impossible budget fails with the reason and a budget that would work.
    let out = tokio::task::spawn_blocking(move || plan_command(&["plan", "上海5天，预算100元", "--api", &api], &url))
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Asked in Chinese, answered in Chinese: the budget that would work (可行).
    assert!(stderr.contains("plan failed") && stderr.contains("可行"), "{stderr}");
}

#[sqlx::test(migrations = false)]
async fn plan_runs_in_process_without_an_api(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    let out = tokio::task::spawn_blocking({
        let url = url.clone();
        move || plan_command(&["plan", "西安两晚，一个人，预算2000元，喜欢历史"], &url)
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("# 西安") && stdout.contains("第 3 天"), "{stdout}");
    let (status, total): (String, f64) =
        sqlx::query_as("SELECT status, (result->'costs'->>'total')::float8 FROM plans")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(status, "succeeded");
    assert!(total <= 2000.0);

    let out = tokio::task::spawn_blocking(move || plan_command(&["plan", "asdf"], &url))
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no destination found"));
}

#[sqlx::test(migrations = false)]
async fn the_api_and_each_worker_export_prometheus_metrics(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    let (api_addr, worker_addr) = (
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
    );
    let _api = Proc::spawn(&["api"], &url, &[("API_ADDR", &api_addr)]);
    let _worker = Proc::worker(&url, &[("WORKER_ADDR", &worker_addr)]);
    let client = reqwest::Client::new();
    let start = Instant::now();
    loop {
        if answers_ok(&client, &format!("http://{api_addr}/ready")).await
            && answers_ok(&client, &format!("http://{worker_addr}/health")).await
        {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "api or worker never came up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let body = serde_json::json!({"destination": "成都", "start_date": common::in_days(3), "days": 2});
    let submitted: serde_json::Value = client
        .post(format!("http://{api_addr}/v1/plans"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = uuid::Uuid::parse_str(submitted["id"].as_str().unwrap()).unwrap();
    common::wait_for(&pool, id, Duration::from_secs(30), |s, _| s == "succeeded").await;
    let _ = client
        .get(format!("http://{api_addr}/v1/plans/{id}"))
        .send()
        .await
        .unwrap();

    let api_metrics = metrics_of(&client, &api_addr).await;
    for name in [
        "planner_http_requests_total{route=\"/v1/plans\",method=\"POST\",status=\"202\"}",
        "planner_http_request_duration_seconds_bucket{route=\"/v1/plans/{id}\"",
        "planner_plans_submitted_total",
        "planner_queue_depth{status=\"queued\"}",
        "planner_queue_oldest_age_seconds",
    ] {
        assert!(api_metrics.contains(name), "api /metrics lacks {name}:\n{api_metrics}");
    }
    let worker_metrics = metrics_of(&client, &worker_addr).await;
    for name in [
        "planner_plans_finished_total{status=\"succeeded\"} 1",
        "planner_plan_duration_seconds_count{status=\"succeeded\"} 1",
        "planner_queue_wait_seconds_count 1",
        "planner_graph_run_duration_seconds_count{outcome=\"succeeded\"} 1",
        "planner_node_duration_seconds_count{node=\"draft\",outcome=\"ok\"} 1",
        "planner_provider_calls_total{provider=\"maps\",outcome=\"ok\"} 2",
        "planner_provider_call_duration_seconds_count{provider=\"weather\"} 1",
        "planner_circuit_breaker_open{provider=\"weather\"} 0",
        "planner_worker_plans_in_flight 0",
    ] {
        assert!(
            worker_metrics.contains(name),
            "worker /metrics lacks {name}:\n{worker_metrics}"
        );
    }
}

async fn metrics_of(client: &reqwest::Client, addr: &str) -> String {
    client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[sqlx::test(migrations = false)]
async fn eval_scores_each_case_and_fails_on_a_miss(pool: PgPool) {
    let url = database_url(&pool).await;
    let dir = std::env::temp_dir().join(format!("planner-eval-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = dir.join("cases.jsonl");
    std::fs::write(
        &cases,
        concat!(
            "// a comment line is skipped\n",
            r#"{"name": "honoured", "request": {"query": "3 days in Chengdu for two"}, "expect": {"destination": "chengdu", "days": 3, "travelers": 2, "language": "en"}}"#,
            "\n",
            r#"{"name": "refused", "request": {"query": "去拉萨玩5天"}, "expect": {"refused": "query"}}"#,
            "\n",
        ),
    )
    .unwrap();
    let run = |file: &std::path::Path| {
        let (file, url) = (file.to_path_buf(), url.clone());
        move || plan_command(&["eval", file.to_str().unwrap()], &url)
    };
    let out = tokio::task::spawn_blocking(run(&cases)).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.contains("fidelity 4/4 fields") || stdout.contains("fidelity 5/5 fields"),
        "{stdout}"
    );
    assert!(stdout.contains("0 miss(es)"), "{stdout}");

    // A days count the plan does not have is a miss, and the run fails.
    std::fs::write(
        &cases,
        r#"{"name": "wrong", "request": {"query": "3 days in Chengdu for two"}, "expect": {"days": 4}}"#,
    )
    .unwrap();
    let out = tokio::task::spawn_blocking(run(&cases)).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(
        stdout.contains("MISS wrong") && stdout.contains("days 3 ≠ 4"),
        "{stdout}"
    );

    // A line that is not a case is named.
    std::fs::write(&cases, "{\"request\": 1, \"surprise\": true}\n").unwrap();
    let out = tokio::task::spawn_blocking(run(&cases)).await.unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1: not a case"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `APP_ENV=prod` means the prod profile (API keys required) wherever the binary runs: away
/// from a `config/` folder it reads the profile built into it, and a `CONFIG_DIR` without
/// the profile stops it at start rather than running on the defaults.
#[sqlx::test(migrations = false)]
async fn a_prod_process_away_from_its_config_folder_keeps_the_prod_profile(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    let elsewhere = std::env::temp_dir().join(format!("planner-elsewhere-{}", std::process::id()));
    std::fs::create_dir_all(&elsewhere).unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let mut api = Proc {
        child: Command::new(env!("CARGO_BIN_EXE_planner"))
            .arg("api")
            .current_dir(&elsewhere)
            .env("APP_ENV", "prod")
            .env_remove("CONFIG_DIR")
            .env_remove("AUTH_MODE")
            .env("DATABASE_URL", &url)
            .env("API_ADDR", &addr)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn planner api"),
    };
    let client = reqwest::Client::new();
    let start = Instant::now();
    while !answers_ok(&client, &format!("http://{addr}/ready")).await {
        assert!(start.elapsed() < Duration::from_secs(30), "the api never came up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let listed = client.get(format!("http://{addr}/v1/plans")).send().await.unwrap();
    assert_eq!(listed.status(), 401, "the prod profile requires API keys");
    api.sigkill();

    let refused = Command::new(env!("CARGO_BIN_EXE_planner"))
        .arg("api")
        .current_dir(&elsewhere)
        .env("APP_ENV", "prod")
        .env("CONFIG_DIR", elsewhere.join("missing"))
        .env("DATABASE_URL", &url)
        .env("API_ADDR", format!("127.0.0.1:{}", free_port()))
        .stdin(Stdio::null())
        .output()
        .expect("run planner api");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "started without its profile: {stderr}");
    assert!(stderr.contains("prod.toml"), "{stderr}");
    let _ = std::fs::remove_dir_all(&elsewhere);
}

/// A server on loopback that answers every request with `status` and closes.
async fn answering(status: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let reply = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = socket.write_all(reply.as_bytes()).await;
        }
    });
    format!("http://{addr}/health")
}

async fn healthcheck(url: &str) -> std::process::Output {
    let url = url.to_string();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_planner"))
            .args(["healthcheck", "--url", &url])
            .stdin(Stdio::null())
            .output()
            .expect("run planner healthcheck")
    })
    .await
    .unwrap()
}

/// The image's HEALTHCHECK (and a worker probe with `--url`): exit 0 only on a 2xx; an
/// error status or no answer exits 1 and says which URL failed how.
#[tokio::test]
async fn healthcheck_exits_non_zero_when_the_url_errs_or_does_not_answer() {
    let healthy = healthcheck(&answering("200 OK").await).await;
    assert!(healthy.status.success(), "{}", String::from_utf8_lossy(&healthy.stderr));

    let failing_url = answering("503 Service Unavailable").await;
    let failing = healthcheck(&failing_url).await;
    let stderr = String::from_utf8_lossy(&failing.stderr);
    assert_eq!(failing.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&failing_url) && stderr.contains("503"), "{stderr}");

    let closed_url = format!("http://127.0.0.1:{}/health", free_port());
    let closed = healthcheck(&closed_url).await;
    let stderr = String::from_utf8_lossy(&closed.stderr);
    assert_eq!(closed.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&closed_url), "{stderr}");
}

/// A rolling upgrade's other half: a process of the previous release (restarted mid-rollout,
/// or started by a rollback) finds the database migrated by a newer release. Migrations are
/// additive, so it starts, says so, and runs plans, rather than refusing to start.
#[sqlx::test(migrations = false)]
async fn a_process_of_the_previous_release_runs_on_a_database_a_newer_one_migrated(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (99990101000000, 'a newer release', true, '\\x00', 1)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let migrate = plan_command(&["migrate"], &url);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&migrate.stdout),
        String::from_utf8_lossy(&migrate.stderr)
    );
    assert!(migrate.status.success(), "refused the newer database: {said}");
    assert!(said.contains("migrations of a newer release"), "{said}");
    // The api is ready on it (readiness asks for every migration this binary knows) and a
    // worker runs plans.
    let (_api, _base) = common::api_process("api", &url, &[]).await;
    let request = serde_json::json!({"destination": "苏州", "start_date": common::in_days(3), "days": 2});
    let id = common::create_plan(&pool, &request, 3).await;
    let _worker = Proc::worker(&url, &[]);
    common::wait_for(&pool, id, Duration::from_secs(60), |s, _| s == "succeeded").await;
}
