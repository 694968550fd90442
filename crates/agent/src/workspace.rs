//! Preparing a build's workspace: copying the source in, and finding its git revision.

use std::io;
use std::path::Path;

/// Copies the tree at `from` into `to` (which must not exist), keeping permissions and
/// symbolic links, so the build can change its source without touching the user's.
pub(crate) fn copy_tree(from: &Path, to: &Path) -> io::Result<u64> {
    let mut files = 0;
    std::fs::create_dir_all(to)?;
    for entry in walkdir::WalkDir::new(from).min_depth(1) {
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
    let output = crate::process::command("git")
        .arg("rev-parse")
        .arg("HEAD")
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .await
        .ok()?;
    let revision = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (output.status.success() && revision.len() >= 40).then_some(revision)
}
