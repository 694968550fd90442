//! CodeBuild projects: CreateProject, UpdateProject, DeleteProject, BatchGetProjects and
//! ListProjects; builds are in `builds`, reports in `reports`.
//!
//! Shapes, defaults and errors follow the botocore model (`codebuild/2016-10-06`). Projects are
//! stored as the JSON the API returns, so `BatchGetProjects` gives back exactly what was
//! created, with the server's defaults filled in.

use engine::store::{Document, StoreError, Write};
use serde_json::{Value, json};

use awsapi::{ApiError, paging};
use engine::kinds::PROJECT;
use serde::{Deserialize, Serialize};

use crate::{Context, builds, invalid};

/// CreateProject's input: the members a client may set (everything else in the input is
/// ignored, as AWS does). The structures (`source`, `environment`, …) are kept as they came:
/// they are stored as the project and checked as a whole (`check_project`).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateProjectInput {
    /// Required (for UpdateProject: the name or ARN of the project to update).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secondary_sources: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secondary_source_versions: Option<Value>,
    /// Required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifacts: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secondary_artifacts: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<Value>,
    /// Required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<Value>,
    /// Required: a role name or a role ARN of this account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_role: Option<String>,
    /// 5 to 2160; 60 by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_in_minutes: Option<i64>,
    /// 5 to 480; 480 by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queued_timeout_in_minutes: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_config: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub badge_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logs_config: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_system_locations: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_batch_config: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrent_build_limit: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_retry_limit: Option<i64>,
}

/// UpdateProject's input: CreateProject's members; those given replace the project's.
pub type UpdateProjectInput = CreateProjectInput;

/// CreateProject's and UpdateProject's output: the project as stored (the JSON the API
/// returns, with the server's defaults filled in).
#[derive(Debug, Serialize)]
pub struct ProjectOutput {
    pub project: Value,
}

/// DeleteProject's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteProjectInput {
    /// A project name or ARN; required.
    pub name: Option<String>,
}

/// DeleteProject's output (empty).
#[derive(Debug, Serialize)]
pub struct DeleteProjectOutput {}

/// BatchGetProjects' input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchGetProjectsInput {
    /// Project names or ARNs, 1 to 100; required.
    pub names: Option<Vec<String>>,
}

/// BatchGetProjects' output: the projects as stored.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchGetProjectsOutput {
    pub projects: Vec<Value>,
    pub projects_not_found: Vec<String>,
}

/// ListProjects' input.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListProjectsInput {
    /// `NAME` (the default), `CREATED_TIME` or `LAST_MODIFIED_TIME`.
    pub sort_by: Option<String>,
    /// `ASCENDING` (the default) or `DESCENDING`.
    pub sort_order: Option<String>,
    pub next_token: Option<String>,
}

/// ListProjects' output: a page of project names.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListProjectsOutput {
    pub projects: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// How many names `ListProjects` returns per page, as AWS does.
const PAGE_SIZE: usize = 100;

fn required_str<'a>(input: &'a Value, field: &str) -> Result<&'a str, ApiError> {
    input.get(field).and_then(Value::as_str).ok_or_else(|| invalid(format!("{field} is required")))
}

pub(crate) fn project_arn(ctx: &Context, name: &str) -> String {
    crate::arn(ctx, &format!("project/{name}"))
}

/// A project name, or the name inside a project ARN.
fn project_name(name_or_arn: &str) -> &str {
    match name_or_arn.strip_prefix("arn:") {
        Some(_) => name_or_arn.rsplit_once("project/").map_or(name_or_arn, |(_, name)| name),
        None => name_or_arn,
    }
}

fn check_name(name: &str) -> Result<(), ApiError> {
    let mut chars = name.chars();
    let valid = (2..=150).contains(&name.len())
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(invalid(format!(
            "Invalid project name: {name}. A name is 2 to 150 letters, digits, - and _, starting with a letter or digit"
        )))
    }
}

fn check_enum(value: &Value, field: &str, allowed: &[&str]) -> Result<(), ApiError> {
    match value.get(field).and_then(Value::as_str) {
        Some(it) if allowed.contains(&it) => Ok(()),
        Some(it) => {
            Err(invalid(format!("Invalid {field}: {it}; expected one of {}", allowed.join(", "))))
        }
        None => Err(invalid(format!("{field} is required"))),
    }
}

fn check_range(
    input: &Value,
    field: &str,
    range: std::ops::RangeInclusive<i64>,
) -> Result<(), ApiError> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(()),
        Some(value) => match value.as_i64() {
            Some(n) if range.contains(&n) => Ok(()),
            _ => Err(invalid(format!(
                "{field} must be between {} and {}, found {value}",
                range.start(),
                range.end()
            ))),
        },
    }
}

const SOURCE_TYPES: &[&str] = &[
    "CODECOMMIT",
    "CODEPIPELINE",
    "GITHUB",
    "GITHUB_ENTERPRISE",
    "GITLAB",
    "GITLAB_SELF_MANAGED",
    "BITBUCKET",
    "S3",
    "NO_SOURCE",
];
const ARTIFACT_TYPES: &[&str] = &["CODEPIPELINE", "S3", "NO_ARTIFACTS"];
const ENVIRONMENT_TYPES: &[&str] = &[
    "LINUX_CONTAINER",
    "LINUX_GPU_CONTAINER",
    "ARM_CONTAINER",
    "WINDOWS_CONTAINER",
    "WINDOWS_SERVER_2019_CONTAINER",
    "WINDOWS_SERVER_2022_CONTAINER",
    "LINUX_LAMBDA_CONTAINER",
    "ARM_LAMBDA_CONTAINER",
    "LINUX_EC2",
    "ARM_EC2",
    "WINDOWS_EC2",
    "MAC_ARM",
];
const VARIABLE_TYPES: &[&str] = &["PLAINTEXT", "PARAMETER_STORE", "SECRETS_MANAGER"];

/// The source types this server builds (StartBuild refuses the others).
const BUILT_SOURCE_TYPES: &[&str] = &["CODECOMMIT", "S3", "NO_SOURCE"];

/// Why an S3 source `location` names no zip: it must be `<bucket>/<key>` (or the object's
/// ARN).
pub(crate) fn s3_source_refusal(location: &str) -> String {
    format!(
        "Invalid source location {location:?}: a source of type S3 is the zip <bucket>/<key> (or arn:aws:s3:::<bucket>/<key>), with a key"
    )
}

/// A service role as CodeBuild takes it: a role name (IAM's `[\w+=,.@-]{1,64}`), or the ARN
/// of a role in this account (`arn:aws:iam::<account>:role/<path/>name`).
fn check_service_role(role: &str, account: &str) -> Result<(), ApiError> {
    let is_name = |name: &str| {
        (1..=64).contains(&name.len())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
    };
    let Some(rest) = role.strip_prefix("arn:") else {
        return if is_name(role) {
            Ok(())
        } else {
            Err(invalid(format!(
                "Invalid service role: {role} is neither a role name nor a role ARN"
            )))
        };
    };
    let parts: Vec<&str> = rest.splitn(5, ':').collect();
    let [partition, service, region, role_account, resource] = parts[..] else {
        return Err(invalid(format!("Invalid service role ARN: {role}")));
    };
    let name = resource.strip_prefix("role/").map(|it| it.rsplit('/').next().unwrap_or(it));
    if partition != "aws" || service != "iam" || !region.is_empty() || !name.is_some_and(is_name) {
        return Err(invalid(format!("Invalid service role ARN: {role}")));
    }
    if role_account != account {
        return Err(invalid(format!(
            "Invalid service role: {role} belongs to account {role_account}, not to this account ({account})"
        )));
    }
    Ok(())
}

/// Artifacts of type S3 name their bucket (`location`) and a packaging CodeBuild knows.
fn check_s3_artifacts(artifacts: &Value) -> Result<(), ApiError> {
    if artifacts["type"] != "S3" {
        return Ok(());
    }
    if artifacts["location"].as_str().is_none_or(str::is_empty) {
        return Err(invalid("Artifacts of type S3 need a location: the name of their bucket"));
    }
    if artifacts.get("packaging").is_some() {
        check_enum(artifacts, "packaging", &["NONE", "ZIP"])?;
    }
    if artifacts.get("namespaceType").is_some() {
        check_enum(artifacts, "namespaceType", &["NONE", "BUILD_ID"])?;
    }
    Ok(())
}

/// Checks a whole project (after an update is merged in), as CreateProject would.
fn check_project(project: &Value, account: &str) -> Result<(), ApiError> {
    check_name(required_str(project, "name")?)?;
    let source = project.get("source").ok_or_else(|| invalid("source is required"))?;
    check_enum(source, "type", SOURCE_TYPES)?;
    let source_type = source["type"].as_str().unwrap_or_default();
    // What StartBuild would refuse later is refused now.
    if !BUILT_SOURCE_TYPES.contains(&source_type) {
        return Err(invalid(format!(
            "Source type {source_type} is not supported by this Slipway server; use CODECOMMIT (a hosted repository), S3 (a zip in a bucket) or NO_SOURCE"
        )));
    }
    if source_type == "S3" {
        let location = source.get("location").and_then(Value::as_str).unwrap_or_default();
        if crate::buckets::object_location(location).is_none() {
            return Err(invalid(s3_source_refusal(location)));
        }
    }
    if source_type == "NO_SOURCE"
        && source.get("buildspec").and_then(Value::as_str).is_none_or(str::is_empty)
    {
        return Err(invalid("Project with NO_SOURCE source type must have buildspec defined"));
    }
    let artifacts = project.get("artifacts").ok_or_else(|| invalid("artifacts is required"))?;
    check_enum(artifacts, "type", ARTIFACT_TYPES)?;
    check_s3_artifacts(artifacts)?;
    if let Some(secondary) = project.get("secondaryArtifacts").and_then(Value::as_array) {
        for artifact in secondary {
            check_enum(artifact, "type", &ARTIFACT_TYPES[1..])?;
            check_s3_artifacts(artifact)?;
        }
    }
    if let Some(cache) = project.get("cache").filter(|it| it["type"] == "S3")
        && crate::cache::s3_cache(cache).is_none()
    {
        return Err(invalid("A cache of type S3 needs a location: <bucket> or <bucket>/<prefix>"));
    }
    let environment =
        project.get("environment").ok_or_else(|| invalid("environment is required"))?;
    check_enum(environment, "type", ENVIRONMENT_TYPES)?;
    required_str(environment, "image").map_err(|_| invalid("environment.image is required"))?;
    required_str(environment, "computeType")
        .map_err(|_| invalid("environment.computeType is required"))?;
    let variables = environment.get("environmentVariables").and_then(Value::as_array);
    builds::check_variable_sizes(
        variables.map(Vec::as_slice).unwrap_or_default(),
        "environment.environmentVariables",
    )?;
    for variable in variables.into_iter().flatten() {
        let name = variable.get("name").and_then(Value::as_str).unwrap_or_default();
        if name.is_empty() || variable.get("value").and_then(Value::as_str).is_none() {
            return Err(invalid("Every environment variable needs a name and a value"));
        }
        if name.starts_with("CODEBUILD_") {
            return Err(invalid(format!(
                "Invalid environment variable name {name}: names starting with CODEBUILD_ are reserved"
            )));
        }
        if variable.get("type").is_some() {
            check_enum(variable, "type", VARIABLE_TYPES)?;
        }
    }
    check_service_role(required_str(project, "serviceRole")?, account)?;
    check_range(project, "timeoutInMinutes", 5..=2160)?;
    check_range(project, "queuedTimeoutInMinutes", 5..=480)?;
    if project.get("description").and_then(Value::as_str).is_some_and(|it| it.len() > 255) {
        return Err(invalid("description is longer than 255 characters"));
    }
    Ok(())
}

/// The output-only fields and defaults of a stored project.
fn with_defaults(ctx: &Context, mut project: Value, created: f64, modified: f64) -> Value {
    let name = project["name"].as_str().unwrap_or_default().to_owned();
    let object = project.as_object_mut().expect("checked to be an object");
    object.insert("arn".to_owned(), json!(project_arn(ctx, &name)));
    object.insert("created".to_owned(), json!(created));
    object.insert("lastModified".to_owned(), json!(modified));
    object.entry("timeoutInMinutes").or_insert(json!(60));
    object.entry("queuedTimeoutInMinutes").or_insert(json!(480));
    object.entry("badge").or_insert(json!({ "badgeEnabled": false }));
    object.entry("projectVisibility").or_insert(json!("PRIVATE"));
    object.entry("secondarySources").or_insert(json!([]));
    object.entry("secondarySourceVersions").or_insert(json!([]));
    object.entry("secondaryArtifacts").or_insert(json!([]));
    object.entry("cache").or_insert(json!({ "type": "NO_CACHE" }));
    object.entry("tags").or_insert(json!([]));
    if let Some(environment) = object.get_mut("environment").and_then(Value::as_object_mut) {
        environment.entry("environmentVariables").or_insert(json!([]));
        environment.entry("privilegedMode").or_insert(json!(false));
        environment.entry("imagePullCredentialsType").or_insert(json!("CODEBUILD"));
    }
    project
}

/// The fields a client may set: [`CreateProjectInput`]'s members (a stored project keeps
/// output-only fields too).
const SETTABLE: &[&str] = &[
    "name",
    "description",
    "source",
    "secondarySources",
    "sourceVersion",
    "secondarySourceVersions",
    "artifacts",
    "secondaryArtifacts",
    "cache",
    "environment",
    "serviceRole",
    "timeoutInMinutes",
    "queuedTimeoutInMinutes",
    "encryptionKey",
    "tags",
    "vpcConfig",
    "badgeEnabled",
    "logsConfig",
    "fileSystemLocations",
    "buildBatchConfig",
    "concurrentBuildLimit",
    "autoRetryLimit",
];

fn settable(input: &Value) -> serde_json::Map<String, Value> {
    input
        .as_object()
        .map(|object| {
            object
                .iter()
                .filter(|(k, v)| SETTABLE.contains(&k.as_str()) && !v.is_null())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// The members an input gives, as the stored project's fields.
fn given(input: &CreateProjectInput) -> Result<serde_json::Map<String, Value>, ApiError> {
    match serde_json::to_value(input).map_err(ApiError::internal)? {
        Value::Object(fields) => Ok(fields.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        _ => Err(ApiError::internal("a project input is not an object")),
    }
}

/// CreateProject at `now_ms`: the members given, with the server's defaults, are the project.
pub async fn create_project(
    ctx: &Context,
    input: CreateProjectInput,
    now_ms: i64,
) -> Result<ProjectOutput, ApiError> {
    let fields = Value::Object(given(&input)?);
    check_project(&fields, &ctx.account)?;
    let name = fields["name"].as_str().unwrap_or_default().to_owned();
    let now = engine::clock::aws_timestamp(now_ms);
    let project = with_defaults(ctx, fields, now, now);
    let document = Document {
        kind: PROJECT.to_owned(),
        key: name.clone(),
        parent: None,
        sort: now_ms,
        version: 0,
        body: project.clone(),
    };
    match ctx.store.apply(vec![Write::Insert(document)]).await {
        Ok(()) => Ok(ProjectOutput { project }),
        Err(StoreError::AlreadyExists { .. }) => Err(ApiError::client(
            "ResourceAlreadyExistsException",
            format!("Project already exists: {}", project_arn(ctx, &name)),
        )),
        Err(err) => Err(err.into()),
    }
}

/// UpdateProject at `now_ms`: the members given over the stored project's.
pub async fn update_project(
    ctx: &Context,
    input: UpdateProjectInput,
    now_ms: i64,
) -> Result<ProjectOutput, ApiError> {
    let name = input.name.as_deref().ok_or_else(|| invalid("name is required"))?;
    let name = project_name(name).to_owned();
    let update = given(&input)?;
    // Retried on a concurrent update, so that two updates of different fields both land.
    for _ in 0..5 {
        let Some(mut document) = ctx.store.get(PROJECT, &name).await? else {
            return Err(ApiError::client(
                "ResourceNotFoundException",
                format!("Project cannot be found: {}", project_arn(ctx, &name)),
            ));
        };
        let mut fields = settable(&document.body);
        fields.extend(update.clone());
        fields.insert("name".to_owned(), json!(name));
        let fields = Value::Object(fields);
        check_project(&fields, &ctx.account)?;
        let created = document.body["created"].as_f64().unwrap_or_default();
        let now = engine::clock::aws_timestamp(now_ms);
        let project = with_defaults(ctx, fields, created, now);
        let version = document.version;
        document.body = project.clone();
        match ctx.store.apply(vec![Write::Update { document, expected_version: version }]).await {
            Ok(()) => return Ok(ProjectOutput { project }),
            Err(StoreError::Conflict { .. }) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(ApiError::internal(format!("project {name} kept changing during an update")))
}

/// DeleteProject.
pub async fn delete_project(
    ctx: &Context,
    input: DeleteProjectInput,
) -> Result<DeleteProjectOutput, ApiError> {
    let name = input.name.ok_or_else(|| invalid("name is required"))?;
    let name = project_name(&name).to_owned();
    ctx.store.apply(vec![Write::Delete { kind: PROJECT.to_owned(), key: name }]).await?;
    Ok(DeleteProjectOutput {})
}

/// BatchGetProjects.
pub async fn batch_get_projects(
    ctx: &Context,
    input: BatchGetProjectsInput,
) -> Result<BatchGetProjectsOutput, ApiError> {
    let names = input.names.ok_or_else(|| invalid("names is required"))?;
    if names.is_empty() || names.len() > 100 {
        return Err(invalid("names must hold 1 to 100 project names"));
    }
    let keys: Vec<String> = names.iter().map(|it| project_name(it).to_owned()).collect();
    let found = ctx.store.get_many(PROJECT, &keys).await?;
    let projects_not_found: Vec<String> = names
        .iter()
        .zip(&keys)
        .filter(|(_, key)| !found.iter().any(|it| &it.key == *key))
        .map(|(name, _)| name.clone())
        .collect();
    let projects: Vec<Value> = found.into_iter().map(|it| it.body).collect();
    Ok(BatchGetProjectsOutput { projects, projects_not_found })
}

/// ListProjects.
pub async fn list_projects(
    ctx: &Context,
    input: ListProjectsInput,
) -> Result<ListProjectsOutput, ApiError> {
    let sort_by = input.sort_by.as_deref().unwrap_or("NAME");
    let descending = match input.sort_order.as_deref().unwrap_or("ASCENDING") {
        "ASCENDING" => false,
        "DESCENDING" => true,
        other => return Err(invalid(format!("Invalid sortOrder: {other}"))),
    };
    let mut projects = ctx.store.list_all(PROJECT, None).await?;
    let key = |document: &Document| -> (String, i64) {
        let time =
            |field: &str| (document.body[field].as_f64().unwrap_or_default() * 1000.0) as i64;
        match sort_by {
            "CREATED_TIME" => (String::new(), time("created")),
            "LAST_MODIFIED_TIME" => (String::new(), time("lastModified")),
            _ => (document.key.clone(), 0),
        }
    };
    if !["NAME", "CREATED_TIME", "LAST_MODIFIED_TIME"].contains(&sort_by) {
        return Err(invalid(format!("Invalid sortBy: {sort_by}")));
    }
    projects.sort_by(|a, b| key(a).cmp(&key(b)).then_with(|| a.key.cmp(&b.key)));
    if descending {
        projects.reverse();
    }
    let start =
        paging::offset(input.next_token.as_deref()).map_err(|_| invalid("Invalid nextToken"))?;
    let names: Vec<String> =
        projects.iter().skip(start).take(PAGE_SIZE).map(|it| it.key.clone()).collect();
    let next_token = paging::next_offset(start, PAGE_SIZE, projects.len());
    Ok(ListProjectsOutput { projects: names, next_token })
}

#[cfg(test)]
mod tests;
