//! The agent protocol: how agents pull work from the server and report on it.
//!
//! Agents pull (they work behind NAT and firewalls, like the CodeDeploy agent): every call
//! is an HTTP request from the agent to the server under `/agent/v1/`, with the agent's
//! token as `Authorization: Bearer <token>` and, after registration, its id as
//! `X-Slipway-Agent: <agent id>`. The calls, in the order of a job's life:
//!
//! 1. `POST register` with a [`RegisterRequest`] → [`RegisterResponse`]: the agent's id.
//! 2. `POST lease` with a [`LeaseRequest`] → [`LeaseResponse`]: waits up to `wait_ms` for a
//!    job the agent's labels match, and hands each job to exactly one agent.
//! 3. `POST jobs/<job>/events` with an [`EventBatch`] → [`JobControl`]: the build's events in
//!    order (`seq` makes a retried batch harmless); every call also renews the job's lease, and
//!    the answer says whether the build must stop. An agent with nothing to report calls
//!    `POST jobs/<job>/heartbeat` (body `{}`) → [`JobControl`] instead, at least every
//!    `heartbeat_interval_ms`.
//!    A build of source type `S3` first downloads its source zip: `GET jobs/<job>/source`
//!    (streamed; its service role must allow `s3:GetObject` on the object). A build whose
//!    cache is of type `S3` lists and downloads its cache's entries (`GET jobs/<job>/cache`,
//!    `GET jobs/<job>/cache/<file>`) and uploads new ones after the build
//!    (`PUT jobs/<job>/cache/<file>`).
//! 4. `PUT jobs/<job>/artifacts/<file>`: a packaged artifact, the zip as the body; and
//!    `PUT jobs/<job>/reports/<index>`: the test cases of the build's report `<index>`, one
//!    JSON [`TestCase`](crate::TestCase) a line. Both are streamed, without a size limit.
//! 5. `POST jobs/<job>/finish` with a [`FinishRequest`]: the final build record, whose
//!    uploaded reports carry no test cases of their own. JSON bodies (every call but the
//!    uploads) may hold at most 16 MiB.
//!
//! A lease that is not renewed within `lease_duration_ms` expires: the server then ends the
//! build (FAULT) or offers the job again. Errors are `{"code": …, "message": …}` with a 4xx
//! or 5xx status; an agent retries 5xx and connection failures with backoff.
//!
//! Versioning: `RegisterRequest::protocol` is [`PROTOCOL_VERSION`]; new fields are optional.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Build, BuildEvent, BuildPlan, EnvVariable};

/// The version of this protocol an agent speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// An agent introduces itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterRequest {
    /// A name for people (the host name by default).
    pub name: String,
    /// What the agent offers (`os=linux`, `arch=x86_64`, …); jobs may require labels.
    pub labels: BTreeMap<String, String>,
    /// How many jobs it runs at once.
    pub concurrency: u32,
    /// [`PROTOCOL_VERSION`].
    pub protocol: u32,
}

/// The server's answer to a registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterResponse {
    /// The agent's id for every later call.
    pub agent_id: String,
    /// How often to report on a running job, at least.
    pub heartbeat_interval_ms: u64,
    /// How long a lease lasts without a report.
    pub lease_duration_ms: u64,
}

/// An agent asks for work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaseRequest {
    /// From [`RegisterResponse`].
    pub agent_id: String,
    /// How long the server may hold the request open waiting for a job.
    pub wait_ms: u64,
}

/// A job, or none when the wait ended without one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaseResponse {
    /// The job leased to this agent.
    pub job: Option<JobOffer>,
}

/// A job leased to an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobOffer {
    /// The job's id in every later call.
    pub job_id: String,
    /// The build to run.
    pub build: BuildJob,
}

/// Everything an agent needs to run a build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildJob {
    /// `<project>:<uuid>`.
    pub build_id: String,
    /// The build's ARN.
    pub build_arn: String,
    /// The project's build counter.
    pub build_number: u64,
    /// The project.
    pub project_name: String,
    /// The region in ARNs and `AWS_REGION`.
    pub region: String,
    /// Who started the build (`CODEBUILD_INITIATOR`).
    pub initiator: String,
    /// The build's timeout.
    pub timeout_in_minutes: u64,
    /// The compiled buildspec.
    pub plan: BuildPlan,
    /// Variables from the project and the StartBuild overrides, highest precedence last.
    pub variables: Vec<EnvVariable>,
    /// Parameter and secret values the plan refers to, resolved by the server: reference → value.
    pub secrets: BTreeMap<String, String>,
    /// The references the build's service role may not read: reference → why (naming the
    /// role). The build fails in PROVISIONING with that message.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub refused_secrets: BTreeMap<String, String>,
    /// Why the build may not write its artifacts (its service role may not write the S3
    /// object it names, or the bucket does not exist), if it may not: the build ends FAULT in
    /// UPLOAD_ARTIFACTS with that message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused_artifacts: Option<String>,
    /// Run the build's commands inside bubblewrap (read-only host, writable workspace).
    pub sandbox: bool,
    /// `CODEBUILD_*` variables only the platform sets (`CODEBUILD_WEBHOOK_*` for a build a
    /// push started).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub platform_variables: Vec<EnvVariable>,
    /// A token the build's git commands authenticate to the server with, when the buildspec
    /// asks for `git-credential-helper`; valid until the build ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_token: Option<String>,
    /// Where the build's source comes from; `None` for `NO_SOURCE` builds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<GitSource>,
    /// The zip in an S3 bucket a build of source type `S3` unzips as its source (downloaded
    /// with `GET jobs/<job>/source`); `None` for the other source types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_source: Option<S3Source>,
    /// Where the build's cache lives when the project's cache is of type `S3`: its entries
    /// are downloaded before the build (`GET jobs/<job>/cache`, then `GET
    /// jobs/<job>/cache/<file>`) and the new ones uploaded after it (`PUT
    /// jobs/<job>/cache/<file>`). `None`: the agent's own cache directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_cache: Option<S3Cache>,
}

/// A build cache kept in a bucket the server serves: one object per cache entry, named
/// `<prefix>/<entry file>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3Cache {
    /// The bucket.
    pub bucket: String,
    /// The prefix of the entries' keys (without a trailing `/`; may be empty).
    pub prefix: String,
}

/// The answer to `GET jobs/<job>/cache`: the cache's entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CacheEntries {
    /// The entries' file names (`default.zip`, `k-<key>.zip`, …).
    pub entries: Vec<String>,
}

/// A zip in a bucket the server serves, the source of a build of type `S3`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3Source {
    /// The bucket.
    pub bucket: String,
    /// The zip's key.
    pub key: String,
    /// What was asked for (`sourceVersion`, an object version): `CODEBUILD_SOURCE_VERSION`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Why the build's service role may not read the zip (`s3:GetObject`), if it may not:
    /// the build ends FAULT in DOWNLOAD_SOURCE with that message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// A commit of a repository the server hosts, fetched over git smart HTTP with the agent's
/// token (agents may fetch, never push).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GitSource {
    /// The repository's path on the server, e.g. `/v1/repos/web`.
    pub path: String,
    /// The commit to build.
    pub commit: String,
    /// What was asked for (`main`, a tag, a commit): `CODEBUILD_SOURCE_VERSION`.
    pub version: String,
    /// The branch to check out at `commit`, when the version names one.
    pub branch: Option<String>,
    /// How many commits of history to fetch (`gitCloneDepth`); 0 for all of it.
    #[serde(default)]
    pub depth: u32,
}

/// Events of a running build, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventBatch {
    /// From [`RegisterResponse`].
    pub agent_id: String,
    /// The number of the first event in the batch, counted from 0 over the job: a batch
    /// whose events the server already has is acknowledged and not applied twice.
    pub seq: u64,
    /// The events.
    pub events: Vec<BuildEvent>,
}

/// What the server wants done with a running job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobControl {
    /// Stop the build (StopBuild): kill everything it runs and finish it STOPPED.
    pub stop: bool,
}

/// The end of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FinishRequest {
    /// From [`RegisterResponse`].
    pub agent_id: String,
    /// The complete build record, as the executor produced it.
    pub build: Build,
    /// The indexes in `build.reports` whose test cases went up before, as
    /// `PUT jobs/<job>/reports/<index>` (their `testCases` here are empty). An older agent
    /// sends none and its test cases inline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uploaded_reports: Vec<usize>,
    /// The buildspec's `artifacts.name` of each packaged artifact, as the build's shell
    /// evaluated it: artifact identifier (`""` for the primary artifact) → name. The server
    /// names the artifact by it when the project's `overrideArtifactName` is true.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub artifact_names: BTreeMap<String, String>,
}

/// An error answered by the agent API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentApiError {
    /// A stable code: `Unauthorized`, `UnknownAgent`, `JobNotLeased`, `BadRequest` (also for
    /// a body that is not the protocol's JSON), `TooLarge` (413: a JSON body over the limit,
    /// 16 MiB), `Internal`.
    pub code: String,
    /// What went wrong.
    pub message: String,
}
