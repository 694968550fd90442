//! The end-to-end tests: the real `slipway` binary, real bash, real files.
//!
//! This is the workspace's one integration test binary; the server's end-to-end tests join
//! it when `slipway server` exists.

// Tests measure time and start processes directly.
#![allow(clippy::disallowed_methods)]

mod approval_templates;
mod branch_protection;
mod browser;
mod build;
mod build_s3;
mod codecommit;
mod codecommit_files;
mod console;
mod git;
mod git_concurrency;
mod iam;
mod mirrors;
mod pull_requests;
mod readme;
mod replicas;
mod s3;
mod s3_sdk;
mod server;
mod ssh;
mod sts;
mod support;
mod trail;
mod triggers;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A scratch directory with a source tree in `source/`.
pub(crate) struct Sandbox {
    pub(crate) dir: tempfile::TempDir,
}

impl Sandbox {
    pub(crate) fn new() -> Sandbox {
        let sandbox = Sandbox { dir: tempfile::tempdir().unwrap() };
        std::fs::create_dir_all(sandbox.source()).unwrap();
        sandbox
    }

    pub(crate) fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub(crate) fn source(&self) -> PathBuf {
        self.path("source")
    }

    /// Writes a file under the sandbox (not only the source), creating directories.
    pub(crate) fn write(&self, relative: &str, content: &str) -> &Sandbox {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
        self
    }

    /// A `slipway` command run from the sandbox directory.
    pub(crate) fn slipway(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_slipway"));
        command.args(args).current_dir(self.dir.path()).stdin(std::process::Stdio::null());
        command
    }

    /// Runs `slipway build --source source` with `args` and returns what happened.
    pub(crate) fn build(&self, args: &[&str]) -> Run {
        let mut all = vec!["build", "--source", "source"];
        all.extend_from_slice(args);
        Run::from(self.slipway(&all).output().unwrap())
    }
}

/// A finished `slipway` process.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Asserts the exit code, showing everything the process printed when it differs.
    #[track_caller]
    pub(crate) fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(self.code, Some(code), "stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
}

/// The repository's root, for the examples.
pub(crate) fn repository() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}
