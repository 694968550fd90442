//! `cargo xtask`: the repository's glue, written in Rust rather than shell.
//!
//! `cargo xtask test` is the one command that checks everything: it installs what the tests
//! need when it is missing (Chromium and playwright-core for the console tests among them),
//! then runs the formatter check and clippy, starts the services the tests talk to
//! (PostgreSQL and an S3 server, see [`services`]), runs every test, and stops the services
//! again. `.ci/run` calls exactly this. `cargo xtask iam-data` regenerates the IAM tables of
//! `crates/iam/data/` ([`iam_data`]). The repository-hygiene checks ("tidy")
//! live in [`tidy`] as ordinary tests, so `cargo test --workspace` runs them with everything
//! else.

#![allow(clippy::disallowed_methods)]

use std::process::{Command, ExitCode};

mod iam_data;
mod services;
#[cfg(test)]
mod tidy;

const USAGE: &str = "\
usage: cargo xtask test                    install what the tests need, then run fmt, clippy
                                           and every test (with PostgreSQL and moto running)
       cargo xtask with-services CMD ARG…  run one command with PostgreSQL and moto running,
                                           e.g. `cargo xtask with-services cargo test -p engine`
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["test"] => test(),
        ["with-services", command, rest @ ..] => with_services(command, rest),
        ["iam-data", rest @ ..] => match iam_data::run(rest) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("xtask: iam-data: {message}");
                ExitCode::FAILURE
            }
        },
        _ => {
            eprintln!("{USAGE}{}", iam_data::USAGE);
            ExitCode::from(2)
        }
    }
}

/// The programs the tests run, with the Debian package that provides each.
const TOOLS: &[(&str, &str)] = &[
    ("bash", "bash"),
    ("git", "git"),
    ("bwrap", "bubblewrap"),
    ("script", "bsdutils"),
    ("chromium", "chromium"),
    ("node", "nodejs"),
    ("npm", "npm"),
];

/// The playwright-core the console tests drive Chromium with (`tests/it/browser.rs`); it is
/// installed in `browser-test/` of the target directory.
const PLAYWRIGHT_CORE: &str = "1.65.1";

fn test() -> ExitCode {
    if let Err(message) = install_missing_tools().and_then(|()| install_playwright()) {
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

/// Installs playwright-core for the console tests, unless that version is there already.
fn install_playwright() -> Result<(), String> {
    let prefix = target_dir()?.join("browser-test");
    let manifest = prefix.join("node_modules/playwright-core/package.json");
    let version = std::fs::read_to_string(&manifest)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|it| it["version"].as_str().map(str::to_owned));
    if version.as_deref() == Some(PLAYWRIGHT_CORE) {
        return Ok(());
    }
    eprintln!("xtask: installing playwright-core {PLAYWRIGHT_CORE} in {}", prefix.display());
    std::fs::create_dir_all(&prefix)
        .map_err(|err| format!("cannot create {}: {err}", prefix.display()))?;
    let ok = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
        .arg(&prefix)
        .arg(format!("playwright-core@{PLAYWRIGHT_CORE}"))
        .status()
        .is_ok_and(|it| it.success());
    if ok && manifest.is_file() {
        Ok(())
    } else {
        Err(format!("npm could not install playwright-core@{PLAYWRIGHT_CORE}"))
    }
}

/// The workspace's target directory, as cargo sees it (`CARGO_TARGET_DIR` included).
fn target_dir() -> Result<std::path::PathBuf, String> {
    let output = Command::new(cargo())
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|err| format!("cannot run cargo metadata: {err}"))?;
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|err| format!("cargo metadata printed no JSON: {err}"))?;
    metadata["target_directory"]
        .as_str()
        .map(std::path::PathBuf::from)
        .ok_or_else(|| "cargo metadata names no target directory".to_owned())
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
