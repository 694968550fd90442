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

use engine::store::{Document, StoreError, Write};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{branch_commit, default_branch, error, existing, git, text};
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

/// The operations `call` answers.
pub(super) const OPERATIONS: [&str; 20] = [
    "CreatePullRequest",
    "GetPullRequest",
    "ListPullRequests",
    "UpdatePullRequestTitle",
    "UpdatePullRequestDescription",
    "UpdatePullRequestStatus",
    "DescribePullRequestEvents",
    "MergePullRequestByFastForward",
    "MergePullRequestBySquash",
    "MergePullRequestByThreeWay",
    "CreatePullRequestApprovalRule",
    "UpdatePullRequestApprovalRuleContent",
    "DeletePullRequestApprovalRule",
    "UpdatePullRequestApprovalState",
    "GetPullRequestApprovalStates",
    "EvaluatePullRequestApprovalRules",
    "OverridePullRequestApprovalRules",
    "GetPullRequestOverrideState",
    "PostCommentForPullRequest",
    "GetCommentsForPullRequest",
];

/// One of the pull request operations (`OPERATIONS`).
pub(super) async fn call(
    ctx: &Context,
    caller: &Caller,
    operation: &str,
    input: Value,
) -> Result<Value, ApiError> {
    match operation {
        "CreatePullRequest" => create(ctx, caller, input).await,
        "GetPullRequest" => get(ctx, input).await,
        "ListPullRequests" => list(ctx, input).await,
        "UpdatePullRequestTitle" => update_title(ctx, caller, input).await,
        "UpdatePullRequestDescription" => update_description(ctx, caller, input).await,
        "UpdatePullRequestStatus" => update_status(ctx, caller, input).await,
        "DescribePullRequestEvents" => describe_events(ctx, input).await,
        "MergePullRequestByFastForward" => {
            merge::merge(ctx, caller, input, merge::Strategy::FastForward).await
        }
        "MergePullRequestBySquash" => {
            merge::merge(ctx, caller, input, merge::Strategy::Squash).await
        }
        "MergePullRequestByThreeWay" => {
            merge::merge(ctx, caller, input, merge::Strategy::ThreeWay).await
        }
        "CreatePullRequestApprovalRule" => approvals::create_rule(ctx, caller, input).await,
        "UpdatePullRequestApprovalRuleContent" => approvals::update_rule(ctx, caller, input).await,
        "DeletePullRequestApprovalRule" => approvals::delete_rule(ctx, caller, input).await,
        "UpdatePullRequestApprovalState" => approvals::update_state(ctx, caller, input).await,
        "GetPullRequestApprovalStates" => approvals::get_states(ctx, input).await,
        "EvaluatePullRequestApprovalRules" => approvals::evaluate_rules(ctx, input).await,
        "OverridePullRequestApprovalRules" => approvals::override_rules(ctx, caller, input).await,
        "GetPullRequestOverrideState" => approvals::get_override(ctx, input).await,
        "PostCommentForPullRequest" => comments::post(ctx, caller, input).await,
        "GetCommentsForPullRequest" => comments::get(ctx, input).await,
        _ => Err(error(
            "UnknownOperationException",
            format!("Slipway does not implement the CodeCommit operation {operation} yet"),
        )),
    }
}

/// The IAM ARN CodeCommit names a caller by (`authorArn`, `actorArn`, `userArn`).
fn user_arn(ctx: &Context, caller: &Caller) -> String {
    format!("arn:aws:iam::{}:user/{}", ctx.account, caller.user)
}

fn now() -> f64 {
    engine::clock::aws_timestamp(engine::clock::now_ms())
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A fresh revision id: 64 hex digits, like CodeCommit's.
fn new_revision() -> String {
    sha256_hex(&uuid::Uuid::new_v4().to_string())
}

fn optional_str<'a>(input: &'a Value, field: &str) -> Option<&'a str> {
    input.get(field).and_then(Value::as_str)
}

/// The `pullRequestId` member, checked for presence and form.
fn id_field(input: &Value) -> Result<String, ApiError> {
    let id = optional_str(input, "pullRequestId").filter(|it| !it.is_empty()).ok_or_else(|| {
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
fn page_start(input: &Value) -> Result<usize, ApiError> {
    match optional_str(input, "nextToken") {
        Some(token) => token
            .parse::<usize>()
            .map_err(|_| error("InvalidContinuationTokenException", "Invalid nextToken")),
        None => Ok(0),
    }
}

/// The page size a `maxResults` asks for (1 to 100).
fn page_size(input: &Value) -> Result<usize, ApiError> {
    match input.get("maxResults") {
        None | Some(Value::Null) => Ok(DEFAULT_PAGE),
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
fn push_event(body: &mut Value, kind: &str, actor: &str, metadata: Option<(&str, Value)>) {
    let mut event = json!({
        "pullRequestId": body["pullRequestId"],
        "eventDate": now(),
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
    body["lastActivityDate"] = json!(now());
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
async fn refresh(ctx: &Context, body: &mut Value) -> Result<(), ApiError> {
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
        refresh(ctx, &mut document.body).await?;
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
async fn load(ctx: &Context, id: &str) -> Result<Value, ApiError> {
    Ok(modify(ctx, id, |_| Ok(())).await?.0)
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

async fn create(ctx: &Context, caller: &Caller, input: Value) -> Result<Value, ApiError> {
    let title = check_title(optional_str(&input, "title"))?;
    let description = optional_str(&input, "description").unwrap_or_default().to_owned();
    check_description(&description)?;
    let targets =
        input.get("targets").and_then(Value::as_array).filter(|it| !it.is_empty()).ok_or_else(
            || error("TargetsRequiredException", "An array of target objects is required"),
        )?;
    if targets.len() > 1 {
        let first = &targets[0]["repositoryName"];
        let code = if targets.iter().any(|it| &it["repositoryName"] != first) {
            "MultipleRepositoriesInPullRequestException"
        } else {
            "InvalidTargetsException"
        };
        return Err(error(code, "A pull request has exactly one target"));
    }
    let requested = &targets[0];
    if !requested.is_object() {
        return Err(error("InvalidTargetException", "The target is not valid"));
    }
    let repository = existing(ctx, requested, "repositoryName").await?;
    let source_name = optional_str(requested, "sourceReference")
        .filter(|it| !it.is_empty())
        .ok_or_else(|| error("ReferenceNameRequiredException", "A source reference is required"))?;
    let destination_name =
        match optional_str(requested, "destinationReference").filter(|it| !it.is_empty()) {
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
    let token = optional_str(&input, "clientRequestToken").unwrap_or_default().to_owned();
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
                return Ok(json!({ "pullRequest": public(&load(ctx, &document.key).await?) }));
            }
        }
    }
    let base = merge_base(ctx, &repository.key, destination, source).await?;
    let number = ctx.store.next_counter("pull-requests").await?;
    let id = number.to_string();
    let now = now();
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
        "lastActivityDate": now,
        "creationDate": now,
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
    Ok(json!({ "pullRequest": public(&body) }))
}

async fn get(ctx: &Context, input: Value) -> Result<Value, ApiError> {
    let id = id_field(&input)?;
    Ok(json!({ "pullRequest": public(&load(ctx, &id).await?) }))
}

async fn list(ctx: &Context, input: Value) -> Result<Value, ApiError> {
    let repository = existing(ctx, &input, "repositoryName").await?;
    let author = optional_str(&input, "authorArn").filter(|it| !it.is_empty());
    if let Some(author) = author
        && !author.starts_with("arn:")
    {
        return Err(error("InvalidAuthorArnException", format!("The ARN {author} is not valid")));
    }
    let status = optional_str(&input, "pullRequestStatus").filter(|it| !it.is_empty());
    if let Some(status) = status
        && !["OPEN", "CLOSED"].contains(&status)
    {
        return Err(error(
            "InvalidPullRequestStatusException",
            format!("The pull request status {status} is not valid"),
        ));
    }
    let (start, size) = (page_start(&input)?, page_size(&input)?);
    // Newest first, as CodeCommit lists them.
    let ids: Vec<String> = repository_pull_requests(ctx, &repository.key)
        .await?
        .into_iter()
        .rev()
        .filter(|it| author.is_none_or(|author| it.body["authorArn"] == author))
        .filter(|it| status.is_none_or(|status| it.body["pullRequestStatus"] == status))
        .map(|it| it.key)
        .collect();
    let page: Vec<&String> = ids.iter().skip(start).take(size).collect();
    let mut output = json!({ "pullRequestIds": page });
    if start + size < ids.len() {
        output["nextToken"] = json!((start + size).to_string());
    }
    Ok(output)
}

async fn update_title(ctx: &Context, _caller: &Caller, input: Value) -> Result<Value, ApiError> {
    let id = id_field(&input)?;
    let title = check_title(optional_str(&input, "title"))?;
    let (body, ()) = modify(ctx, &id, |body| {
        require_open(body)?;
        body["title"] = json!(title);
        body["lastActivityDate"] = json!(now());
        Ok(())
    })
    .await?;
    Ok(json!({ "pullRequest": public(&body) }))
}

async fn update_description(
    ctx: &Context,
    _caller: &Caller,
    input: Value,
) -> Result<Value, ApiError> {
    let id = id_field(&input)?;
    let description = optional_str(&input, "description").unwrap_or_default().to_owned();
    check_description(&description)?;
    let (body, ()) = modify(ctx, &id, |body| {
        require_open(body)?;
        body["description"] = json!(description);
        body["lastActivityDate"] = json!(now());
        Ok(())
    })
    .await?;
    Ok(json!({ "pullRequest": public(&body) }))
}

async fn update_status(ctx: &Context, caller: &Caller, input: Value) -> Result<Value, ApiError> {
    let id = id_field(&input)?;
    let status =
        optional_str(&input, "pullRequestStatus").filter(|it| !it.is_empty()).ok_or_else(|| {
            error("PullRequestStatusRequiredException", "A pull request status is required")
        })?;
    if !["OPEN", "CLOSED"].contains(&status) {
        return Err(error(
            "InvalidPullRequestStatusException",
            format!("The pull request status {status} is not valid"),
        ));
    }
    let actor = user_arn(ctx, caller);
    let (body, ()) = modify(ctx, &id, |body| {
        // CodeCommit's only status update is OPEN to CLOSED.
        if status != "CLOSED" || !is_open(body) {
            return Err(error(
                "InvalidPullRequestStatusUpdateException",
                "The only valid update is from OPEN to CLOSED",
            ));
        }
        body["pullRequestStatus"] = json!("CLOSED");
        push_event(
            body,
            "PULL_REQUEST_STATUS_CHANGED",
            &actor,
            Some((
                "pullRequestStatusChangedEventMetadata",
                json!({ "pullRequestStatus": "CLOSED" }),
            )),
        );
        Ok(())
    })
    .await?;
    Ok(json!({ "pullRequest": public(&body) }))
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

async fn describe_events(ctx: &Context, input: Value) -> Result<Value, ApiError> {
    let id = id_field(&input)?;
    let kind = optional_str(&input, "pullRequestEventType").filter(|it| !it.is_empty());
    if let Some(kind) = kind
        && !EVENT_TYPES.contains(&kind)
    {
        return Err(error(
            "InvalidPullRequestEventTypeException",
            format!("The event type {kind} is not valid"),
        ));
    }
    let actor = optional_str(&input, "actorArn").filter(|it| !it.is_empty());
    if let Some(actor) = actor
        && !actor.starts_with("arn:")
    {
        return Err(error("InvalidActorArnException", format!("The ARN {actor} is not valid")));
    }
    let (start, size) = (page_start(&input)?, page_size(&input)?);
    let body = load(ctx, &id).await?;
    let events: Vec<&Value> = body[BOOKKEEPING]["events"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|it| kind.is_none_or(|kind| it["pullRequestEventType"] == kind))
        .filter(|it| actor.is_none_or(|actor| it["actorArn"] == actor))
        .collect();
    let page: Vec<&&Value> = events.iter().skip(start).take(size).collect();
    let mut output = json!({ "pullRequestEvents": page });
    if start + size < events.len() {
        output["nextToken"] = json!((start + size).to_string());
    }
    Ok(output)
}

#[cfg(test)]
mod tests;
