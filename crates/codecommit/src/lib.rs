//! CodeCommit, the git hosting service: what `aws codecommit …` reaches, and what happens to
//! the hosted repositories besides.
//!
//! Every function works over a [`Context`] (the store, the repositories' directory, region,
//! account, the sealer, the ref-events `Notify`), which the server builds from its state:
//! - [`api`]: the CodeCommit operations as typed service functions (repositories, branches,
//!   commits and files, pull requests with approvals, comments and merges, approval rule
//!   templates: `get_repository(ctx, caller, input)` with input and output structs named after
//!   botocore's shapes);
//! - [`triggers`]: repository triggers (the typed API operations and the delivery loop's body);
//! - [`mirrors`]: pull and push mirrors (the administration calls and the mirror loop's body);
//! - [`protection`]: branch protection (the rules, written as the account-level IAM policy;
//!   the verdicts on force pushes and deletes the `pre-receive` hook reads);
//! - [`refs`]: the reference events a push or the API records, and reading them back;
//! - [`git`]: the bare repositories on disk; [`process`]: the one git runner (`git` with safe
//!   defaults and `run_bounded`, with a timeout and an output cap).
//!
//! The server keeps the HTTP edges (git smart HTTP, the AWS JSON dispatch, the console) and
//! the background loops' registry and leases; it calls into this crate for the rest.
//!
//! **Boundary:** no HTTP edge: this crate never depends on axum, askama or `server` (the
//! tidy test `dependency_rules_hold` checks it).

pub mod api;
mod context;
pub mod git;
pub mod mirrors;
pub mod process;
pub mod protection;
pub mod refs;
pub mod triggers;

pub use context::Context;

#[cfg(test)]
pub(crate) use context::test_context;
#[cfg(test)]
mod state_snapshot;
