//! CodeCommit, the git hosting service: what `aws codecommit …` reaches.
//!
//! Today this crate holds the one git runner ([`process`]: `git` with safe defaults and
//! `run_bounded`, the runner with a timeout and an output cap). The operations
//! (repositories, files, pull requests and approvals, templates, triggers, mirrors, ref
//! events, branch protection) still live in `server::codecommit`, `server::git`,
//! `server::triggers` and `server::mirrors` and move here next, as typed service functions
//! over a context (store, blobs, the repositories' directory).
//!
//! **Boundary:** no HTTP edge: this crate never depends on axum, askama or `server` (the
//! tidy test `dependency_rules_hold` checks it).

pub mod process;
