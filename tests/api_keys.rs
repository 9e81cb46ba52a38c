//! API keys and owner scoping with `AUTH_MODE=required`: who may call, and what each caller
//! can see. Another owner's plan is `404` on every route that names a plan; lists show the
//! caller's own; an admin sees all; a revoked key is refused; the probes stay open. The
//! `planner keys` commands are run as the real binary.

mod common;

use std::{process::Command, sync::Arc, time::Duration};

use common::{call, database_url, in_days, migrated};
use planner::{
    api::{self, auth::token},
    config::{AuthMode, Settings},
    store::{keys, states::Role},
};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

fn guarded(pool: &PgPool) -> axum::Router {
    let mut settings = Settings::for_database("postgres://unused").unwrap();
    settings.auth_mode = AuthMode::Required;
    api::router(api::AppState::new(pool.clone(), Arc::new(settings)))
}

async fn key(pool: &PgPool, name: &str, role: Role) -> String {
    let new = token::generate();
    assert!(matches!(
        keys::create(pool, name, role, &new.hash, &new.shown).await.unwrap(),
        keys::Created::Created
    ));
    format!("Bearer {}", new.token)
}

async fn submit(app: &axum::Router, auth: &str, city: &str) -> Uuid {
    let body = json!({"destination": city, "start_date": in_days(5), "days": 2}).to_string();
    let reply = call(app, "POST", "/v1/plans", Some(&body), &[("authorization", auth)]).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    Uuid::parse_str(reply.body["id"].as_str().unwrap()).unwrap()
}

#[sqlx::test(migrations = false)]
async fn without_a_valid_key_only_the_probes_answer(pool: PgPool) {
    migrated(&pool).await;
    let app = guarded(&pool);
    let unknown = format!("Bearer tp_{}", "ab".repeat(32));
    for (headers, code) in [
        (vec![], "missing_api_key"),
        (vec![("authorization", "Bearer nope")], "invalid_api_key"),
        (vec![("authorization", "Basic dXNlcjpwYXNz")], "invalid_api_key"),
        (vec![("authorization", unknown.as_str())], "invalid_api_key"),
    ] {
        for (method, uri) in [
            ("GET", "/v1/plans"),
            ("POST", "/v1/plans"),
            ("GET", "/tasks"),
            ("POST", "/chat"),
        ] {
            let reply = call(&app, method, uri, Some("{}"), &headers).await;
            assert_eq!(reply.status, 401, "{method} {uri}: {}", reply.text);
            assert_eq!(reply.body["error"]["code"], code);
            assert_eq!(reply.body["error"]["field"], "Authorization");
            let challenge = reply.headers["www-authenticate"].to_str().unwrap();
            assert!(challenge.starts_with("Bearer realm="), "{challenge}");
        }
    }
    for uri in ["/health", "/ready", "/metrics", "/openapi.json"] {
        assert_eq!(call(&app, "GET", uri, None, &[]).await.status, 200, "{uri}");
    }
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM plans")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, 0);
}

#[sqlx::test(migrations = false)]
async fn another_owners_plan_does_not_exist_for_a_user_and_an_admin_sees_all(pool: PgPool) {
    migrated(&pool).await;
    let app = guarded(&pool);
    let alice = key(&pool, "alice", Role::User).await;
    let bob = key(&pool, "bob", Role::User).await;
    let admin = key(&pool, "ops", Role::Admin).await;
    let mine = submit(&app, &alice, "杭州").await;
    let theirs = submit(&app, &bob, "成都").await;
    let owner: String = sqlx::query_scalar("SELECT owner FROM plans WHERE id = $1")
        .bind(mine)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(owner, "alice", "a plan belongs to the key that submitted it");

    let as_alice = [("authorization", alice.as_str())];
    for (method, path) in [
        ("GET", "/v1/plans/{}"),
        ("GET", "/v1/plans/{}/events"),
        ("GET", "/v1/plans/{}/itinerary.md"),
        ("POST", "/v1/plans/{}/cancel"),
        ("POST", "/v1/plans/{}/approve"),
        ("POST", "/v1/plans/{}/reject"),
        ("POST", "/v1/plans/{}/retry"),
        ("GET", "/status/{}"),
        ("GET", "/download/{}"),
    ] {
        let uri = path.replace("{}", &theirs.to_string());
        let reply = call(&app, method, &uri, None, &as_alice).await;
        assert_eq!(reply.status, 404, "{method} {uri}: {}", reply.text);
        assert_eq!(reply.body["error"]["code"], "not_found", "{method} {uri}");
        // The same route on her own plan is not a 404.
        let own = path.replace("{}", &mine.to_string());
        if method == "GET" && !own.ends_with("/events") {
            let reply = call(&app, method, &own, None, &as_alice).await;
            assert_ne!(reply.status, 404, "{method} {own}: {}", reply.text);
        }
    }
    let (status, _) = common::status(&pool, theirs).await;
    assert_eq!(status, "queued", "bob's plan was not cancelled by alice");

    let listed = call(&app, "GET", "/v1/plans", None, &as_alice).await;
    let ids: Vec<&str> = listed.body["plans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [mine.to_string()]);
    let tasks = call(&app, "GET", "/tasks", None, &as_alice).await;
    assert_eq!(tasks.body["tasks"].as_array().unwrap().len(), 1);

    let as_admin = [("authorization", admin.as_str())];
    let all = call(&app, "GET", "/v1/plans", None, &as_admin).await;
    assert_eq!(all.body["plans"].as_array().unwrap().len(), 2);
    assert_eq!(
        call(&app, "GET", &format!("/v1/plans/{theirs}"), None, &as_admin)
            .await
            .status,
        200
    );

    // A decision records the key that made it.
    sqlx::query(
        "UPDATE plans SET status = 'awaiting_approval', approval = '{\"reason\": \"over_budget\"}' WHERE id = $1",
    )
    .bind(theirs)
    .execute(&pool)
    .await
    .unwrap();
    let approved = call(&app, "POST", &format!("/v1/plans/{theirs}/approve"), None, &as_admin).await;
    assert_eq!(approved.status, 200, "{}", approved.text);
    assert_eq!(approved.body["approval"]["decided_by"], "ops");
}

#[sqlx::test(migrations = false)]
async fn a_revoked_key_is_refused(pool: PgPool) {
    migrated(&pool).await;
    let app = guarded(&pool);
    let carol = key(&pool, "carol", Role::User).await;
    let headers = [("authorization", carol.as_str())];
    assert_eq!(call(&app, "GET", "/v1/plans", None, &headers).await.status, 200);
    assert!(keys::revoke(&pool, "carol").await.unwrap());
    // Looked up again once the process's cache of it expires (REVOCATION_DELAY).
    let patience = std::time::Instant::now();
    loop {
        let reply = call(&app, "GET", "/v1/plans", None, &headers).await;
        if reply.status == 401 {
            assert_eq!(reply.body["error"]["code"], "invalid_api_key");
            break;
        }
        assert!(
            patience.elapsed() < Duration::from_secs(30),
            "a revoked key still answered"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn keys_command(url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_planner"))
        .arg("keys")
        .args(args)
        .env("DATABASE_URL", url)
        .output()
        .expect("run planner keys")
}

#[sqlx::test(migrations = false)]
async fn the_keys_commands_make_list_and_revoke_keys_a_real_api_honours(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    let made = keys_command(&url, &["create", "--name", "dana", "--role", "admin"]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let token = String::from_utf8(made.stdout).unwrap().trim().to_string();
    assert!(token.starts_with("tp_") && token.len() == 67, "{token}");

    assert_eq!(keys_command(&url, &["create", "--name", "dana"]).status.code(), Some(1));
    assert_eq!(
        keys_command(&url, &["create", "--name", "no spaces"]).status.code(),
        Some(2)
    );

    let (_api, base) = common::api_process("api", &url, &[("AUTH_MODE", "required")]).await;
    let client = reqwest::Client::new();
    let refused = client.get(format!("{base}/v1/plans")).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let allowed = client
        .get(format!("{base}/v1/plans"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);

    let listed = keys_command(&url, &["list"]);
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(listed.contains("dana") && listed.contains("admin"), "{listed}");
    assert!(!listed.contains(&token), "a token is never shown again");
    assert!(listed.contains(&token[..10]), "its prefix identifies it");

    assert!(keys_command(&url, &["revoke", "dana"]).status.success());
    assert_eq!(keys_command(&url, &["revoke", "dana"]).status.code(), Some(1));
}

#[sqlx::test(migrations = false)]
async fn a_key_over_its_rate_is_told_when_to_come_back_and_others_are_not_slowed(pool: PgPool) {
    migrated(&pool).await;
    let mut settings = Settings::for_database("postgres://unused").unwrap();
    settings.auth_mode = AuthMode::Required;
    settings.rate_limit_user_per_min = 3;
    let app = api::router(api::AppState::new(pool.clone(), Arc::new(settings)));
    let eve = key(&pool, "eve", Role::User).await;
    let fay = key(&pool, "fay", Role::User).await;
    for _ in 0..3 {
        assert_eq!(
            call(&app, "GET", "/v1/plans", None, &[("authorization", &eve)])
                .await
                .status,
            200
        );
    }
    let limited = call(&app, "GET", "/v1/plans", None, &[("authorization", &eve)]).await;
    assert_eq!(limited.status, 429, "{}", limited.text);
    assert_eq!(limited.body["error"]["code"], "rate_limited");
    let retry_after: u64 = limited.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=20).contains(&retry_after), "{retry_after}");
    assert_eq!(
        call(&app, "GET", "/v1/plans", None, &[("authorization", &fay)])
            .await
            .status,
        200
    );
}

#[sqlx::test(migrations = false)]
async fn a_key_with_few_plans_is_not_kept_behind_a_key_with_many(pool: PgPool) {
    migrated(&pool).await;
    let app = guarded(&pool);
    let heavy = key(&pool, "heavy", Role::User).await;
    let light = key(&pool, "light", Role::User).await;
    let mut many = Vec::new();
    for _ in 0..12 {
        many.push(submit(&app, &heavy, "杭州").await);
    }
    let few = submit(&app, &light, "成都").await;
    // Two slots, one plan of an owner at a time: the light key's plan takes the free slot.
    let url = database_url(&pool).await;
    let _worker = common::Proc::worker(
        &url,
        &[
            ("WORKER_CONCURRENCY", "2"),
            ("OWNER_MAX_RUNNING", "1"),
            ("PLANNER_FAULT_NODE_DELAY", "draft=300"),
        ],
    );
    common::wait_for(&pool, few, Duration::from_secs(60), |s, _| s == "succeeded").await;
    let heavy_open: i64 =
        sqlx::query_scalar("SELECT count(*) FROM plans WHERE owner = 'heavy' AND status IN ('queued', 'running')")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(
        heavy_open >= 6,
        "the light key's plan waited for the heavy key's backlog ({heavy_open} left)"
    );
    let reply = call(
        &app,
        "GET",
        &format!("/v1/plans/{few}"),
        None,
        &[("authorization", &light)],
    )
    .await;
    assert_eq!(reply.body["status"], "succeeded");
}
