//! The `planner` command line: one binary, one subcommand per process kind.

use std::{process::ExitCode, sync::Arc};

use clap::{Parser, Subcommand};

use crate::{
    api::{self, AppState},
    bench,
    config::Settings,
    db,
    planner::run::PlanRunner,
    providers::Providers,
    queue, telemetry,
};

mod plan_command;

#[derive(Parser)]
#[command(
    name = "planner",
    version,
    about = "AI travel-planning agent run as a durable service"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// HTTP API (REST, /health, /ready) on API_ADDR.
    Api,
    /// Queue consumer that runs the planning graph.
    Worker,
    /// API and one worker in one process, for a laptop.
    Dev,
    /// Apply the database migrations and exit.
    Migrate,
    /// Delete terminal plans and finished queue jobs older than RETENTION_DAYS, once.
    Cleanup,
    /// The MCP weather server (tools lookup_city, get_forecast): stdio, or streamable HTTP at /mcp.
    WeatherMcp {
        /// Serve streamable HTTP on this address instead of stdio, e.g. 0.0.0.0:8090.
        #[arg(long)]
        http: Option<String>,
        /// Host headers to accept besides loopback (the compose service name, say).
        #[arg(long = "allowed-host")]
        allowed_hosts: Vec<String>,
    },
    /// Exit 0 when the local process answers its health endpoint (the image's HEALTHCHECK).
    Healthcheck {
        /// Defaults to the api's /health on API_ADDR's port; a worker passes its own.
        #[arg(long)]
        url: Option<String>,
    },
    /// Plan a trip from free text and print the itinerary.
    Plan(plan_command::PlanArgs),
    /// Measure plans per second through the whole path, and jobs per second through the queue.
    Bench(bench::BenchArgs),
}

pub fn main() -> ExitCode {
    // reqwest (aws-lc-rs) and sqlx (ring) both bring a rustls provider; choose one before
    // anything asks for the process default, or that code panics.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = Cli::parse();
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("configuration error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let cli_command = matches!(
        cli.command,
        Command::Plan(_)
            | Command::Bench(_)
            | Command::Migrate
            | Command::Cleanup
            | Command::Healthcheck { .. }
            | Command::WeatherMcp { .. }
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The OTLP exporter's gRPC client needs the runtime it will run on.
    let _enter = runtime.enter();
    let _telemetry = telemetry::init(settings.log_format, cli_command);
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Api => run_api(settings).await,
            Command::Worker => run_worker(settings).await,
            Command::Dev => run_dev(settings).await,
            Command::Migrate => migrate(&settings).await.map(|_| ExitCode::SUCCESS),
            Command::Cleanup => cleanup(&settings).await,
            Command::Healthcheck { url } => healthcheck(&settings, url).await,
            Command::WeatherMcp { http, allowed_hosts } => weather_mcp(&settings, http, allowed_hosts).await,
            Command::Plan(args) => plan_command::run(settings, args).await,
            Command::Bench(args) => bench::run(settings, args).await.map(|_| ExitCode::SUCCESS),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "exiting on error");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

pub async fn migrate(settings: &Settings) -> anyhow::Result<sqlx::PgPool> {
    let pool = db::connect(&settings.database_url, settings.db_pool_max).await?;
    db::migrate(&pool).await?;
    tracing::info!("migrations applied");
    Ok(pool)
}

async fn run_api(settings: Settings) -> anyhow::Result<ExitCode> {
    crate::metrics::install();
    let pool = migrate(&settings).await?;
    tokio::spawn(api::queue_gauges(pool.clone(), std::time::Duration::from_secs(15)));
    let listener = tokio::net::TcpListener::bind(&settings.api_addr).await?;
    let state = AppState {
        pool,
        settings: Arc::new(settings),
    };
    api::serve(listener, state, shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

async fn run_worker(settings: Settings) -> anyhow::Result<ExitCode> {
    crate::metrics::install();
    let pool = migrate(&settings).await?;
    let listener = tokio::net::TcpListener::bind(&settings.worker_addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "worker metrics and health listening");
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, api::worker_router()).await {
            tracing::error!(error = %e, "worker metrics server stopped");
        }
    });
    let runner = PlanRunner::new(pool.clone(), &settings, Providers::from_settings(&settings, &pool));
    queue::worker::run(pool, runner, &settings, shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

async fn run_dev(settings: Settings) -> anyhow::Result<ExitCode> {
    crate::metrics::install();
    let pool = migrate(&settings).await?;
    tokio::spawn(api::queue_gauges(pool.clone(), std::time::Duration::from_secs(15)));
    let providers = Providers::from_settings(&settings, &pool);
    let sources = format!(
        "weather: {}, places: {}, llm: {}",
        providers.weather.name(),
        providers.places.name(),
        providers
            .llm
            .as_ref()
            .map_or("none (embedded rules and composer)", |l| l.model())
    );
    let runner = PlanRunner::new(pool.clone(), &settings, providers);
    let worker = queue::worker::run(pool.clone(), runner, &settings, shutdown_signal());
    let listener = tokio::net::TcpListener::bind(&settings.api_addr).await?;
    println!(
        "travel-planner dev: API on http://{} ({sources})",
        listener.local_addr()?
    );
    let state = AppState {
        pool,
        settings: Arc::new(settings.clone()),
    };
    let api = api::serve(listener, state, shutdown_signal());
    tokio::try_join!(api, worker)?;
    Ok(ExitCode::SUCCESS)
}

async fn weather_mcp(
    settings: &Settings,
    http: Option<String>,
    allowed_hosts: Vec<String>,
) -> anyhow::Result<ExitCode> {
    let server = crate::weather_mcp::WeatherServer::from_settings(settings);
    match http {
        None => crate::weather_mcp::serve_stdio(server).await?,
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(&addr).await?;
            crate::weather_mcp::serve_http(server, listener, allowed_hosts, shutdown_signal()).await?
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// No curl in the image: the binary checks itself.
async fn healthcheck(settings: &Settings, url: Option<String>) -> anyhow::Result<ExitCode> {
    let url = url.unwrap_or_else(|| {
        let port = settings.api_addr.rsplit(':').next().unwrap_or("8080");
        format!("http://127.0.0.1:{port}/health")
    });
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
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

async fn cleanup(settings: &Settings) -> anyhow::Result<ExitCode> {
    let pool = migrate(settings).await?;
    match crate::store::retention::cleanup(&pool, settings.retention).await? {
        Some(c) => println!(
            "deleted {} plans, {} finished queue jobs, {} stale workers, {} expired cache entries",
            c.plans, c.jobs, c.workers, c.cache_entries
        ),
        None => println!("another process is cleaning up right now; nothing done"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received");
}
