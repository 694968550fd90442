//! The server's hosted repositories as CodeBuild reads them: `codebuild::Repositories` over
//! the `codecommit` crate (its `Context`'s repositories, their reference events in
//! `codecommit::refs`, and `git` runs through `codecommit::process`).

use codebuild::{FileAt, Repositories, RepositoryError, RepositoryFuture};
use codecommit::process;
use engine::store::Document;

/// The hosted repositories of the server: CodeCommit's context over its state.
pub(crate) struct HostedRepositories {
    pub(crate) codecommit: codecommit::Context,
}

impl HostedRepositories {
    fn codecommit(&self) -> &codecommit::Context {
        &self.codecommit
    }

    /// `git --git-dir <repository> <args>` within the API's limits; its trimmed standard
    /// output when it succeeds.
    async fn git(
        &self,
        repository: &str,
        args: &[&str],
    ) -> Result<Option<String>, RepositoryError> {
        let mut command = process::git();
        command.arg("--git-dir").arg(self.codecommit().repo_path(repository)).args(args);
        let output = process::run_bounded(command, None, process::API_LIMITS)
            .await
            .map_err(|err| RepositoryError::Git(err.to_string()))?;
        Ok(output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned()))
    }

    /// `git --git-dir <repository> <args>`'s standard output, empty when it fails.
    async fn git_text(&self, repository: &str, args: &[&str]) -> String {
        let output = process::git()
            .arg("--git-dir")
            .arg(self.codecommit().repo_path(repository))
            .args(args)
            .output()
            .await;
        match output {
            Ok(output) if output.status.success() => {
                String::from_utf8_lossy(&output.stdout).into_owned()
            }
            _ => String::new(),
        }
    }
}

impl Repositories for HostedRepositories {
    fn default_branch<'a>(&'a self, repository: &'a str) -> RepositoryFuture<'a, Option<String>> {
        Box::pin(self.git(repository, &["symbolic-ref", "--short", "HEAD"]))
    }

    fn resolve_commit<'a>(
        &'a self,
        repository: &'a str,
        revision: &'a str,
    ) -> RepositoryFuture<'a, Option<String>> {
        Box::pin(async move {
            let revision = format!("{revision}^{{commit}}");
            self.git(repository, &["rev-parse", "--verify", "-q", &revision]).await
        })
    }

    fn has_branch<'a>(
        &'a self,
        repository: &'a str,
        branch: &'a str,
    ) -> RepositoryFuture<'a, bool> {
        Box::pin(async move {
            let reference = format!("refs/heads/{branch}");
            Ok(self.git(repository, &["rev-parse", "--verify", "-q", &reference]).await?.is_some())
        })
    }

    fn read_file<'a>(
        &'a self,
        repository: &'a str,
        commit: &'a str,
        path: &'a str,
        max_bytes: usize,
    ) -> RepositoryFuture<'a, FileAt> {
        Box::pin(async move {
            let mut command = process::git();
            command
                .arg("--git-dir")
                .arg(self.codecommit().repo_path(repository))
                .args(["show", &format!("{commit}:{path}")]);
            let limits = process::Limits { max_stdout: max_bytes, ..process::API_LIMITS };
            let output = match process::run_bounded(command, None, limits).await {
                Ok(output) => output,
                Err(process::RunError::TooMuchOutput(_)) => return Ok(FileAt::TooLarge),
                Err(err) => return Err(RepositoryError::Git(err.to_string())),
            };
            Ok(if output.status.success() {
                FileAt::Found(String::from_utf8_lossy(&output.stdout).into_owned())
            } else {
                FileAt::Missing
            })
        })
    }

    fn latest_event<'a>(&'a self, repository: &'a str) -> RepositoryFuture<'a, i64> {
        Box::pin(
            async move { Ok(codecommit::refs::latest_event(self.codecommit(), repository).await?) },
        )
    }

    fn events_after<'a>(
        &'a self,
        repository: &'a str,
        seen: i64,
    ) -> RepositoryFuture<'a, Vec<Document>> {
        Box::pin(async move {
            let after = (seen > 0).then(|| codecommit::refs::event_cursor(repository, seen));
            let kind = engine::kinds::REF_EVENT;
            Ok(self.codecommit().store.list_all_after(kind, Some(repository), after).await?)
        })
    }

    fn commit_message<'a>(
        &'a self,
        repository: &'a str,
        commit: &'a str,
    ) -> RepositoryFuture<'a, String> {
        Box::pin(async move {
            Ok(self.git_text(repository, &["log", "-1", "--format=%B", commit]).await)
        })
    }

    fn changed_files<'a>(
        &'a self,
        repository: &'a str,
        old: &'a str,
        new: &'a str,
    ) -> RepositoryFuture<'a, Vec<String>> {
        Box::pin(async move {
            let changed = if old.chars().all(|c| c == '0') {
                self.git_text(repository, &["show", "--name-only", "--format=", new]).await
            } else {
                self.git_text(repository, &["diff", "--name-only", old, new]).await
            };
            Ok(changed.lines().filter(|it| !it.is_empty()).map(str::to_owned).collect())
        })
    }
}
