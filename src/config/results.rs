//! Where the api stores finished plans' exports (`RESULTS_STORE`) and how it reaches an S3 store.

use std::{path::PathBuf, time::Duration};

use anyhow::bail;

use super::{secret::Secret, vars::Vars};

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
    pub(super) fn read(vars: &Vars) -> anyhow::Result<Self> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
