//! The only place the server starts processes: `git`, for the repositories it hosts (the
//! smart-HTTP handlers in `server::git` run theirs through [`git`] too).
//!
//! The server never runs user code; git is ours.

/// A `git` command with safe defaults: no terminal prompts, no system or global configuration,
/// and every repository directory trusted (the repositories belong to the server, whoever
/// owns the files).
#[allow(clippy::disallowed_methods)]
pub fn git() -> tokio::process::Command {
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

/// The bounds of one git run: how long it may take, and how much standard output it may
/// print (its standard error is cut to [`MAX_STDERR`] and never fails the run).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub timeout: std::time::Duration,
    pub max_stdout: usize,
}

/// The bounds of the git runs an API request makes: a minute, and 64 MiB of output (more
/// than CodeCommit returns in one answer).
pub const API_LIMITS: Limits =
    Limits { timeout: std::time::Duration::from_secs(60), max_stdout: 64 * 1024 * 1024 };

/// What is kept of a git's standard error.
pub const MAX_STDERR: usize = 64 * 1024;

/// A git run that ended within its [`Limits`].
#[derive(Debug)]
pub struct Finished {
    pub status: std::process::ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Why a bounded run gave no [`Finished`]; the process is killed in each case.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot run git: {0}")]
    Io(#[from] std::io::Error),
    #[error("git took longer than {0} s")]
    TimedOut(u64),
    #[error("git printed more than {0} bytes")]
    TooMuchOutput(usize),
}

/// The one runner of the git processes the server starts: `command` (from [`git`]) with
/// `input` on its standard input, its output read as it comes (so neither side blocks on a
/// full pipe), ended when it passes `limits`.
pub async fn run_bounded(
    mut command: tokio::process::Command,
    input: Option<&[u8]>,
    limits: Limits,
) -> Result<Finished, RunError> {
    use std::process::Stdio;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    command
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn()?;
    let stdin = child.stdin.take();
    let mut stdout = child.stdout.take().ok_or_else(|| std::io::Error::other("no stdout"))?;
    let mut stderr = child.stderr.take().ok_or_else(|| std::io::Error::other("no stderr"))?;
    let feed = async move {
        if let (Some(input), Some(mut stdin)) = (input, stdin) {
            // A git that stops reading early (and fails) closes the pipe: its status tells.
            let _ = stdin.write_all(input).await;
        }
        Ok::<(), RunError>(())
    };
    let out = async move {
        let mut buffer = Vec::new();
        (&mut stdout).take(limits.max_stdout as u64 + 1).read_to_end(&mut buffer).await?;
        if buffer.len() > limits.max_stdout {
            return Err(RunError::TooMuchOutput(limits.max_stdout));
        }
        Ok(buffer)
    };
    let err = async move {
        let mut buffer = Vec::new();
        (&mut stderr).take(MAX_STDERR as u64).read_to_end(&mut buffer).await?;
        tokio::io::copy(&mut stderr, &mut tokio::io::sink()).await?;
        Ok::<_, RunError>(buffer)
    };
    let work = async { tokio::try_join!(feed, out, err) };
    let outcome = match tokio::time::timeout(limits.timeout, work).await {
        Err(_) => Err(RunError::TimedOut(limits.timeout.as_secs())),
        Ok(Err(err)) => Err(err),
        Ok(Ok(((), stdout, stderr))) => Ok((stdout, stderr)),
    };
    match outcome {
        Ok((stdout, stderr)) => {
            let status = match tokio::time::timeout(limits.timeout, child.wait()).await {
                Ok(status) => status?,
                Err(_) => {
                    let _ = child.kill().await;
                    return Err(RunError::TimedOut(limits.timeout.as_secs()));
                }
            };
            Ok(Finished { status, stdout, stderr })
        }
        Err(err) => {
            let _ = child.kill().await;
            Err(err)
        }
    }
}

#[cfg(test)]
mod tests;
