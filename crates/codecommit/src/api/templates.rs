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
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{check_name, error, existing, repository_names};
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

/// The operations `call` answers.
pub(super) const OPERATIONS: [&str; 13] = [
    "CreateApprovalRuleTemplate",
    "GetApprovalRuleTemplate",
    "DeleteApprovalRuleTemplate",
    "ListApprovalRuleTemplates",
    "UpdateApprovalRuleTemplateName",
    "UpdateApprovalRuleTemplateDescription",
    "UpdateApprovalRuleTemplateContent",
    "AssociateApprovalRuleTemplateWithRepository",
    "DisassociateApprovalRuleTemplateFromRepository",
    "BatchAssociateApprovalRuleTemplateWithRepositories",
    "BatchDisassociateApprovalRuleTemplateFromRepositories",
    "ListAssociatedApprovalRuleTemplatesForRepository",
    "ListRepositoriesForApprovalRuleTemplate",
];

/// One of the template operations (`OPERATIONS`).
pub(super) async fn call(
    ctx: &Context,
    caller: &Caller,
    operation: &str,
    input: Value,
) -> Result<Value, ApiError> {
    match operation {
        "CreateApprovalRuleTemplate" => create(ctx, caller, input).await,
        "GetApprovalRuleTemplate" => {
            let template = existing_template(ctx, &input, "approvalRuleTemplateName").await?;
            Ok(json!({ "approvalRuleTemplate": template.body }))
        }
        "DeleteApprovalRuleTemplate" => delete(ctx, input).await,
        "ListApprovalRuleTemplates" => {
            let mut names: Vec<String> = ctx
                .store
                .list_all(APPROVAL_RULE_TEMPLATE, None)
                .await?
                .into_iter()
                .map(|it| it.key)
                .collect();
            names.sort();
            page(&input, &names, "approvalRuleTemplateNames")
        }
        "UpdateApprovalRuleTemplateName" => update_name(ctx, caller, input).await,
        "UpdateApprovalRuleTemplateDescription" => {
            let description = description(&input)?.ok_or_else(|| {
                error(
                    "InvalidApprovalRuleTemplateDescriptionException",
                    "An approval rule template description is required",
                )
            })?;
            modify(ctx, caller, &input, |body| {
                body["approvalRuleTemplateDescription"] = json!(description);
                Ok(())
            })
            .await
        }
        "UpdateApprovalRuleTemplateContent" => {
            let content = content(&input, "newRuleContent")?;
            let expected =
                input.get("existingRuleContentSha256").and_then(Value::as_str).unwrap_or_default();
            modify(ctx, caller, &input, |body| {
                if !expected.is_empty() && body["ruleContentSha256"] != expected {
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
        "AssociateApprovalRuleTemplateWithRepository" => {
            let template = existing_template(ctx, &input, "approvalRuleTemplateName").await?;
            let repository = existing(ctx, &input, "repositoryName").await?;
            associate(ctx, &template.key, &repository.key).await?;
            Ok(json!({}))
        }
        "DisassociateApprovalRuleTemplateFromRepository" => {
            let template = existing_template(ctx, &input, "approvalRuleTemplateName").await?;
            let repository = existing(ctx, &input, "repositoryName").await?;
            let key = association_key(&template.key, &repository.key);
            ctx.store
                .apply(vec![Write::Delete {
                    kind: APPROVAL_RULE_TEMPLATE_ASSOCIATION.to_owned(),
                    key,
                }])
                .await?;
            Ok(json!({}))
        }
        "BatchAssociateApprovalRuleTemplateWithRepositories" => batch(ctx, input, true).await,
        "BatchDisassociateApprovalRuleTemplateFromRepositories" => batch(ctx, input, false).await,
        "ListAssociatedApprovalRuleTemplatesForRepository" => {
            let repository = existing(ctx, &input, "repositoryName").await?;
            let mut names: Vec<String> = ctx
                .store
                .list_all(APPROVAL_RULE_TEMPLATE_ASSOCIATION, Some(&repository.key))
                .await?
                .iter()
                .filter_map(|it| it.body["approvalRuleTemplateName"].as_str().map(str::to_owned))
                .collect();
            names.sort();
            page(&input, &names, "approvalRuleTemplateNames")
        }
        "ListRepositoriesForApprovalRuleTemplate" => {
            let template = existing_template(ctx, &input, "approvalRuleTemplateName").await?;
            let names = associated_repositories(ctx, &template.key).await?;
            page(&input, &names, "repositoryNames")
        }
        _ => Err(error(
            "UnknownOperationException",
            format!("Slipway does not implement the CodeCommit operation {operation} yet"),
        )),
    }
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

fn name_field<'a>(input: &'a Value, field: &str) -> Result<&'a str, ApiError> {
    let name =
        input.get(field).and_then(Value::as_str).filter(|it| !it.is_empty()).ok_or_else(|| {
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

async fn existing_template(
    ctx: &Context,
    input: &Value,
    field: &str,
) -> Result<Document, ApiError> {
    let name = name_field(input, field)?;
    ctx.store.get(APPROVAL_RULE_TEMPLATE, name).await?.ok_or_else(|| missing(name))
}

/// The optional `approvalRuleTemplateDescription`, checked for length.
fn description(input: &Value) -> Result<Option<String>, ApiError> {
    let Some(description) = input.get("approvalRuleTemplateDescription").and_then(Value::as_str)
    else {
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

fn content(input: &Value, field: &str) -> Result<String, ApiError> {
    let content =
        input.get(field).and_then(Value::as_str).filter(|it| !it.is_empty()).ok_or_else(|| {
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

/// One page of `items` under `member`, with CodeCommit's `nextToken` and `maxResults`.
fn page(input: &Value, items: &[String], member: &str) -> Result<Value, ApiError> {
    let size = match input.get("maxResults") {
        None | Some(Value::Null) => DEFAULT_PAGE,
        Some(value) => value
            .as_u64()
            .filter(|it| (1..=100).contains(it))
            .map(|it| it as usize)
            .ok_or_else(|| error("InvalidMaxResultsException", "maxResults must be 1 to 100"))?,
    };
    let start = match input.get("nextToken").and_then(Value::as_str) {
        Some(token) => token
            .parse::<usize>()
            .map_err(|_| error("InvalidContinuationTokenException", "Invalid nextToken"))?,
        None => 0,
    };
    let page: Vec<&String> = items.iter().skip(start).take(size).collect();
    let mut output = json!({ member: page });
    if start + size < items.len() {
        output["nextToken"] = json!((start + size).to_string());
    }
    Ok(output)
}

async fn create(ctx: &Context, caller: &Caller, input: Value) -> Result<Value, ApiError> {
    let name = name_field(&input, "approvalRuleTemplateName")?.to_owned();
    let content = content(&input, "approvalRuleTemplateContent")?;
    let description = description(&input)?.unwrap_or_default();
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
    let now_ms = engine::clock::now_ms();
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
        Ok(()) => Ok(json!({ "approvalRuleTemplate": body })),
        Err(StoreError::AlreadyExists { .. }) => Err(exists()),
        Err(err) => Err(err.into()),
    }
}

async fn delete(ctx: &Context, input: Value) -> Result<Value, ApiError> {
    let name = name_field(&input, "approvalRuleTemplateName")?.to_owned();
    // Deleting a template that does not exist succeeds with an empty id, as in CodeCommit.
    let Some(template) = ctx.store.get(APPROVAL_RULE_TEMPLATE, &name).await? else {
        return Ok(json!({ "approvalRuleTemplateId": "" }));
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
    Ok(json!({ "approvalRuleTemplateId": template.body["approvalRuleTemplateId"] }))
}

/// Changes the template `approvalRuleTemplateName` names, retrying on a concurrent change;
/// the changed template as the API returns it.
async fn modify(
    ctx: &Context,
    caller: &Caller,
    input: &Value,
    change: impl Fn(&mut Value) -> Result<(), ApiError>,
) -> Result<Value, ApiError> {
    let name = name_field(input, "approvalRuleTemplateName")?;
    for _ in 0..5 {
        let Some(mut document) = ctx.store.get(APPROVAL_RULE_TEMPLATE, name).await? else {
            return Err(missing(name));
        };
        change(&mut document.body)?;
        document.body["lastModifiedDate"] =
            json!(engine::clock::aws_timestamp(engine::clock::now_ms()));
        document.body["lastModifiedUser"] = json!(user_arn(ctx, caller));
        let body = document.body.clone();
        let version = document.version;
        match ctx.store.apply(vec![Write::Update { document, expected_version: version }]).await {
            Ok(()) => return Ok(json!({ "approvalRuleTemplate": body })),
            Err(StoreError::Conflict { .. }) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(ApiError::internal(format!("approval rule template {name} kept changing")))
}

/// Renames a template and, in the same batch, its associations.
async fn update_name(ctx: &Context, caller: &Caller, input: Value) -> Result<Value, ApiError> {
    let old = name_field(&input, "oldApprovalRuleTemplateName")?.to_owned();
    let new = name_field(&input, "newApprovalRuleTemplateName")?.to_owned();
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
        return Ok(json!({ "approvalRuleTemplate": document.body }));
    }
    if ctx.store.get(APPROVAL_RULE_TEMPLATE, &new).await?.is_some() {
        return Err(exists());
    }
    document.key.clone_from(&new);
    document.body["approvalRuleTemplateName"] = json!(new);
    document.body["lastModifiedDate"] =
        json!(engine::clock::aws_timestamp(engine::clock::now_ms()));
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
        Ok(()) => Ok(json!({ "approvalRuleTemplate": body })),
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

/// BatchAssociate… (`associate`) or BatchDisassociate…: what happened to each repository.
async fn batch(ctx: &Context, input: Value, associate_them: bool) -> Result<Value, ApiError> {
    let template = existing_template(ctx, &input, "approvalRuleTemplateName").await?;
    let names = repository_names(&input)?;
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
            Err(err) => errors.push(json!({
                "repositoryName": name,
                "errorCode": err.code,
                "errorMessage": err.message,
            })),
        }
    }
    Ok(if associate_them {
        json!({ "associatedRepositoryNames": done, "errors": errors })
    } else {
        json!({ "disassociatedRepositoryNames": done, "errors": errors })
    })
}

#[cfg(test)]
mod tests;
