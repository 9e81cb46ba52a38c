//! What every client meets whatever it sends: every non-2xx is the JSON error body (a 405, a
//! path or query the router cannot read, a timeout, a NUL character in any text field), and
//! a fresh process exports its counters at 0 before anything has happened.

mod common;

use std::{sync::Arc, time::Duration};

use common::{api_process, call, database_url, in_days, migrated};
use planner::{api, config::Settings, store::states::PlanStatus};
use serde_json::{Value, json};
use sqlx::PgPool;

fn assert_json_error(reply: &common::Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    let content_type = reply.headers["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("application/json"), "{content_type}");
    assert_eq!(reply.body["error"]["code"], code, "{}", reply.text);
    assert!(reply.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[sqlx::test(migrations = false)]
async fn what_the_router_refuses_by_itself_is_json_too(pool: PgPool) {
    migrated(&pool).await;
    let app = common::router(&pool);

    let wrong_method = call(&app, "DELETE", "/v1/plans", None, &[]).await;
    assert_json_error(&wrong_method, 405, "method_not_allowed");
    let allow = wrong_method.headers["allow"].to_str().unwrap();
    assert!(allow.contains("POST") && allow.contains("GET"), "{allow}");

    let bad_query = call(&app, "GET", "/v1/plans?limit=1&limit=2", None, &[]).await;
    assert_json_error(&bad_query, 400, "invalid_request");
    assert_eq!(bad_query.body["error"]["field"], "query");

    let bad_path = call(&app, "GET", "/v1/plans/%FF%FE", None, &[]).await;
    assert_json_error(&bad_path, 400, "invalid_request");
    assert_eq!(bad_path.body["error"]["field"], "path");

    let no_route = call(&app, "GET", "/v2/nothing", None, &[]).await;
    assert_json_error(&no_route, 404, "not_found");

    let not_json = call(&app, "POST", "/v1/plans", Some("destination=杭州"), &[]).await;
    assert_json_error(&not_json, 400, "malformed_json");
}

#[sqlx::test(migrations = false)]
async fn a_nul_character_in_any_text_field_is_a_400_naming_it(pool: PgPool) {
    migrated(&pool).await;
    let app = common::router(&pool);
    let valid = json!({
        "destination": "杭州", "start_date": in_days(5), "days": 2, "travelers": 2,
        "budget": {"amount": 3000, "currency": "CNY"}, "interests": ["美食"], "pace": "relaxed",
        "language": "zh", "query": "杭州两天", "not_before": "2026-12-01T08:00:00+08:00",
    });
    let fields: [(&str, &[&str]); 8] = [
        ("destination", &["destination"]),
        ("start_date", &["start_date"]),
        ("pace", &["pace"]),
        ("language", &["language"]),
        ("query", &["query"]),
        ("not_before", &["not_before"]),
        ("budget.currency", &["budget", "currency"]),
        ("interests[0]", &["interests", "0"]),
    ];
    for (field, path) in fields {
        let mut body = valid.clone();
        let mut at = &mut body;
        for step in path {
            at = match step.parse::<usize>() {
                Ok(i) => &mut at[i],
                Err(_) => &mut at[*step],
            };
        }
        *at = Value::String("a\u{0}b".to_string());
        let reply = call(&app, "POST", "/v1/plans", Some(&body.to_string()), &[]).await;
        assert_json_error(&reply, 400, "invalid_request");
        assert_eq!(reply.body["error"]["field"], field, "{}", reply.text);
    }
    // The fuzzer's case, verbatim.
    let reply = call(&app, "POST", "/v1/plans", Some(r#"{"query": "\u0000"}"#), &[]).await;
    assert_json_error(&reply, 400, "invalid_request");
    assert_eq!(reply.body["error"]["field"], "query");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM plans")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, 0, "nothing with a NUL reached the queue");
}

#[sqlx::test(migrations = false)]
async fn a_request_that_takes_too_long_is_a_408_json_error(pool: PgPool) {
    migrated(&pool).await;
    let mut settings = Settings::for_database("postgres://unused").unwrap();
    settings.api_request_timeout = Duration::from_millis(300);
    let app = api::router(api::AppState::new(pool.clone(), Arc::new(settings)));
    let plan = common::submit(
        &app,
        &json!({"destination": "南京", "start_date": in_days(4), "days": 2}),
    )
    .await;

    // Another session holds the plan's row: cancelling it waits on the lock.
    let mut holder = pool.begin().await.unwrap();
    sqlx::query("SELECT id FROM plans WHERE id = $1 FOR UPDATE")
        .bind(plan)
        .execute(&mut *holder)
        .await
        .unwrap();
    let reply = call(&app, "POST", &format!("/v1/plans/{plan}/cancel"), None, &[]).await;
    assert_json_error(&reply, 408, "timeout");
    holder.rollback().await.unwrap();

    let (status, _) = common::status(&pool, plan).await;
    assert_eq!(status, "queued", "the timed-out cancel changed nothing");
}

#[sqlx::test(migrations = false)]
async fn a_fresh_api_process_exports_its_counters_at_zero(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    let (_api, base) = api_process("api", &url, &[]).await;
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut expected = vec![
        "planner_plans_submitted_total 0".to_string(),
        "planner_timeouts_total{scope=\"node\"} 0".to_string(),
        "planner_timeouts_total{scope=\"plan\"} 0".to_string(),
        "planner_live_streams 0".to_string(),
    ];
    for status in PlanStatus::TERMINAL {
        expected.push(format!("planner_plans_finished_total{{status=\"{status}\"}} 0"));
    }
    for kind in planner::metrics::REQUEUE_KINDS {
        expected.push(format!("planner_plan_requeues_total{{kind=\"{kind}\"}} 0"));
    }
    for line in expected {
        assert!(metrics.lines().any(|l| l == line), "missing `{line}` in:\n{metrics}");
    }
    let terminal: Vec<&str> = PlanStatus::TERMINAL.iter().map(|s| s.as_str()).collect();
    assert_eq!(terminal, planner::metrics::FINISHED_STATUSES);
}
