//! CodeBuild webhooks for hosted repositories: a push starts a build.
//!
//! `CreateWebhook`, `UpdateWebhook` and `DeleteWebhook` keep a webhook on a project whose source
//! is a hosted repository (`CODECOMMIT`), as the project document's `webhook` field.
//! [`start_builds`] (the server's `webhooks` loop runs it) follows every repository's reference events (with a cursor per
//! repository, so a restart neither repeats nor loses a push) and starts a build for each event
//! that one of the webhook's filter groups accepts: the filters of a group must all match,
//! any group may. Supported filters: `EVENT` (`PUSH`), `HEAD_REF`, `FILE_PATH`,
//! `ACTOR_ACCOUNT_ID` (the pushing user), `COMMIT_MESSAGE` and `REPOSITORY_NAME`, each with
//! `excludeMatchedPattern`. The build gets the `CODEBUILD_WEBHOOK_*` variables.

use awsapi::ApiError;
use engine::kinds::{PROJECT, WEBHOOK_CURSOR};
use engine::store::{Document, StoreError, Write};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{Context, invalid};

/// CreateWebhook's input.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateWebhookInput {
    /// Required.
    pub project_name: Option<String>,
    /// A regular expression the pushed branch's name must match.
    pub branch_filter: Option<String>,
    /// Any group may accept a push; all of a group's filters must.
    pub filter_groups: Option<Vec<Vec<WebhookFilter>>>,
    /// `BUILD` by default.
    pub build_type: Option<String>,
}

/// UpdateWebhook's input: what is given replaces the webhook's setting.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateWebhookInput {
    /// Required.
    pub project_name: Option<String>,
    pub branch_filter: Option<String>,
    pub filter_groups: Option<Vec<Vec<WebhookFilter>>>,
    pub build_type: Option<String>,
}

/// DeleteWebhook's input.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteWebhookInput {
    /// Required.
    pub project_name: Option<String>,
}

/// One filter of a webhook's filter group (`WebhookFilter`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookFilter {
    /// `EVENT`, `HEAD_REF`, `FILE_PATH`, … (see the module's documentation).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exclude_matched_pattern: Option<bool>,
}

/// The output of CreateWebhook and UpdateWebhook: the webhook as the project keeps it.
#[derive(Debug, Serialize)]
pub struct WebhookOutput {
    pub webhook: Value,
}

/// CreateWebhook's output.
pub type CreateWebhookOutput = WebhookOutput;
/// UpdateWebhook's output.
pub type UpdateWebhookOutput = WebhookOutput;

/// DeleteWebhook's output (empty).
#[derive(Debug, Serialize)]
pub struct DeleteWebhookOutput {}

const ALLOWED_FILTERS: &[&str] = &[
    "EVENT",
    "HEAD_REF",
    "BASE_REF",
    "FILE_PATH",
    "ACTOR_ACCOUNT_ID",
    "COMMIT_MESSAGE",
    "REPOSITORY_NAME",
];

/// The repository a CODECOMMIT project builds, by name.
pub fn repository_of(project: &Value) -> Option<String> {
    if project["source"]["type"] != "CODECOMMIT" {
        return None;
    }
    let location = project["source"]["location"].as_str()?.trim_end_matches('/');
    let name = location.rsplit("/v1/repos/").next()?.trim_end_matches(".git");
    (!name.is_empty()).then(|| name.to_owned())
}

fn check_filter_groups(groups: &[Vec<WebhookFilter>]) -> Result<(), ApiError> {
    for filters in groups {
        for filter in filters {
            let kind = filter.kind.as_deref().unwrap_or_default();
            if !ALLOWED_FILTERS.contains(&kind) {
                return Err(invalid(format!(
                    "Filter type {kind} is not supported for hosted repositories; use one of {}",
                    ALLOWED_FILTERS.join(", ")
                )));
            }
            let pattern = filter.pattern.as_deref().unwrap_or_default();
            if kind == "EVENT" {
                for event in pattern.split(',').map(str::trim) {
                    if event != "PUSH" {
                        return Err(invalid(format!(
                            "Event {event} is not supported for hosted repositories; use PUSH"
                        )));
                    }
                }
            } else if let Err(err) = regex::Regex::new(pattern) {
                return Err(invalid(format!("Invalid pattern {pattern}: {err}")));
            }
        }
    }
    Ok(())
}

/// The project a webhook operation names (`projectName`).
async fn project(ctx: &Context, name: Option<&str>) -> Result<Document, ApiError> {
    let name = name.ok_or_else(|| invalid("projectName is required"))?;
    ctx.store.get(PROJECT, name).await?.ok_or_else(|| {
        ApiError::client(
            "ResourceNotFoundException",
            format!("Project cannot be found: {}", crate::arn(ctx, &format!("project/{name}"))),
        )
    })
}

/// Writes a project's webhook (or removes it), together with `with` in one transaction,
/// retrying on a concurrent change.
async fn set_webhook(
    ctx: &Context,
    project_name: Option<&str>,
    webhook: Option<Value>,
    with: Vec<Write>,
) -> Result<(), ApiError> {
    for _ in 0..5 {
        let mut document = project(ctx, project_name).await?;
        match &webhook {
            Some(webhook) => document.body["webhook"] = webhook.clone(),
            None => {
                if let Some(body) = document.body.as_object_mut() {
                    body.remove("webhook");
                }
            }
        }
        let version = document.version;
        let mut writes = with.clone();
        writes.push(Write::Update { document, expected_version: version });
        match ctx.store.apply(writes).await {
            Ok(()) => return Ok(()),
            Err(StoreError::Conflict { .. }) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(ApiError::internal("a project kept changing while its webhook was set"))
}

/// CreateWebhook at `now_ms`: the webhook and its repository's cursor in one transaction.
pub async fn create_webhook(
    ctx: &Context,
    input: CreateWebhookInput,
    now_ms: i64,
) -> Result<CreateWebhookOutput, ApiError> {
    let name = input.project_name.as_deref();
    let document = project(ctx, name).await?;
    if repository_of(&document.body).is_none() {
        return Err(invalid(
            "Webhooks need a project whose source is a hosted repository (type CODECOMMIT)",
        ));
    }
    if document.body.get("webhook").is_some() {
        return Err(ApiError::client(
            "ResourceAlreadyExistsException",
            "The project already has a webhook",
        ));
    }
    let groups = input.filter_groups.unwrap_or_default();
    check_filter_groups(&groups)?;
    let now = engine::clock::aws_timestamp(now_ms);
    let mut webhook = json!({
        "filterGroups": groups,
        "buildType": input.build_type.as_deref().unwrap_or("BUILD"),
        "manualCreation": false,
        "lastModifiedSecret": now,
        "status": "ACTIVE",
    });
    if let Some(filter) = input.branch_filter.as_deref() {
        regex::Regex::new(filter).map_err(|err| invalid(format!("Invalid branchFilter: {err}")))?;
        webhook["branchFilter"] = json!(filter);
    }
    // Pushes from before the webhook existed start nothing: its repository's cursor starts at
    // the newest event now, written with the webhook.
    let mut with = Vec::new();
    if let Some(repository) = repository_of(&document.body) {
        let last = ctx.repositories.latest_event(&repository).await?;
        let cursor = Document {
            kind: WEBHOOK_CURSOR.to_owned(),
            key: repository,
            parent: None,
            sort: 0,
            version: 0,
            body: json!({ "seq": last }),
        };
        with.push(Write::Put(cursor));
    }
    set_webhook(ctx, name, Some(webhook.clone()), with).await?;
    Ok(WebhookOutput { webhook })
}

/// UpdateWebhook: the settings given replace the webhook's.
pub async fn update_webhook(
    ctx: &Context,
    input: UpdateWebhookInput,
) -> Result<UpdateWebhookOutput, ApiError> {
    let name = input.project_name.as_deref();
    let document = project(ctx, name).await?;
    let Some(mut webhook) = document.body.get("webhook").cloned() else {
        return Err(ApiError::client("ResourceNotFoundException", "The project has no webhook"));
    };
    if let Some(groups) = &input.filter_groups {
        check_filter_groups(groups)?;
        webhook["filterGroups"] = json!(groups);
    }
    if let Some(filter) = input.branch_filter.as_deref() {
        regex::Regex::new(filter).map_err(|err| invalid(format!("Invalid branchFilter: {err}")))?;
        webhook["branchFilter"] = json!(filter);
    }
    if let Some(kind) = &input.build_type {
        webhook["buildType"] = json!(kind);
    }
    set_webhook(ctx, name, Some(webhook.clone()), Vec::new()).await?;
    Ok(WebhookOutput { webhook })
}

/// DeleteWebhook.
pub async fn delete_webhook(
    ctx: &Context,
    input: DeleteWebhookInput,
) -> Result<DeleteWebhookOutput, ApiError> {
    let name = input.project_name.as_deref();
    let document = project(ctx, name).await?;
    if document.body.get("webhook").is_none() {
        return Err(ApiError::client("ResourceNotFoundException", "The project has no webhook"));
    }
    set_webhook(ctx, name, None, Vec::new()).await?;
    Ok(DeleteWebhookOutput {})
}

/// What a push tells a webhook's filters.
pub struct Push<'a> {
    pub repository: &'a str,
    pub reference: &'a str,
    pub user: &'a str,
    pub message: &'a str,
    pub files: &'a [String],
}

/// Whether the webhook starts a build for the push.
pub fn accepts(webhook: &Value, push: &Push<'_>) -> bool {
    if let Some(filter) = webhook["branchFilter"].as_str().filter(|it| !it.is_empty()) {
        let branch = push.reference.strip_prefix("refs/heads/").unwrap_or(push.reference);
        if !regex::Regex::new(filter).is_ok_and(|re| re.is_match(branch)) {
            return false;
        }
    }
    let groups = webhook["filterGroups"].as_array().cloned().unwrap_or_default();
    if groups.is_empty() {
        return true;
    }
    groups.iter().any(|group| {
        group.as_array().into_iter().flatten().all(|filter| {
            let pattern = filter["pattern"].as_str().unwrap_or_default();
            let matched = match filter["type"].as_str().unwrap_or_default() {
                "EVENT" => pattern.split(',').any(|it| it.trim() == "PUSH"),
                kind => {
                    let Ok(re) = regex::Regex::new(pattern) else { return false };
                    match kind {
                        "HEAD_REF" => re.is_match(push.reference),
                        // A push has no base reference: only an excluding filter can pass.
                        "BASE_REF" => false,
                        "FILE_PATH" => push.files.iter().any(|it| re.is_match(it)),
                        "ACTOR_ACCOUNT_ID" => re.is_match(push.user),
                        "COMMIT_MESSAGE" => re.is_match(push.message),
                        "REPOSITORY_NAME" => re.is_match(push.repository),
                        _ => false,
                    }
                }
            };
            matched != filter["excludeMatchedPattern"].as_bool().unwrap_or(false)
        })
    })
}

/// Whether one of the webhook's filters is of type `kind`.
fn uses_filter(webhook: &Value, kind: &str) -> bool {
    webhook["filterGroups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .any(|filter| filter["type"] == kind)
}

/// One look at every repository's new events, at `now`: for each repository, the builds its
/// new events start and its cursor moving past them commit in one transaction, so a crash
/// neither loses those builds nor starts them twice.
pub async fn start_builds(ctx: &Context, now: i64) -> Result<(), ApiError> {
    let projects: Vec<Document> = ctx
        .store
        .list_all(PROJECT, None)
        .await?
        .into_iter()
        .filter(|it| it.body.get("webhook").is_some())
        .collect();
    let mut repositories: Vec<String> =
        projects.iter().filter_map(|it| repository_of(&it.body)).collect();
    repositories.sort();
    repositories.dedup();
    for repository in repositories {
        let cursor = ctx.store.get(WEBHOOK_CURSOR, &repository).await?;
        // The first look only notes where the history is: pushes from before the webhook
        // existed start nothing.
        let Some(seen) = cursor.as_ref().and_then(|it| it.body["seq"].as_i64()) else {
            let last = ctx.repositories.latest_event(&repository).await?;
            ctx.store.apply(vec![cursor_write(&repository, cursor, last)]).await?;
            continue;
        };
        let events = ctx.repositories.events_after(&repository, seen).await?;
        let Some(last) = events.last().map(|it| it.sort) else { continue };
        let mut writes = Vec::new();
        let mut started = Vec::new();
        for event in &events {
            for project in projects
                .iter()
                .filter(|it| repository_of(&it.body).as_deref() == Some(repository.as_str()))
            {
                // A build that cannot start (its buildspec unreadable, say) is logged and
                // skipped: the push's other builds still start.
                match maybe_build(ctx, project, &event.body, now).await {
                    Ok(Some((build_writes, build))) => {
                        writes.extend(build_writes);
                        started.push((project.key.clone(), build));
                    }
                    Ok(None) => {}
                    Err(err) => {
                        tracing::error!(project = %project.key, code = %err.code, message = %err.message, "webhooks: starting a build");
                    }
                }
            }
        }
        writes.push(cursor_write(&repository, cursor, last));
        // On a conflict another replica moved the cursor: it started these builds.
        match ctx.store.apply(writes).await {
            Ok(()) => {}
            Err(StoreError::Conflict { .. } | StoreError::AlreadyExists { .. }) => continue,
            Err(err) => return Err(err.into()),
        }
        for (project, build) in &started {
            tracing::info!(%project, build = %build["id"], "webhook: push started a build");
        }
        if !started.is_empty() {
            ctx.jobs.notify_waiters();
        }
    }
    Ok(())
}

/// The write that moves a repository's cursor (read as `previous`) to `seq`: version-checked,
/// so two replicas never both handle one event.
fn cursor_write(repository: &str, previous: Option<Document>, seq: i64) -> Write {
    let body = json!({ "seq": seq });
    match previous {
        Some(mut document) => {
            let version = document.version;
            document.body = body;
            Write::Update { document, expected_version: version }
        }
        None => Write::Insert(Document {
            kind: WEBHOOK_CURSOR.to_owned(),
            key: repository.to_owned(),
            parent: None,
            sort: 0,
            version: 0,
            body,
        }),
    }
}

/// The writes that start `project`'s build for the ref event `event`, and the build, when its
/// webhook accepts the push.
async fn maybe_build(
    ctx: &Context,
    project: &Document,
    event: &Value,
    now: i64,
) -> Result<Option<(Vec<Write>, Value)>, ApiError> {
    let reference = event["ref"].as_str().unwrap_or_default();
    let Some(branch) = reference.strip_prefix("refs/heads/") else { return Ok(None) };
    if event["event"] == "deleted" {
        return Ok(None);
    }
    let repository = event["repositoryName"].as_str().unwrap_or_default();
    let new = event["newCommit"].as_str().unwrap_or_default();
    let old = event["oldCommit"].as_str().unwrap_or_default();
    let user = event["user"].as_str().unwrap_or_default();
    let webhook = &project.body["webhook"];
    // The message and the changed files cost a git process each: asked only when a filter
    // looks at them.
    let message = if uses_filter(webhook, "COMMIT_MESSAGE") {
        ctx.repositories.commit_message(repository, new).await?
    } else {
        String::new()
    };
    let files = if uses_filter(webhook, "FILE_PATH") {
        ctx.repositories.changed_files(repository, old, new).await?
    } else {
        Vec::new()
    };
    let push = Push { repository, reference, user, message: message.trim_end(), files: &files };
    if !accepts(webhook, &push) {
        return Ok(None);
    }
    let caller =
        awsapi::Caller { user: user.to_owned(), access_key_id: String::new(), host: String::new() };
    let origin = crate::builds::Origin {
        commit: new.to_owned(),
        branch: branch.to_owned(),
        variables: vec![
            ("CODEBUILD_WEBHOOK_TRIGGER".to_owned(), format!("branch/{branch}")),
            ("CODEBUILD_WEBHOOK_EVENT".to_owned(), "PUSH".to_owned()),
            ("CODEBUILD_WEBHOOK_HEAD_REF".to_owned(), reference.to_owned()),
            ("CODEBUILD_WEBHOOK_PREV_COMMIT".to_owned(), old.to_owned()),
            ("CODEBUILD_WEBHOOK_ACTOR_ACCOUNT_ID".to_owned(), user.to_owned()),
        ],
    };
    let input = crate::builds::StartBuildInput {
        project_name: Some(project.key.clone()),
        ..Default::default()
    };
    match crate::builds::plan_build(ctx, &caller, &input, Some(origin), now).await? {
        crate::builds::Planned::New { writes, build, .. } => Ok(Some((writes, build))),
        // A push's build has no idempotency token.
        crate::builds::Planned::Existing(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests;
