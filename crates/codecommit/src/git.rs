//! The hosted repositories on disk: each a bare git directory at `Context::repo_path`,
//! created by [`init_bare`], and [`run`] for the short git commands the service runs on them.

use std::path::Path;

use crate::process::{self, git};

/// Creates an empty bare repository at `path` (and its parent directories) whose `HEAD` names
/// `default_branch`, ready to be pushed to over HTTP.
pub async fn init_bare(path: &Path, default_branch: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    let mut init = git();
    init.args(["init", "--bare", "--quiet"])
        .arg(format!("--initial-branch={default_branch}"))
        .arg(path);
    run(init).await?;
    for (key, value) in [
        // CodeCommit allows force pushes (branch restrictions are IAM's business).
        ("receive.denyNonFastForwards", "false"),
        // receive-pack refuses to serve HTTP without an authenticated user otherwise; ours
        // checks credentials before git runs.
        ("http.receivepack", "true"),
        // Partial clones (`--filter=blob:none`) cost nothing to allow.
        ("uploadpack.allowFilter", "true"),
    ] {
        let mut config = git();
        config.arg("--git-dir").arg(path).args(["config", key, value]);
        run(config).await?;
    }
    // Existing repositories get the hook before their first protected push.
    crate::protection::install_hook(path).await
}

/// Runs a short git command (within the API's bounds) and fails with its stderr when it
/// fails.
pub async fn run(command: tokio::process::Command) -> std::io::Result<process::Finished> {
    let output =
        process::run_bounded(command, None, process::API_LIMITS).await.map_err(
            |err| match err {
                process::RunError::Io(err) => err,
                other => std::io::Error::other(other.to_string()),
            },
        )?;
    if !output.status.success() {
        return Err(std::io::Error::other(format!(
            "git failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(output)
}

#[cfg(test)]
mod tests;
