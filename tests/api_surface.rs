//! What every client meets whatever it sends: every non-2xx is the JSON error body (a 405, a
//! path or query the router cannot read, a timeout, a NUL character in any text field), and
//! a fresh process exports its counters at 0 before anything has happened. The OpenAPI
//! document names every route of the router, and Swagger UI at `/docs` is served whole from
//! the binary.

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

/// The router's routes, read from `api::router`'s `.route(…)` calls: `(path, method)`.
fn routes_in_the_router() -> Vec<(String, String)> {
    let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/api/mod.rs")).unwrap();
    let body = source
        .split("pub fn router(")
        .nth(1)
        .and_then(|rest| rest.split("\n}\n").next())
        .expect("api::router is in src/api/mod.rs");
    let route = regex::Regex::new(r#"\.route\(\s*"([^"]+)",\s*(.+)\)\s*$"#).unwrap();
    let method = regex::Regex::new(r"\b(get|post|put|delete|patch)\(").unwrap();
    let mut routes = Vec::new();
    for line in body.lines() {
        if let Some(found) = route.captures(line.trim()) {
            for m in method.captures_iter(&found[2]) {
                routes.push((found[1].to_string(), m[1].to_string()));
            }
        }
    }
    routes
}

fn document() -> Value {
    api::openapi::document()
}

/// The web page's routes (`/`, `/assets/{file}`) are HTML and files, not API: they are
/// merged from `api::web` rather than routed in `api::router`, so the route table above does
/// not hold them, and the document leaves them out.
#[test]
fn the_web_pages_routes_are_not_in_the_openapi_document() {
    let doc = document();
    let paths = doc["paths"].as_object().unwrap();
    assert!(!paths.contains_key("/"), "the page is not an API operation");
    assert!(!paths.keys().any(|p| p.starts_with("/assets")), "{:?}", paths.keys());
    assert!(
        !routes_in_the_router()
            .iter()
            .any(|(p, _)| p == "/" || p.starts_with("/assets"))
    );
}

#[test]
fn every_route_of_the_router_is_in_the_openapi_document_and_no_other() {
    let routes = routes_in_the_router();
    assert!(routes.len() >= 18, "the route table was not read: {routes:?}");
    let doc = document();
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in &routes {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{} {path} is routed but not in the OpenAPI document",
            method.to_uppercase()
        );
    }
    let documented: Vec<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| ["get", "post", "put", "delete", "patch"].contains(&k.as_str()))
                .map(move |m| (path.clone(), m.clone()))
        })
        .collect();
    for operation in &documented {
        assert!(routes.contains(operation), "{operation:?} is documented but not routed");
    }
    for (path, _) in routes
        .iter()
        .filter(|(p, _)| ["/plan", "/status/{task_id}", "/download/{task_id}", "/tasks", "/chat"].contains(&p.as_str()))
    {
        let tags = paths[path].as_object().unwrap().values().next().unwrap()["tags"].clone();
        assert_eq!(tags, json!(["prototype"]), "{path}");
    }
}

#[test]
fn every_operation_documents_a_4xx_with_the_error_body() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let error = &doc["components"]["schemas"]["ErrorBody"];
    assert_eq!(error["required"], json!(["error"]), "{error}");
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let errors: Vec<&Value> = operation["responses"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(status, _)| status.starts_with('4'))
                .map(|(_, response)| &response["content"]["application/json"]["schema"]["$ref"])
                .collect();
            assert!(!errors.is_empty(), "{method} {path} documents no 4xx");
            for schema in errors {
                assert_eq!(schema, "#/components/schemas/ErrorBody", "{method} {path}");
            }
        }
    }
}

#[test]
fn the_event_stream_documents_its_data_its_resume_header_and_query() {
    let doc = document();
    let stream = &doc["paths"]["/v1/plans/{id}/events"]["get"];
    assert_eq!(
        stream["responses"]["200"]["content"]["text/event-stream"]["schema"]["$ref"],
        "#/components/schemas/PlanEvent"
    );
    let event = &doc["components"]["schemas"]["PlanEvent"]["properties"];
    assert_eq!(event["data"]["contentMediaType"], "application/json");
    assert!(doc["components"]["schemas"]["EventData"]["properties"]["percent"].is_object());
    let params: Vec<(&str, &str)> = stream["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["in"].as_str().unwrap()))
        .collect();
    for expected in [("id", "path"), ("after", "query"), ("Last-Event-ID", "header")] {
        assert!(params.contains(&expected), "{expected:?} in {params:?}");
    }
    let mut ids: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .map(|op| op["operationId"].as_str().unwrap())
        .collect();
    let count = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), count, "operation ids are unique: {ids:?}");
    let submit = &doc["paths"]["/v1/plans"]["post"];
    assert_eq!(
        submit["responses"]["202"]["links"]["get_plan"]["parameters"]["id"],
        "$response.body#/id"
    );
    assert!(
        submit["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "Idempotency-Key")
    );
    assert!(submit["responses"]["202"]["headers"]["Location"].is_object());
}

#[sqlx::test(migrations = false)]
async fn the_document_and_swagger_ui_are_served_from_the_binary(pool: PgPool) {
    migrated(&pool).await;
    let app = common::router(&pool);

    let served = call(&app, "GET", "/openapi.json", None, &[]).await;
    assert_eq!(served.status, 200, "{}", served.text);
    assert_eq!(served.body, document());

    let page = call(&app, "GET", "/docs/", None, &[]).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.headers["content-type"].to_str().unwrap().starts_with("text/html"));
    let asset = regex::Regex::new(r#"(?:src|href)="([^"]+)""#).unwrap();
    let assets: Vec<String> = asset.captures_iter(&page.text).map(|c| c[1].to_string()).collect();
    assert!(assets.iter().any(|a| a.ends_with(".js")), "{assets:?}");
    assert!(assets.iter().any(|a| a.ends_with(".css")), "{assets:?}");
    for asset in &assets {
        assert!(
            !asset.contains("://") && !asset.starts_with("//"),
            "{asset} is not on this server"
        );
        let path = format!("/docs/{}", asset.trim_start_matches("./"));
        let fetched = call(&app, "GET", &path, None, &[]).await;
        assert_eq!(fetched.status, 200, "{path}");
        assert!(!fetched.text.is_empty(), "{path}");
    }
    let initializer = call(&app, "GET", "/docs/swagger-initializer.js", None, &[]).await;
    assert_eq!(initializer.status, 200);
    assert!(initializer.text.contains("/openapi.json"), "{}", initializer.text);
}

/// Found by schemathesis: `?status=` listed every plan although the document allows only a
/// status there.
#[sqlx::test(migrations = false)]
async fn an_empty_status_or_limit_is_a_400_as_documented(pool: PgPool) {
    migrated(&pool).await;
    let app = common::router(&pool);
    for (query, field) in [("status=", "status"), ("limit=", "limit")] {
        let reply = call(&app, "GET", &format!("/v1/plans?{query}"), None, &[]).await;
        assert_json_error(&reply, 400, "invalid_request");
        assert_eq!(reply.body["error"]["field"], field, "{query}");
    }
    let first_page = call(&app, "GET", "/v1/plans?cursor=", None, &[]).await;
    assert_eq!(first_page.status, 200, "{}", first_page.text);
}
