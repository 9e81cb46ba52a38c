//! One-shot operations: `planner migrate`, `planner cleanup`, `planner healthcheck`, and
//! `planner weather-mcp` (the MCP weather server, which needs no database).

use std::process::ExitCode;

use crate::{
    cli::signal::shutdown_signal,
    config::Settings,
    db,
    queue::maintenance::{cleaner, result_exporter},
    results::store::ResultsStore,
    weather_mcp::{self, WeatherServer},
};

pub async fn migrate(settings: &Settings) -> anyhow::Result<ExitCode> {
    db::open(&settings.database_url, settings.db_pool_max).await?;
    Ok(ExitCode::SUCCESS)
}

pub async fn cleanup(settings: &Settings) -> anyhow::Result<ExitCode> {
    let pool = db::open(&settings.database_url, settings.db_pool_max).await?;
    match cleaner::clean(&pool, settings.retention).await? {
        Some(c) => println!(
            "deleted {} plans, {} stale workers, {} expired cache entries",
            c.plans, c.workers, c.cache_entries
        ),
        None => println!("another process is cleaning up right now; nothing done"),
    }
    // The objects of the plans just deleted (and any left over): once here, then by workers.
    if let Some(store) = ResultsStore::from_settings(&settings.results)? {
        let retry_base = settings.results.retry_base;
        let mut tried = 0;
        loop {
            let claimed = result_exporter::delete_due(&pool, &store, retry_base).await?;
            tried += claimed;
            if claimed < result_exporter::BATCH {
                break;
            }
        }
        println!("objects of {tried} deleted plans removed from {store} (a failure is retried by the workers)");
    }
    Ok(ExitCode::SUCCESS)
}

/// No curl in the image: the binary checks itself. Over HTTPS the local probe does not check
/// the certificate: it names the public host, not 127.0.0.1, and the probe only asks whether
/// this very process answers.
pub async fn healthcheck(settings: &Settings, url: Option<String>) -> anyhow::Result<ExitCode> {
    let own_api = url.is_none();
    let url = url.unwrap_or_else(|| {
        let port = settings.api_addr.rsplit(':').next().unwrap_or("8080");
        let scheme = if settings.api_tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{port}/health")
    });
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .danger_accept_invalid_certs(own_api && settings.api_tls.is_some())
        .build()?;
    match client.get(&url).send().await {
        Ok(r) if r.status().is_success() => Ok(ExitCode::SUCCESS),
        Ok(r) => {
            eprintln!("{url}: HTTP {}", r.status());
            Ok(ExitCode::FAILURE)
        }
        Err(e) => {
            eprintln!("{url}: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

pub async fn weather_mcp(
    settings: &Settings,
    http: Option<String>,
    allowed_hosts: Vec<String>,
) -> anyhow::Result<ExitCode> {
    let server = WeatherServer::from_settings(settings)?;
    match http {
        None => weather_mcp::serve_stdio(server).await?,
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(&addr).await?;
            weather_mcp::serve_http(server, listener, allowed_hosts, shutdown_signal()).await?
        }
    }
    Ok(ExitCode::SUCCESS)
}
