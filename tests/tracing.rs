//! One trace covers submit → plan run → nodes → provider calls: the API request's trace
//! context is stored with the plan and continued by the worker. Spans are captured with an
//! in-memory exporter behind the same subscriber the service installs.

mod common;

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use common::{call, in_days, migrated, router, wait_for};
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use planner::{
    api::{self, auth::token},
    config::{AuthMode, Settings},
    queue::{executor::Executor, worker},
    store::{keys, states::Role},
    travel::sources::Sources,
};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

/// The process's one subscriber (the first install wins), shared by this binary's tests.
fn captured() -> &'static (InMemorySpanExporter, SdkTracerProvider) {
    static CAPTURED: OnceLock<(InMemorySpanExporter, SdkTracerProvider)> = OnceLock::new();
    CAPTURED.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        planner::telemetry::install(planner::config::LogFormat::Json, true, Some(provider.clone()));
        (exporter, provider)
    })
}

#[sqlx::test(migrations = false)]
async fn one_trace_covers_submit_plan_nodes_and_provider_calls(pool: PgPool) {
    let (exporter, provider) = captured();
    migrated(&pool).await;

    let app = router(&pool);
    let body = json!({"destination": "杭州", "start_date": in_days(3), "days": 2}).to_string();
    let reply = call(&app, "POST", "/v1/plans", Some(&body), &[]).await;
    assert_eq!(reply.status, 202);
    let id = Uuid::parse_str(reply.body["id"].as_str().unwrap()).unwrap();
    let stored: serde_json::Value = sqlx::query_scalar("SELECT trace_context FROM plans WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(
        stored["traceparent"].as_str().is_some_and(|t| t.starts_with("00-")),
        "{stored}"
    );

    let settings = Settings::for_database("postgres://unused").expect("settings from the environment");
    let runner = Executor::new(pool.clone(), &settings, Sources::embedded(&settings));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let worker_pool = pool.clone();
    let worker = tokio::spawn(async move {
        worker::run(worker_pool, runner, &settings, async move {
            let _ = rx.await;
        })
        .await
    });
    wait_for(&pool, id, Duration::from_secs(30), |s, _| s == "succeeded").await;
    let _ = tx.send(());
    let _ = worker.await;
    let _ = provider.force_flush();

    let spans = exporter.get_finished_spans().unwrap();
    // The other test of this binary shares the exporter: find this request by its trace.
    let stored_trace = stored["traceparent"].as_str().unwrap().split('-').nth(1).unwrap();
    let http = spans
        .iter()
        .find(|s| s.name == "http_request" && s.span_context.trace_id().to_string() == stored_trace)
        .expect("the submit request's span");
    let trace: TraceId = http.span_context.trace_id();
    let in_trace: Vec<_> = spans.iter().filter(|s| s.span_context.trace_id() == trace).collect();
    let count = |name: &str| in_trace.iter().filter(|s| s.name == name).count();
    let plan = in_trace
        .iter()
        .find(|s| s.name == "plan")
        .expect("the worker's plan span joins the request's trace");
    assert_eq!(
        plan.parent_span_id,
        http.span_context.span_id(),
        "the plan run is a child of the submit request"
    );
    // understand, weather, places, lodging, routes, draft, check, approval, finalize.
    assert_eq!(count("node"), 9, "one span per node");
    assert_eq!(count("provider_call"), 3, "forecast, places, hotels");
    let plan_span: SpanId = plan.span_context.span_id();
    assert!(
        in_trace
            .iter()
            .filter(|s| s.name == "node")
            .all(|s| s.parent_span_id == plan_span)
    );
}

#[sqlx::test(migrations = false)]
async fn no_token_reaches_the_spans(pool: PgPool) {
    let (exporter, provider) = captured();
    migrated(&pool).await;
    let new = token::generate();
    assert!(matches!(
        keys::create(&pool, "traced", Role::User, &new.hash, &new.shown)
            .await
            .unwrap(),
        keys::Created::Created
    ));
    let unknown = format!("tp_{}", "ef".repeat(32));
    let mut settings = Settings::for_database("postgres://unused").unwrap();
    settings.auth_mode = AuthMode::Required;
    let app = api::router(api::AppState::new(pool.clone(), Arc::new(settings)));
    let body = json!({"destination": "杭州", "start_date": in_days(3), "days": 2}).to_string();
    let mut answered = Vec::new();
    for secret in [&new.token, &unknown] {
        let bearer = format!("Bearer {secret}");
        for (method, uri, body) in [
            ("POST", "/v1/plans", Some(body.as_str())),
            ("GET", "/v1/plans", None),
            ("GET", "/v1/plans/not-a-uuid", None),
            ("GET", "/tasks", None),
            ("POST", "/v1/plans", Some("{not json")),
        ] {
            answered.push(
                call(&app, method, uri, body, &[("authorization", &bearer)])
                    .await
                    .status,
            );
        }
    }
    assert_eq!(&answered[..2], &[202, 200], "the known key was served");
    assert!(answered[5..].iter().all(|s| *s == 401), "{answered:?}");
    let _ = provider.force_flush();
    let spans = format!("{:?}", exporter.get_finished_spans().unwrap());
    assert!(
        spans.contains("http_request") && spans.contains("/v1/plans"),
        "requests were traced"
    );
    for secret in [new.token.as_str(), unknown.as_str(), &new.token[3..], &unknown[3..]] {
        assert!(!spans.contains(secret), "a token reached a span");
    }
}
