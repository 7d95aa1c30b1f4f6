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
        self.delete_at(&Remote::path(name)).await
    }

    /// Deletes an object; one that is gone already is not an error.
    async fn delete_at(&self, path: &StorePath) -> std::io::Result<()> {
        match self.store.delete(path).await {
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

/// Download files are uploaded in parts of this size (S3's multipart parts are at least 5 MB).
const UPLOAD_PART: usize = 8 << 20;
/// ... and sent in parts of this size: each part is one request within its deadline, however
/// slowly the person downloading reads, and what a download holds in memory stays this small.
const SEND_PART: u64 = 4 << 20;

impl Remote {
    fn download_path(name: &str) -> StorePath {
        StorePath::from(format!("downloads/{name}"))
    }

    /// Uploads a finished download file (streamed, in parts), so every instance can serve it.
    pub async fn put_download(&self, name: &str, file: &std::path::Path) -> std::io::Result<()> {
        use tokio::io::AsyncReadExt;
        let upload = self.store.put_multipart(&Remote::download_path(name)).await.map_err(io)?;
        let mut writer = object_store::WriteMultipart::new_with_chunk_size(upload, UPLOAD_PART);
        let sent = async {
            let mut file = tokio::fs::File::open(file).await?;
            let mut buffer = vec![0; 1 << 20];
            loop {
                let read = file.read(&mut buffer).await?;
                if read == 0 {
                    return Ok(());
                }
                writer.wait_for_capacity(2).await.map_err(io)?;
                writer.write(&buffer[..read]);
            }
        }
        .await;
        match sent {
            Ok(()) => writer.finish().await.map(|_| ()).map_err(io),
            Err(error) => {
                let _ = writer.abort().await;
                Err(error)
            }
        }
    }

    /// A download file's size and its store's validator of this version of it (its ETag,
    /// quoted); `NotFound` when gone.
    pub async fn download_meta(&self, name: &str) -> std::io::Result<(u64, String)> {
        let meta = self.store.head(&Remote::download_path(name)).await.map_err(io)?;
        let tag = match meta.e_tag {
            Some(tag) if tag.starts_with('"') => tag,
            Some(tag) => format!("\"{tag}\""),
            None => format!("\"{:x}-{:x}\"", meta.size, meta.last_modified.timestamp_nanos_opt().unwrap_or_default()),
        };
        Ok((meta.size, tag))
    }

    /// Bytes `range` of the version `tag` (from `download_meta`) of a download file, read a part
    /// at a time as they are sent. Each part must be of that version and whole: a file replaced
    /// meanwhile (the download requested again) ends the stream with an error, never a body
    /// spliced from two files or cut short.
    pub fn download_stream(
        &self,
        name: &str,
        range: Range<u64>,
        tag: String,
    ) -> futures_util::stream::BoxStream<'static, std::io::Result<axum::body::Bytes>> {
        let (store, path) = (self.store.clone(), Remote::download_path(name));
        Box::pin(futures_util::stream::try_unfold(range.start, move |at| {
            let (store, path, end, tag) = (store.clone(), path.clone(), range.end, tag.clone());
            async move {
                if at >= end {
                    return Ok(None);
                }
                let to = end.min(at + SEND_PART);
                let options = object_store::GetOptions {
                    range: Some(object_store::GetRange::Bounded(at..to)),
                    if_match: Some(tag),
                    ..Default::default()
                };
                let part = store.get_opts(&path, options).await.map_err(io)?.bytes().await.map_err(io)?;
                if part.len() as u64 != to - at {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the download file changed while it was sent",
                    ));
                }
                Ok(Some((part, to)))
            }
        }))
    }

    /// Deletes a download file (one that is not there is not an error).
    pub async fn delete_download(&self, name: &str) -> std::io::Result<()> {
        self.delete_at(&Remote::download_path(name)).await
    }
}

/// The store's errors as I/O errors: a missing pack is `NotFound`, as on the file system.
fn io(error: object_store::Error) -> std::io::Error {
    match error {
        object_store::Error::NotFound { .. } => std::io::Error::new(std::io::ErrorKind::NotFound, "not in the object store"),
        error => std::io::Error::other(error.to_string()),
    }
}
