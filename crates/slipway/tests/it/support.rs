//! Setup shared by the end-to-end tests: git with a fixed author, HTTPS git credentials and
//! their push URLs, `aws codecommit` calls as a given user, a second user, and build phases.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::server::RunningServer;
use crate::{Run, Sandbox};

/// `git <args>` in `dir`, not yet run: no global configuration, no prompts, author Ada.
pub(crate) fn git_command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("git");
    command
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Ada")
        .env("GIT_AUTHOR_EMAIL", "ada@example.com")
        .env("GIT_COMMITTER_NAME", "Ada")
        .env("GIT_COMMITTER_EMAIL", "ada@example.com");
    command
}

/// Runs [`git_command`].
pub(crate) fn git(dir: &Path, args: &[&str]) -> Run {
    Run::from(git_command(dir, args).output().unwrap())
}

/// Runs [`git_command`], expected to succeed.
#[track_caller]
pub(crate) fn git_ok(dir: &Path, args: &[&str]) -> Run {
    let run = git(dir, args);
    run.expect_code(0);
    run
}

/// Writes a file in a work tree and commits it; returns the commit.
pub(crate) fn commit(dir: &Path, file: &str, content: &str, message: &str) -> String {
    std::fs::write(dir.join(file), content).unwrap();
    git_ok(dir, &["add", file]);
    git_ok(dir, &["commit", "-q", "-m", message]);
    git_ok(dir, &["rev-parse", "HEAD"]).stdout.trim().to_owned()
}

/// HTTPS git credentials, as `slipway git-credentials create` prints them.
#[derive(Debug)]
pub(crate) struct GitCredentials {
    pub(crate) username: String,
    pub(crate) password: String,
}

impl GitCredentials {
    /// Reads the `username = …` and `password = …` lines of `slipway git-credentials create`.
    pub(crate) fn parse(stdout: &str) -> GitCredentials {
        let field = |name: &str| {
            stdout
                .lines()
                .find_map(|it| it.strip_prefix(&format!("{name} = ")))
                .unwrap_or_else(|| panic!("no {name} in {stdout}"))
                .to_owned()
        };
        GitCredentials { username: field("username"), password: field("password") }
    }

    /// The URL of `repo` on the server at `endpoint` (`http://host:port`), with these
    /// credentials in it.
    pub(crate) fn url(&self, endpoint: &str, repo: &str) -> String {
        let host = endpoint.trim_start_matches("http://");
        format!("http://{}:{}@{host}/v1/repos/{repo}", self.username, self.password)
    }
}

/// New git credentials of `user`, made by `slipway git-credentials create`.
pub(crate) fn git_credentials(
    sandbox: &Sandbox,
    server: &RunningServer,
    user: &str,
) -> GitCredentials {
    let data = server.data_dir.to_str().unwrap();
    let run = Run::from(
        sandbox
            .slipway(&["git-credentials", "create", "--user", user, "--data-dir", data])
            .output()
            .unwrap(),
    );
    run.expect_code(0);
    GitCredentials::parse(&run.stdout)
}

/// The push URL of a repository, with git credentials made for the admin.
pub(crate) fn push_url(sandbox: &Sandbox, server: &RunningServer, repository: &str) -> String {
    git_credentials(sandbox, server, "admin").url(&server.endpoint, repository)
}

/// `aws codecommit <args>` as `credentials`, expected to succeed.
pub(crate) fn call(server: &RunningServer, credentials: &Path, args: &[&str]) -> Value {
    let mut all = vec!["codecommit"];
    all.extend_from_slice(args);
    let run = server.aws_with(credentials, &all);
    run.expect_code(0);
    if run.stdout.trim().is_empty() {
        return Value::Null;
    }
    serde_json::from_str(&run.stdout).unwrap_or_else(|err| panic!("{err}: {}", run.stdout))
}

/// The same, expected to fail with `exception`.
#[track_caller]
pub(crate) fn refused(server: &RunningServer, credentials: &Path, args: &[&str], exception: &str) {
    let mut all = vec!["codecommit"];
    all.extend_from_slice(args);
    let run = server.aws_with(credentials, &all);
    assert!(run.stderr.contains(&format!("({exception})")), "{exception}: {run:?}");
}

pub(crate) fn text(value: &Value) -> String {
    value.as_str().unwrap_or_else(|| panic!("a string, not {value}")).to_owned()
}

/// A second user, `bob`, with an access key; the path of his credentials file.
pub(crate) fn bob(sandbox: &Sandbox, server: &RunningServer) -> PathBuf {
    let data = server.data_dir.to_str().unwrap().to_owned();
    Run::from(sandbox.slipway(&["user", "create", "bob", "--data-dir", &data]).output().unwrap())
        .expect_code(0);
    let attach = ["user", "attach-policy", "bob", "AdministratorAccess", "--data-dir", &data];
    Run::from(sandbox.slipway(&attach).output().unwrap()).expect_code(0);
    let created = Run::from(
        sandbox
            .slipway(&["access-key", "create", "--user", "bob", "--data-dir", &data])
            .output()
            .unwrap(),
    );
    created.expect_code(0);
    let path = sandbox.path("bob-credentials");
    std::fs::write(&path, &created.stdout).unwrap();
    path
}

/// Polls BatchGetBuilds until the build `id` is in `phase` (at most 30 s).
#[track_caller]
pub(crate) fn wait_for_phase(server: &RunningServer, id: &str, phase: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.json(&["codebuild", "batch-get-builds", "--ids", id])["builds"][0]["currentPhase"]
        != phase
    {
        assert!(Instant::now() < deadline, "the agent never reported the {phase} phase");
        std::thread::sleep(Duration::from_millis(100));
    }
}
