//! The CodeCommit API (`CodeCommit_20150413.*`): repositories, branches, commits and files,
//! pull requests and approval rule templates.
//!
//! Each operation is a typed service function: `get_repository(ctx, caller,
//! GetRepositoryInput) -> GetRepositoryOutput`, whose structs carry botocore's member names
//! (the server parses the JSON into the input with `awsapi::json::typed`). A required member
//! stays an `Option` where CodeCommit has its own error for a missing one. Pull requests (with
//! their approvals, comments and merges) are typed the same way; what they keep as JSON
//! documents (the `PullRequest`, its rules and events, comments) is returned as a JSON value
//! inside the typed outputs. Operations that may write take `now` (milliseconds): a pull
//! request's read refreshes it from its branches, which can record an event.
//!
//! A repository is a document (`kind = "repository"`, key = its name) with CodeCommit's
//! `RepositoryMetadata`, returned as it is kept (a JSON value inside the typed outputs), and a
//! bare git repository at `Context::repo_path`. Branches, commits and files are read from git
//! itself, so what the API says always matches what a clone gets.

mod pulls;
mod read;
mod templates;
mod write;

pub use pulls::{
    Approval, ApprovalRuleOutput, CreatePullRequestApprovalRuleInput,
    CreatePullRequestApprovalRuleOutput, CreatePullRequestInput, CreatePullRequestOutput,
    DeletePullRequestApprovalRuleInput, DeletePullRequestApprovalRuleOutput,
    DescribePullRequestEventsInput, DescribePullRequestEventsOutput,
    EvaluatePullRequestApprovalRulesInput, EvaluatePullRequestApprovalRulesOutput,
    GetCommentsForPullRequestInput, GetCommentsForPullRequestOutput,
    GetPullRequestApprovalStatesInput, GetPullRequestApprovalStatesOutput, GetPullRequestInput,
    GetPullRequestOutput, GetPullRequestOverrideStateInput, GetPullRequestOverrideStateOutput,
    ListPullRequestsInput, ListPullRequestsOutput, Location, MergePullRequestByFastForwardInput,
    MergePullRequestByFastForwardOutput, MergePullRequestBySquashInput,
    MergePullRequestBySquashOutput, MergePullRequestByThreeWayInput,
    MergePullRequestByThreeWayOutput, MergePullRequestInput, OverridePullRequestApprovalRulesInput,
    PostCommentForPullRequestInput, PostCommentForPullRequestOutput, PullRequestIdInput,
    PullRequestOutput, PullRequestRevisionInput, Target, UpdatePullRequestApprovalRuleContentInput,
    UpdatePullRequestApprovalRuleContentOutput, UpdatePullRequestApprovalStateInput,
    UpdatePullRequestDescriptionInput, UpdatePullRequestDescriptionOutput,
    UpdatePullRequestStatusInput, UpdatePullRequestStatusOutput, UpdatePullRequestTitleInput,
    UpdatePullRequestTitleOutput, create_pull_request, create_pull_request_approval_rule,
    delete_pull_request_approval_rule, describe_pull_request_events,
    evaluate_pull_request_approval_rules, get_comments_for_pull_request, get_pull_request,
    get_pull_request_approval_states, get_pull_request_override_state, list_pull_requests,
    merge_pull_request_by_fast_forward, merge_pull_request_by_squash,
    merge_pull_request_by_three_way, override_pull_request_approval_rules,
    post_comment_for_pull_request, update_pull_request_approval_rule_content,
    update_pull_request_approval_state, update_pull_request_description,
    update_pull_request_status, update_pull_request_title,
};
pub use read::{
    BatchGetCommitsError, BatchGetCommitsInput, BatchGetCommitsOutput, BlobMetadata, Difference,
    File, Folder, GetBlobInput, GetBlobOutput, GetDifferencesInput, GetDifferencesOutput,
    GetFolderInput, GetFolderOutput, SubModule, batch_get_commits, get_blob, get_differences,
    get_folder,
};
pub use templates::{
    ApprovalRuleTemplateNameInput, ApprovalRuleTemplateNamesOutput, ApprovalRuleTemplateOutput,
    ApprovalRuleTemplateRepositoriesInput, ApprovalRuleTemplateRepositoryError,
    ApprovalRuleTemplateRepositoryInput, AssociateApprovalRuleTemplateWithRepositoryInput,
    BatchAssociateApprovalRuleTemplateWithRepositoriesInput,
    BatchAssociateApprovalRuleTemplateWithRepositoriesOutput,
    BatchDisassociateApprovalRuleTemplateFromRepositoriesInput,
    BatchDisassociateApprovalRuleTemplateFromRepositoriesOutput, CreateApprovalRuleTemplateInput,
    CreateApprovalRuleTemplateOutput, DeleteApprovalRuleTemplateInput,
    DeleteApprovalRuleTemplateOutput, DisassociateApprovalRuleTemplateFromRepositoryInput,
    GetApprovalRuleTemplateInput, GetApprovalRuleTemplateOutput, ListApprovalRuleTemplatesInput,
    ListApprovalRuleTemplatesOutput, ListAssociatedApprovalRuleTemplatesForRepositoryInput,
    ListAssociatedApprovalRuleTemplatesForRepositoryOutput,
    ListRepositoriesForApprovalRuleTemplateInput, ListRepositoriesForApprovalRuleTemplateOutput,
    UpdateApprovalRuleTemplateContentInput, UpdateApprovalRuleTemplateContentOutput,
    UpdateApprovalRuleTemplateDescriptionInput, UpdateApprovalRuleTemplateDescriptionOutput,
    UpdateApprovalRuleTemplateNameInput, UpdateApprovalRuleTemplateNameOutput,
    associate_approval_rule_template_with_repository,
    batch_associate_approval_rule_template_with_repositories,
    batch_disassociate_approval_rule_template_from_repositories, create_approval_rule_template,
    delete_approval_rule_template, disassociate_approval_rule_template_from_repository,
    get_approval_rule_template, list_approval_rule_templates,
    list_associated_approval_rule_templates_for_repository,
    list_repositories_for_approval_rule_template, update_approval_rule_template_content,
    update_approval_rule_template_description, update_approval_rule_template_name,
};
pub use write::{
    CreateCommitInput, CreateCommitOutput, DeleteFileEntry, FileMetadata, PutFileEntry,
    PutFileInput, PutFileOutput, SetFileModeEntry, SourceFileSpecifier, create_commit, put_file,
};

use engine::store::{Document, ListQuery, StoreError, Write};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Context;
use awsapi::ApiError;
use awsapi::Caller;
use engine::kinds::{self, REPOSITORY};

/// A CodeCommit list page.
const PAGE_SIZE: usize = 1000;

fn error(code: &str, message: impl Into<String>) -> ApiError {
    ApiError::client(code, message)
}

/// A repository name member: required (empty counts as missing) and valid.
fn required_name(name: Option<&str>) -> Result<&str, ApiError> {
    let name = name.filter(|it| !it.is_empty()).ok_or_else(|| {
        error(
            "RepositoryNameRequiredException",
            "A repository name is required, but was not specified.",
        )
    })?;
    check_name(name)?;
    Ok(name)
}

/// `[\w.-]{1,100}`, and not `.git`-suffixed, as CodeCommit requires.
fn check_name(name: &str) -> Result<(), ApiError> {
    let valid = (1..=100).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
        && !name.ends_with(".git")
        && name != "."
        && name != "..";
    if valid {
        Ok(())
    } else {
        Err(error(
            "InvalidRepositoryNameException",
            format!(
                "The repository name {name} is not valid. Repository names can be any valid combination of letters, numbers, periods, underscores, and dashes between 1 and 100 characters in length. Names are case sensitive. For more information, see Limits in the AWS CodeCommit User Guide."
            ),
        ))
    }
}

/// The repository a name member names, which must exist.
async fn existing_named(ctx: &Context, name: Option<&str>) -> Result<Document, ApiError> {
    let name = required_name(name)?;
    ctx.store
        .get(REPOSITORY, name)
        .await?
        .ok_or_else(|| error("RepositoryDoesNotExistException", format!("{name} does not exist")))
}

/// The metadata as the API returns it, with clone URLs for the host the client used. The
/// SSH one names the port git over SSH listens on (`slipway server --ssh-listen`); without
/// SSH it is the address it would have on SSH's own port, as CodeCommit always returns one.
fn metadata(ctx: &Context, repository: &Document, caller: &Caller) -> Value {
    let mut body = repository.body.clone();
    if let Some(object) = body.as_object_mut() {
        object.remove(SLIPWAY);
    }
    let name = repository.key.as_str();
    body["cloneUrlHttp"] = json!(format!("http://{}/v1/repos/{name}", caller.host));
    let host = ssh_host(&caller.host);
    body["cloneUrlSsh"] = json!(match ctx.ssh_port.get() {
        Some(port) if host.contains(':') && !host.starts_with('[') => {
            format!("ssh://[{host}]:{port}/v1/repos/{name}")
        }
        Some(port) => format!("ssh://{host}:{port}/v1/repos/{name}"),
        None => format!("ssh://{host}/v1/repos/{name}"),
    });
    body
}

/// The host of a `Host` header without its port (the HTTP port is not the SSH one).
fn ssh_host(host: &str) -> &str {
    match host.rsplit_once(':') {
        // `[::1]:8080` and `example.com:8080`; a bare IPv6 address has no brackets to end.
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !name.ends_with(':') => {
            name
        }
        _ => host,
    }
}

/// `CreateRepository`'s input (the members Slipway reads: KMS keys are not kept). The tags are
/// kept in the repository's document (`_slipway.tags`), for policies' `aws:ResourceTag/<key>`;
/// the metadata the API answers does not show them, as CodeCommit's does not.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateRepositoryInput {
    pub repository_name: Option<String>,
    pub repository_description: Option<String>,
    pub tags: Option<std::collections::BTreeMap<String, String>>,
}

/// `CreateRepository`'s and `GetRepository`'s output: the stored `RepositoryMetadata` as it is
/// kept (a JSON document), with the clone URLs for the caller's host.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryMetadataOutput {
    pub repository_metadata: Value,
}

pub type CreateRepositoryOutput = RepositoryMetadataOutput;
pub type GetRepositoryOutput = RepositoryMetadataOutput;

pub async fn create_repository(
    ctx: &Context,
    caller: &Caller,
    input: CreateRepositoryInput,
    now: i64,
) -> Result<CreateRepositoryOutput, ApiError> {
    let name = required_name(input.repository_name.as_deref())?.to_owned();
    let description = input.repository_description.as_deref();
    if description.is_some_and(|it| it.len() > 1000) {
        return Err(error(
            "InvalidRepositoryDescriptionException",
            "The description is longer than 1000 characters",
        ));
    }
    let exists = || {
        error("RepositoryNameExistsException", format!("Repository named {name} already exists"))
    };
    // One creation at a time in this server: parallel `git init`s of one directory fail on
    // git's config lock. Creation is short; reads do not wait.
    let _one_at_a_time = CREATING.lock().await;
    if ctx.store.get(REPOSITORY, &name).await?.is_some() {
        return Err(exists());
    }
    let timestamp = engine::clock::aws_timestamp(now);
    let mut body = json!({
        "accountId": ctx.account,
        "repositoryId": uuid::Uuid::new_v4().to_string(),
        "repositoryName": name,
        "lastModifiedDate": timestamp,
        "creationDate": timestamp,
        "Arn": awsapi::arn::arn("codecommit", &ctx.region, &ctx.account, &name),
    });
    // CodeCommit has no description member for a repository created without one.
    if let Some(description) = description {
        body["repositoryDescription"] = json!(description);
    }
    if let Some(tags) = input.tags.filter(|it| !it.is_empty()) {
        body[SLIPWAY] = json!({ "tags": tags });
    }
    // The git directory first: a repository document never points at nothing. A crash in
    // between leaves an unused directory, which a later CreateRepository reuses.
    let path = ctx.repo_path(&name);
    if let Err(err) = crate::git::init_bare(&path, "main").await {
        // Another server on the same repositories may have been creating it meanwhile.
        if ctx.store.get(REPOSITORY, &name).await?.is_some() {
            return Err(exists());
        }
        return Err(ApiError::internal(err));
    }
    let document = Document {
        kind: REPOSITORY.to_owned(),
        key: name.clone(),
        parent: None,
        sort: now,
        version: 0,
        body,
    };
    match ctx.store.apply(vec![Write::Insert(document.clone())]).await {
        Ok(()) => {
            Ok(RepositoryMetadataOutput { repository_metadata: metadata(ctx, &document, caller) })
        }
        Err(StoreError::AlreadyExists { .. }) => Err(exists()),
        Err(err) => Err(err.into()),
    }
}

/// The member of a repository's document that holds what CodeCommit's metadata does not show
/// (its tags).
pub const SLIPWAY: &str = "_slipway";

/// Held while a repository is created (see `create_repository`).
static CREATING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetRepositoryInput {
    pub repository_name: Option<String>,
}

pub async fn get_repository(
    ctx: &Context,
    caller: &Caller,
    input: GetRepositoryInput,
) -> Result<GetRepositoryOutput, ApiError> {
    let repository = existing_named(ctx, input.repository_name.as_deref()).await?;
    let mut output = metadata(ctx, &repository, caller);
    // The default branch is git's HEAD, once that branch exists (after the first push).
    if let Some(branch) = default_branch(ctx, &repository.key).await?
        && branch_commit(ctx, &repository.key, &branch).await?.is_some()
    {
        output["defaultBranch"] = json!(branch);
    }
    Ok(RepositoryMetadataOutput { repository_metadata: output })
}

/// A batch's repository names: required, and at most 25 of them.
fn check_repository_names(names: Option<Vec<String>>) -> Result<Vec<String>, ApiError> {
    const MAX_NAMES: usize = 25;
    let names = names.ok_or_else(|| {
        error("RepositoryNamesRequiredException", "At least one repository name is required")
    })?;
    if names.len() > MAX_NAMES {
        return Err(error(
            "MaximumRepositoryNamesExceededException",
            format!("At most {MAX_NAMES} repository names may be given"),
        ));
    }
    Ok(names)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchGetRepositoriesInput {
    pub repository_names: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchGetRepositoriesOutput {
    /// Each repository's metadata as kept (see [`RepositoryMetadataOutput`]).
    pub repositories: Vec<Value>,
    pub repositories_not_found: Vec<String>,
    /// Always empty: a repository is found or not.
    pub errors: Vec<BatchGetRepositoriesError>,
}

/// A repository a batch could not read (CodeCommit's `BatchGetRepositoriesError`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchGetRepositoriesError {
    pub repository_name: String,
    pub error_code: String,
    pub error_message: String,
}

pub async fn batch_get_repositories(
    ctx: &Context,
    caller: &Caller,
    input: BatchGetRepositoriesInput,
) -> Result<BatchGetRepositoriesOutput, ApiError> {
    let names = check_repository_names(input.repository_names)?;
    for name in &names {
        check_name(name)?;
    }
    let found = ctx.store.get_many(REPOSITORY, &names).await?;
    let missing: Vec<String> =
        names.iter().filter(|name| !found.iter().any(|it| &&it.key == name)).cloned().collect();
    Ok(BatchGetRepositoriesOutput {
        repositories: found.iter().map(|it| metadata(ctx, it, caller)).collect(),
        repositories_not_found: missing,
        errors: Vec::new(),
    })
}

async fn all_repositories(ctx: &Context) -> Result<Vec<Document>, ApiError> {
    Ok(ctx.store.list_all(REPOSITORY, None).await?)
}

/// Every repository's metadata, as BatchGetRepositories shows it (the console's list).
pub async fn all_metadata(ctx: &Context, caller: &Caller) -> Result<Vec<Value>, ApiError> {
    Ok(all_repositories(ctx).await?.iter().map(|it| metadata(ctx, it, caller)).collect())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListRepositoriesInput {
    pub next_token: Option<String>,
    pub sort_by: Option<String>,
    pub order: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListRepositoriesOutput {
    pub repositories: Vec<RepositoryNameIdPair>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryNameIdPair {
    pub repository_name: String,
    pub repository_id: Value,
}

pub async fn list_repositories(
    ctx: &Context,
    input: ListRepositoriesInput,
) -> Result<ListRepositoriesOutput, ApiError> {
    let sort_by = input.sort_by.as_deref().unwrap_or("repositoryName");
    let order = input.order.as_deref().unwrap_or("ascending");
    if !["repositoryName", "lastModifiedDate"].contains(&sort_by) {
        return Err(error("InvalidSortByException", format!("Invalid sortBy {sort_by}")));
    }
    if !["ascending", "descending"].contains(&order) {
        return Err(error("InvalidOrderException", format!("Invalid order {order}")));
    }
    let mut repositories = all_repositories(ctx).await?;
    if sort_by == "lastModifiedDate" {
        repositories.sort_by(|a, b| {
            let time = |it: &Document| it.body["lastModifiedDate"].as_f64().unwrap_or_default();
            time(a).total_cmp(&time(b)).then_with(|| a.key.cmp(&b.key))
        });
    }
    if order == "descending" {
        repositories.reverse();
    }
    let start = awsapi::paging::offset(input.next_token.as_deref())
        .map_err(|_| error("InvalidContinuationTokenException", "Invalid nextToken"))?;
    let page = repositories
        .iter()
        .skip(start)
        .take(PAGE_SIZE)
        .map(|it| RepositoryNameIdPair {
            repository_name: it.key.clone(),
            repository_id: it.body["repositoryId"].clone(),
        })
        .collect();
    Ok(ListRepositoriesOutput {
        repositories: page,
        next_token: awsapi::paging::next_offset(start, PAGE_SIZE, repositories.len()),
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteRepositoryInput {
    pub repository_name: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteRepositoryOutput {
    /// Absent when there was no such repository.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository_id: Option<Value>,
}

pub async fn delete_repository(
    ctx: &Context,
    input: DeleteRepositoryInput,
) -> Result<DeleteRepositoryOutput, ApiError> {
    let name = required_name(input.repository_name.as_deref())?.to_owned();
    // Deleting a repository that does not exist succeeds with no id, as in CodeCommit.
    let Some(document) = ctx.store.get(REPOSITORY, &name).await? else {
        return Ok(DeleteRepositoryOutput { repository_id: None });
    };
    // Everything that belongs to the repository goes with it, so that a new repository of the
    // same name starts clean (its reference-event history stays: numbers are never reused).
    let mut writes = vec![Write::Delete { kind: REPOSITORY.to_owned(), key: name.clone() }];
    writes.extend(
        PER_REPOSITORY_KINDS
            .iter()
            .map(|kind| Write::Delete { kind: (*kind).to_owned(), key: name.clone() }),
    );
    for association in associations(ctx, &name).await? {
        writes.push(Write::Delete { kind: association.kind, key: association.key });
    }
    // Its branch protection leaves the account-level policy with it.
    writes.extend(crate::protection::policy_write(ctx, |all| drop(all.remove(&name))).await?);
    ctx.store.apply(writes).await?;
    let path = ctx.repo_path(&name);
    let _ = tokio::fs::remove_dir_all(&path).await;
    Ok(DeleteRepositoryOutput { repository_id: Some(document.body["repositoryId"].clone()) })
}

/// The output of an operation that answers nothing: `{}`.
#[derive(Debug, Default, Serialize)]
pub struct Empty {}

/// Changes a repository's document, retrying on a concurrent change.
async fn modify(
    ctx: &Context,
    name: &str,
    now: i64,
    change: impl Fn(&mut Value) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    for _ in 0..5 {
        let Some(mut document) = ctx.store.get(REPOSITORY, name).await? else {
            return Err(error("RepositoryDoesNotExistException", format!("{name} does not exist")));
        };
        change(&mut document.body)?;
        document.body["lastModifiedDate"] = json!(engine::clock::aws_timestamp(now));
        let version = document.version;
        match ctx.store.apply(vec![Write::Update { document, expected_version: version }]).await {
            Ok(()) => return Ok(()),
            Err(StoreError::Conflict { .. }) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(ApiError::internal(format!("repository {name} kept changing")))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateRepositoryDescriptionInput {
    pub repository_name: Option<String>,
    pub repository_description: Option<String>,
}

pub async fn update_repository_description(
    ctx: &Context,
    input: UpdateRepositoryDescriptionInput,
    now: i64,
) -> Result<Empty, ApiError> {
    let name = required_name(input.repository_name.as_deref())?.to_owned();
    let description = input.repository_description.unwrap_or_default();
    if description.len() > 1000 {
        return Err(error(
            "InvalidRepositoryDescriptionException",
            "The description is longer than 1000 characters",
        ));
    }
    modify(ctx, &name, now, |body| {
        body["repositoryDescription"] = json!(description);
        Ok(())
    })
    .await?;
    Ok(Empty {})
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateRepositoryNameInput {
    pub old_name: Option<String>,
    pub new_name: Option<String>,
}

pub async fn update_repository_name(
    ctx: &Context,
    input: UpdateRepositoryNameInput,
) -> Result<Empty, ApiError> {
    let old = required_name(input.old_name.as_deref())?.to_owned();
    let new = required_name(input.new_name.as_deref())?.to_owned();
    let Some(mut document) = ctx.store.get(REPOSITORY, &old).await? else {
        return Err(error("RepositoryDoesNotExistException", format!("{old} does not exist")));
    };
    if ctx.store.get(REPOSITORY, &new).await?.is_some() {
        return Err(error(
            "RepositoryNameExistsException",
            format!("Repository named {new} already exists"),
        ));
    }
    let (from, to) = (ctx.repo_path(&old), ctx.repo_path(&new));
    tokio::fs::rename(&from, &to).await.map_err(ApiError::internal)?;
    document.key.clone_from(&new);
    document.body["repositoryName"] = json!(new);
    document.body["Arn"] = json!(awsapi::arn::arn("codecommit", &ctx.region, &ctx.account, &new));
    let mut writes = vec![
        Write::Delete { kind: REPOSITORY.to_owned(), key: old.clone() },
        Write::Insert(document),
    ];
    // The repository's settings follow it to its new name.
    for kind in PER_REPOSITORY_KINDS {
        if let Some(mut setting) = ctx.store.get(kind, &old).await? {
            writes.push(Write::Delete { kind: (*kind).to_owned(), key: old.clone() });
            setting.key.clone_from(&new);
            writes.push(Write::Put(setting));
        }
    }
    // Its branch protection follows it in the account-level policy.
    let moved = crate::protection::policy_write(ctx, |all| {
        if let Some(rules) = all.remove(&old) {
            all.insert(new.clone(), rules);
        }
    });
    writes.extend(moved.await?);
    for mut association in associations(ctx, &old).await? {
        writes.push(Write::Delete { kind: association.kind.clone(), key: association.key.clone() });
        let template =
            association.key.rsplit_once('/').map_or("", |(template, _)| template).to_owned();
        association.key = format!("{template}/{new}");
        association.parent = Some(new.clone());
        writes.push(Write::Put(association));
    }
    if let Err(err) = ctx.store.apply(writes).await {
        // Put the directory back, so that the old name keeps working.
        let _ = tokio::fs::rename(&to, &from).await;
        return Err(match err {
            StoreError::AlreadyExists { .. } => error(
                "RepositoryNameExistsException",
                format!("Repository named {new} already exists"),
            ),
            other => other.into(),
        });
    }
    Ok(Empty {})
}

/// The documents keyed by a repository's name that hold its settings and progress.
const PER_REPOSITORY_KINDS: &[&str] = &[
    kinds::BRANCH_PROTECTION,
    kinds::REPOSITORY_TRIGGERS,
    kinds::TRIGGER_CURSOR,
    kinds::MIRROR,
    kinds::MIRROR_CURSOR,
    kinds::WEBHOOK_CURSOR,
];

/// The approval rule template associations of a repository.
async fn associations(ctx: &Context, repository: &str) -> Result<Vec<Document>, ApiError> {
    let query = ListQuery {
        kind: kinds::APPROVAL_RULE_TEMPLATE_ASSOCIATION.to_owned(),
        parent: Some(repository.to_owned()),
        descending: false,
        after: None,
        limit: 1000,
    };
    Ok(ctx.store.list(&query).await?.documents)
}

/// Runs git in a repository; its standard output on success, `None` when git fails.
async fn git(ctx: &Context, repository: &str, args: &[&str]) -> Result<Option<Vec<u8>>, ApiError> {
    let mut command = crate::process::git();
    command.arg("--git-dir").arg(ctx.repo_path(repository)).args(args);
    let output = crate::process::run_bounded(command, None, crate::process::API_LIMITS)
        .await
        .map_err(ApiError::internal)?;
    Ok(output.status.success().then_some(output.stdout))
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8_lossy(&bytes).trim_end_matches('\n').to_owned()
}

/// A branch name member: required (empty counts as missing) and one git accepts.
fn required_branch(branch: Option<&str>) -> Result<&str, ApiError> {
    let branch = branch.filter(|it| !it.is_empty()).ok_or_else(|| {
        error("BranchNameRequiredException", "A branch name is required, but was not specified.")
    })?;
    let valid = branch.len() <= 256
        && !branch.starts_with('-')
        && !branch.contains("..")
        && !branch.ends_with('/')
        && !branch.ends_with(".lock")
        && !branch.chars().any(|c| c.is_ascii_control() || " ~^:?*[\\".contains(c));
    if valid {
        Ok(branch)
    } else {
        Err(error("InvalidBranchNameException", format!("The branch name {branch} is not valid")))
    }
}

/// The commit a branch points at.
async fn branch_commit(
    ctx: &Context,
    repository: &str,
    branch: &str,
) -> Result<Option<String>, ApiError> {
    let reference = format!("refs/heads/{branch}");
    Ok(git(ctx, repository, &["rev-parse", "--verify", "-q", &format!("{reference}^{{commit}}")])
        .await?
        .map(text))
}

async fn default_branch(ctx: &Context, repository: &str) -> Result<Option<String>, ApiError> {
    let head = git(ctx, repository, &["symbolic-ref", "-q", "HEAD"]).await?.map(text);
    Ok(head.and_then(|it| it.strip_prefix("refs/heads/").map(str::to_owned)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateDefaultBranchInput {
    pub repository_name: Option<String>,
    pub default_branch_name: Option<String>,
}

pub async fn update_default_branch(
    ctx: &Context,
    input: UpdateDefaultBranchInput,
    now: i64,
) -> Result<Empty, ApiError> {
    let repository = existing_named(ctx, input.repository_name.as_deref()).await?;
    let branch = input.default_branch_name.filter(|it| !it.is_empty()).ok_or_else(|| {
        error("BranchNameRequiredException", "A branch name is required, but was not specified.")
    })?;
    if branch_commit(ctx, &repository.key, &branch).await?.is_none() {
        return Err(error(
            "BranchDoesNotExistException",
            format!("Branch {branch} does not exist"),
        ));
    }
    git(ctx, &repository.key, &["symbolic-ref", "HEAD", &format!("refs/heads/{branch}")]).await?;
    modify(ctx, &repository.key, now, move |body| {
        body["defaultBranch"] = json!(branch);
        Ok(())
    })
    .await?;
    Ok(Empty {})
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateBranchInput {
    pub repository_name: Option<String>,
    pub branch_name: Option<String>,
    pub commit_id: Option<String>,
}

/// Branch protection is the caller's policies' (`protection`), decided before this is called.
pub async fn create_branch(
    ctx: &Context,
    _caller: &Caller,
    input: CreateBranchInput,
) -> Result<Empty, ApiError> {
    let repository = existing_named(ctx, input.repository_name.as_deref()).await?;
    let branch = required_branch(input.branch_name.as_deref())?;
    let reference = format!("refs/heads/{branch}");
    let commit = input.commit_id.as_deref().filter(|it| !it.is_empty()).ok_or_else(|| {
        error("CommitIdRequiredException", "A commit ID is required, but was not specified.")
    })?;
    if commit.len() != 40 || !commit.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(error(
            "InvalidCommitIdException",
            format!("The commit ID {commit} is not valid"),
        ));
    }
    if git(ctx, &repository.key, &["cat-file", "-e", &format!("{commit}^{{commit}}")])
        .await?
        .is_none()
    {
        return Err(error(
            "CommitDoesNotExistException",
            format!("Commit {commit} does not exist"),
        ));
    }
    // `update-ref` with an all-zero old value creates the branch only if it does not exist.
    let zero = "0".repeat(40);
    if git(ctx, &repository.key, &["update-ref", &reference, commit, &zero]).await?.is_none() {
        return Err(error("BranchNameExistsException", format!("Branch {branch} already exists")));
    }
    Ok(Empty {})
}

/// A branch and its commit (CodeCommit's `BranchInfo`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BranchInfo {
    pub branch_name: String,
    pub commit_id: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetBranchInput {
    pub repository_name: Option<String>,
    pub branch_name: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct GetBranchOutput {
    pub branch: BranchInfo,
}

pub async fn get_branch(ctx: &Context, input: GetBranchInput) -> Result<GetBranchOutput, ApiError> {
    let repository = existing_named(ctx, input.repository_name.as_deref()).await?;
    let branch = required_branch(input.branch_name.as_deref())?;
    match branch_commit(ctx, &repository.key, branch).await? {
        Some(commit) => Ok(GetBranchOutput {
            branch: BranchInfo { branch_name: branch.to_owned(), commit_id: commit },
        }),
        None => {
            Err(error("BranchDoesNotExistException", format!("Branch {branch} does not exist")))
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListBranchesInput {
    pub repository_name: Option<String>,
    pub next_token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListBranchesOutput {
    pub branches: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

pub async fn list_branches(
    ctx: &Context,
    input: ListBranchesInput,
) -> Result<ListBranchesOutput, ApiError> {
    let repository = existing_named(ctx, input.repository_name.as_deref()).await?;
    let listed =
        git(ctx, &repository.key, &["for-each-ref", "--format=%(refname:lstrip=2)", "refs/heads"])
            .await?;
    let branches: Vec<String> =
        listed.map(text).unwrap_or_default().lines().map(str::to_owned).collect();
    let start = awsapi::paging::offset(input.next_token.as_deref())
        .map_err(|_| error("InvalidContinuationTokenException", "Invalid nextToken"))?;
    Ok(ListBranchesOutput {
        branches: branches.iter().skip(start).take(PAGE_SIZE).cloned().collect(),
        next_token: awsapi::paging::next_offset(start, PAGE_SIZE, branches.len()),
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteBranchInput {
    pub repository_name: Option<String>,
    pub branch_name: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteBranchOutput {
    /// Absent when there was no such branch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_branch: Option<BranchInfo>,
}

/// Branch protection is the caller's policies' (`protection`), decided before this is called.
pub async fn delete_branch(
    ctx: &Context,
    _caller: &Caller,
    input: DeleteBranchInput,
) -> Result<DeleteBranchOutput, ApiError> {
    let repository = existing_named(ctx, input.repository_name.as_deref()).await?;
    let branch = required_branch(input.branch_name.as_deref())?;
    let reference = format!("refs/heads/{branch}");
    if default_branch(ctx, &repository.key).await?.as_deref() == Some(branch) {
        return Err(error(
            "DefaultBranchCannotBeDeletedException",
            format!("Branch {branch} is the default branch"),
        ));
    }
    let Some(commit) = branch_commit(ctx, &repository.key, branch).await? else {
        // Deleting a branch that does not exist returns nothing, as in CodeCommit.
        return Ok(DeleteBranchOutput { deleted_branch: None });
    };
    git(ctx, &repository.key, &["update-ref", "-d", &reference, &commit]).await?;
    Ok(DeleteBranchOutput {
        deleted_branch: Some(BranchInfo { branch_name: branch.to_owned(), commit_id: commit }),
    })
}

/// Who made a commit and when (CodeCommit's `UserInfo`); a member git did not give is left
/// out.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct UserInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// git's `<seconds> <zone>`, as CodeCommit writes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
}

/// The name, email and date of a `git log` person line (`Name <email> 1700000000 +0000`).
fn person(line: &str) -> UserInfo {
    let (name, rest) = line.split_once(" <").unwrap_or((line, ""));
    let (email, date) = rest.split_once("> ").unwrap_or((rest, ""));
    UserInfo {
        name: Some(name.to_owned()),
        email: Some(email.to_owned()),
        date: Some(date.to_owned()),
    }
}

/// A commit (CodeCommit's `Commit`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Commit {
    pub commit_id: String,
    pub tree_id: String,
    pub parents: Vec<String>,
    pub message: String,
    pub author: UserInfo,
    pub committer: UserInfo,
    pub additional_data: String,
}

fn is_object_id(text: &str) -> bool {
    text.len() == 40 && text.chars().all(|c| c.is_ascii_hexdigit())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetCommitInput {
    pub repository_name: Option<String>,
    pub commit_id: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct GetCommitOutput {
    pub commit: Commit,
}

pub async fn get_commit(ctx: &Context, input: GetCommitInput) -> Result<GetCommitOutput, ApiError> {
    let repository = existing_named(ctx, input.repository_name.as_deref()).await?;
    let commit = input.commit_id.as_deref().filter(|it| !it.is_empty()).ok_or_else(|| {
        error("CommitIdRequiredException", "A commit ID is required, but was not specified.")
    })?;
    if !is_object_id(commit) {
        return Err(error(
            "InvalidCommitIdException",
            format!("The commit ID {commit} is not valid"),
        ));
    }
    match read_commit(ctx, &repository.key, commit).await? {
        Some(found) => Ok(GetCommitOutput { commit: found }),
        None => {
            Err(error("CommitIdDoesNotExistException", format!("Commit {commit} does not exist")))
        }
    }
}

/// A commit, `None` when the repository has no such commit.
async fn read_commit(
    ctx: &Context,
    repository: &str,
    commit: &str,
) -> Result<Option<Commit>, ApiError> {
    let Some(raw) = git(ctx, repository, &["cat-file", "commit", commit]).await? else {
        return Ok(None);
    };
    Ok(Some(parse_commit(commit, &String::from_utf8_lossy(&raw))))
}

/// `git cat-file commit` output as CodeCommit's `Commit`.
fn parse_commit(commit: &str, raw: &str) -> Commit {
    let (headers, message) = raw.split_once("\n\n").unwrap_or((raw, ""));
    let mut tree = String::new();
    let mut parents = Vec::new();
    let mut author = UserInfo::default();
    let mut committer = UserInfo::default();
    for line in headers.lines() {
        match line.split_once(' ') {
            Some(("tree", value)) => tree = value.to_owned(),
            Some(("parent", value)) => parents.push(value.to_owned()),
            Some(("author", value)) => author = person(value),
            Some(("committer", value)) => committer = person(value),
            _ => {}
        }
    }
    Commit {
        commit_id: commit.to_owned(),
        tree_id: tree,
        parents,
        message: message.to_owned(),
        author,
        committer,
        additional_data: String::new(),
    }
}

/// The commit a `commitSpecifier` (a branch, tag or commit id) names; without one, the default
/// branch's.
async fn resolve_commit(
    ctx: &Context,
    repository: &str,
    specifier: Option<&str>,
) -> Result<String, ApiError> {
    let specifier = match specifier.filter(|it| !it.is_empty()) {
        Some(it) => it.to_owned(),
        None => default_branch(ctx, repository).await?.unwrap_or_else(|| "HEAD".to_owned()),
    };
    // A leading `-` would be read as an option, not a revision.
    let found = if specifier.starts_with('-') {
        None
    } else {
        git(ctx, repository, &["rev-parse", "--verify", "-q", &format!("{specifier}^{{commit}}")])
            .await?
            .map(text)
    };
    found.ok_or_else(|| {
        error("CommitDoesNotExistException", format!("Commit {specifier} does not exist"))
    })
}

/// CodeCommit's `FileModeTypeEnum` for a git tree entry mode.
fn file_mode(mode: &str) -> &'static str {
    match mode {
        "100755" => "EXECUTABLE",
        "120000" => "SYMLINK",
        _ => "NORMAL",
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetFileInput {
    pub repository_name: Option<String>,
    pub commit_specifier: Option<String>,
    pub file_path: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetFileOutput {
    pub commit_id: String,
    pub blob_id: String,
    pub file_path: String,
    pub file_mode: &'static str,
    pub file_size: u64,
    /// The file, base64-encoded as the JSON protocol writes blobs.
    pub file_content: String,
}

pub async fn get_file(ctx: &Context, input: GetFileInput) -> Result<GetFileOutput, ApiError> {
    let repository = existing_named(ctx, input.repository_name.as_deref()).await?;
    let path = input
        .file_path
        .as_deref()
        .filter(|it| !it.is_empty())
        .ok_or_else(|| {
            error("PathRequiredException", "The folderPath for the location cannot be null.")
        })?
        .trim_start_matches('/')
        .to_owned();
    let specifier = input.commit_specifier.as_deref();
    let commit = resolve_commit(ctx, &repository.key, specifier).await?;
    let listed = git(ctx, &repository.key, &["ls-tree", "-l", &commit, "--", &path])
        .await?
        .map(text)
        .unwrap_or_default();
    // `<mode> <type> <blob> <size>\t<path>`
    let Some((meta, _)) = listed.lines().next().and_then(|it| it.split_once('\t')) else {
        return Err(error(
            "FileDoesNotExistException",
            format!("The file {path} does not exist in commit {commit}"),
        ));
    };
    let fields: Vec<&str> = meta.split_whitespace().collect();
    if fields.get(1) != Some(&"blob") {
        return Err(error("FileDoesNotExistException", format!("{path} is a folder, not a file")));
    }
    let size: u64 = fields.get(3).and_then(|it| it.parse().ok()).unwrap_or_default();
    if size > 6 * 1024 * 1024 {
        return Err(error("FileTooLargeException", format!("The file {path} is larger than 6 MB")));
    }
    let blob = fields[2];
    let content = git(ctx, &repository.key, &["cat-file", "blob", blob]).await?.unwrap_or_default();
    Ok(GetFileOutput {
        blob_id: blob.to_owned(),
        file_mode: file_mode(fields[0]),
        commit_id: commit,
        file_path: path,
        file_size: size,
        file_content: awsapi::base64::encode(&content),
    })
}

#[cfg(test)]
mod tests;
