//! The only place the server starts processes: `git`, for the repositories it hosts.
//!
//! The server never runs user code; git is ours.

/// A `git` command with safe defaults: no terminal prompts, no system or global configuration,
/// and every repository directory trusted (the repositories belong to the server, whoever
/// owns the files).
#[allow(clippy::disallowed_methods)]
pub(crate) fn git() -> tokio::process::Command {
    let mut command = tokio::process::Command::new("git");
    command
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_COUNT", "2")
        .env("GIT_CONFIG_KEY_0", "safe.directory")
        .env("GIT_CONFIG_VALUE_0", "*")
        // An agent fetches exactly the commit it builds, by id, for a shallow checkout.
        .env("GIT_CONFIG_KEY_1", "uploadpack.allowReachableSHA1InWant")
        .env("GIT_CONFIG_VALUE_1", "true")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    command
}
