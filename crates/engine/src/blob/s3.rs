//! The S3 backend: objects in a bucket under a key prefix, through `object_store`.
//!
//! Keys become `object_store` paths with [`Path::parse`], which keeps them byte for byte (the
//! checked key rules are stricter than its own), so what is listed maps straight back to keys.

use std::ops::Range;
use std::path::Path as FsPath;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};

use super::{BlobError, BlobMeta, S3Settings, check_key};

/// The size of a multipart upload's parts; files no larger go up in one `PUT`.
const PART_SIZE: u64 = 8 * 1024 * 1024;

/// S3 accepts at most this many parts, so files above 80 GiB get larger parts.
const MAX_PARTS: u64 = 10_000;

/// How many parts upload at once; with the one being read, this bounds the memory an upload
/// holds to three parts.
const PARTS_IN_FLIGHT: usize = 2;

/// The write buffer of [`S3::get_to_file`]: downloads arrive in small pieces, and writing
/// each on its own costs a blocking-pool round trip.
const DOWNLOAD_BUFFER: usize = 1024 * 1024;

#[derive(Clone)]
pub(super) struct S3 {
    store: Arc<dyn ObjectStore>,
    /// The settings' prefix without surrounding `/`, or `""`.
    prefix: String,
}

impl S3 {
    pub(super) fn open(settings: &S3Settings) -> Result<S3, BlobError> {
        let prefix = settings.prefix.trim_matches('/');
        if !prefix.is_empty() {
            check_key(prefix)?;
        }
        if settings.bucket.is_empty() {
            return Err(BlobError::BadSettings("the bucket name is empty".to_owned()));
        }
        if let Some(endpoint) = &settings.endpoint
            && endpoint.starts_with("http://")
            && !settings.allow_http
        {
            // object_store would only refuse at the first request, with a vaguer message.
            return Err(BlobError::BadSettings(format!(
                "the endpoint {endpoint} is plain HTTP but allow_http is not set"
            )));
        }
        let builder = match (&settings.access_key_id, &settings.secret_access_key) {
            // Explicit credentials make the store hermetic: no AWS_* variable (a session
            // token, say) can mix in.
            (Some(key_id), Some(secret)) => {
                AmazonS3Builder::new().with_access_key_id(key_id).with_secret_access_key(secret)
            }
            (None, None) => AmazonS3Builder::from_env(),
            _ => {
                return Err(BlobError::BadSettings(
                    "give both access_key_id and secret_access_key, or neither".to_owned(),
                ));
            }
        };
        let mut builder = builder
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region)
            .with_allow_http(settings.allow_http)
            .with_virtual_hosted_style_request(false);
        if let Some(endpoint) = &settings.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        Ok(S3 { store: Arc::new(builder.build()?), prefix: prefix.to_owned() })
    }

    pub(super) fn describe(&self) -> String {
        self.store.to_string()
    }

    pub(super) fn prefix(&self) -> &str {
        &self.prefix
    }

    pub(super) async fn put(&self, key: &str, data: Bytes) -> Result<(), BlobError> {
        self.store.put(&self.path(key)?, PutPayload::from_bytes(data)).await?;
        Ok(())
    }

    pub(super) async fn put_file(&self, key: &str, source: &FsPath) -> Result<u64, BlobError> {
        let location = self.path(key)?;
        let io_error = |error| BlobError::Io { path: source.to_owned(), source: error };
        let mut file = tokio::fs::File::open(source).await.map_err(io_error)?;
        let size = file.metadata().await.map_err(io_error)?.len();
        if size <= PART_SIZE {
            // One request instead of three; the file is at most one part, so this holds no
            // more memory than a multipart upload would.
            // (A file growing meanwhile is cut at one part rather than read without bound.)
            let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            (&mut file).take(PART_SIZE).read_to_end(&mut data).await.map_err(io_error)?;
            let read = data.len() as u64;
            self.store.put(&location, PutPayload::from(data)).await?;
            return Ok(read);
        }
        let part_size = PART_SIZE.max(size.div_ceil(MAX_PARTS));
        // Only a 32-bit machine with a file above 40 TiB could overflow, and S3 stops at 5 TiB.
        let part_len = usize::try_from(part_size).unwrap_or(usize::MAX);
        let upload = self.store.put_multipart(&location).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, part_len);
        let mut total = 0u64;
        // Bounded by the file: every turn reads a whole part or reaches its end.
        loop {
            if let Err(error) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                let _ = writer.abort().await;
                return Err(error.into());
            }
            let part = match read_part(&mut file, part_len).await {
                Ok(part) => part,
                Err(error) => {
                    let _ = writer.abort().await;
                    return Err(io_error(error));
                }
            };
            if part.is_empty() {
                break;
            }
            total += part.len() as u64;
            writer.put(part);
        }
        // finish() aborts the upload itself when it fails.
        writer.finish().await?;
        Ok(total)
    }

    pub(super) async fn get(&self, key: &str) -> Result<Bytes, BlobError> {
        let result =
            self.store.get(&self.path(key)?).await.map_err(|error| not_found(error, key))?;
        result.bytes().await.map_err(|error| not_found(error, key))
    }

    pub(super) async fn get_to_file(
        &self,
        key: &str,
        destination: &FsPath,
    ) -> Result<u64, BlobError> {
        let result =
            self.store.get(&self.path(key)?).await.map_err(|error| not_found(error, key))?;
        let io_error = |error| BlobError::Io { path: destination.to_owned(), source: error };
        let file = tokio::fs::File::create(destination).await.map_err(io_error)?;
        let mut writer = BufWriter::with_capacity(DOWNLOAD_BUFFER, file);
        let mut stream = result.into_stream();
        let mut total = 0u64;
        let copied: Result<u64, BlobError> = async {
            while let Some(chunk) = stream.try_next().await? {
                writer.write_all(&chunk).await.map_err(io_error)?;
                total += chunk.len() as u64;
            }
            writer.flush().await.map_err(io_error)?;
            Ok(total)
        }
        .await;
        if copied.is_err() {
            drop(writer);
            let _ = tokio::fs::remove_file(destination).await;
        }
        copied
    }

    pub(super) async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, BlobError> {
        let location = self.path(key)?;
        match self.store.get_range(&location, range.clone()).await {
            Ok(data) => Ok(data),
            Err(object_store::Error::NotFound { .. }) => {
                Err(BlobError::NotFound { key: key.to_owned() })
            }
            Err(error) => {
                // S3 answers a range past the end with a bare 416, which object_store passes on
                // as a generic error. Only then is the size worth a second request, to tell
                // the caller's mistake from a failure of the store.
                match self.store.head(&location).await {
                    Ok(meta) if range.start >= meta.size => Err(BlobError::InvalidRange {
                        key: key.to_owned(),
                        range,
                        reason: "the range starts at or past the end of the object",
                    }),
                    Err(object_store::Error::NotFound { .. }) => {
                        Err(BlobError::NotFound { key: key.to_owned() })
                    }
                    _ => Err(error.into()),
                }
            }
        }
    }

    pub(super) async fn head(&self, key: &str) -> Result<Option<BlobMeta>, BlobError> {
        match self.store.head(&self.path(key)?).await {
            Ok(meta) => Ok(Some(BlobMeta {
                key: key.to_owned(),
                size: meta.size,
                last_modified_ms: meta.last_modified.timestamp_millis(),
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    pub(super) async fn list(&self, prefix: &str) -> Result<Vec<BlobMeta>, BlobError> {
        let listed: Vec<ObjectMeta> = match self.full(prefix)? {
            Some(location) => self.store.list(Some(&location)).try_collect().await?,
            None => self.store.list(None).try_collect().await?,
        };
        Ok(listed
            .into_iter()
            .filter_map(|meta| {
                // Everything listed is under our prefix; the filter only guards the mapping.
                let key = self.relative(&meta.location)?;
                Some(BlobMeta {
                    key,
                    size: meta.size,
                    last_modified_ms: meta.last_modified.timestamp_millis(),
                })
            })
            .collect())
    }

    pub(super) async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match self.store.delete(&self.path(key)?).await {
            // S3 itself succeeds on a missing key; other stores may not.
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    pub(super) async fn delete_prefix(&self, prefix: &str) -> Result<usize, BlobError> {
        let Some(location) = self.full(prefix)? else { return Ok(0) };
        let listed: Vec<ObjectMeta> = self.store.list(Some(&location)).try_collect().await?;
        let count = listed.len();
        // delete_stream batches into bulk DeleteObjects requests (1000 keys each).
        let paths = futures::stream::iter(listed.into_iter().map(|meta| Ok(meta.location))).boxed();
        let mut deleted = self.store.delete_stream(paths);
        while let Some(result) = deleted.next().await {
            match result {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(count)
    }

    /// The location of a checked key.
    fn path(&self, key: &str) -> Result<Path, BlobError> {
        Ok(self.full(key)?.unwrap_or_default())
    }

    /// The location of a checked key or prefix, `None` for the whole store.
    fn full(&self, key: &str) -> Result<Option<Path>, BlobError> {
        let joined = if key.is_empty() {
            if self.prefix.is_empty() {
                return Ok(None);
            }
            self.prefix.clone()
        } else if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}/{key}", self.prefix)
        };
        // The key rules are stricter than object_store's, so this cannot fail; map it anyway.
        Path::parse(&joined).map(Some).map_err(|_| BlobError::InvalidKey {
            key: key.to_owned(),
            reason: "object_store cannot represent the key",
        })
    }

    /// The key of a listed location, relative to the store's prefix.
    fn relative(&self, location: &Path) -> Option<String> {
        let location = location.as_ref();
        if self.prefix.is_empty() {
            return Some(location.to_owned());
        }
        location.strip_prefix(self.prefix.as_str())?.strip_prefix('/').map(str::to_owned)
    }
}

/// Reads up to `len` bytes, stopping short only at the end of the file.
async fn read_part(file: &mut tokio::fs::File, len: usize) -> std::io::Result<Bytes> {
    let mut part = BytesMut::with_capacity(len);
    // Bounded: every turn adds at least one byte or ends the loop.
    while part.len() < len {
        let mut limited = (&mut *file).take((len - part.len()) as u64);
        if limited.read_buf(&mut part).await? == 0 {
            break;
        }
    }
    Ok(part.freeze())
}

/// Turns object_store's NotFound into ours, naming the key rather than the full location.
fn not_found(error: object_store::Error, key: &str) -> BlobError {
    match error {
        object_store::Error::NotFound { .. } => BlobError::NotFound { key: key.to_owned() },
        other => other.into(),
    }
}
