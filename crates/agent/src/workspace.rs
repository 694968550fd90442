//! Preparing a build's workspace: copying (or moving) the source in, and finding its git
//! revision; and clearing the workspaces an agent killed mid-build left behind.

#[cfg(test)]
mod tests;

use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The name an agent gives each job's directory in its work root.
const JOB_PREFIX: &str = "job-";

/// Marks a build's work directory as in use for as long as the returned lock is held (an
/// advisory lock on the directory, which the kernel releases when the process dies, even by
/// SIGKILL). `None` when the directory cannot be locked; the build runs all the same.
pub(crate) fn mark_in_use(work_dir: &Path) -> Option<File> {
    let dir = File::open(work_dir).ok()?;
    dir.try_lock().ok()?;
    Some(dir)
}

/// Removes the job directories (`job-*`) in an agent's work root whose build no live process
/// holds (see [`mark_in_use`]): what an agent killed with -9 left behind, source, secrets in
/// the shell's state and all. Called when an agent starts; a build still running, in this
/// process or another, keeps its directory. Returns what was removed.
pub fn remove_stale_workspaces(work_root: &Path) -> io::Result<Vec<PathBuf>> {
    let listing = match std::fs::read_dir(work_root) {
        Ok(listing) => listing,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err),
    };
    let mut removed = Vec::new();
    for entry in listing {
        let entry = entry?;
        let is_job = entry.file_name().as_bytes().starts_with(JOB_PREFIX.as_bytes());
        if !is_job || !entry.file_type()?.is_dir() {
            continue;
        }
        let path = entry.path();
        let in_use = match File::open(path.join("work")) {
            Ok(work) => match work.try_lock() {
                Ok(()) => false,
                Err(std::fs::TryLockError::WouldBlock) => true,
                Err(std::fs::TryLockError::Error(err)) => return Err(err),
            },
            Err(err) if err.kind() == io::ErrorKind::NotFound => false,
            Err(err) => return Err(err),
        };
        if !in_use {
            std::fs::remove_dir_all(&path)?;
            removed.push(path);
        }
    }
    Ok(removed)
}

/// `path` relative to `dir`, when it is inside it (both resolved as far as they exist).
pub(crate) fn inside(dir: &Path, path: &Path) -> Option<PathBuf> {
    let dir = std::fs::canonicalize(dir).ok()?;
    let path = std::fs::canonicalize(path).or_else(|_| std::path::absolute(path)).ok()?;
    let relative = path.strip_prefix(&dir).ok()?;
    (!relative.as_os_str().is_empty()).then(|| relative.to_owned())
}

/// Copies the source at `from` into `to`, so the build can change it without touching the
/// user's. When `listed` is given (the files git knows, see [`git_files`]) only those and the
/// `.git` directory are copied: a build then sees what a clone would, plus uncommitted work,
/// and not the ignored build outputs (a `target/` of gigabytes) lying in the work tree.
/// `skip` (relative to `from`) is left out, whatever is in it.
pub(crate) fn copy_source(
    from: &Path,
    to: &Path,
    listed: Option<&[PathBuf]>,
    skip: Option<&Path>,
) -> io::Result<u64> {
    let Some(listed) = listed else { return copy_tree(from, to, skip) };
    std::fs::create_dir_all(to)?;
    let mut files = 0;
    let git = from.join(".git");
    if git.is_dir() {
        files += copy_tree(&git, &to.join(".git"), None)?;
    } else if git.exists() {
        std::fs::copy(&git, to.join(".git"))?;
    }
    for relative in listed {
        if skip.is_some_and(|skip| relative.starts_with(skip)) {
            continue;
        }
        let source = from.join(relative);
        let Ok(metadata) = std::fs::symlink_metadata(&source) else {
            // Tracked but deleted in the work tree: the build sees it deleted too.
            continue;
        };
        let target = to.join(relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if metadata.file_type().is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&source)?, &target)?;
            files += 1;
        } else if metadata.is_dir() {
            // A submodule: git lists its directory, which holds a repository of its own.
            files += copy_tree(&source, &target, None)?;
        } else {
            std::fs::copy(&source, &target)?;
            files += 1;
        }
    }
    Ok(files)
}

/// Moves the directory `from` to `to` (an absent or empty directory), copying it when a
/// rename cannot (another file system). Says what it did.
pub(crate) fn move_source(from: &Path, to: &Path) -> io::Result<String> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::rename(from, to) {
        Ok(()) => Ok("Moved the source".to_owned()),
        Err(_) => copy_tree(from, to, None).map(|files| format!("Copied {files} source files")),
    }
}

/// The files of the git work tree at `dir`, tracked and untracked but not ignored, when `dir`
/// is the top of one.
pub(crate) async fn git_files(dir: &Path) -> Option<Vec<PathBuf>> {
    if !dir.join(".git").exists() {
        return None;
    }
    let stdout =
        git(dir, &["ls-files", "-z", "--cached", "--others", "--exclude-standard"]).await?;
    let mut files: Vec<PathBuf> = stdout
        .split(|b| *b == 0)
        .filter(|it| !it.is_empty())
        .map(|it| PathBuf::from(std::ffi::OsStr::from_bytes(it)))
        .collect();
    files.dedup();
    Some(files)
}

/// Copies the tree at `from` into `to`, keeping permissions and symbolic links, without
/// `skip` (relative to `from`).
fn copy_tree(from: &Path, to: &Path, skip: Option<&Path>) -> io::Result<u64> {
    let mut files = 0;
    std::fs::create_dir_all(to)?;
    let walk = walkdir::WalkDir::new(from).min_depth(1).into_iter().filter_entry(|entry| {
        let relative = entry.path().strip_prefix(from).unwrap_or(entry.path());
        skip.is_none_or(|skip| relative != skip)
    });
    for entry in walk {
        let entry = entry.map_err(io::Error::other)?;
        let relative = entry.path().strip_prefix(from).map_err(io::Error::other)?;
        let target = to.join(relative);
        let kind = entry.file_type();
        if kind.is_symlink() {
            let link = std::fs::read_link(entry.path())?;
            std::os::unix::fs::symlink(link, &target)?;
        } else if kind.is_dir() {
            std::fs::create_dir_all(&target)?;
            std::fs::set_permissions(
                &target,
                entry.metadata().map_err(io::Error::other)?.permissions(),
            )?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)?;
            files += 1;
        }
        // Sockets, pipes and devices have no place in a build's source and are left out.
    }
    Ok(files)
}

/// The commit checked out in `dir`, when it is a git work tree.
pub(crate) async fn git_revision(dir: &Path) -> Option<String> {
    if !dir.join(".git").exists() {
        return None;
    }
    let stdout = git(dir, &["rev-parse", "HEAD"]).await?;
    let revision = String::from_utf8(stdout).ok()?.trim().to_owned();
    (revision.len() >= 40).then_some(revision)
}

/// What `git ARGS` prints in `dir`, when it succeeds.
async fn git(dir: &Path, args: &[&str]) -> Option<Vec<u8>> {
    let output = crate::process::command("git")
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .await
        .ok()?;
    output.status.success().then_some(output.stdout)
}
