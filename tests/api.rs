//! The REST API against a real database: validation errors name the field and never reach
//! the queue; submit, read, list, idempotency, cancel and the Markdown itinerary.

mod common;

use common::{call, in_days, migrated, router};
use serde_json::json;
use sqlx::PgPool;

/// Plans (the queue) and events: a refused request writes neither.
async fn counts(pool: &PgPool) -> (i64, i64) {
    let plans: i64 = sqlx::query_scalar("SELECT count(*) FROM plans")
        .fetch_one(pool)
        .await
        .unwrap();
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM plan_events")
        .fetch_one(pool)
        .await
        .unwrap();
    (plans, events)
}

#[sqlx::test(migrations = false)]
async fn bad_input_gets_a_json_error_naming_the_field_and_never_reaches_the_queue(pool: PgPool) {
    migrated(&pool).await;
    let app = router(&pool);
    let date = in_days(5);
    let past = in_days(-1);
    let cases: Vec<(String, u16, &str)> = vec![
        (json!({"destination": "杭州", "days": 0}).to_string(), 400, "days"),
        (json!({"destination": "杭州", "days": 31}).to_string(), 400, "days"),
        (
            json!({"destination": "杭州", "travelers": 0}).to_string(),
            400,
            "travelers",
        ),
        (
            json!({"destination": "杭州", "travelers": 21}).to_string(),
            400,
            "travelers",
        ),
        (
            json!({"destination": "杭州", "budget": {"amount": 0}}).to_string(),
            400,
            "budget.amount",
        ),
        (
            json!({"destination": "杭州", "budget": {"amount": -5, "currency": "CNY"}}).to_string(),
            400,
            "budget.amount",
        ),
        (
            json!({"destination": "杭州", "budget": {"amount": 100, "currency": "XYZ"}}).to_string(),
            400,
            "budget.currency",
        ),
        (
            json!({"destination": "杭州", "start_date": "2026-13-40"}).to_string(),
            400,
            "start_date",
        ),
        (
            json!({"destination": "杭州", "start_date": "next week"}).to_string(),
            400,
            "start_date",
        ),
        (
            json!({"destination": "杭州", "start_date": past}).to_string(),
            400,
            "start_date",
        ),
        (
            json!({"destination": "杭州", "pace": "sprint"}).to_string(),
            400,
            "pace",
        ),
        (
            json!({"destination": "杭州", "interests": ["skydiving"]}).to_string(),
            400,
            "interests",
        ),
        (json!({"destination": "杭州", "days": "three"}).to_string(), 400, "days"),
        (
            json!({"destination": "杭州", "colour": "red"}).to_string(),
            400,
            "colour",
        ),
        (
            json!({"destination": "Atlantis", "start_date": date}).to_string(),
            422,
            "destination",
        ),
        (json!({"query": "3 days in Lisbon for 2"}).to_string(), 422, "query"),
        (json!({"query": "asdf qwerty zxcv"}).to_string(), 422, "query"),
        (json!({"query": "   "}).to_string(), 400, "query"),
        // Characters whose lowercase has another byte length, around a holiday's name.
        (json!({"query": "İ元旦ẞ"}).to_string(), 422, "query"),
        (json!({}).to_string(), 400, "destination"),
        ("{\"destination\": \"杭州\", ".to_string(), 400, "body"),
        ("not json at all".to_string(), 400, "body"),
        ("[1, 2, 3]".to_string(), 400, "body"),
    ];
    for (body, status, field) in cases {
        let reply = call(&app, "POST", "/v1/plans", Some(&body), &[]).await;
        assert_eq!(reply.status, status, "{body} → {}", reply.text);
        assert_eq!(reply.body["error"]["field"], field, "{body} → {}", reply.text);
        assert!(
            reply.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{}",
            reply.text
        );
        assert!(reply.body["error"]["code"].is_string());
    }
    // An unknown destination lists the supported ones.
    let reply = call(
        &app,
        "POST",
        "/v1/plans",
        Some(&json!({"destination": "Atlantis"}).to_string()),
        &[],
    )
    .await;
    let supported = reply.body["error"]["supported"]
        .as_array()
        .expect("supported destinations");
    assert!(supported.len() >= 15 && supported.iter().any(|s| s.as_str().unwrap().contains("杭州")));

    // A body over 64 KiB.
    let huge = json!({"destination": "杭州", "query": "杭".repeat(70 * 1024)}).to_string();
    let reply = call(&app, "POST", "/v1/plans", Some(&huge), &[]).await;
    assert_eq!(reply.status, 413, "{}", reply.text);
    assert_eq!(reply.body["error"]["code"], "body_too_large");

    assert_eq!(counts(&pool).await, (0, 0), "no bad request may reach the queue");
}

#[sqlx::test(migrations = false)]
async fn submit_then_read_list_and_cancel(pool: PgPool) {
    migrated(&pool).await;
    let app = router(&pool);
    let body = json!({"destination": "杭州", "start_date": in_days(3), "days": 3, "travelers": 2,
                      "budget": {"amount": 3000, "currency": "CNY"}, "interests": ["food", "nature"]});
    let reply = call(&app, "POST", "/v1/plans", Some(&body.to_string()), &[]).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    assert_eq!(reply.body["status"], "queued");
    let id = reply.body["id"].as_str().unwrap().to_string();
    assert_eq!(reply.headers["location"], format!("/v1/plans/{id}").as_str());
    assert_eq!(reply.body["request"]["destination"], "杭州");

    // The plan is in the queue, due now, with its `queued` event: written together.
    let queued: Vec<(String, i32, Option<String>, bool)> =
        sqlx::query_as("SELECT status, max_attempts, delay_reason, due_at <= now() FROM plans")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(queued, vec![("queued".to_string(), 5, None, true)]);
    let kinds: Vec<String> = sqlx::query_scalar("SELECT kind FROM plan_events ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(kinds, vec!["queued".to_string()]);

    let reply = call(&app, "GET", &format!("/v1/plans/{id}"), None, &[]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["progress"]["percent"], 0);

    // Not finished: no itinerary yet.
    let reply = call(&app, "GET", &format!("/v1/plans/{id}/itinerary.md"), None, &[]).await;
    assert_eq!(reply.status, 409, "{}", reply.text);

    // Free text too.
    let reply = call(
        &app,
        "POST",
        "/v1/plans",
        Some(&json!({"query": "帮我规划成都3天2晚，两个人，预算5000元"}).to_string()),
        &[],
    )
    .await;
    assert_eq!(reply.status, 202, "{}", reply.text);

    // List: newest first, status filter, pagination by cursor.
    let reply = call(&app, "GET", "/v1/plans?limit=1", None, &[]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["plans"].as_array().unwrap().len(), 1);
    assert_eq!(
        reply.body["plans"][0]["request"]["query"],
        "帮我规划成都3天2晚，两个人，预算5000元"
    );
    let cursor = reply.body["next_cursor"].as_str().unwrap().to_string();
    let reply = call(&app, "GET", &format!("/v1/plans?limit=1&cursor={cursor}"), None, &[]).await;
    assert_eq!(reply.body["plans"][0]["id"], id.as_str());
    let reply = call(&app, "GET", "/v1/plans?status=succeeded", None, &[]).await;
    assert_eq!(reply.body["plans"].as_array().unwrap().len(), 0);
    for (query, field) in [
        ("status=done", "status"),
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("cursor=xyz", "cursor"),
    ] {
        let reply = call(&app, "GET", &format!("/v1/plans?{query}"), None, &[]).await;
        assert_eq!(
            (reply.status, reply.body["error"]["field"].as_str()),
            (400, Some(field)),
            "{query}"
        );
    }

    // Cancel a queued plan: cancelled at once; a second cancel conflicts.
    let reply = call(&app, "POST", &format!("/v1/plans/{id}/cancel"), None, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["status"], "cancelled");
    let reply = call(&app, "POST", &format!("/v1/plans/{id}/cancel"), None, &[]).await;
    assert_eq!(reply.status, 409);

    // Unknown and malformed ids.
    let reply = call(&app, "GET", "/v1/plans/00000000-0000-0000-0000-000000000000", None, &[]).await;
    assert_eq!(reply.status, 404);
    let reply = call(&app, "GET", "/v1/plans/not-a-uuid", None, &[]).await;
    assert_eq!((reply.status, reply.body["error"]["field"].as_str()), (400, Some("id")));
    let reply = call(&app, "POST", "/v1/plans/not-a-uuid/cancel", None, &[]).await;
    assert_eq!(reply.status, 400);
    let reply = call(&app, "GET", "/v1/nothing", None, &[]).await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.body["error"]["code"], "not_found");
}

#[sqlx::test(migrations = false)]
async fn the_same_idempotency_key_gives_the_same_plan_and_one_job(pool: PgPool) {
    migrated(&pool).await;
    let app = router(&pool);
    let body = json!({"destination": "西安", "start_date": in_days(2), "days": 2}).to_string();
    let key = [("Idempotency-Key", "order-42")];
    let first = call(&app, "POST", "/v1/plans", Some(&body), &key).await;
    let second = call(&app, "POST", "/v1/plans", Some(&body), &key).await;
    assert_eq!(first.status, 202);
    assert_eq!(second.status, 202);
    assert_eq!(first.body["id"], second.body["id"]);
    assert_eq!(second.headers["idempotent-replayed"], "true");
    assert_eq!(counts(&pool).await, (1, 1));

    // Concurrent repeats still make one plan.
    let replies = futures::future::join_all(
        (0..8).map(|_| call(&app, "POST", "/v1/plans", Some(&body), &[("Idempotency-Key", "race")])),
    )
    .await;
    let ids: std::collections::HashSet<_> = replies.iter().map(|r| r.body["id"].to_string()).collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(counts(&pool).await, (2, 2));

    // The same key with another request is a conflict, not a silent replay.
    let other = json!({"destination": "西安", "start_date": in_days(2), "days": 4}).to_string();
    let reply = call(&app, "POST", "/v1/plans", Some(&other), &key).await;
    assert_eq!(reply.status, 409, "{}", reply.text);
    assert_eq!(reply.body["error"]["field"], "Idempotency-Key");
    let reply = call(&app, "POST", "/v1/plans", Some(&body), &[("Idempotency-Key", "")]).await;
    assert_eq!(reply.status, 400);
    assert_eq!(counts(&pool).await, (2, 2));
}

#[sqlx::test(migrations = false)]
async fn health_and_readiness(pool: PgPool) {
    let app = router(&pool);
    // Not migrated yet: alive but not ready.
    assert_eq!(call(&app, "GET", "/health", None, &[]).await.status, 200);
    let reply = call(&app, "GET", "/ready", None, &[]).await;
    assert_eq!(reply.status, 503, "{}", reply.text);
    assert_eq!(reply.body["error"]["code"], "not_ready");
    migrated(&pool).await;
    assert_eq!(call(&app, "GET", "/ready", None, &[]).await.status, 200);
    // Every migration the binary knows must be there, not just the newest.
    let (first,): (i64,) = sqlx::query_as(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT min(version) FROM _sqlx_migrations) RETURNING version",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let reply = call(&app, "GET", "/ready", None, &[]).await;
    assert_eq!(reply.status, 503, "{}", reply.text);
    assert!(reply.text.contains(&first.to_string()), "{}", reply.text);
}

#[sqlx::test(migrations = false)]
async fn a_missing_database_is_created_and_migrations_are_idempotent(pool: PgPool) {
    let base = common::database_url(&pool).await;
    let name = format!("planner_created_{}", uuid::Uuid::new_v4().simple());
    let url = format!("{}/{name}", base.rsplit_once('/').unwrap().0);
    let created = planner::db::connect(&url, 4).await.expect("database created");
    // Two concurrent migrators: the advisory lock serialises them.
    let (a, b) = tokio::join!(planner::db::migrate(&created), planner::db::migrate(&created));
    a.unwrap();
    b.unwrap();
    planner::db::migrate(&created).await.unwrap();
    assert!(planner::db::is_ready(&created).await.is_ok());
    created.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE \"{name}\" WITH (FORCE)")))
        .execute(&pool)
        .await
        .unwrap();
}
