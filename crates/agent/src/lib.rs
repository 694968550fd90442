//! The executor: runs compiled build plans on this machine.
//!
//! An agent takes a [`protocol::BuildPlan`], runs its phases in one shell session with
//! CodeBuild's semantics, packages artifacts, keeps the cache and parses test reports,
//! and reports everything as [`protocol::BuildEvent`]s. `slipway build` uses it directly;
//! the server's agents (a later issue) will lease plans over HTTP and use the same code.
//!
//! **Boundary:** the agent never links `engine`, `server` or a database: it executes what
//! it is given and reports what happened.

pub mod artifacts;
pub mod cache;
mod clock;
pub mod executor;
mod process;
pub use process::check_sandbox;
pub mod secrets;
pub mod source_zip;
pub mod worker;
mod workspace;

pub use executor::{BuildContext, BuildResult, PackagedArtifact, run_build};
pub use secrets::{MapSecrets, SecretSource};
pub use worker::{AgentConfig, run_agent};
pub use workspace::remove_stale_workspaces;
