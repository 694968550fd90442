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
