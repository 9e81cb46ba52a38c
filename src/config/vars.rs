//! Where settings are read from: the environment over the active profile file
//! (`config/{APP_ENV}.toml`, whose keys are the variables' names). Secrets only ever come
//! from the environment: a profile that names one is refused.

use std::{collections::HashMap, env, path::PathBuf, str::FromStr, sync::OnceLock, time::Duration};

use anyhow::{Context, bail};

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
fn load_profile(app_env: &str) -> anyhow::Result<HashMap<String, String>> {
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

/// The active profile's variables, read once for the process.
pub(super) fn active_profile(app_env: &str) -> anyhow::Result<&'static HashMap<String, String>> {
    if let Some(profile) = PROFILE.get() {
        return Ok(profile);
    }
    let loaded = load_profile(app_env)?;
    Ok(PROFILE.get_or_init(|| loaded))
}

/// Where settings are read from: a variable's raw value, blank counting as unset.
pub(super) struct Vars<'a>(pub(super) &'a dyn Fn(&str) -> Option<String>);

impl Vars<'_> {
    pub(super) fn text(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    pub(super) fn text_or(&self, name: &str, default: &str) -> String {
        self.text(name).unwrap_or_else(|| default.to_string())
    }

    pub(super) fn parsed<T: FromStr>(&self, name: &str, default: T) -> anyhow::Result<T>
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

    pub(super) fn secs(&self, name: &str, default: u64) -> anyhow::Result<Duration> {
        self.parsed(name, default).map(Duration::from_secs)
    }

    pub(super) fn millis(&self, name: &str, default: u64) -> anyhow::Result<Duration> {
        self.parsed(name, default).map(Duration::from_millis)
    }
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
}
