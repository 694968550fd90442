//! The agent's worker: takes jobs from a Slipway server and runs them with the executor,
//! speaking the agent protocol of [`protocol::agent`] over HTTP.
//!
//! **Lifecycle.** [`run_agent`] registers (`POST register`), then leases jobs (`POST lease`,
//! a 20-second long poll) while fewer than `concurrency` jobs run. Each job runs in its own
//! task: a fresh directory under `work_root` (with the source: a git clone, or an S3 source's
//! zip from `GET jobs/<job>/source` unpacked), [`run_build`] on the job's plan, its events
//! streamed in batches (`POST jobs/<job>/events`), heartbeats when there is nothing to report
//! (`POST jobs/<job>/heartbeat`), then each packaged artifact uploaded (`PUT
//! jobs/<job>/artifacts/<file>`), the last events flushed, and the build record sent (`POST
//! jobs/<job>/finish`). The job's directory is removed afterwards, whatever happened.
//!
//! **Shutdown.** When `shutdown` becomes `true` the agent stops leasing (an open long poll is
//! dropped: a job the server hands out in that instant comes back to it when its lease
//! expires), lets the running jobs run to their end and report, and returns. It never kills a
//! running build on shutdown.
//!
//! **Stop requests.** Every events and heartbeat answer carries [`JobControl`]; `stop: true`
//! sets the executor's stop flag. While a build runs the worker talks to the server at least
//! every 500 ms (a heartbeat when no events went out), so a StopBuild reaches the build within
//! about a second whatever heartbeat interval the server asks for.
//!
//! **Event order.** A job's events go out in the order the executor produced them, one batch
//! at a time; `seq` is the index of a batch's first event over the job. A batch that fails is
//! sent again, byte for byte, with the same `seq` (the server ignores a batch it already has)
//! while new events keep queueing behind it. When more than 10,000 events or 64 MiB wait, runs
//! of consecutive `Output` events are merged: output is never dropped, so the output itself
//! stays in memory until the server takes it, but the number of events stays bounded.
//!
//! **Errors.** Nothing the server does makes the worker panic or return, except refusing the
//! token (401 on register or lease: [`AgentError::Unauthorized`], after the running jobs
//! ended). Connection failures, timeouts, 5xx, 408 and 429 are retried with exponential
//! backoff from 100 ms to 5 s. `UnknownAgent` on lease registers again. A job the server no
//! longer leases to this agent (`JobNotLeased`, 404, 409) or that it refuses otherwise (another
//! 4xx) is given up at once: the build is stopped and nothing more about it is sent. The final
//! `finish` and each upload are retried for about ten minutes, then given up with an error in
//! the log; an artifact that could not be uploaded turns the build into FAULT. Diagnostics
//! (registration, job starts and ends, retries, errors) go to [`AgentConfig::on_log`].

mod client;

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use protocol::agent::{
    BuildJob, EventBatch, FinishRequest, JobControl, JobOffer, LeaseRequest, LeaseResponse,
    PROTOCOL_VERSION, RegisterRequest,
};
use protocol::{Build, BuildEvent, BuildPhase, BuildStatus, PhaseContext, PhaseType};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinSet;

use crate::secrets::SecretSource;
use crate::{BuildContext, clock, run_build};
use client::{CallError, Client};

/// How long the server may hold a lease request open.
const LEASE_WAIT_MS: u64 = 20_000;
/// A lease answered without a job faster than this did not wait as asked: back off rather
/// than asking again at once.
const MIN_EMPTY_LEASE: Duration = Duration::from_secs(1);
/// Retry delays: doubling from the first to the last.
const BACKOFF_FIRST: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// How many bytes of a job's output may wait in the agent to be reported.
const OUTPUT_BUDGET: usize = 8 * 1024 * 1024;

/// A batch goes out when it holds this many events…
const BATCH_EVENTS: usize = 200;
/// …or when its first event has waited this long…
const BATCH_DELAY: Duration = Duration::from_millis(40);
/// …and holds at most about this many bytes of text (at least one event).
const BATCH_BYTES: usize = 1 << 20;
/// Above these, waiting `Output` events are merged.
const PENDING_EVENTS: usize = 10_000;
const PENDING_BYTES: usize = 64 << 20;
/// Merged output events stay below this size, so a batch stays a reasonable request.
const MERGED_OUTPUT_BYTES: usize = 1 << 20;
/// What an event costs besides its text (the enum, the allocation, its JSON tag), for the
/// memory estimate.
const EVENT_OVERHEAD: usize = 64;
/// While a build runs, the server is asked at least this often whether to stop it.
const STOP_POLL: Duration = Duration::from_millis(500);
/// The shortest heartbeat interval honoured, whatever the server says.
const MIN_HEARTBEAT: Duration = Duration::from_millis(100);
/// How long `finish` and each upload are retried before they are given up.
const REPORT_PATIENCE: Duration = Duration::from_secs(600);

/// How an agent connects and what it offers.
#[derive(Clone)]
pub struct AgentConfig {
    /// The server's base URL, e.g. `http://127.0.0.1:8080`.
    pub server: String,
    /// The agent's token, sent as `Authorization: Bearer <token>`.
    pub token: String,
    /// A name for people (the host name, usually).
    pub name: String,
    /// What the agent offers (`os=linux`, `arch=x86_64`, …).
    pub labels: BTreeMap<String, String>,
    /// How many jobs run at once (at least 1).
    pub concurrency: u32,
    /// Each job gets a fresh directory under it, removed when the job ends.
    pub work_root: PathBuf,
    /// Where build caches are kept; `None` disables caching.
    pub cache_dir: Option<PathBuf>,
    /// The program that serves `codebuild-hash-files` (see [`BuildContext::helper_program`]).
    pub helper_program: Option<PathBuf>,
    /// The environment builds start from.
    pub base_env: Vec<(String, String)>,
    /// `Some(hidden)`: every build runs in bubblewrap whatever its project says, with the
    /// `hidden` paths empty (the embedded agent: the server's data directory and key).
    pub forced_sandbox: Option<Vec<PathBuf>>,
    /// Where diagnostic lines go (registration, job starts and ends, retries, errors); the
    /// binary prints them. `None` drops them.
    pub on_log: Option<Arc<dyn Fn(String) + Send + Sync>>,
}

impl fmt::Debug for AgentConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The token is a credential: it never reaches a log line.
        f.debug_struct("AgentConfig")
            .field("server", &self.server)
            .field("token", &"<redacted>")
            .field("name", &self.name)
            .field("labels", &self.labels)
            .field("concurrency", &self.concurrency)
            .field("work_root", &self.work_root)
            .field("cache_dir", &self.cache_dir)
            .field("helper_program", &self.helper_program)
            .field("base_env", &format_args!("<{} variables>", self.base_env.len()))
            .field("forced_sandbox", &self.forced_sandbox)
            .field("on_log", &self.on_log.is_some())
            .finish()
    }
}

/// Why [`run_agent`] gave up.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The server refused the token: retrying cannot help.
    #[error(
        "the server at {server} refused the agent's token (401 Unauthorized: {message}); check the token the agent was given"
    )]
    Unauthorized {
        /// The server's URL.
        server: String,
        /// What the server said.
        message: String,
    },
    /// The configuration cannot work (no server URL, zero concurrency, …).
    #[error("invalid agent configuration: {0}")]
    Config(String),
    /// The work root cannot be created.
    #[error("cannot create the work directory {path}: {source}")]
    WorkRoot {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Registers with the server, then leases and runs jobs until `shutdown` becomes `true`;
/// then lets the running jobs finish and report, and returns. Server errors are retried with
/// backoff (100 ms to 5 s); only a refused token ends the agent with an error.
pub async fn run_agent(
    mut config: AgentConfig,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), AgentError> {
    if config.concurrency == 0 {
        return Err(AgentError::Config("concurrency must be at least 1".to_owned()));
    }
    // Builds see their directories in CODEBUILD_SRC_DIR and the like: make them absolute.
    config.work_root = std::path::absolute(&config.work_root)
        .map_err(|source| AgentError::WorkRoot { path: config.work_root.clone(), source })?;
    tokio::fs::create_dir_all(&config.work_root)
        .await
        .map_err(|source| AgentError::WorkRoot { path: config.work_root.clone(), source })?;
    let client = Client::new(&config.server, &config.token).map_err(AgentError::Config)?;
    let shared = Arc::new(Shared { client, config });

    let Some(mut registration) = register(&shared, &mut shutdown).await? else { return Ok(()) };
    let slots = Arc::new(Semaphore::new(shared.config.concurrency as usize));
    let mut jobs = JoinSet::new();
    let mut backoff = Backoff::default();
    let outcome = loop {
        while let Some(joined) = jobs.try_join_next() {
            shared.job_joined(joined);
        }
        let permit = tokio::select! {
            biased;
            () = wait_for_shutdown(&mut shutdown) => break Ok(()),
            permit = slots.clone().acquire_owned() => permit,
        };
        // The semaphore is never closed; should it be, there is nothing left to lease for.
        let Ok(permit) = permit else { break Ok(()) };
        let request =
            LeaseRequest { agent_id: registration.agent_id.clone(), wait_ms: LEASE_WAIT_MS };
        let asked = clock::instant();
        let leased = tokio::select! {
            biased;
            () = wait_for_shutdown(&mut shutdown) => break Ok(()),
            leased = shared.client.lease(&request) => leased,
        };
        match leased {
            Ok(LeaseResponse { job: Some(offer) }) => {
                backoff.reset();
                jobs.spawn(run_job(Arc::clone(&shared), registration.clone(), offer, permit));
            }
            Ok(LeaseResponse { job: None })
                if clock::instant().duration_since(asked) >= MIN_EMPTY_LEASE =>
            {
                backoff.reset();
            }
            Ok(LeaseResponse { job: None }) => {
                if sleep_or_shutdown(backoff.next(), &mut shutdown).await {
                    break Ok(());
                }
            }
            Err(err) if err.unauthorized() => {
                break Err(AgentError::Unauthorized {
                    server: shared.client.server().to_owned(),
                    message: err.message().to_owned(),
                });
            }
            Err(err) if err.unknown_agent() => {
                shared.log(format!(
                    "the server no longer knows this agent ({err}); registering again"
                ));
                match register(&shared, &mut shutdown).await {
                    Ok(Some(again)) => registration = again,
                    Ok(None) => break Ok(()),
                    Err(err) => break Err(err),
                }
            }
            Err(err) => {
                let delay = backoff.next();
                shared.log(format!("leasing a job failed ({err}); retrying in {delay:?}"));
                if sleep_or_shutdown(delay, &mut shutdown).await {
                    break Ok(());
                }
            }
        }
    };
    if !jobs.is_empty() {
        shared.log(format!("no longer leasing; waiting for {} running job(s) to end", jobs.len()));
    }
    while let Some(joined) = jobs.join_next().await {
        shared.job_joined(joined);
    }
    outcome
}

/// What every job task shares.
struct Shared {
    client: Client,
    config: AgentConfig,
}

impl Shared {
    fn log(&self, line: String) {
        if let Some(on_log) = &self.config.on_log {
            on_log(line);
        }
    }

    fn job_joined(&self, joined: Result<(), tokio::task::JoinError>) {
        if let Err(err) = joined {
            self.log(format!("a job task crashed: {err}"));
        }
    }
}

/// What the server said to a registration.
#[derive(Debug, Clone)]
struct Registration {
    agent_id: String,
    heartbeat: Duration,
}

/// Registers, retrying every failure but a refused token. `None` when shutdown came first.
async fn register(
    shared: &Shared,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<Option<Registration>, AgentError> {
    let config = &shared.config;
    let request = RegisterRequest {
        name: config.name.clone(),
        labels: config.labels.clone(),
        concurrency: config.concurrency,
        protocol: PROTOCOL_VERSION,
    };
    let mut backoff = Backoff::default();
    loop {
        let answer = tokio::select! {
            biased;
            () = wait_for_shutdown(shutdown) => return Ok(None),
            answer = shared.client.register(&request) => answer,
        };
        match answer {
            Ok(answer) => {
                shared.log(format!(
                    "registered with {} as agent {} (heartbeat every {} ms, leases last {} ms)",
                    shared.client.server(),
                    answer.agent_id,
                    answer.heartbeat_interval_ms,
                    answer.lease_duration_ms
                ));
                let heartbeat = Duration::from_millis(answer.heartbeat_interval_ms);
                shared.client.set_agent_id(&answer.agent_id);
                return Ok(Some(Registration {
                    agent_id: answer.agent_id,
                    heartbeat: heartbeat.max(MIN_HEARTBEAT),
                }));
            }
            Err(err) if err.unauthorized() => {
                return Err(AgentError::Unauthorized {
                    server: shared.client.server().to_owned(),
                    message: err.message().to_owned(),
                });
            }
            Err(err) => {
                let delay = backoff.next();
                shared.log(format!(
                    "registering with {} failed ({err}); retrying in {delay:?}",
                    shared.client.server()
                ));
                if sleep_or_shutdown(delay, shutdown).await {
                    return Ok(None);
                }
            }
        }
    }
}

/// Returns when `shutdown` is `true`; never when its sender is gone without saying so.
async fn wait_for_shutdown(shutdown: &mut watch::Receiver<bool>) {
    if shutdown.wait_for(|it| *it).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Sleeps for `delay`; `true` when shutdown came first.
async fn sleep_or_shutdown(delay: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        biased;
        () = wait_for_shutdown(shutdown) => true,
        () = tokio::time::sleep(delay) => false,
    }
}

/// Exponential retry delays, from [`BACKOFF_FIRST`] doubling up to [`BACKOFF_MAX`].
#[derive(Debug)]
struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff { next: BACKOFF_FIRST }
    }
}

impl Backoff {
    fn next(&mut self) -> Duration {
        let delay = self.next;
        self.next = (delay * 2).min(BACKOFF_MAX);
        delay
    }

    fn reset(&mut self) {
        self.next = BACKOFF_FIRST;
    }
}

/// Secrets the server resolved for the job: reference → value, and the references the
/// build's service role may not read: reference → why. Lookups are exact: for a
/// secrets-manager reference with a JSON key, version stage or id, the server resolved the
/// whole reference string, so that string is the key.
struct JobSecrets {
    values: BTreeMap<String, String>,
    refused: BTreeMap<String, String>,
}

impl JobSecrets {
    fn lookup(&self, reference: &str, missing: impl FnOnce() -> String) -> Result<String, String> {
        if let Some(why) = self.refused.get(reference) {
            return Err(why.clone());
        }
        self.values.get(reference).cloned().ok_or_else(missing)
    }
}

impl SecretSource for JobSecrets {
    fn parameter(&self, name: &str) -> Result<String, String> {
        self.lookup(name, || format!("parameter `{name}` was not resolved by the server"))
    }

    fn secret(&self, reference: &str) -> Result<String, String> {
        self.lookup(reference, || format!("secret `{reference}` was not resolved by the server"))
    }

    fn refusal(&self, reference: &str) -> Option<String> {
        self.refused.get(reference).cloned()
    }
}

/// The directories of one job, under a fresh directory of the work root that is removed
/// with everything in it when the job ends.
struct JobDirs {
    root: tempfile::TempDir,
    source: PathBuf,
    work: PathBuf,
    artifacts: PathBuf,
}

impl JobDirs {
    fn create(work_root: &Path) -> std::io::Result<JobDirs> {
        let root = tempfile::Builder::new().prefix("job-").tempdir_in(work_root)?;
        let (source, work, artifacts) =
            (root.path().join("source"), root.path().join("work"), root.path().join("artifacts"));
        for dir in [&source, &work, &artifacts] {
            std::fs::create_dir(dir)?;
        }
        Ok(JobDirs { root, source, work, artifacts })
    }

    async fn remove(self) -> std::io::Result<()> {
        let root = self.root;
        tokio::task::spawn_blocking(move || root.close()).await.map_err(std::io::Error::other)?
    }
}

/// Runs one leased job to its end, reporting as it goes. Holds `_slot` so the lease loop
/// does not take more jobs than the agent runs at once.
async fn run_job(
    shared: Arc<Shared>,
    registration: Registration,
    offer: JobOffer,
    _slot: OwnedSemaphorePermit,
) {
    let JobOffer { job_id, build: job } = offer;
    let job_label = format!("job {job_id} (build {})", job.build_id);
    shared.log(format!("{job_label}: started"));
    let sandbox = job.sandbox || shared.config.forced_sandbox.is_some();
    if sandbox {
        shared.log(format!(
            "{job_label}: runs inside bubblewrap (the host read-only, the workspace writable)"
        ));
    }
    let work_root = shared.config.work_root.clone();
    let created = tokio::task::spawn_blocking(move || JobDirs::create(&work_root))
        .await
        .map_err(std::io::Error::other)
        .and_then(std::convert::identity);
    let dirs = match created {
        Ok(dirs) => dirs,
        Err(err) => {
            let message = format!(
                "the agent cannot create a workspace under {}: {err}",
                shared.config.work_root.display()
            );
            shared.log(format!("{job_label}: {message}"));
            let build = fault_build(&job, message);
            end_before_running(&shared, &registration, &job_label, &job_id, build, None).await;
            return;
        }
    };
    if let Some(source) = &job.source
        && let Err(message) = fetch_source(&shared, source, &dirs.source).await
    {
        shared.log(format!("{job_label}: {message}"));
        let build = fault_build(&job, message);
        end_before_running(&shared, &registration, &job_label, &job_id, build, Some(dirs)).await;
        return;
    }
    if let Some(source) = &job.s3_source {
        let fetched = match &source.refused {
            Some(why) => Err(why.clone()),
            None => fetch_s3_source(&shared, &job_id, &dirs).await,
        };
        if let Err(message) = fetched {
            shared.log(format!("{job_label}: {message}"));
            let build = fault_build_in(&job, PhaseType::DownloadSource, message);
            let dirs = Some(dirs);
            end_before_running(&shared, &registration, &job_label, &job_id, build, dirs).await;
            return;
        }
    }
    // A cache of type S3: its entries, downloaded into the job's own cache directory.
    let s3_cache = match &job.s3_cache {
        Some(_) => Some(restore_s3_cache(&shared, &job_label, &job_id, &dirs).await),
        None => None,
    };
    // At most this much of the build's output waits in the agent for the server: a build that
    // prints faster than the server takes it in is slowed down instead of filling memory.
    let budget = Arc::new(crate::executor::OutputBudget::new(OUTPUT_BUDGET));
    let context = BuildContext {
        build_id: job.build_id.clone(),
        build_arn: job.build_arn.clone(),
        build_number: job.build_number,
        project_name: job.project_name.clone(),
        region: job.region.clone(),
        initiator: job.initiator.clone(),
        // Empty for NO_SOURCE builds; a clone of the hosted repository otherwise. The executor
        // moves it into the build's workspace.
        source_dir: dirs.source.clone(),
        work_dir: dirs.work.clone(),
        artifacts_dir: dirs.artifacts.clone(),
        cache_dir: match &s3_cache {
            Some((dir, _)) => Some(dir.clone()),
            None => shared.config.cache_dir.clone(),
        },
        timeout: Duration::from_secs(job.timeout_in_minutes.saturating_mul(60)),
        base_env: shared.config.base_env.clone(),
        env_overrides: job.variables.clone(),
        helper_program: shared.config.helper_program.clone(),
        sandbox,
        sandbox_hidden: shared.config.forced_sandbox.clone().unwrap_or_default(),
        output_budget: Some(Arc::clone(&budget)),
        git_credentials: job.git_token.clone().map(|token| (shared.config.server.clone(), token)),
        platform_variables: job.platform_variables.clone(),
        source_version: job
            .source
            .as_ref()
            .map(|it| it.version.clone())
            .or_else(|| job.s3_source.as_ref().and_then(|it| it.version.clone())),
        source_repo_url: job
            .source
            .as_ref()
            .map(|it| format!("{}{}", shared.config.server.trim_end_matches('/'), it.path)),
        source_commit: job.source.as_ref().map(|it| it.commit.clone()),
        refused_artifacts: job.refused_artifacts.clone(),
    };
    let secrets = JobSecrets { values: job.secrets.clone(), refused: job.refused_secrets.clone() };

    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = watch::channel(false);
    let (uploaded_tx, uploaded_rx) = oneshot::channel();
    let abandoned = Arc::new(AtomicBool::new(false));
    let reporter = Reporter {
        budget: Arc::clone(&budget),
        shared: Arc::clone(&shared),
        job_id: job_id.clone(),
        job_label: job_label.clone(),
        agent_id: registration.agent_id.clone(),
        heartbeat: registration.heartbeat,
        stop: stop_tx,
        abandoned: Arc::clone(&abandoned),
        pending: Pending::default(),
        next_seq: 0,
    };
    // The reporter is a task of its own so that events flow and the lease is renewed while
    // the build runs and while artifacts upload.
    let reporting = tokio::spawn(reporter.run(events_rx, uploaded_rx));
    let result = run_build(&job.plan, &context, &secrets, events_tx, stop_rx).await;

    let mut build = result.build;
    for artifact in &result.artifacts {
        if abandoned.load(Ordering::SeqCst) {
            break;
        }
        let Some(name) = artifact.path.file_name().and_then(|it| it.to_str()) else {
            let path = artifact.path.display();
            shared.log(format!(
                "{job_label}: the artifact {path} has no usable file name; the build ends FAULT"
            ));
            build.build_status = BuildStatus::Fault;
            continue;
        };
        // The buildspec's name, as the build evaluated it, goes along: the server decides
        // whether it names the artifact.
        let mut route = vec!["artifacts", name];
        route.extend(artifact.name.as_deref().filter(|it| !it.is_empty()));
        if let Err(err) =
            upload(&shared, &job_label, &job_id, &route, &artifact.path, &abandoned).await
        {
            shared.log(format!("{job_label}: {err}; the build ends FAULT"));
            build.build_status = BuildStatus::Fault;
        }
    }
    if let Some((dir, restored)) = &s3_cache
        && !abandoned.load(Ordering::SeqCst)
    {
        save_s3_cache(&shared, &job_label, &job_id, dir, restored, &abandoned).await;
    }
    // Test cases go up as files of their own, so that the finish request stays small
    // whatever the number of cases.
    let mut uploaded_reports = Vec::new();
    for (index, report) in build.reports.iter_mut().enumerate() {
        if abandoned.load(Ordering::SeqCst) || report.test_cases.is_empty() {
            continue;
        }
        let path = dirs.root.path().join(format!("report-{index}.jsonl"));
        let cases = std::mem::take(&mut report.test_cases);
        let written = tokio::task::spawn_blocking({
            let path = path.clone();
            move || write_test_cases(&path, &cases)
        })
        .await
        .map_err(|err| err.to_string())
        .and_then(|it| it.map_err(|err| err.to_string()));
        let index_text = index.to_string();
        let sent = match written {
            Ok(()) => {
                let route = ["reports", index_text.as_str()];
                upload(&shared, &job_label, &job_id, &route, &path, &abandoned).await
            }
            Err(err) => {
                Err(format!("cannot write the test cases of report {}: {err}", report.name))
            }
        };
        match sent {
            Ok(()) => uploaded_reports.push(index),
            Err(err) => shared.log(format!("{job_label}: {err}; its test cases are lost")),
        }
    }
    let _ = uploaded_tx.send(());
    let reported = match reporting.await {
        Ok(reported) => reported,
        Err(err) => {
            shared.log(format!("{job_label}: reporting crashed: {err}"));
            Reported::Abandoned
        }
    };
    if reported == Reported::Flushed && !abandoned.load(Ordering::SeqCst) {
        let status = build.build_status;
        // The buildspec's names, evaluated by the build's shell: the server decides whether
        // they name the artifacts (the project's `overrideArtifactName`).
        let artifact_names = result
            .artifacts
            .iter()
            .filter_map(|it| Some((it.identifier.clone().unwrap_or_default(), it.name.clone()?)))
            .collect();
        let request = FinishRequest {
            agent_id: registration.agent_id.clone(),
            build,
            uploaded_reports,
            artifact_names,
        };
        if finish(&shared, &job_label, &job_id, request).await {
            shared.log(format!("{job_label}: ended {}", status.as_str()));
        }
    } else {
        shared.log(format!("{job_label}: given up; nothing more is reported"));
    }
    if let Err(err) = dirs.remove().await {
        shared.log(format!("{job_label}: cannot remove its directory: {err}"));
    }
}

/// Writes test cases as JSON lines, the body of `PUT jobs/<job>/reports/<index>`.
fn write_test_cases(path: &Path, cases: &[protocol::TestCase]) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for case in cases {
        serde_json::to_writer(&mut out, case)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Uploads one file (`PUT jobs/<job>/<route…>`: an artifact or a report's test cases),
/// retrying for [`REPORT_PATIENCE`]. Returns `Ok` when it was uploaded or when the job was
/// given up (then there is nobody to upload to).
async fn upload(
    shared: &Shared,
    job_label: &str,
    job_id: &str,
    route: &[&str],
    path: &Path,
    abandoned: &AtomicBool,
) -> Result<(), String> {
    let name = route.join("/");
    let deadline = clock::instant() + REPORT_PATIENCE;
    let mut backoff = Backoff::default();
    loop {
        if abandoned.load(Ordering::SeqCst) {
            return Ok(());
        }
        match shared.client.upload(job_id, route, path).await {
            Ok(()) => return Ok(()),
            Err(err) if err.not_leased() => {
                shared.log(format!("{job_label}: the server no longer leases it ({err})"));
                abandoned.store(true, Ordering::SeqCst);
                return Ok(());
            }
            Err(err) => {
                let delay = backoff.next();
                if !err.retryable() || clock::instant() + delay > deadline {
                    return Err(format!("uploading {name} failed: {err}"));
                }
                shared.log(format!(
                    "{job_label}: uploading {name} failed ({err}); retrying in {delay:?}"
                ));
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// Sends the build record, retrying for [`REPORT_PATIENCE`]. Returns whether it arrived.
/// When the server refuses the record itself (a 4xx other than "not leased" or a refused
/// token: too large for an older server, or not what it expects), a FAULT record that says
/// why is sent instead, so the build ends for what happened rather than `AGENT_LOST` when its
/// lease runs out.
async fn finish(
    shared: &Shared,
    job_label: &str,
    job_id: &str,
    mut request: FinishRequest,
) -> bool {
    let mut refused_once = false;
    let deadline = clock::instant() + REPORT_PATIENCE;
    let mut backoff = Backoff::default();
    let encode = |request: &FinishRequest| match serde_json::to_vec(request) {
        Ok(body) => Some(body),
        Err(err) => {
            shared.log(format!("{job_label}: cannot encode the build record: {err}"));
            None
        }
    };
    let Some(mut body) = encode(&request) else { return false };
    loop {
        match shared.client.finish(job_id, body.clone()).await {
            Ok(()) => return true,
            Err(err)
                if !refused_once
                    && !err.retryable()
                    && !err.not_leased()
                    && !err.unauthorized()
                    && !err.unknown_agent() =>
            {
                refused_once = true;
                shared.log(format!(
                    "{job_label}: the server refused the build record ({err}); reporting a FAULT"
                ));
                refused_record(&mut request.build, &err.to_string());
                request.uploaded_reports.clear();
                let Some(fallback) = encode(&request) else { return false };
                body = fallback;
            }
            Err(err) => {
                let delay = backoff.next();
                if !err.retryable() || clock::instant() + delay > deadline {
                    shared.log(format!(
                        "{job_label}: reporting the end of the build failed ({err}); given up"
                    ));
                    return false;
                }
                shared.log(format!(
                    "{job_label}: reporting the end of the build failed ({err}); retrying in {delay:?}"
                ));
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// Turns `build` into the FAULT record of a build whose record the server refused: without
/// its test cases, with the refusal as the context of its last phase that ended.
fn refused_record(build: &mut Build, refusal: &str) {
    build.build_status = BuildStatus::Fault;
    for report in &mut build.reports {
        report.test_cases.clear();
    }
    let context = PhaseContext {
        status_code: "FAULT".to_owned(),
        message: format!("The server refused the build's record: {refusal}"),
    };
    if let Some(phase) = build.phases.iter_mut().rev().find(|it| it.phase_status.is_some()) {
        phase.phase_status = Some(BuildStatus::Fault);
        let contexts = phase.contexts.get_or_insert_with(Vec::new);
        // A phase that succeeded holds a single empty context.
        contexts.retain(|it| !it.status_code.is_empty() || !it.message.is_empty());
        contexts.push(context);
    }
}

/// Clones the build's source from the server (with the agent's token, which may fetch but not
/// push) into `dir` and checks out the commit to build.
async fn fetch_source(
    shared: &Shared,
    source: &protocol::agent::GitSource,
    dir: &std::path::Path,
) -> Result<(), String> {
    let url = format!("{}{}", shared.config.server.trim_end_matches('/'), source.path);
    let header = format!("http.extraHeader=Authorization: Bearer {}", shared.config.token);
    // The checkout is the build's scratch copy: git need not flush it to disk (`core.fsync`,
    // git >= 2.36; older ones ignore it), and it gets no hook samples (`--template=` below).
    // Both together took a trivial clone from ~32 ms to ~19 ms here (bench/RESULTS.md, P1).
    let git = |args: Vec<String>| {
        let mut command = crate::process::command("git");
        command
            .args(["-c", "core.fsync=none"])
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        command
    };
    // A full clone from a bundle of the repository (one request, one git process on the
    // server) when the project wants all of the history; a shallow fetch of exactly the commit
    // when it asks for a depth; a clone over git's protocol when either fails.
    let fetched = if source.depth == 0 {
        match clone_bundle(shared, source, dir, &url, &git).await {
            Ok(()) => true,
            Err(message) => {
                shared.log(format!(
                    "cloning {url} from a bundle failed ({message}); cloning it with git"
                ));
                false
            }
        }
    } else {
        let dir_text = dir.display().to_string();
        let steps = [
            vec![
                "init".to_owned(),
                "--quiet".to_owned(),
                "--template=".to_owned(),
                dir_text.clone(),
            ],
            vec![
                "-C".to_owned(),
                dir_text.clone(),
                "remote".to_owned(),
                "add".to_owned(),
                "origin".to_owned(),
                url.clone(),
            ],
            vec![
                "-C".to_owned(),
                dir_text.clone(),
                "-c".to_owned(),
                header.clone(),
                "fetch".to_owned(),
                "--quiet".to_owned(),
                format!("--depth={}", source.depth),
                "origin".to_owned(),
                source.commit.clone(),
            ],
        ];
        let mut fetched = true;
        for step in steps {
            if run_git(git(step)).await.is_err() {
                fetched = false;
                break;
            }
        }
        fetched
    };
    if !fetched {
        // Whatever the first way left behind goes; then a plain clone.
        let _ = tokio::fs::remove_dir_all(dir).await;
        let _ = tokio::fs::create_dir_all(dir).await;
        let clone = vec![
            "-c".to_owned(),
            header,
            "clone".to_owned(),
            "--quiet".to_owned(),
            "--template=".to_owned(),
            url.clone(),
            dir.display().to_string(),
        ];
        run_git(git(clone))
            .await
            .map_err(|err| format!("cannot fetch the source from {url}: {err}"))?;
    }
    let mut checkout = vec![
        "-C".to_owned(),
        dir.display().to_string(),
        "checkout".to_owned(),
        "--quiet".to_owned(),
    ];
    match &source.branch {
        Some(branch) => checkout.extend(["-B".to_owned(), branch.clone(), source.commit.clone()]),
        None => checkout.extend(["--detach".to_owned(), source.commit.clone()]),
    }
    run_git(git(checkout))
        .await
        .map_err(|err| format!("cannot check out {}: {err}", source.commit))?;
    // The folders git's templates would have made, without their samples: tools that install
    // hooks expect `.git/hooks` to be there.
    for folder in ["hooks", "info"] {
        let path = dir.join(".git").join(folder);
        tokio::fs::create_dir_all(&path)
            .await
            .map_err(|err| format!("cannot create {}: {err}", path.display()))?;
    }
    Ok(())
}

/// Clones the source into `dir` from the server's bundle of the repository: every branch (as
/// `origin/…`) and tag, as `git clone` gives, and `origin` pointing at `url`. The checkout is
/// the caller's.
async fn clone_bundle(
    shared: &Shared,
    source: &protocol::agent::GitSource,
    dir: &Path,
    url: &str,
    git: &impl Fn(Vec<String>) -> tokio::process::Command,
) -> Result<(), String> {
    // Beside the source directory, in the job's own directory.
    let bundle = dir.with_extension("bundle");
    let downloaded = shared.client.source_bundle(&source.path, &source.commit, &bundle).await;
    let cloned = match downloaded {
        Ok(()) => {
            let dir = dir.display().to_string();
            let bundle_text = bundle.display().to_string();
            let clone = vec![
                "clone".to_owned(),
                "--quiet".to_owned(),
                "--no-checkout".to_owned(),
                "--template=".to_owned(),
                bundle_text,
                dir.clone(),
            ];
            let set_url = ["-C", &dir, "remote", "set-url", "origin", url];
            match run_git(git(clone)).await {
                Ok(()) => run_git(git(set_url.map(str::to_owned).to_vec())).await,
                Err(err) => Err(err),
            }
        }
        Err(err) => Err(err.to_string()),
    };
    let _ = tokio::fs::remove_file(&bundle).await;
    cloned
}

/// Runs a git command whose output is not needed; its stderr is the error.
async fn run_git(mut command: tokio::process::Command) -> Result<(), String> {
    let output = command.output().await.map_err(|err| format!("cannot run git: {err}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
    }
}

/// The size and modification time of each cache entry file in `dir`.
fn cache_files(dir: &Path) -> BTreeMap<String, (u64, Option<std::time::SystemTime>)> {
    let Ok(listing) = std::fs::read_dir(dir) else { return BTreeMap::new() };
    listing
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let metadata = entry.metadata().ok()?;
            (metadata.is_file() && name.ends_with(".zip") && !name.starts_with('.'))
                .then(|| (name, (metadata.len(), metadata.modified().ok())))
        })
        .collect()
}

/// Downloads the entries of a build's S3 cache into a cache directory of the job's own;
/// the directory, and what was in it then. A cache that cannot be read is an empty one (the
/// failure is logged): as in CodeBuild, it never fails the build.
async fn restore_s3_cache(
    shared: &Shared,
    job_label: &str,
    job_id: &str,
    dirs: &JobDirs,
) -> (PathBuf, BTreeMap<String, (u64, Option<std::time::SystemTime>)>) {
    let dir = dirs.root.path().join("cache");
    if let Err(err) = tokio::fs::create_dir_all(&dir).await {
        shared.log(format!("{job_label}: cannot create its cache directory: {err}"));
        return (dir, BTreeMap::new());
    }
    match shared.client.cache_entries(job_id).await {
        Ok(listed) => {
            for file in listed.entries {
                let to = dir.join(&file);
                if let Err(err) = shared.client.cache_entry(job_id, &file, &to).await {
                    shared.log(format!("{job_label}: cannot download cache entry {file}: {err}"));
                    let _ = tokio::fs::remove_file(&to).await;
                }
            }
        }
        Err(err) => shared.log(format!("{job_label}: cannot list its S3 cache: {err}")),
    }
    let restored = cache_files(&dir);
    (dir, restored)
}

/// Uploads the cache entries the build wrote (new ones, and the unkeyed entry rewritten)
/// to its S3 cache; a failure is logged, never the build's.
async fn save_s3_cache(
    shared: &Shared,
    job_label: &str,
    job_id: &str,
    dir: &Path,
    restored: &BTreeMap<String, (u64, Option<std::time::SystemTime>)>,
    abandoned: &AtomicBool,
) {
    for (file, state) in cache_files(dir) {
        if restored.get(&file) == Some(&state) {
            continue;
        }
        let route = ["cache", file.as_str()];
        if let Err(err) =
            upload(shared, job_label, job_id, &route, &dir.join(&file), abandoned).await
        {
            shared.log(format!("{job_label}: cannot save cache entry {file}: {err}"));
        }
    }
}

/// Downloads a build's S3 source zip (`GET jobs/<job>/source`, retried for
/// [`REPORT_PATIENCE`] while the failure may pass) and unpacks it as the source directory.
async fn fetch_s3_source(shared: &Shared, job_id: &str, dirs: &JobDirs) -> Result<(), String> {
    let zip = dirs.root.path().join("source.zip");
    let deadline = clock::instant() + REPORT_PATIENCE;
    let mut backoff = Backoff::default();
    loop {
        match shared.client.source_zip(job_id, &zip).await {
            Ok(()) => break,
            Err(err) => {
                let delay = backoff.next();
                if !err.retryable() || clock::instant() + delay > deadline {
                    let _ = tokio::fs::remove_file(&zip).await;
                    let message = match err {
                        CallError::Status { message, .. } if !message.is_empty() => message,
                        other => other.to_string(),
                    };
                    return Err(format!("downloading the source failed: {message}"));
                }
                shared.log(format!(
                    "downloading the source of {job_id} failed ({err}); retrying in {delay:?}"
                ));
                tokio::time::sleep(delay).await;
            }
        }
    }
    let into = dirs.source.clone();
    let unzipped = {
        let zip = zip.clone();
        tokio::task::spawn_blocking(move || crate::source_zip::unzip_source(&zip, &into))
            .await
            .map_err(|err| err.to_string())
            .and_then(std::convert::identity)
    };
    let _ = tokio::fs::remove_file(&zip).await;
    unzipped.map(drop)
}

/// Ends a job that failed before its build ran: sends `build` (a fault record) as its result,
/// and removes its directories when it has them.
async fn end_before_running(
    shared: &Shared,
    registration: &Registration,
    job_label: &str,
    job_id: &str,
    build: Build,
    dirs: Option<JobDirs>,
) {
    let request = FinishRequest {
        agent_id: registration.agent_id.clone(),
        build,
        uploaded_reports: Vec::new(),
        artifact_names: Default::default(),
    };
    finish(shared, job_label, job_id, request).await;
    if let Some(dirs) = dirs
        && let Err(err) = dirs.remove().await
    {
        shared.log(format!("{job_label}: cannot remove its directory: {err}"));
    }
}

/// The record of a build that could not even start on this agent: FAULT in PROVISIONING.
fn fault_build(job: &BuildJob, message: String) -> Build {
    fault_build_in(job, PhaseType::Provisioning, message)
}

/// The record of a build that ended on this agent before it ran anything: FAULT in `failed`
/// (PROVISIONING, or DOWNLOAD_SOURCE after it), with `message`.
fn fault_build_in(job: &BuildJob, failed: PhaseType, message: String) -> Build {
    let now = clock::now();
    let phase = |phase_type, status, contexts| BuildPhase {
        phase_type,
        phase_status: status,
        start_time: now,
        end_time: status.map(|_| now),
        duration_in_seconds: status.map(|_| 0),
        contexts,
    };
    Build {
        id: job.build_id.clone(),
        arn: job.build_arn.clone(),
        build_number: job.build_number,
        project_name: job.project_name.clone(),
        start_time: now,
        end_time: Some(now),
        current_phase: PhaseType::Completed,
        build_status: BuildStatus::Fault,
        resolved_source_version: None,
        build_complete: true,
        phases: {
            let mut phases = Vec::new();
            if failed != PhaseType::Provisioning {
                phases.push(phase(PhaseType::Provisioning, Some(BuildStatus::Succeeded), None));
            }
            let context = PhaseContext { status_code: "FAULT".to_owned(), message };
            phases.push(phase(failed, Some(BuildStatus::Fault), Some(vec![context])));
            phases.push(phase(PhaseType::Completed, None, None));
            phases
        },
        exported_environment_variables: Vec::new(),
        artifacts: None,
        secondary_artifacts: Vec::new(),
        reports: Vec::new(),
        timeout_in_minutes: job.timeout_in_minutes,
    }
}

/// How a job's reporting ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reported {
    /// Every event reached the server.
    Flushed,
    /// The job was given up: nothing more about it may be sent.
    Abandoned,
}

/// A batch sent and not yet acknowledged.
struct Batch {
    seq: u64,
    events: u64,
    /// The bytes of build output in it, given back to the job's output budget once the
    /// server has them.
    output: usize,
    /// The serialized [`EventBatch`], sent again as it is on a retry.
    body: Vec<u8>,
}

/// A call to the server in flight, with what it was.
type Call = Pin<Box<dyn Future<Output = Result<JobControl, CallError>> + Send>>;

/// Streams one job's events to the server, renews its lease and passes stop requests on.
struct Reporter {
    /// The job's output budget, released as the server acknowledges output.
    budget: Arc<crate::executor::OutputBudget>,
    shared: Arc<Shared>,
    job_id: String,
    job_label: String,
    agent_id: String,
    heartbeat: Duration,
    stop: watch::Sender<bool>,
    abandoned: Arc<AtomicBool>,
    pending: Pending,
    /// The `seq` of the next batch: how many events the server has acknowledged.
    next_seq: u64,
}

impl Reporter {
    /// Runs until the executor's events are all acknowledged and `uploaded` fired (or its
    /// sender is gone), or until the job is given up.
    async fn run(
        mut self,
        mut events: mpsc::UnboundedReceiver<BuildEvent>,
        mut uploaded: oneshot::Receiver<()>,
    ) -> Reported {
        // Whether the executor may still send events, i.e. the build still runs.
        let mut running = true;
        let mut uploads_done = false;
        let mut batch: Option<Batch> = None;
        let mut call: Option<Call> = None;
        let mut first_pending: Option<Instant> = None;
        let mut last_contact = clock::instant();
        let mut retry_at: Option<Instant> = None;
        let mut backoff = Backoff::default();
        loop {
            let now = clock::instant();
            // While the build runs, stop requests must be seen quickly; afterwards only the
            // lease needs renewing, at the server's pace.
            let interval = if running { self.heartbeat.min(STOP_POLL) } else { self.heartbeat };
            if call.is_none() && retry_at.is_none_or(|at| now >= at) {
                retry_at = None;
                if batch.is_none() && self.pending.due(running, first_pending, now) {
                    match self.pending.take_batch(self.next_seq, &self.agent_id) {
                        Ok(taken) => batch = Some(taken),
                        Err(err) => {
                            self.shared.log(format!("{}: {err}", self.job_label));
                            return self.abandon(events).await;
                        }
                    }
                    first_pending = if self.pending.is_empty() { None } else { first_pending };
                }
                if let Some(batch) = &batch {
                    let (shared, job, body) =
                        (Arc::clone(&self.shared), self.job_id.clone(), batch.body.clone());
                    call = Some(Box::pin(async move { shared.client.events(&job, body).await }));
                } else if !running && self.pending.is_empty() && uploads_done {
                    return Reported::Flushed;
                } else if now.duration_since(last_contact) >= interval {
                    let (shared, job) = (Arc::clone(&self.shared), self.job_id.clone());
                    call = Some(Box::pin(async move { shared.client.heartbeat(&job).await }));
                }
            }
            let wake = match (&call, retry_at) {
                (_, Some(at)) => at,
                (Some(_), None) => now + interval,
                (None, None) => {
                    let flush = first_pending.map(|at| at + BATCH_DELAY);
                    let beat = last_contact + interval;
                    flush.map_or(beat, |flush| flush.min(beat))
                }
            };
            tokio::select! {
                event = events.recv(), if running => match event {
                    Some(event) => {
                        self.pending.push(event);
                        first_pending.get_or_insert_with(clock::instant);
                    }
                    None => running = false,
                },
                answer = in_flight(&mut call), if call.is_some() => {
                    call = None;
                    match answer {
                        Ok(control) => {
                            backoff.reset();
                            last_contact = clock::instant();
                            if let Some(sent) = batch.take() {
                                self.next_seq = sent.seq + sent.events;
                                self.budget.release(sent.output);
                            }
                            if control.stop && !*self.stop.borrow() {
                                self.shared.log(format!("{}: stop requested", self.job_label));
                                self.stop.send_replace(true);
                            }
                        }
                        Err(err) if err.retryable() => {
                            let delay = backoff.next();
                            let what = if batch.is_some() { "sending events" } else { "heartbeat" };
                            self.shared.log(format!(
                                "{}: {what} failed ({err}); retrying in {delay:?}",
                                self.job_label
                            ));
                            retry_at = Some(clock::instant() + delay);
                        }
                        Err(err) => {
                            let why = if err.not_leased() {
                                format!("the server no longer leases it to this agent ({err})")
                            } else {
                                format!("the server refused a report ({err})")
                            };
                            self.shared.log(format!("{}: {why}; stopping the build", self.job_label));
                            return self.abandon(events).await;
                        }
                    }
                },
                _ = &mut uploaded, if !uploads_done => uploads_done = true,
                () = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {}
            }
        }
    }

    /// Gives the job up: stops the build and swallows its remaining events.
    async fn abandon(self, mut events: mpsc::UnboundedReceiver<BuildEvent>) -> Reported {
        self.abandoned.store(true, Ordering::SeqCst);
        self.stop.send_replace(true);
        // The executor must not block or pile up events in the channel while it stops.
        while events.recv().await.is_some() {}
        Reported::Abandoned
    }
}

/// The call in flight; never completes when there is none (its `select!` branch is disabled
/// then anyway).
async fn in_flight(call: &mut Option<Call>) -> Result<JobControl, CallError> {
    match call {
        Some(call) => call.await,
        None => std::future::pending().await,
    }
}

/// Events waiting to be sent, with an estimate of the memory they hold.
#[derive(Debug)]
struct Pending {
    events: VecDeque<BuildEvent>,
    bytes: usize,
    /// Merging runs again above these, which double after each merge so that a queue that
    /// merging cannot shrink (no consecutive output) is not walked on every push.
    merge_at_events: usize,
    merge_at_bytes: usize,
}

impl Default for Pending {
    fn default() -> Pending {
        Pending {
            events: VecDeque::new(),
            bytes: 0,
            merge_at_events: PENDING_EVENTS,
            merge_at_bytes: PENDING_BYTES,
        }
    }
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    fn push(&mut self, event: BuildEvent) {
        // Output longer than a batch (a line of megabytes) goes in pieces, so that every
        // batch's JSON stays far below the server's limit however much escaping it needs.
        if let BuildEvent::Output { text } = &event
            && escaped_len(text) > BATCH_BYTES
        {
            let mut piece = String::new();
            let mut piece_len = 0;
            for character in text.chars() {
                let cost = escaped_len(character.encode_utf8(&mut [0; 4]));
                if piece_len + cost > BATCH_BYTES {
                    self.push_one(BuildEvent::Output { text: std::mem::take(&mut piece) });
                    piece_len = 0;
                }
                piece.push(character);
                piece_len += cost;
            }
            if !piece.is_empty() {
                self.push_one(BuildEvent::Output { text: piece });
            }
            return;
        }
        self.push_one(event);
    }

    fn push_one(&mut self, event: BuildEvent) {
        self.bytes += size(&event);
        self.events.push_back(event);
        if self.events.len() > self.merge_at_events || self.bytes > self.merge_at_bytes {
            self.merge_output();
            self.merge_at_events = PENDING_EVENTS.max(self.events.len() * 2);
            self.merge_at_bytes = PENDING_BYTES.max(self.bytes * 2);
        }
    }

    /// Merges runs of consecutive `Output` events (each stays below [`MERGED_OUTPUT_BYTES`]).
    /// Output events hold whole lines, so their concatenation does too.
    fn merge_output(&mut self) {
        let mut merged: VecDeque<BuildEvent> = VecDeque::with_capacity(self.events.len());
        for event in self.events.drain(..) {
            if let (Some(BuildEvent::Output { text: previous }), BuildEvent::Output { text }) =
                (merged.back_mut(), &event)
                && escaped_len(previous) + escaped_len(text) <= MERGED_OUTPUT_BYTES
            {
                previous.push_str(text);
                continue;
            }
            merged.push_back(event);
        }
        self.bytes = merged.iter().map(size).sum();
        self.events = merged;
    }

    /// Whether a batch should go out now.
    fn due(&self, running: bool, first_pending: Option<Instant>, now: Instant) -> bool {
        !self.events.is_empty()
            && (!running
                || self.events.len() >= BATCH_EVENTS
                || self.bytes >= BATCH_BYTES
                || first_pending.is_some_and(|at| now.duration_since(at) >= BATCH_DELAY))
    }

    /// Takes the next batch (at least one event), numbered from `seq`.
    fn take_batch(&mut self, seq: u64, agent_id: &str) -> Result<Batch, String> {
        let mut events = Vec::new();
        let mut bytes = 0;
        while let Some(event) = self.events.front() {
            let cost = size(event);
            if !events.is_empty() && (events.len() >= BATCH_EVENTS || bytes + cost > BATCH_BYTES) {
                break;
            }
            bytes += cost;
            if let Some(event) = self.events.pop_front() {
                events.push(event);
            }
        }
        self.bytes -= bytes;
        let count = events.len() as u64;
        let output = events
            .iter()
            .map(|it| match it {
                BuildEvent::Output { text } => text.len(),
                _ => 0,
            })
            .sum();
        let batch = EventBatch { agent_id: agent_id.to_owned(), seq, events };
        let body = serde_json::to_vec(&batch)
            .map_err(|err| format!("cannot encode the build's events: {err}"))?;
        Ok(Batch { seq, events: count, output, body })
    }
}

/// An event's share of the memory estimate and of a batch: the size of its JSON.
fn size(event: &BuildEvent) -> usize {
    EVENT_OVERHEAD
        + match event {
            BuildEvent::Output { text } | BuildEvent::Message { text, .. } => escaped_len(text),
            BuildEvent::CommandStarted { command, .. } => escaped_len(command),
            BuildEvent::PhaseFinished { context: Some(context), .. } => {
                escaped_len(&context.message)
            }
            BuildEvent::PhaseStarted { .. } | BuildEvent::PhaseFinished { .. } => 0,
        }
}

/// The length of `text` in a JSON string: control characters (ANSI escapes, `\r`) take six
/// bytes (`\u001b`), quotes and backslashes two.
fn escaped_len(text: &str) -> usize {
    text.len()
        + text
            .bytes()
            .map(|byte| match byte {
                b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 1,
                0..0x20 => 5,
                _ => 0,
            })
            .sum::<usize>()
}

#[cfg(test)]
mod tests;
