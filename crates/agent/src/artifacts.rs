//! Selecting artifact files and packaging them as zip archives.
//!
//! [`select_files`] applies CodeBuild's `artifacts` rules (`files`, `base-directory`,
//! `exclude-paths`, `discard-paths`, `enable-symlinks`) to a finished build's source
//! directory, and [`write_zip`] packages the selection with deflate, keeping each file's
//! unix permissions and modification time. The glob engine and the zip helpers here are
//! shared with [`crate::cache`], which stores its entries in the same format.
//!
//! Every field arrives with its `$VARIABLES` already expanded by the build's shell, so the
//! patterns are literal globs: `*`, `?`, `[...]` and `{a,b}` match within one path
//! component, `**` matches across directories, and dot files are matched like any other
//! file. Only files (and, with `enable-symlinks`, symbolic links) are selected: a pattern
//! that names a directory selects nothing by itself, as in CodeBuild, so `dist` must be
//! written `dist/**/*`.
//!
//! Nothing outside the build's source directory is ever packaged: every path is resolved
//! (`..`, absolute paths, links to files and directories, the base directory) and one that
//! lands outside is refused with [`ArtifactError::OutsideSource`], which names it. Without
//! `enable-symlinks` a link inside the source directory is followed to its target; with it,
//! a link is stored as a link (its target as text) and never followed. The file actually
//! opened is checked again, so a link swapped in after the selection is refused too.

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fs::{self, File, Metadata};
use std::io::{self, Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use globset::{GlobBuilder, GlobMatcher, GlobSet, GlobSetBuilder};
use protocol::ArtifactSpec;
use sha2::{Digest, Sha256};
use time::{OffsetDateTime, PrimitiveDateTime};
use walkdir::WalkDir;
use zip::result::ZipError;
use zip::write::{FullFileOptions, SimpleFileOptions};
use zip::{CompressionMethod, DateTime, System, ZipWriter};

/// A file chosen for an artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedFile {
    /// Where the file is on disk.
    pub source: PathBuf,
    /// Where it goes in the archive: relative and `/`-separated.
    pub archive_path: String,
}

/// What [`write_zip`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipSummary {
    /// How many entries the archive holds.
    pub files: usize,
    /// The size of the zip file in bytes.
    pub bytes: u64,
    /// The SHA-256 of the zip file, in lowercase hex.
    pub sha256: String,
}

/// Why an artifact could not be selected or packaged.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// No file matched any pattern (CodeBuild fails the build with exactly this message).
    #[error("no matching artifact paths found")]
    NoMatchingFiles {
        /// The `files` patterns that matched nothing.
        patterns: Vec<String>,
    },
    /// Two different files would be stored at the same place in the archive.
    #[error(
        "`{}` and `{}` would both be stored as `{archive_path}` in the artifact",
        first.display(),
        second.display()
    )]
    DuplicatePath {
        /// The clashing archive path.
        archive_path: String,
        /// The file selected first.
        first: PathBuf,
        /// The file that clashed with it.
        second: PathBuf,
    },
    /// Reading a file or directory, or writing the archive, failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path being read or written.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// The zip library refused an entry.
    #[error("{}: {source}", path.display())]
    Zip {
        /// The archive being written.
        path: PathBuf,
        /// What went wrong.
        source: ZipError,
    },
    /// A path resolves outside the build's source directory (through `..`, an absolute
    /// path or a symbolic link), so it is not packaged.
    #[error(
        "`{}` is outside the build's source directory (it resolves to `{}`); only files under the source directory can be packaged",
        path.display(),
        resolved.display()
    )]
    OutsideSource {
        /// The path as selected.
        path: PathBuf,
        /// Where it really is.
        resolved: PathBuf,
    },
    /// A pattern is not a valid glob.
    #[error("invalid glob `{pattern}`: {message}")]
    BadGlob {
        /// The pattern as given.
        pattern: String,
        /// Why it was rejected.
        message: String,
    },
}

/// The directory everything packaged must resolve into: the build's source directory,
/// with every link in its own path resolved.
#[derive(Debug, Clone)]
pub(crate) struct Inside(PathBuf);

impl Inside {
    pub(crate) fn new(src_dir: &Path) -> Result<Inside, ArtifactError> {
        fs::canonicalize(src_dir).map(Inside).map_err(|err| io_error(src_dir, err))
    }

    /// The resolved source directory.
    pub(crate) fn root(&self) -> &Path {
        &self.0
    }

    /// Where `path` really is, following a final link when `follow` (its directory is
    /// always resolved); `None` when it does not exist (a dangling link).
    pub(crate) fn resolve(
        &self,
        path: &Path,
        follow: bool,
    ) -> Result<Option<PathBuf>, ArtifactError> {
        let resolved = match (follow, path.parent(), path.file_name()) {
            (false, Some(parent), Some(name)) => fs::canonicalize(parent).map(|it| it.join(name)),
            _ => fs::canonicalize(path),
        };
        match resolved {
            Ok(resolved) => Ok(Some(resolved)),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(io_error(path, err)),
        }
    }

    /// Whether `path` exists, refusing it when it resolves outside the source directory.
    pub(crate) fn check(&self, path: &Path, follow: bool) -> Result<bool, ArtifactError> {
        match self.resolve(path, follow)? {
            Some(resolved) => self.check_resolved(path, resolved).map(|()| true),
            None => Ok(false),
        }
    }

    fn check_resolved(&self, path: &Path, resolved: PathBuf) -> Result<(), ArtifactError> {
        if resolved.starts_with(&self.0) {
            Ok(())
        } else {
            Err(ArtifactError::OutsideSource { path: path.to_owned(), resolved })
        }
    }

    /// Refuses an opened file that is not under the source directory, by where the open
    /// descriptor really points (so a link swapped in after the selection is caught).
    fn check_open(&self, path: &Path, file: &File) -> Result<(), ArtifactError> {
        match fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())) {
            Ok(resolved) => self.check_resolved(path, resolved),
            // Without /proc, the path is resolved again instead.
            Err(_) => self.check(path, true).map(|_| ()),
        }
    }
}

/// Selects the files an artifact holds, sorted by archive path.
///
/// `files` and `exclude-paths` are resolved against every directory `base-directory`
/// matches (or against `src_dir` when it is unset). Absolute patterns ignore the base
/// directory and keep their full path, minus the leading `/`, in the archive. The same file
/// matched twice is kept once; two different files landing on one archive path (usually
/// because of `discard-paths`) are an error rather than a silent overwrite. Anything that
/// resolves outside `src_dir` (the base directory included) is an
/// [`ArtifactError::OutsideSource`].
pub fn select_files(
    src_dir: &Path,
    spec: &ArtifactSpec,
) -> Result<Vec<SelectedFile>, ArtifactError> {
    let inside = Inside::new(src_dir)?;
    let want = Want::Files { follow_links: !spec.enable_symlinks };
    let bases = match spec.base_directory.as_deref().map(strip_dot_slash) {
        Some(base) if !base.is_empty() => glob(src_dir, base, Want::Dirs, Some(&inside))?
            .into_iter()
            .map(|found| found.path)
            .collect(),
        _ => vec![absolute(src_dir)?],
    };
    let excludes = glob_set(&spec.exclude_paths)?;

    let mut selected: BTreeMap<String, PathBuf> = BTreeMap::new();
    for base in &bases {
        for pattern in &spec.files {
            for found in glob(base, pattern, want, Some(&inside))? {
                if is_excluded(&excludes, &found) {
                    continue;
                }
                let archive_path = if spec.discard_paths {
                    file_name(&found.relative).to_owned()
                } else {
                    found.relative
                };
                match selected.entry(archive_path) {
                    Entry::Vacant(slot) => {
                        slot.insert(found.path);
                    }
                    Entry::Occupied(slot) if *slot.get() == found.path => {}
                    Entry::Occupied(slot) => {
                        return Err(ArtifactError::DuplicatePath {
                            archive_path: slot.key().clone(),
                            first: slot.get().clone(),
                            second: found.path,
                        });
                    }
                }
            }
        }
    }
    if selected.is_empty() {
        return Err(ArtifactError::NoMatchingFiles { patterns: spec.files.clone() });
    }
    Ok(selected
        .into_iter()
        .map(|(archive_path, source)| SelectedFile { source, archive_path })
        .collect())
}

/// Writes `files` (selected under `src_dir`) to a new zip archive at `dest`, in the order
/// given.
///
/// With `enable_symlinks`, a symbolic link is stored as a link entry holding its target;
/// without it, the link's target's contents are stored, and a broken link is skipped.
/// A file that resolves outside `src_dir` is refused, as in [`select_files`].
/// Entries are deflated and keep their permission bits and modification time (both as a
/// DOS timestamp in UTC and as an extended-timestamp field that `unzip` prefers).
pub fn write_zip(
    files: &[SelectedFile],
    src_dir: &Path,
    dest: &Path,
    enable_symlinks: bool,
) -> Result<ZipSummary, ArtifactError> {
    let inside = Inside::new(src_dir)?;
    let file = File::create(dest).map_err(|source| io_error(dest, source))?;
    let written = fill_zip(ZipWriter::new(file), files, dest, enable_symlinks, &inside);
    let written = match written {
        Ok(written) => written,
        Err(err) => {
            // No half-written archive is left behind.
            let _ = fs::remove_file(dest);
            return Err(err);
        }
    };
    let (sha256, bytes) = sha256_file(dest)?;
    Ok(ZipSummary { files: written, bytes, sha256 })
}

/// Adds `files` to `zip`, finishes it and syncs it; says how many entries it holds.
fn fill_zip(
    mut zip: ZipWriter<File>,
    files: &[SelectedFile],
    dest: &Path,
    enable_symlinks: bool,
    inside: &Inside,
) -> Result<usize, ArtifactError> {
    let mut written = 0;
    for selected in files {
        let (source, name) = (&selected.source, &selected.archive_path);
        if add_entry(&mut zip, source, name, enable_symlinks, dest, inside)? {
            written += 1;
        }
    }
    let file = zip.finish().map_err(|source| zip_error(dest, source))?;
    file.sync_all().map_err(|source| io_error(dest, source))?;
    Ok(written)
}

/// Adds one file to `zip` as `name`, and reports whether it was added.
///
/// With `keep_symlinks`, a link becomes a link entry; otherwise its target is read, and a
/// link whose target is gone (or is a directory) is skipped. `archive` only names the
/// archive in errors. Whatever resolves outside `inside` is refused.
pub(crate) fn add_entry<W: Write + Seek>(
    zip: &mut ZipWriter<W>,
    source: &Path,
    name: &str,
    keep_symlinks: bool,
    archive: &Path,
    inside: &Inside,
) -> Result<bool, ArtifactError> {
    let link_metadata = fs::symlink_metadata(source).map_err(|err| io_error(source, err))?;
    if keep_symlinks && link_metadata.file_type().is_symlink() {
        // The link itself must be in the source directory; its target is only text.
        inside.check(source, false)?;
        let target = fs::read_link(source).map_err(|err| io_error(source, err))?;
        let options = entry_options(&link_metadata, archive)?;
        zip.add_symlink(name, target.to_string_lossy(), options)
            .map_err(|err| zip_error(archive, err))?;
        return Ok(true);
    }

    let mut file = match File::open(source) {
        Ok(file) => file,
        // A dangling link has nothing to store: CodeBuild leaves it out as well.
        Err(err) if err.kind() == io::ErrorKind::NotFound && link_metadata.is_symlink() => {
            return Ok(false);
        }
        Err(err) => return Err(io_error(source, err)),
    };
    inside.check_open(source, &file)?;
    let metadata = file.metadata().map_err(|err| io_error(source, err))?;
    if !metadata.is_file() {
        return Ok(false);
    }
    // ZIP64 headers are only needed near the 4 GiB limit; the margin covers deflate's
    // worst-case growth of incompressible data.
    let large = metadata.len() >= u64::from(u32::MAX) - (1 << 24);
    let options = entry_options(&metadata, archive)?.large_file(large);
    zip.start_file(name, options).map_err(|err| zip_error(archive, err))?;
    io::copy(&mut file, zip).map_err(|err| io_error(source, err))?;
    Ok(true)
}

/// The options every entry gets: deflate, unix permissions, and the file's mtime.
fn entry_options(
    metadata: &Metadata,
    archive: &Path,
) -> Result<FullFileOptions<'static, 'static>, ArtifactError> {
    let modified = metadata.modified().ok();
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        // Level 6 selects the zlib encoder: leaving it unset could pick zopfli, which is
        // orders of magnitude slower for a few percent.
        .compression_level(Some(6))
        .system(System::Unix)
        .unix_permissions(metadata.permissions().mode())
        .last_modified_time(dos_time(modified))
        .into_full_options();
    match modified.and_then(unix_seconds) {
        Some(seconds) => options
            .with_extended_timestamp(Some(seconds), None, None)
            .map_err(|err| zip_error(archive, err)),
        None => Ok(options),
    }
}

/// The SHA-256 (lowercase hex) and size of a file.
pub(crate) fn sha256_file(path: &Path) -> Result<(String, u64), ArtifactError> {
    let mut file = File::open(path).map_err(|err| io_error(path, err))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 64 * 1024];
    let mut total = 0;
    loop {
        let read = file.read(&mut buffer).map_err(|err| io_error(path, err))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        total += read as u64;
    }
    Ok((hex::encode(hasher.finalize()), total))
}

/// Seconds since the epoch, when they fit the extended-timestamp field.
fn unix_seconds(time: SystemTime) -> Option<u32> {
    let seconds = time.duration_since(UNIX_EPOCH).ok()?.as_secs();
    u32::try_from(seconds).ok()
}

/// A DOS timestamp for `time`, read as UTC because the format carries no time zone.
///
/// Times outside what the format can hold (before 1980 or after 2107) become its epoch,
/// 1980-01-01; the extended timestamp still carries the real value where it fits.
fn dos_time(time: Option<SystemTime>) -> DateTime {
    // Not `OffsetDateTime::from(SystemTime)`, which panics beyond the years ±9999.
    let seconds = time.and_then(|time| time.duration_since(UNIX_EPOCH).ok());
    let utc = seconds.and_then(|seconds| {
        OffsetDateTime::from_unix_timestamp(i64::try_from(seconds.as_secs()).ok()?).ok()
    });
    utc.and_then(|utc| DateTime::try_from(PrimitiveDateTime::new(utc.date(), utc.time())).ok())
        .unwrap_or(DateTime::DEFAULT)
}

/// What a glob should match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Want {
    /// Regular files. With `follow_links`, links are resolved (links to directories are
    /// walked into, dangling links are skipped); without it, links are matched as files.
    Files {
        /// Whether to resolve symbolic links.
        follow_links: bool,
    },
    /// Directories (links to directories included).
    Dirs,
}

/// One path a glob matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GlobMatch {
    /// Where it is on disk.
    pub(crate) path: PathBuf,
    /// Its `/`-separated path relative to the root the pattern was resolved against; for an
    /// absolute match, its absolute path without the leading `/`.
    pub(crate) relative: String,
    /// Whether the pattern was absolute, or climbed out of the root with `..`.
    pub(crate) absolute: bool,
}

/// Finds what `pattern` matches under `root` (or from `/` when it is absolute).
///
/// The pattern's leading components without glob characters are joined to the root to
/// find where to start walking, so `/root/.m2/**/*` walks `/root/.m2` and not the whole
/// disk, and `*.jar` does not descend into subdirectories at all. A pattern without glob
/// characters names exactly one path. Nothing existing is not an error: the result is empty.
///
/// With `inside`, a match (or the directory walked) that resolves outside it is an error;
/// links are resolved where the walk follows them.
pub(crate) fn glob(
    root: &Path,
    pattern: &str,
    want: Want,
    inside: Option<&Inside>,
) -> Result<Vec<GlobMatch>, ArtifactError> {
    let trimmed = strip_dot_slash(pattern);
    let is_absolute = trimmed.starts_with('/');
    let components: Vec<&str> =
        trimmed.split('/').filter(|part| !part.is_empty() && *part != ".").collect();
    if trimmed.is_empty() || (is_absolute && components.is_empty()) {
        // An empty pattern, or `/` alone, names no file; the whole disk is never meant.
        return Ok(Vec::new());
    }
    let split = components.iter().position(|part| has_glob_meta(part)).unwrap_or(components.len());
    let (literal, rest) = components.split_at(split);

    let start = if is_absolute { PathBuf::from("/") } else { absolute(root)? };
    let mut walk_root = start.clone();
    walk_root.extend(literal);
    let make_match = |path: PathBuf, relative_parts: &[&str]| {
        let mut parts: Vec<&str> = literal.to_vec();
        parts.extend_from_slice(relative_parts);
        match normalize(&parts) {
            Some(relative) if !is_absolute => GlobMatch { path, relative, absolute: false },
            // An absolute pattern keeps its whole path. So does a relative one that climbs
            // out of its root with `..`, since no relative path is left to keep.
            _ => {
                let mut full: Vec<String> = start
                    .components()
                    .filter_map(|part| match part {
                        Component::Normal(name) => Some(name.to_string_lossy().into_owned()),
                        Component::ParentDir => Some("..".to_owned()),
                        _ => None,
                    })
                    .collect();
                full.extend(parts.iter().map(|part| (*part).to_owned()));
                let full: Vec<&str> = full.iter().map(String::as_str).collect();
                GlobMatch { path, relative: normalize(&full).unwrap_or_default(), absolute: true }
            }
        }
    };

    let follow_links = match want {
        Want::Files { follow_links } => follow_links,
        Want::Dirs => true,
    };
    if rest.is_empty() {
        if !path_is_wanted(&walk_root, want) {
            return Ok(Vec::new());
        }
        if let Some(inside) = inside
            && !inside.check(&walk_root, follow_links)?
        {
            return Ok(Vec::new());
        }
        return Ok(vec![make_match(walk_root, &[])]);
    }

    let rest_pattern = rest.join("/");
    let matcher = glob_matcher(&rest_pattern, pattern)?;
    if !fs::metadata(&walk_root).is_ok_and(|metadata| metadata.is_dir()) {
        return Ok(Vec::new());
    }
    // The walk starts from the directory a link points to, when it is one.
    if let Some(inside) = inside
        && !inside.check(&walk_root, true)?
    {
        return Ok(Vec::new());
    }
    // Walking in name order makes everything downstream deterministic, down to which of
    // two clashing files a duplicate-path error names first.
    let mut walker =
        WalkDir::new(&walk_root).min_depth(1).follow_links(follow_links).sort_by_file_name();
    if !rest.iter().any(|part| part.contains("**")) {
        walker = walker.max_depth(rest.len());
    }

    let mut found = Vec::new();
    for entry in walker {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) if skippable_walk_error(&err) => continue,
            Err(err) => {
                let path = err.path().unwrap_or(&walk_root).to_owned();
                return Err(io_error(&path, io::Error::from(err)));
            }
        };
        let file_type = entry.file_type();
        let wanted = match want {
            Want::Files { .. } => file_type.is_file() || file_type.is_symlink(),
            Want::Dirs => file_type.is_dir(),
        };
        if !wanted {
            continue;
        }
        let Ok(relative) = entry.path().strip_prefix(&walk_root) else { continue };
        let relative = relative.to_string_lossy();
        if !matcher.is_match(relative.as_ref()) {
            continue;
        }
        // Where the walk followed a link, the match may be anywhere: resolve it. An unfollowed
        // walk below a resolved directory cannot leave it.
        if let Some(inside) = inside
            && follow_links
            && !inside.check(entry.path(), true)?
        {
            continue;
        }
        let parts: Vec<&str> = relative.split('/').collect();
        found.push(make_match(entry.path().to_owned(), &parts));
    }
    Ok(found)
}

/// Whether a walk error only concerns something the walk can do without.
///
/// Symlink loops are walked once, dangling links have nothing to read, and unreadable
/// directories below the starting point (other users' files under `/tmp`, say) cannot hold
/// anything the build wrote; all of these are passed over instead of failing the build.
fn skippable_walk_error(err: &walkdir::Error) -> bool {
    if err.loop_ancestor().is_some() {
        return true;
    }
    if let Some(path) = err.path()
        && fs::symlink_metadata(path).is_ok_and(|metadata| metadata.is_symlink())
        && fs::metadata(path).is_err()
    {
        return true;
    }
    err.depth() > 0 && err.io_error().is_some_and(|io| io.kind() == io::ErrorKind::PermissionDenied)
}

/// Whether a path named without glob characters is what the caller wants.
fn path_is_wanted(path: &Path, want: Want) -> bool {
    match want {
        Want::Files { follow_links: true } => fs::metadata(path).is_ok_and(|meta| meta.is_file()),
        Want::Files { follow_links: false } => fs::symlink_metadata(path)
            .is_ok_and(|meta| meta.is_file() || meta.file_type().is_symlink()),
        Want::Dirs => fs::metadata(path).is_ok_and(|meta| meta.is_dir()),
    }
}

/// Whether an exclude pattern removes a match: relative matches are tested by their path
/// under the base directory, absolute ones by their absolute path as well.
fn is_excluded(excludes: &GlobSet, found: &GlobMatch) -> bool {
    if excludes.is_match(&found.relative) {
        return true;
    }
    found.absolute && excludes.is_match(format!("/{}", found.relative))
}

/// Compiles patterns into one set, with the same rules as [`glob`].
pub(crate) fn glob_set(patterns: &[String]) -> Result<GlobSet, ArtifactError> {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        let trimmed = strip_dot_slash(pattern);
        if trimmed.is_empty() {
            continue;
        }
        builder.add(glob_builder(trimmed).build().map_err(|err| bad_glob(pattern, &err))?);
    }
    builder.build().map_err(|err| bad_glob(&patterns.join(", "), &err))
}

/// Compiles one glob; `original` is the pattern as the user wrote it, for errors.
fn glob_matcher(pattern: &str, original: &str) -> Result<GlobMatcher, ArtifactError> {
    glob_builder(pattern)
        .build()
        .map(|glob| glob.compile_matcher())
        .map_err(|err| bad_glob(original, &err))
}

/// The glob dialect: `*` stays within a path component, `\` escapes, dots are ordinary.
fn glob_builder(pattern: &str) -> GlobBuilder<'_> {
    let mut builder = GlobBuilder::new(pattern);
    builder.literal_separator(true).backslash_escape(true);
    builder
}

fn bad_glob(pattern: &str, err: &globset::Error) -> ArtifactError {
    ArtifactError::BadGlob { pattern: pattern.to_owned(), message: err.kind().to_string() }
}

/// Whether a path component holds glob syntax.
fn has_glob_meta(part: &str) -> bool {
    part.contains(['*', '?', '[', '{', '\\'])
}

/// Drops leading `./` (any number), which CodeBuild tolerates.
fn strip_dot_slash(pattern: &str) -> &str {
    let mut rest = pattern.trim();
    while let Some(stripped) = rest.strip_prefix("./") {
        rest = stripped.trim_start_matches('/');
    }
    rest
}

/// Resolves `..` in `/`-separated parts; `None` when they climb above their start.
fn normalize(parts: &[&str]) -> Option<String> {
    let mut out: Vec<&str> = Vec::with_capacity(parts.len());
    for part in parts {
        match *part {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            name => out.push(name),
        }
    }
    Some(out.join("/"))
}

/// The last component of a `/`-separated path.
fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `path` made absolute against the current directory, without touching the disk.
fn absolute(path: &Path) -> Result<PathBuf, ArtifactError> {
    std::path::absolute(path).map_err(|err| io_error(path, err))
}

fn io_error(path: &Path, source: io::Error) -> ArtifactError {
    ArtifactError::Io { path: path.to_owned(), source }
}

fn zip_error(path: &Path, source: ZipError) -> ArtifactError {
    ArtifactError::Zip { path: path.to_owned(), source }
}
