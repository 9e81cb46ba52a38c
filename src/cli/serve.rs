//! The long-running processes: `planner api`, `planner worker`, and `planner dev` (both in
//! one process, for a laptop).

use std::{process::ExitCode, sync::Arc};

use crate::{
    api::{self, AppState},
    cli::signal::shutdown_signal,
    config::Settings,
    db,
    queue::{executor::Executor, worker},
    travel::sources::Sources,
};

/// How often an api process refreshes the queue gauges.
const GAUGE_PERIOD: std::time::Duration = std::time::Duration::from_secs(15);

pub async fn api(settings: Settings) -> anyhow::Result<ExitCode> {
    crate::metrics::install();
    let pool = db::open(&settings.database_url, settings.db_pool_max).await?;
    tokio::spawn(api::queue_gauges(
        pool.clone(),
        settings.queue.owner_max_running,
        GAUGE_PERIOD,
    ));
    let listener = tokio::net::TcpListener::bind(&settings.api_addr).await?;
    let state = AppState::new(pool, Arc::new(settings));
    api::serve(listener, state, shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

pub async fn worker(settings: Settings) -> anyhow::Result<ExitCode> {
    crate::metrics::install();
    let pool = db::open(&settings.database_url, settings.db_pool_max).await?;
    let listener = tokio::net::TcpListener::bind(&settings.worker_addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "worker metrics and health listening");
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, api::worker_router()).await {
            tracing::error!(error = %e, "worker metrics server stopped");
        }
    });
    let executor = Executor::new(pool.clone(), &settings, Sources::from_settings(&settings, &pool)?);
    worker::run(pool, executor, &settings, shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

pub async fn dev(settings: Settings) -> anyhow::Result<ExitCode> {
    crate::metrics::install();
    let pool = db::open(&settings.database_url, settings.db_pool_max).await?;
    tokio::spawn(api::queue_gauges(
        pool.clone(),
        settings.queue.owner_max_running,
        GAUGE_PERIOD,
    ));
    let sources = Sources::from_settings(&settings, &pool)?;
    let described = format!(
        "weather: {}, places: {}, llm: {}",
        sources.weather.name(),
        sources.places.name(),
        sources
            .llm
            .as_ref()
            .map_or("none (embedded rules and composer)", |l| l.model())
    );
    let executor = Executor::new(pool.clone(), &settings, sources);
    let worker = worker::run(pool.clone(), executor, &settings, shutdown_signal());
    let listener = tokio::net::TcpListener::bind(&settings.api_addr).await?;
    let scheme = if settings.api_tls.is_some() { "https" } else { "http" };
    println!(
        "travel-planner dev: API on {scheme}://{} ({described})",
        listener.local_addr()?
    );
    let state = AppState::new(pool, Arc::new(settings.clone()));
    let api = api::serve(listener, state, shutdown_signal());
    tokio::try_join!(api, worker)?;
    Ok(ExitCode::SUCCESS)
}
