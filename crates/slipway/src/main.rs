//! The `slipway` binary: parses the command line and hands over to [`slipway::run`].

use std::process::ExitCode;

fn main() -> ExitCode {
    slipway::run(std::env::args_os().collect())
}
