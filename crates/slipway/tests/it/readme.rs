//! The README's walkthrough (repository → CODECOMMIT project → webhook → push), run exactly
//! as written against a fresh `slipway server`, so that the README cannot rot.
//!
//! The block is the `sh` block after the `<!-- walkthrough: … -->` marker; only the server's
//! address (`127.0.0.1:8080`) is replaced with the test server's.

use std::process::{Command, Stdio};

use crate::server::RunningServer;
use crate::{Run, Sandbox};

/// The walkthrough's shell block.
fn walkthrough() -> String {
    let readme = include_str!("../../../../README.md");
    let (_, after) =
        readme.split_once("<!-- walkthrough:").expect("README.md marks its walkthrough");
    let (_, block) = after.split_once("```sh\n").expect("the walkthrough is an sh block");
    let (block, _) = block.split_once("\n```").expect("the block ends");
    block.to_owned()
}

#[test]
fn the_readme_walkthrough_runs_as_written() {
    let sandbox = Sandbox::new();
    // The server runs in the directory the walkthrough runs in, with its default data
    // directory name there.
    let server = RunningServer::start(&sandbox.path("slipway-data"));
    let address = server.endpoint.trim_start_matches("http://").to_owned();
    let script = walkthrough().replace("127.0.0.1:8080", &address);
    // A fresh shell: no AWS settings but the block's own, no global git configuration (the
    // author is the user's own, given here as git's environment variables).
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(sandbox.dir.path())
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_AUTHOR_NAME", "Ada")
        .env("GIT_AUTHOR_EMAIL", "ada@example.com")
        .env("GIT_COMMITTER_NAME", "Ada")
        .env("GIT_COMMITTER_EMAIL", "ada@example.com")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_PAGER", "")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_SHARED_CREDENTIALS_FILE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let run = Run::from(output);
    run.expect_code(0);
    let commit = crate::support::git_ok(&sandbox.path("site"), &["rev-parse", "HEAD"]);
    let commit = commit.stdout.trim();
    assert!(run.stdout.contains(": SUCCEEDED\n"), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("\nbuilt {commit}\n")), "{}", run.stdout);
}
