//! Merging a pull request: fast-forward, squash or three-way, on the bare repository.
//!
//! The merged tree comes from `git merge-tree --write-tree`, which merges without a work tree
//! and says when there are conflicts (Slipway does not resolve them: the merge is refused with
//! `ManualMergeRequiredException`). The destination branch moves with a compare-and-swap
//! `update-ref` from the commit the merge was computed on, so a push that moved it meanwhile
//! makes the merge fail (`ConcurrentReferenceUpdateException`) instead of being lost. The move is
//! recorded as a `ref-event`, as PutFile's is, so triggers and webhooks see it.

use serde::Deserialize;
use serde_json::json;

use super::approvals::mergeable;
use super::{
    PullRequestOutput, close, load, modify, output, push_event, reference_commit, require_open,
    required_id, target, user_arn,
};
use crate::Context;
use crate::api::{error, existing_named, git, is_object_id, text};
use awsapi::ApiError;
use awsapi::Caller;

#[derive(Debug, Clone, Copy)]
enum Strategy {
    FastForward,
    Squash,
    ThreeWay,
}

impl Strategy {
    fn option(self) -> &'static str {
        match self {
            Strategy::FastForward => "FAST_FORWARD_MERGE",
            Strategy::Squash => "SQUASH_MERGE",
            Strategy::ThreeWay => "THREE_WAY_MERGE",
        }
    }
}

/// Runs git in a repository with extra environment and, optionally, standard input; its exit
/// code and standard output.
async fn run(
    ctx: &Context,
    repository: &str,
    envs: &[(&str, &str)],
    args: &[&str],
    input: Option<&[u8]>,
) -> Result<(Option<i32>, Vec<u8>), ApiError> {
    let mut command = crate::process::git();
    command.arg("--git-dir").arg(ctx.repo_path(repository)).args(args).envs(envs.iter().copied());
    let output = crate::process::run_bounded(command, input, crate::process::API_LIMITS)
        .await
        .map_err(ApiError::internal)?;
    Ok((output.status.code(), output.stdout))
}

fn manual(source: &str, destination: &str) -> ApiError {
    error(
        "ManualMergeRequiredException",
        format!(
            "{source} cannot be merged into {destination} automatically: the pull request has conflicts or the strategy does not apply"
        ),
    )
}

/// Whether `ancestor` is `commit` or one of its ancestors.
async fn is_ancestor(
    ctx: &Context,
    repository: &str,
    ancestor: &str,
    commit: &str,
) -> Result<bool, ApiError> {
    Ok(git(ctx, repository, &["merge-base", "--is-ancestor", ancestor, commit]).await?.is_some())
}

/// The tree of merging `source` into `destination`; `None` when they conflict (or share no
/// history, which merge-tree refuses as well).
async fn merged_tree(
    ctx: &Context,
    repository: &str,
    destination: &str,
    source: &str,
) -> Result<Option<String>, ApiError> {
    let (code, stdout) = run(
        ctx,
        repository,
        &[],
        &["merge-tree", "--write-tree", "--no-messages", destination, source],
        None,
    )
    .await?;
    match code {
        Some(0) => Ok(text(stdout).lines().next().map(str::to_owned)),
        // 1 is "conflicts"; anything else (unrelated histories) cannot be merged either.
        _ => Ok(None),
    }
}

/// Who a merge commit is by, with CodeCommit's checks.
fn identity(caller: &Caller, input: &MergePullRequestInput) -> Result<(String, String), ApiError> {
    let name = input
        .author_name
        .as_deref()
        .filter(|it| !it.trim().is_empty())
        .unwrap_or(&caller.user)
        .to_owned();
    let email = match input.email.as_deref().filter(|it| !it.trim().is_empty()) {
        Some(it) => it.to_owned(),
        None => format!("{}@slipway", caller.user),
    };
    if name.len() > 1024 {
        return Err(error("NameLengthExceededException", "The name is longer than 1024 bytes"));
    }
    if name.contains(['<', '>', '\n']) || email.contains(['<', '>', '\n']) {
        return Err(error("InvalidEmailException", format!("The email {email} is not valid")));
    }
    Ok((name, email))
}

/// Commits `tree` with `parents`; the new commit's id.
async fn commit_tree(
    ctx: &Context,
    now: i64,
    repository: &str,
    (name, email): (&str, &str),
    tree: &str,
    parents: &[&str],
    message: &str,
) -> Result<String, ApiError> {
    let date = format!("@{} +0000", now.div_euclid(1000));
    let envs = [
        ("GIT_AUTHOR_NAME", name),
        ("GIT_AUTHOR_EMAIL", email),
        ("GIT_AUTHOR_DATE", date.as_str()),
        ("GIT_COMMITTER_NAME", name),
        ("GIT_COMMITTER_EMAIL", email),
        ("GIT_COMMITTER_DATE", date.as_str()),
    ];
    let mut args = vec!["commit-tree", tree];
    for parent in parents {
        args.extend(["-p", parent]);
    }
    // The message goes on standard input, verbatim: `-m` would be re-wrapped by git.
    let (code, stdout) = run(ctx, repository, &envs, &args, Some(message.as_bytes())).await?;
    if code != Some(0) {
        return Err(ApiError::internal("git commit-tree failed"));
    }
    Ok(text(stdout))
}

/// The input of the three merges (botocore's `MergePullRequestBySquashInput` and
/// `…ByThreeWayInput`; the fast-forward one has only the first three members, and the merge
/// conflict options are not read: Slipway does not resolve conflicts).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MergePullRequestInput {
    pub pull_request_id: Option<String>,
    pub repository_name: Option<String>,
    pub source_commit_id: Option<String>,
    pub commit_message: Option<String>,
    pub author_name: Option<String>,
    pub email: Option<String>,
}

pub type MergePullRequestByFastForwardInput = MergePullRequestInput;
pub type MergePullRequestBySquashInput = MergePullRequestInput;
pub type MergePullRequestByThreeWayInput = MergePullRequestInput;
pub type MergePullRequestByFastForwardOutput = PullRequestOutput;
pub type MergePullRequestBySquashOutput = PullRequestOutput;
pub type MergePullRequestByThreeWayOutput = PullRequestOutput;

/// Moves the destination branch to the source's tip, which must descend from it.
pub async fn merge_pull_request_by_fast_forward(
    ctx: &Context,
    caller: &Caller,
    input: MergePullRequestByFastForwardInput,
    now: i64,
) -> Result<MergePullRequestByFastForwardOutput, ApiError> {
    merge(ctx, caller, input, now, Strategy::FastForward).await
}

/// Commits the merged tree on the destination branch with the destination as its one parent.
pub async fn merge_pull_request_by_squash(
    ctx: &Context,
    caller: &Caller,
    input: MergePullRequestBySquashInput,
    now: i64,
) -> Result<MergePullRequestBySquashOutput, ApiError> {
    merge(ctx, caller, input, now, Strategy::Squash).await
}

/// Commits the merged tree on the destination branch with both tips as parents.
pub async fn merge_pull_request_by_three_way(
    ctx: &Context,
    caller: &Caller,
    input: MergePullRequestByThreeWayInput,
    now: i64,
) -> Result<MergePullRequestByThreeWayOutput, ApiError> {
    merge(ctx, caller, input, now, Strategy::ThreeWay).await
}

async fn merge(
    ctx: &Context,
    caller: &Caller,
    input: MergePullRequestInput,
    now: i64,
    strategy: Strategy,
) -> Result<PullRequestOutput, ApiError> {
    let id = required_id(input.pull_request_id.as_deref())?;
    let repository = existing_named(ctx, input.repository_name.as_deref()).await?;
    let given = input.source_commit_id.as_deref().filter(|it| !it.is_empty());
    if let Some(given) = given
        && !is_object_id(given)
    {
        return Err(error(
            "InvalidCommitIdException",
            format!("The commit ID {given} is not valid"),
        ));
    }
    let message = input.commit_message.clone().unwrap_or_default();
    if message.len() > 100 * 1024 {
        return Err(error(
            "CommitMessageLengthExceededException",
            "The commit message is longer than 100 KB",
        ));
    }
    let author = identity(caller, &input)?;
    let body = load(ctx, &id, now).await?;
    require_open(&body)?;
    let target = target(&body).clone();
    if target["repositoryName"] != repository.key.as_str() {
        return Err(error(
            "RepositoryNotAssociatedWithPullRequestException",
            format!("Repository {} is not the pull request's", repository.key),
        ));
    }
    let repo = repository.key.as_str();
    let source_ref = target["sourceReference"].as_str().unwrap_or_default();
    let destination_ref = target["destinationReference"].as_str().unwrap_or_default();
    let missing =
        |name: &str| error("ReferenceDoesNotExistException", format!("{name} does not exist"));
    if reference_commit(ctx, repo, source_ref).await?.is_none() {
        return Err(missing(source_ref));
    }
    // The commit of the revision `load` refreshed, whose approvals are evaluated below.
    let source = target["sourceCommit"].as_str().unwrap_or_default().to_owned();
    if let Some(given) = given
        && !given.eq_ignore_ascii_case(&source)
    {
        return Err(error(
            "TipOfSourceReferenceIsDifferentException",
            format!("The tip of {source_ref} is {source}, not {given}"),
        ));
    }
    if !mergeable(&body) {
        return Err(error(
            "PullRequestApprovalRulesNotSatisfiedException",
            format!("The approval rules of pull request {id} are not satisfied"),
        ));
    }
    let destination = reference_commit(ctx, repo, destination_ref)
        .await?
        .ok_or_else(|| missing(destination_ref))?;
    let title = body["title"].as_str().unwrap_or_default();
    let message =
        if message.is_empty() { format!("Merged pull request {id}: {title}\n") } else { message };
    let author = (author.0.as_str(), author.1.as_str());
    let merged = match strategy {
        Strategy::FastForward => {
            if !is_ancestor(ctx, repo, &destination, &source).await? {
                return Err(manual(source_ref, destination_ref));
            }
            source.clone()
        }
        Strategy::Squash | Strategy::ThreeWay => {
            let tree = merged_tree(ctx, repo, &destination, &source)
                .await?
                .ok_or_else(|| manual(source_ref, destination_ref))?;
            let parents: &[&str] = match strategy {
                Strategy::ThreeWay => &[&destination, &source],
                _ => &[&destination],
            };
            commit_tree(ctx, now, repo, author, &tree, parents, &message).await?
        }
    };
    if merged != destination
        && git(ctx, repo, &["update-ref", destination_ref, &merged, &destination]).await?.is_none()
    {
        return Err(error(
            "ConcurrentReferenceUpdateException",
            format!("{destination_ref} moved while the pull request was being merged"),
        ));
    }
    // The branch has moved: failing to record the event must not make the client retry it.
    if merged != destination
        && let Err(err) = crate::refs::record_ref_update(
            ctx,
            repo,
            &caller.user,
            destination_ref,
            &destination,
            &merged,
        )
        .await
    {
        tracing::error!(repository = repo, %err, "recording the ref event of a merge");
    }
    let actor = user_arn(ctx, caller);
    let metadata = json!({
        "isMerged": true,
        "mergedBy": actor,
        "mergeCommitId": merged,
        "mergeOption": strategy.option(),
    });
    let (body, ()) = modify(ctx, &id, now, |body| {
        let target = &mut body["pullRequestTargets"][0];
        target["mergeMetadata"] = metadata.clone();
        target["sourceCommit"] = json!(source);
        target["destinationCommit"] = json!(destination);
        let merged_event = json!({
            "repositoryName": repository.key,
            "destinationReference": destination_ref,
            "mergeMetadata": metadata,
        });
        push_event(
            body,
            now,
            "PULL_REQUEST_MERGE_STATE_CHANGED",
            &actor,
            Some(("pullRequestMergedStateChangedEventMetadata", merged_event)),
        );
        close(body, now, &actor);
        Ok(())
    })
    .await?;
    Ok(output(&body))
}
