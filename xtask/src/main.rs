//! `cargo xtask`: the repository's glue, written in Rust rather than shell.
//!
//! `cargo xtask test` is the one command that checks everything: it installs what the tests
//! need when it is missing, then runs the formatter check, clippy and every test. `.ci/run`
//! calls exactly this. The repository-hygiene checks ("tidy") live in [`tidy`] as ordinary
//! tests, so `cargo test --workspace` runs them with everything else.

#![allow(clippy::disallowed_methods)]

use std::process::{Command, ExitCode};

#[cfg(test)]
mod tidy;

const USAGE: &str =
    "usage: cargo xtask test    install what the tests need, then run fmt, clippy and every test";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["test"] => test(),
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// The programs the tests run, with the Debian package that provides each.
const TOOLS: &[(&str, &str)] = &[("bash", "bash"), ("git", "git")];

fn test() -> ExitCode {
    if let Err(message) = install_missing_tools() {
        eprintln!("xtask: {message}");
        return ExitCode::FAILURE;
    }
    let steps: &[(&str, &[&str])] = &[
        ("formatting", &["fmt", "--all", "--check"]),
        ("clippy", &["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"]),
        ("tests", &["test", "--workspace", "--locked"]),
    ];
    for (name, args) in steps {
        eprintln!("xtask: {name}: cargo {}", args.join(" "));
        let status = Command::new(cargo()).args(*args).status();
        match status {
            Ok(status) if status.success() => {}
            Ok(status) => {
                eprintln!("xtask: {name} failed ({status})");
                return ExitCode::FAILURE;
            }
            Err(err) => {
                eprintln!("xtask: cannot run cargo: {err}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

/// The cargo that runs us, so that the toolchain stays the same.
fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

fn installed(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|it| it.success())
}

/// Installs the missing tools with apt-get, which works here because tests run as root on
/// Debian machines; anywhere else, says what to install.
fn install_missing_tools() -> Result<(), String> {
    let missing: Vec<&str> = TOOLS
        .iter()
        .filter(|(program, _)| !installed(program))
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing {}", missing.join(" "));
    let installed_ok = installed("apt-get")
        && Command::new("apt-get").arg("update").arg("-qq").status().is_ok_and(|it| it.success())
        && Command::new("apt-get")
            .args(["install", "-y", "-qq"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|it| it.success());
    if installed_ok {
        Ok(())
    } else {
        Err(format!("the tests need {}; install them and retry", missing.join(", ")))
    }
}
