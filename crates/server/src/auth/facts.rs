//! What a request asks, as IAM names it: AWS's action, the ARNs of the resources it names,
//! and the values of the condition keys the Service Authorization Reference lists for that
//! action which Slipway can know from the request ([`RequestFacts`]).
//!
//! Everything comes from `iam::catalog`: the action is the one the reference gives the
//! operation (`catalog::action_for_operation`), each resource's ARN is built from the format
//! of the resource type the reference gives that action (a build id names its *project*,
//! since `codebuild:BatchGetBuilds` applies to projects; a report names its *report group*),
//! and a condition key is set only when the reference lists it for the action. The input says
//! which names are meant; the store is read only for what no input says (the repository and
//! destination branch of a pull request named by id, [`PullRequest`]).
//!
//! The functions here are pure: [`json_request`] for the JSON protocol's operations of
//! CodeBuild, CodeCommit, SSM and Secrets Manager, [`git_request`] for git's fetches and
//! pushes, [`own_user_request`] for the console's pages about the signed-in user.

use iam::catalog::{self, Action, ArnError};
use serde_json::Value;

#[cfg(test)]
mod tests;

/// What one request asks: checked by `auth::authorize`, every resource of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestFacts {
    /// AWS's action, `codecommit:GitPush`.
    pub(crate) action: String,
    /// The ARNs of the resources the request acts on; `*` when it names none (a List…
    /// operation, or an action the reference gives no resource type). Never empty.
    pub(crate) resources: Vec<String>,
    /// The condition keys the request sets and their values, sorted by key
    /// (`codecommit:References` holds every ref a push moves).
    pub(crate) context: Vec<(String, Vec<String>)>,
}

impl RequestFacts {
    /// The values of the context key `key` (any case), if the request sets it.
    #[cfg(test)]
    pub(crate) fn context_values(&self, key: &str) -> Option<&[String]> {
        self.context.iter().find(|(name, _)| name.eq_ignore_ascii_case(key)).map(|(_, v)| &v[..])
    }
}

/// How a request reached the server, for the global keys every request has:
/// `aws:SourceIp` (the peer's address, as the audit trail records it as `sourceIPAddress`;
/// the server trusts no proxy, so no forwarding header is read) and `aws:SecureTransport`
/// (whether the connection was encrypted: git over SSH is; the server speaks plain HTTP and
/// knows of no TLS-terminating proxy it could trust, so an HTTP request is not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Arrival<'a> {
    /// Empty when not known (in-process tests have no socket).
    pub(crate) source_ip: &'a str,
    pub(crate) secure_transport: bool,
}

impl RequestFacts {
    /// These facts with the keys of how the request arrived (`aws:SourceIp` when the
    /// address is known, `aws:SecureTransport`), the context kept sorted by key.
    pub(crate) fn arrived(mut self, arrival: Arrival<'_>) -> RequestFacts {
        let mut set = |key: &str, value: String| {
            self.context.retain(|(known, _)| !known.eq_ignore_ascii_case(key));
            self.context.push((key.to_owned(), vec![value]));
        };
        if !arrival.source_ip.is_empty() {
            set(SOURCE_IP, arrival.source_ip.to_owned());
        }
        set(SECURE_TRANSPORT, arrival.secure_transport.to_string());
        self.context.sort_by(|a, b| a.0.cmp(&b.0));
        self
    }
}

/// The global condition keys of how a request arrived.
pub(crate) const SOURCE_IP: &str = "aws:SourceIp";
pub(crate) const SECURE_TRANSPORT: &str = "aws:SecureTransport";

/// Where this server's resources are: the region and account of every ARN it builds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Place<'a> {
    pub(crate) region: &'a str,
    pub(crate) account: &'a str,
}

/// What the store knows about the pull request an operation names by id and its input does
/// not say: the repositories of its targets and the branches it merges into.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PullRequest {
    pub(crate) repositories: Vec<String>,
    /// Full ref names, `refs/heads/main`.
    pub(crate) destination_references: Vec<String>,
}

impl PullRequest {
    /// The facts of a stored pull request's body (`pullRequestTargets`).
    pub(crate) fn from_body(body: &Value) -> PullRequest {
        let mut found = PullRequest::default();
        for target in body["pullRequestTargets"].as_array().into_iter().flatten() {
            if let Some(name) = non_empty(&target["repositoryName"]) {
                push_new(&mut found.repositories, name.to_owned());
            }
            if let Some(reference) = non_empty(&target["destinationReference"]) {
                push_new(&mut found.destination_references, full_reference(reference));
            }
        }
        found
    }
}

/// Why a request's facts could not be told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FactsError {
    /// The reference has no action for the operation: it is no operation of the service, and
    /// the service answers it as unknown.
    #[error("the Service Authorization Reference has no action for {service} {operation}")]
    UnknownOperation { service: String, operation: String },
    /// The catalog could not build an ARN: a bad commit of `crates/iam/data/`.
    #[error(transparent)]
    Arn(#[from] ArnError),
}

/// The condition key that holds the refs a CodeCommit request moves.
const REFERENCES: &str = "codecommit:References";

/// The id of the pull request whose [`PullRequest`] facts the operation needs, read from the
/// store by the caller before [`json_request`]: CodeCommit's operations that name one.
pub(crate) fn pull_request_id<'a>(service: &str, input: &'a Value) -> Option<&'a str> {
    (service == "codecommit").then(|| non_empty(&input["pullRequestId"])).flatten()
}

/// The facts of the JSON operation `operation` of the service whose IAM prefix (and SigV4
/// signing name) is `service`, from its parsed input; `pull_request` is what the store says
/// of the pull request [`pull_request_id`] names, when it names one that exists.
pub(crate) fn json_request(
    place: Place<'_>,
    service: &str,
    operation: &str,
    input: &Value,
    pull_request: Option<&PullRequest>,
) -> Result<RequestFacts, FactsError> {
    let action = catalog::action_for_operation(service, operation).ok_or_else(|| {
        FactsError::UnknownOperation {
            service: service.to_owned(),
            operation: operation.to_owned(),
        }
    })?;
    // The resource type the action always involves (the reference's `*` mark), else the
    // first it names.
    let resource = action.resources().find(|(row, _)| row.required);
    let resources = match resource.or_else(|| action.resources().next()) {
        Some((_, Some(resource_type))) => {
            let names =
                resource_names(service, operation, &resource_type.name, input, pull_request);
            names
                .iter()
                .map(|name| resource_type.arn(place.region, place.account, &[name]))
                .collect::<Result<Vec<_>, _>>()?
        }
        Some((row, None)) => {
            return Err(FactsError::Arn(ArnError::UnknownResourceType {
                service: action.service.clone(),
                resource_type: row.resource_type.clone(),
            }));
        }
        None => Vec::new(),
    };
    let mut context = Context::new(action);
    context.tags(input);
    let overrides = start_build_view(service, operation, input);
    context.input_keys(overrides.as_ref().unwrap_or(input));
    if service == "codecommit" {
        let mut references = Vec::new();
        // The branch PutFile, CreateCommit, CreateBranch and DeleteBranch write; the one
        // MergeBranchesBy… merges into.
        for branch in strings(input, &["branchName", "targetBranch"]) {
            if !branch.is_empty() {
                push_new(&mut references, full_reference(branch));
            }
        }
        if operation.starts_with("MergePullRequestBy") {
            for reference in pull_request.map(|it| &it.destination_references).into_iter().flatten()
            {
                push_new(&mut references, reference.clone());
            }
        }
        context.set(REFERENCES, references);
    }
    Ok(RequestFacts {
        action: action.full_name(),
        resources: or_any(resources),
        context: context.done(),
    })
}

/// The facts of a git request on `repository`: `git_service` is `git-upload-pack` (a clone
/// or fetch, `codecommit:GitPull`) or `git-receive-pack` (a push, `codecommit:GitPush`), and
/// `references` the full names of the refs a push moves (none for the advertisement that
/// precedes it).
pub(crate) fn git_request(
    place: Place<'_>,
    git_service: &str,
    repository: &str,
    references: &[&str],
) -> Result<RequestFacts, FactsError> {
    let action = catalog::action_for_operation("codecommit", git_service).ok_or_else(|| {
        FactsError::UnknownOperation {
            service: "codecommit".to_owned(),
            operation: git_service.to_owned(),
        }
    })?;
    let arn = catalog::arn("codecommit", "repository", place.region, place.account, &[repository])?;
    let mut context = Context::new(action);
    let mut moved = Vec::new();
    for reference in references {
        push_new(&mut moved, (*reference).to_owned());
    }
    context.set(REFERENCES, moved);
    Ok(RequestFacts { action: action.full_name(), resources: vec![arn], context: context.done() })
}

/// The facts of the S3 operation `operation` (botocore's name: `ListObjectsV2` is
/// `s3:ListBucket`, `HeadObject` is `s3:GetObject`) on `bucket` and, for an object's
/// operation, `key`: the object's ARN `arn:aws:s3:::<bucket>/<key>` or the bucket's, none for
/// ListBuckets. `keys` are the S3 condition keys the request sets (`s3:prefix`,
/// `s3:delimiter`, `s3:max-keys`, `s3:x-amz-copy-source`, …), kept when the reference lists
/// them for the action.
pub(crate) fn s3_request(
    place: Place<'_>,
    operation: &str,
    bucket: Option<&str>,
    key: Option<&str>,
    keys: &[(&str, String)],
) -> Result<RequestFacts, FactsError> {
    let action = catalog::action_for_operation("s3", operation).ok_or_else(|| {
        FactsError::UnknownOperation { service: "s3".to_owned(), operation: operation.to_owned() }
    })?;
    let resources = match (bucket, key) {
        (Some(bucket), Some(key)) => {
            vec![catalog::arn("s3", "object", place.region, place.account, &[bucket, key])?]
        }
        (Some(bucket), None) => {
            vec![catalog::arn("s3", "bucket", place.region, place.account, &[bucket])?]
        }
        _ => Vec::new(),
    };
    let mut context = Context::new(action);
    for (key, value) in keys {
        context.set(key, vec![value.clone()]);
    }
    Ok(RequestFacts {
        action: action.full_name(),
        resources: or_any(resources),
        context: context.done(),
    })
}

/// The facts of an IAM operation a user performs on their own identity (the console's
/// `ChangePassword`, `CreateServiceSpecificCredential`, …): the action on the user's ARN.
pub(crate) fn own_user_request(
    place: Place<'_>,
    operation: &str,
    user: &str,
) -> Result<RequestFacts, FactsError> {
    let action = catalog::action_for_operation("iam", operation).ok_or_else(|| {
        FactsError::UnknownOperation { service: "iam".to_owned(), operation: operation.to_owned() }
    })?;
    let arn = catalog::arn("iam", "user", place.region, place.account, &[user])?;
    Ok(RequestFacts { action: action.full_name(), resources: vec![arn], context: Vec::new() })
}

/// The names (the values of the resource type's one ARN parameter) of the resources of
/// `resource_type` the input of `operation` names.
fn resource_names(
    service: &str,
    operation: &str,
    resource_type: &str,
    input: &Value,
    pull_request: Option<&PullRequest>,
) -> Vec<String> {
    let mut names = Vec::new();
    let mut add = |name: String| {
        if !name.is_empty() {
            push_new(&mut names, name);
        }
    };
    match (service, resource_type) {
        ("codebuild", "project") => {
            // A project by name (or ARN): CreateProject's `name`, BatchGetProjects' `names`,
            // StartBuild's `projectName`; a build by id (or ARN), whose project is in its id.
            for name in strings(input, &["name", "names", "projectName"]) {
                add(after(name, ":project/").to_owned());
            }
            for id in strings(input, &["id", "ids"]) {
                add(build_project(id).to_owned());
            }
        }
        ("codebuild", "report-group") => {
            for name in strings(input, &["name"]) {
                add(name.to_owned());
            }
            for arn in strings(input, &["reportGroupArn", "reportGroupArns"]) {
                add(after(arn, ":report-group/").to_owned());
            }
            // A report's ARN is `…:report/<group>:<id>`: it names its group.
            for arn in strings(input, &["reportArn", "reportArns"]) {
                let report = after(arn, ":report/");
                add(report.rsplit_once(':').map_or(report, |(group, _)| group).to_owned());
            }
        }
        ("codecommit", "repository") => {
            // UpdateRepositoryName acts on the repository under both names.
            for name in strings(input, &["repositoryName", "repositoryNames", "oldName", "newName"])
            {
                add(name.to_owned());
            }
            // CreatePullRequest's targets.
            for target in input["targets"].as_array().into_iter().flatten() {
                if let Some(name) = non_empty(&target["repositoryName"]) {
                    add(name.to_owned());
                }
            }
            for name in pull_request.map(|it| &it.repositories).into_iter().flatten() {
                add(name.clone());
            }
        }
        ("ssm", "parameter") => {
            // The ARN holds the name without its leading `/`; a name may be given as its ARN.
            for name in strings(input, &["Name", "Names"]) {
                let name = after(name, ":parameter/");
                add(name.strip_prefix('/').unwrap_or(name).to_owned());
            }
        }
        ("secretsmanager", "Secret") => {
            if operation == "CreateSecret" {
                for name in strings(input, &["Name"]) {
                    add(name.to_owned());
                }
            }
            for id in strings(input, &["SecretId"]) {
                add(secret_name(id).to_owned());
            }
        }
        _ => {}
    }
    names
}

/// The project of a build id (`<project>:<uuid>`) or build ARN (`…:build/<project>:<uuid>`).
fn build_project(id: &str) -> &str {
    let id = after(id, ":build/");
    id.split_once(':').map_or(id, |(project, _)| project)
}

/// The name of the secret a `SecretId` means, as Secrets Manager here resolves it
/// (`iam::secrets_store`): a name, or an ARN `…:secret:<name>` (7 colons before the name),
/// either possibly followed by `:<json-key>…`, which is no part of the secret's name.
fn secret_name(id: &str) -> &str {
    let id = if id.starts_with("arn:") {
        id.match_indices(':').nth(6).map_or(id, |(at, _)| &id[..at])
    } else {
        id.split_once(':').map_or(id, |(name, _)| name)
    };
    id.rsplit_once(":secret:").map_or(id, |(_, name)| name)
}

/// What follows the last `marker` in `text` (an ARN's resource part), or `text` itself.
fn after<'a>(text: &'a str, marker: &str) -> &'a str {
    text.rsplit_once(marker).map_or(text, |(_, rest)| rest)
}

/// The strings of the input's members `fields`, each a string or a list of strings.
fn strings<'a>(input: &'a Value, fields: &[&str]) -> Vec<&'a str> {
    let mut out = Vec::new();
    for field in fields {
        match &input[*field] {
            Value::String(it) => out.push(it.as_str()),
            Value::Array(items) => out.extend(items.iter().filter_map(Value::as_str)),
            _ => {}
        }
    }
    out
}

/// What StartBuild's condition keys are read from: they name the project's fields
/// (`codebuild:source.buildspec`) and are set from the request's overrides of them
/// (`buildspecOverride`), as AWS CodeBuild's "condition keys" page shows. Every other
/// operation's keys are read from its input as it is (`None`).
fn start_build_view(service: &str, operation: &str, input: &Value) -> Option<Value> {
    if (service, operation) != ("codebuild", "StartBuild") {
        return None;
    }
    let field = |name: &str| input.get(name).cloned().unwrap_or(Value::Null);
    let mut view = serde_json::json!({
        "source": {
            "buildspec": field("buildspecOverride"),
            "location": field("sourceLocationOverride"),
            "type": field("sourceTypeOverride"),
            "insecureSsl": field("insecureSslOverride"),
            "auth": field("sourceAuthOverride"),
            "buildStatusConfig": field("buildStatusConfigOverride"),
        },
        "environment": {
            "image": field("imageOverride"),
            "type": field("environmentTypeOverride"),
            "computeType": field("computeTypeOverride"),
            "certificate": field("certificateOverride"),
            "privilegedMode": field("privilegedModeOverride"),
            "imagePullCredentialsType": field("imagePullCredentialsTypeOverride"),
            "environmentVariables": field("environmentVariablesOverride"),
            "registryCredential": field("registryCredentialOverride"),
            "fleet": field("fleetOverride"),
        },
        "artifacts": field("artifactsOverride"),
        "secondaryArtifacts": field("secondaryArtifactsOverride"),
        "secondarySources": field("secondarySourcesOverride"),
        "cache": field("cacheOverride"),
        "logsConfig": field("logsConfigOverride"),
        "serviceRole": field("serviceRoleOverride"),
        "encryptionKey": field("encryptionKeyOverride"),
        "autoRetryLimit": field("autoRetryLimitOverride"),
    });
    drop_nulls(&mut view);
    Some(view)
}

fn drop_nulls(value: &mut Value) {
    if let Value::Object(map) = value {
        map.retain(|_, it| !it.is_null());
        for it in map.values_mut() {
            drop_nulls(it);
        }
        map.retain(|_, it| !matches!(it, Value::Object(inner) if inner.is_empty()));
    }
}

/// The condition keys of one request, kept only when the reference lists them for its
/// action.
struct Context<'a> {
    action: &'a Action,
    keys: Vec<(String, Vec<String>)>,
}

impl<'a> Context<'a> {
    fn new(action: &'a Action) -> Context<'a> {
        Context { action, keys: Vec::new() }
    }

    /// Sets `key` to `values` when the action has the key and there are values.
    fn set(&mut self, key: &str, values: Vec<String>) {
        if values.is_empty() || !self.action.has_condition_key(key) {
            return;
        }
        match self.keys.iter_mut().find(|(known, _)| known == key) {
            Some((_, known)) => *known = values,
            None => self.keys.push((key.to_owned(), values)),
        }
    }

    /// `aws:RequestTag/<key>` and `aws:TagKeys` from the input's tags: a map (CodeCommit's
    /// `tags`) or a list of key and value pairs (CodeBuild's `tags`, SSM's and Secrets
    /// Manager's `Tags`).
    fn tags(&mut self, input: &Value) {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for field in ["tags", "Tags"] {
            match &input[field] {
                Value::Object(map) => {
                    for (key, value) in map {
                        pairs.push((key.clone(), value.as_str().unwrap_or_default().to_owned()));
                    }
                }
                Value::Array(items) => {
                    for item in items {
                        let key = non_empty(&item["key"]).or_else(|| non_empty(&item["Key"]));
                        let value = item["value"].as_str().or_else(|| item["Value"].as_str());
                        if let Some(key) = key {
                            pairs.push((key.to_owned(), value.unwrap_or_default().to_owned()));
                        }
                    }
                }
                _ => {}
            }
        }
        let mut keys = Vec::new();
        for (key, value) in pairs {
            self.set(&format!("aws:RequestTag/{key}"), vec![value]);
            push_new(&mut keys, key);
        }
        self.set("aws:TagKeys", keys);
    }

    /// The action's own keys that name a field of the request (`codebuild:environment.image`,
    /// `ssm:Overwrite`, `secretsmanager:SecretId`): the values found at that path of
    /// `input` (a list's members each), and for a template such as
    /// `codebuild:environment.environmentVariables/${name}.value` one key per member of the
    /// list, named by that member's `name`.
    fn input_keys(&mut self, input: &Value) {
        let prefix = format!("{}:", self.action.service);
        let templates: Vec<String> = self
            .action
            .condition_keys()
            .filter_map(|key| key.strip_prefix(&prefix))
            .map(str::to_owned)
            .collect();
        for template in templates {
            match template.split_once("/${") {
                Some((list, rest)) => {
                    let Some((member, path)) = rest.split_once('}') else { continue };
                    let path = path.strip_prefix('.').unwrap_or(path);
                    for item in at_path(input, list).into_iter().flat_map(members) {
                        let Some(name) = scalar(&item[member]) else { continue };
                        let values = values_at(item, path);
                        self.set(&format!("{prefix}{list}/{name}.{path}"), values);
                    }
                }
                None if template.contains('/') => {}
                None => {
                    let values = values_at(input, &template);
                    self.set(&format!("{prefix}{template}"), values);
                }
            }
        }
    }

    fn done(mut self) -> Vec<(String, Vec<String>)> {
        self.keys.sort_by(|a, b| a.0.cmp(&b.0));
        self.keys
    }
}

/// The values at a dotted path (`environment.image`), going through lists: through
/// `secondarySources.location`, each source's location.
fn at_path<'v>(value: &'v Value, path: &str) -> Vec<&'v Value> {
    let mut found = vec![value];
    for part in path.split('.') {
        found = found
            .into_iter()
            .flat_map(|it| match it {
                Value::Array(items) => items.iter().filter_map(|item| item.get(part)).collect(),
                other => other.get(part).into_iter().collect::<Vec<_>>(),
            })
            .filter(|it| !it.is_null())
            .collect();
    }
    found
}

/// The condition values at a path: the scalars there, and those of the lists there.
fn values_at(value: &Value, path: &str) -> Vec<String> {
    at_path(value, path).into_iter().flat_map(values_of).collect()
}

/// A value as condition values: a scalar's text, a list's scalars (nested lists flattened);
/// an object has none.
fn values_of(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items.iter().flat_map(values_of).collect(),
        other => scalar(other).into_iter().collect(),
    }
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(it) => Some(it.clone()),
        Value::Bool(it) => Some(it.to_string()),
        Value::Number(it) => Some(it.to_string()),
        _ => None,
    }
}

/// The members of a list.
fn members(value: &Value) -> &[Value] {
    value.as_array().map_or(&[], Vec::as_slice)
}

fn non_empty(value: &Value) -> Option<&str> {
    value.as_str().filter(|it| !it.is_empty())
}

/// A branch as the full ref name `codecommit:References` holds (`refs/heads/main`).
fn full_reference(branch: &str) -> String {
    if branch.starts_with("refs/") { branch.to_owned() } else { format!("refs/heads/{branch}") }
}

fn push_new(list: &mut Vec<String>, item: String) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// `*` for a request that names no resource.
fn or_any(resources: Vec<String>) -> Vec<String> {
    if resources.is_empty() { vec!["*".to_owned()] } else { resources }
}
