//! Builds: StartBuild and the operations on build records, and the stored build document.
//!
//! A build is one document (`kind = "build"`, key = its id, parent = its project, sorted by
//! start time) holding the JSON the API returns, plus the server's own bookkeeping under
//! [`INTERNAL`] (never shown to clients). Starting a build inserts the document and enqueues
//! its job in one transaction; agents then lease the job (`agent_api`).

use std::collections::BTreeMap;

use engine::store::{Document, ListQuery, QueuedJob, StoreError, Write};
use protocol::agent::{BuildJob, GitSource, S3Source};
use protocol::{Build, BuildStatus, EnvVariable, PhaseContext, PhaseType};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use awsapi::{ApiError, Caller};
use engine::kinds::{BUILD, BUILD_JOB, IDEMPOTENCY, PROJECT, REPOSITORY};
use serde::{Deserialize, Serialize};

use crate::buckets::{BucketError, object_location};
use crate::{Context, FileAt, invalid, not_found};

/// The key of the server's bookkeeping inside a build document.
pub const INTERNAL: &str = "_slipway";
/// How many build ids a list call returns per page, as AWS does.
const PAGE_SIZE: i64 = 100;

/// A build document's core, as the state transitions need it.
pub fn core(document: &Document) -> Result<Build, ApiError> {
    serde_json::from_value(document.body.clone()).map_err(ApiError::internal)
}

/// Writes a changed core back into a build document, keeping every other field.
pub fn store_core(document: &mut Document, build: &Build) {
    let core = serde_json::to_value(build).expect("a build serializes");
    if let (Some(body), Value::Object(core)) = (document.body.as_object_mut(), core) {
        for (key, value) in core {
            body.insert(key, value);
        }
        // Optional fields that became absent must go too.
        for key in ["endTime", "resolvedSourceVersion", "artifacts"] {
            if build_field_absent(build, key) {
                body.remove(key);
            }
        }
    }
}

fn build_field_absent(build: &Build, key: &str) -> bool {
    match key {
        "endTime" => build.end_time.is_none(),
        "resolvedSourceVersion" => build.resolved_source_version.is_none(),
        "artifacts" => build.artifacts.is_none(),
        _ => false,
    }
}

/// Gives each artifact an agent reported its `location` (the blob key or the S3 object's
/// ARN, see [`crate::artifacts::destination`]) and the project's `overrideArtifactName`.
pub fn place_artifacts(
    document: &Document,
    job_id: &str,
    reported: &mut Build,
    buildspec_names: &BTreeMap<String, String>,
) {
    for artifact in reported.artifacts.iter_mut().chain(reported.secondary_artifacts.iter_mut()) {
        let file = std::path::Path::new(&artifact.location)
            .file_name()
            .map(|it| it.to_string_lossy().into_owned())
            .unwrap_or_default();
        let identifier = artifact.artifact_identifier.as_deref();
        let buildspec_name =
            buildspec_names.get(identifier.unwrap_or_default()).map(String::as_str);
        let (destination, overrides) =
            crate::artifacts::destination(document, job_id, identifier, &file, buildspec_name);
        artifact.location = destination.location();
        artifact.override_artifact_name = Some(overrides);
    }
}

/// The build as the API shows it: without the server's bookkeeping.
pub fn public(document: &Document) -> Value {
    let mut body = document.body.clone();
    if let Some(object) = body.as_object_mut() {
        object.remove(INTERNAL);
    }
    body
}

/// StartBuild's input: the members this server acts on, and the others as they came (so that
/// the request a build keeps, and RetryBuild repeats, is the one made).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StartBuildInput {
    /// Required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_type_override: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_location_override: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buildspec_override: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_in_minutes_override: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queued_timeout_in_minutes_override: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment_variables_override: Option<Vec<EnvironmentVariable>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_token: Option<String>,
    /// The members this server does not act on.
    #[serde(flatten)]
    pub other: serde_json::Map<String, Value>,
}

/// An environment variable of a StartBuild (`EnvironmentVariable`); name and value are
/// required, which the operation checks itself.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct EnvironmentVariable {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// `PLAINTEXT` (the default), `PARAMETER_STORE` or `SECRETS_MANAGER`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// The output of StartBuild, StopBuild and RetryBuild: the build as the API shows it (the
/// stored document, without the server's bookkeeping).
#[derive(Debug, Serialize)]
pub struct BuildOutput {
    pub build: Value,
}

/// StartBuild's output.
pub type StartBuildOutput = BuildOutput;
/// StopBuild's output.
pub type StopBuildOutput = BuildOutput;
/// RetryBuild's output.
pub type RetryBuildOutput = BuildOutput;

/// StopBuild's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StopBuildInput {
    /// A build id or ARN; required.
    pub id: Option<String>,
}

/// RetryBuild's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryBuildInput {
    /// A build id or ARN; required.
    pub id: Option<String>,
    pub idempotency_token: Option<String>,
}

/// The input of BatchGetBuilds and BatchDeleteBuilds.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildIdsInput {
    /// Build ids or ARNs, 1 to 100; required.
    pub ids: Option<Vec<String>>,
}

/// BatchGetBuilds' input.
pub type BatchGetBuildsInput = BuildIdsInput;
/// BatchDeleteBuilds' input.
pub type BatchDeleteBuildsInput = BuildIdsInput;

/// BatchGetBuilds' output: the builds as the API shows them, each as its JSON text (see
/// [`batch_get_builds`]).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchGetBuildsOutput {
    pub builds: Vec<Box<RawValue>>,
    pub builds_not_found: Vec<String>,
}

/// BatchDeleteBuilds' output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchDeleteBuildsOutput {
    pub builds_deleted: Vec<String>,
    pub builds_not_deleted: Vec<BuildNotDeleted>,
}

/// A build BatchDeleteBuilds did not delete, and why (`BUILD_NOT_FOUND`, `BUILD_IN_PROGRESS`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildNotDeleted {
    pub id: String,
    pub status_code: String,
}

/// ListBuilds' input.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListBuildsInput {
    /// `DESCENDING` (the default) or `ASCENDING`.
    pub sort_order: Option<String>,
    pub next_token: Option<String>,
}

/// ListBuildsForProject's input.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListBuildsForProjectInput {
    /// Required.
    pub project_name: Option<String>,
    /// `DESCENDING` (the default) or `ASCENDING`.
    pub sort_order: Option<String>,
    pub next_token: Option<String>,
}

/// The output of ListBuilds and ListBuildsForProject: a page of build ids.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListBuildsOutput {
    pub ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// What started a build other than a StartBuild call: a push, through a webhook.
pub struct Origin {
    /// The commit pushed.
    pub commit: String,
    /// The branch it was pushed to.
    pub branch: String,
    /// The `CODEBUILD_WEBHOOK_*` variables.
    pub variables: Vec<(String, String)>,
}

/// StartBuild at `now_ms`.
pub async fn start_build(
    ctx: &Context,
    caller: &Caller,
    input: StartBuildInput,
    now_ms: i64,
) -> Result<StartBuildOutput, ApiError> {
    let (writes, build, token) = match plan_build(ctx, caller, &input, None, now_ms).await? {
        Planned::Existing(build) => return Ok(BuildOutput { build }),
        Planned::New { writes, build, idempotency_token } => (writes, build, idempotency_token),
    };
    match (ctx.store.apply(writes).await, token) {
        (Ok(()), _) => {}
        (Err(StoreError::AlreadyExists { .. } | StoreError::Conflict { .. }), Some(token)) => {
            let project_name = input.project_name.as_deref().unwrap_or_default();
            return match idempotent_build(ctx, project_name, &token, &input, now_ms).await? {
                Some(existing) => Ok(BuildOutput { build: existing }),
                None => Err(ApiError::internal("an idempotency record vanished while written")),
            };
        }
        (Err(err), _) => return Err(err.into()),
    }
    ctx.jobs.notify_waiters();
    Ok(BuildOutput { build })
}

/// What [`plan_build`] decided.
pub enum Planned {
    /// A repeated request with the same idempotency token: the build it started.
    Existing(Value),
    /// A new build: the writes that create it (the build, its job or its failure, the first
    /// chunk of its log with the buildspec's diagnostics, the idempotency record), to commit in
    /// one transaction, maybe with the caller's own; the build as the API shows it.
    New { writes: Vec<Write>, build: Value, idempotency_token: Option<String> },
}

/// StartBuild at `now_ms`, or a push's build (`origin`: the source is then exactly the pushed
/// commit), up to the writes that start it: the caller commits them ([`start_build`], or the
/// webhook loop together with its cursor).
pub async fn plan_build(
    ctx: &Context,
    caller: &Caller,
    input: &StartBuildInput,
    origin: Option<Origin>,
    now_ms: i64,
) -> Result<Planned, ApiError> {
    let project_name =
        input.project_name.as_deref().ok_or_else(|| invalid("projectName is required"))?;
    let Some(project) = ctx.store.get(PROJECT, project_name).await? else {
        return Err(not_found(format!(
            "Project cannot be found: {}",
            crate::arn(ctx, &format!("project/{project_name}"))
        )));
    };
    let project = project.body;
    if let Some(token) = input.idempotency_token.as_deref()
        && let Some(existing) = idempotent_build(ctx, project_name, token, input, now_ms).await?
    {
        return Ok(Planned::Existing(existing));
    }

    let source_type = input
        .source_type_override
        .as_deref()
        .or_else(|| project["source"]["type"].as_str())
        .unwrap_or("NO_SOURCE");
    let buildspec_setting = input
        .buildspec_override
        .as_deref()
        .filter(|it| !it.is_empty())
        .or_else(|| project["source"]["buildspec"].as_str())
        .unwrap_or_default()
        .to_owned();
    let (source, s3_source, buildspec) = match source_type {
        "NO_SOURCE" => {
            if buildspec_setting.trim().is_empty() || !is_inline(&buildspec_setting) {
                return Err(invalid(
                    "A NO_SOURCE build needs an inline buildspec (source.buildspec or buildspecOverride)",
                ));
            }
            (None, None, Ok(buildspec_setting))
        }
        "CODECOMMIT" => {
            let location = input
                .source_location_override
                .as_deref()
                .or_else(|| project["source"]["location"].as_str())
                .unwrap_or_default();
            let version = input
                .source_version
                .as_deref()
                .or_else(|| project["sourceVersion"].as_str())
                .filter(|it| !it.is_empty());
            let source = match &origin {
                Some(origin) => pushed_source(ctx, location, origin).await?,
                None => codecommit_source(ctx, location, version).await?,
            };
            let mut source = source;
            source.depth = project["source"]["gitCloneDepth"]
                .as_u64()
                .and_then(|it| u32::try_from(it).ok())
                .unwrap_or(0);
            let buildspec = if is_inline(&buildspec_setting) {
                Ok(buildspec_setting)
            } else {
                let path = if buildspec_setting.trim().is_empty() {
                    "buildspec.yml"
                } else {
                    buildspec_setting.trim()
                };
                read_at(ctx, &source, path).await?.ok_or_else(|| {
                    format!("{path} does not exist in {} at {}", location, source.commit)
                })
            };
            (Some(source), None, buildspec)
        }
        "S3" => {
            let location = input
                .source_location_override
                .as_deref()
                .or_else(|| project["source"]["location"].as_str())
                .unwrap_or_default();
            let (bucket, key) = object_location(location)
                .ok_or_else(|| invalid(crate::projects::s3_source_refusal(location)))?;
            let version = input
                .source_version
                .as_deref()
                .or_else(|| project["sourceVersion"].as_str())
                .filter(|it| !it.is_empty());
            // The server reads the zip as the build's role would: a role that may not (or a
            // zip that is not there) ends the build FAULT in DOWNLOAD_SOURCE, on the agent,
            // before anything runs, and the zip is not read here.
            let role = project["serviceRole"].as_str().unwrap_or_default();
            let refused = crate::service_role::gate_source(ctx, role, bucket, key, now_ms)
                .await
                .map_err(|err| ApiError::internal(err.message))?;
            let source = S3Source {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                version: version.map(str::to_owned),
                refused,
            };
            let buildspec = if source.refused.is_some() {
                Ok(NEVER_RUN.to_owned())
            } else if is_inline(&buildspec_setting) {
                Ok(buildspec_setting)
            } else {
                let path = if buildspec_setting.trim().is_empty() {
                    "buildspec.yml"
                } else {
                    buildspec_setting.trim()
                };
                read_in_zip(ctx, &source, path)
                    .await?
                    .ok_or_else(|| format!("{path} does not exist in s3://{bucket}/{key}"))
            };
            (None, Some(source), buildspec)
        }
        other => {
            return Err(invalid(format!(
                "Source type {other} is not supported by this Slipway server; use CODECOMMIT (a hosted repository), S3 (a zip in a bucket) or NO_SOURCE"
            )));
        }
    };
    let timeout = match input.timeout_in_minutes_override {
        Some(n) if (5..=2160).contains(&n) => n,
        Some(_) => return Err(invalid("timeoutInMinutesOverride must be between 5 and 2160")),
        None => project["timeoutInMinutes"].as_i64().unwrap_or(60),
    };
    let variables = merged_variables(&project, input)?;
    // The request as it came, which the build keeps (RetryBuild repeats it).
    let request = serde_json::to_value(input).map_err(ApiError::internal)?;

    let number = ctx.store.next_counter(&format!("build-number/{project_name}")).await?;
    let uuid = uuid::Uuid::new_v4().to_string();
    let id = format!("{project_name}:{uuid}");
    let arn = crate::arn(ctx, &format!("build/{id}"));
    let now = engine::clock::aws_timestamp(now_ms);
    let core = engine::build::submitted(
        Build {
            id: id.clone(),
            arn: arn.clone(),
            build_number: u64::try_from(number).unwrap_or_default(),
            project_name: project_name.to_owned(),
            start_time: now,
            end_time: None,
            current_phase: PhaseType::Submitted,
            build_status: BuildStatus::InProgress,
            resolved_source_version: None,
            build_complete: false,
            phases: Vec::new(),
            exported_environment_variables: Vec::new(),
            artifacts: None,
            secondary_artifacts: Vec::new(),
            reports: Vec::new(),
            timeout_in_minutes: u64::try_from(timeout).unwrap_or(60),
        },
        now,
    );
    let mut environment = project["environment"].clone();
    environment["environmentVariables"] = json!(variables);
    let mut source_record = project["source"].clone();
    if source_record["type"] == "NO_SOURCE" {
        source_record["buildspec"] = json!(buildspec.as_deref().unwrap_or_default());
    }
    let mut body = serde_json::to_value(&core).expect("a build serializes");
    let extra = json!({
        "initiator": caller.user,
        "sourceVersion": source.as_ref().map_or_else(|| json!(input.source_version), |it| json!(it.version)),
        "source": source_record,
        "resolvedSourceVersion": source.as_ref().map(|it| it.commit.clone()),
        "environment": environment,
        "serviceRole": project["serviceRole"],
        "queuedTimeoutInMinutes": input.queued_timeout_in_minutes_override.map_or_else(|| project["queuedTimeoutInMinutes"].clone(), |it| json!(it)),
        "logs": { "groupName": format!("/aws/codebuild/{project_name}"), "streamName": uuid, "deepLink": if caller.host.is_empty() { format!("/v1/builds/{id}/log") } else { format!("http://{}/v1/builds/{id}/log", caller.host) } },
        "reportArns": [],
        INTERNAL: { "request": request, "eventSeq": 0, "logSeq": 0, "stopRequested": false },
    });
    for (key, value) in extra.as_object().expect("an object") {
        if !value.is_null() {
            body[key] = value.clone();
        }
    }
    if let Some(s3) = &s3_source {
        // The zip the agent downloads (`queue::leased_s3_source`).
        body[INTERNAL]["s3Source"] = json!({ "bucket": s3.bucket, "key": s3.key });
        if let Some(location) = &input.source_location_override {
            body["source"]["location"] = json!(location);
        }
    }
    if let Some(cache) = crate::cache::s3_cache(&project["cache"]) {
        // The cache the agent lists, downloads and uploads (`cache::leased_cache`).
        body[INTERNAL]["s3Cache"] = json!(cache);
    }
    // What names the build's artifacts when it ends (see `place_artifacts`).
    body[INTERNAL]["artifacts"] =
        json!({ "primary": project["artifacts"], "secondary": project["secondaryArtifacts"] });
    let mut document = Document {
        kind: BUILD.to_owned(),
        key: id.clone(),
        parent: Some(project_name.to_owned()),
        sort: now_ms,
        version: 0,
        body,
    };

    let parsed = match &buildspec {
        Ok(text) => formats::buildspec::parse("buildspec.yml", text),
        Err(_) => formats::buildspec::parse("buildspec.yml", ""),
    };
    let missing_buildspec = buildspec.as_ref().err().cloned();
    // The buildspec's warnings and errors open the build's log, as `slipway build` prints
    // them before it runs anything.
    let mut log = String::new();
    let log_line = |log: &mut String, text: String| {
        let event = protocol::BuildEvent::Message { text, time: Some(now) };
        log.push_str(&engine::build::log_text(&event, now).unwrap_or_default());
    };
    if let Some(missing) = &missing_buildspec {
        log_line(&mut log, format!("YAML_FILE_ERROR: {missing}"));
    } else {
        for diagnostic in &parsed.diagnostics {
            log_line(&mut log, diagnostic.to_string());
        }
    }
    let mut writes = Vec::new();
    match parsed.ok().filter(|_| missing_buildspec.is_none()) {
        Some(spec) if spec.single_build_refusal().is_none() => {
            let plan_variables: Vec<EnvVariable> = variables
                .iter()
                .filter(|it| it["type"].as_str().unwrap_or("PLAINTEXT") == "PLAINTEXT")
                .map(|it| EnvVariable {
                    name: it["name"].as_str().unwrap_or_default().to_owned(),
                    value: it["value"].as_str().unwrap_or_default().to_owned(),
                })
                .collect();
            let mut plan = spec.plan.clone();
            // Project variables of the secret kinds join the buildspec's references.
            for variable in &variables {
                let reference = protocol::SecretReference {
                    name: variable["name"].as_str().unwrap_or_default().to_owned(),
                    reference: variable["value"].as_str().unwrap_or_default().to_owned(),
                };
                match variable["type"].as_str() {
                    Some("PARAMETER_STORE") => plan.parameter_store.push(reference),
                    Some("SECRETS_MANAGER") => plan.secrets_manager.push(reference),
                    _ => {}
                }
            }
            let job = BuildJob {
                build_id: id.clone(),
                build_arn: arn,
                build_number: u64::try_from(number).unwrap_or_default(),
                project_name: project_name.to_owned(),
                region: ctx.region.clone(),
                initiator: caller.user.clone(),
                timeout_in_minutes: u64::try_from(timeout).unwrap_or(60),
                plan,
                variables: plan_variables,
                secrets: BTreeMap::new(),
                refused_secrets: BTreeMap::new(),
                refused_artifacts: None,
                sandbox: sandboxed(&project),
                platform_variables: origin
                    .as_ref()
                    .map(|it| {
                        it.variables
                            .iter()
                            .map(|(name, value)| EnvVariable {
                                name: name.clone(),
                                value: value.clone(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                git_token: None,
                source: source.clone(),
                s3_source: s3_source.clone(),
                s3_cache: crate::cache::s3_cache(&project["cache"]),
            };
            writes.push(Write::Insert(document.clone()));
            writes.push(Write::Enqueue(QueuedJob {
                id: id.clone(),
                kind: BUILD_JOB.to_owned(),
                labels: BTreeMap::new(),
                payload: serde_json::to_value(&job).expect("a job serializes"),
                enqueued_at: now_ms,
            }));
        }
        _ => {
            // CodeBuild reads the buildspec in DOWNLOAD_SOURCE and fails the build there.
            let mut message: Vec<String> = missing_buildspec.into_iter().collect();
            if message.is_empty() {
                message.extend(
                    parsed
                        .diagnostics
                        .iter()
                        .filter(|it| it.severity == formats::Severity::Error)
                        .map(ToString::to_string),
                );
            }
            if message.is_empty() {
                message.push(
                    "the buildspec defines only a batch build; StartBuild needs phases".to_owned(),
                );
            }
            let mut core = core;
            engine::build::leased(&mut core, now);
            core.current_phase = PhaseType::DownloadSource;
            let context = PhaseContext {
                status_code: "YAML_FILE_ERROR".to_owned(),
                message: message.join("; "),
            };
            let finished = protocol::BuildEvent::PhaseFinished {
                phase: PhaseType::DownloadSource,
                status: BuildStatus::Failed,
                context: Some(context.clone()),
                time: now,
            };
            log.push_str(&engine::build::log_text(&finished, now).unwrap_or_default());
            engine::build::ended(&mut core, now, BuildStatus::Failed, context);
            store_core(&mut document, &core);
            writes.push(Write::Insert(document.clone()));
        }
    }
    let token = input.idempotency_token.as_deref();
    if let Some(token) = token {
        // The record is written with the build, and only if no other request wrote it
        // first (an insert, or an update of an expired record at the version read): of
        // parallel requests with one token, one creates the build and the others get it.
        let key = format!("{project_name}/{token}");
        let record = Document {
            kind: IDEMPOTENCY.to_owned(),
            key: key.clone(),
            parent: None,
            sort: now_ms,
            version: 0,
            body: json!({ "buildId": id, "request": request, "createdMs": now_ms }),
        };
        writes.push(match ctx.store.get(IDEMPOTENCY, &key).await? {
            // Another request with this token got here first.
            Some(old) if is_fresh(&old, now_ms) => {
                return match idempotent_build(ctx, project_name, token, input, now_ms).await? {
                    Some(existing) => Ok(Planned::Existing(existing)),
                    None => Err(ApiError::internal("an idempotency record names no build")),
                };
            }
            Some(old) => Write::Update { document: record, expected_version: old.version },
            None => Write::Insert(record),
        });
    }
    // The log's first chunk, with the buildspec's diagnostics, is written with the build that
    // counts it.
    if !log.is_empty() {
        writes.push(Write::AppendLog { stream: id.clone(), seq: 0, data: log.into_bytes() });
        document.body[INTERNAL]["logSeq"] = json!(1);
        if let Some(Write::Insert(build)) =
            writes.iter_mut().find(|it| matches!(it, Write::Insert(d) if d.kind == BUILD))
        {
            build.body[INTERNAL]["logSeq"] = json!(1);
        }
    }
    Ok(Planned::New {
        writes,
        build: public(&document),
        idempotency_token: token.map(str::to_owned),
    })
}

/// Whether an idempotency record still holds (for 5 minutes, as in CodeBuild).
fn is_fresh(record: &Document, now_ms: i64) -> bool {
    let created = record.body["createdMs"].as_i64().unwrap_or_default();
    now_ms - created <= 5 * 60 * 1000
}

/// The build a repeated StartBuild with the same idempotency token already started (within
/// 5 minutes); a different request with the same token is an error, as in CodeBuild.
async fn idempotent_build(
    ctx: &Context,
    project: &str,
    token: &str,
    input: &StartBuildInput,
    now_ms: i64,
) -> Result<Option<Value>, ApiError> {
    let Some(record) = ctx.store.get(IDEMPOTENCY, &format!("{project}/{token}")).await? else {
        return Ok(None);
    };
    if !is_fresh(&record, now_ms) {
        return Ok(None);
    }
    if record.body["request"] != serde_json::to_value(input).map_err(ApiError::internal)? {
        return Err(invalid("Idempotency token was used with different parameters"));
    }
    let id = record.body["buildId"].as_str().unwrap_or_default();
    Ok(ctx.store.get(BUILD, id).await?.map(|it| public(&it)))
}

/// Whether the project asks for its builds to run inside bubblewrap: the tag
/// `slipway:sandbox` = `bubblewrap` (a tag, because the AWS clients send only the fields of
/// CodeBuild's model).
fn sandboxed(project: &Value) -> bool {
    project["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|tag| tag["key"] == "slipway:sandbox" && tag["value"] == "bubblewrap")
}

/// Whether a buildspec setting is the buildspec itself rather than a path to one (CodeBuild's
/// rule of thumb: a newline, or a YAML mapping with `version`).
fn is_inline(setting: &str) -> bool {
    let setting = setting.trim();
    setting.contains('\n') || setting.starts_with("version:") || setting.starts_with("{")
}

/// The source of a push's build: the pushed commit on the pushed branch, which git has just
/// reported (a branch only ever names a commit), so nothing is asked of git.
async fn pushed_source(
    ctx: &Context,
    location: &str,
    origin: &Origin,
) -> Result<GitSource, ApiError> {
    let name = repository_name(location)?;
    if ctx.store.get(REPOSITORY, name).await?.is_none() {
        return Err(invalid(format!("Repository {name} does not exist")));
    }
    Ok(GitSource {
        path: format!("/v1/repos/{name}"),
        commit: origin.commit.clone(),
        version: origin.commit.clone(),
        branch: Some(origin.branch.clone()),
        depth: 0,
    })
}

/// The repository a CODECOMMIT location names: its name, or a clone URL ending in
/// `/v1/repos/<name>`.
fn repository_name(location: &str) -> Result<&str, ApiError> {
    let name = location
        .trim_end_matches('/')
        .rsplit("/v1/repos/")
        .next()
        .unwrap_or(location)
        .trim_end_matches(".git");
    if name.is_empty() {
        return Err(invalid(
            "A CODECOMMIT source needs a location: the repository's clone URL or name",
        ));
    }
    Ok(name)
}

/// Resolves a CODECOMMIT source: the repository (its name, or a clone URL ending in
/// `/v1/repos/<name>`) and the version (a branch, tag or commit; the default branch when
/// absent) to a commit.
async fn codecommit_source(
    ctx: &Context,
    location: &str,
    version: Option<&str>,
) -> Result<GitSource, ApiError> {
    let name = repository_name(location)?;
    if ctx.store.get(REPOSITORY, name).await?.is_none() {
        return Err(invalid(format!("Repository {name} does not exist")));
    }
    let repositories = &ctx.repositories;
    let version = match version {
        Some(version) => version.to_owned(),
        None => repositories.default_branch(name).await?.unwrap_or_else(|| "main".to_owned()),
    };
    let Some(commit) = repositories.resolve_commit(name, &version).await? else {
        return Err(invalid(format!(
            "Source version {version} does not exist in repository {name}"
        )));
    };
    let branch_name = version.strip_prefix("refs/heads/").unwrap_or(&version).to_owned();
    let branch = repositories.has_branch(name, &branch_name).await?.then_some(branch_name);
    Ok(GitSource { path: format!("/v1/repos/{name}"), commit, version, branch, depth: 0 })
}

/// The largest buildspec file StartBuild reads from a repository.
const MAX_BUILDSPEC: usize = 1024 * 1024;

/// A file of the source at its commit, if it exists.
async fn read_at(
    ctx: &Context,
    source: &GitSource,
    path: &str,
) -> Result<Option<String>, ApiError> {
    let name = source.path.trim_start_matches("/v1/repos/");
    let path_at = path.trim_start_matches("./");
    match ctx.repositories.read_file(name, &source.commit, path_at, MAX_BUILDSPEC).await? {
        FileAt::Found(text) => Ok(Some(text)),
        FileAt::Missing => Ok(None),
        FileAt::TooLarge => Err(invalid(format!(
            "The buildspec {path} at {} is larger than {} KiB, the largest buildspec this server reads",
            source.commit,
            MAX_BUILDSPEC / 1024
        ))),
    }
}

/// The plan of a build that ends before it runs anything (its S3 source may not be read).
const NEVER_RUN: &str = "version: 0.2\nphases:\n  build:\n    commands:\n      - exit 1\n";

/// The file `path` of an S3 source's zip (downloaded for the moment into the context's
/// temporary directory), if the zip holds it.
async fn read_in_zip(
    ctx: &Context,
    source: &S3Source,
    path: &str,
) -> Result<Option<String>, ApiError> {
    let (bucket, key) = (&source.bucket, &source.key);
    tokio::fs::create_dir_all(&ctx.temp_dir).await.map_err(ApiError::internal)?;
    let zip = ctx.temp_dir.join(format!("source-{}.zip", uuid::Uuid::new_v4().simple()));
    let downloaded = crate::buckets::download(ctx.buckets.as_ref(), bucket, key, &zip).await;
    let read = match downloaded {
        Ok(_) => {
            let (zip, path) = (zip.clone(), path.trim_start_matches("./").to_owned());
            tokio::task::spawn_blocking(move || zip_entry(&zip, &path, MAX_BUILDSPEC))
                .await
                .map_err(ApiError::internal)
                .and_then(|it| it.map_err(|err| invalid(format!("s3://{bucket}/{key}: {err}"))))
        }
        Err(err @ (BucketError::NoSuchBucket(_) | BucketError::NoSuchKey { .. })) => {
            Err(invalid(format!("The build's source cannot be read: {err}")))
        }
        Err(err) => Err(ApiError::internal(err)),
    };
    let _ = tokio::fs::remove_file(&zip).await;
    match read? {
        FileAt::Found(text) => Ok(Some(text)),
        FileAt::Missing => Ok(None),
        FileAt::TooLarge => Err(invalid(format!(
            "The buildspec {path} in s3://{bucket}/{key} is larger than {} KiB, the largest buildspec this server reads",
            MAX_BUILDSPEC / 1024
        ))),
    }
}

/// The file `name` of the zip `zip`, if it holds it and it is at most `max_bytes` long.
pub(crate) fn zip_entry(
    zip: &std::path::Path,
    name: &str,
    max_bytes: usize,
) -> Result<FileAt, String> {
    use std::io::Read;
    let file = std::fs::File::open(zip).map_err(|err| err.to_string())?;
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|err| format!("not a zip: {err}"))?;
    let mut entry = match archive.by_name(name) {
        Ok(entry) => entry,
        Err(zip::result::ZipError::FileNotFound) => return Ok(FileAt::Missing),
        Err(err) => return Err(format!("cannot read {name}: {err}")),
    };
    if entry.size() > max_bytes as u64 {
        return Ok(FileAt::TooLarge);
    }
    let mut bytes = Vec::new();
    entry
        .by_ref()
        .take(max_bytes as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| format!("cannot read {name}: {err}"))?;
    if bytes.len() > max_bytes {
        return Ok(FileAt::TooLarge);
    }
    Ok(FileAt::Found(String::from_utf8_lossy(&bytes).into_owned()))
}

/// The longest `NAME=value` of one environment variable: Linux's limit on one string
/// handed to a program (`MAX_ARG_STRLEN`, 128 KiB with its terminating zero); a longer one
/// makes every command of the build fail with "Argument list too long".
const MAX_VARIABLE: usize = 128 * 1024 - 1;
/// The most bytes all of a build's variables may take together (well under `ARG_MAX`).
const MAX_VARIABLES: usize = 1024 * 1024;

/// Refuses variables that no build could be given, naming the one (`field[i]`) too large.
pub(crate) fn check_variable_sizes(variables: &[Value], field: &str) -> Result<(), ApiError> {
    let mut total = 0;
    for (i, variable) in variables.iter().enumerate() {
        let name = variable.get("name").and_then(Value::as_str).unwrap_or_default();
        let value = variable.get("value").and_then(Value::as_str).unwrap_or_default();
        let size = name.len() + 1 + value.len();
        if size > MAX_VARIABLE {
            return Err(invalid(format!(
                "{field}[{i}] ({name}) is {size} bytes long as NAME=value; at most {MAX_VARIABLE} are allowed"
            )));
        }
        total += size;
    }
    if total > MAX_VARIABLES {
        return Err(invalid(format!(
            "{field} take {total} bytes together; at most {MAX_VARIABLES} are allowed"
        )));
    }
    Ok(())
}

/// The project's variables with the build's overrides on top, by name.
fn merged_variables(project: &Value, input: &StartBuildInput) -> Result<Vec<Value>, ApiError> {
    let mut variables: Vec<Value> =
        project["environment"]["environmentVariables"].as_array().cloned().unwrap_or_default();
    let overrides = input
        .environment_variables_override
        .iter()
        .flatten()
        .map(serde_json::to_value)
        .collect::<Result<Vec<Value>, _>>()
        .map_err(ApiError::internal)?;
    check_variable_sizes(&overrides, "environmentVariablesOverride")?;
    for variable in &overrides {
        let name = variable.get("name").and_then(Value::as_str).unwrap_or_default();
        if name.is_empty() || variable.get("value").and_then(Value::as_str).is_none() {
            return Err(invalid("Every environment variable needs a name and a value"));
        }
        if name.starts_with("CODEBUILD_") {
            return Err(invalid(format!(
                "Invalid environment variable name {name}: names starting with CODEBUILD_ are reserved"
            )));
        }
        variables.retain(|it| it["name"].as_str() != Some(name));
        variables.push(variable.clone());
    }
    for variable in &mut variables {
        if variable.get("type").is_none() {
            variable["type"] = json!("PLAINTEXT");
        }
    }
    check_variable_sizes(&variables, "environmentVariablesOverride")?;
    Ok(variables)
}

/// BatchGetBuilds at `now_ms` (a queued build says why it waits, from the agents seen lately).
///
/// A build that is not queued is answered with its stored JSON text, only its top-level
/// members parsed to drop the server's bookkeeping ([`public_text`]): building a `Value` tree
/// per build and dropping it again was most of the request's work (bench/RESULTS.md, P8).
pub async fn batch_get_builds(
    ctx: &Context,
    input: BatchGetBuildsInput,
    now_ms: i64,
) -> Result<BatchGetBuildsOutput, ApiError> {
    let ids = ids(input.ids)?;
    let found = ctx.store.get_many_raw(BUILD, &ids).await?;
    // Why queued builds wait is worked out from every agent and queued job: only when one of
    // the builds asked for is queued, and once.
    let mut queue: Option<String> = None;
    let mut builds: Vec<Box<RawValue>> = Vec::with_capacity(found.len());
    for raw in &found {
        if let Some(text) = public_text(&raw.body) {
            builds.push(text);
            continue;
        }
        let mut build = public(&raw.parse()?);
        // A queued build says why it is still waiting, in its QUEUED phase's context.
        if build["currentPhase"] == "QUEUED"
            && let Some(phase) = build["phases"].as_array_mut().and_then(|it| it.last_mut())
        {
            let reason = match &queue {
                Some(reason) => reason.clone(),
                None => queue.insert(crate::queue::queue_report(ctx, now_ms).await?).clone(),
            };
            phase["contexts"] = json!([{ "statusCode": "WAITING", "message": reason }]);
        }
        builds.push(serde_json::value::to_raw_value(&build).map_err(ApiError::internal)?);
    }
    let builds_not_found: Vec<String> =
        ids.iter().filter(|id| !found.iter().any(|it| &&it.key == id)).cloned().collect();
    Ok(BatchGetBuildsOutput { builds, builds_not_found })
}

/// A stored build's JSON as the API shows it, without parsing more than its top-level
/// members: `None` for a queued build (its answer says why it waits) or a body whose member
/// names need unescaping, which take [`public`]'s way. The members stay in the store's order
/// (sorted, as `serde_json` writes objects), so the text is what [`public`] would give.
fn public_text(body: &RawValue) -> Option<Box<RawValue>> {
    let mut members: BTreeMap<&str, &RawValue> = serde_json::from_str(body.get()).ok()?;
    if members.get("currentPhase").is_some_and(|phase| phase.get() == "\"QUEUED\"") {
        return None;
    }
    members.remove(INTERNAL);
    serde_json::value::to_raw_value(&members).ok()
}

/// The build ids (or ARNs) of a batch operation, as ids.
fn ids(ids: Option<Vec<String>>) -> Result<Vec<String>, ApiError> {
    let ids: Vec<String> = ids
        .ok_or_else(|| invalid("ids is required"))?
        .iter()
        .map(|it| it.rsplit_once(":build/").map_or(it.as_str(), |(_, id)| id).to_owned())
        .collect();
    if ids.is_empty() || ids.len() > 100 {
        return Err(invalid("ids must hold 1 to 100 build ids"));
    }
    for id in &ids {
        check_build_id(id)?;
    }
    Ok(ids)
}

/// A build id is `<project>:<uuid>`; anything else is malformed, as CodeBuild says.
fn check_build_id(id: &str) -> Result<(), ApiError> {
    match id.split_once(':') {
        Some((project, rest)) if !project.is_empty() && !rest.is_empty() => Ok(()),
        _ => Err(invalid(format!("Invalid build ID provided: {id}"))),
    }
}

/// ListBuilds.
pub async fn list_builds(
    ctx: &Context,
    input: ListBuildsInput,
) -> Result<ListBuildsOutput, ApiError> {
    list(ctx, None, input.sort_order.as_deref(), input.next_token).await
}

/// ListBuildsForProject.
pub async fn list_builds_for_project(
    ctx: &Context,
    input: ListBuildsForProjectInput,
) -> Result<ListBuildsOutput, ApiError> {
    let project = input.project_name.ok_or_else(|| invalid("projectName is required"))?;
    list(ctx, Some(&project), input.sort_order.as_deref(), input.next_token).await
}

/// A page of build ids, of one project or all.
async fn list(
    ctx: &Context,
    project: Option<&str>,
    sort_order: Option<&str>,
    next_token: Option<String>,
) -> Result<ListBuildsOutput, ApiError> {
    if let Some(project) = project
        && ctx.store.get(PROJECT, project).await?.is_none()
    {
        return Err(not_found(format!(
            "Project cannot be found: {}",
            crate::arn(ctx, &format!("project/{project}"))
        )));
    }
    let descending = match sort_order.unwrap_or("DESCENDING") {
        "ASCENDING" => false,
        "DESCENDING" => true,
        other => return Err(invalid(format!("Invalid sortOrder: {other}"))),
    };
    let query = ListQuery {
        kind: BUILD.to_owned(),
        parent: project.map(str::to_owned),
        descending,
        after: next_token,
        limit: PAGE_SIZE,
    };
    let page = match ctx.store.list(&query).await {
        Err(StoreError::BadCursor) => return Err(invalid("Invalid nextToken")),
        other => other?,
    };
    let ids: Vec<String> = page.documents.into_iter().map(|it| it.key).collect();
    Ok(ListBuildsOutput { ids, next_token: page.next })
}

/// StopBuild at `now_ms`: a queued build ends here, with its job, in one transaction; a
/// running one is asked to stop, and ends when its agent finishes it.
pub async fn stop_build(
    ctx: &Context,
    input: StopBuildInput,
    now_ms: i64,
) -> Result<StopBuildOutput, ApiError> {
    let id = input.id.as_deref().ok_or_else(|| invalid("id is required"))?;
    let id = id.rsplit_once(":build/").map_or(id, |(_, id)| id).to_owned();
    check_build_id(&id)?;
    for _ in 0..5 {
        let Some(mut document) = ctx.store.get(BUILD, &id).await? else {
            return Err(not_found(format!("Build {id} does not exist")));
        };
        let mut build = core(&document)?;
        if build.build_complete {
            return Ok(BuildOutput { build: public(&document) });
        }
        let version = document.version;
        let mut writes = Vec::new();
        if build.current_phase == PhaseType::Queued {
            // Not on an agent yet: the build ends here.
            let context = PhaseContext {
                status_code: "BUILD_STOPPED".to_owned(),
                message: "Build was stopped while queued".to_owned(),
            };
            engine::build::ended(
                &mut build,
                engine::clock::aws_timestamp(now_ms),
                BuildStatus::Stopped,
                context,
            );
            store_core(&mut document, &build);
            writes.push(Write::CompleteJob { job_id: id.clone() });
            writes.push(crate::queue::end_build_tokens(&id));
        } else {
            // The agent sees this on its next report (within a second) and stops the build.
            document.body[INTERNAL]["stopRequested"] = json!(true);
        }
        let shown = public(&document);
        writes.insert(0, Write::Update { document, expected_version: version });
        match ctx.store.apply(writes).await {
            Ok(()) => return Ok(BuildOutput { build: shown }),
            Err(StoreError::Conflict { .. }) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(ApiError::internal(format!("build {id} kept changing while being stopped")))
}

/// How long a build may wait in the queue when neither project nor StartBuild says (CodeBuild's
/// default, 8 hours).
const DEFAULT_QUEUED_TIMEOUT_MINUTES: i64 = 480;

/// Ends the builds that waited in the queue longer than their `queuedTimeoutInMinutes`, as
/// CodeBuild does: `TIMED_OUT`, in the QUEUED phase, and off the queue, in one transaction
/// each. A build an agent leases at the same moment keeps whichever change was written first
/// (the other one meets a changed version). Returns how many it ended.
pub async fn expire_queued(ctx: &Context, now_ms: i64) -> Result<usize, StoreError> {
    let mut ended = 0;
    for job in ctx.store.queued_jobs().await? {
        if job.kind != BUILD_JOB {
            continue;
        }
        let Some(mut document) = ctx.store.get(BUILD, &job.id).await? else { continue };
        let minutes = document.body["queuedTimeoutInMinutes"]
            .as_i64()
            .unwrap_or(DEFAULT_QUEUED_TIMEOUT_MINUTES);
        if job.enqueued_at + minutes * 60_000 > now_ms {
            continue;
        }
        let Ok(mut build) = core(&document) else { continue };
        if build.build_complete || build.current_phase != PhaseType::Queued {
            continue;
        }
        let context = PhaseContext {
            status_code: "BUILD_TIMED_OUT".to_owned(),
            message: format!("Build timed out after waiting {minutes} minutes in the queue"),
        };
        let when = engine::clock::aws_timestamp(now_ms);
        engine::build::ended(&mut build, when, BuildStatus::TimedOut, context);
        store_core(&mut document, &build);
        let version = document.version;
        let writes = vec![
            Write::Update { document, expected_version: version },
            Write::CompleteJob { job_id: job.id.clone() },
            crate::queue::end_build_tokens(&job.id),
        ];
        match ctx.store.apply(writes).await {
            Ok(()) => {
                tracing::warn!(build = %job.id, minutes, "build timed out in the queue");
                ended += 1;
            }
            Err(StoreError::Conflict { .. }) => {}
            Err(err) => return Err(err),
        }
    }
    if ended > 0 {
        ctx.logs.notify_waiters();
    }
    Ok(ended)
}

/// RetryBuild at `now_ms`: StartBuild with the request that started the build.
pub async fn retry_build(
    ctx: &Context,
    caller: &Caller,
    input: RetryBuildInput,
    now_ms: i64,
) -> Result<RetryBuildOutput, ApiError> {
    let id = input.id.as_deref().ok_or_else(|| invalid("id is required"))?;
    let id = id.rsplit_once(":build/").map_or(id, |(_, id)| id);
    let Some(document) = ctx.store.get(BUILD, id).await? else {
        return Err(not_found(format!("Build {id} does not exist")));
    };
    let mut request: StartBuildInput =
        serde_json::from_value(document.body[INTERNAL]["request"].clone())
            .map_err(ApiError::internal)?;
    request.idempotency_token = input.idempotency_token;
    start_build(ctx, caller, request, now_ms).await
}

/// BatchDeleteBuilds: every deletable build goes with its log and its git tokens, all in one
/// transaction.
pub async fn batch_delete_builds(
    ctx: &Context,
    input: BatchDeleteBuildsInput,
) -> Result<BatchDeleteBuildsOutput, ApiError> {
    let ids = ids(input.ids)?;
    let found = ctx.store.get_many(BUILD, &ids).await?;
    let mut writes = Vec::new();
    let mut deleted = Vec::new();
    let mut not_deleted = Vec::new();
    for id in &ids {
        match found.iter().find(|it| &it.key == id) {
            None => not_deleted.push(BuildNotDeleted {
                id: id.clone(),
                status_code: "BUILD_NOT_FOUND".to_owned(),
            }),
            Some(document) if !document.body["buildComplete"].as_bool().unwrap_or(false) => {
                not_deleted.push(BuildNotDeleted {
                    id: id.clone(),
                    status_code: "BUILD_IN_PROGRESS".to_owned(),
                })
            }
            Some(_) => {
                writes.push(Write::Delete { kind: BUILD.to_owned(), key: id.clone() });
                writes.push(Write::DeleteLog { stream: id.clone() });
                writes.push(crate::queue::end_build_tokens(id));
                deleted.push(id.clone());
            }
        }
    }
    ctx.store.apply(writes).await?;
    Ok(BatchDeleteBuildsOutput { builds_deleted: deleted, builds_not_deleted: not_deleted })
}

#[cfg(test)]
mod tests;
