//! Completion webhooks end to end: a receiver on loopback records what real worker processes
//! send it, verifies each signature with the secret independently, and can fail or hang on
//! the first requests. Also the SSRF guard at submit and at delivery, redirects not followed,
//! the outbox's uniqueness, and giving up after 24 h.

mod common;

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{Router, body::Bytes, extract::State, http::HeaderMap, http::StatusCode, routing::post};
use common::{Proc, call, database_url, in_days, migrated, wait_for};
use hmac::{Hmac, KeyInit, Mac};
use planner::{
    api,
    config::{Secret, Settings},
    queue::maintenance::webhook_sender,
};
use serde_json::{Value, json};
use sha2::Sha256;
use sqlx::PgPool;
use uuid::Uuid;

const SECRET: &str = "whsec_test_secret";

/// What the workers need to send to a loopback receiver quickly.
const WORKER_ENV: [(&str, &str); 4] = [
    ("WEBHOOK_SECRET", SECRET),
    ("WEBHOOK_ALLOW_PRIVATE", "true"),
    ("WEBHOOK_RETRY_BASE_MS", "200"),
    ("WEBHOOK_POLL_MS", "200"),
];

#[derive(Debug, Clone)]
struct Received {
    delivery: String,
    event: String,
    signature: String,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }
}

#[derive(Default)]
struct Inbox {
    received: Mutex<Vec<Received>>,
    /// Answer 503 to this many requests first.
    fail_first: AtomicUsize,
    /// Hold this many requests first without answering.
    hang_first: AtomicUsize,
}

/// A receiver on loopback: its URL and what it has received.
async fn receiver() -> (String, Arc<Inbox>) {
    let inbox = Arc::new(Inbox::default());
    let app = Router::new().route("/hook", post(receive)).with_state(inbox.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, inbox)
}

async fn receive(State(inbox): State<Arc<Inbox>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    inbox.received.lock().unwrap().push(Received {
        delivery: header("x-planner-delivery"),
        event: header("x-planner-event"),
        signature: header("x-planner-signature"),
        body: body.to_vec(),
    });
    let take = |counter: &AtomicUsize| {
        counter
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    };
    if take(&inbox.hang_first) {
        tokio::time::sleep(Duration::from_secs(120)).await;
    }
    if take(&inbox.fail_first) {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    StatusCode::NO_CONTENT
}

impl Inbox {
    fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    fn of_plan(&self, id: Uuid) -> Vec<Received> {
        self.all()
            .into_iter()
            .filter(|r| r.json()["plan_id"] == id.to_string())
            .collect()
    }
}

/// The receiver's check, written from the README: HMAC-SHA256 of "<t>.<body>" under the
/// secret, hex, in `v1`.
fn signature_verifies(secret: &str, header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = Some(value),
            Some(("v1", value)) => v1 = Some(value),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let Ok(claimed) = hex::decode(v1) else {
        return false;
    };
    mac.verify_slice(&claimed).is_ok()
}

fn settings(secret: Option<&str>, allow_private: bool) -> Settings {
    let mut settings = Settings::for_database("postgres://unused").expect("settings from the environment");
    settings.webhook.secret = secret.map(|s| Secret(s.into()));
    settings.webhook.allow_private = allow_private;
    settings.webhook.retry_base = Duration::from_millis(200);
    settings
}

fn app(pool: &PgPool, secret: Option<&str>, allow_private: bool) -> Router {
    api::router(api::AppState::new(
        pool.clone(),
        Arc::new(settings(secret, allow_private)),
    ))
}

async fn submit(app: &Router, body: Value) -> Uuid {
    let reply = call(app, "POST", "/v1/plans", Some(&body.to_string()), &[]).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    Uuid::parse_str(reply.body["id"].as_str().unwrap()).unwrap()
}

async fn plan(app: &Router, id: Uuid) -> Value {
    let reply = call(app, "GET", &format!("/v1/plans/{id}"), None, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body
}

/// (event, state, attempts, id) of the plan's deliveries, oldest first.
async fn deliveries(pool: &PgPool, id: Uuid) -> Vec<(String, String, i32, Uuid)> {
    sqlx::query_as(
        "SELECT event, state, attempts, id FROM webhook_deliveries WHERE plan_id = $1 ORDER BY created_at, id",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Until the plan has `count` deliveries and none is pending.
async fn wait_settled(pool: &PgPool, id: Uuid, count: usize) -> Vec<(String, String, i32, Uuid)> {
    let start = Instant::now();
    loop {
        let rows = deliveries(pool, id).await;
        if rows.len() == count && rows.iter().all(|r| r.1 != "pending") {
            return rows;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "deliveries of {id} not settled: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn trip(city: &str, extra: Value) -> Value {
    let mut body = json!({"destination": city, "start_date": in_days(5), "days": 2, "language": "en"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

/// A plan scheduled far ahead: it stays queued until cancelled.
fn scheduled(callback: &str) -> Value {
    let later = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    trip("杭州", json!({"callback_url": callback, "not_before": later}))
}

#[sqlx::test(migrations = false)]
async fn each_status_change_is_delivered_once_signed_with_its_delivery_id(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    let (hook, inbox) = receiver().await;
    let app = app(&pool, Some(SECRET), true);
    let approved = submit(
        &app,
        trip("杭州", json!({"require_approval": true, "callback_url": hook})),
    )
    .await;
    let rejected = submit(
        &app,
        trip("成都", json!({"require_approval": true, "callback_url": hook})),
    )
    .await;
    let failed = submit(
        &app,
        json!({"destination": "上海", "start_date": in_days(5), "days": 5, "budget": {"amount": 100},
               "language": "en", "callback_url": hook}),
    )
    .await;
    let cancelled = submit(&app, scheduled(&hook)).await;
    let silent = submit(&app, trip("西安", json!({}))).await;
    assert_eq!(
        call(&app, "POST", &format!("/v1/plans/{cancelled}/cancel"), None, &[])
            .await
            .status,
        200
    );
    let _worker = Proc::worker(&url, &WORKER_ENV);
    for id in [approved, rejected] {
        wait_for(&pool, id, Duration::from_secs(60), |s, _| s == "awaiting_approval").await;
    }
    for (id, action) in [(approved, "approve"), (rejected, "reject")] {
        let reply = call(&app, "POST", &format!("/v1/plans/{id}/{action}"), None, &[]).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    wait_for(&pool, approved, Duration::from_secs(60), |s, _| s == "succeeded").await;
    wait_for(&pool, failed, Duration::from_secs(60), |s, _| s == "failed").await;
    wait_for(&pool, silent, Duration::from_secs(60), |s, _| s == "succeeded").await;

    let expected = [
        (approved, vec!["awaiting_approval", "succeeded"]),
        (rejected, vec!["awaiting_approval", "rejected"]),
        (failed, vec!["failed"]),
        (cancelled, vec!["cancelled"]),
    ];
    for (id, events) in &expected {
        let rows = wait_settled(&pool, *id, events.len()).await;
        let got: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(&got, events, "{id}");
        assert!(rows.iter().all(|r| r.1 == "delivered" && r.2 == 1), "{rows:?}");
        // One request per status change, carrying the outbox row's id.
        let mut received = inbox.of_plan(*id);
        received.sort_by_key(|r| rows.iter().position(|row| row.3.to_string() == r.delivery));
        let sent: Vec<(&str, String)> = received
            .iter()
            .map(|r| (r.event.as_str(), r.delivery.clone()))
            .collect();
        let recorded: Vec<(&str, String)> = rows.iter().map(|r| (r.0.as_str(), r.3.to_string())).collect();
        assert_eq!(sent, recorded, "{id}");
        for r in &received {
            assert!(signature_verifies(SECRET, &r.signature, &r.body), "{}", r.signature);
            assert!(!signature_verifies("another secret", &r.signature, &r.body));
            let body = r.json();
            assert_eq!(body["delivery_id"], r.delivery);
            assert_eq!(body["event"], r.event.as_str());
            assert_eq!(body["status"], r.event.as_str());
            assert_eq!(body["links"]["plan"], format!("/v1/plans/{id}"));
        }
    }
    assert_eq!(inbox.all().len(), 6, "one request per status change, no more");
    assert!(inbox.of_plan(silent).is_empty(), "no callback_url, no delivery");

    // The summaries say what happened.
    let bodies = |id: Uuid| -> Vec<Value> { inbox.of_plan(id).iter().map(Received::json).collect() };
    let waiting = bodies(approved)
        .into_iter()
        .find(|b| b["event"] == "awaiting_approval")
        .unwrap();
    assert_eq!(waiting["approval_reason"], "the request asks for approval");
    let done = bodies(approved)
        .into_iter()
        .find(|b| b["event"] == "succeeded")
        .unwrap();
    assert_eq!(done["result"]["days"], 2);
    assert!(done["result"]["total_cost"].as_f64().unwrap() > 0.0, "{done}");
    assert!(done["finished_at"].is_string());
    assert_eq!(bodies(failed)[0]["error"]["code"], "budget_too_low");

    // The plan shows its deliveries.
    let view = plan(&app, approved).await;
    let shown = view["webhooks"].as_array().unwrap();
    assert_eq!(shown.len(), 2, "{view}");
    assert_eq!(shown[0]["event"], "awaiting_approval");
    assert_eq!(shown[1]["event"], "succeeded");
    for d in shown {
        assert_eq!(d["state"], "delivered");
        assert_eq!(d["attempts"], 1);
        assert_eq!(d["last_status_code"], 204);
        assert!(d["delivered_at"].is_string() && d["next_attempt_at"].is_null(), "{d}");
    }
    assert_eq!(plan(&app, silent).await["webhooks"], json!([]));
}

#[sqlx::test(migrations = false)]
async fn a_receiver_failing_three_times_gets_the_same_delivery_on_the_fourth_try(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    let (hook, inbox) = receiver().await;
    inbox.fail_first.store(3, Ordering::SeqCst);
    let app = app(&pool, Some(SECRET), true);
    let id = submit(&app, trip("杭州", json!({"callback_url": hook}))).await;
    let _worker = Proc::worker(&url, &WORKER_ENV);
    wait_for(&pool, id, Duration::from_secs(60), |s, _| s == "succeeded").await;
    let rows = wait_settled(&pool, id, 1).await;
    assert_eq!(
        (rows[0].0.as_str(), rows[0].1.as_str(), rows[0].2),
        ("succeeded", "delivered", 4)
    );
    let received = inbox.of_plan(id);
    assert_eq!(received.len(), 4);
    for r in &received {
        assert_eq!(
            r.delivery,
            rows[0].3.to_string(),
            "the delivery id is stable across tries"
        );
        assert!(signature_verifies(SECRET, &r.signature, &r.body));
        assert_eq!(r.body, received[0].body, "the same body every try");
    }
    let shown = &plan(&app, id).await["webhooks"][0];
    assert_eq!(shown["attempts"], 4);
    assert_eq!(shown["last_status_code"], 204);
    assert_eq!(shown["last_error"], Value::Null);
}

#[sqlx::test(migrations = false)]
async fn a_delivery_outlives_workers_killed_before_and_during_it(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    let (hook, inbox) = receiver().await;
    let app = app(&pool, Some(SECRET), true);

    // The status changes with no worker running: the outbox row is written with it.
    let before = submit(&app, scheduled(&hook)).await;
    let reply = call(&app, "POST", &format!("/v1/plans/{before}/cancel"), None, &[]).await;
    assert_eq!(reply.status, 200);
    let rows = deliveries(&pool, before).await;
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].0.as_str(), rows[0].1.as_str()), ("cancelled", "pending"));

    // A worker is killed while its request hangs at the receiver.
    inbox.hang_first.store(1, Ordering::SeqCst);
    let env = [&WORKER_ENV[..], &[("WEBHOOK_TIMEOUT_SECS", "5")]].concat();
    let mut first = Proc::worker(&url, &env);
    let start = Instant::now();
    while inbox.all().is_empty() {
        assert!(start.elapsed() < Duration::from_secs(60), "no delivery tried");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.sigkill();
    assert_eq!(deliveries(&pool, before).await[0].1, "pending");

    // Another worker delivers it once the killed try's lease is over.
    let _second = Proc::worker(&url, &env);
    let rows = wait_settled(&pool, before, 1).await;
    assert_eq!((rows[0].1.as_str(), rows[0].2), ("delivered", 2));
    let received = inbox.of_plan(before);
    assert_eq!(received.len(), 2);
    assert!(received.iter().all(|r| r.delivery == rows[0].3.to_string()));
}

#[sqlx::test(migrations = false)]
async fn callback_urls_to_private_addresses_or_other_schemes_are_refused(pool: PgPool) {
    migrated(&pool).await;
    let strict = app(&pool, Some(SECRET), false);
    for bad in [
        "http://127.0.0.1/",
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:127.0.0.1]/",
        "http://[::1]:8080/",
        "http://localhost:9/hook",
        "ftp://example.com/hook",
        "hooks.example.com/no-scheme",
        "https://user:pass@example.com/",
        "http://no-such-host.invalid/hook",
    ] {
        let body = trip("杭州", json!({"callback_url": bad})).to_string();
        let reply = call(&strict, "POST", "/v1/plans", Some(&body), &[]).await;
        assert_eq!(reply.status, 400, "{bad}: {}", reply.text);
        assert_eq!(reply.body["error"]["field"], "callback_url", "{bad}");
        assert_eq!(reply.body["error"]["code"], "invalid_request");
    }
    let long = format!("https://example.com/{}", "a".repeat(2100));
    let body = trip("杭州", json!({"callback_url": long})).to_string();
    let reply = call(&strict, "POST", "/v1/plans", Some(&body), &[]).await;
    assert_eq!(reply.status, 400);
    assert!(reply.body["error"]["message"].as_str().unwrap().contains("2048"));
    let body = trip("杭州", json!({"callback_url": 42})).to_string();
    assert_eq!(call(&strict, "POST", "/v1/plans", Some(&body), &[]).await.status, 400);

    // Allowed when private targets are.
    let open = app(&pool, Some(SECRET), true);
    submit(&open, trip("杭州", json!({"callback_url": "http://127.0.0.1:9/hook"}))).await;

    // Without a secret nothing could be signed: refused, saying so.
    let unsigned = app(&pool, None, true);
    let body = trip("杭州", json!({"callback_url": "http://127.0.0.1:9/hook"})).to_string();
    let reply = call(&unsigned, "POST", "/v1/plans", Some(&body), &[]).await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert_eq!(reply.body["error"]["field"], "callback_url");
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("WEBHOOK_SECRET")
    );
    let plans: i64 = sqlx::query_scalar("SELECT count(*) FROM plans")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(plans, 1, "only the allowed submission made a plan");
}

#[sqlx::test(migrations = false)]
async fn a_forbidden_address_at_delivery_fails_the_delivery_for_good(pool: PgPool) {
    migrated(&pool).await;
    let (hook, inbox) = receiver().await;
    let open = app(&pool, Some(SECRET), true);
    let id = submit(&open, scheduled(&hook)).await;
    call(&open, "POST", &format!("/v1/plans/{id}/cancel"), None, &[]).await;
    // The sender is stricter than the api was: the loopback receiver may not be called.
    let strict = settings(Some(SECRET), false).webhook;
    assert_eq!(webhook_sender::send_due(&pool, &strict).await.unwrap(), 1);
    let (state, error): (String, String) =
        sqlx::query_as("SELECT state, last_error FROM webhook_deliveries WHERE plan_id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(state, "failed");
    assert!(error.contains("loopback"), "{error}");
    assert!(inbox.all().is_empty());
    assert_eq!(
        webhook_sender::send_due(&pool, &strict).await.unwrap(),
        0,
        "never tried again"
    );
    assert!(
        plan(&open, id).await["webhooks"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("loopback")
    );
}

#[sqlx::test(migrations = false)]
async fn a_delivery_failing_past_a_day_is_given_up_and_a_status_change_enqueues_once(pool: PgPool) {
    migrated(&pool).await;
    let (hook, inbox) = receiver().await;
    inbox.fail_first.store(100, Ordering::SeqCst);
    let open = app(&pool, Some(SECRET), true);
    let id = submit(&open, scheduled(&hook)).await;
    call(&open, "POST", &format!("/v1/plans/{id}/cancel"), None, &[]).await;
    let sender = settings(Some(SECRET), true).webhook;

    // A failed try within the day: due again later, the error recorded.
    assert_eq!(webhook_sender::send_due(&pool, &sender).await.unwrap(), 1);
    let shown = &plan(&open, id).await["webhooks"][0];
    assert_eq!(shown["state"], "pending");
    assert_eq!(shown["attempts"], 1);
    assert_eq!(shown["last_status_code"], 503);
    assert!(shown["next_attempt_at"].is_string(), "{shown}");

    // The same status written again, or reached again in the same run, enqueues nothing.
    sqlx::query("UPDATE plans SET status = status WHERE id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE plans SET status = 'queued' WHERE id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE plans SET status = 'cancelled' WHERE id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(deliveries(&pool, id).await.len(), 1);

    // A day old and failing still: given up on.
    sqlx::query(
        "UPDATE webhook_deliveries SET created_at = now() - interval '25 hours', next_attempt_at = now()
         WHERE plan_id = $1",
    )
    .bind(id)
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(webhook_sender::send_due(&pool, &sender).await.unwrap(), 1);
    let rows = deliveries(&pool, id).await;
    assert_eq!((rows[0].1.as_str(), rows[0].2), ("failed", 2));
    assert_eq!(webhook_sender::send_due(&pool, &sender).await.unwrap(), 0);
    let received = inbox.of_plan(id);
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].delivery, received[1].delivery);
}

#[sqlx::test(migrations = false)]
async fn a_receiver_too_slow_or_a_host_that_does_not_resolve_is_tried_again_later(pool: PgPool) {
    migrated(&pool).await;
    let (hook, inbox) = receiver().await;
    inbox.hang_first.store(1, Ordering::SeqCst);
    let open = app(&pool, Some(SECRET), true);
    let slow = submit(&open, scheduled(&hook)).await;
    call(&open, "POST", &format!("/v1/plans/{slow}/cancel"), None, &[]).await;
    let mut sender = settings(Some(SECRET), true).webhook;
    sender.timeout = Duration::from_secs(1);
    assert_eq!(webhook_sender::send_due(&pool, &sender).await.unwrap(), 1);
    let shown = &plan(&open, slow).await["webhooks"][0];
    assert_eq!(shown["state"], "pending", "{shown}");
    assert!(
        shown["last_error"].as_str().unwrap().contains("no answer within"),
        "{shown}"
    );
    assert_eq!(shown["last_status_code"], Value::Null);

    // Accepted while private targets were allowed (no resolution), then sent by a strict
    // sender: the name does not resolve, which may pass, so it is tried again.
    let lost = submit(&open, scheduled("http://no-such-host.invalid/hook")).await;
    call(&open, "POST", &format!("/v1/plans/{lost}/cancel"), None, &[]).await;
    sqlx::query("UPDATE webhook_deliveries SET next_attempt_at = now() + interval '1 hour' WHERE plan_id = $1")
        .bind(slow)
        .execute(&pool)
        .await
        .unwrap();
    let strict = settings(Some(SECRET), false).webhook;
    assert_eq!(webhook_sender::send_due(&pool, &strict).await.unwrap(), 1);
    let shown = &plan(&open, lost).await["webhooks"][0];
    assert_eq!(shown["state"], "pending", "{shown}");
    assert!(
        shown["last_error"].as_str().unwrap().contains("no-such-host.invalid"),
        "{shown}"
    );
}

/// A redirect could lead a delivery anywhere (an internal address the URL check never saw):
/// the sender does not follow it, and the try counts as failed with the redirect's status.
#[tokio::test]
async fn a_redirect_is_not_followed_and_fails_the_try() {
    let (elsewhere, elsewhere_inbox) = receiver().await;
    let redirector = Router::new().route(
        "/hook",
        post(move || {
            let to = elsewhere.clone();
            async move { (StatusCode::TEMPORARY_REDIRECT, [("location", to)]) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, redirector).await });

    let body = br#"{"event":"plan.succeeded"}"#;
    let delivery = planner::webhook::post::Delivery {
        id: Uuid::now_v7(),
        event: "plan.succeeded",
        url: &url,
        body,
    };
    let sending = planner::webhook::post::Sending {
        secret: SECRET.as_bytes(),
        allow_private: true,
        timeout: Duration::from_secs(5),
    };
    let sent = planner::webhook::post::post(&delivery, &sending).await;
    assert!(
        matches!(sent, planner::webhook::post::Sent::Failed { status: Some(307), .. }),
        "{sent:?}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        elsewhere_inbox.received.lock().unwrap().is_empty(),
        "the redirect was followed"
    );
}
