//! The MCP weather server, spawned as the real binary, used by rmcp's own client over both
//! transports: stdio (a child process) and streamable HTTP.

mod common;

use std::{net::TcpListener, time::Duration};

use rmcp::{
    ServiceExt,
    model::{CallToolRequestParams, CallToolResult},
    transport::{StreamableHttpClientTransport, TokioChildProcess},
};
use serde_json::{Value, json};

fn args(value: Value) -> rmcp::model::JsonObject {
    value.as_object().cloned().unwrap()
}

async fn exercise<S>(client: &rmcp::service::RunningService<rmcp::RoleClient, S>)
where
    S: rmcp::service::Service<rmcp::RoleClient>,
{
    let tools = client.list_all_tools().await.expect("tools/list");
    let mut names: Vec<_> = tools.iter().map(|t| t.name.to_string()).collect();
    names.sort();
    assert_eq!(names, ["get_forecast", "lookup_city"]);

    let city: CallToolResult = client
        .call_tool(CallToolRequestParams::new("lookup_city").with_arguments(args(json!({"name": "杭州"}))))
        .await
        .unwrap();
    let city = city.structured_content.expect("structured city");
    assert_eq!(city["id"], "hangzhou");

    let start = common::in_days(3);
    let end = common::in_days(5);
    let forecast: CallToolResult = client
        .call_tool(
            CallToolRequestParams::new("get_forecast")
                .with_arguments(args(json!({"city": "Chengdu", "start_date": start, "end_date": end}))),
        )
        .await
        .unwrap();
    let forecast = forecast.structured_content.expect("structured forecast");
    let days = forecast["days"].as_array().unwrap();
    assert_eq!(days.len(), 3);
    assert_eq!(days[0]["date"], start.as_str());
    assert!(
        days.iter()
            .all(|d| d["temp_min"].as_f64() <= d["temp_max"].as_f64() && d["condition"].is_string())
    );
    assert_eq!(forecast["source"], "embedded");

    let unknown: CallToolResult = client
        .call_tool(CallToolRequestParams::new("lookup_city").with_arguments(args(json!({"name": "Atlantis"}))))
        .await
        .unwrap();
    assert_eq!(unknown.is_error, Some(true));
    let too_long: CallToolResult = client
        .call_tool(CallToolRequestParams::new("get_forecast").with_arguments(args(
            json!({"city": "杭州", "start_date": "2027-01-01", "end_date": "2027-03-01"}),
        )))
        .await
        .unwrap();
    assert_eq!(too_long.is_error, Some(true));
    assert!(
        too_long.structured_content.unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("1 to 30 days")
    );
}

#[tokio::test]
async fn stdio_transport_serves_rmcp_clients() {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_planner"));
    command.arg("weather-mcp");
    let transport = TokioChildProcess::new(command).expect("spawn weather-mcp");
    let client = ().serve(transport).await.expect("initialize over stdio");
    exercise(&client).await;
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn streamable_http_transport_serves_rmcp_clients() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let _server = common::Proc::spawn(&["weather-mcp", "--http", &addr], "postgres://unused", &[]);
    let start = std::time::Instant::now();
    while reqwest::get(format!("http://{addr}/health")).await.is_err() {
        assert!(start.elapsed() < Duration::from_secs(20), "weather-mcp never listened");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let transport = StreamableHttpClientTransport::from_uri(format!("http://{addr}/mcp"));
    let client = ().serve(transport).await.expect("initialize over streamable HTTP");
    exercise(&client).await;
    client.cancel().await.unwrap();
}

#[sqlx::test(migrations = false)]
async fn the_worker_gets_its_weather_from_the_mcp_server_and_degrades_without_it(pool: sqlx::PgPool) {
    common::migrated(&pool).await;
    let url = common::database_url(&pool).await;
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let mcp_url = format!("http://{addr}/mcp");
    let mut server = common::Proc::spawn(&["weather-mcp", "--http", &addr], "postgres://unused", &[]);
    let start = std::time::Instant::now();
    while reqwest::get(format!("http://{addr}/health")).await.is_err() {
        assert!(start.elapsed() < Duration::from_secs(20), "weather-mcp never listened");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let fast_fail = [
        ("WEATHER_MCP_URL", mcp_url.as_str()),
        ("RESILIENCE_WEATHER_RETRIES", "0"),
        ("RESILIENCE_WEATHER_TIMEOUT_MS", "2000"),
    ];
    let _worker = common::Proc::worker(&url, &fast_fail);
    let app = common::router(&pool);
    let id = common::submit(
        &app,
        &json!({"destination": "西安", "start_date": common::in_days(4), "days": 3}),
    )
    .await;
    common::wait_for(&pool, id, Duration::from_secs(30), |s, _| s == "succeeded").await;
    let result = common::result_of(&pool, id).await;
    assert_eq!(result["sources"][0]["provider"], "mcp");
    assert!(
        result["days"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["weather"]["source"] == "mcp:normals")
    );

    // The MCP server goes away: weather degrades to the embedded normals, and by the default
    // policy the plan waits for a person to accept the degraded data.
    server.sigkill();
    let id = common::submit(
        &app,
        &json!({"destination": "西安", "start_date": common::in_days(4), "days": 2, "language": "en"}),
    )
    .await;
    common::wait_for(&pool, id, Duration::from_secs(30), |s, _| s == "awaiting_approval").await;
    let reason = common::approval_reason(&pool, id).await;
    assert!(reason.contains("degraded data") && reason.contains("mcp"), "{reason}");
}
