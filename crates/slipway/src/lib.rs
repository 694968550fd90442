//! The one Slipway binary: `slipway build`, `slipway server` and its administration commands.
//!
//! `main.rs` only calls [`run`]; everything here can be driven in-process by tests.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod build;
mod config;
mod render;
mod serve;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit status when the build failed, timed out or was stopped.
pub const EXIT_FAILED: u8 = 1;
/// Exit status when the arguments or the buildspec are invalid and nothing ran.
pub const EXIT_INVALID: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "slipway",
    version,
    about = "Self-hosted CI/CD with the AWS developer tools' files and APIs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a buildspec.yml locally, exactly as CodeBuild would.
    Build(build::BuildArgs),
    /// Run the server: the AWS API, agents' work queue and an embedded agent, on SQLite by default.
    Server(serve::ServerArgs),
    /// Run an agent that takes builds from a server.
    Agent(serve::AgentArgs),
    /// Manage users.
    #[command(subcommand)]
    User(serve::UserCommand),
    /// Manage access keys.
    #[command(subcommand, name = "access-key")]
    AccessKey(serve::AccessKeyCommand),
    /// Manage HTTPS git credentials.
    #[command(subcommand, name = "git-credentials")]
    GitCredentials(serve::GitCredentialsCommand),
    /// Protect branches: who alone may push, force-push or delete them.
    #[command(subcommand, name = "branch-protection")]
    BranchProtection(serve::BranchProtectionCommand),
    /// Mirror repositories: pull from an external git URL, push to others after every change.
    #[command(subcommand)]
    Mirror(serve::MirrorCommand),
    /// Print the secret a repository trigger signs its notifications with.
    #[command(name = "trigger-secret")]
    TriggerSecret(serve::TriggerSecretArgs),
    /// Manage agent tokens.
    #[command(subcommand, name = "agent-token")]
    AgentToken(serve::AgentTokenCommand),
    /// Set parameters for `env.parameter-store` (as `aws ssm put-parameter` does).
    #[command(subcommand)]
    Parameter(serve::PutCommand),
    /// Set secrets for `env.secrets-manager` (as `aws secretsmanager create-secret` does).
    #[command(subcommand)]
    Secret(serve::PutCommand),
    /// Print the SHA-256 of the files matching the globs (`codebuild-hash-files` in builds).
    #[command(name = "hash-files", hide = true)]
    HashFiles {
        /// Globs relative to the current directory.
        #[arg(required = true)]
        patterns: Vec<String>,
    },
}

/// Runs the command line `args` (the program name first) and returns the exit status.
pub fn run(args: Vec<OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() { ExitCode::from(EXIT_INVALID) } else { ExitCode::SUCCESS };
        }
    };
    match cli.command {
        Command::Build(args) => build::run(args),
        Command::Server(args) => serve::server(args),
        Command::Agent(args) => serve::agent(args),
        Command::User(command) => serve::user(command),
        Command::AccessKey(command) => serve::access_key(command),
        Command::AgentToken(command) => serve::agent_token(command),
        Command::GitCredentials(command) => serve::git_credentials(command),
        Command::BranchProtection(command) => serve::branch_protection(command),
        Command::Mirror(command) => serve::mirror(command),
        Command::TriggerSecret(args) => serve::trigger_secret(args),
        Command::Parameter(command) => serve::put_value(serve::SecretKind::Parameter, command),
        Command::Secret(command) => serve::put_value(serve::SecretKind::Secret, command),
        Command::HashFiles { patterns } => {
            let cwd = match std::env::current_dir() {
                Ok(cwd) => cwd,
                Err(err) => {
                    eprintln!("codebuild-hash-files: {err}");
                    return ExitCode::from(EXIT_FAILED);
                }
            };
            match agent::cache::hash_files(&cwd, &patterns) {
                Ok(hash) => {
                    println!("{hash}");
                    ExitCode::SUCCESS
                }
                Err(err) => {
                    eprintln!("codebuild-hash-files: {err}");
                    ExitCode::from(EXIT_FAILED)
                }
            }
        }
    }
}
