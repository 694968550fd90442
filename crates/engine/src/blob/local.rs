//! The local backend: one file per object under a root directory.
//!
//! Every operation is a short sequence of blocking `std::fs` calls run on tokio's blocking
//! pool, rather than `tokio::fs`, which would hop to that pool once per call and per buffer.
//! `std::io::copy` between files also lets Linux copy in the kernel (`copy_file_range`).
//! Keys reach this module already checked, so joining their segments onto the root cannot
//! leave it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::UNIX_EPOCH;

use bytes::Bytes;

use super::{BlobError, BlobMeta, RESERVED_SEGMENT, check_key};

/// How often publishing retries when a concurrent delete pruned the directory it had just
/// created (see [`publish`]).
const PUBLISH_ATTEMPTS: usize = 4;

/// How many names a temporary file tries before giving up; a clash needs a stale file from
/// an earlier process with the same pid, so the second name practically always works.
const TEMP_NAME_ATTEMPTS: usize = 16;

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
            inner.write_atomically(&key, |file, path| {
                // io::copy does not say which side failed: a full disk is the temporary
                // file's doing, anything else most likely the caller's source file's.
                io::copy(&mut from, file).map_err(|error| BlobError::Io {
                    path: if error.kind() == ErrorKind::StorageFull {
                        path.to_owned()
                    } else {
                        source.clone()
                    },
                    source: error,
                })
            })
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
