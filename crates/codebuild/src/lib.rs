//! CodeBuild, the build service: what `aws codebuild …` reaches, and the build queue agents
//! lease from.
//!
//! [`projects`] (CreateProject … ListProjects), [`builds`] (StartBuild planning, the build
//! document, BatchGetBuilds, stop, retry, delete, the queued-timeout expiry), [`reports`]
//! (report groups, reports, test cases), [`webhooks`] (the webhook operations and the loop
//! body that starts builds for pushes), [`queue`] (leasing a job with its build token,
//! recording an agent's event batch, finishing, lease expiry, the queue report), [`artifacts`]
//! (where each artifact goes: the blob store, or an S3 bucket), [`cache`] (caches of type
//! S3) and
//! [`service_role`] (what a build may do as its project's service role: the parameters and
//! secrets it may read, the S3 objects its artifacts may be written to, the repositories its
//! git token may reach). Every function takes a [`Context`] and the time (`now`, read once at
//! the edge: the crate never reads the clock).
//!
//! **Boundary:** no HTTP edge: this crate never depends on axum, askama, hyper or `server`
//! (the tidy test `dependency_rules_hold` checks it). The server maps [`awsapi::ApiError`]s
//! and [`queue::AgentError`]s to its responses, runs the loops and answers the agent API's
//! long polls. Hosted repositories are reached only through the [`Repositories`] trait, S3
//! buckets only through [`Buckets`] ([`artifacts`] decides where each artifact goes).

pub mod artifacts;
pub mod buckets;
pub mod builds;
pub mod cache;
pub mod projects;
pub mod queue;
pub mod reports;
mod repositories;
pub mod service_role;
pub mod webhooks;

use std::path::PathBuf;
use std::sync::Arc;

use engine::blob::BlobStore;
use engine::store::Store;
use iam::identity::Identity;
use iam::secrets_store::SecretsStore;

pub use buckets::Buckets;
pub use repositories::{FileAt, Repositories, RepositoryError, RepositoryFuture};

/// What every CodeBuild function works with; cheap to clone (handles and a few strings).
#[derive(Clone)]
pub struct Context {
    pub store: Store,
    pub blobs: BlobStore,
    /// Where leasing resolves a build's parameters and secrets.
    pub secrets: SecretsStore,
    /// The IAM roles builds act as (their project's `serviceRole`, see [`service_role`]).
    pub identity: Identity,
    /// The region in ARNs.
    pub region: String,
    /// The account in ARNs.
    pub account: String,
    /// A directory for the files a finish stages (uploaded test cases read line by line).
    pub temp_dir: PathBuf,
    /// The hosted repositories builds and webhooks read.
    pub repositories: Arc<dyn Repositories>,
    /// The S3 buckets builds read their source zips from and write their artifacts to.
    pub buckets: Arc<dyn Buckets>,
    /// Woken when a job is enqueued, so that waiting lease requests look at once.
    pub jobs: Arc<tokio::sync::Notify>,
    /// Woken when a build's log or state changes, for live tails.
    pub logs: Arc<tokio::sync::Notify>,
}

/// The ARN of the CodeBuild resource `resource` (`project/<name>`, `build/<id>`, …).
pub(crate) fn arn(ctx: &Context, resource: &str) -> String {
    awsapi::arn::arn("codebuild", &ctx.region, &ctx.account, resource)
}

/// `InvalidInputException`, CodeBuild's error for a request it refuses.
pub(crate) fn invalid(message: impl Into<String>) -> awsapi::ApiError {
    awsapi::ApiError::client("InvalidInputException", message)
}

/// `ResourceNotFoundException`.
pub(crate) fn not_found(message: impl Into<String>) -> awsapi::ApiError {
    awsapi::ApiError::client("ResourceNotFoundException", message)
}

#[cfg(test)]
pub(crate) mod testing;
