//! The `planner` command line: one binary, one subcommand per process kind. The services
//! (`api`, `worker`, `dev`) are in `serve`, the one-shot operations in `admin`, the CLI
//! client in `plan`, the benchmark in `bench`, the plan-quality eval in `eval`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::{config::Settings, telemetry};

mod admin;
pub mod bench;
pub mod eval;
mod keys;
mod plan;
mod serve;
mod signal;

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
    /// Delete terminal plans older than RETENTION_DAYS, and their objects in the results store, once.
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
    /// API keys: create (prints the token once), list, revoke.
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// Plan a trip from free text and print the itinerary.
    Plan(plan::PlanArgs),
    /// Measure plans per second through the whole path, and jobs per second through the queue.
    Bench(bench::BenchArgs),
    /// Run a file of requests through the whole path and score delivery, the checker and fidelity.
    Eval(eval::EvalArgs),
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
            | Command::Eval(_)
            | Command::Migrate
            | Command::Keys { .. }
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
            Command::Api => serve::api(settings).await,
            Command::Worker => serve::worker(settings).await,
            Command::Dev => serve::dev(settings).await,
            Command::Migrate => admin::migrate(&settings).await,
            Command::Cleanup => admin::cleanup(&settings).await,
            Command::Keys { command } => keys::run(&settings, command).await,
            Command::Healthcheck { url } => admin::healthcheck(&settings, url).await,
            Command::WeatherMcp { http, allowed_hosts } => admin::weather_mcp(&settings, http, allowed_hosts).await,
            Command::Plan(args) => plan::run(settings, args).await,
            Command::Bench(args) => bench::run(settings, args).await.map(|_| ExitCode::SUCCESS),
            Command::Eval(args) => eval::run(settings, args).await,
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
