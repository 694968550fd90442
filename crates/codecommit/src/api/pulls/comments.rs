//! Comments on pull requests: PostCommentForPullRequest and GetCommentsForPullRequest.
//!
//! Each comment is a document (`kind = "pull-request-comment"`, key = its id, parent = the pull
//! request) holding what PostCommentForPullRequest returns; the `pull-request-comments` counter
//! orders them as they were posted. GetCommentsForPullRequest groups them per compared commits
//! and location, as CodeCommit's `CommentsForPullRequest` does.

use engine::store::{Document, Write};
use serde_json::{Value, json};

use super::{id_field, load, optional_str, page_size, page_start, target, user_arn};
use crate::Context;
use crate::api::{error, existing, git, is_object_id, name_field, text};
use awsapi::ApiError;
use awsapi::Caller;
use engine::kinds::PULL_REQUEST_COMMENT;

const MAX_CONTENT: usize = 10240;

/// The repository named in the input, which must be the pull request's.
async fn repository_of(ctx: &Context, input: &Value, body: &Value) -> Result<String, ApiError> {
    let repository = existing(ctx, input, "repositoryName").await?;
    if target(body)["repositoryName"] != repository.key.as_str() {
        return Err(error(
            "RepositoryNotAssociatedWithPullRequestException",
            format!("Repository {} is not the pull request's", repository.key),
        ));
    }
    Ok(repository.key)
}

/// A commit id member, checked for form and existence in the repository.
async fn commit_field(
    ctx: &Context,
    repository: &str,
    input: &Value,
    field: &str,
) -> Result<String, ApiError> {
    let commit = optional_str(input, field).filter(|it| !it.is_empty()).ok_or_else(|| {
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

pub(super) async fn post(ctx: &Context, caller: &Caller, input: Value) -> Result<Value, ApiError> {
    let id = id_field(&input)?;
    name_field(&input, "repositoryName")?;
    let body = load(ctx, &id).await?;
    let repository = repository_of(ctx, &input, &body).await?;
    let before = commit_field(ctx, &repository, &input, "beforeCommitId").await?;
    let after = commit_field(ctx, &repository, &input, "afterCommitId").await?;
    if before.eq_ignore_ascii_case(&after) {
        return Err(error(
            "BeforeCommitIdAndAfterCommitIdAreSameException",
            "The before and after commits are the same",
        ));
    }
    let content = optional_str(&input, "content").filter(|it| !it.is_empty()).ok_or_else(|| {
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
    let mut output = json!({
        "repositoryName": repository,
        "pullRequestId": id,
        "beforeCommitId": before,
        "afterCommitId": after,
    });
    if let Some(location) = input.get("location").filter(|it| !it.is_null()) {
        let path = optional_str(location, "filePath")
            .map(|it| it.trim_matches('/'))
            .filter(|it| !it.is_empty())
            .ok_or_else(|| error("PathRequiredException", "A file path is required"))?;
        if path.split('/').any(|it| it == "." || it == "..") {
            return Err(error("InvalidPathException", format!("The path {path} is not valid")));
        }
        let version = optional_str(location, "relativeFileVersion").unwrap_or("AFTER");
        if !["BEFORE", "AFTER"].contains(&version) {
            return Err(error(
                "InvalidRelativeFileVersionEnumException",
                format!("The relative file version {version} is not valid"),
            ));
        }
        let position = match location.get("filePosition") {
            None | Some(Value::Null) => None,
            Some(value) => Some(value.as_i64().filter(|it| *it >= 0).ok_or_else(|| {
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
        if let Some(blob) = before_blob {
            output["beforeBlobId"] = json!(blob);
        }
        if let Some(blob) = after_blob {
            output["afterBlobId"] = json!(blob);
        }
        let mut located = json!({ "filePath": path, "relativeFileVersion": version });
        if let Some(position) = position {
            located["filePosition"] = json!(position);
        }
        output["location"] = located;
    }
    let comment_id = uuid::Uuid::new_v4().to_string();
    let now = super::now();
    output["comment"] = json!({
        "commentId": comment_id,
        "content": content,
        "creationDate": now,
        "lastModifiedDate": now,
        "authorArn": user_arn(ctx, caller),
        "deleted": false,
        "clientRequestToken": optional_str(&input, "clientRequestToken").unwrap_or_default(),
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
        body: output.clone(),
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

pub(super) async fn get(ctx: &Context, input: Value) -> Result<Value, ApiError> {
    let id = id_field(&input)?;
    let body = load(ctx, &id).await?;
    if input.get("repositoryName").is_some_and(|it| !it.is_null()) {
        repository_of(ctx, &input, &body).await?;
    }
    let repository = target(&body)["repositoryName"].as_str().unwrap_or_default().to_owned();
    let mut filters = Vec::new();
    for field in ["beforeCommitId", "afterCommitId"] {
        if optional_str(&input, field).is_some_and(|it| !it.is_empty()) {
            filters.push((field, commit_field(ctx, &repository, &input, field).await?));
        }
    }
    let (start, size) = (page_start(&input)?, page_size(&input)?);
    let comments = all_comments(ctx, &id).await?;
    let selected: Vec<&Value> = comments
        .iter()
        .filter(|it| filters.iter().all(|(field, commit)| it[*field] == commit.as_str()))
        .collect();
    let page: Vec<&Value> = selected.iter().skip(start).take(size).copied().collect();
    let mut output = json!({ "commentsForPullRequestData": group(&page) });
    if start + size < selected.len() {
        output["nextToken"] = json!((start + size).to_string());
    }
    Ok(output)
}
