//! CodeCommit's pull requests: their lifecycle, merges, approval rules and comments.
//!
//! A pull request is a document (`kind = "pull-request"`, key = its number from the
//! `pull-requests` counter, parent = its repository) holding CodeCommit's `PullRequest` as the
//! API returns it, plus bookkeeping under `_slipway` (approvals, the override, the event log)
//! that responses leave out. Its commits are read from git: every read of an open pull request
//! first refreshes its target from the branches, so a push to the source branch gives it a new
//! `revisionId` (and drops the approvals of the old revision), as in CodeCommit. Comments are
//! documents of their own (`kind = "pull-request-comment"`, parent = the pull request), so that
//! a long discussion does not make every change of the pull request rewrite it.

pub(super) mod approvals;
mod comments;
mod merge;

pub use approvals::{
    Approval, ApprovalRuleOutput, CreatePullRequestApprovalRuleInput,
    CreatePullRequestApprovalRuleOutput, DeletePullRequestApprovalRuleInput,
    DeletePullRequestApprovalRuleOutput, EvaluatePullRequestApprovalRulesInput,
    EvaluatePullRequestApprovalRulesOutput, GetPullRequestApprovalStatesInput,
    GetPullRequestApprovalStatesOutput, GetPullRequestOverrideStateInput,
    GetPullRequestOverrideStateOutput, OverridePullRequestApprovalRulesInput,
    PullRequestRevisionInput, UpdatePullRequestApprovalRuleContentInput,
    UpdatePullRequestApprovalRuleContentOutput, UpdatePullRequestApprovalStateInput,
    create_pull_request_approval_rule, delete_pull_request_approval_rule,
    evaluate_pull_request_approval_rules, get_pull_request_approval_states,
    get_pull_request_override_state, override_pull_request_approval_rules,
    update_pull_request_approval_rule_content, update_pull_request_approval_state,
};
pub use comments::{
    GetCommentsForPullRequestInput, GetCommentsForPullRequestOutput, Location,
    PostCommentForPullRequestInput, PostCommentForPullRequestOutput, get_comments_for_pull_request,
    post_comment_for_pull_request,
};
pub use merge::{
    MergePullRequestByFastForwardInput, MergePullRequestByFastForwardOutput,
    MergePullRequestBySquashInput, MergePullRequestBySquashOutput, MergePullRequestByThreeWayInput,
    MergePullRequestByThreeWayOutput, MergePullRequestInput, merge_pull_request_by_fast_forward,
    merge_pull_request_by_squash, merge_pull_request_by_three_way,
};

use engine::store::{Document, StoreError, Write};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{branch_commit, default_branch, error, existing_named, git, text};
use crate::Context;
use awsapi::ApiError;
use awsapi::Caller;
use engine::kinds::PULL_REQUEST;

const BOOKKEEPING: &str = "_slipway";
/// The longest title and description CodeCommit accepts.
const MAX_TITLE: usize = 150;
const MAX_DESCRIPTION: usize = 10240;
/// The page of ListPullRequests and DescribePullRequestEvents without `maxResults`.
const DEFAULT_PAGE: usize = 100;

/// The IAM ARN CodeCommit names a caller by (`authorArn`, `actorArn`, `userArn`).
fn user_arn(ctx: &Context, caller: &Caller) -> String {
    format!("arn:aws:iam::{}:user/{}", ctx.account, caller.user)
}

/// A time in milliseconds as the API writes dates (seconds, fractional).
fn timestamp(now: i64) -> f64 {
    engine::clock::aws_timestamp(now)
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A fresh revision id: 64 hex digits, like CodeCommit's.
fn new_revision() -> String {
    sha256_hex(&uuid::Uuid::new_v4().to_string())
}

/// The `pullRequestId` member, checked for presence and form.
fn required_id(id: Option<&str>) -> Result<String, ApiError> {
    let id = id.filter(|it| !it.is_empty()).ok_or_else(|| {
        error(
            "PullRequestIdRequiredException",
            "A pull request ID is required, but was not specified.",
        )
    })?;
    if id.len() > 20 || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(error(
            "InvalidPullRequestIdException",
            format!("The pull request ID {id} is not valid"),
        ));
    }
    Ok(id.to_owned())
}

/// The page start a `nextToken` names.
fn page_start(next_token: Option<&str>) -> Result<usize, ApiError> {
    match next_token {
        Some(token) => token
            .parse::<usize>()
            .map_err(|_| error("InvalidContinuationTokenException", "Invalid nextToken")),
        None => Ok(0),
    }
}

/// The page size a `maxResults` asks for (1 to 100).
fn page_size(max_results: Option<&serde_json::Number>) -> Result<usize, ApiError> {
    match max_results {
        None => Ok(DEFAULT_PAGE),
        Some(value) => value
            .as_u64()
            .filter(|it| (1..=100).contains(it))
            .map(|it| it as usize)
            .ok_or_else(|| error("InvalidMaxResultsException", "maxResults must be 1 to 100")),
    }
}

/// A pull request as the API returns it: without the server's bookkeeping.
fn public(body: &Value) -> Value {
    let mut body = body.clone();
    if let Some(object) = body.as_object_mut() {
        object.remove(BOOKKEEPING);
    }
    body
}

/// The single target of a pull request (Slipway, like CodeCommit today, takes one).
fn target(body: &Value) -> &Value {
    &body["pullRequestTargets"][0]
}

fn is_open(body: &Value) -> bool {
    body["pullRequestStatus"] == "OPEN"
}

fn require_open(body: &Value) -> Result<(), ApiError> {
    if is_open(body) {
        Ok(())
    } else {
        Err(error(
            "PullRequestAlreadyClosedException",
            format!(
                "Pull request {} is already closed",
                body["pullRequestId"].as_str().unwrap_or("")
            ),
        ))
    }
}

/// Appends an event to the pull request's log; `metadata` is `(member, value)` of the event's
/// type-specific metadata.
fn push_event(
    body: &mut Value,
    now: i64,
    kind: &str,
    actor: &str,
    metadata: Option<(&str, Value)>,
) {
    let mut event = json!({
        "pullRequestId": body["pullRequestId"],
        "eventDate": timestamp(now),
        "pullRequestEventType": kind,
        "actorArn": actor,
    });
    if let Some((member, value)) = metadata {
        event[member] = value;
    }
    let events = &mut body[BOOKKEEPING]["events"];
    if !events.is_array() {
        *events = json!([]);
    }
    if let Some(list) = events.as_array_mut() {
        list.push(event);
    }
    body["lastActivityDate"] = json!(timestamp(now));
}

/// Marks the pull request CLOSED, with the status-change event (an update to CLOSED, or a merge).
fn close(body: &mut Value, now: i64, actor: &str) {
    body["pullRequestStatus"] = json!("CLOSED");
    let metadata = json!({ "pullRequestStatus": "CLOSED" });
    let metadata = Some(("pullRequestStatusChangedEventMetadata", metadata));
    push_event(body, now, "PULL_REQUEST_STATUS_CHANGED", actor, metadata);
}

/// `refs/heads/<name>` for a `sourceReference`-like member given as a branch or a full name.
fn full_reference(name: &str) -> String {
    if name.starts_with("refs/") { name.to_owned() } else { format!("refs/heads/{name}") }
}

/// The commit a full branch reference points at, `None` when it does not exist.
async fn reference_commit(
    ctx: &Context,
    repository: &str,
    reference: &str,
) -> Result<Option<String>, ApiError> {
    match reference.strip_prefix("refs/heads/") {
        Some(branch) => branch_commit(ctx, repository, branch).await,
        None => Ok(None),
    }
}

/// The best common ancestor of two commits, `None` when they share no history.
async fn merge_base(
    ctx: &Context,
    repository: &str,
    a: &str,
    b: &str,
) -> Result<Option<String>, ApiError> {
    Ok(git(ctx, repository, &["merge-base", a, b]).await?.map(text))
}

/// Brings an open pull request's target up to date with its branches. A moved source branch
/// is a new revision: the approvals and the override of the old one no longer count.
async fn refresh(ctx: &Context, body: &mut Value, now: i64) -> Result<(), ApiError> {
    if !is_open(body) {
        return Ok(());
    }
    let repository = target(body)["repositoryName"].as_str().unwrap_or_default().to_owned();
    let source_ref = target(body)["sourceReference"].as_str().unwrap_or_default().to_owned();
    let destination_ref =
        target(body)["destinationReference"].as_str().unwrap_or_default().to_owned();
    let old_source = target(body)["sourceCommit"].as_str().unwrap_or_default().to_owned();
    let old_destination = target(body)["destinationCommit"].as_str().unwrap_or_default().to_owned();
    // A deleted branch keeps the commit it last had.
    let source =
        reference_commit(ctx, &repository, &source_ref).await?.unwrap_or(old_source.clone());
    let destination = reference_commit(ctx, &repository, &destination_ref)
        .await?
        .unwrap_or(old_destination.clone());
    if source == old_source && destination == old_destination {
        return Ok(());
    }
    let base = merge_base(ctx, &repository, &destination, &source).await?;
    let target = &mut body["pullRequestTargets"][0];
    target["sourceCommit"] = json!(source);
    target["destinationCommit"] = json!(destination);
    match &base {
        Some(base) => target["mergeBase"] = json!(base),
        None => {
            if let Some(object) = target.as_object_mut() {
                object.remove("mergeBase");
            }
        }
    }
    if source != old_source {
        body["revisionId"] = json!(new_revision());
        body[BOOKKEEPING]["approvals"] = json!([]);
        body[BOOKKEEPING]["override"] = Value::Null;
        let author = body["authorArn"].clone();
        let metadata = json!({
            "repositoryName": repository,
            "beforeCommitId": old_source,
            "afterCommitId": source,
            "mergeBase": base,
        });
        push_event(
            body,
            now,
            "PULL_REQUEST_SOURCE_REFERENCE_UPDATED",
            author.as_str().unwrap_or_default(),
            Some(("pullRequestSourceReferenceUpdatedEventMetadata", metadata)),
        );
    }
    Ok(())
}

/// Reads a pull request, refreshes it, applies `change` and stores the result (when anything
/// changed) with optimistic concurrency, retrying on a concurrent change. The refreshed,
/// changed body and what `change` returned.
async fn modify<T>(
    ctx: &Context,
    id: &str,
    now: i64,
    mut change: impl FnMut(&mut Value) -> Result<T, ApiError>,
) -> Result<(Value, T), ApiError> {
    for _ in 0..5 {
        let Some(mut document) = ctx.store.get(PULL_REQUEST, id).await? else {
            return Err(error(
                "PullRequestDoesNotExistException",
                format!("Pull request {id} does not exist"),
            ));
        };
        let before = document.body.clone();
        refresh(ctx, &mut document.body, now).await?;
        let output = change(&mut document.body)?;
        if document.body == before {
            return Ok((document.body, output));
        }
        let body = document.body.clone();
        let version = document.version;
        match ctx.store.apply(vec![Write::Update { document, expected_version: version }]).await {
            Ok(()) => return Ok((body, output)),
            Err(StoreError::Conflict { .. }) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(ApiError::internal(format!("pull request {id} kept changing")))
}

/// A pull request, refreshed.
async fn load(ctx: &Context, id: &str, now: i64) -> Result<Value, ApiError> {
    Ok(modify(ctx, id, now, |_| Ok(())).await?.0)
}

fn check_title(title: Option<&str>) -> Result<String, ApiError> {
    let title = title.filter(|it| !it.trim().is_empty()).ok_or_else(|| {
        error(
            "TitleRequiredException",
            "A pull request title is required. It cannot be empty or null.",
        )
    })?;
    if title.chars().count() > MAX_TITLE {
        return Err(error("InvalidTitleException", "The title is longer than 150 characters"));
    }
    Ok(title.to_owned())
}

fn check_description(description: &str) -> Result<(), ApiError> {
    if description.chars().count() > MAX_DESCRIPTION {
        return Err(error(
            "InvalidDescriptionException",
            "The description is longer than 10,240 characters",
        ));
    }
    Ok(())
}

/// Every pull request of a repository, oldest first.
async fn repository_pull_requests(
    ctx: &Context,
    repository: &str,
) -> Result<Vec<Document>, ApiError> {
    Ok(ctx.store.list_all(PULL_REQUEST, Some(repository)).await?)
}

/// A pull request as the operations that change or read one return it (CodeCommit's
/// `PullRequest`, kept as a JSON document, without the server's bookkeeping).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PullRequestOutput {
    pub pull_request: Value,
}

pub type CreatePullRequestOutput = PullRequestOutput;
pub type GetPullRequestOutput = PullRequestOutput;
pub type UpdatePullRequestTitleOutput = PullRequestOutput;
pub type UpdatePullRequestDescriptionOutput = PullRequestOutput;
pub type UpdatePullRequestStatusOutput = PullRequestOutput;

fn output(body: &Value) -> PullRequestOutput {
    PullRequestOutput { pull_request: public(body) }
}

/// A pull request's `Target`: the repository, the branch to merge and the one to merge into
/// (the default branch when not given).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    pub repository_name: Option<String>,
    pub source_reference: Option<String>,
    pub destination_reference: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatePullRequestInput {
    pub title: Option<String>,
    pub description: Option<String>,
    pub targets: Option<Vec<Target>>,
    pub client_request_token: Option<String>,
}

pub async fn create_pull_request(
    ctx: &Context,
    caller: &Caller,
    input: CreatePullRequestInput,
    now: i64,
) -> Result<CreatePullRequestOutput, ApiError> {
    let title = check_title(input.title.as_deref())?;
    let description = input.description.unwrap_or_default();
    check_description(&description)?;
    let targets = input.targets.filter(|it| !it.is_empty()).ok_or_else(|| {
        error("TargetsRequiredException", "An array of target objects is required")
    })?;
    if targets.len() > 1 {
        let first = &targets[0].repository_name;
        let code = if targets.iter().any(|it| &it.repository_name != first) {
            "MultipleRepositoriesInPullRequestException"
        } else {
            "InvalidTargetsException"
        };
        return Err(error(code, "A pull request has exactly one target"));
    }
    let requested = &targets[0];
    let repository = existing_named(ctx, requested.repository_name.as_deref()).await?;
    let source_name =
        requested.source_reference.as_deref().filter(|it| !it.is_empty()).ok_or_else(|| {
            error("ReferenceNameRequiredException", "A source reference is required")
        })?;
    let destination_name =
        match requested.destination_reference.as_deref().filter(|it| !it.is_empty()) {
            Some(it) => it.to_owned(),
            None => default_branch(ctx, &repository.key).await?.ok_or_else(|| {
                error("ReferenceDoesNotExistException", "The repository has no default branch")
            })?,
        };
    let mut commits = Vec::new();
    for name in [source_name, destination_name.as_str()] {
        if name.starts_with('-') || name.contains("..") || name.contains(char::is_whitespace) {
            return Err(error(
                "InvalidReferenceNameException",
                format!("The reference name {name} is not valid"),
            ));
        }
        let reference = full_reference(name);
        if !reference.starts_with("refs/heads/") {
            return Err(error(
                "ReferenceTypeNotSupportedException",
                format!("The reference {name} is not a branch"),
            ));
        }
        let commit =
            reference_commit(ctx, &repository.key, &reference).await?.ok_or_else(|| {
                error(
                    "ReferenceDoesNotExistException",
                    format!("The reference {name} does not exist"),
                )
            })?;
        commits.push((reference, commit));
    }
    let [(source_ref, source), (destination_ref, destination)] = &commits[..] else {
        return Err(ApiError::internal("two references expected"));
    };
    if source_ref == destination_ref {
        return Err(error(
            "SourceAndDestinationAreSameException",
            "The source and destination branches are the same",
        ));
    }
    let author = user_arn(ctx, caller);
    let token = input.client_request_token.unwrap_or_default();
    // The CLI sends a fresh token per invocation; a retry of one sends it again and gets the
    // pull request the first attempt made.
    if !token.is_empty() {
        for document in repository_pull_requests(ctx, &repository.key).await? {
            if document.body["clientRequestToken"] == token.as_str() {
                if document.body["authorArn"] != author.as_str() || document.body["title"] != title
                {
                    return Err(error(
                        "IdempotencyParameterMismatchException",
                        "The client request token was used for a different request",
                    ));
                }
                return Ok(output(&load(ctx, &document.key, now).await?));
            }
        }
    }
    let base = merge_base(ctx, &repository.key, destination, source).await?;
    let number = ctx.store.next_counter("pull-requests").await?;
    let id = number.to_string();
    let at = timestamp(now);
    let mut target = json!({
        "repositoryName": repository.key,
        "sourceReference": source_ref,
        "destinationReference": destination_ref,
        "destinationCommit": destination,
        "sourceCommit": source,
        "mergeMetadata": { "isMerged": false },
    });
    if let Some(base) = &base {
        target["mergeBase"] = json!(base);
    }
    // A new pull request starts with one approval rule per approval rule template associated
    // with its repository that applies to its destination, as in CodeCommit.
    let rules = super::templates::rules_for(ctx, &repository.key, destination_ref, &author).await?;
    let mut body = json!({
        "pullRequestId": id,
        "title": title,
        "description": description,
        "lastActivityDate": at,
        "creationDate": at,
        "pullRequestStatus": "OPEN",
        "authorArn": author,
        "pullRequestTargets": [target],
        "clientRequestToken": token,
        "revisionId": new_revision(),
        "approvalRules": rules,
        BOOKKEEPING: { "approvals": [], "override": null, "events": [] },
    });
    let metadata = json!({
        "repositoryName": repository.key,
        "sourceCommitId": source,
        "destinationCommitId": destination,
        "mergeBase": base,
    });
    push_event(
        &mut body,
        now,
        "PULL_REQUEST_CREATED",
        &author,
        Some(("pullRequestCreatedEventMetadata", metadata)),
    );
    let document = Document {
        kind: PULL_REQUEST.to_owned(),
        key: id,
        parent: Some(repository.key.clone()),
        sort: number,
        version: 0,
        body: body.clone(),
    };
    ctx.store.apply(vec![Write::Insert(document)]).await?;
    Ok(output(&body))
}

/// The input of the operations that name one pull request and nothing else.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PullRequestIdInput {
    pub pull_request_id: Option<String>,
}

pub type GetPullRequestInput = PullRequestIdInput;

/// A pull request, refreshed from its branches (which `now` dates when they moved).
pub async fn get_pull_request(
    ctx: &Context,
    input: GetPullRequestInput,
    now: i64,
) -> Result<GetPullRequestOutput, ApiError> {
    let id = required_id(input.pull_request_id.as_deref())?;
    Ok(output(&load(ctx, &id, now).await?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListPullRequestsInput {
    pub repository_name: Option<String>,
    pub author_arn: Option<String>,
    pub pull_request_status: Option<String>,
    pub next_token: Option<String>,
    pub max_results: Option<serde_json::Number>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListPullRequestsOutput {
    pub pull_request_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

pub async fn list_pull_requests(
    ctx: &Context,
    input: ListPullRequestsInput,
) -> Result<ListPullRequestsOutput, ApiError> {
    let repository = existing_named(ctx, input.repository_name.as_deref()).await?;
    let author = input.author_arn.as_deref().filter(|it| !it.is_empty());
    if let Some(author) = author
        && !author.starts_with("arn:")
    {
        return Err(error("InvalidAuthorArnException", format!("The ARN {author} is not valid")));
    }
    let status = input.pull_request_status.as_deref().filter(|it| !it.is_empty());
    if let Some(status) = status
        && !["OPEN", "CLOSED"].contains(&status)
    {
        return Err(error(
            "InvalidPullRequestStatusException",
            format!("The pull request status {status} is not valid"),
        ));
    }
    let start = page_start(input.next_token.as_deref())?;
    let size = page_size(input.max_results.as_ref())?;
    // Newest first, as CodeCommit lists them.
    let ids: Vec<String> = repository_pull_requests(ctx, &repository.key)
        .await?
        .into_iter()
        .rev()
        .filter(|it| author.is_none_or(|author| it.body["authorArn"] == author))
        .filter(|it| status.is_none_or(|status| it.body["pullRequestStatus"] == status))
        .map(|it| it.key)
        .collect();
    Ok(ListPullRequestsOutput {
        next_token: (start + size < ids.len()).then(|| (start + size).to_string()),
        pull_request_ids: ids.into_iter().skip(start).take(size).collect(),
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdatePullRequestTitleInput {
    pub pull_request_id: Option<String>,
    pub title: Option<String>,
}

pub async fn update_pull_request_title(
    ctx: &Context,
    input: UpdatePullRequestTitleInput,
    now: i64,
) -> Result<UpdatePullRequestTitleOutput, ApiError> {
    let id = required_id(input.pull_request_id.as_deref())?;
    let title = check_title(input.title.as_deref())?;
    let (body, ()) = modify(ctx, &id, now, |body| {
        require_open(body)?;
        body["title"] = json!(title);
        body["lastActivityDate"] = json!(timestamp(now));
        Ok(())
    })
    .await?;
    Ok(output(&body))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdatePullRequestDescriptionInput {
    pub pull_request_id: Option<String>,
    pub description: Option<String>,
}

pub async fn update_pull_request_description(
    ctx: &Context,
    input: UpdatePullRequestDescriptionInput,
    now: i64,
) -> Result<UpdatePullRequestDescriptionOutput, ApiError> {
    let id = required_id(input.pull_request_id.as_deref())?;
    let description = input.description.unwrap_or_default();
    check_description(&description)?;
    let (body, ()) = modify(ctx, &id, now, |body| {
        require_open(body)?;
        body["description"] = json!(description);
        body["lastActivityDate"] = json!(timestamp(now));
        Ok(())
    })
    .await?;
    Ok(output(&body))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdatePullRequestStatusInput {
    pub pull_request_id: Option<String>,
    pub pull_request_status: Option<String>,
}

pub async fn update_pull_request_status(
    ctx: &Context,
    caller: &Caller,
    input: UpdatePullRequestStatusInput,
    now: i64,
) -> Result<UpdatePullRequestStatusOutput, ApiError> {
    let id = required_id(input.pull_request_id.as_deref())?;
    let status =
        input.pull_request_status.as_deref().filter(|it| !it.is_empty()).ok_or_else(|| {
            error("PullRequestStatusRequiredException", "A pull request status is required")
        })?;
    if !["OPEN", "CLOSED"].contains(&status) {
        return Err(error(
            "InvalidPullRequestStatusException",
            format!("The pull request status {status} is not valid"),
        ));
    }
    let actor = user_arn(ctx, caller);
    let (body, ()) = modify(ctx, &id, now, |body| {
        // CodeCommit's only status update is OPEN to CLOSED.
        if status != "CLOSED" || !is_open(body) {
            return Err(error(
                "InvalidPullRequestStatusUpdateException",
                "The only valid update is from OPEN to CLOSED",
            ));
        }
        close(body, now, &actor);
        Ok(())
    })
    .await?;
    Ok(output(&body))
}

const EVENT_TYPES: [&str; 9] = [
    "PULL_REQUEST_CREATED",
    "PULL_REQUEST_STATUS_CHANGED",
    "PULL_REQUEST_SOURCE_REFERENCE_UPDATED",
    "PULL_REQUEST_MERGE_STATE_CHANGED",
    "PULL_REQUEST_APPROVAL_RULE_CREATED",
    "PULL_REQUEST_APPROVAL_RULE_UPDATED",
    "PULL_REQUEST_APPROVAL_RULE_DELETED",
    "PULL_REQUEST_APPROVAL_RULE_OVERRIDDEN",
    "PULL_REQUEST_APPROVAL_STATE_CHANGED",
];

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribePullRequestEventsInput {
    pub pull_request_id: Option<String>,
    pub pull_request_event_type: Option<String>,
    pub actor_arn: Option<String>,
    pub next_token: Option<String>,
    pub max_results: Option<serde_json::Number>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribePullRequestEventsOutput {
    /// CodeCommit's `PullRequestEvent`s, as they are kept.
    pub pull_request_events: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

pub async fn describe_pull_request_events(
    ctx: &Context,
    input: DescribePullRequestEventsInput,
    now: i64,
) -> Result<DescribePullRequestEventsOutput, ApiError> {
    let id = required_id(input.pull_request_id.as_deref())?;
    let kind = input.pull_request_event_type.as_deref().filter(|it| !it.is_empty());
    if let Some(kind) = kind
        && !EVENT_TYPES.contains(&kind)
    {
        return Err(error(
            "InvalidPullRequestEventTypeException",
            format!("The event type {kind} is not valid"),
        ));
    }
    let actor = input.actor_arn.as_deref().filter(|it| !it.is_empty());
    if let Some(actor) = actor
        && !actor.starts_with("arn:")
    {
        return Err(error("InvalidActorArnException", format!("The ARN {actor} is not valid")));
    }
    let start = page_start(input.next_token.as_deref())?;
    let size = page_size(input.max_results.as_ref())?;
    let body = load(ctx, &id, now).await?;
    let events: Vec<&Value> = body[BOOKKEEPING]["events"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|it| kind.is_none_or(|kind| it["pullRequestEventType"] == kind))
        .filter(|it| actor.is_none_or(|actor| it["actorArn"] == actor))
        .collect();
    Ok(DescribePullRequestEventsOutput {
        next_token: (start + size < events.len()).then(|| (start + size).to_string()),
        pull_request_events: events.into_iter().skip(start).take(size).cloned().collect(),
    })
}

#[cfg(test)]
mod tests;
