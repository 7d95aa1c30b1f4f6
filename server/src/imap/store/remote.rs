//! The store on S3-compatible storage (AWS S3, MinIO, Ceph, any S3 API), through the
//! `object_store` crate: what several instances share. The layout is the data folder's: packs
//! under their names, each object at its offset, indexed in `objects`. A pack here is written
//! once, whole (S3 appends nothing): one per chunk of a backup run, so a pack is at most a
//! chunk's size and a read is one ranged GET.

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use futures_util::TryStreamExt;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore as _, ObjectStoreExt as _};

/// Each request's deadline; a chunk's pack (tens of MB) fits in it on any sane link.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Retries of a failed request (with backoff) stop after this long in all.
const RETRY_TIMEOUT: Duration = Duration::from_secs(90);

/// Where the store is, as the flags say.
#[derive(Clone, Debug)]
pub struct RemoteSettings {
    /// `s3://BUCKET` or `s3://BUCKET/PREFIX`.
    pub url: String,
    /// The S3 API's address, for a store other than AWS's.
    pub endpoint: Option<String>,
    pub region: String,
    pub key_id: Option<String>,
    pub secret: Option<crate::config::Hidden>,
}

/// An S3-compatible store, shared by every instance.
#[derive(Clone)]
pub struct Remote {
    store: Arc<dyn object_store::ObjectStore>,
    /// `s3://bucket/prefix`, for the logs and the store check (never the keys).
    pub name: String,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

impl Remote {
    /// The store the settings name; an `Err` says in words what is wrong with them.
    pub fn open(settings: &RemoteSettings) -> Result<Remote, String> {
        let rest = settings.url.strip_prefix("s3://").ok_or("--object-store must start with s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err("--object-store names no bucket (s3://BUCKET/PREFIX)".into());
        }
        let options = object_store::ClientOptions::new().with_timeout(REQUEST_TIMEOUT).with_connect_timeout(CONNECT_TIMEOUT);
        let retry = object_store::RetryConfig { retry_timeout: RETRY_TIMEOUT, ..Default::default() };
        let mut builder = object_store::aws::AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(&settings.region)
            .with_client_options(options)
            .with_retry(retry);
        if let Some(endpoint) = &settings.endpoint {
            // A plain-HTTP endpoint is accepted only when it is named so (a store on the same host).
            builder = builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
        }
        match (&settings.key_id, &settings.secret) {
            (Some(id), Some(secret)) => builder = builder.with_access_key_id(id).with_secret_access_key(secret.expose()),
            // Neither: the machine's own credentials (an instance role), as the AWS SDKs do.
            (None, None) => {}
            _ => return Err("the object store needs both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither".into()),
        }
        let store = builder.build().map_err(|e| format!("the object store: {e}"))?;
        let prefix = prefix.trim_matches('/');
        let store: Arc<dyn object_store::ObjectStore> = if prefix.is_empty() {
            Arc::new(store)
        } else {
            Arc::new(object_store::prefix::PrefixStore::new(store, StorePath::from(prefix)))
        };
        Ok(Remote { store, name: format!("s3://{bucket}/{prefix}") })
    }

    fn path(name: &str) -> StorePath {
        StorePath::from(format!("packs/{name}"))
    }

    /// Writes a whole pack.
    pub async fn put(&self, name: &str, bytes: Vec<u8>) -> std::io::Result<()> {
        self.store.put(&Remote::path(name), bytes.into()).await.map(|_| ()).map_err(io)
    }

    /// These ranges of a pack, in one or a few requests.
    pub async fn read_ranges(&self, name: &str, ranges: &[Range<u64>]) -> std::io::Result<Vec<Vec<u8>>> {
        let parts = self.store.get_ranges(&Remote::path(name), ranges).await.map_err(io)?;
        Ok(parts.into_iter().map(|part| part.to_vec()).collect())
    }

    /// A pack's size; `NotFound` when it is gone.
    pub async fn size(&self, name: &str) -> std::io::Result<u64> {
        self.store.head(&Remote::path(name)).await.map(|meta| meta.size).map_err(io)
    }

    /// Deletes a pack (one that is gone already is not an error).
    pub async fn delete(&self, name: &str) -> std::io::Result<()> {
        match self.store.delete(&Remote::path(name)).await {
            Err(object_store::Error::NotFound { .. }) => Ok(()),
            done => done.map_err(io),
        }
    }

    /// Every pack's name and size, streamed (a store may hold millions).
    pub fn list(&self) -> futures_util::stream::BoxStream<'static, std::io::Result<(String, u64)>> {
        let prefix = StorePath::from("packs");
        Box::pin(
            self.store
                .list(Some(&prefix))
                .map_err(io)
                .try_filter_map(|meta| async move { Ok(meta.location.filename().map(|name| (name.to_owned(), meta.size))) }),
        )
    }
}

/// The store's errors as I/O errors: a missing pack is `NotFound`, as on the file system.
fn io(error: object_store::Error) -> std::io::Error {
    match error {
        object_store::Error::NotFound { .. } => std::io::Error::new(std::io::ErrorKind::NotFound, "not in the object store"),
        error => std::io::Error::other(error.to_string()),
    }
}
