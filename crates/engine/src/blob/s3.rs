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
use object_store::{
    GetOptions, GetRange, MultipartUpload, ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload,
    PutPayloadMut,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::task::JoinSet;

use super::{BlobError, BlobMeta, BlobStream, S3Settings, check_key, split_chunk};

/// The size of a multipart upload's parts; files no larger go up in one `PUT`.
const PART_SIZE: u64 = 8 * 1024 * 1024;

/// S3 accepts at most this many parts, so files above 80 GiB get larger parts.
const MAX_PARTS: u64 = 10_000;

/// How many parts upload at once; with the one being read, this bounds the memory an upload
/// holds to three parts.
const PARTS_IN_FLIGHT: usize = 2;

/// [`PART_SIZE`] as a length in memory.
const PART_LEN: usize = PART_SIZE as usize;

/// Writes smaller than this are copied into a [`S3Writer`]'s part rather than kept as they
/// come, so that a body arriving in tiny pieces does not make a part of a million pieces.
const COPY_BELOW: usize = 64 * 1024;

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
        let mut writer = self.writer(key)?;
        let io_error = |error| BlobError::Io { path: source.to_owned(), source: error };
        let file = tokio::fs::File::open(source).await.map_err(io_error)?;
        let size = file.metadata().await.map_err(io_error)?.len();
        // Only a 32-bit machine with a file above 40 TiB could overflow, and S3 stops at 5 TiB.
        writer.part_len =
            usize::try_from(PART_SIZE.max(size.div_ceil(MAX_PARTS))).unwrap_or(usize::MAX);
        // A file of at most one part goes up in one request; one growing meanwhile is cut at
        // that part rather than read without bound.
        let mut file = file.take(if size <= PART_SIZE { PART_SIZE } else { u64::MAX });
        // Bounded by the file: every turn reads a whole part or reaches its end.
        loop {
            let part = match read_part(&mut file, writer.part_len).await {
                Ok(part) => part,
                Err(error) => {
                    let _ = writer.abort().await;
                    return Err(io_error(error));
                }
            };
            if part.is_empty() {
                break;
            }
            if let Err(error) = writer.write(part).await {
                let _ = writer.abort().await;
                return Err(error);
            }
        }
        let size = writer.written;
        // finish() aborts the upload itself when it fails.
        writer.finish().await?;
        Ok(size)
    }

    pub(super) fn writer(&self, key: &str) -> Result<S3Writer, BlobError> {
        Ok(S3Writer {
            store: Arc::clone(&self.store),
            location: self.path(key)?,
            part_len: PART_LEN,
            written: 0,
            part: new_part(),
            upload: None,
            parts: JoinSet::new(),
        })
    }

    pub(super) async fn get_stream(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<BlobStream, BlobError> {
        let location = self.path(key)?;
        let options =
            GetOptions { range: range.clone().map(GetRange::Bounded), ..GetOptions::default() };
        let result = match (self.store.get_opts(&location, options).await, range) {
            (Ok(result), _) => result,
            (Err(error), Some(range)) => {
                return Err(self.range_error(&location, key, range, error).await);
            }
            (Err(error), None) => return Err(not_found(error, key)),
        };
        let len = result.range.end - result.range.start;
        let object_size = result.meta.size;
        let key = key.to_owned();
        let chunks = result
            .into_stream()
            .map_err(move |error| not_found(error, &key))
            .map_ok(|chunk| futures::stream::iter(split_chunk(chunk).map(Ok)))
            .try_flatten()
            .boxed();
        Ok(BlobStream { chunks, len, object_size })
    }

    pub(super) async fn copy(&self, from: &str, to: &str) -> Result<u64, BlobError> {
        let source = self.path(from)?;
        let target = self.path(to)?;
        // CopyObject does not say how much it copied; the size read first is the source's
        // unless a writer replaces it in between.
        let size = match self.store.head(&source).await {
            Ok(meta) => meta.size,
            Err(error) => return Err(not_found(error, from)),
        };
        self.store.copy(&source, &target).await.map_err(|error| not_found(error, from))?;
        Ok(size)
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
            Err(error) => Err(self.range_error(&location, key, range, error).await),
        }
    }

    /// What a failed ranged read of `key` means for the caller.
    async fn range_error(
        &self,
        location: &Path,
        key: &str,
        range: Range<u64>,
        error: object_store::Error,
    ) -> BlobError {
        if matches!(error, object_store::Error::NotFound { .. }) {
            return BlobError::NotFound { key: key.to_owned() };
        }
        // S3 answers a range past the end with a bare 416, which object_store passes on as a
        // generic error. Only then is the size worth a second request, to tell the caller's
        // mistake from a failure of the store.
        match self.store.head(location).await {
            Ok(meta) if range.start >= meta.size => BlobError::InvalidRange {
                key: key.to_owned(),
                range,
                reason: "the range starts at or past the end of the object",
            },
            Err(object_store::Error::NotFound { .. }) => {
                BlobError::NotFound { key: key.to_owned() }
            }
            _ => error.into(),
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

/// An object being written to S3: a part filling in memory, sent as a multipart upload's
/// part once full, or in one `PUT` if the object ends first.
pub(super) struct S3Writer {
    store: Arc<dyn ObjectStore>,
    location: Path,
    /// The size of every part but the last: [`PART_LEN`] unless the object's size is known
    /// to need more.
    part_len: usize,
    /// How many bytes were written.
    written: u64,
    /// The part being filled, less than `part_len` between writes.
    part: PutPayloadMut,
    /// The multipart upload, started when the first part is full; `None` again once it is
    /// completed or aborted.
    upload: Option<Box<dyn MultipartUpload>>,
    /// The parts being sent, at most [`PARTS_IN_FLIGHT`].
    parts: JoinSet<Result<(), object_store::Error>>,
}

impl S3Writer {
    pub(super) async fn write(&mut self, mut bytes: Bytes) -> Result<(), BlobError> {
        self.written += bytes.len() as u64;
        // Bounded: every turn but the last sends a whole part.
        loop {
            let room = self.part_len - self.part.content_length();
            if bytes.len() < room {
                self.add(bytes);
                return Ok(());
            }
            self.add(bytes.split_to(room));
            self.send_part().await?;
        }
    }

    pub(super) async fn finish(mut self) -> Result<(), BlobError> {
        let Some(mut upload) = self.upload.take() else {
            // At most one part: one request, as for put_file.
            let part = std::mem::replace(&mut self.part, new_part()).freeze();
            self.store.put(&self.location, part).await?;
            return Ok(());
        };
        if self.part.content_length() > 0 {
            let part = std::mem::replace(&mut self.part, new_part()).freeze();
            self.parts.spawn(upload.put_part(part));
        }
        let completed: Result<(), object_store::Error> = async {
            while let Some(sent) = self.parts.join_next().await {
                sent??;
            }
            upload.complete().await.map(|_| ())
        }
        .await;
        if let Err(error) = completed {
            self.parts.shutdown().await;
            // The failure to report is the upload's, not its clean-up's.
            let _ = upload.abort().await;
            return Err(error.into());
        }
        Ok(())
    }

    pub(super) async fn abort(mut self) -> Result<(), BlobError> {
        self.parts.shutdown().await;
        if let Some(mut upload) = self.upload.take() {
            upload.abort().await?;
        }
        Ok(())
    }

    /// Adds `bytes` to the part being filled.
    fn add(&mut self, bytes: Bytes) {
        if bytes.len() < COPY_BELOW {
            self.part.extend_from_slice(&bytes);
        } else {
            self.part.push(bytes);
        }
    }

    /// Sends the full part, once fewer than [`PARTS_IN_FLIGHT`] others are on their way.
    async fn send_part(&mut self) -> Result<(), BlobError> {
        if self.upload.is_none() {
            self.upload = Some(self.store.put_multipart(&self.location).await?);
        }
        while self.parts.len() >= PARTS_IN_FLIGHT {
            if let Some(sent) = self.parts.join_next().await {
                sent.map_err(object_store::Error::from)??;
            }
        }
        let part = std::mem::replace(&mut self.part, new_part()).freeze();
        if let Some(upload) = &mut self.upload {
            self.parts.spawn(upload.put_part(part));
        }
        Ok(())
    }
}

impl Drop for S3Writer {
    fn drop(&mut self) {
        // Dropping the JoinSet cancels the parts in flight; the upload itself needs a
        // request, which can only be sent from a runtime.
        if let Some(mut upload) = self.upload.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                let _ = upload.abort().await;
            });
        }
    }
}

/// An empty part, growing in 256 KiB blocks as small writes are copied in.
fn new_part() -> PutPayloadMut {
    PutPayloadMut::new().with_block_size(256 * 1024)
}

/// Reads up to `len` bytes, stopping short only at the end of the file.
async fn read_part(file: &mut (impl AsyncRead + Unpin), len: usize) -> std::io::Result<Bytes> {
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
