//! CodeCommit's approval rule templates and their associations with repositories.
//!
//! A template is a document (`kind = "approval-rule-template"`, key = its name) holding
//! CodeCommit's `ApprovalRuleTemplate` as the API returns it. Its content is a rule document as
//! pull requests' approval rules use it, optionally with `DestinationReferences` (full branch
//! names) limiting the pull requests it applies to. An association is a document of its own
//! (`kind = "approval-rule-template-association"`, key = `<template>/<repository>`, parent =
//! the repository), so that a repository's templates are one listing away; renaming a template
//! rewrites its associations in the same batch. A new pull request gets one approval rule per
//! associated template that applies to its destination (`rules_for`).

use engine::store::{Document, StoreError, Write};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{Empty, check_name, check_repository_names, error, existing_named};
use crate::Context;
use awsapi::Caller;
use awsapi::{ApiError, ErrorKind};
use engine::kinds::{APPROVAL_RULE_TEMPLATE, APPROVAL_RULE_TEMPLATE_ASSOCIATION, REPOSITORY};

const MAX_NAME: usize = 100;
const MAX_DESCRIPTION: usize = 1000;
const MAX_CONTENT: usize = 3000;
/// The most templates one region (here: one server) may have.
const MAX_TEMPLATES: usize = 1000;
/// The most templates one repository may be associated with (one rule each per pull request).
const MAX_ASSOCIATED: usize = 25;
const DEFAULT_PAGE: usize = 100;

/// An approval rule template as it is kept and returned (CodeCommit's `ApprovalRuleTemplate`,
/// a JSON document).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRuleTemplateOutput {
    pub approval_rule_template: Value,
}

pub type CreateApprovalRuleTemplateOutput = ApprovalRuleTemplateOutput;
pub type GetApprovalRuleTemplateOutput = ApprovalRuleTemplateOutput;
pub type UpdateApprovalRuleTemplateNameOutput = ApprovalRuleTemplateOutput;
pub type UpdateApprovalRuleTemplateDescriptionOutput = ApprovalRuleTemplateOutput;
pub type UpdateApprovalRuleTemplateContentOutput = ApprovalRuleTemplateOutput;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateApprovalRuleTemplateInput {
    pub approval_rule_template_name: Option<String>,
    pub approval_rule_template_content: Option<String>,
    pub approval_rule_template_description: Option<String>,
}

/// The input of the operations that name one template and nothing else.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRuleTemplateNameInput {
    pub approval_rule_template_name: Option<String>,
}

pub type GetApprovalRuleTemplateInput = ApprovalRuleTemplateNameInput;
pub type DeleteApprovalRuleTemplateInput = ApprovalRuleTemplateNameInput;

pub async fn get_approval_rule_template(
    ctx: &Context,
    input: GetApprovalRuleTemplateInput,
) -> Result<GetApprovalRuleTemplateOutput, ApiError> {
    let template = existing_template(ctx, input.approval_rule_template_name.as_deref()).await?;
    Ok(ApprovalRuleTemplateOutput { approval_rule_template: template.body })
}

/// A page request: `nextToken` and `maxResults` (any JSON number, so that a bad one is
/// CodeCommit's own error).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListApprovalRuleTemplatesInput {
    pub next_token: Option<String>,
    pub max_results: Option<serde_json::Number>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRuleTemplateNamesOutput {
    pub approval_rule_template_names: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

pub type ListApprovalRuleTemplatesOutput = ApprovalRuleTemplateNamesOutput;
pub type ListAssociatedApprovalRuleTemplatesForRepositoryOutput = ApprovalRuleTemplateNamesOutput;

pub async fn list_approval_rule_templates(
    ctx: &Context,
    input: ListApprovalRuleTemplatesInput,
) -> Result<ListApprovalRuleTemplatesOutput, ApiError> {
    let mut names: Vec<String> = ctx
        .store
        .list_all(APPROVAL_RULE_TEMPLATE, None)
        .await?
        .into_iter()
        .map(|it| it.key)
        .collect();
    names.sort();
    let (names, next_token) =
        page(input.max_results.as_ref(), input.next_token.as_deref(), &names)?;
    Ok(ApprovalRuleTemplateNamesOutput { approval_rule_template_names: names, next_token })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateApprovalRuleTemplateDescriptionInput {
    pub approval_rule_template_name: Option<String>,
    pub approval_rule_template_description: Option<String>,
}

pub async fn update_approval_rule_template_description(
    ctx: &Context,
    caller: &Caller,
    input: UpdateApprovalRuleTemplateDescriptionInput,
    now: i64,
) -> Result<UpdateApprovalRuleTemplateDescriptionOutput, ApiError> {
    let description = description(input.approval_rule_template_description.as_deref())?
        .ok_or_else(|| {
            error(
                "InvalidApprovalRuleTemplateDescriptionException",
                "An approval rule template description is required",
            )
        })?;
    modify(ctx, caller, input.approval_rule_template_name.as_deref(), now, |body| {
        body["approvalRuleTemplateDescription"] = json!(description);
        Ok(())
    })
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateApprovalRuleTemplateContentInput {
    pub approval_rule_template_name: Option<String>,
    pub new_rule_content: Option<String>,
    pub existing_rule_content_sha256: Option<String>,
}

pub async fn update_approval_rule_template_content(
    ctx: &Context,
    caller: &Caller,
    input: UpdateApprovalRuleTemplateContentInput,
    now: i64,
) -> Result<UpdateApprovalRuleTemplateContentOutput, ApiError> {
    let content = content(input.new_rule_content.as_deref())?;
    let expected = input.existing_rule_content_sha256.unwrap_or_default();
    modify(ctx, caller, input.approval_rule_template_name.as_deref(), now, |body| {
        if !expected.is_empty() && body["ruleContentSha256"] != expected.as_str() {
            return Err(error(
                "InvalidRuleContentSha256Exception",
                "The template's content has changed since its SHA-256 was read",
            ));
        }
        body["approvalRuleTemplateContent"] = json!(content);
        body["ruleContentSha256"] = json!(sha256_hex(&content));
        Ok(())
    })
    .await
}

/// The input of the operations on one template and one repository.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRuleTemplateRepositoryInput {
    pub approval_rule_template_name: Option<String>,
    pub repository_name: Option<String>,
}

pub type AssociateApprovalRuleTemplateWithRepositoryInput = ApprovalRuleTemplateRepositoryInput;
pub type DisassociateApprovalRuleTemplateFromRepositoryInput = ApprovalRuleTemplateRepositoryInput;

pub async fn associate_approval_rule_template_with_repository(
    ctx: &Context,
    input: AssociateApprovalRuleTemplateWithRepositoryInput,
) -> Result<Empty, ApiError> {
    let template = existing_template(ctx, input.approval_rule_template_name.as_deref()).await?;
    let repository = existing_named(ctx, input.repository_name.as_deref()).await?;
    associate(ctx, &template.key, &repository.key).await?;
    Ok(Empty {})
}

pub async fn disassociate_approval_rule_template_from_repository(
    ctx: &Context,
    input: DisassociateApprovalRuleTemplateFromRepositoryInput,
) -> Result<Empty, ApiError> {
    let template = existing_template(ctx, input.approval_rule_template_name.as_deref()).await?;
    let repository = existing_named(ctx, input.repository_name.as_deref()).await?;
    let key = association_key(&template.key, &repository.key);
    ctx.store
        .apply(vec![Write::Delete { kind: APPROVAL_RULE_TEMPLATE_ASSOCIATION.to_owned(), key }])
        .await?;
    Ok(Empty {})
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListAssociatedApprovalRuleTemplatesForRepositoryInput {
    pub repository_name: Option<String>,
    pub next_token: Option<String>,
    pub max_results: Option<serde_json::Number>,
}

pub async fn list_associated_approval_rule_templates_for_repository(
    ctx: &Context,
    input: ListAssociatedApprovalRuleTemplatesForRepositoryInput,
) -> Result<ListAssociatedApprovalRuleTemplatesForRepositoryOutput, ApiError> {
    let repository = existing_named(ctx, input.repository_name.as_deref()).await?;
    let mut names: Vec<String> = ctx
        .store
        .list_all(APPROVAL_RULE_TEMPLATE_ASSOCIATION, Some(&repository.key))
        .await?
        .iter()
        .filter_map(|it| it.body["approvalRuleTemplateName"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    let (names, next_token) =
        page(input.max_results.as_ref(), input.next_token.as_deref(), &names)?;
    Ok(ApprovalRuleTemplateNamesOutput { approval_rule_template_names: names, next_token })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListRepositoriesForApprovalRuleTemplateInput {
    pub approval_rule_template_name: Option<String>,
    pub next_token: Option<String>,
    pub max_results: Option<serde_json::Number>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListRepositoriesForApprovalRuleTemplateOutput {
    pub repository_names: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

pub async fn list_repositories_for_approval_rule_template(
    ctx: &Context,
    input: ListRepositoriesForApprovalRuleTemplateInput,
) -> Result<ListRepositoriesForApprovalRuleTemplateOutput, ApiError> {
    let template = existing_template(ctx, input.approval_rule_template_name.as_deref()).await?;
    let names = associated_repositories(ctx, &template.key).await?;
    let (repository_names, next_token) =
        page(input.max_results.as_ref(), input.next_token.as_deref(), &names)?;
    Ok(ListRepositoriesForApprovalRuleTemplateOutput { repository_names, next_token })
}

/// The approval rules a new pull request of `repository` into `destination` (a full branch
/// reference) starts with: one per associated template that applies to it, named after the
/// template and made by `author`, as in CodeCommit.
pub(super) async fn rules_for(
    ctx: &Context,
    repository: &str,
    destination: &str,
    author: &str,
) -> Result<Vec<Value>, ApiError> {
    let mut names: Vec<String> = ctx
        .store
        .list_all(APPROVAL_RULE_TEMPLATE_ASSOCIATION, Some(repository))
        .await?
        .iter()
        .filter_map(|it| it.body["approvalRuleTemplateName"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    let templates = ctx.store.get_many(APPROVAL_RULE_TEMPLATE, &names).await?;
    let now = engine::clock::aws_timestamp(engine::clock::now_ms());
    let mut rules = Vec::new();
    for name in &names {
        let Some(template) = templates.iter().find(|it| &it.key == name) else { continue };
        let content = template.body["approvalRuleTemplateContent"].as_str().unwrap_or_default();
        if !applies(content, destination) {
            continue;
        }
        rules.push(json!({
            "approvalRuleId": uuid::Uuid::new_v4().to_string(),
            "approvalRuleName": name,
            "approvalRuleContent": content,
            "ruleContentSha256": sha256_hex(content),
            "lastModifiedDate": now,
            "creationDate": now,
            "lastModifiedUser": author,
            "originApprovalRuleTemplate": {
                "approvalRuleTemplateId": template.body["approvalRuleTemplateId"],
                "approvalRuleTemplateName": name,
            },
        }));
    }
    Ok(rules)
}

/// Whether a template's content applies to a pull request into `destination` (a full branch
/// reference): when it names no `DestinationReferences`, or names that one.
pub(super) fn applies(content: &str, destination: &str) -> bool {
    let Ok(document) = serde_json::from_str::<Value>(content) else { return false };
    match document.get("DestinationReferences") {
        None | Some(Value::Null) => true,
        Some(Value::Array(references)) => references.iter().any(|it| it == destination),
        Some(_) => false,
    }
}

/// Why a template's content is not valid: a rule document (as pull requests' rules are)
/// whose `DestinationReferences`, if any, are full branch references.
pub(super) fn check_content(content: &str) -> Result<(), String> {
    if content.len() > MAX_CONTENT {
        return Err(format!("longer than {MAX_CONTENT} characters"));
    }
    super::pulls::approvals::parse_rule(content)?;
    let document: Value = serde_json::from_str(content).map_err(|err| err.to_string())?;
    if let Some(Value::Array(references)) = document.get("DestinationReferences") {
        if references.is_empty() {
            return Err("DestinationReferences must not be empty".to_owned());
        }
        if let Some(bad) = references
            .iter()
            .filter_map(Value::as_str)
            .find(|it| it.strip_prefix("refs/heads/").is_none_or(str::is_empty))
        {
            return Err(format!("{bad} is not a full branch reference (refs/heads/...)"));
        }
    }
    Ok(())
}

/// A template name: 1 to 100 characters.
pub(super) fn check_template_name(name: &str) -> Result<(), ApiError> {
    if name.chars().count() > MAX_NAME || name.trim().is_empty() {
        return Err(error(
            "InvalidApprovalRuleTemplateNameException",
            format!("The approval rule template name {name} is not valid"),
        ));
    }
    Ok(())
}

/// The key of the association of a template with a repository (repository names have no
/// `/`, so the last one separates them).
pub(super) fn association_key(template: &str, repository: &str) -> String {
    format!("{template}/{repository}")
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn user_arn(ctx: &Context, caller: &Caller) -> String {
    format!("arn:aws:iam::{}:user/{}", ctx.account, caller.user)
}

/// A template name member: required (empty counts as missing) and valid.
fn name_field(name: Option<&str>) -> Result<&str, ApiError> {
    let name = name.filter(|it| !it.is_empty()).ok_or_else(|| {
        error(
            "ApprovalRuleTemplateNameRequiredException",
            "An approval rule template name is required, but was not specified.",
        )
    })?;
    check_template_name(name)?;
    Ok(name)
}

fn missing(name: &str) -> ApiError {
    error(
        "ApprovalRuleTemplateDoesNotExistException",
        format!("The approval rule template {name} does not exist"),
    )
}

async fn existing_template(ctx: &Context, name: Option<&str>) -> Result<Document, ApiError> {
    let name = name_field(name)?;
    ctx.store.get(APPROVAL_RULE_TEMPLATE, name).await?.ok_or_else(|| missing(name))
}

/// The optional `approvalRuleTemplateDescription`, checked for length.
fn description(description: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(description) = description else {
        return Ok(None);
    };
    if description.chars().count() > MAX_DESCRIPTION {
        return Err(error(
            "InvalidApprovalRuleTemplateDescriptionException",
            format!("The description is longer than {MAX_DESCRIPTION} characters"),
        ));
    }
    Ok(Some(description.to_owned()))
}

fn content(content: Option<&str>) -> Result<String, ApiError> {
    let content = content.filter(|it| !it.is_empty()).ok_or_else(|| {
        error(
            "ApprovalRuleTemplateContentRequiredException",
            "The approval rule template content is required",
        )
    })?;
    check_content(content).map_err(|why| {
        error(
            "InvalidApprovalRuleTemplateContentException",
            format!("The approval rule template content is not valid: {why}"),
        )
    })?;
    Ok(content.to_owned())
}

/// The names of the repositories a template is associated with, sorted.
async fn associated_repositories(ctx: &Context, template: &str) -> Result<Vec<String>, ApiError> {
    let mut names: Vec<String> = ctx
        .store
        .list_all(APPROVAL_RULE_TEMPLATE_ASSOCIATION, None)
        .await?
        .iter()
        .filter(|it| it.body["approvalRuleTemplateName"] == template)
        .filter_map(|it| it.body["repositoryName"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    Ok(names)
}

/// One page of `items` and the next page's token, with CodeCommit's `nextToken` and
/// `maxResults`.
fn page(
    max_results: Option<&serde_json::Number>,
    next_token: Option<&str>,
    items: &[String],
) -> Result<(Vec<String>, Option<String>), ApiError> {
    let size = match max_results {
        None => DEFAULT_PAGE,
        Some(value) => value
            .as_u64()
            .filter(|it| (1..=100).contains(it))
            .map(|it| it as usize)
            .ok_or_else(|| error("InvalidMaxResultsException", "maxResults must be 1 to 100"))?,
    };
    let start = match next_token {
        Some(token) => token
            .parse::<usize>()
            .map_err(|_| error("InvalidContinuationTokenException", "Invalid nextToken"))?,
        None => 0,
    };
    let page = items.iter().skip(start).take(size).cloned().collect();
    let next = (start.saturating_add(size) < items.len()).then(|| (start + size).to_string());
    Ok((page, next))
}

pub async fn create_approval_rule_template(
    ctx: &Context,
    caller: &Caller,
    input: CreateApprovalRuleTemplateInput,
    now: i64,
) -> Result<CreateApprovalRuleTemplateOutput, ApiError> {
    let name = name_field(input.approval_rule_template_name.as_deref())?.to_owned();
    let content = content(input.approval_rule_template_content.as_deref())?;
    let description =
        description(input.approval_rule_template_description.as_deref())?.unwrap_or_default();
    let exists = || {
        error(
            "ApprovalRuleTemplateNameAlreadyExistsException",
            format!("An approval rule template named {name} already exists"),
        )
    };
    if ctx.store.get(APPROVAL_RULE_TEMPLATE, &name).await?.is_some() {
        return Err(exists());
    }
    if ctx.store.list_all(APPROVAL_RULE_TEMPLATE, None).await?.len() >= MAX_TEMPLATES {
        return Err(error(
            "NumberOfRuleTemplatesExceededException",
            format!("There are already {MAX_TEMPLATES} approval rule templates"),
        ));
    }
    let now_ms = now;
    let now = engine::clock::aws_timestamp(now_ms);
    let body = json!({
        "approvalRuleTemplateId": uuid::Uuid::new_v4().to_string(),
        "approvalRuleTemplateName": name,
        "approvalRuleTemplateDescription": description,
        "approvalRuleTemplateContent": content,
        "ruleContentSha256": sha256_hex(&content),
        "lastModifiedDate": now,
        "creationDate": now,
        "lastModifiedUser": user_arn(ctx, caller),
    });
    let document = Document {
        kind: APPROVAL_RULE_TEMPLATE.to_owned(),
        key: name.clone(),
        parent: None,
        sort: now_ms,
        version: 0,
        body: body.clone(),
    };
    match ctx.store.apply(vec![Write::Insert(document)]).await {
        Ok(()) => Ok(ApprovalRuleTemplateOutput { approval_rule_template: body }),
        Err(StoreError::AlreadyExists { .. }) => Err(exists()),
        Err(err) => Err(err.into()),
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteApprovalRuleTemplateOutput {
    /// The stored id; `""` when there was no such template.
    pub approval_rule_template_id: Value,
}

pub async fn delete_approval_rule_template(
    ctx: &Context,
    input: DeleteApprovalRuleTemplateInput,
) -> Result<DeleteApprovalRuleTemplateOutput, ApiError> {
    let name = name_field(input.approval_rule_template_name.as_deref())?.to_owned();
    // Deleting a template that does not exist succeeds with an empty id, as in CodeCommit.
    let Some(template) = ctx.store.get(APPROVAL_RULE_TEMPLATE, &name).await? else {
        return Ok(DeleteApprovalRuleTemplateOutput { approval_rule_template_id: json!("") });
    };
    if !associated_repositories(ctx, &name).await?.is_empty() {
        return Err(error(
            "ApprovalRuleTemplateInUseException",
            format!(
                "The approval rule template {name} is associated with one or more repositories. Remove all associations, and then try again."
            ),
        ));
    }
    ctx.store
        .apply(vec![Write::Delete { kind: APPROVAL_RULE_TEMPLATE.to_owned(), key: name }])
        .await?;
    Ok(DeleteApprovalRuleTemplateOutput {
        approval_rule_template_id: template.body["approvalRuleTemplateId"].clone(),
    })
}

/// Changes the template `name` names, retrying on a concurrent change; the changed template
/// as the API returns it.
async fn modify(
    ctx: &Context,
    caller: &Caller,
    name: Option<&str>,
    now: i64,
    change: impl Fn(&mut Value) -> Result<(), ApiError>,
) -> Result<ApprovalRuleTemplateOutput, ApiError> {
    let name = name_field(name)?;
    for _ in 0..5 {
        let Some(mut document) = ctx.store.get(APPROVAL_RULE_TEMPLATE, name).await? else {
            return Err(missing(name));
        };
        change(&mut document.body)?;
        document.body["lastModifiedDate"] = json!(engine::clock::aws_timestamp(now));
        document.body["lastModifiedUser"] = json!(user_arn(ctx, caller));
        let body = document.body.clone();
        let version = document.version;
        match ctx.store.apply(vec![Write::Update { document, expected_version: version }]).await {
            Ok(()) => return Ok(ApprovalRuleTemplateOutput { approval_rule_template: body }),
            Err(StoreError::Conflict { .. }) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(ApiError::internal(format!("approval rule template {name} kept changing")))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateApprovalRuleTemplateNameInput {
    pub old_approval_rule_template_name: Option<String>,
    pub new_approval_rule_template_name: Option<String>,
}

/// Renames a template and, in the same batch, its associations.
pub async fn update_approval_rule_template_name(
    ctx: &Context,
    caller: &Caller,
    input: UpdateApprovalRuleTemplateNameInput,
    now: i64,
) -> Result<UpdateApprovalRuleTemplateNameOutput, ApiError> {
    let old = name_field(input.old_approval_rule_template_name.as_deref())?.to_owned();
    let new = name_field(input.new_approval_rule_template_name.as_deref())?.to_owned();
    let Some(mut document) = ctx.store.get(APPROVAL_RULE_TEMPLATE, &old).await? else {
        return Err(missing(&old));
    };
    let exists = || {
        error(
            "ApprovalRuleTemplateNameAlreadyExistsException",
            format!("An approval rule template named {new} already exists"),
        )
    };
    if old == new {
        return Ok(ApprovalRuleTemplateOutput { approval_rule_template: document.body });
    }
    if ctx.store.get(APPROVAL_RULE_TEMPLATE, &new).await?.is_some() {
        return Err(exists());
    }
    document.key.clone_from(&new);
    document.body["approvalRuleTemplateName"] = json!(new);
    document.body["lastModifiedDate"] = json!(engine::clock::aws_timestamp(now));
    document.body["lastModifiedUser"] = json!(user_arn(ctx, caller));
    let body = document.body.clone();
    let mut writes = vec![
        Write::Delete { kind: APPROVAL_RULE_TEMPLATE.to_owned(), key: old.clone() },
        Write::Insert(document),
    ];
    for repository in associated_repositories(ctx, &old).await? {
        writes.push(Write::Delete {
            kind: APPROVAL_RULE_TEMPLATE_ASSOCIATION.to_owned(),
            key: association_key(&old, &repository),
        });
        writes.push(Write::Put(association(&new, &repository)));
    }
    match ctx.store.apply(writes).await {
        Ok(()) => Ok(ApprovalRuleTemplateOutput { approval_rule_template: body }),
        Err(StoreError::AlreadyExists { .. }) => Err(exists()),
        Err(err) => Err(err.into()),
    }
}

fn association(template: &str, repository: &str) -> Document {
    Document {
        kind: APPROVAL_RULE_TEMPLATE_ASSOCIATION.to_owned(),
        key: association_key(template, repository),
        parent: Some(repository.to_owned()),
        sort: 0,
        version: 0,
        body: json!({ "approvalRuleTemplateName": template, "repositoryName": repository }),
    }
}

/// Associates a template with a repository; associating it again changes nothing.
async fn associate(ctx: &Context, template: &str, repository: &str) -> Result<(), ApiError> {
    let associated =
        ctx.store.list_all(APPROVAL_RULE_TEMPLATE_ASSOCIATION, Some(repository)).await?;
    if associated.iter().any(|it| it.body["approvalRuleTemplateName"] == template) {
        return Ok(());
    }
    if associated.len() >= MAX_ASSOCIATED {
        return Err(error(
            "MaximumRuleTemplatesAssociatedWithRepositoryException",
            format!("The repository {repository} already has {MAX_ASSOCIATED} templates"),
        ));
    }
    ctx.store.apply(vec![Write::Put(association(template, repository))]).await?;
    Ok(())
}

/// The input of the batch (dis)associations.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRuleTemplateRepositoriesInput {
    pub approval_rule_template_name: Option<String>,
    pub repository_names: Option<Vec<String>>,
}

pub type BatchAssociateApprovalRuleTemplateWithRepositoriesInput =
    ApprovalRuleTemplateRepositoriesInput;
pub type BatchDisassociateApprovalRuleTemplateFromRepositoriesInput =
    ApprovalRuleTemplateRepositoriesInput;

/// A repository a batch (dis)association did not change, and why (CodeCommit's
/// `Batch(Dis)AssociateApprovalRuleTemplate…Error`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRuleTemplateRepositoryError {
    pub repository_name: String,
    pub error_code: String,
    pub error_message: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchAssociateApprovalRuleTemplateWithRepositoriesOutput {
    pub associated_repository_names: Vec<String>,
    pub errors: Vec<ApprovalRuleTemplateRepositoryError>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchDisassociateApprovalRuleTemplateFromRepositoriesOutput {
    pub disassociated_repository_names: Vec<String>,
    pub errors: Vec<ApprovalRuleTemplateRepositoryError>,
}

pub async fn batch_associate_approval_rule_template_with_repositories(
    ctx: &Context,
    input: BatchAssociateApprovalRuleTemplateWithRepositoriesInput,
) -> Result<BatchAssociateApprovalRuleTemplateWithRepositoriesOutput, ApiError> {
    let (done, errors) = batch(ctx, input, true).await?;
    Ok(BatchAssociateApprovalRuleTemplateWithRepositoriesOutput {
        associated_repository_names: done,
        errors,
    })
}

pub async fn batch_disassociate_approval_rule_template_from_repositories(
    ctx: &Context,
    input: BatchDisassociateApprovalRuleTemplateFromRepositoriesInput,
) -> Result<BatchDisassociateApprovalRuleTemplateFromRepositoriesOutput, ApiError> {
    let (done, errors) = batch(ctx, input, false).await?;
    Ok(BatchDisassociateApprovalRuleTemplateFromRepositoriesOutput {
        disassociated_repository_names: done,
        errors,
    })
}

/// BatchAssociate… (`associate`) or BatchDisassociate…: the repositories changed, and the
/// others with why.
async fn batch(
    ctx: &Context,
    input: ApprovalRuleTemplateRepositoriesInput,
    associate_them: bool,
) -> Result<(Vec<String>, Vec<ApprovalRuleTemplateRepositoryError>), ApiError> {
    let template = existing_template(ctx, input.approval_rule_template_name.as_deref()).await?;
    let names = check_repository_names(input.repository_names)?;
    let (mut done, mut errors) = (Vec::new(), Vec::new());
    for name in names {
        let outcome = match check_name(&name) {
            Err(err) => Err(err),
            Ok(()) => match ctx.store.get(REPOSITORY, &name).await? {
                None => {
                    Err(error("RepositoryDoesNotExistException", format!("{name} does not exist")))
                }
                Some(_) if associate_them => associate(ctx, &template.key, &name).await,
                Some(_) => {
                    let key = association_key(&template.key, &name);
                    ctx.store
                        .apply(vec![Write::Delete {
                            kind: APPROVAL_RULE_TEMPLATE_ASSOCIATION.to_owned(),
                            key,
                        }])
                        .await
                        .map_err(ApiError::from)
                }
            },
        };
        match outcome {
            Ok(()) => done.push(name),
            // What the server answers 5xx for ends the batch.
            Err(err) if matches!(err.kind, ErrorKind::Internal | ErrorKind::Timeout) => {
                return Err(err);
            }
            Err(err) => errors.push(ApprovalRuleTemplateRepositoryError {
                repository_name: name,
                error_code: err.code,
                error_message: err.message,
            }),
        }
    }
    Ok((done, errors))
}

#[cfg(test)]
mod tests;
