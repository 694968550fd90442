//! The only place the agent starts processes, so that every child is started the same way.

/// A command for `program`; callers set its directory and environment explicitly.
#[allow(clippy::disallowed_methods)]
pub(crate) fn command(program: &str) -> tokio::process::Command {
    tokio::process::Command::new(program)
}

/// Kills every process of the group `pgid` with SIGKILL. The build shell leads its own group,
/// so this ends the build and anything it left running in the background.
#[allow(clippy::disallowed_methods)]
pub(crate) fn kill_group(pgid: u32) {
    // bash's `kill` builtin, because bash is the one program every build host has for sure.
    let _ = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("kill -KILL -- -{pgid}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

/// The name and id of the user the agent runs as.
pub(crate) async fn current_user() -> Option<(String, u32)> {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the process's effective user.
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    let output = command("id").arg("-un").stdin(std::process::Stdio::null()).output().await.ok()?;
    let name = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    Some((name, uid))
}

/// Makes `user` the owner of everything under `dir`.
pub(crate) async fn give_tree(dir: &std::path::Path, user: &str) -> Result<(), String> {
    let output = command("chown")
        .arg("-R")
        .arg(format!("{user}:"))
        .arg(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|err| format!("cannot run chown: {err}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
    }
}

/// The start of every bubblewrap command line: the host read-only, fresh `/dev` and `/proc`
/// (of the build's own PID namespace), and no capabilities, even for root.
pub(crate) const SANDBOX_ARGS: &[&str] =
    &["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--cap-drop", "ALL"];

/// Whether builds can run in bubblewrap on this host: runs `true` in a sandbox as builds get
/// it; the error says why not and how to install it.
pub async fn check_sandbox() -> Result<(), String> {
    let output = command("bwrap")
        .args(SANDBOX_ARGS)
        .args(["--unshare-pid", "--die-with-parent", "--", "true"])
        .stdin(std::process::Stdio::null())
        .output()
        .await;
    match output {
        Ok(output) if output.status.success() => Ok(()),
        Ok(output) => Err(format!(
            "bubblewrap (bwrap) cannot start a sandbox here: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            Err("bubblewrap (bwrap) is not installed; install it with `apt-get install bubblewrap`"
                .to_owned())
        }
        Err(err) => Err(format!("cannot run bubblewrap (bwrap): {err}")),
    }
}
