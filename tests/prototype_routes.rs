//! The Python prototype's routes against the real database: `POST /plan` → `GET /status`
//! → `GET /download` → `GET /tasks` with a plan run to completion by an in-process worker,
//! `POST /chat` in Chinese and English, what the planner cannot honour kept and named, every
//! bad input a JSON 4xx naming the field; and `GET /v1/destinations`.

mod common;

use std::{
    collections::BTreeSet,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::Router;
use common::{
    Reply, call,
    fakes::{self, LlmReply, OPENAI_KEY},
    in_days, migrated, router, wait_for,
};
use planner::{
    api,
    config::{Secret, Settings},
    queue::{executor::Executor, worker},
    travel::sources::Sources,
};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn has_han(text: &str) -> bool {
    text.chars().any(|c| ('\u{4E00}'..='\u{9FFF}').contains(&c))
}

async fn plans_count(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM plans")
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn stored_request(pool: &PgPool, id: &str) -> Value {
    sqlx::query_scalar("SELECT request FROM plans WHERE id = $1")
        .bind(Uuid::parse_str(id).unwrap())
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Polls `GET /status/{id}` until `done` holds, or panics after `limit` (a hang guard).
async fn status_until(app: &Router, id: &str, limit: Duration, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let reply = call(app, "GET", &format!("/status/{id}"), None, &[]).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        if done(&reply.body) {
            return reply.body;
        }
        assert!(
            start.elapsed() < limit,
            "task {id} still {} after {limit:?}",
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A worker in this process on the embedded sources; stopped by sending on the channel.
fn worker_on(
    pool: &PgPool,
) -> (
    tokio::task::JoinHandle<anyhow::Result<()>>,
    tokio::sync::oneshot::Sender<()>,
) {
    let settings = Settings::for_database("postgres://unused").expect("settings from the environment");
    let executor = Executor::new(pool.clone(), &settings, Sources::embedded(&settings));
    worker::spawn_in_process(pool.clone(), executor, settings)
}

fn assert_error(reply: &Reply, status: u16, field: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(reply.body["error"]["field"], field, "{}", reply.text);
    assert!(reply.body["error"]["code"].is_string(), "{}", reply.text);
    assert!(reply.body["error"]["message"].is_string(), "{}", reply.text);
}

#[sqlx::test(migrations = false)]
async fn a_form_plan_runs_to_completion_downloads_and_is_listed(pool: PgPool) {
    migrated(&pool).await;
    let app = router(&pool);
    let form = json!({
        "destination": "杭州", "start_date": in_days(3), "end_date": in_days(5),
        "budget_range": "中等预算 (800-1500元/天)", "group_size": 2,
        "interests": ["历史文化", "美食", "潜水"], "dietary_restrictions": "素食",
        "activity_level": "轻松", "travel_style": "文化深度游", "transportation_preference": "公共交通",
        "accommodation_preference": "", "special_occasion": "结婚纪念日", "special_requirements": "",
        "currency": "CNY"
    });
    let reply = call(&app, "POST", "/plan", Some(&form.to_string()), &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(keys(&reply.body), set(&["task_id", "status", "message"]));
    assert_eq!(reply.body["status"], "started");
    assert!(reply.body["message"].as_str().unwrap().contains("dietary_restrictions"));
    let id = reply.body["task_id"].as_str().unwrap().to_string();

    // Queued, nothing run yet.
    let reply = call(&app, "GET", &format!("/status/{id}"), None, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        keys(&reply.body),
        set(&["task_id", "status", "progress", "current_agent", "message", "result"])
    );
    assert_eq!(reply.body["task_id"], id.as_str());
    assert_eq!(reply.body["status"], "started");
    assert_eq!(reply.body["progress"], 0);
    assert_eq!(reply.body["current_agent"], Value::Null);
    assert_eq!(reply.body["result"], Value::Null);
    // Not done: nothing to download.
    let reply = call(&app, "GET", &format!("/download/{id}"), None, &[]).await;
    assert_error(&reply, 409, "task_id");

    // Mapped onto the v1 request, with what cannot be planned for kept as sent.
    let request = stored_request(&pool, &id).await;
    assert_eq!(request["days"], 3);
    assert_eq!(request["travelers"], 2);
    assert_eq!(request["budget"], json!({"amount": 9000.0, "currency": "CNY"}));
    assert_eq!(request["pace"], "relaxed");
    assert_eq!(request["interests"], json!(["culture", "food", "history"]));
    assert_eq!(
        request["unhonoured"],
        json!({"dietary_restrictions": "素食", "interests": ["潜水"], "special_occasion": "结婚纪念日",
               "transportation_preference": "公共交通", "travel_style": "文化深度游"})
    );

    let (task, stop) = worker_on(&pool);
    let done = status_until(&app, &id, Duration::from_secs(60), |b| {
        matches!(b["status"].as_str(), Some("completed" | "failed"))
    })
    .await;
    let _ = stop.send(());
    let _ = task.await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["progress"], 100);
    assert_eq!(done["current_agent"], Value::Null);
    assert!(
        done["message"].as_str().unwrap().contains("dietary_restrictions"),
        "{done}"
    );
    let result = &done["result"];
    assert_eq!(result["destination"], "杭州");
    assert_eq!(result["travelers"], 2);
    assert_eq!(result["days"].as_array().unwrap().len(), 3);
    assert_eq!(result["start_date"], in_days(3).as_str());
    assert_eq!(result["end_date"], in_days(5).as_str());
    // The warning names every field the planner could not honour, and the plan carries it.
    let warning = result["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .find(|w| w.contains("dietary_restrictions"))
        .unwrap_or_else(|| panic!("no warning names the unhonoured fields: {}", result["warnings"]))
        .to_string();
    for named in [
        "travel_style",
        "transportation_preference",
        "special_occasion",
        "潜水",
        "素食",
    ] {
        assert!(warning.contains(named), "{warning} does not name {named}");
    }
    let plan = call(&app, "GET", &format!("/v1/plans/{id}"), None, &[]).await;
    assert!(plan.body["warnings"].as_array().unwrap().contains(&json!(warning)));

    let reply = call(&app, "GET", &format!("/download/{id}"), None, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.headers["content-type"], "application/json");
    assert_eq!(
        reply.headers["content-disposition"].to_str().unwrap(),
        format!("attachment; filename=\"travel_plan_{id}.json\"")
    );
    assert_eq!(&reply.body, result);

    let reply = call(&app, "GET", "/tasks", None, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(keys(&reply.body), set(&["tasks"]));
    let tasks = reply.body["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(
        keys(&tasks[0]),
        set(&["task_id", "status", "created_at", "destination"])
    );
    assert_eq!(tasks[0]["task_id"], id.as_str());
    assert_eq!(tasks[0]["status"], "completed");
    assert_eq!(tasks[0]["destination"], "杭州");
}

#[sqlx::test(migrations = false)]
async fn the_status_of_a_plan_awaiting_approval_then_rejected(pool: PgPool) {
    migrated(&pool).await;
    let app = router(&pool);
    let body = json!({"destination": "Chengdu", "start_date": in_days(2), "days": 1, "require_approval": true});
    let reply = call(&app, "POST", "/v1/plans", Some(&body.to_string()), &[]).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let id = reply.body["id"].as_str().unwrap().to_string();
    let uuid = Uuid::parse_str(&id).unwrap();

    let (task, stop) = worker_on(&pool);
    wait_for(&pool, uuid, Duration::from_secs(60), |s, _| s == "awaiting_approval").await;
    let _ = stop.send(());
    let _ = task.await;

    let reply = call(&app, "GET", &format!("/status/{id}"), None, &[]).await;
    assert_eq!(reply.body["status"], "processing", "{}", reply.text);
    assert_eq!(reply.body["current_agent"], "approval");
    let progress = reply.body["progress"].as_u64().unwrap();
    assert!((1..100).contains(&progress), "{progress}");
    let message = reply.body["message"].as_str().unwrap();
    assert!(
        message.contains("awaits approval") && message.contains("/approve"),
        "{message}"
    );
    assert_eq!(reply.body["result"], Value::Null);

    let reply = call(&app, "POST", &format!("/v1/plans/{id}/reject"), None, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let reply = call(&app, "GET", &format!("/status/{id}"), None, &[]).await;
    assert_eq!(reply.body["status"], "failed");
    assert!(
        reply.body["message"].as_str().unwrap().contains("rejected"),
        "{}",
        reply.text
    );
    let reply = call(&app, "GET", "/tasks", None, &[]).await;
    assert_eq!(reply.body["tasks"][0]["status"], "failed");
    assert_eq!(reply.body["tasks"][0]["destination"], "Chengdu");

    // A cancelled plan has failed too, and says so in the request's language.
    let body = json!({"destination": "杭州", "start_date": in_days(2), "days": 2});
    let reply = call(&app, "POST", "/v1/plans", Some(&body.to_string()), &[]).await;
    let id = reply.body["id"].as_str().unwrap().to_string();
    let reply = call(&app, "POST", &format!("/v1/plans/{id}/cancel"), None, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let reply = call(&app, "GET", &format!("/status/{id}"), None, &[]).await;
    assert_eq!(reply.body["status"], "failed");
    assert_eq!(reply.body["message"], "任务已取消");
    let reply = call(&app, "GET", &format!("/download/{id}"), None, &[]).await;
    assert_error(&reply, 409, "task_id");
}

#[sqlx::test(migrations = false)]
async fn chat_submits_a_complete_message_and_asks_for_what_is_missing(pool: PgPool) {
    migrated(&pool).await;
    let app = router(&pool);
    let expected = set(&[
        "understood",
        "extracted_info",
        "missing_info",
        "clarification",
        "can_proceed",
        "task_id",
    ]);

    let message = "帮我规划杭州3天的旅行，两个人，预算3000元，喜欢美食和自然风光";
    let reply = call(
        &app,
        "POST",
        "/chat",
        Some(&json!({"message": message}).to_string()),
        &[],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(keys(&reply.body), expected);
    assert_eq!(reply.body["understood"], true);
    assert_eq!(reply.body["can_proceed"], true);
    assert_eq!(reply.body["missing_info"], json!([]));
    let info = &reply.body["extracted_info"];
    assert_eq!(info["destination"], "杭州");
    assert_eq!(info["days"], 3);
    assert_eq!(info["travelers"], 2);
    assert_eq!(info["budget"], json!({"amount": 3000.0, "currency": "CNY"}));
    assert_eq!(info["interests"], json!(["food", "nature"]));
    assert!(has_han(reply.body["clarification"].as_str().unwrap()));
    let id = reply.body["task_id"].as_str().unwrap().to_string();
    let request = stored_request(&pool, &id).await;
    assert_eq!(request["query"], message);
    assert_eq!(request["destination"], "杭州");
    let reply = call(&app, "GET", &format!("/status/{id}"), None, &[]).await;
    assert_eq!(reply.body["status"], "started");

    // Nothing to plan yet: asks, in Chinese, for a destination and dates; no task.
    let reply = call(
        &app,
        "POST",
        "/chat",
        Some(&json!({"message": "我想去旅游"}).to_string()),
        &[],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(keys(&reply.body), expected);
    assert_eq!(reply.body["understood"], false);
    assert_eq!(reply.body["can_proceed"], false);
    assert_eq!(reply.body["missing_info"], json!(["destination", "dates"]));
    assert_eq!(reply.body["task_id"], Value::Null);
    let clarification = reply.body["clarification"].as_str().unwrap();
    assert!(
        clarification.contains("哪个城市") && clarification.contains("杭州"),
        "{clarification}"
    );

    // English: asked in English; a known city without dates still needs them.
    let body = json!({"message": "I would like to visit Chengdu with my wife"});
    let reply = call(&app, "POST", "/chat", Some(&body.to_string()), &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["understood"], true);
    assert_eq!(reply.body["extracted_info"]["destination"], "Chengdu");
    assert_eq!(reply.body["missing_info"], json!(["dates"]));
    assert_eq!(reply.body["can_proceed"], false);
    let clarification = reply.body["clarification"].as_str().unwrap();
    assert!(
        !has_han(clarification) && clarification.contains("When"),
        "{clarification}"
    );

    // A city we have no data for is named, and a destination asked for.
    let reply = call(
        &app,
        "POST",
        "/chat",
        Some(&json!({"message": "我想去巴黎玩5天"}).to_string()),
        &[],
    )
    .await;
    assert_eq!(reply.body["missing_info"], json!(["destination"]));
    assert_eq!(reply.body["extracted_info"]["unsupported_destination"], "巴黎");
    assert!(reply.body["clarification"].as_str().unwrap().contains("巴黎"));
    assert_eq!(reply.body["task_id"], Value::Null);

    // English and complete: planned, in English.
    let body = json!({"message": "3 days in Chengdu for 2, budget 5000 CNY"});
    let reply = call(&app, "POST", "/chat", Some(&body.to_string()), &[]).await;
    assert_eq!(reply.body["can_proceed"], true, "{}", reply.text);
    assert!(!has_han(reply.body["clarification"].as_str().unwrap()));
    let id = reply.body["task_id"].as_str().unwrap().to_string();
    assert_eq!(stored_request(&pool, &id).await["language"], "en");
    assert_eq!(plans_count(&pool).await, 2, "only complete messages are planned");

    // Bad messages.
    let cases = [
        (json!({}), "message"),
        (json!({"message": "  "}), "message"),
        (json!({"message": "杭州3天\u{0}"}), "message"),
        (json!({"message": "杭".repeat(2001)}), "message"),
        (json!({"message": 5}), "message"),
        (json!({"message": "杭州3天", "session": "x"}), "session"),
    ];
    for (body, field) in cases {
        let reply = call(&app, "POST", "/chat", Some(&body.to_string()), &[]).await;
        assert_error(&reply, 400, field);
    }
    assert_eq!(plans_count(&pool).await, 2);
}

#[sqlx::test(migrations = false)]
async fn with_an_llm_chat_asks_it_for_a_destination_the_rules_cannot_place(pool: PgPool) {
    migrated(&pool).await;
    let llm = fakes::openai(Arc::new(|req| {
        let destination = if fakes::last_user_message(req).contains("terracotta") {
            json!("xian")
        } else {
            Value::Null
        };
        LlmReply::Content(
            json!({"destination": destination, "start_date": null, "days": null, "travelers": null,
                   "budget_amount": null, "budget_currency": null, "interests": [], "pace": null})
            .to_string(),
        )
    }))
    .await;
    let mut settings = Settings::for_database("postgres://unused").expect("settings from the environment");
    settings.live.openai_base_url = Some(llm.url.clone());
    settings.live.openai_api_key = Some(Secret(OPENAI_KEY.into()));
    let app = api::router(api::AppState::new(pool.clone(), Arc::new(settings)));

    // The rules find two days and no city; the LLM names Xi'an: planned.
    let message = "Take my wife and me to see the terracotta warriors, two days";
    let reply = call(
        &app,
        "POST",
        "/chat",
        Some(&json!({"message": message}).to_string()),
        &[],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["extracted_info"]["destination"], "Xi'an", "{}", reply.text);
    assert_eq!(reply.body["extracted_info"]["days"], 2);
    assert_eq!(reply.body["can_proceed"], true);
    let id = reply.body["task_id"].as_str().unwrap().to_string();
    assert_eq!(stored_request(&pool, &id).await["destination"], "Xi'an");
    assert_eq!(llm.count("/v1/chat/completions"), 1);

    // The LLM cannot place it either: asked for, in English.
    let reply = call(
        &app,
        "POST",
        "/chat",
        Some(&json!({"message": "somewhere nice for two days"}).to_string()),
        &[],
    )
    .await;
    assert_eq!(reply.body["missing_info"], json!(["destination"]), "{}", reply.text);
    assert_eq!(reply.body["task_id"], Value::Null);
    // Asked, and asked again to repair an answer that does not validate.
    let asked = llm.count("/v1/chat/completions");
    assert!(asked > 1, "{asked}");

    // A city the rules know needs no LLM.
    let reply = call(
        &app,
        "POST",
        "/chat",
        Some(&json!({"message": "3 days in Chengdu"}).to_string()),
        &[],
    )
    .await;
    assert_eq!(reply.body["can_proceed"], true, "{}", reply.text);
    assert_eq!(llm.count("/v1/chat/completions"), asked);
    assert_eq!(plans_count(&pool).await, 2);
}

#[sqlx::test(migrations = false)]
async fn bad_input_is_a_json_error_naming_the_prototypes_field(pool: PgPool) {
    migrated(&pool).await;
    let app = router(&pool);
    let base = json!({"destination": "杭州", "start_date": in_days(3), "end_date": in_days(5)});
    let cases = [
        (json!({"start_date": "2026/12/01"}), 400, "start_date"),
        (json!({"end_date": "tomorrow"}), 400, "end_date"),
        (json!({"end_date": in_days(2)}), 400, "end_date"),
        (json!({"end_date": in_days(40)}), 400, "end_date"),
        (
            json!({"start_date": in_days(-3), "end_date": in_days(-1)}),
            400,
            "start_date",
        ),
        (json!({"group_size": 0}), 400, "group_size"),
        (json!({"group_size": 21}), 400, "group_size"),
        (json!({"group_size": "two"}), 400, "group_size"),
        (json!({"destination": "巴黎"}), 422, "destination"),
        (json!({"destination": null}), 400, "destination"),
        (json!({"budget_range": "随便"}), 400, "budget_range"),
        (json!({"activity_level": "飞快"}), 400, "activity_level"),
        (json!({"currency": "XYZ"}), 400, "currency"),
        (json!({"interests": "美食"}), 400, "interests"),
        (json!({"colour": "red"}), 400, "colour"),
        (
            json!({"special_requirements": "轮椅\u{0}"}),
            400,
            "special_requirements",
        ),
        (json!({"interests": ["美食", "a\u{0}"]}), 400, "interests[1]"),
        (json!({"destination": "杭州\u{0}"}), 400, "destination"),
        (
            json!({"dietary_restrictions": ["素\u{0}"]}),
            400,
            "dietary_restrictions[0]",
        ),
    ];
    for (change, status, field) in cases {
        let mut body = base.clone();
        body.as_object_mut()
            .unwrap()
            .extend(change.as_object().unwrap().clone());
        let reply = call(&app, "POST", "/plan", Some(&body.to_string()), &[]).await;
        assert_error(&reply, status, field);
    }
    let reply = call(&app, "POST", "/plan", Some("[1]"), &[]).await;
    assert_error(&reply, 400, "body");

    // The v1 route refuses a NUL too, before the database sees it.
    let body = json!({"destination": "杭州", "query": "杭州3天\u{0}"});
    let reply = call(&app, "POST", "/v1/plans", Some(&body.to_string()), &[]).await;
    assert_error(&reply, 400, "query");
    assert_eq!(plans_count(&pool).await, 0, "no bad request may reach the queue");

    let unknown = Uuid::new_v4();
    for route in ["status", "download"] {
        let reply = call(&app, "GET", &format!("/{route}/not-a-uuid"), None, &[]).await;
        assert_error(&reply, 400, "task_id");
        let reply = call(&app, "GET", &format!("/{route}/%00"), None, &[]).await;
        assert_error(&reply, 400, "task_id");
        let reply = call(&app, "GET", &format!("/{route}/{unknown}"), None, &[]).await;
        assert_error(&reply, 404, "task_id");
    }
}

#[sqlx::test(migrations = false)]
async fn destinations_lists_the_catalog(pool: PgPool) {
    let app = router(&pool);
    let reply = call(&app, "GET", "/v1/destinations", None, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let list = reply.body["destinations"].as_array().unwrap();
    assert_eq!(list.len(), 15);
    let ids: Vec<&str> = list.iter().map(|d| d["id"].as_str().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "sorted by id");
    for d in list {
        assert_eq!(
            keys(d),
            set(&["id", "name_zh", "name_en", "country", "latitude", "longitude"])
        );
        assert!(has_han(d["name_zh"].as_str().unwrap()), "{d}");
        assert!(d["name_en"].as_str().unwrap().is_ascii(), "{d}");
        assert!(!d["country"].as_str().unwrap().is_empty(), "{d}");
        assert!((-90.0..=90.0).contains(&d["latitude"].as_f64().unwrap()), "{d}");
        assert!((-180.0..=180.0).contains(&d["longitude"].as_f64().unwrap()), "{d}");
    }
    let hangzhou = list.iter().find(|d| d["id"] == "hangzhou").unwrap();
    assert_eq!(hangzhou["name_zh"], "杭州");
    assert_eq!(hangzhou["name_en"], "Hangzhou");
    assert!((hangzhou["latitude"].as_f64().unwrap() - 30.27).abs() < 0.5);
}
