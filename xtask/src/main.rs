//! `cargo xtask`: the repository's glue, written in Rust rather than shell.
//!
//! There are no subcommands yet. The repository-hygiene checks ("tidy") live in
//! [`tidy`] as ordinary tests, so `cargo test --workspace` runs them with everything else.

use std::process::ExitCode;

#[cfg(test)]
mod tidy;

const USAGE: &str =
    "usage: cargo xtask (no subcommands yet; the tidy checks run with `cargo test -p xtask`)";

fn main() -> ExitCode {
    if std::env::args_os().len() > 1 {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    println!("{USAGE}");
    ExitCode::SUCCESS
}
