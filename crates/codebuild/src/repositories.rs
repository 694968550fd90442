//! What builds and webhooks need from hosted repositories, as a small trait.
//!
//! Services never depend on each other except through a small trait or the store: CodeBuild
//! reads CodeCommit's repositories only through [`Repositories`], which the server implements
//! with its git functions (and later with the `codecommit` crate's), so neither crate links the
//! other.

use std::future::Future;
use std::pin::Pin;

use engine::store::{Document, StoreError};

/// A repository call's answer, boxed so that the trait can be used as `dyn`.
pub type RepositoryFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, RepositoryError>> + Send + 'a>>;

/// Why a repository could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RepositoryError {
    /// The store failed (reading reference events).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// git could not be run, or failed in a way that is no answer.
    #[error("{0}")]
    Git(String),
}

impl From<RepositoryError> for awsapi::ApiError {
    fn from(err: RepositoryError) -> awsapi::ApiError {
        match err {
            RepositoryError::Store(err) => err.into(),
            RepositoryError::Git(err) => awsapi::ApiError::internal(err),
        }
    }
}

/// A file of a repository at a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileAt {
    /// Its content (lossily UTF-8).
    Found(String),
    /// No such file at that commit.
    Missing,
    /// Larger than the cap the caller gave.
    TooLarge,
}

/// The hosted repositories, by name, as CodeBuild reads them.
pub trait Repositories: Send + Sync {
    /// The branch the repository's `HEAD` names (its default branch), if any.
    fn default_branch<'a>(&'a self, repository: &'a str) -> RepositoryFuture<'a, Option<String>>;

    /// The commit `revision` (a branch, tag or commit) names, if any.
    fn resolve_commit<'a>(
        &'a self,
        repository: &'a str,
        revision: &'a str,
    ) -> RepositoryFuture<'a, Option<String>>;

    /// Whether the branch `refs/heads/<branch>` exists.
    fn has_branch<'a>(&'a self, repository: &'a str, branch: &'a str)
    -> RepositoryFuture<'a, bool>;

    /// The file `path` at `commit`, if it is at most `max_bytes` long.
    fn read_file<'a>(
        &'a self,
        repository: &'a str,
        commit: &'a str,
        path: &'a str,
        max_bytes: usize,
    ) -> RepositoryFuture<'a, FileAt>;

    /// The newest reference event's number, 0 when there is none.
    fn latest_event<'a>(&'a self, repository: &'a str) -> RepositoryFuture<'a, i64>;

    /// The reference events (documents of kind `ref-event`) after number `seen`, in order.
    fn events_after<'a>(
        &'a self,
        repository: &'a str,
        seen: i64,
    ) -> RepositoryFuture<'a, Vec<Document>>;

    /// A commit's message; empty when it cannot be read.
    fn commit_message<'a>(
        &'a self,
        repository: &'a str,
        commit: &'a str,
    ) -> RepositoryFuture<'a, String>;

    /// The paths a push from `old` (all zeros: a new branch) to `new` changed; empty when they
    /// cannot be read.
    fn changed_files<'a>(
        &'a self,
        repository: &'a str,
        old: &'a str,
        new: &'a str,
    ) -> RepositoryFuture<'a, Vec<String>>;
}
