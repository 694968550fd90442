//! The build cache: restoring and saving `cache.paths` under a key, and `codebuild-hash-files`.
//!
//! A cache directory holds one zip file per entry, written with the same helpers as
//! artifacts (deflate, unix permissions, modification times, symbolic links kept as links).
//! Inside an entry, a file is stored as `src/<path>` and restored relative to whatever source
//! directory the next build has. As for artifacts, nothing outside the build's source
//! directory is saved (a path that resolves outside it, by `..`, an absolute path or a link
//! to a directory, is refused), and a restore writes nowhere else either: an entry name
//! outside `src/`, or a restored path that would pass through a link out of the source
//! directory, is refused. The entry's real key and the time it was saved live in the zip
//! comment as JSON.
//!
//! Entry file names: `default.zip` is the single mutable entry used when the buildspec sets
//! no `key`; a keyed entry is `k-<percent-encoded key>.zip`, or `h-<SHA-256 of the key>.zip`
//! when the encoded key would make the name too long for the file system. Keyed entries are
//! immutable, as in CodeBuild. Entries are written to a temporary file in the cache
//! directory and then renamed into place, so an interrupted save never leaves half an entry
//! behind and a concurrent restore sees either the old entry or the new one.

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use protocol::{CacheAction, CacheSpec};
use sha2::{Digest, Sha256};
use zip::result::ZipError;
use zip::{ExtraField, ZipArchive, ZipWriter};

use crate::artifacts::{self, ArtifactError, Inside, Want};

/// The key reported for the entry used when the buildspec sets no `key`.
pub const DEFAULT_KEY: &str = "default";

/// The file name of that entry.
const DEFAULT_FILE: &str = "default.zip";

/// The prefix of temporary files, which listings ignore.
const TEMP_PREFIX: &str = ".tmp-";

/// How long a percent-encoded key may get before the entry is named by its hash instead;
/// it keeps `k-<key>.zip` well under the usual 255-byte file name limit.
const MAX_ENCODED_KEY: usize = 200;

/// What [`restore`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreOutcome {
    /// An entry was found and unpacked.
    Restored {
        /// The key of the entry used ([`DEFAULT_KEY`] for the unkeyed entry).
        key: String,
        /// How many files and links were written.
        files: usize,
    },
    /// Neither the key nor any fallback matched an entry.
    Missed,
    /// The cache's `action` is `save`.
    Skipped,
}

/// What [`save`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaveOutcome {
    /// A new entry was written.
    Saved {
        /// Its key ([`DEFAULT_KEY`] for the unkeyed entry).
        key: String,
        /// How many files and links it holds.
        files: usize,
    },
    /// An entry with this key already exists; keyed entries are never overwritten.
    AlreadyExists {
        /// The key.
        key: String,
    },
    /// The cache's `action` is `restore`.
    Skipped,
    /// No file matched `paths`, so nothing was written.
    NothingToSave,
}

/// Why the cache could not be restored, saved or hashed.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// Selecting or packaging the files failed (a bad glob, an unreadable file).
    #[error(transparent)]
    Files(#[from] ArtifactError),
    /// Reading the cache directory or writing a restored file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path being read or written.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// A cache entry could not be read as a zip archive.
    #[error("cache entry {}: {source}", path.display())]
    Zip {
        /// The entry.
        path: PathBuf,
        /// What went wrong.
        source: ZipError,
    },
    /// A cache entry holds a name that does not map to a safe place on disk.
    #[error("cache entry {}: {message}", path.display())]
    BadEntry {
        /// The entry.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// `codebuild-hash-files` found nothing to hash.
    #[error("codebuild-hash-files: no file matches {}", patterns.join(" "))]
    NoMatchingFiles {
        /// The patterns given.
        patterns: Vec<String>,
    },
}

/// Restores the cache into place before a build.
///
/// With a `key`, the entry with exactly that key is used; failing that, each of
/// `fallback_keys` in order is a prefix over the existing keys, and the most recently saved
/// entry whose key starts with it is used. Without a `key`, the single unkeyed entry is used
/// and `fallback_keys` are ignored, as in CodeBuild. Restored files overwrite what is there.
pub fn restore(
    cache_dir: &Path,
    spec: &CacheSpec,
    src_dir: &Path,
) -> Result<RestoreOutcome, CacheError> {
    if spec.action == CacheAction::Save {
        return Ok(RestoreOutcome::Skipped);
    }
    let found = match spec.key.as_deref() {
        None => {
            let path = cache_dir.join(DEFAULT_FILE);
            exists(&path)?.then(|| (DEFAULT_KEY.to_owned(), path))
        }
        Some(key) => {
            let path = cache_dir.join(entry_file_name(key));
            if exists(&path)? {
                Some((key.to_owned(), path))
            } else {
                find_by_prefix(cache_dir, &spec.fallback_keys)?
            }
        }
    };
    let Some((key, path)) = found else {
        return Ok(RestoreOutcome::Missed);
    };
    let files = unpack(&path, src_dir)?;
    Ok(RestoreOutcome::Restored { key, files })
}

/// Saves the files matching `paths` after a build.
///
/// `paths` are globs relative to `src_dir`, or absolute; whatever they select must resolve
/// under `src_dir`. Symbolic links are stored as links, not followed. A keyed entry that already exists is left alone; the unkeyed
/// entry is replaced. When nothing matches, nothing is written (an existing entry stays).
pub fn save(cache_dir: &Path, spec: &CacheSpec, src_dir: &Path) -> Result<SaveOutcome, CacheError> {
    if spec.action == CacheAction::Restore {
        return Ok(SaveOutcome::Skipped);
    }
    let (key, final_path) = match spec.key.as_deref() {
        Some(key) => (key.to_owned(), cache_dir.join(entry_file_name(key))),
        None => (DEFAULT_KEY.to_owned(), cache_dir.join(DEFAULT_FILE)),
    };
    // Checking first spares collecting and compressing files that would be thrown away;
    // the no-clobber rename below still settles a race with a concurrent save.
    if spec.key.is_some() && exists(&final_path)? {
        return Ok(SaveOutcome::AlreadyExists { key });
    }

    let inside = Inside::new(src_dir)?;
    let files = collect(src_dir, &inside, &spec.paths)?;
    if files.is_empty() {
        return Ok(SaveOutcome::NothingToSave);
    }

    fs::create_dir_all(cache_dir).map_err(|source| io_error(cache_dir, source))?;
    let temp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(".zip")
        .tempfile_in(cache_dir)
        .map_err(|source| io_error(cache_dir, source))?;
    let temp_path = temp.path().to_owned();
    let mut zip = ZipWriter::new(temp.as_file());
    let mut written = 0;
    for (name, source) in &files {
        if artifacts::add_entry(&mut zip, source, name, true, &temp_path, &inside)? {
            written += 1;
        }
    }
    let metadata =
        EntryMetadata { key: spec.key.clone(), saved_at_nanos: crate::clock::now_nanos() };
    zip.set_comment(metadata.to_json()).map_err(|source| zip_error(&temp_path, source))?;
    let file = zip.finish().map_err(|source| zip_error(&temp_path, source))?;
    // The rename only makes the entry visible; the data must be on disk before it is.
    file.sync_all().map_err(|source| io_error(&temp_path, source))?;

    if spec.key.is_some() {
        match temp.persist_noclobber(&final_path) {
            Ok(_) => {}
            Err(err) if err.error.kind() == io::ErrorKind::AlreadyExists => {
                return Ok(SaveOutcome::AlreadyExists { key });
            }
            Err(err) => return Err(io_error(&final_path, err.error)),
        }
    } else {
        temp.persist(&final_path).map_err(|err| io_error(&final_path, err.error))?;
    }
    Ok(SaveOutcome::Saved { key, files: written })
}

/// Hashes files like CodeBuild's `codebuild-hash-files` helper, for use in cache keys.
///
/// `patterns` are globs relative to `cwd` (or absolute). The result is the lowercase hex
/// SHA-256 of the matched files sorted by path, each contributing its path and the SHA-256
/// of its contents, so renaming a file changes the hash as much as editing it does.
/// Symbolic links are followed. Matching no file at all is an error, because a key built
/// from an empty hash would silently share one entry between unrelated states.
pub fn hash_files(cwd: &Path, patterns: &[String]) -> Result<String, CacheError> {
    let mut files: BTreeMap<String, PathBuf> = BTreeMap::new();
    for pattern in patterns {
        for found in artifacts::glob(cwd, pattern, Want::Files { follow_links: true }, None)? {
            let name = if found.absolute { format!("/{}", found.relative) } else { found.relative };
            files.insert(name, found.path);
        }
    }
    if files.is_empty() {
        return Err(CacheError::NoMatchingFiles { patterns: patterns.to_vec() });
    }

    let mut hasher = Sha256::new();
    for (name, path) in &files {
        let (content, _) = artifacts::sha256_file(path)?;
        // Each record is length-prefixed and fixed-size after the name, so no two
        // different lists of files can produce the same byte stream.
        hasher.update((name.len() as u64).to_be_bytes());
        hasher.update(name.as_bytes());
        hasher.update(content.as_bytes());
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The files `paths` select, by their name inside an entry.
fn collect(
    src_dir: &Path,
    inside: &Inside,
    paths: &[String],
) -> Result<BTreeMap<String, PathBuf>, CacheError> {
    let mut files = BTreeMap::new();
    let want = Want::Files { follow_links: false };
    for pattern in paths {
        for found in artifacts::glob(src_dir, pattern, want, Some(inside))? {
            let name = if found.absolute {
                // An absolute pattern into the source directory (`$CODEBUILD_SRC_DIR/...`
                // after expansion) is stored relative to it, so that the entry restores
                // into the next build's source directory even when its path differs.
                let Some(resolved) = inside.resolve(&found.path, false)? else { continue };
                match resolved.strip_prefix(inside.root()) {
                    Ok(relative) if !relative.as_os_str().is_empty() => {
                        format!("src/{}", relative.to_string_lossy())
                    }
                    _ => continue,
                }
            } else {
                format!("src/{}", found.relative)
            };
            files.insert(name, found.path);
        }
    }
    Ok(files)
}

/// Unpacks an entry, returning how many files and links it wrote.
fn unpack(entry_path: &Path, src_dir: &Path) -> Result<usize, CacheError> {
    let inside = Inside::new(src_dir)?;
    let src_root = inside.root().to_owned();
    let file = File::open(entry_path).map_err(|source| io_error(entry_path, source))?;
    let mut archive = ZipArchive::new(file).map_err(|source| zip_error(entry_path, source))?;
    let mut written = 0;
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(|source| zip_error(entry_path, source))?;
        if entry.is_dir() {
            continue;
        }
        let name = entry.name().map_err(|source| zip_error(entry_path, source))?.into_owned();
        let Some(dest) = destination(&src_root, &name) else {
            return Err(CacheError::BadEntry {
                path: entry_path.to_owned(),
                message: format!("`{name}` is not a `src/` path without `..`"),
            });
        };
        make_room(&dest, &inside)?;

        if entry.is_symlink() {
            let mut target = String::new();
            entry.read_to_string(&mut target).map_err(|source| io_error(entry_path, source))?;
            symlink(&target, &dest).map_err(|source| io_error(&dest, source))?;
        } else {
            let modified = entry.extra_data_fields().find_map(|field| match field {
                ExtraField::ExtendedTimestamp(timestamp) => timestamp.mod_time(),
                _ => None,
            });
            let mode = entry.unix_mode();
            let mut out = File::create(&dest).map_err(|source| io_error(&dest, source))?;
            io::copy(&mut entry, &mut out).map_err(|source| io_error(&dest, source))?;
            if let Some(mode) = mode {
                out.set_permissions(fs::Permissions::from_mode(mode & 0o7777))
                    .map_err(|source| io_error(&dest, source))?;
            }
            // Build tools decide what to rebuild by modification time, so a restored file
            // must look as old as the one that was saved, not as new as the restore.
            if let Some(seconds) = modified {
                out.set_modified(UNIX_EPOCH + Duration::from_secs(u64::from(seconds)))
                    .map_err(|source| io_error(&dest, source))?;
            }
        }
        written += 1;
    }
    Ok(written)
}

/// Where an entry name is restored to: `src/…` under the source directory. `None` for
/// anything else, including `..`, which could escape, and the `abs/…` (absolute path)
/// entries of earlier versions, which wrote outside the source directory.
fn destination(src_root: &Path, name: &str) -> Option<PathBuf> {
    let rest = name.strip_prefix("src/")?;
    let mut path = src_root.to_owned();
    for part in rest.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return None;
        }
        path.push(part);
    }
    Some(path)
}

/// Creates `dest`'s parent directories and removes a file or link already at `dest`.
///
/// Removing first means a restored file never writes through a link that happens to sit
/// at its place, and a read-only file is replaced rather than refused. A real directory in
/// the way is an error: deleting a directory tree to make room for a file is too drastic.
/// The parent directory must resolve under the source directory: a link in the source
/// (`lib -> /etc`) never carries a restored file, or a new directory, outside it.
fn make_room(dest: &Path, inside: &Inside) -> Result<(), CacheError> {
    if let Some(parent) = dest.parent() {
        let mut existing = parent;
        while fs::symlink_metadata(existing).is_err() {
            match existing.parent() {
                Some(up) => existing = up,
                None => break,
            }
        }
        inside.check(existing, true)?;
        fs::create_dir_all(parent).map_err(|source| io_error(parent, source))?;
        inside.check(parent, true)?;
    }
    match fs::symlink_metadata(dest) {
        Ok(metadata) if metadata.is_dir() => Err(io_error(
            dest,
            io::Error::new(io::ErrorKind::IsADirectory, "a directory is in the way"),
        )),
        Ok(_) => fs::remove_file(dest).map_err(|source| io_error(dest, source)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(io_error(dest, err)),
    }
}

/// The first fallback prefix that matches any keyed entry, resolved to the most recently
/// saved entry among its matches.
fn find_by_prefix(
    cache_dir: &Path,
    prefixes: &[String],
) -> Result<Option<(String, PathBuf)>, CacheError> {
    if prefixes.is_empty() {
        return Ok(None);
    }
    let entries = keyed_entries(cache_dir)?;
    for prefix in prefixes {
        let newest = entries
            .iter()
            .filter(|(key, _)| key.starts_with(prefix.as_str()))
            .map(|(key, path)| (saved_at(path), key, path))
            // Equal times are broken by key so the choice does not depend on listing order.
            .max_by(|left, right| (left.0, left.1).cmp(&(right.0, right.1)));
        if let Some((_, key, path)) = newest {
            return Ok(Some((key.clone(), path.clone())));
        }
    }
    Ok(None)
}

/// Every keyed entry in the cache directory, with its key.
fn keyed_entries(cache_dir: &Path) -> Result<Vec<(String, PathBuf)>, CacheError> {
    let listing = match fs::read_dir(cache_dir) {
        Ok(listing) => listing,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(io_error(cache_dir, err)),
    };
    let mut entries = Vec::new();
    for item in listing {
        let item = item.map_err(|source| io_error(cache_dir, source))?;
        let file_name = item.file_name();
        let Some(file_name) = file_name.to_str() else { continue };
        let Some(stem) = file_name.strip_suffix(".zip") else { continue };
        let key = if let Some(encoded) = stem.strip_prefix("k-") {
            percent_decode(encoded)
        } else if stem.starts_with("h-") {
            // A hashed name cannot be read back, so the key comes from the entry itself.
            read_metadata(&item.path()).and_then(|metadata| metadata.key)
        } else {
            None
        };
        if let Some(key) = key {
            entries.push((key, item.path()));
        }
    }
    Ok(entries)
}

/// When an entry was saved: from its metadata, else from the file's modification time
/// (which the rename into place preserves).
fn saved_at(path: &Path) -> u64 {
    if let Some(metadata) = read_metadata(path) {
        return metadata.saved_at_nanos;
    }
    fs::metadata(path)
        .and_then(|metadata| metadata.modified())
        .ok()
        .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |elapsed| u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX))
}

/// What an entry records about itself in its zip comment.
#[derive(Debug, Clone, PartialEq, Eq)]
struct EntryMetadata {
    /// The real key, or `None` for the unkeyed entry.
    key: Option<String>,
    /// When the entry was saved, in nanoseconds since the Unix epoch.
    saved_at_nanos: u64,
}

impl EntryMetadata {
    fn to_json(&self) -> String {
        serde_json::json!({
            "slipwayCache": 1,
            "key": self.key,
            "savedAtNanos": self.saved_at_nanos,
        })
        .to_string()
    }

    fn from_json(text: &[u8]) -> Option<EntryMetadata> {
        let value: serde_json::Value = serde_json::from_slice(text).ok()?;
        Some(EntryMetadata {
            key: value.get("key")?.as_str().map(str::to_owned),
            saved_at_nanos: value.get("savedAtNanos")?.as_u64()?,
        })
    }
}

/// An entry's metadata; `None` when it cannot be read, which callers treat as unknown.
fn read_metadata(path: &Path) -> Option<EntryMetadata> {
    let archive = ZipArchive::new(File::open(path).ok()?).ok()?;
    EntryMetadata::from_json(archive.comment())
}

/// The file name of a keyed entry.
fn entry_file_name(key: &str) -> String {
    let encoded = percent_encode(key);
    if encoded.len() <= MAX_ENCODED_KEY {
        format!("k-{encoded}.zip")
    } else {
        format!("h-{}.zip", hex::encode(Sha256::digest(key.as_bytes())))
    }
}

/// What [`percent_encode`] escapes: every byte but ASCII letters, digits, `-`, `_` and `.`.
const KEY_ESCAPED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

/// Percent-encodes a key (uppercase hex digits) so that it becomes one safe file name (`/`
/// included) that can be decoded back to the key.
fn percent_encode(key: &str) -> String {
    utf8_percent_encode(key, KEY_ESCAPED).to_string()
}

/// Reverses [`percent_encode`]; `None` for names it could not have produced (a broken escape
/// such as `%2` or `%+1`, lowercase hex, a byte it would have escaped, or no UTF-8).
fn percent_decode(encoded: &str) -> Option<String> {
    let key = percent_decode_str(encoded).decode_utf8().ok()?;
    (percent_encode(&key) == encoded).then(|| key.into_owned())
}

/// Whether something exists at `path` (a dangling link counts).
fn exists(path: &Path) -> Result<bool, CacheError> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(io_error(path, err)),
    }
}

fn io_error(path: &Path, source: io::Error) -> CacheError {
    CacheError::Io { path: path.to_owned(), source }
}

fn zip_error(path: &Path, source: ZipError) -> CacheError {
    CacheError::Zip { path: path.to_owned(), source }
}
