//! The local backend: one file per object under a root directory.
//!
//! Every one-shot operation is a short sequence of blocking `std::fs` calls run on tokio's
//! blocking pool, rather than `tokio::fs`, which would hop to that pool once per call and per
//! buffer. `std::io::copy` between files also lets Linux copy in the kernel
//! (`copy_file_range`). The streaming ones live as long as their caller feeds or drains
//! them: a [`LocalWriter`] hops to the pool once per megabyte gathered, and
//! [`Local::get_stream`] reads through a `tokio::fs::File`, one hop per 256 KiB chunk.
//! Keys reach this module already checked, so joining their segments onto the root cannot
//! leave it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, IoSlice, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::UNIX_EPOCH;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use tokio::io::AsyncReadExt;
use tokio::task::JoinHandle;

use super::{BlobError, BlobMeta, BlobStream, RESERVED_SEGMENT, STREAM_CHUNK, check_key};

/// How often publishing retries when a concurrent delete pruned the directory it had just
/// created (see [`publish`]).
const PUBLISH_ATTEMPTS: usize = 4;

/// How many names a temporary file tries before giving up; a clash needs a stale file from
/// an earlier process with the same pid, so the second name practically always works.
const TEMP_NAME_ATTEMPTS: usize = 16;

/// How much a [`LocalWriter`] gathers before writing it: network bodies arrive in small
/// pieces, and each write of the file is a blocking-pool round trip.
const WRITE_BATCH: usize = 1024 * 1024;

/// Writes smaller than this are copied together rather than written piece by piece.
const COPY_BELOW: usize = 64 * 1024;

/// Distinguishes the temporary files of one process; the pid distinguishes processes.
static NEXT_TEMP: AtomicU64 = AtomicU64::new(0);

#[derive(Clone)]
pub(super) struct Local {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    tmp: PathBuf,
}

impl Local {
    pub(super) fn open(root: &Path) -> Result<Local, BlobError> {
        fs::create_dir_all(root).map_err(io_at(root))?;
        // Absolute, so that a later change of the working directory cannot move the store.
        let root = root.canonicalize().map_err(io_at(root))?;
        let tmp = root.join(RESERVED_SEGMENT);
        fs::create_dir_all(&tmp).map_err(io_at(&tmp))?;
        Ok(Local { inner: Arc::new(Inner { root, tmp }) })
    }

    pub(super) fn root(&self) -> &Path {
        &self.inner.root
    }

    pub(super) async fn put(&self, key: &str, data: Bytes) -> Result<(), BlobError> {
        let key = key.to_owned();
        self.blocking(move |inner| {
            inner.write_atomically(&key, |file, path| file.write_all(&data).map_err(io_at(path)))
        })
        .await
    }

    pub(super) async fn put_file(&self, key: &str, source: &Path) -> Result<u64, BlobError> {
        let key = key.to_owned();
        let source = source.to_owned();
        self.blocking(move |inner| {
            let mut from = File::open(&source).map_err(io_at(&source))?;
            inner.write_atomically(&key, |file, temp| copy_file(&mut from, &source, file, temp))
        })
        .await
    }

    pub(super) async fn writer(&self, key: &str) -> Result<LocalWriter, BlobError> {
        let (file, temp) = self.blocking(Inner::create_temp).await?;
        Ok(LocalWriter {
            local: self.clone(),
            key: key.to_owned(),
            temp: Some(temp),
            file: Some(file),
            in_flight: None,
            batch: Vec::new(),
            batch_len: 0,
            small: BytesMut::new(),
        })
    }

    pub(super) async fn get_stream(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<BlobStream, BlobError> {
        let key = key.to_owned();
        let (file, path, object_size, range) = self
            .blocking(move |inner| {
                // The open handle pins one version of the object, as in get_range.
                let (mut file, path) = inner.open_object(&key)?;
                let size = file.metadata().map_err(io_at(&path))?.len();
                let start = match &range {
                    Some(range) if range.start >= size => {
                        return Err(BlobError::InvalidRange {
                            key,
                            range: range.clone(),
                            reason: "the range starts at or past the end of the object",
                        });
                    }
                    Some(range) => range.start,
                    None => 0,
                };
                if start > 0 {
                    file.seek(SeekFrom::Start(start)).map_err(io_at(&path))?;
                }
                let end = range.map_or(size, |range| range.end.min(size));
                Ok((file, path, size, start..end))
            })
            .await?;
        let len = range.end - range.start;
        let file = tokio::fs::File::from_std(file);
        let chunks =
            futures::stream::try_unfold((file, path, len), |(mut file, path, left)| async move {
                if left == 0 {
                    return Ok(None);
                }
                // Bounded by `left`, so each chunk is at most STREAM_CHUNK.
                let want = left.min(STREAM_CHUNK as u64);
                let mut chunk = BytesMut::with_capacity(want as usize);
                let read =
                    (&mut file).take(want).read_buf(&mut chunk).await.map_err(io_at(&path))?;
                if read == 0 {
                    // Objects are replaced by renames, never truncated, so only a foreign
                    // writer can cut a file short under an open handle.
                    return Err(BlobError::Io {
                        path,
                        source: io::Error::new(ErrorKind::UnexpectedEof, "the file ended early"),
                    });
                }
                Ok(Some((chunk.freeze(), (file, path, left - read as u64))))
            });
        Ok(BlobStream { chunks: chunks.boxed(), len, object_size })
    }

    pub(super) async fn copy(&self, from: &str, to: &str) -> Result<u64, BlobError> {
        let from = from.to_owned();
        let to = to.to_owned();
        self.blocking(move |inner| {
            let (mut source, path) = inner.open_object(&from)?;
            inner.write_atomically(&to, |file, temp| copy_file(&mut source, &path, file, temp))
        })
        .await
    }

    pub(super) async fn get(&self, key: &str) -> Result<Bytes, BlobError> {
        let key = key.to_owned();
        self.blocking(move |inner| {
            let (mut file, path) = inner.open_object(&key)?;
            let mut data = Vec::new();
            file.read_to_end(&mut data).map_err(io_at(&path))?;
            Ok(Bytes::from(data))
        })
        .await
    }

    pub(super) async fn get_to_file(
        &self,
        key: &str,
        destination: &Path,
    ) -> Result<u64, BlobError> {
        let key = key.to_owned();
        let destination = destination.to_owned();
        self.blocking(move |inner| {
            let (mut from, path) = inner.open_object(&key)?;
            let mut to = File::create(&destination).map_err(io_at(&destination))?;
            let copied =
                io::copy(&mut from, &mut to).and_then(|copied| to.flush().map(|()| copied));
            copied.map_err(|error| {
                drop(to);
                let _ = fs::remove_file(&destination);
                let blame =
                    if error.kind() == ErrorKind::StorageFull { &destination } else { &path };
                BlobError::Io { path: blame.clone(), source: error }
            })
        })
        .await
    }

    pub(super) async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, BlobError> {
        let key = key.to_owned();
        self.blocking(move |inner| {
            // The open handle pins one version of the object even if it is replaced meanwhile
            // (a rename swaps the directory entry, not the file), so size and bytes agree.
            let (mut file, path) = inner.open_object(&key)?;
            let size = file.metadata().map_err(io_at(&path))?.len();
            if range.start >= size {
                return Err(BlobError::InvalidRange {
                    key,
                    range,
                    reason: "the range starts at or past the end of the object",
                });
            }
            let end = range.end.min(size);
            let len = usize::try_from(end - range.start).map_err(|_| BlobError::InvalidRange {
                key: key.clone(),
                range: range.clone(),
                reason: "the range does not fit in memory",
            })?;
            file.seek(SeekFrom::Start(range.start)).map_err(io_at(&path))?;
            let mut data = vec![0; len];
            file.read_exact(&mut data).map_err(io_at(&path))?;
            Ok(Bytes::from(data))
        })
        .await
    }

    pub(super) async fn head(&self, key: &str) -> Result<Option<BlobMeta>, BlobError> {
        let key = key.to_owned();
        self.blocking(move |inner| {
            let path = inner.path_of(&key);
            match fs::metadata(&path) {
                Ok(metadata) if metadata.is_file() => Ok(Some(meta(key, &metadata))),
                Ok(_) => Ok(None),
                Err(error) if is_absent(&error) => Ok(None),
                Err(error) => Err(BlobError::Io { path, source: error }),
            }
        })
        .await
    }

    pub(super) async fn list(&self, prefix: &str) -> Result<Vec<BlobMeta>, BlobError> {
        let prefix = prefix.to_owned();
        self.blocking(move |inner| inner.list(&prefix)).await
    }

    pub(super) async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let key = key.to_owned();
        self.blocking(move |inner| inner.delete(&key).map(|_| ())).await
    }

    pub(super) async fn delete_prefix(&self, prefix: &str) -> Result<usize, BlobError> {
        let prefix = prefix.to_owned();
        self.blocking(move |inner| {
            let mut deleted = 0;
            for object in inner.list(&prefix)? {
                if inner.delete(&object.key)? {
                    deleted += 1;
                }
            }
            Ok(deleted)
        })
        .await
    }

    /// Runs `work` on the blocking pool.
    async fn blocking<T, F>(&self, work: F) -> Result<T, BlobError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, BlobError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        match tokio::task::spawn_blocking(move || work(&inner)).await {
            Ok(result) => result,
            // A panic in the closure is a bug here; let it surface as one.
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(_) => Err(BlobError::Io {
                path: self.inner.root.clone(),
                source: io::Error::other("the runtime shut down during a blob store operation"),
            }),
        }
    }
}

impl Inner {
    /// The file of a (checked) key.
    fn path_of(&self, key: &str) -> PathBuf {
        let mut path = self.root.clone();
        path.extend(key.split('/'));
        path
    }

    /// Opens the object under `key` for reading; a missing file (or a directory) is NotFound.
    fn open_object(&self, key: &str) -> Result<(File, PathBuf), BlobError> {
        let path = self.path_of(key);
        let not_found = || BlobError::NotFound { key: key.to_owned() };
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(error) if is_absent(&error) => return Err(not_found()),
            Err(error) => return Err(BlobError::Io { path, source: error }),
        };
        // Opening a directory succeeds on Linux; it is still no object.
        if !file.metadata().map_err(io_at(&path))?.is_file() {
            return Err(not_found());
        }
        Ok((file, path))
    }

    /// Writes a temporary file with `fill`, makes it durable and renames it to `key`.
    fn write_atomically<T>(
        &self,
        key: &str,
        fill: impl FnOnce(&mut File, &Path) -> Result<T, BlobError>,
    ) -> Result<T, BlobError> {
        let (mut file, temp) = self.create_temp()?;
        let written = fill(&mut file, &temp)
            .and_then(|written| file.sync_all().map_err(io_at(&temp)).map(|()| written))
            .and_then(|written| {
                drop(file);
                self.publish(&temp, &self.path_of(key)).map(|()| written)
            });
        if written.is_err() {
            // Best effort: an orphan is harmless (never listed), just untidy.
            let _ = fs::remove_file(&temp);
        }
        written
    }

    /// Creates a new, uniquely named file in the temporary directory.
    fn create_temp(&self) -> Result<(File, PathBuf), BlobError> {
        let mut last_error = None;
        for _ in 0..TEMP_NAME_ATTEMPTS {
            let number = NEXT_TEMP.fetch_add(1, Ordering::Relaxed);
            let path = self.tmp.join(format!("{}-{number}.tmp", std::process::id()));
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => return Ok((file, path)),
                Err(error) if error.kind() == ErrorKind::AlreadyExists => last_error = Some(error),
                Err(error) => return Err(BlobError::Io { path, source: error }),
            }
        }
        Err(BlobError::Io {
            path: self.tmp.clone(),
            source: last_error.unwrap_or_else(|| io::Error::other("no free temporary file name")),
        })
    }

    /// Renames `temp` to `target`, creating the directories on the way and making the
    /// rename durable.
    fn publish(&self, temp: &Path, target: &Path) -> Result<(), BlobError> {
        let parent = target.parent().unwrap_or(&self.root);
        let mut attempt = 0;
        loop {
            attempt += 1;
            fs::create_dir_all(parent).map_err(io_at(parent))?;
            match fs::rename(temp, target) {
                Ok(()) => break,
                // A delete under the same directory may prune it between our create_dir_all
                // and rename (see `prune`); creating it again is all it takes.
                Err(error) if error.kind() == ErrorKind::NotFound && attempt < PUBLISH_ATTEMPTS => {
                }
                Err(error) => return Err(BlobError::Io { path: target.to_owned(), source: error }),
            }
        }
        File::open(parent).and_then(|dir| dir.sync_all()).map_err(io_at(parent))
    }

    /// Walks the directory of `prefix` (already checked and trimmed).
    fn list(&self, prefix: &str) -> Result<Vec<BlobMeta>, BlobError> {
        let start = if prefix.is_empty() { self.root.clone() } else { self.path_of(prefix) };
        let mut listed = Vec::new();
        // An explicit stack of (directory, its key prefix); symbolic links are not followed,
        // so the walk ends with the (finite) tree.
        let mut pending = vec![(start, prefix.to_owned())];
        while let Some((dir, dir_key)) = pending.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(error) if is_absent(&error) => continue,
                Err(error) => return Err(BlobError::Io { path: dir, source: error }),
            };
            for entry in entries {
                let entry = entry.map_err(io_at(&dir))?;
                // Names that cannot be keys were not written by this store; leave them be.
                let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
                let key = if dir_key.is_empty() { name } else { format!("{dir_key}/{name}") };
                if check_key(&key).is_err() {
                    continue;
                }
                let file_type = match entry.file_type() {
                    Ok(file_type) => file_type,
                    Err(error) if is_absent(&error) => continue,
                    Err(error) => return Err(BlobError::Io { path: entry.path(), source: error }),
                };
                if file_type.is_dir() {
                    pending.push((entry.path(), key));
                } else if file_type.is_file() {
                    match entry.metadata() {
                        Ok(metadata) => listed.push(meta(key, &metadata)),
                        // Deleted since read_dir saw it.
                        Err(error) if is_absent(&error) => {}
                        Err(error) => {
                            return Err(BlobError::Io { path: entry.path(), source: error });
                        }
                    }
                }
            }
        }
        Ok(listed)
    }

    /// Deletes the object under `key`, saying whether there was one.
    fn delete(&self, key: &str) -> Result<bool, BlobError> {
        let path = self.path_of(key);
        match fs::remove_file(&path) {
            Ok(()) => {
                self.prune(&path);
                Ok(true)
            }
            // Absent, or a directory (which is no object either).
            Err(error) if is_absent(&error) || error.kind() == ErrorKind::IsADirectory => Ok(false),
            Err(error) => Err(BlobError::Io { path, source: error }),
        }
    }

    /// Removes the directories above a deleted file that it left empty, so that deleted
    /// builds do not leave a growing tree of empty directories for every listing to walk.
    fn prune(&self, deleted: &Path) {
        let mut dir = deleted.parent();
        while let Some(current) = dir {
            // The root stays, and remove_dir refuses a non-empty directory, which ends the
            // climb (a concurrent put re-creates what it needs, see `publish`).
            if current == self.root
                || !current.starts_with(&self.root)
                || fs::remove_dir(current).is_err()
            {
                break;
            }
            dir = current.parent();
        }
    }
}

/// An object being written locally: a temporary file, renamed into place by `finish`.
///
/// Writes gather into a batch of about [`WRITE_BATCH`] bytes, which a blocking-pool task
/// writes with `writev` while the next batch gathers, so the bytes are copied only by the
/// kernel (small writes excepted, which are copied together first).
pub(super) struct LocalWriter {
    local: Local,
    key: String,
    /// The temporary file while it is this writer's to remove; `None` once published or
    /// removed.
    temp: Option<PathBuf>,
    /// The file, while no batch is being written to it.
    file: Option<File>,
    /// The batch being written, whose task hands the file back.
    in_flight: Option<JoinHandle<(File, io::Result<()>)>>,
    /// The next batch, [`LocalWriter::small`] not included.
    batch: Vec<Bytes>,
    batch_len: usize,
    /// Small writes since the last large one, copied together.
    small: BytesMut,
}

impl LocalWriter {
    pub(super) async fn write(&mut self, bytes: Bytes) -> Result<(), BlobError> {
        self.batch_len += bytes.len();
        if bytes.len() < COPY_BELOW {
            self.small.extend_from_slice(&bytes);
        } else {
            self.end_small();
            self.batch.push(bytes);
        }
        if self.batch_len >= WRITE_BATCH { self.send().await } else { Ok(()) }
    }

    pub(super) async fn finish(mut self) -> Result<(), BlobError> {
        self.send().await?;
        let file = self.take_file().await?;
        let Some(temp) = self.temp.take() else {
            return Err(BlobError::WriterFailed { key: self.key.clone() });
        };
        // From here the blocking task owns the temporary file: if this future is dropped,
        // the rename still happens (or the file is removed), as for a cancelled put.
        let key = std::mem::take(&mut self.key);
        self.local
            .blocking(move |inner| {
                let published = file.sync_all().map_err(io_at(&temp)).and_then(|()| {
                    drop(file);
                    inner.publish(&temp, &inner.path_of(&key))
                });
                if published.is_err() {
                    let _ = fs::remove_file(&temp);
                }
                published
            })
            .await
    }

    pub(super) async fn abort(mut self) -> Result<(), BlobError> {
        // A batch still being written lands in the unlinked file, which goes with its handle.
        self.in_flight = None;
        self.file = None;
        let Some(temp) = self.temp.take() else { return Ok(()) };
        match tokio::fs::remove_file(&temp).await {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(()),
            Err(error) => Err(BlobError::Io { path: temp, source: error }),
        }
    }

    /// Closes the run of small writes, so that a large write can follow it in the batch.
    fn end_small(&mut self) {
        if !self.small.is_empty() {
            self.batch.push(self.small.split().freeze());
        }
    }

    /// Starts writing the batch, once the one before it is written.
    async fn send(&mut self) -> Result<(), BlobError> {
        self.end_small();
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        self.batch_len = 0;
        let mut file = self.take_file().await?;
        self.in_flight = Some(tokio::task::spawn_blocking(move || {
            let written = write_batch(&mut file, &batch);
            (file, written)
        }));
        Ok(())
    }

    /// The file, once the batch in flight (if any) is written.
    async fn take_file(&mut self) -> Result<File, BlobError> {
        let temp = self.temp.clone().unwrap_or_default();
        let Some(in_flight) = self.in_flight.take() else {
            return self
                .file
                .take()
                .ok_or_else(|| BlobError::WriterFailed { key: self.key.clone() });
        };
        match in_flight.await {
            Ok((file, Ok(()))) => Ok(file),
            Ok((_, Err(error))) => Err(BlobError::Io { path: temp, source: error }),
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(_) => Err(BlobError::Io {
                path: temp,
                source: io::Error::other("the runtime shut down during a blob write"),
            }),
        }
    }
}

impl Drop for LocalWriter {
    fn drop(&mut self) {
        if let Some(temp) = self.temp.take() {
            // Unlinking does not wait for a batch still being written; it lands in the
            // unlinked file, which goes with its handle.
            let _ = fs::remove_file(&temp);
        }
    }
}

/// Writes every piece of `batch` to `file`, in order, in as few `writev` calls as it takes.
fn write_batch(file: &mut File, batch: &[Bytes]) -> io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = batch.iter().map(|piece| IoSlice::new(piece)).collect();
    let mut left = &mut slices[..];
    // Bounded: every turn writes at least one byte or fails.
    while !left.is_empty() {
        match file.write_vectored(left) {
            Ok(0) => return Err(io::Error::from(ErrorKind::WriteZero)),
            Ok(written) => IoSlice::advance_slices(&mut left, written),
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Copies `from` (at `source`) into the temporary file `to` (at `temp`).
fn copy_file(from: &mut File, source: &Path, to: &mut File, temp: &Path) -> Result<u64, BlobError> {
    // io::copy does not say which side failed: a full disk is the temporary file's doing,
    // anything else most likely the source file's.
    io::copy(from, to).map_err(|error| BlobError::Io {
        path: if error.kind() == ErrorKind::StorageFull {
            temp.to_owned()
        } else {
            source.to_owned()
        },
        source: error,
    })
}

/// Builds the metadata of an object from its file's.
fn meta(key: String, metadata: &fs::Metadata) -> BlobMeta {
    // Files dated before the epoch (or on systems without mtimes) read as the epoch.
    let last_modified_ms = metadata
        .modified()
        .ok()
        .and_then(|modified| modified.duration_since(UNIX_EPOCH).ok())
        .and_then(|since| i64::try_from(since.as_millis()).ok())
        .unwrap_or(0);
    BlobMeta { key, size: metadata.len(), last_modified_ms }
}

/// Whether an error means "no such object": the file is missing, or a segment of its path is
/// a file rather than a directory.
fn is_absent(error: &io::Error) -> bool {
    matches!(error.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory)
}

/// Wraps an IO error with the path it happened on.
fn io_at(path: &Path) -> impl FnOnce(io::Error) -> BlobError + '_ {
    move |source| BlobError::Io { path: path.to_owned(), source }
}
