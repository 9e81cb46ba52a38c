//! The results store behind `object_store`: `file:///path` (the local file system, written
//! through a temporary name so a reader never sees half a file) or `s3://bucket/prefix`
//! (AWS S3, MinIO, any S3-compatible server; endpoint, region and credentials from the
//! `AWS_*` settings). One put or delete per request, with a timeout and no retries of its own:
//! the exporter owns retries (backoff, attempts and the last error on the export row).

use std::{fmt, sync::Arc, time::Duration};

use anyhow::Context;
use object_store::{
    Attribute, Attributes, ClientOptions, ObjectStore, ObjectStoreExt, PutOptions, PutPayload, RetryConfig,
    aws::AmazonS3Builder, local::LocalFileSystem, path::Path,
};
use uuid::Uuid;

use crate::config::{ResultsSettings, ResultsStoreUrl, S3Settings};

/// One request to the store, connecting included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A plan's two objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Object {
    Json,
    Markdown,
}

impl Object {
    pub const BOTH: [Object; 2] = [Object::Json, Object::Markdown];

    fn extension(self) -> &'static str {
        match self {
            Object::Json => "json",
            Object::Markdown => "md",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Object::Json => "application/json",
            Object::Markdown => "text/markdown; charset=utf-8",
        }
    }
}

/// Why the store refused or could not be reached: the message goes to the export's
/// `last_error` and the log.
#[derive(Debug)]
pub struct StoreError(String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

#[derive(Clone)]
pub struct ResultsStore {
    objects: Arc<dyn ObjectStore>,
    /// Object names start here: the bucket's prefix, or the folder (from the file system root).
    prefix: Path,
    url: ResultsStoreUrl,
    /// A file store takes no content types.
    typed: bool,
}

impl fmt::Debug for ResultsStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResultsStore({})", self.url)
    }
}

impl ResultsStore {
    /// The configured store; `None` when there is none.
    pub fn from_settings(settings: &ResultsSettings) -> anyhow::Result<Option<Self>> {
        settings
            .store
            .as_ref()
            .map(|url| Self::open(url, &settings.s3))
            .transpose()
    }

    /// The store the URL names. Contacts nothing: a store that is down shows at the first
    /// write, as a retried export, never as a failed start. A value that cannot name a store
    /// is an error naming `RESULTS_STORE`.
    pub fn open(url: &ResultsStoreUrl, s3: &S3Settings) -> anyhow::Result<Self> {
        let (objects, prefix, typed): (Arc<dyn ObjectStore>, Path, bool) = match url {
            ResultsStoreUrl::File(dir) => {
                let dir = std::path::absolute(dir)
                    .with_context(|| format!("RESULTS_STORE: {} cannot be made absolute", dir.display()))?;
                let prefix = Path::from_absolute_path(&dir)
                    .with_context(|| format!("RESULTS_STORE: {} is not a usable folder name", dir.display()))?;
                // Missing folders are made at the first write: a store that is not there yet
                // (a volume still mounting) delays exports, not the start.
                (Arc::new(LocalFileSystem::new()), prefix, false)
            }
            ResultsStoreUrl::S3 { bucket, prefix } => {
                let prefix = Path::parse(prefix)
                    .with_context(|| format!("RESULTS_STORE: {prefix:?} is not a valid object prefix"))?;
                let bucket = s3_bucket(bucket, s3)
                    .with_context(|| format!("RESULTS_STORE: cannot use the S3 bucket {bucket:?}"))?;
                (Arc::new(bucket), prefix, true)
            }
        };
        Ok(Self {
            objects,
            prefix,
            url: url.clone(),
            typed,
        })
    }

    /// The object's name in the store: `{prefix}/{plan_id}.{json|md}`.
    fn path(&self, plan_id: Uuid, object: Object) -> Path {
        self.prefix.clone().join(format!("{plan_id}.{}", object.extension()))
    }

    /// The object's URL, as the plan's export shows it.
    pub fn location(&self, plan_id: Uuid, object: Object) -> String {
        match &self.url {
            ResultsStoreUrl::File(_) => format!("file:///{}", self.path(plan_id, object)),
            ResultsStoreUrl::S3 { bucket, .. } => format!("s3://{bucket}/{}", self.path(plan_id, object)),
        }
    }

    /// Writes (or overwrites) one object of the plan.
    pub async fn put(&self, plan_id: Uuid, object: Object, bytes: Vec<u8>) -> Result<(), StoreError> {
        let mut attributes = Attributes::new();
        if self.typed {
            attributes.insert(Attribute::ContentType, object.content_type().into());
        }
        let options = PutOptions {
            attributes,
            ..PutOptions::default()
        };
        let path = self.path(plan_id, object);
        let write = self.objects.put_opts(&path, PutPayload::from(bytes), options);
        match tokio::time::timeout(REQUEST_TIMEOUT, write).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(StoreError(format!(
                "cannot write {}: {e}",
                self.location(plan_id, object)
            ))),
            Err(_) => Err(timed_out("write", &self.location(plan_id, object))),
        }
    }

    /// Deletes one object of the plan; one already gone counts as deleted.
    pub async fn delete(&self, plan_id: Uuid, object: Object) -> Result<(), StoreError> {
        let path = self.path(plan_id, object);
        match tokio::time::timeout(REQUEST_TIMEOUT, self.objects.delete(&path)).await {
            Ok(Ok(())) | Ok(Err(object_store::Error::NotFound { .. })) => Ok(()),
            Ok(Err(e)) => Err(StoreError(format!(
                "cannot delete {}: {e}",
                self.location(plan_id, object)
            ))),
            Err(_) => Err(timed_out("delete", &self.location(plan_id, object))),
        }
    }
}

impl fmt::Display for ResultsStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.url.fmt(f)
    }
}

fn timed_out(what: &str, location: &str) -> StoreError {
    StoreError(format!(
        "cannot {what} {location}: no answer within {} s",
        REQUEST_TIMEOUT.as_secs()
    ))
}

/// The bucket's client. `from_env` first, for the parts of the standard AWS credential chain
/// that need no setting of ours (web identity tokens, container credentials); then what the
/// settings read, which wins.
fn s3_bucket(bucket: &str, s3: &S3Settings) -> object_store::Result<object_store::aws::AmazonS3> {
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_region(&s3.region)
        .with_allow_http(s3.allow_http)
        .with_client_options(
            ClientOptions::new()
                .with_allow_http(s3.allow_http)
                .with_timeout(REQUEST_TIMEOUT)
                .with_connect_timeout(CONNECT_TIMEOUT),
        )
        .with_retry(RetryConfig {
            max_retries: 0,
            ..RetryConfig::default()
        });
    if let Some(endpoint) = &s3.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if let Some(key) = &s3.access_key_id {
        builder = builder.with_access_key_id(key.expose());
    }
    if let Some(secret) = &s3.secret_access_key {
        builder = builder.with_secret_access_key(secret.expose());
    }
    if let Some(token) = &s3.session_token {
        builder = builder.with_token(token.expose());
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3_settings() -> S3Settings {
        S3Settings {
            endpoint: Some("http://127.0.0.1:9".into()),
            region: "us-east-1".into(),
            access_key_id: None,
            secret_access_key: None,
            session_token: None,
            allow_http: true,
        }
    }

    #[test]
    fn objects_are_named_prefix_slash_id_dot_extension() {
        let id = Uuid::nil();
        let url = ResultsStoreUrl::S3 {
            bucket: "plans".into(),
            prefix: "prod/results".into(),
        };
        let store = ResultsStore::open(&url, &s3_settings()).unwrap();
        assert_eq!(
            store.location(id, Object::Json),
            format!("s3://plans/prod/results/{id}.json")
        );
        assert_eq!(
            store.location(id, Object::Markdown),
            format!("s3://plans/prod/results/{id}.md")
        );
        let bare = ResultsStoreUrl::S3 {
            bucket: "plans".into(),
            prefix: String::new(),
        };
        let store = ResultsStore::open(&bare, &s3_settings()).unwrap();
        assert_eq!(store.location(id, Object::Json), format!("s3://plans/{id}.json"));
        let file = ResultsStore::open(&ResultsStoreUrl::File("/srv/results".into()), &s3_settings()).unwrap();
        assert_eq!(
            file.location(id, Object::Markdown),
            format!("file:///srv/results/{id}.md")
        );
    }

    #[test]
    fn a_prefix_that_names_no_object_is_refused_naming_the_variable() {
        let url = ResultsStoreUrl::S3 {
            bucket: "plans".into(),
            prefix: "a//b".into(),
        };
        let err = ResultsStore::open(&url, &s3_settings()).unwrap_err();
        assert!(format!("{err:#}").contains("RESULTS_STORE"), "{err:#}");
    }

    #[tokio::test]
    async fn a_file_store_writes_through_missing_folders_and_deletes_idempotently() {
        let dir = std::env::temp_dir().join(format!("planner-store-{}", Uuid::new_v4()));
        let store = ResultsStore::open(&ResultsStoreUrl::File(dir.join("a/b")), &s3_settings()).unwrap();
        let id = Uuid::new_v4();
        store.put(id, Object::Json, b"{}".to_vec()).await.unwrap();
        assert_eq!(std::fs::read(dir.join(format!("a/b/{id}.json"))).unwrap(), b"{}");
        store.delete(id, Object::Json).await.unwrap();
        store.delete(id, Object::Json).await.unwrap();
        assert!(!dir.join(format!("a/b/{id}.json")).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
