//! Comments on pull requests: PostCommentForPullRequest and GetCommentsForPullRequest.
//!
//! Each comment is a document (`kind = "pull-request-comment"`, key = its id, parent = the pull
//! request) holding what PostCommentForPullRequest returns; the `pull-request-comments` counter
//! orders them as they were posted. GetCommentsForPullRequest groups them per compared commits
//! and location, as CodeCommit's `CommentsForPullRequest` does.

use engine::store::{Document, Write};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{load, page_size, page_start, required_id, target, timestamp, user_arn};
use crate::Context;
use crate::api::{error, existing_named, git, is_object_id, required_name, text};
use awsapi::ApiError;
use awsapi::Caller;
use engine::kinds::PULL_REQUEST_COMMENT;

const MAX_CONTENT: usize = 10240;

/// The repository named in the input, which must be the pull request's.
async fn repository_of(
    ctx: &Context,
    name: Option<&str>,
    body: &Value,
) -> Result<String, ApiError> {
    let repository = existing_named(ctx, name).await?;
    if target(body)["repositoryName"] != repository.key.as_str() {
        return Err(error(
            "RepositoryNotAssociatedWithPullRequestException",
            format!("Repository {} is not the pull request's", repository.key),
        ));
    }
    Ok(repository.key)
}

/// A commit id member (named `field` in the errors), checked for form and existence in the
/// repository.
async fn commit_field(
    ctx: &Context,
    repository: &str,
    commit: Option<&str>,
    field: &str,
) -> Result<String, ApiError> {
    let commit = commit.filter(|it| !it.is_empty()).ok_or_else(|| {
        error("CommitIdRequiredException", format!("{field} is required, but was not specified."))
    })?;
    if !is_object_id(commit) {
        return Err(error(
            "InvalidCommitIdException",
            format!("The commit ID {commit} is not valid"),
        ));
    }
    if git(ctx, repository, &["cat-file", "-e", &format!("{commit}^{{commit}}")]).await?.is_none() {
        return Err(error(
            "CommitDoesNotExistException",
            format!("Commit {commit} does not exist"),
        ));
    }
    Ok(commit.to_owned())
}

/// The blob at `path` in `commit`, if there is one.
async fn blob_at(
    ctx: &Context,
    repository: &str,
    commit: &str,
    path: &str,
) -> Result<Option<String>, ApiError> {
    let found = git(ctx, repository, &["rev-parse", "--verify", "-q", &format!("{commit}:{path}")])
        .await?
        .map(text);
    let Some(object) = found else { return Ok(None) };
    let kind = git(ctx, repository, &["cat-file", "-t", &object]).await?.map(text);
    Ok((kind.as_deref() == Some("blob")).then_some(object))
}

/// Where a comment is: CodeCommit's `Location`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_position: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relative_file_version: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostCommentForPullRequestInput {
    pub pull_request_id: Option<String>,
    pub repository_name: Option<String>,
    pub before_commit_id: Option<String>,
    pub after_commit_id: Option<String>,
    pub location: Option<Location>,
    pub content: Option<String>,
    pub client_request_token: Option<String>,
}

/// What PostCommentForPullRequest answers, and what each comment's document keeps.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PostCommentForPullRequestOutput {
    pub repository_name: String,
    pub pull_request_id: String,
    pub before_commit_id: String,
    pub after_commit_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before_blob_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_blob_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// CodeCommit's `Comment`.
    pub comment: Value,
}

pub async fn post_comment_for_pull_request(
    ctx: &Context,
    caller: &Caller,
    input: PostCommentForPullRequestInput,
    now: i64,
) -> Result<PostCommentForPullRequestOutput, ApiError> {
    let id = required_id(input.pull_request_id.as_deref())?;
    required_name(input.repository_name.as_deref())?;
    let body = load(ctx, &id, now).await?;
    let repository = repository_of(ctx, input.repository_name.as_deref(), &body).await?;
    let before =
        commit_field(ctx, &repository, input.before_commit_id.as_deref(), "beforeCommitId").await?;
    let after =
        commit_field(ctx, &repository, input.after_commit_id.as_deref(), "afterCommitId").await?;
    if before.eq_ignore_ascii_case(&after) {
        return Err(error(
            "BeforeCommitIdAndAfterCommitIdAreSameException",
            "The before and after commits are the same",
        ));
    }
    let content = input.content.as_deref().filter(|it| !it.is_empty()).ok_or_else(|| {
        error(
            "CommentContentRequiredException",
            "The comment is empty. You must provide some content for a comment.",
        )
    })?;
    if content.chars().count() > MAX_CONTENT {
        return Err(error(
            "CommentContentSizeLimitExceededException",
            "The comment is longer than 10,240 characters",
        ));
    }
    let mut output = PostCommentForPullRequestOutput {
        repository_name: repository.clone(),
        pull_request_id: id.clone(),
        before_commit_id: before.clone(),
        after_commit_id: after.clone(),
        before_blob_id: None,
        after_blob_id: None,
        location: None,
        comment: Value::Null,
    };
    if let Some(location) = &input.location {
        let path = location
            .file_path
            .as_deref()
            .map(|it| it.trim_matches('/'))
            .filter(|it| !it.is_empty())
            .ok_or_else(|| error("PathRequiredException", "A file path is required"))?;
        if path.split('/').any(|it| it == "." || it == "..") {
            return Err(error("InvalidPathException", format!("The path {path} is not valid")));
        }
        let version = location.relative_file_version.as_deref().unwrap_or("AFTER");
        if !["BEFORE", "AFTER"].contains(&version) {
            return Err(error(
                "InvalidRelativeFileVersionEnumException",
                format!("The relative file version {version} is not valid"),
            ));
        }
        let position = match location.file_position {
            None => None,
            Some(value) => Some(Some(value).filter(|it| *it >= 0).ok_or_else(|| {
                error("InvalidFilePositionException", "The file position is not valid")
            })?),
        };
        let before_blob = blob_at(ctx, &repository, &before, path).await?;
        let after_blob = blob_at(ctx, &repository, &after, path).await?;
        let side = if version == "BEFORE" { &before_blob } else { &after_blob };
        if side.is_none() {
            return Err(error(
                "PathDoesNotExistException",
                format!("The path {path} does not exist in the {} commit", version.to_lowercase()),
            ));
        }
        output.before_blob_id = before_blob;
        output.after_blob_id = after_blob;
        output.location = Some(Location {
            file_path: Some(path.to_owned()),
            file_position: position,
            relative_file_version: Some(version.to_owned()),
        });
    }
    let comment_id = uuid::Uuid::new_v4().to_string();
    let at = timestamp(now);
    output.comment = json!({
        "commentId": comment_id,
        "content": content,
        "creationDate": at,
        "lastModifiedDate": at,
        "authorArn": user_arn(ctx, caller),
        "deleted": false,
        "clientRequestToken": input.client_request_token.unwrap_or_default(),
        "callerReactions": [],
        "reactionCounts": {},
    });
    let number = ctx.store.next_counter("pull-request-comments").await?;
    let document = Document {
        kind: PULL_REQUEST_COMMENT.to_owned(),
        key: comment_id,
        parent: Some(id),
        sort: number,
        version: 0,
        body: serde_json::to_value(&output).map_err(ApiError::internal)?,
    };
    ctx.store.apply(vec![Write::Insert(document)]).await?;
    Ok(output)
}

/// Every comment on a pull request, in the order they were posted.
async fn all_comments(ctx: &Context, id: &str) -> Result<Vec<Value>, ApiError> {
    let documents = ctx.store.list_all(PULL_REQUEST_COMMENT, Some(id)).await?;
    Ok(documents.into_iter().map(|it| it.body).collect())
}

/// Groups posted comments (the PostCommentForPullRequest outputs) into `CommentsForPullRequest`
/// entries, one per compared commits and location, in the order each was first commented.
pub(super) fn group(posted: &[&Value]) -> Vec<Value> {
    let mut groups: Vec<Value> = Vec::new();
    for post in posted {
        let same = |it: &&mut Value| {
            ["beforeCommitId", "afterCommitId", "location"]
                .iter()
                .all(|field| it[field] == post[field])
        };
        match groups.iter_mut().find(same) {
            Some(found) => {
                if let Some(comments) = found["comments"].as_array_mut() {
                    comments.push(post["comment"].clone());
                }
            }
            None => {
                let mut entry = (*post).clone();
                if let Some(object) = entry.as_object_mut() {
                    object.remove("comment");
                }
                entry["comments"] = json!([post["comment"]]);
                groups.push(entry);
            }
        }
    }
    groups
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetCommentsForPullRequestInput {
    pub pull_request_id: Option<String>,
    pub repository_name: Option<String>,
    pub before_commit_id: Option<String>,
    pub after_commit_id: Option<String>,
    pub next_token: Option<String>,
    pub max_results: Option<serde_json::Number>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetCommentsForPullRequestOutput {
    /// CodeCommit's `CommentsForPullRequest` entries (see `group`).
    pub comments_for_pull_request_data: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

pub async fn get_comments_for_pull_request(
    ctx: &Context,
    input: GetCommentsForPullRequestInput,
    now: i64,
) -> Result<GetCommentsForPullRequestOutput, ApiError> {
    let id = required_id(input.pull_request_id.as_deref())?;
    let body = load(ctx, &id, now).await?;
    if input.repository_name.is_some() {
        repository_of(ctx, input.repository_name.as_deref(), &body).await?;
    }
    let repository = target(&body)["repositoryName"].as_str().unwrap_or_default().to_owned();
    let mut filters = Vec::new();
    for (field, commit) in [
        ("beforeCommitId", input.before_commit_id.as_deref()),
        ("afterCommitId", input.after_commit_id.as_deref()),
    ] {
        if commit.is_some_and(|it| !it.is_empty()) {
            filters.push((field, commit_field(ctx, &repository, commit, field).await?));
        }
    }
    let start = page_start(input.next_token.as_deref())?;
    let size = page_size(input.max_results.as_ref())?;
    let comments = all_comments(ctx, &id).await?;
    let selected: Vec<&Value> = comments
        .iter()
        .filter(|it| filters.iter().all(|(field, commit)| it[*field] == commit.as_str()))
        .collect();
    let page: Vec<&Value> = selected.iter().skip(start).take(size).copied().collect();
    Ok(GetCommentsForPullRequestOutput {
        comments_for_pull_request_data: group(&page),
        next_token: (start + size < selected.len()).then(|| (start + size).to_string()),
    })
}
