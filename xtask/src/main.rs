//! `cargo xtask`: the repository's glue, written in Rust rather than shell.
//!
//! `cargo xtask test` is the one command that checks everything: it installs what the tests
//! need when it is missing, then runs the formatter check and clippy, starts the services the
//! tests talk to (PostgreSQL and an S3 server, see [`services`]), runs every test, and stops
//! the services again. `.ci/run` calls exactly this. The repository-hygiene checks ("tidy")
//! live in [`tidy`] as ordinary tests, so `cargo test --workspace` runs them with everything
//! else.

#![allow(clippy::disallowed_methods)]

use std::process::{Command, ExitCode};

mod services;
#[cfg(test)]
mod tidy;

const USAGE: &str = "\
usage: cargo xtask test                    install what the tests need, then run fmt, clippy
                                           and every test (with PostgreSQL and moto running)
       cargo xtask with-services CMD ARG…  run one command with PostgreSQL and moto running,
                                           e.g. `cargo xtask with-services cargo test -p engine`";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["test"] => test(),
        ["with-services", command, rest @ ..] => with_services(command, rest),
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// The programs the tests run, with the Debian package that provides each.
const TOOLS: &[(&str, &str)] =
    &[("bash", "bash"), ("git", "git"), ("bwrap", "bubblewrap"), ("script", "bsdutils")];

fn test() -> ExitCode {
    if let Err(message) = install_missing_tools() {
        eprintln!("xtask: {message}");
        return ExitCode::FAILURE;
    }
    let checks: &[(&str, &[&str])] = &[
        ("formatting", &["fmt", "--all", "--check"]),
        ("clippy", &["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"]),
    ];
    for (name, args) in checks {
        if !cargo_step(name, args, &[]) {
            return ExitCode::FAILURE;
        }
    }
    eprintln!("xtask: services: PostgreSQL and moto S3");
    // Dropping `services` stops them: at the end of this function, on an early return, and
    // when a panic unwinds through here.
    let services = match services::Services::start() {
        Ok(services) => services,
        Err(message) => {
            eprintln!("xtask: {message}");
            return ExitCode::FAILURE;
        }
    };
    let passed = cargo_step("tests", &["test", "--workspace", "--locked"], services.env());
    drop(services);
    if passed { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// Runs one command with the services running, for running a few tests against them.
fn with_services(program: &str, args: &[&str]) -> ExitCode {
    let services = match services::Services::start() {
        Ok(services) => services,
        Err(message) => {
            eprintln!("xtask: {message}");
            return ExitCode::FAILURE;
        }
    };
    let status = Command::new(program)
        .args(args)
        .envs(services.env().iter().map(|(name, value)| (name, value)))
        .status();
    drop(services);
    match status {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("xtask: {program} failed ({status})");
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("xtask: cannot run {program}: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `cargo <args>` with extra environment variables; says whether it succeeded.
fn cargo_step(name: &str, args: &[&str], env: &[(String, String)]) -> bool {
    eprintln!("xtask: {name}: cargo {}", args.join(" "));
    let status = Command::new(cargo())
        .args(args)
        .envs(env.iter().map(|(name, value)| (name, value)))
        .status();
    match status {
        Ok(status) if status.success() => true,
        Ok(status) => {
            eprintln!("xtask: {name} failed ({status})");
            false
        }
        Err(err) => {
            eprintln!("xtask: cannot run cargo: {err}");
            false
        }
    }
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
    if !installed("aws") {
        // The end-to-end tests drive the server with the real aws CLI, from PyPI.
        eprintln!("xtask: installing the aws CLI");
        let ok = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "awscli"])
            .status()
            .is_ok_and(|it| it.success());
        if !ok || !installed("aws") {
            return Err("the tests need the aws CLI: `python3 -m pip install awscli`".to_owned());
        }
    }
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
