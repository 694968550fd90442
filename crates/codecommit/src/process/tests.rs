//! The bounded git runner: output over the cap and a run over its time end the process.

use std::time::Duration;

use super::{Limits, RunError, git, run_bounded};

fn limits(seconds: u64, max_stdout: usize) -> Limits {
    Limits { timeout: Duration::from_secs(seconds), max_stdout }
}

#[tokio::test]
async fn output_within_the_cap_is_returned_with_the_input_fed() {
    let mut command = git();
    command.args(["hash-object", "--stdin"]);
    let finished = run_bounded(command, Some(b"hello\n"), limits(60, 100)).await.unwrap();
    assert!(finished.status.success());
    assert_eq!(finished.stdout, b"ce013625030ba8dba906f756967f9e9ca394464a\n");
}

#[tokio::test]
async fn output_over_the_cap_fails_the_run() {
    // `git hash-object` prints 41 bytes: over a cap of 10.
    let mut command = git();
    command.args(["hash-object", "--stdin"]);
    let result = run_bounded(command, Some(b"hello\n"), limits(60, 10)).await;
    assert!(matches!(result, Err(RunError::TooMuchOutput(10))), "{result:?}");
}

#[tokio::test]
#[allow(clippy::disallowed_methods)] // This module is where the server starts processes.
async fn a_run_past_its_time_is_ended() {
    let mut command = tokio::process::Command::new("sleep");
    command.arg("600");
    let started = std::time::Instant::now();
    let bounds = Limits { timeout: Duration::from_millis(200), max_stdout: 10 };
    let result = run_bounded(command, None, bounds).await;
    assert!(matches!(result, Err(RunError::TimedOut(_))), "{result:?}");
    // Ended at the deadline, not after the 600 s the command would take.
    assert!(started.elapsed() < Duration::from_secs(300));
}
