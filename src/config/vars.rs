//! Where settings are read from: the environment over the active profile file
//! (`config/{APP_ENV}.toml`, whose keys are the variables' names). Secrets only ever come
//! from the environment: a profile that names one is refused.

use std::{collections::HashMap, env, path::Path, str::FromStr, sync::OnceLock, time::Duration};

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

/// The profiles as built into the binary: what a process reads when no `config/` folder is
/// beside it, so that `APP_ENV=prod` means the prod profile wherever the binary runs.
const BUILT_IN: [(&str, &str); 3] = [
    ("dev", include_str!("../../config/dev.toml")),
    ("staging", include_str!("../../config/staging.toml")),
    ("prod", include_str!("../../config/prod.toml")),
];

/// Reads `config/{app_env}.toml` under `CONFIG_DIR` (default `config`, from the working
/// directory). Without `CONFIG_DIR` and without that file, the built-in profile; a
/// `CONFIG_DIR` without the file is an error, as is a file that cannot be read.
fn load_profile(app_env: &str) -> anyhow::Result<HashMap<String, String>> {
    match env::var("CONFIG_DIR").ok().filter(|dir| !dir.trim().is_empty()) {
        Some(dir) => profile_in(app_env, Path::new(&dir), false),
        None => profile_in(app_env, Path::new("config"), true),
    }
}

/// `dir/{app_env}.toml`; the built-in profile when the file does not exist and `built_in_else`.
fn profile_in(app_env: &str, dir: &Path, built_in_else: bool) -> anyhow::Result<HashMap<String, String>> {
    let path = dir.join(format!("{app_env}.toml"));
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_profile(&path.display().to_string(), &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && built_in_else => {
            match BUILT_IN.iter().find(|(name, _)| *name == app_env) {
                Some((_, text)) => parse_profile(&format!("the built-in {app_env} profile"), text),
                None => Ok(HashMap::new()),
            }
        }
        Err(e) => Err(e).with_context(|| format!("cannot read the {app_env} profile {}", path.display())),
    }
}

/// A profile's variables; `source` names it in errors.
fn parse_profile(source: &str, text: &str) -> anyhow::Result<HashMap<String, String>> {
    let table: toml::Table = text.parse().with_context(|| format!("{source} is not valid TOML"))?;
    let mut vars = HashMap::new();
    for (key, value) in table {
        if SECRETS.contains(&key.as_str()) {
            bail!("{source} sets {key}: secrets come only from the environment");
        }
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => bail!("{source}: {key} must be a string, number or boolean, not {other}"),
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

    fn scratch_dir(name: &str) -> std::path::PathBuf {
        let dir = env::temp_dir().join(format!("planner-config-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_built_in_profiles_are_the_files_and_stand_in_for_a_missing_folder() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let empty = scratch_dir("empty");
        for (profile, _) in BUILT_IN {
            let from_file = profile_in(profile, &repo, false).unwrap();
            assert!(from_file.keys().all(|k| !SECRETS.contains(&k.as_str())), "{profile}");
            assert_eq!(profile_in(profile, &empty, true).unwrap(), from_file, "{profile}");
        }
        assert_eq!(profile_in("prod", &empty, true).unwrap()["AUTH_MODE"], "required");
        let _ = std::fs::remove_dir_all(&empty);
    }

    #[test]
    fn a_chosen_folder_without_the_profile_or_an_unreadable_profile_is_an_error() {
        let dir = scratch_dir("chosen");
        let err = profile_in("prod", &dir, false).unwrap_err();
        assert!(format!("{err:#}").contains("prod.toml"), "{err:#}");
        // A folder where the file should be: it exists but cannot be read as a file.
        std::fs::create_dir_all(dir.join("staging.toml")).unwrap();
        let err = profile_in("staging", &dir, true).unwrap_err();
        assert!(
            format!("{err:#}").contains("cannot read the staging profile"),
            "{err:#}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_profile_naming_a_secret_is_refused_and_values_become_text() {
        let dir = scratch_dir("secrets");
        std::fs::write(dir.join("staging.toml"), "AMAP_API_KEY = \"leaked\"\n").unwrap();
        let err = profile_in("staging", &dir, false).unwrap_err().to_string();
        assert!(err.contains("secrets come only from the environment"), "{err}");
        std::fs::write(dir.join("dev.toml"), "WEBHOOK_SECRET = \"leaked\"\n").unwrap();
        let err = profile_in("dev", &dir, false).unwrap_err().to_string();
        assert!(err.contains("WEBHOOK_SECRET"), "{err}");
        std::fs::write(
            dir.join("prod.toml"),
            "WORKER_CONCURRENCY = 3\nLOG_FORMAT = \"pretty\"\nAPPROVAL_ON_DEGRADED = false\n",
        )
        .unwrap();
        let vars = profile_in("prod", &dir, false).unwrap();
        assert_eq!(vars["WORKER_CONCURRENCY"], "3");
        assert_eq!(vars["APPROVAL_ON_DEGRADED"], "false");
        std::fs::write(dir.join("prod.toml"), "WORKER_CONCURRENCY = [1, 2]\n").unwrap();
        let err = profile_in("prod", &dir, false).unwrap_err().to_string();
        assert!(err.contains("must be a string, number or boolean"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
