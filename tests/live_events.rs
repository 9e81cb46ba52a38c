//! `GET /v1/plans/{id}/events`: a plan's timeline as Server-Sent Events, across processes.
//! Two real api processes and a real worker: the stream held by one api process follows a
//! run submitted through the other and done by the worker; a reconnect with `Last-Event-ID`
//! resumes exactly; a finished plan replays and closes.

mod common;

use std::time::Duration;

use common::{Proc, api_process, database_url, in_days, migrated, sse::SseReader};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

const PATIENCE: Duration = Duration::from_secs(60);

async fn open(client: &reqwest::Client, url: &str, last_event_id: Option<i64>) -> SseReader {
    let mut request = client.get(url);
    if let Some(id) = last_event_id {
        request = request.header("Last-Event-ID", id.to_string());
    }
    let response = request.send().await.expect("stream opens");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
    assert!(content_type.starts_with("text/event-stream"), "{content_type}");
    SseReader::new(response)
}

async fn submit(client: &reqwest::Client, base: &str, body: Value) -> Uuid {
    let reply: Value = client
        .post(format!("{base}/v1/plans"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    Uuid::parse_str(reply["id"].as_str().unwrap()).unwrap()
}

/// The plan's timeline as the table holds it: (id, kind).
async fn timeline(pool: &PgPool, plan: Uuid) -> Vec<(i64, String)> {
    sqlx::query_as("SELECT id, kind FROM plan_events WHERE plan_id = $1 ORDER BY id")
        .bind(plan)
        .fetch_all(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = false)]
async fn a_stream_on_one_api_process_follows_a_run_submitted_on_another_and_resumes_exactly(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    let (_a, api_a) = api_process("api", &url, &[]).await;
    let (_b, api_b) = api_process("api", &url, &[]).await;
    let client = reqwest::Client::new();

    let plan = submit(
        &client,
        &api_b,
        json!({"destination": "杭州", "start_date": in_days(5), "days": 2}),
    )
    .await;
    let stream_url = format!("{api_a}/v1/plans/{plan}/events");
    let mut first = open(&client, &stream_url, None).await;
    let queued = first.next(PATIENCE).await.expect("the queued event");
    assert_eq!(queued.event.as_deref(), Some("queued"));
    assert_eq!(queued.json()["status"], "queued");

    // Only now does anyone work on the plan: everything after `queued` arrives live.
    let _worker = Proc::worker(&url, &[("PLANNER_FAULT_NODE_DELAY", "weather=150,draft=300")]);
    let mut seen = vec![queued];
    while seen.len() < 6 {
        seen.push(first.next(PATIENCE).await.expect("the run goes on"));
    }
    // The client goes away mid-run and comes back with the last id it saw.
    drop(first);
    let last_seen = seen.last().unwrap().seq();
    let mut resumed = open(&client, &stream_url, Some(last_seen)).await;
    let rest = resumed.rest(PATIENCE).await;
    assert!(!rest.is_empty(), "the run's remaining events");
    seen.extend(rest);

    let got: Vec<(i64, String)> = seen.iter().map(|e| (e.seq(), e.event.clone().unwrap())).collect();
    assert_eq!(got, timeline(&pool, plan).await, "every event once, in order");
    let kinds: Vec<&str> = got.iter().map(|(_, k)| k.as_str()).collect();
    assert_eq!(
        kinds.last(),
        Some(&"succeeded"),
        "the stream closes after the end: {kinds:?}"
    );
    assert!(
        kinds.contains(&"started") && kinds.contains(&"node_finished"),
        "{kinds:?}"
    );

    let last = seen.last().unwrap().json();
    assert_eq!(last["status"], "succeeded");
    assert_eq!(last["percent"], 100);
    assert_eq!(last["kind"], "succeeded");
    assert!(last["at"].as_str().is_some_and(|t| t.contains('T')));
    // Percent climbs with the nodes finished and never goes back.
    let percents: Vec<u64> = seen.iter().map(|e| e.json()["percent"].as_u64().unwrap()).collect();
    assert!(percents.windows(2).all(|w| w[0] <= w[1]), "{percents:?}");
    assert!(percents.iter().any(|p| (1..100).contains(p)), "{percents:?}");
    let node_started = seen
        .iter()
        .find(|e| e.event.as_deref() == Some("node_started"))
        .unwrap();
    assert!(node_started.json()["node"].is_string());
    assert_eq!(node_started.json()["status"], "running");
}

#[sqlx::test(migrations = false)]
async fn a_finished_plan_replays_its_timeline_and_closes(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    let (_dev, api) = api_process("dev", &url, &[]).await;
    let client = reqwest::Client::new();
    let plan = submit(
        &client,
        &api,
        json!({"destination": "成都", "start_date": in_days(3), "days": 2}),
    )
    .await;
    common::wait_for(&pool, plan, PATIENCE, |s, _| s == "succeeded").await;
    let table = timeline(&pool, plan).await;

    let replay = open(&client, &format!("{api}/v1/plans/{plan}/events"), None)
        .await
        .rest(PATIENCE)
        .await;
    let got: Vec<(i64, String)> = replay.iter().map(|e| (e.seq(), e.event.clone().unwrap())).collect();
    assert_eq!(got, table);

    // `?after=` resumes like Last-Event-ID; a header wins over the query.
    let middle = table[table.len() / 2].0;
    let after = open(&client, &format!("{api}/v1/plans/{plan}/events?after={middle}"), None)
        .await
        .rest(PATIENCE)
        .await;
    let expected: Vec<i64> = table.iter().map(|(id, _)| *id).filter(|id| *id > middle).collect();
    assert_eq!(after.iter().map(|e| e.seq()).collect::<Vec<_>>(), expected);
    assert_eq!(after.last().unwrap().json()["percent"], 100);
    let by_header = open(&client, &format!("{api}/v1/plans/{plan}/events?after=0"), Some(middle))
        .await
        .rest(PATIENCE)
        .await;
    assert_eq!(by_header.len(), expected.len());

    // Past the end of a finished plan: 204, which stops an EventSource from reconnecting.
    let last = table.last().unwrap().0;
    let none = client
        .get(format!("{api}/v1/plans/{plan}/events"))
        .header("Last-Event-ID", last.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 204);
    assert!(none.text().await.unwrap().is_empty());
}

#[sqlx::test(migrations = false)]
async fn streams_of_unknown_plans_and_bad_resume_points_are_json_errors(pool: PgPool) {
    migrated(&pool).await;
    let app = common::router(&pool);
    let unknown = common::call(&app, "GET", &format!("/v1/plans/{}/events", Uuid::new_v4()), None, &[]).await;
    assert_eq!(unknown.status, 404, "{}", unknown.text);
    assert_eq!(unknown.body["error"]["code"], "not_found");

    let not_an_id = common::call(&app, "GET", "/v1/plans/nope/events", None, &[]).await;
    assert_eq!(not_an_id.status, 400);
    assert_eq!(not_an_id.body["error"]["field"], "id");

    let plan = common::submit(
        &app,
        &json!({"destination": "西安", "start_date": in_days(4), "days": 2}),
    )
    .await;
    for (uri, headers, field) in [
        (format!("/v1/plans/{plan}/events?after=-1"), vec![], "after"),
        (format!("/v1/plans/{plan}/events?after=abc"), vec![], "after"),
        (
            format!("/v1/plans/{plan}/events"),
            vec![("last-event-id", "1.5")],
            "Last-Event-ID",
        ),
    ] {
        let reply = common::call(&app, "GET", &uri, None, &headers).await;
        assert_eq!(reply.status, 400, "{uri}: {}", reply.text);
        assert_eq!(reply.body["error"]["field"], field, "{uri}");
    }
}

#[sqlx::test(migrations = false)]
async fn a_stopping_api_process_ends_its_streams_and_exits(pool: PgPool) {
    migrated(&pool).await;
    let url = database_url(&pool).await;
    let (mut api, base) = api_process("api", &url, &[]).await;
    let client = reqwest::Client::new();
    // No worker: the plan stays queued, and its stream would wait for it indefinitely.
    let plan = submit(
        &client,
        &base,
        json!({"destination": "厦门", "start_date": in_days(6), "days": 2}),
    )
    .await;
    let mut stream = open(&client, &format!("{base}/v1/plans/{plan}/events"), None).await;
    let queued = stream.next(PATIENCE).await.expect("the queued event");

    api.sigterm();
    let rest = stream.rest(PATIENCE).await;
    assert!(rest.is_empty(), "{rest:?}");
    let exit = tokio::task::spawn_blocking(move || api.child.wait())
        .await
        .unwrap()
        .expect("the api process exits");
    assert!(exit.success(), "{exit:?}");

    // Its client resumes on another process from where it was.
    let (_other, other) = api_process("api", &url, &[]).await;
    let plan_url = format!("{other}/v1/plans/{plan}/events");
    let resumed = client
        .get(&plan_url)
        .header("Last-Event-ID", queued.seq().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.status(), 200);
    // As every status change is written: the status and its event in one transaction.
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("UPDATE plans SET status = 'cancelled', finished_at = now() WHERE id = $1")
        .bind(plan)
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("INSERT INTO plan_events (plan_id, kind) VALUES ($1, 'cancelled')")
        .bind(plan)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let after = SseReader::new(resumed).rest(PATIENCE).await;
    let kinds: Vec<_> = after.iter().map(|e| e.event.clone().unwrap()).collect();
    assert_eq!(kinds, ["cancelled"], "only what came after the last event seen");
}
