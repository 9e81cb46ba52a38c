//! Settings, read once at start-up: built-in defaults < `config/{APP_ENV}.toml` < the
//! environment (`vars`). Every variable is listed in the README with its default, and each
//! default is written once, where the variable is read: here, or in the module of its
//! section (results, webhooks, live upstreams, the queue).

mod live;
mod queue;
mod results;
mod secret;
mod upstream;
mod vars;
mod webhook;

use std::{collections::HashMap, env, path::PathBuf, time::Duration};

use anyhow::{Context, bail};

pub use live::LiveSettings;
pub use queue::QueueSettings;
pub use results::{ResultsSettings, ResultsStoreUrl, S3Settings};
pub use secret::Secret;
pub use upstream::Upstream;
pub use webhook::WebhookSettings;

use crate::resilience::Policy;
use vars::Vars;

#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    pub app_env: String,
    pub api_addr: String,
    /// An api request answers within this long or gets a 408 (a live stream's body is not
    /// bounded by it, only the wait for its first byte).
    pub api_request_timeout: Duration,
    pub auth_mode: AuthMode,
    /// HTTPS on `api_addr` with this certificate and key; plain HTTP without.
    pub api_tls: Option<TlsFiles>,
    /// Origins a browser may call the api from (`CORS_ORIGINS`, comma-separated); none by default.
    pub cors_origins: Vec<String>,
    /// Requests per minute per API key, by role (0: no limit), in each api process.
    pub rate_limit_user_per_min: u32,
    pub rate_limit_admin_per_min: u32,
    pub worker_addr: String,
    pub worker_concurrency: usize,
    pub plan_max_attempts: i32,
    /// Where finished plans are exported to, off the plan's path (`RESULTS_STORE`).
    pub results: ResultsSettings,
    pub log_format: LogFormat,
    pub db_pool_max: u32,
    pub queue: QueueSettings,
    /// Fault injection for tests and drills: sleep this long before running a node.
    pub node_delays: HashMap<String, Duration>,
    /// Fault injection for tests and drills: these nodes panic (a defect's stand-in).
    pub node_panics: Vec<String>,
    pub node_timeout: Duration,
    /// The graph's execution timeout: one attempt of one plan.
    pub plan_timeout: Duration,
    /// On SIGTERM, in-flight plans get this long to finish before they are handed back.
    pub shutdown_grace: Duration,
    /// A plan whose cheapest version is over budget by at most this share waits for
    /// approval instead of failing.
    pub approval_over_budget: f64,
    /// A plan built on degraded (fallback) data waits for approval.
    pub approval_on_degraded: bool,
    /// Terminal plans older than this are deleted by the retention cleanup.
    pub retention: Duration,
    pub cleanup_interval: Duration,
    /// Resilience policy per upstream.
    pub resilience: HashMap<Upstream, Policy>,
    /// A running MCP weather server (streamable HTTP) for the weather node.
    pub weather_mcp_url: Option<String>,
    /// Live upstreams: each is used only when configured; embedded sources otherwise.
    pub live: LiveSettings,
    pub webhook: WebhookSettings,
}

/// The api's certificate chain and private key, both PEM files (`API_TLS_CERT`, `API_TLS_KEY`).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    fn read(vars: &Vars) -> anyhow::Result<Option<Self>> {
        match (vars.text("API_TLS_CERT"), vars.text("API_TLS_KEY")) {
            (Some(cert), Some(key)) => Ok(Some(Self {
                cert: cert.into(),
                key: key.into(),
            })),
            (None, None) => Ok(None),
            (Some(_), None) => bail!("API_TLS_CERT is set but API_TLS_KEY is not: HTTPS needs both"),
            (None, Some(_)) => bail!("API_TLS_KEY is set but API_TLS_CERT is not: HTTPS needs both"),
        }
    }
}

/// Whether callers must present an API key (`AUTH_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Every caller is `anonymous` and may do everything: a laptop.
    Off,
    /// Every route but the probes, metrics and the API's description needs a key.
    Required,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/planner";

impl Settings {
    /// The environment over the `APP_ENV` profile over the defaults.
    pub fn from_env() -> anyhow::Result<Self> {
        let app_env = env::var("APP_ENV")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| "dev".into());
        if !matches!(app_env.as_str(), "dev" | "staging" | "prod") {
            bail!("APP_ENV must be dev, staging or prod, not {app_env:?}");
        }
        let profile = vars::active_profile(&app_env)?;
        let lookup = |name: &str| env::var(name).ok().or_else(|| profile.get(name).cloned());
        let mut settings = Self::read(&Vars(&lookup))?;
        settings.app_env = app_env;
        Ok(settings)
    }

    /// Settings for tests and in-process runs: what `from_env` reads, on another database.
    /// An invalid environment is an error here too, never silently the defaults.
    pub fn for_database(database_url: &str) -> anyhow::Result<Self> {
        let mut settings = Self::from_env()?;
        settings.database_url = database_url.to_string();
        Ok(settings)
    }

    pub fn policy(&self, upstream: Upstream) -> Policy {
        self.resilience
            .get(&upstream)
            .cloned()
            .unwrap_or_else(|| upstream.default_policy())
    }

    /// Every setting from `vars`, each defaulting where it is read.
    fn read(vars: &Vars) -> anyhow::Result<Self> {
        let log_format = match vars.text("LOG_FORMAT").as_deref() {
            None | Some("json") => LogFormat::Json,
            Some("pretty") => LogFormat::Pretty,
            Some(other) => bail!("LOG_FORMAT must be json or pretty, not {other:?}"),
        };
        let auth_mode = match vars.text("AUTH_MODE").as_deref() {
            None | Some("off") => AuthMode::Off,
            Some("required") => AuthMode::Required,
            Some(other) => bail!("AUTH_MODE must be off or required, not {other:?}"),
        };
        let text = |name: &str| vars.text(name);
        let mut resilience = HashMap::new();
        for upstream in Upstream::ALL {
            let policy = Policy::from_vars(upstream.as_str(), upstream.default_policy(), &text)?;
            resilience.insert(upstream, policy);
        }
        Ok(Self {
            database_url: vars.text_or("DATABASE_URL", DEFAULT_DATABASE_URL),
            app_env: "dev".into(),
            api_addr: vars.text_or("API_ADDR", "0.0.0.0:8080"),
            api_request_timeout: vars.millis("API_REQUEST_TIMEOUT_MS", 30_000)?,
            auth_mode,
            api_tls: TlsFiles::read(vars)?,
            cors_origins: vars
                .text("CORS_ORIGINS")
                .map(|list| {
                    list.split(',')
                        .map(|o| o.trim().to_string())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            rate_limit_user_per_min: vars.parsed("RATE_LIMIT_USER_PER_MIN", 600)?,
            rate_limit_admin_per_min: vars.parsed("RATE_LIMIT_ADMIN_PER_MIN", 6000)?,
            worker_addr: vars.text_or("WORKER_ADDR", "0.0.0.0:9091"),
            worker_concurrency: vars.parsed("WORKER_CONCURRENCY", 16)?,
            plan_max_attempts: vars.parsed("PLAN_MAX_ATTEMPTS", 5)?,
            results: ResultsSettings::read(vars)?,
            log_format,
            db_pool_max: vars.parsed("DB_POOL_MAX", 20)?,
            queue: QueueSettings::read(vars)?,
            node_delays: node_delays(vars.text("PLANNER_FAULT_NODE_DELAY").as_deref())?,
            node_panics: vars
                .text("PLANNER_FAULT_NODE_PANIC")
                .map(|list| {
                    list.split(',')
                        .map(|n| n.trim().to_string())
                        .filter(|n| !n.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            node_timeout: vars.secs("NODE_TIMEOUT_SECS", 240)?,
            plan_timeout: vars.secs("PLAN_TIMEOUT_SECS", 600)?,
            shutdown_grace: vars.secs("SHUTDOWN_GRACE_SECS", 30)?,
            approval_over_budget: vars.parsed::<f64>("APPROVAL_OVER_BUDGET_PCT", 20.0)? / 100.0,
            approval_on_degraded: vars.parsed("APPROVAL_ON_DEGRADED", true)?,
            retention: Duration::from_secs(vars.parsed::<u64>("RETENTION_DAYS", 30)? * 86_400),
            cleanup_interval: vars.secs("CLEANUP_INTERVAL_SECS", 3600)?,
            resilience,
            weather_mcp_url: vars.text("WEATHER_MCP_URL"),
            live: LiveSettings::read(vars)?,
            webhook: WebhookSettings::read(vars)?,
        })
    }
}

/// `draft=3000,places=500`: node name = milliseconds.
fn node_delays(raw: Option<&str>) -> anyhow::Result<HashMap<String, Duration>> {
    let mut delays = HashMap::new();
    for pair in raw.unwrap_or("").split(',').filter(|p| !p.trim().is_empty()) {
        let (node, ms) = pair
            .split_once('=')
            .with_context(|| format!("PLANNER_FAULT_NODE_DELAY: {pair:?} is not node=ms"))?;
        let ms: u64 = ms
            .trim()
            .parse()
            .with_context(|| format!("PLANNER_FAULT_NODE_DELAY: {ms:?} is not milliseconds"))?;
        delays.insert(node.trim().to_string(), Duration::from_millis(ms));
    }
    Ok(delays)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resilience::OnOpen;

    #[test]
    fn the_defaults_alone_make_valid_settings() {
        let settings = Settings::read(&Vars(&|_| None)).expect("defaults are valid");
        assert_eq!(settings.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(settings.policy(Upstream::Maps).on_open, OnOpen::Wait);
        assert_eq!(settings.policy(Upstream::Llm).on_open, OnOpen::Degrade);
        assert!(settings.policy(Upstream::Llm).timeout >= Duration::from_secs(60));
        let broken = Settings::read(&Vars(&|name| {
            (name == "RESILIENCE_MAPS_RETRIES").then(|| "many".into())
        }));
        assert!(broken.unwrap_err().to_string().contains("RESILIENCE_MAPS_RETRIES"));
    }

    #[test]
    fn node_delays_parse_and_reject_garbage() {
        let d = node_delays(Some("draft=3000, places=5")).unwrap();
        assert_eq!(d["draft"], Duration::from_millis(3000));
        assert_eq!(d["places"], Duration::from_millis(5));
        assert!(node_delays(Some("draft")).is_err());
        assert!(node_delays(Some("draft=soon")).is_err());
        assert!(node_delays(None).unwrap().is_empty());
    }
}
