//! The blob store: large objects in a local directory or an S3-compatible object store.
//!
//! Logs, artifacts, source archives and caches are too big for the database, so they live
//! here, addressed by keys such as `builds/<id>/artifacts.zip`. [`BlobStore`] has two backends
//! behind one API, and one conformance suite (`blob/tests.rs`) holds both to the same contract:
//!
//! - **Local** ([`BlobStore::local`]): one file per object under a root directory, a key's
//!   `/`-separated segments being directories. The one-machine default.
//! - **S3** ([`BlobStore::s3`]): objects in a bucket under an optional key prefix, through
//!   `object_store`, with path-style requests so that MinIO, moto and other S3-compatible
//!   servers work. What several server replicas share.
//!
//! # Contract
//!
//! **Keys.** A key is a relative, `/`-separated path of at most 1024 bytes: not empty, no
//! leading `/`, no empty, `.` or `..` segments, no backslash, NUL or other control character,
//! and not under `.tmp/` (the local backend's scratch directory). Anything else is
//! [`BlobError::InvalidKey`] before any IO, which is what keeps the local backend inside its
//! root. A prefix (for [`BlobStore::list`] and [`BlobStore::delete_prefix`]) follows the same
//! rules, may end in one `/`, and matches whole segments: `builds/1` covers `builds/1/log`
//! but neither `builds/10/log` nor an object named exactly `builds/1`. On the local backend a
//! key cannot also be a prefix of another key (`a` and `a/b` cannot both exist, as a file
//! cannot also be a directory), nor have a segment longer than the file system allows (255
//! bytes on most): both are [`BlobError::Io`] there. S3 allows both, so callers must not
//! rely on either behaviour.
//!
//! **Lifecycle.** Build a store once at start-up and clone it freely: clones share one
//! connection pool (S3) or root (local), and nothing needs closing. [`BlobStore::local`]
//! creates its directory; [`BlobStore::s3`] and [`BlobStore::from_url`] do no IO, so a wrong
//! endpoint or missing bucket shows up at the first operation.
//!
//! **Atomicity.** [`BlobStore::put`], [`BlobStore::put_file`], [`BlobStore::copy`] and
//! [`BlobWriter::finish`] publish all-or-nothing: readers see the old object or the new one,
//! never a prefix of either. Locally the bytes go to a temporary file under `<root>/.tmp/`,
//! which is fsynced and renamed into place (and the directory fsynced), so a crash leaves at
//! worst an orphaned temporary file that no listing shows. On S3 a single `PUT`, a
//! `CopyObject` or a completed multipart upload is atomic by itself; a failed multipart
//! upload is aborted, and one whose future is dropped mid-way is aborted in the background,
//! best effort: if that fails (or no tokio runtime is left to send it), its parts stay until
//! the bucket's `AbortIncompleteMultipartUpload` lifecycle rule removes them. Dropping a
//! local write's future does not stop the write (it runs on tokio's blocking pool), so a
//! cancelled local `put`, `copy` or `finish` may still publish, whole.
//! A [`BlobWriter`] (from [`BlobStore::writer`]) streams an object of unknown size: nothing
//! is visible until `finish`, and [`BlobWriter::abort`], a failed write or dropping the
//! writer publishes nothing and removes the temporary file, or aborts the multipart upload.
//! A [`BlobStream`] (from [`BlobStore::get_stream`]) reads one version of the object, in
//! chunks of at most 256 KiB, only as fast as it is pulled.
//! [`BlobStore::get_to_file`] writes its destination in place and removes it on failure.
//!
//! **Concurrency.** Every method may be called from many tasks, and from many processes
//! sharing one root or bucket. Concurrent writers of one key race and the last to publish
//! wins whole. A listing is not a snapshot: objects written or deleted while it runs may or
//! may not appear, and [`BlobStore::delete_prefix`] does not remove objects written under the
//! prefix after it has listed them.
//!
//! **Errors.** [`BlobError::NotFound`] comes only from the reads of one object (`get`,
//! `get_range`, `get_stream`, `get_to_file`, and `copy` of a missing source), before any byte
//! is read; [`BlobStore::head`] says `None` instead, and deleting what is not there succeeds.
//! [`BlobError::InvalidRange`] comes from `get_range` and `get_stream` alike. Local IO
//! failures are [`BlobError::Io`] with the path involved; S3 failures are
//! [`BlobError::ObjectStore`], after `object_store`'s own retries, and may also end a
//! `BlobStream` midway. A [`BlobWriter`] whose write failed answers every later call with
//! [`BlobError::WriterFailed`].

mod local;
mod s3;
mod url;

#[cfg(test)]
mod tests;

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use futures::stream::BoxStream;

use self::local::{Local, LocalWriter};
use self::s3::{S3, S3Writer};

/// The longest key S3 accepts, applied to both backends so that they agree.
const MAX_KEY_BYTES: usize = 1024;

/// The first key segment reserved for the local backend's temporary files.
const RESERVED_SEGMENT: &str = ".tmp";

/// The largest chunk a [`BlobStream`] yields.
const STREAM_CHUNK: usize = 256 * 1024;

/// A place to keep large objects by key: a local directory or an S3 bucket.
///
/// See the [module documentation](self) for the contract both backends keep.
#[derive(Clone)]
pub struct BlobStore {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Local(Local),
    S3(S3),
}

/// Where an S3 store lives and how to reach it.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Settings {
    /// The bucket, which must already exist.
    pub bucket: String,
    /// A key prefix under which this store keeps its objects (`""` for the whole bucket).
    pub prefix: String,
    /// The S3 endpoint, e.g. `http://127.0.0.1:9000`; `None` means AWS itself.
    pub endpoint: Option<String>,
    /// The signing region, `us-east-1` unless the server says otherwise.
    pub region: String,
    /// The access key id; with [`S3Settings::secret_access_key`], or both `None` to take
    /// credentials from the `AWS_*` environment (or the instance's role).
    pub access_key_id: Option<String>,
    /// The secret access key that goes with [`S3Settings::access_key_id`].
    pub secret_access_key: Option<String>,
    /// Whether an `http://` endpoint is acceptable (test servers, a MinIO on the same host).
    pub allow_http: bool,
}

impl fmt::Debug for S3Settings {
    // Written by hand so that the secret never reaches a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Settings")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &self.secret_access_key.as_ref().map(|_| "<redacted>"))
            .field("allow_http", &self.allow_http)
            .finish()
    }
}

/// What [`BlobStore::head`] and [`BlobStore::list`] say about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    /// The key, relative to the store (without the S3 settings' prefix).
    pub key: String,
    /// The size in bytes.
    pub size: u64,
    /// When the object was last written, in milliseconds since the Unix epoch.
    pub last_modified_ms: i64,
}

/// Why a blob store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The object does not exist.
    #[error("blob `{key}` not found")]
    NotFound {
        /// The key asked for.
        key: String,
    },
    /// The key or prefix breaks the key rules (see the module documentation).
    #[error("invalid blob key `{key}`: {reason}")]
    InvalidKey {
        /// The key as given.
        key: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// [`BlobStore::get_range`] or [`BlobStore::get_stream`] was asked for an empty or
    /// reversed range, or one that starts at or past the end of the object.
    #[error("invalid range {}..{} of blob `{key}`: {reason}", range.start, range.end)]
    InvalidRange {
        /// The key asked for.
        key: String,
        /// The range asked for.
        range: Range<u64>,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A local file operation failed.
    #[error("blob store IO on {}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The object store (S3) failed.
    #[error("object store: {0}")]
    ObjectStore(#[from] object_store::Error),
    /// [`BlobStore::from_url`] could not make sense of its URL.
    #[error("bad blob store URL: {0}")]
    BadUrl(String),
    /// [`BlobStore::s3`] was given settings that cannot work.
    #[error("bad S3 settings: {0}")]
    BadSettings(String),
    /// A [`BlobWriter`] was used again after one of its writes failed; it publishes nothing.
    #[error("an earlier write of blob `{key}` failed, so it cannot be finished")]
    WriterFailed {
        /// The key being written.
        key: String,
    },
}

impl BlobStore {
    /// A store keeping each object as a file under `root`, which is created if missing.
    pub fn local(root: &Path) -> Result<BlobStore, BlobError> {
        Ok(BlobStore { backend: Backend::Local(Local::open(root)?) })
    }

    /// A store keeping its objects in an S3 bucket, under `settings.prefix`.
    ///
    /// Requests are path-style (`<endpoint>/<bucket>/<key>`), which every S3-compatible
    /// server understands. Credentials come from the settings when both halves are given
    /// (and then nothing is read from the environment); otherwise everything not in the
    /// settings comes from the `AWS_*` environment, as `object_store` reads it.
    pub fn s3(settings: &S3Settings) -> Result<BlobStore, BlobError> {
        Ok(BlobStore { backend: Backend::S3(S3::open(settings)?) })
    }

    /// A store described by a URL: `file:///abs/path` or a plain path for a local store,
    /// `s3://bucket/prefix?endpoint=…&region=…&allow_http=true` for S3 (region defaults to
    /// `us-east-1`).
    ///
    /// Credentials never go in the URL (URLs end up in logs and process listings): S3
    /// credentials come from the `AWS_*` environment, and a URL carrying a user name,
    /// password or any parameter other than these three is [`BlobError::BadUrl`].
    pub fn from_url(url: &str) -> Result<BlobStore, BlobError> {
        match url::parse(url)? {
            url::Target::Local(root) => BlobStore::local(&root),
            url::Target::S3(settings) => BlobStore::s3(&settings),
        }
    }

    /// Stores `data` under `key`, replacing any object there, atomically.
    pub async fn put(&self, key: &str, data: Bytes) -> Result<(), BlobError> {
        check_key(key)?;
        match &self.backend {
            Backend::Local(local) => local.put(key, data).await,
            Backend::S3(s3) => s3.put(key, data).await,
        }
    }

    /// Stores the contents of the file at `path` under `key`, atomically, and returns how many
    /// bytes it stored.
    ///
    /// The file is streamed (on S3, as a multipart upload of 8 MiB parts once it is larger
    /// than one part), so its size is not limited by memory.
    pub async fn put_file(&self, key: &str, path: &Path) -> Result<u64, BlobError> {
        check_key(key)?;
        match &self.backend {
            Backend::Local(local) => local.put_file(key, path).await,
            Backend::S3(s3) => s3.put_file(key, path).await,
        }
    }

    /// The whole object under `key`, in memory.
    pub async fn get(&self, key: &str) -> Result<Bytes, BlobError> {
        check_key(key)?;
        match &self.backend {
            Backend::Local(local) => local.get(key).await,
            Backend::S3(s3) => s3.get(key).await,
        }
    }

    /// Streams the object under `key` into a new file at `path` (replacing any file there)
    /// and returns its size.
    pub async fn get_to_file(&self, key: &str, path: &Path) -> Result<u64, BlobError> {
        check_key(key)?;
        match &self.backend {
            Backend::Local(local) => local.get_to_file(key, path).await,
            Backend::S3(s3) => s3.get_to_file(key, path).await,
        }
    }

    /// The bytes `range` of the object under `key`.
    ///
    /// As in HTTP, a range reaching past the end is cut short at the end; a range that is
    /// empty, reversed or starts at or past the end is [`BlobError::InvalidRange`].
    pub async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, BlobError> {
        check_key(key)?;
        if range.start >= range.end {
            return Err(BlobError::InvalidRange {
                key: key.to_owned(),
                range,
                reason: "the range is empty or reversed",
            });
        }
        match &self.backend {
            Backend::Local(local) => local.get_range(key, range).await,
            Backend::S3(s3) => s3.get_range(key, range).await,
        }
    }

    /// Starts writing a new object under `key`; nothing is visible until
    /// [`BlobWriter::finish`], and [`BlobWriter::abort`] or dropping the writer leaves no
    /// trace.
    ///
    /// The bytes go straight to where they will stay: a temporary file under `<root>/.tmp/`
    /// locally, or on S3 the parts of a multipart upload (8 MiB each, at most 10 000, so an
    /// object written this way stops at 80 GiB), sent as they fill, two at a time. An
    /// object no larger than one part goes up in a single `PUT` at the finish.
    pub async fn writer(&self, key: &str) -> Result<BlobWriter, BlobError> {
        check_key(key)?;
        let backend = match &self.backend {
            Backend::Local(local) => WriterBackend::Local(local.writer(key).await?),
            Backend::S3(s3) => WriterBackend::S3(s3.writer(key)?),
        };
        Ok(BlobWriter { key: key.to_owned(), backend, written: 0, failed: false })
    }

    /// The bytes `range` of the object under `key` (all of them when `None`), as a stream of
    /// chunks of at most 256 KiB read as the consumer pulls them.
    ///
    /// The range follows [`BlobStore::get_range`]: reaching past the end is cut short at
    /// the end, and an empty or reversed range, or one starting at or past the end, is
    /// [`BlobError::InvalidRange`]. A missing object is [`BlobError::NotFound`], before the
    /// stream starts. The stream reads one version of the object even if it is replaced
    /// meanwhile (locally, by holding the file open; on S3, as one `GET`).
    pub async fn get_stream(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<BlobStream, BlobError> {
        check_key(key)?;
        if let Some(range) = &range
            && range.start >= range.end
        {
            return Err(BlobError::InvalidRange {
                key: key.to_owned(),
                range: range.clone(),
                reason: "the range is empty or reversed",
            });
        }
        match &self.backend {
            Backend::Local(local) => local.get_stream(key, range).await,
            Backend::S3(s3) => s3.get_stream(key, range).await,
        }
    }

    /// Copies the object under `from` to `to`, replacing any object there atomically, and
    /// returns its size. A missing `from` is [`BlobError::NotFound`].
    ///
    /// Locally the copy goes through a temporary file like [`BlobStore::put_file`]; on S3
    /// it is one server-side `CopyObject`, which S3 limits to objects of 5 GiB.
    pub async fn copy(&self, from: &str, to: &str) -> Result<u64, BlobError> {
        check_key(from)?;
        check_key(to)?;
        match &self.backend {
            Backend::Local(local) => local.copy(from, to).await,
            Backend::S3(s3) => s3.copy(from, to).await,
        }
    }

    /// The size and modification time of the object under `key`, or `None` if there is none.
    pub async fn head(&self, key: &str) -> Result<Option<BlobMeta>, BlobError> {
        check_key(key)?;
        match &self.backend {
            Backend::Local(local) => local.head(key).await,
            Backend::S3(s3) => s3.head(key).await,
        }
    }

    /// Every object under `prefix` (`""` for all), at any depth, sorted by key.
    pub async fn list(&self, prefix: &str) -> Result<Vec<BlobMeta>, BlobError> {
        let prefix = check_prefix(prefix)?;
        let mut listed = match &self.backend {
            Backend::Local(local) => local.list(prefix).await?,
            Backend::S3(s3) => s3.list(prefix).await?,
        };
        // Neither backend promises an order (S3 happens to sort, a directory walk does not).
        listed.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        Ok(listed)
    }

    /// Deletes the object under `key`; deleting what is not there succeeds.
    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        check_key(key)?;
        match &self.backend {
            Backend::Local(local) => local.delete(key).await,
            Backend::S3(s3) => s3.delete(key).await,
        }
    }

    /// Deletes every object under `prefix` and returns how many there were.
    ///
    /// The prefix must not be empty: emptying a whole store is too big a thing to happen
    /// because a variable was blank.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<usize, BlobError> {
        let prefix = check_prefix(prefix)?;
        if prefix.is_empty() {
            return Err(BlobError::InvalidKey {
                key: prefix.to_owned(),
                reason: "delete_prefix needs a non-empty prefix",
            });
        }
        match &self.backend {
            Backend::Local(local) => local.delete_prefix(prefix).await,
            Backend::S3(s3) => s3.delete_prefix(prefix).await,
        }
    }
}

impl fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.backend {
            Backend::Local(local) => {
                f.debug_struct("BlobStore::Local").field("root", &local.root()).finish()
            }
            Backend::S3(s3) => f
                .debug_struct("BlobStore::S3")
                .field("store", &s3.describe())
                .field("prefix", &s3.prefix())
                .finish(),
        }
    }
}

/// An object being written, from [`BlobStore::writer`].
///
/// Nothing is visible under the key until [`BlobWriter::finish`] publishes the whole object.
/// [`BlobWriter::abort`] or dropping the writer publishes nothing and removes what was
/// written (dropping removes the local temporary file at once, and aborts an S3 multipart
/// upload in the background when a tokio runtime is there to run it). After a failed write
/// the writer only refuses: later writes and `finish` are [`BlobError::WriterFailed`], and
/// `finish` then tidies up as `abort` would.
pub struct BlobWriter {
    key: String,
    backend: WriterBackend,
    written: u64,
    failed: bool,
}

enum WriterBackend {
    Local(LocalWriter),
    S3(S3Writer),
}

impl BlobWriter {
    /// Appends `bytes` to the object. About two megabytes (locally) or three 8 MiB parts
    /// (S3) may be held in memory before it waits for the medium to take them.
    pub async fn write(&mut self, bytes: Bytes) -> Result<(), BlobError> {
        if self.failed {
            return Err(BlobError::WriterFailed { key: self.key.clone() });
        }
        let len = bytes.len() as u64;
        let written = match &mut self.backend {
            WriterBackend::Local(local) => local.write(bytes).await,
            WriterBackend::S3(s3) => s3.write(bytes).await,
        };
        match written {
            Ok(()) => {
                self.written += len;
                Ok(())
            }
            Err(error) => {
                self.failed = true;
                Err(error)
            }
        }
    }

    /// How many bytes were written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Publishes the object atomically, replacing any object under its key, and returns its
    /// size. On failure nothing is published and what was written is removed.
    ///
    /// Locally the file is fsynced, renamed into place and its directory fsynced; on S3 the
    /// multipart upload is completed (or the object sent in one `PUT`).
    pub async fn finish(self) -> Result<u64, BlobError> {
        if self.failed {
            let key = self.key.clone();
            // The failed write's error was the one that mattered; this is only tidying up.
            let _ = self.abort().await;
            return Err(BlobError::WriterFailed { key });
        }
        let written = self.written;
        match self.backend {
            WriterBackend::Local(local) => local.finish().await?,
            WriterBackend::S3(s3) => s3.finish().await?,
        }
        Ok(written)
    }

    /// Abandons the object: nothing is published, and the temporary file or multipart upload
    /// is removed.
    pub async fn abort(self) -> Result<(), BlobError> {
        match self.backend {
            WriterBackend::Local(local) => local.abort().await,
            WriterBackend::S3(s3) => s3.abort().await,
        }
    }
}

impl fmt::Debug for BlobWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobWriter")
            .field("key", &self.key)
            .field("written", &self.written)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

/// An object's bytes, from [`BlobStore::get_stream`]: a stream of chunks of at most 256 KiB,
/// each read when the consumer asks for it.
pub struct BlobStream {
    chunks: BoxStream<'static, Result<Bytes, BlobError>>,
    len: u64,
    object_size: u64,
}

impl BlobStream {
    /// How many bytes the stream yields in all: the range's length, cut at the object's end.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the stream yields no bytes at all (an empty object read whole).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The size of the whole object.
    pub fn object_size(&self) -> u64 {
        self.object_size
    }
}

impl Stream for BlobStream {
    type Item = Result<Bytes, BlobError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.chunks.as_mut().poll_next(cx)
    }
}

impl fmt::Debug for BlobStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobStream")
            .field("len", &self.len)
            .field("object_size", &self.object_size)
            .finish_non_exhaustive()
    }
}

/// Splits `chunk` into pieces of at most [`STREAM_CHUNK`] bytes, without copying.
fn split_chunk(mut chunk: Bytes) -> impl Iterator<Item = Bytes> {
    std::iter::from_fn(move || {
        if chunk.is_empty() {
            return None;
        }
        Some(chunk.split_to(chunk.len().min(STREAM_CHUNK)))
    })
}

/// Checks `key` against the key rules of the module documentation.
fn check_key(key: &str) -> Result<(), BlobError> {
    let invalid = |reason| Err(BlobError::InvalidKey { key: key.to_owned(), reason });
    if key.is_empty() {
        return invalid("the key is empty");
    }
    if key.len() > MAX_KEY_BYTES {
        return invalid("the key is longer than 1024 bytes");
    }
    if key.starts_with('/') {
        return invalid("the key starts with `/` (keys are relative)");
    }
    if key.contains('\\') {
        return invalid("the key contains a backslash");
    }
    if key.chars().any(char::is_control) {
        return invalid("the key contains NUL or another control character");
    }
    for segment in key.split('/') {
        if segment.is_empty() {
            return invalid("the key has an empty segment (`//` or a trailing `/`)");
        }
        if segment == "." || segment == ".." {
            return invalid("the key has a `.` or `..` segment");
        }
    }
    if key.split('/').next() == Some(RESERVED_SEGMENT) {
        return invalid("`.tmp/` is reserved for the store's temporary files");
    }
    Ok(())
}

/// Checks a list or delete prefix and returns it without its trailing `/` (`""` stays `""`).
fn check_prefix(prefix: &str) -> Result<&str, BlobError> {
    if prefix.is_empty() {
        return Ok(prefix);
    }
    let trimmed = prefix.strip_suffix('/').unwrap_or(prefix);
    check_key(trimmed).map_err(|error| match error {
        BlobError::InvalidKey { reason, .. } => {
            BlobError::InvalidKey { key: prefix.to_owned(), reason }
        }
        other => other,
    })?;
    Ok(trimmed)
}
