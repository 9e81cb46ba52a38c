//! Settings, read once at start-up: built-in defaults < `config/{APP_ENV}.toml` < the
//! environment. The profile file uses the environment variables' names as keys. Every
//! variable is listed in the README with its default, and each default is written once,
//! here, where the variable is read. Secrets only ever come from the environment: a profile
//! that names one is refused.

use std::{collections::HashMap, env, path::PathBuf, str::FromStr, sync::OnceLock, time::Duration};

use anyhow::{Context, bail};

use crate::resilience::{OnOpen, Policy};

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

/// Where finished plans are copied as `{id}.json` and `{id}.md`, and how the exporter retries.
#[derive(Debug, Clone)]
pub struct ResultsSettings {
    /// `RESULTS_STORE`, or the deprecated `RESULTS_DIR` (a folder); `None`: no export.
    pub store: Option<ResultsStoreUrl>,
    /// The S3 connection, for an `s3://` store (the standard `AWS_*` variables).
    pub s3: S3Settings,
    /// The first delay between export tries; doubles each try, with jitter, capped.
    pub retry_base: Duration,
    /// How often an idle exporter looks for due exports and deletions.
    pub poll_interval: Duration,
}

/// A results store named by its URL: `file:///path` or `s3://bucket/prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultsStoreUrl {
    File(PathBuf),
    S3 { bucket: String, prefix: String },
}

impl ResultsStoreUrl {
    /// `name` is the variable the value came from, for the error.
    fn parse(name: &str, raw: &str) -> anyhow::Result<Self> {
        let expected = "file:///absolute/path or s3://bucket/prefix";
        let url = url::Url::parse(raw.trim())
            .map_err(|e| anyhow::anyhow!("{name}={raw:?} is not a URL ({e}): expected {expected}"))?;
        match url.scheme() {
            "file" => {
                let path = url.to_file_path().map_err(|()| {
                    anyhow::anyhow!("{name}={raw:?}: a file store needs an absolute path, as in file:///srv/results")
                })?;
                Ok(Self::File(path))
            }
            "s3" => {
                let bucket = url.host_str().unwrap_or_default().to_string();
                if bucket.is_empty() {
                    bail!("{name}={raw:?} names no bucket: expected s3://bucket/prefix");
                }
                let prefix = url.path().trim_matches('/').to_string();
                Ok(Self::S3 { bucket, prefix })
            }
            other => bail!("{name}={raw:?}: the scheme {other:?} is not supported; expected {expected}"),
        }
    }
}

impl std::fmt::Display for ResultsStoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => write!(f, "file://{}", path.display()),
            Self::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            Self::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// An S3-compatible endpoint (AWS, MinIO, …), read from the standard AWS variables.
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// `AWS_ENDPOINT_URL`: unset for AWS itself; `http://minio:9000` for MinIO.
    pub endpoint: Option<String>,
    pub region: String,
    pub access_key_id: Option<Secret>,
    pub secret_access_key: Option<Secret>,
    pub session_token: Option<Secret>,
    /// Plain HTTP to the endpoint (a MinIO on a private network, tests).
    pub allow_http: bool,
}

impl ResultsSettings {
    fn read(vars: &Vars) -> anyhow::Result<Self> {
        let store = match (vars.text("RESULTS_STORE"), vars.text("RESULTS_DIR")) {
            (Some(url), _) => Some(ResultsStoreUrl::parse("RESULTS_STORE", &url)?),
            // Deprecated: a folder, as `file://` that folder (a relative one from the working
            // directory, as before).
            (None, Some(dir)) => Some(ResultsStoreUrl::File(PathBuf::from(dir))),
            (None, None) => None,
        };
        Ok(Self {
            store,
            s3: S3Settings {
                endpoint: vars.text("AWS_ENDPOINT_URL"),
                region: vars.text_or("AWS_REGION", "us-east-1"),
                access_key_id: vars.text("AWS_ACCESS_KEY_ID").map(Secret),
                secret_access_key: vars.text("AWS_SECRET_ACCESS_KEY").map(Secret),
                session_token: vars.text("AWS_SESSION_TOKEN").map(Secret),
                allow_http: vars.parsed("AWS_ALLOW_HTTP", false)?,
            },
            retry_base: vars.millis("RESULTS_RETRY_BASE_MS", 1000)?,
            poll_interval: vars.millis("RESULTS_POLL_MS", 1000)?,
        })
    }
}

/// Completion webhooks: how deliveries are signed and sent.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Signs every delivery. Without it no `callback_url` is accepted and no worker sends.
    pub secret: Option<Secret>,
    /// Callbacks to loopback, private and link-local addresses (tests, closed networks).
    pub allow_private: bool,
    /// One try's HTTP timeout.
    pub timeout: Duration,
    /// The first delay between tries; doubles each try, with jitter, capped at an hour.
    pub retry_base: Duration,
    /// How often an idle sender looks for due deliveries besides LISTEN/NOTIFY.
    pub poll_interval: Duration,
}

impl WebhookSettings {
    fn read(vars: &Vars) -> anyhow::Result<Self> {
        Ok(Self {
            secret: vars.text("WEBHOOK_SECRET").map(Secret),
            allow_private: vars.parsed("WEBHOOK_ALLOW_PRIVATE", false)?,
            timeout: vars.secs("WEBHOOK_TIMEOUT_SECS", 10)?,
            retry_base: vars.millis("WEBHOOK_RETRY_BASE_MS", 1000)?,
            poll_interval: vars.millis("WEBHOOK_POLL_MS", 1000)?,
        })
    }
}

/// The outside services a worker calls, each under a resilience policy of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Upstream {
    Weather,
    Maps,
    Llm,
}

impl Upstream {
    pub const ALL: [Upstream; 3] = [Upstream::Weather, Upstream::Maps, Upstream::Llm];

    /// Its name in metrics, logs and `RESILIENCE_{NAME}_…`.
    pub fn as_str(self) -> &'static str {
        match self {
            Upstream::Weather => "weather",
            Upstream::Maps => "maps",
            Upstream::Llm => "llm",
        }
    }

    /// Weather and the LLM are optional: without them a plan is still a plan (climate
    /// normals, the rule parser and composer). Places are not: a plan waits for them. An
    /// LLM writing a whole itinerary takes tens of seconds, a small one on a CPU longer.
    pub fn default_policy(self) -> Policy {
        let on_open = match self {
            Upstream::Weather | Upstream::Llm => OnOpen::Degrade,
            Upstream::Maps => OnOpen::Wait,
        };
        let timeout = match self {
            Upstream::Llm => Duration::from_secs(60),
            Upstream::Weather | Upstream::Maps => Policy::default().timeout,
        };
        Policy {
            on_open,
            timeout,
            ..Policy::default()
        }
    }
}

#[derive(Debug, Clone)]
pub struct LiveSettings {
    /// The LLM is used when a key or a base URL (a local OpenAI-compatible server) is set.
    pub openai_api_key: Option<Secret>,
    pub openai_base_url: Option<String>,
    pub openai_model: String,
    pub qweather_api_key: Option<Secret>,
    /// `abc123.re.qweatherapi.com`, or a whole URL (`http://127.0.0.1:9000` for a fake).
    pub qweather_api_host: String,
    /// How many days ahead the QWeather plan forecasts (3, 7, 10, 15 or 30).
    pub qweather_forecast_days: u32,
    pub amap_api_key: Option<Secret>,
    pub amap_base_url: String,
    /// A command that serves MCP weather on stdin/stdout, e.g. `planner weather-mcp`.
    pub weather_mcp_command: Option<String>,
    pub forecast_cache_ttl: Duration,
    pub places_cache_ttl: Duration,
}

impl LiveSettings {
    pub fn llm_enabled(&self) -> bool {
        self.openai_api_key.is_some() || self.openai_base_url.is_some()
    }

    fn read(vars: &Vars) -> anyhow::Result<Self> {
        let forecast_days = vars.parsed("QWEATHER_FORECAST_DAYS", 7)?;
        if ![3, 7, 10, 15, 30].contains(&forecast_days) {
            bail!("QWEATHER_FORECAST_DAYS must be 3, 7, 10, 15 or 30, not {forecast_days}");
        }
        Ok(Self {
            openai_api_key: vars.text("OPENAI_API_KEY").map(Secret),
            openai_base_url: vars.text("OPENAI_BASE_URL"),
            openai_model: vars.text_or("OPENAI_MODEL", "gpt-4o-mini"),
            qweather_api_key: vars.text("QWEATHER_API_KEY").map(Secret),
            qweather_api_host: vars.text_or("QWEATHER_API_HOST", "devapi.qweather.com"),
            qweather_forecast_days: forecast_days,
            amap_api_key: vars.text("AMAP_API_KEY").map(Secret),
            amap_base_url: vars.text_or("AMAP_BASE_URL", "https://restapi.amap.com"),
            weather_mcp_command: vars.text("WEATHER_MCP_COMMAND"),
            forecast_cache_ttl: vars.secs("CACHE_FORECAST_TTL_SECS", 3 * 3600)?,
            places_cache_ttl: vars.secs("CACHE_PLACES_TTL_SECS", 7 * 86_400)?,
        })
    }
}

/// A key that never shows up in logs or `Debug` output.
#[derive(Clone)]
pub struct Secret(pub String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// How often an idle worker polls besides LISTEN/NOTIFY (which misses delayed jobs).
    pub poll_interval: Duration,
    pub heartbeat_interval: Duration,
    /// A worker silent for heartbeat_interval × missed_heartbeats is dead; its plans are re-queued.
    pub missed_heartbeats: usize,
    /// Base of the exponential backoff between plan attempts.
    pub retry_base: Duration,
    /// Plans of one owner running at once, across every worker: one owner's backlog never
    /// holds up another's plans.
    pub owner_max_running: u32,
    /// Plans a worker claims beyond its free slots, to start each the moment a slot frees
    /// (a local queue, as graphile-worker's): worth it only for plans of a few milliseconds.
    pub prefetch: usize,
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

/// The variables of the active profile file, loaded once.
static PROFILE: OnceLock<HashMap<String, String>> = OnceLock::new();

/// Names that must come from the environment, never from a file in the repository or image.
const SECRETS: [&str; 9] = [
    "DATABASE_URL",
    "WEBHOOK_SECRET",
    "OPENAI_API_KEY",
    "QWEATHER_API_KEY",
    "AMAP_API_KEY",
    "POSTGRES_PASSWORD",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
];

/// Reads `config/{app_env}.toml` (under `CONFIG_DIR`, default `config`), if it exists.
pub fn load_profile(app_env: &str) -> anyhow::Result<HashMap<String, String>> {
    let dir = env::var("CONFIG_DIR").unwrap_or_else(|_| "config".into());
    let path = PathBuf::from(dir).join(format!("{app_env}.toml"));
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(HashMap::new());
    };
    let table: toml::Table = text
        .parse()
        .with_context(|| format!("{} is not valid TOML", path.display()))?;
    let mut vars = HashMap::new();
    for (key, value) in table {
        if SECRETS.contains(&key.as_str()) {
            bail!("{} sets {key}: secrets come only from the environment", path.display());
        }
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => bail!(
                "{}: {key} must be a string, number or boolean, not {other}",
                path.display()
            ),
        };
        vars.insert(key, value);
    }
    Ok(vars)
}

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
        if PROFILE.get().is_none() {
            let _ = PROFILE.set(load_profile(&app_env)?);
        }
        let lookup = |name: &str| {
            env::var(name)
                .ok()
                .or_else(|| PROFILE.get().and_then(|p| p.get(name).cloned()))
        };
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
            queue: QueueSettings {
                poll_interval: vars.millis("QUEUE_POLL_MS", 1000)?,
                heartbeat_interval: vars.secs("QUEUE_HEARTBEAT_SECS", 10)?,
                missed_heartbeats: vars.parsed("QUEUE_MISSED_HEARTBEATS", 6)?,
                retry_base: vars.millis("PLAN_RETRY_BASE_MS", 2000)?,
                owner_max_running: vars.parsed("OWNER_MAX_RUNNING", 8)?,
                prefetch: vars.parsed("QUEUE_PREFETCH", 0)?,
            },
            node_delays: node_delays(vars.text("PLANNER_FAULT_NODE_DELAY").as_deref())?,
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

/// Where settings are read from: a variable's raw value, blank counting as unset.
struct Vars<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Vars<'_> {
    fn text(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    fn text_or(&self, name: &str, default: &str) -> String {
        self.text(name).unwrap_or_else(|| default.to_string())
    }

    fn parsed<T: FromStr>(&self, name: &str, default: T) -> anyhow::Result<T>
    where
        T::Err: std::fmt::Display,
    {
        match self.text(name) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse()
                .map_err(|e| anyhow::anyhow!("{name}={raw:?} is not valid: {e}")),
        }
    }

    fn secs(&self, name: &str, default: u64) -> anyhow::Result<Duration> {
        self.parsed(name, default).map(Duration::from_secs)
    }

    fn millis(&self, name: &str, default: u64) -> anyhow::Result<Duration> {
        self.parsed(name, default).map(Duration::from_millis)
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

    #[test]
    fn every_profile_parses_and_secrets_are_refused() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        for profile in ["dev", "staging", "prod"] {
            let text = std::fs::read_to_string(dir.join(format!("{profile}.toml"))).unwrap();
            let table: toml::Table = text.parse().unwrap();
            assert!(table.keys().all(|k| !SECRETS.contains(&k.as_str())), "{profile}");
        }
        let tmp = std::env::temp_dir().join(format!("planner-config-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        std::fs::write(tmp.join("staging.toml"), "AMAP_API_KEY = \"leaked\"\n").unwrap();
        // SAFETY: this test alone reads CONFIG_DIR, before any other use.
        unsafe { std::env::set_var("CONFIG_DIR", &tmp) };
        let err = load_profile("staging").unwrap_err().to_string();
        assert!(err.contains("secrets come only from the environment"), "{err}");
        std::fs::write(tmp.join("dev.toml"), "WEBHOOK_SECRET = \"leaked\"\n").unwrap();
        let err = load_profile("dev").unwrap_err().to_string();
        assert!(err.contains("WEBHOOK_SECRET"), "{err}");
        std::fs::write(
            tmp.join("prod.toml"),
            "WORKER_CONCURRENCY = 3\nLOG_FORMAT = \"pretty\"\n",
        )
        .unwrap();
        let vars = load_profile("prod").unwrap();
        assert_eq!(vars["WORKER_CONCURRENCY"], "3");
        unsafe { std::env::remove_var("CONFIG_DIR") };
        let _ = std::fs::remove_dir_all(&tmp);
    }

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
    fn results_store_urls_parse_and_bad_ones_name_the_variable() {
        let parse = |raw: &str| ResultsStoreUrl::parse("RESULTS_STORE", raw);
        assert_eq!(
            parse("file:///srv/results").unwrap(),
            ResultsStoreUrl::File("/srv/results".into())
        );
        assert_eq!(
            parse("s3://plans/prod/results/").unwrap(),
            ResultsStoreUrl::S3 {
                bucket: "plans".into(),
                prefix: "prod/results".into()
            }
        );
        assert_eq!(parse("s3://plans").unwrap().to_string(), "s3://plans");
        for bad in [
            "ftp://x",
            "s3://",
            "s3:///prefix",
            "file://relative/path",
            "results",
            "https://s3.example.com/b",
        ] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(err.contains("RESULTS_STORE"), "{bad}: {err}");
        }
        assert!(parse("s3://").unwrap_err().to_string().contains("no bucket"));
        // RESULTS_DIR is the deprecated alias; RESULTS_STORE wins when both are set.
        let read = |store: Option<&'static str>, dir: Option<&'static str>| {
            ResultsSettings::read(&Vars(&move |name| match name {
                "RESULTS_STORE" => store.map(String::from),
                "RESULTS_DIR" => dir.map(String::from),
                _ => None,
            }))
            .unwrap()
            .store
        };
        assert_eq!(read(None, Some("/tmp/r")), Some(ResultsStoreUrl::File("/tmp/r".into())));
        assert_eq!(
            read(Some("s3://b/p"), Some("/tmp/r")),
            Some(ResultsStoreUrl::S3 {
                bucket: "b".into(),
                prefix: "p".into()
            })
        );
        assert_eq!(read(None, None), None);
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
