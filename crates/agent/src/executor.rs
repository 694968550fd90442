//! Running one build: the phases of a [`BuildPlan`] with CodeBuild's semantics.
//!
//! The lifecycle is CodeBuild's (`shared/reference/aws-formats.md` §1.5): PROVISIONING
//! (environment and secrets), DOWNLOAD_SOURCE (a fresh copy of the source, the cache),
//! INSTALL, PRE_BUILD, BUILD, POST_BUILD (the buildspec's commands, in one shell session),
//! UPLOAD_ARTIFACTS (exported variables, artifacts, reports, the cache), FINALIZING (every
//! process the build left is killed) and COMPLETED.
//!
//! Failure transitions: a failed INSTALL or PRE_BUILD skips to FINALIZING; a failed BUILD
//! still runs POST_BUILD and UPLOAD_ARTIFACTS; a failed POST_BUILD still uploads. A phase's
//! `on-failure` changes that: `ABORT` skips every remaining phase up to FINALIZING,
//! `CONTINUE` enters the next phase anyway, and `RETRY…` runs the phase again first.
//! A timeout or a stop request kills the build's process group at once; the phase in
//! progress ends TIMED_OUT or STOPPED and the build goes straight to FINALIZING.
//!
//! **Invariant:** no secret value reaches an event: every output line, message and exported
//! value passes through the build's [`mask::Masker`].

mod mask;
mod shell;

use std::path::{Path, PathBuf};
use std::time::Duration;

use protocol::{
    ArtifactSpec, Build, BuildArtifacts, BuildEvent, BuildPhase, BuildPlan, BuildStatus, CacheSpec,
    EnvVariable, ExportedVariable, OnFailure, PhaseContext, PhasePlan, PhaseType, Report,
    ReportSpec,
};
use tokio::sync::{mpsc, watch};

use crate::secrets::SecretSource;
use crate::{artifacts, cache, clock};
use mask::Masker;
use shell::ShellSession;

/// Everything about a build that is not in its plan.
#[derive(Debug, Clone)]
pub struct BuildContext {
    /// `<project>:<uuid>`.
    pub build_id: String,
    /// The build's ARN.
    pub build_arn: String,
    /// The project's build counter.
    pub build_number: u64,
    /// The project's name.
    pub project_name: String,
    /// The region reported to builds (`AWS_REGION`) and used in ARNs.
    pub region: String,
    /// Who started the build (`CODEBUILD_INITIATOR`).
    pub initiator: String,
    /// The source tree; the build runs on a fresh copy of it.
    pub source_dir: PathBuf,
    /// An empty directory the build may use for its workspace.
    pub work_dir: PathBuf,
    /// Where packaged artifacts are written (`artifacts.zip`, `<identifier>.zip`).
    pub artifacts_dir: PathBuf,
    /// Where cache entries are kept; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// How long the build may run.
    pub timeout: Duration,
    /// The environment the build starts from (the host's, for a local build).
    pub base_env: Vec<(String, String)>,
    /// Variables that override the buildspec's (`--env`, `environmentVariablesOverride`).
    pub env_overrides: Vec<EnvVariable>,
    /// The program that serves `codebuild-hash-files` (`slipway hash-files`), if any.
    pub helper_program: Option<PathBuf>,
    /// Run the commands inside bubblewrap: the host read-only, the workspace writable, `HOME`
    /// in the workspace.
    pub sandbox: bool,
    /// Paths the sandbox replaces with empty ones (the server's data directory and key file,
    /// for the embedded agent), so that the build cannot read them.
    pub sandbox_hidden: Vec<PathBuf>,
    /// The server's URL and a token for the build's git commands (`git-credential-helper`):
    /// git sends it to that server, and it is masked in all output.
    pub git_credentials: Option<(String, String)>,
    /// `CODEBUILD_*` variables the platform sets beyond the executor's own
    /// (`CODEBUILD_WEBHOOK_*`).
    pub platform_variables: Vec<EnvVariable>,
    /// Bounds the output sent to `events` but not yet handled by their consumer; `None` for a
    /// consumer that keeps up whatever the rate (a terminal).
    pub output_budget: Option<std::sync::Arc<OutputBudget>>,
    /// The source version asked for (`CODEBUILD_SOURCE_VERSION`) and the repository's URL
    /// (`CODEBUILD_SOURCE_REPO_URL`), when the build has a source.
    pub source_version: Option<String>,
    /// See `source_version`.
    pub source_repo_url: Option<String>,
    /// The commit `source_dir` is a fresh checkout of, when the caller made it for this build
    /// (an agent's fetch): the directory is then moved into the workspace whole (it holds
    /// nothing but the commit's files and `.git`), and this is
    /// `CODEBUILD_RESOLVED_SOURCE_VERSION`, without asking git either.
    pub source_commit: Option<String>,
    /// Why the build's service role may not write its artifacts, when the server says so:
    /// UPLOAD_ARTIFACTS then ends the build FAULT with it, packaging nothing.
    pub refused_artifacts: Option<String>,
}

/// How much build output may be on its way to a consumer that has not handled it yet.
///
/// The executor [`spend`](OutputBudget::spend)s the length of every `Output` event's text
/// before sending it, waiting while the budget is used up; the consumer
/// [`release`](OutputBudget::release)s the same lengths once it has handled those events (an
/// agent: once the server acknowledged them). A build printing faster than its output can be
/// delivered is slowed down to that rate, and memory stays bounded.
#[derive(Debug)]
pub struct OutputBudget {
    limit: usize,
    pending: std::sync::atomic::AtomicUsize,
    freed: tokio::sync::Notify,
}

impl OutputBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> OutputBudget {
        OutputBudget {
            limit,
            pending: std::sync::atomic::AtomicUsize::new(0),
            freed: tokio::sync::Notify::new(),
        }
    }

    /// Takes `n` bytes, waiting until the budget has room (a text larger than the whole budget
    /// goes through once nothing else is pending).
    pub async fn spend(&self, n: usize) {
        use std::sync::atomic::Ordering;
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            let pending = self.pending.load(Ordering::SeqCst);
            if pending == 0 || pending + n <= self.limit {
                self.pending.fetch_add(n, Ordering::SeqCst);
                return;
            }
            freed.await;
        }
    }

    /// Gives back `n` bytes of handled output.
    pub fn release(&self, n: usize) {
        use std::sync::atomic::Ordering;
        let _ = self
            .pending
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |it| Some(it.saturating_sub(n)));
        self.freed.notify_waiters();
    }

    /// Bytes spent and not released yet.
    pub fn pending(&self) -> usize {
        self.pending.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// What a build produced.
#[derive(Debug, Clone)]
pub struct BuildResult {
    /// The build record, complete.
    pub build: Build,
    /// The artifacts packaged, primary first.
    pub artifacts: Vec<PackagedArtifact>,
}

/// One packaged artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackagedArtifact {
    /// The secondary artifact's identifier; `None` for the primary artifact.
    pub identifier: Option<String>,
    /// The artifact's `name`, evaluated at the end of the build.
    pub name: Option<String>,
    /// The zip file.
    pub path: PathBuf,
    /// How many files it holds.
    pub files: usize,
    /// Its size in bytes.
    pub bytes: u64,
    /// The SHA-256 of the zip, in hex.
    pub sha256: String,
}

/// Runs a build to its end. Events go to `events` as they happen; setting `stop` to `true`
/// stops the build. Never fails: every problem ends up in the returned build record.
pub async fn run_build(
    plan: &BuildPlan,
    context: &BuildContext,
    secrets: &dyn SecretSource,
    events: mpsc::UnboundedSender<BuildEvent>,
    stop: watch::Receiver<bool>,
) -> BuildResult {
    let start = clock::now();
    // Held for the whole build: an agent starting on the same work root later knows by it
    // that this workspace is in use (see `workspace::remove_stale_workspaces`).
    let _in_use = crate::workspace::mark_in_use(&context.work_dir);
    let mut run = Run {
        plan,
        context,
        events,
        stop,
        deadline: tokio::time::Instant::from_std(clock::instant() + context.timeout),
        phases: Vec::new(),
        failed: false,
        interrupted: None,
        masker: Masker::default(),
        session: None,
        artifacts: Vec::new(),
        exported: Vec::new(),
        reports: Vec::new(),
        resolved_source_version: None,
        start_ms: (start * 1000.0) as u64,
        workspace_owner: None,
        memory_state_dir: None,
    };
    for phase in [PhaseType::Submitted, PhaseType::Queued] {
        run.record(phase, start, start, BuildStatus::Succeeded, None);
    }
    run.lifecycle(secrets).await;
    let end = clock::now();
    run.phases.push(BuildPhase {
        phase_type: PhaseType::Completed,
        phase_status: None,
        start_time: end,
        end_time: None,
        duration_in_seconds: None,
        contexts: None,
    });
    let status = run.interrupted.unwrap_or(if run.failed {
        BuildStatus::Failed
    } else {
        BuildStatus::Succeeded
    });
    let artifact_record = |it: &PackagedArtifact| BuildArtifacts {
        location: it.path.display().to_string(),
        sha256sum: it.sha256.clone(),
        artifact_identifier: it.identifier.clone(),
        override_artifact_name: it.name.as_ref().map(|_| true),
    };
    let build = Build {
        id: context.build_id.clone(),
        arn: context.build_arn.clone(),
        build_number: context.build_number,
        project_name: context.project_name.clone(),
        start_time: start,
        end_time: Some(end),
        current_phase: PhaseType::Completed,
        build_status: status,
        resolved_source_version: run.resolved_source_version.clone(),
        build_complete: true,
        phases: run.phases,
        exported_environment_variables: run.exported,
        artifacts: run.artifacts.iter().find(|it| it.identifier.is_none()).map(artifact_record),
        secondary_artifacts: run
            .artifacts
            .iter()
            .filter(|it| it.identifier.is_some())
            .map(artifact_record)
            .collect(),
        reports: run.reports,
        timeout_in_minutes: context.timeout.as_secs().div_ceil(60),
    };
    BuildResult { build, artifacts: run.artifacts }
}

/// How a step that runs user code ended.
enum Step {
    Exit(i32),
    /// The shell session died under the command.
    Lost,
    /// The build timed out or was stopped; the session is already killed.
    Interrupted,
}

/// How a phase ended.
/// The status code of a phase that failed through no fault of the build's commands: the
/// build ends FAULT.
const FAULT: &str = "FAULT";
/// The status code of PROVISIONING when the build's service role may not read one of its
/// parameters or secrets, and of UPLOAD_ARTIFACTS when it may not write its artifacts: the
/// build ends FAULT.
const ACCESS_DENIED: &str = "ACCESS_DENIED";

enum PhaseEnd {
    Succeeded,
    Failed(PhaseContext),
    Interrupted,
}

struct Run<'a> {
    plan: &'a BuildPlan,
    context: &'a BuildContext,
    events: mpsc::UnboundedSender<BuildEvent>,
    stop: watch::Receiver<bool>,
    deadline: tokio::time::Instant,
    phases: Vec<BuildPhase>,
    /// Whether anything has failed: the build will end FAILED (`CODEBUILD_BUILD_SUCCEEDING=0`).
    failed: bool,
    /// Set when the build timed out or was stopped.
    interrupted: Option<BuildStatus>,
    masker: Masker,
    session: Option<ShellSession>,
    artifacts: Vec<PackagedArtifact>,
    exported: Vec<ExportedVariable>,
    reports: Vec<Report>,
    resolved_source_version: Option<String>,
    start_ms: u64,
    /// The `run-as` user the workspace was last given to.
    workspace_owner: Option<String>,
    /// The shell's state directory when it is in `/dev/shm` rather than the work directory:
    /// removed when the build ends.
    memory_state_dir: Option<PathBuf>,
}

impl Run<'_> {
    async fn lifecycle(&mut self, secrets: &dyn SecretSource) {
        let src_dir = self.context.work_dir.join("src");

        // PROVISIONING: the environment, with every secret resolved before any command runs.
        let started = self.begin(PhaseType::Provisioning);
        let env = match self.environment(secrets, &src_dir) {
            Ok(env) => env,
            Err(context) => {
                self.end(PhaseType::Provisioning, started, PhaseEnd::Failed(context));
                return self.finalize().await;
            }
        };
        self.end(PhaseType::Provisioning, started, PhaseEnd::Succeeded);

        // DOWNLOAD_SOURCE: a fresh copy of the source, the shell, then the cache.
        let started = self.begin(PhaseType::DownloadSource);
        let end = self.download_source(env, &src_dir).await;
        let failed = !matches!(end, PhaseEnd::Succeeded);
        self.end(PhaseType::DownloadSource, started, end);
        if failed {
            return self.finalize().await;
        }

        let mut upload = true;
        let mut skip_rest = false;
        for phase in PhaseType::BUILDSPEC {
            if skip_rest {
                break;
            }
            let started = self.begin(phase);
            let declared = self.plan.phases.iter().find(|it| it.phase == phase);
            let end = match declared {
                Some(plan) => self.buildspec_phase(plan).await,
                None => PhaseEnd::Succeeded,
            };
            let on_failure = declared.and_then(|it| it.on_failure.clone());
            match &end {
                PhaseEnd::Succeeded => {}
                PhaseEnd::Interrupted => {
                    self.end(phase, started, end);
                    return self.finalize().await;
                }
                PhaseEnd::Failed(_) => match on_failure {
                    Some(OnFailure::Abort) => {
                        skip_rest = true;
                        upload = false;
                    }
                    Some(OnFailure::Continue) => {}
                    // Without `on-failure` (or once retries are used up), CodeBuild's
                    // transitions: INSTALL and PRE_BUILD skip to FINALIZING, BUILD still
                    // runs POST_BUILD, and both of those still upload artifacts.
                    None | Some(OnFailure::Retry { .. }) => {
                        if matches!(phase, PhaseType::Install | PhaseType::PreBuild) {
                            skip_rest = true;
                            upload = false;
                        }
                    }
                },
            }
            self.end(phase, started, end);
        }

        if upload {
            let started = self.begin(PhaseType::UploadArtifacts);
            let end = self.upload().await;
            let interrupted = matches!(end, PhaseEnd::Interrupted);
            self.end(PhaseType::UploadArtifacts, started, end);
            if interrupted {
                return self.finalize().await;
            }
        } else {
            // Exported variables are captured at the end of the build whatever happened.
            self.capture_exported().await;
        }
        self.finalize().await
    }

    /// FINALIZING: kill everything the build left running and remove the workspace.
    async fn finalize(&mut self) {
        let started = self.begin(PhaseType::Finalizing);
        if let Some(mut session) = self.session.take() {
            session.kill().await;
        }
        let work_dir = self.context.work_dir.clone();
        let memory_state_dir = self.memory_state_dir.take();
        let _ = tokio::task::spawn_blocking(move || {
            if let Some(dir) = memory_state_dir {
                let _ = std::fs::remove_dir_all(dir);
            }
            std::fs::remove_dir_all(work_dir)
        })
        .await;
        self.end(PhaseType::Finalizing, started, PhaseEnd::Succeeded);
    }

    fn environment(
        &mut self,
        secrets: &dyn SecretSource,
        src_dir: &Path,
    ) -> Result<Vec<(String, String)>, PhaseContext> {
        let mut env: Vec<(String, String)> = self.context.base_env.clone();
        let set = |env: &mut Vec<(String, String)>, name: &str, value: String| {
            env.retain(|(k, _)| k != name);
            env.push((name.to_owned(), value));
        };
        for variable in &self.plan.variables {
            set(&mut env, &variable.name, variable.value.clone());
        }
        let mut secret_values = Vec::new();
        // A reference the build's role may not read ends the build FAULT before any is read.
        let references = self.plan.parameter_store.iter().chain(&self.plan.secrets_manager);
        for reference in references {
            if let Some(why) = secrets.refusal(&reference.reference) {
                return Err(PhaseContext {
                    status_code: ACCESS_DENIED.to_owned(),
                    message: format!("{why}, for variable {}", reference.name),
                });
            }
        }
        for reference in &self.plan.parameter_store {
            let value = secrets.parameter(&reference.reference).map_err(|err| PhaseContext {
                status_code: "CLIENT_ERROR".to_owned(),
                message: format!("Parameter Store error: {err} (for variable {})", reference.name),
            })?;
            secret_values.push(value.clone());
            set(&mut env, &reference.name, value);
        }
        for reference in &self.plan.secrets_manager {
            let value = secrets.secret(&reference.reference).map_err(|err| PhaseContext {
                status_code: "CLIENT_ERROR".to_owned(),
                message: format!("Secrets Manager error: {err} (for variable {})", reference.name),
            })?;
            secret_values.push(value.clone());
            set(&mut env, &reference.name, value);
        }
        if let Some((server, token)) = &self.context.git_credentials {
            // Only for this server's URLs, through git's environment (never its command line).
            set(&mut env, "GIT_CONFIG_COUNT", "1".to_owned());
            set(
                &mut env,
                "GIT_CONFIG_KEY_0",
                format!("http.{}/.extraHeader", server.trim_end_matches('/')),
            );
            set(&mut env, "GIT_CONFIG_VALUE_0", format!("Authorization: Bearer {token}"));
            secret_values.push(token.clone());
        }
        self.masker = Masker::new(secret_values);
        for variable in &self.context.env_overrides {
            set(&mut env, &variable.name, variable.value.clone());
        }
        // The CODEBUILD_ names are reserved: they are always the platform's.
        let context = self.context;
        set(&mut env, "CODEBUILD_SRC_DIR", src_dir.display().to_string());
        set(&mut env, "CODEBUILD_BUILD_ID", context.build_id.clone());
        set(&mut env, "CODEBUILD_BUILD_ARN", context.build_arn.clone());
        set(&mut env, "CODEBUILD_BUILD_NUMBER", context.build_number.to_string());
        set(&mut env, "CODEBUILD_START_TIME", self.start_ms.to_string());
        set(&mut env, "CODEBUILD_INITIATOR", context.initiator.clone());
        set(&mut env, "CODEBUILD_BUILD_IMAGE", "slipway/local".to_owned());
        set(&mut env, "CODEBUILD_PROJECT_ARN", project_arn(context));
        set(&mut env, "CODEBUILD_BUILD_SUCCEEDING", "1".to_owned());
        for variable in &context.platform_variables {
            set(&mut env, &variable.name, variable.value.clone());
        }
        if let Some(version) = &context.source_version {
            set(&mut env, "CODEBUILD_SOURCE_VERSION", version.clone());
        }
        if let Some(url) = &context.source_repo_url {
            set(&mut env, "CODEBUILD_SOURCE_REPO_URL", url.clone());
        }
        set(&mut env, "AWS_REGION", context.region.clone());
        set(&mut env, "AWS_DEFAULT_REGION", context.region.clone());
        Ok(env)
    }

    async fn download_source(
        &mut self,
        mut env: Vec<(String, String)>,
        src_dir: &Path,
    ) -> PhaseEnd {
        let (from, to) = (self.context.source_dir.clone(), src_dir.to_owned());
        let checkout = self.context.source_commit.clone();
        let prepared = if checkout.is_some() {
            // The caller's own checkout: moved (or, across file systems, copied) whole.
            let prepare = move || crate::workspace::move_source(&from, &to);
            tokio::task::spawn_blocking(prepare).await
        } else {
            let listed = crate::workspace::git_files(&from).await;
            let what = if listed.is_some() { "source files known to git" } else { "source files" };
            // The artifacts of an earlier build, written into the source (`slipway build`'s
            // default `./slipway-artifacts`), are no part of the next build's source.
            let skip = crate::workspace::inside(&from, &self.context.artifacts_dir);
            let copy = move || {
                crate::workspace::copy_source(&from, &to, listed.as_deref(), skip.as_deref())
                    .map(|files| format!("Copied {files} {what}"))
            };
            tokio::task::spawn_blocking(copy).await
        };
        match prepared {
            Ok(Ok(done)) => self.message(format!("{done} into {}", src_dir.display())),
            Ok(Err(err)) => {
                return PhaseEnd::Failed(client_error(format!(
                    "cannot copy the source {}: {err}",
                    self.context.source_dir.display()
                )));
            }
            Err(err) => {
                return PhaseEnd::Failed(fault(format!("copying the source failed: {err}")));
            }
        }
        let revision = match checkout {
            Some(commit) => Some(commit),
            None => crate::workspace::git_revision(src_dir).await,
        };
        if let Some(revision) = revision {
            env.push(("CODEBUILD_RESOLVED_SOURCE_VERSION".to_owned(), revision.clone()));
            self.resolved_source_version = Some(revision);
        }
        let sandbox = self
            .context
            .sandbox
            .then_some((self.context.work_dir.as_path(), self.context.sandbox_hidden.as_slice()));
        let state_dir = self.shell_state_dir(sandbox.is_some());
        if let Some(helper) = &self.context.helper_program {
            match install_helpers(&self.context.work_dir.join("shell").join("bin"), helper) {
                Ok(bin) => {
                    let path = env.iter().find(|(k, _)| k == "PATH").map(|(_, v)| v.clone());
                    let path = match path {
                        Some(path) if !path.is_empty() => format!("{}:{path}", bin.display()),
                        _ => format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display()),
                    };
                    env.retain(|(k, _)| k != "PATH");
                    env.push(("PATH".to_owned(), path));
                }
                Err(err) => {
                    return PhaseEnd::Failed(fault(format!("cannot install build helpers: {err}")));
                }
            }
        }
        if sandbox.is_some() {
            // The host's home is read-only in the sandbox; tools that write to ~/.cache get
            // one in the workspace instead.
            let home = self.context.work_dir.join("home");
            if let Err(err) = std::fs::create_dir_all(&home) {
                return PhaseEnd::Failed(fault(format!("cannot create the sandbox's home: {err}")));
            }
            env.retain(|(k, _)| k != "HOME");
            env.push(("HOME".to_owned(), home.display().to_string()));
        }
        let switches_user =
            self.plan.run_as.is_some() || self.plan.phases.iter().any(|it| it.run_as.is_some());
        match ShellSession::start(
            self.plan.shell,
            &env,
            src_dir,
            &state_dir,
            sandbox,
            switches_user,
        ) {
            Ok(session) => self.session = Some(session),
            Err(err) => {
                let program = if sandbox.is_some() { "bwrap (bubblewrap)" } else { "bash" };
                return PhaseEnd::Failed(fault(format!(
                    "cannot start the build shell ({program}): {err}"
                )));
            }
        }
        if let (Some(spec), Some(cache_dir)) = (&self.plan.cache, self.context.cache_dir.clone()) {
            let spec = match self.expand_cache(spec).await {
                Ok(spec) => spec,
                Err(end) => return end,
            };
            let src = src_dir.to_owned();
            let outcome =
                tokio::task::spawn_blocking(move || cache::restore(&cache_dir, &spec, &src)).await;
            match outcome {
                Ok(Ok(cache::RestoreOutcome::Restored { key, files })) => {
                    self.message(format!("Restored {files} cached files from cache key {key}"));
                }
                Ok(Ok(cache::RestoreOutcome::Missed)) => {
                    self.message("No cache entry found; continuing without a cache".to_owned())
                }
                Ok(Ok(cache::RestoreOutcome::Skipped)) => {}
                // A broken cache slows a build down but must not fail it, as in CodeBuild.
                Ok(Err(err)) => self.message(format!("Warning: cannot restore the cache: {err}")),
                Err(err) => self.message(format!("Warning: cannot restore the cache: {err}")),
            }
        }
        PhaseEnd::Succeeded
    }

    async fn buildspec_phase(&mut self, plan: &PhasePlan) -> PhaseEnd {
        if !plan.runtime_versions.is_empty() {
            self.message(
                "Skipping install of runtimes. Runtime version selection is not supported by this build image."
                    .to_owned(),
            );
        }
        let user = match plan.run_as.as_ref().or(self.plan.run_as.as_ref()) {
            Some(user) => match self.switch_user(user).await {
                Ok(user) => user,
                Err(context) => return PhaseEnd::Failed(context),
            },
            None => None,
        };
        let mut retries_left = match &plan.on_failure {
            Some(OnFailure::Retry { count, .. }) => *count,
            _ => 0,
        };
        let mut attempt = 1;
        loop {
            let mut failure: Option<PhaseContext> = None;
            let mut output_tail = String::new();
            if self
                .run_list(plan, &plan.commands, user.as_deref(), &mut failure, &mut output_tail)
                .await
            {
                return PhaseEnd::Interrupted;
            }
            // `finally` runs whether `commands` succeeded or not; its own failure fails the phase.
            if self
                .run_list(plan, &plan.finally, user.as_deref(), &mut failure, &mut output_tail)
                .await
            {
                return PhaseEnd::Interrupted;
            }
            let Some(context) = failure else { return PhaseEnd::Succeeded };
            let pattern = match &plan.on_failure {
                Some(OnFailure::Retry { pattern, .. }) => pattern.clone(),
                _ => None,
            };
            let matches = match &pattern {
                None => true,
                Some(pattern) => regex::Regex::new(pattern)
                    .map(|re| re.is_match(&context.message) || re.is_match(&output_tail))
                    .unwrap_or(false),
            };
            if retries_left == 0 || !matches {
                return PhaseEnd::Failed(context);
            }
            retries_left -= 1;
            attempt += 1;
            self.message(format!(
                "Phase {} failed ({}); retrying, attempt {attempt}",
                plan.phase.as_str(),
                context.message
            ));
        }
    }

    /// Runs `commands` in order up to the first that fails, whose error goes into `failure`
    /// unless an earlier one is there. Returns whether the build was interrupted.
    async fn run_list(
        &mut self,
        plan: &PhasePlan,
        commands: &[String],
        user: Option<&str>,
        failure: &mut Option<PhaseContext>,
        tail: &mut String,
    ) -> bool {
        for command in commands {
            let status =
                match self.command(plan.phase, command, user, failure.is_none(), tail).await {
                    Step::Exit(0) => continue,
                    Step::Exit(status) => status,
                    Step::Lost => -1,
                    Step::Interrupted => return true,
                };
            failure.get_or_insert(command_error(command, status));
            break;
        }
        false
    }

    /// Runs one command of a phase, with the build's timeout and stop request.
    async fn command(
        &mut self,
        phase: PhaseType,
        command: &str,
        user: Option<&str>,
        phase_ok: bool,
        tail: &mut String,
    ) -> Step {
        // The echo of the command is output like any other: a secret written into the
        // buildspec literally is masked in it too.
        let _ = self.events.send(BuildEvent::CommandStarted {
            phase,
            command: self.masker.mask(command),
            time: Some(crate::clock::now()),
        });
        let succeeding = phase_ok && !self.failed;
        let step = self.run_script(command, succeeding, user, Some(tail)).await;
        if let Step::Exit(status) = step
            && status != 0
        {
            self.message(format!(
                "Command did not exit successfully {command} exit status {status}"
            ));
        }
        step
    }

    /// Runs a script in the session; `tail` (if given) keeps the end of its output.
    async fn run_script(
        &mut self,
        script: &str,
        succeeding: bool,
        user: Option<&str>,
        mut tail: Option<&mut String>,
    ) -> Step {
        let Some(session) = self.session.as_mut() else { return Step::Lost };
        let events = &self.events;
        let masker = &mut self.masker;
        let budget = self.context.output_budget.clone();
        let work = async {
            session.begin(script, succeeding, user).await?;
            loop {
                match session.next().await? {
                    shell::Step::Output(bytes) => {
                        let Some(text) = masker.push(&bytes) else { continue };
                        if let Some(tail) = tail.as_deref_mut() {
                            keep_tail(tail, &text);
                        }
                        // The consumer is behind: wait, and with it the build, rather than buffer.
                        if let Some(budget) = &budget {
                            budget.spend(text.len()).await;
                        }
                        let _ = events.send(BuildEvent::Output { text });
                    }
                    shell::Step::Done(status) => return Ok::<i32, shell::SessionLost>(status),
                }
            }
        };
        let outcome = race(work, self.deadline, &mut self.stop).await;
        if let Some(text) = self.masker.flush() {
            let _ = self.events.send(BuildEvent::Output { text });
        }
        match outcome {
            Some(Ok(status)) => Step::Exit(status),
            Some(Err(_)) => {
                self.message("The build shell ended unexpectedly".to_owned());
                Step::Lost
            }
            None => {
                self.interrupt().await;
                Step::Interrupted
            }
        }
    }

    /// Ends the build on its deadline or a stop request: everything it runs is killed.
    async fn interrupt(&mut self) {
        let status = if *self.stop.borrow() { BuildStatus::Stopped } else { BuildStatus::TimedOut };
        self.interrupted = Some(status);
        if let Some(mut session) = self.session.take() {
            session.kill().await;
        }
    }

    /// Where the build shell exchanges its per-command files (the command, the variables it
    /// leaves, what to load next): a fresh directory in `/dev/shm` when there is one, since
    /// creating and truncating small files on a disk file system costs about a quarter of a
    /// millisecond per command (bench/RESULTS.md, P2); the work directory in a sandbox (whose
    /// `/dev` is its own) and when a phase runs as another user (who is given the work
    /// directory), or when there is no `/dev/shm`.
    fn shell_state_dir(&mut self, sandboxed: bool) -> PathBuf {
        use std::os::unix::fs::DirBuilderExt;
        let run_as =
            self.plan.run_as.is_some() || self.plan.phases.iter().any(|it| it.run_as.is_some());
        let memory = Path::new("/dev/shm");
        if !sandboxed && !run_as && memory.is_dir() {
            let dir = memory.join(format!("slipway-shell-{}", shell::nonce()));
            // Only the agent's user may look: the variables it holds include the secrets.
            if std::fs::DirBuilder::new().mode(0o700).create(&dir).is_ok() {
                self.memory_state_dir = Some(dir.clone());
                return dir;
            }
        }
        self.context.work_dir.join("shell")
    }

    /// Prepares to run commands as `user` (`run-as`): `None` when that is the agent's own user.
    /// Another user needs the agent to run as root, and gets the source as its own, as
    /// CodeBuild gives the run-as user the source. The shell's state (which holds the build's
    /// secrets) stays the agent's: the driver hands it over on open file descriptors.
    async fn switch_user(&mut self, user: &str) -> Result<Option<String>, PhaseContext> {
        let current = crate::process::current_user().await;
        if current.as_ref().is_some_and(|(name, _)| name == user) {
            return Ok(None);
        }
        if current.as_ref().is_none_or(|(_, uid)| *uid != 0) {
            return Err(client_error(format!(
                "run-as {user}: the agent must run as root to run commands as another user"
            )));
        }
        if self.workspace_owner.as_deref() != Some(user) {
            // The source, and the sandbox's home where there is one.
            for dir in ["src", "home"].map(|it| self.context.work_dir.join(it)) {
                if dir.is_dir() {
                    crate::process::give_tree(&dir, user)
                        .await
                        .map_err(|err| client_error(format!("run-as {user}: {err}")))?;
                }
            }
            self.workspace_owner = Some(user.to_owned());
        }
        Ok(Some(user.to_owned()))
    }

    /// Expands fields in the session, with the build's timeout and stop request.
    async fn expand(&mut self, texts: Vec<String>) -> Result<Vec<String>, PhaseEnd> {
        let succeeding = !self.failed;
        let Some(session) = self.session.as_mut() else {
            return Err(PhaseEnd::Failed(fault("the build shell is gone".to_owned())));
        };
        let outcome = race(session.expand(&texts, succeeding), self.deadline, &mut self.stop).await;
        match outcome {
            Some(Ok(values)) => Ok(values),
            Some(Err(_)) => {
                Err(PhaseEnd::Failed(fault("the build shell ended unexpectedly".to_owned())))
            }
            None => {
                self.interrupt().await;
                Err(PhaseEnd::Interrupted)
            }
        }
    }

    async fn expand_cache(&mut self, spec: &CacheSpec) -> Result<CacheSpec, PhaseEnd> {
        let mut texts = spec.paths.clone();
        texts.extend(spec.fallback_keys.iter().cloned());
        texts.extend(spec.key.iter().cloned());
        let mut values = self.expand(texts).await?.into_iter();
        let paths = values.by_ref().take(spec.paths.len()).collect();
        let fallback_keys = values.by_ref().take(spec.fallback_keys.len()).collect();
        let key = values.next();
        Ok(CacheSpec { paths, key, fallback_keys, action: spec.action })
    }

    async fn expand_artifact(&mut self, spec: &ArtifactSpec) -> Result<ArtifactSpec, PhaseEnd> {
        let mut texts = spec.files.clone();
        texts.extend(spec.exclude_paths.iter().cloned());
        texts.extend(spec.base_directory.iter().cloned());
        texts.extend(spec.name.iter().cloned());
        texts.extend(spec.s3_prefix.iter().cloned());
        let mut values = self.expand(texts).await?.into_iter();
        let files = values.by_ref().take(spec.files.len()).collect();
        let exclude_paths = values.by_ref().take(spec.exclude_paths.len()).collect();
        let mut take = |present: bool| if present { values.next() } else { None };
        let base_directory = take(spec.base_directory.is_some());
        let name = take(spec.name.is_some());
        let s3_prefix = take(spec.s3_prefix.is_some());
        Ok(ArtifactSpec { files, exclude_paths, base_directory, name, s3_prefix, ..spec.clone() })
    }

    async fn capture_exported(&mut self) {
        if self.plan.exported_variables.is_empty() || self.session.is_none() {
            return;
        }
        let texts =
            self.plan.exported_variables.iter().map(|name| format!("${{{name}-}}")).collect();
        if let Ok(values) = self.expand(texts).await {
            self.exported = self
                .plan
                .exported_variables
                .iter()
                .zip(values)
                .map(|(name, value)| ExportedVariable {
                    name: name.clone(),
                    value: self.masker.mask(&value),
                })
                .collect();
        }
    }

    /// UPLOAD_ARTIFACTS: exported variables, artifacts, reports and the cache.
    async fn upload(&mut self) -> PhaseEnd {
        self.capture_exported().await;
        if self.interrupted.is_some() {
            return PhaseEnd::Interrupted;
        }
        let packages = self.plan.artifacts.is_some() || !self.plan.secondary_artifacts.is_empty();
        if let Some(why) = self.context.refused_artifacts.as_ref().filter(|_| packages) {
            return PhaseEnd::Failed(PhaseContext {
                status_code: ACCESS_DENIED.to_owned(),
                message: why.clone(),
            });
        }
        let src_dir = self.context.work_dir.join("src");
        let mut failure: Option<PhaseContext> = None;

        let mut wanted: Vec<(Option<String>, ArtifactSpec)> = Vec::new();
        wanted.extend(self.plan.artifacts.iter().map(|it| (None, it.clone())));
        wanted.extend(
            self.plan.secondary_artifacts.iter().map(|(id, it)| (Some(id.clone()), it.clone())),
        );
        for (identifier, spec) in wanted {
            let spec = match self.expand_artifact(&spec).await {
                Ok(spec) => spec,
                Err(end) => return end,
            };
            let file_name = match &identifier {
                None => "artifacts.zip".to_owned(),
                Some(id) => format!("{id}.zip"),
            };
            let dest = self.context.artifacts_dir.join(&file_name);
            let src = src_dir.clone();
            let packaged = tokio::task::spawn_blocking({
                let spec = spec.clone();
                move || -> Result<artifacts::ZipSummary, String> {
                    let files =
                        artifacts::select_files(&src, &spec).map_err(|it| it.to_string())?;
                    if let Some(parent) = dest.parent() {
                        std::fs::create_dir_all(parent)
                            .map_err(|it| format!("{}: {it}", parent.display()))?;
                    }
                    artifacts::write_zip(&files, &src, &dest, spec.enable_symlinks)
                        .map_err(|it| it.to_string())
                }
            })
            .await
            .unwrap_or_else(|err| Err(err.to_string()));
            let label = identifier.as_deref().unwrap_or("primary");
            match packaged {
                Ok(summary) => {
                    let path = self.context.artifacts_dir.join(&file_name);
                    self.message(format!(
                        "Packaged {label} artifact: {} files, {} bytes, {}",
                        summary.files,
                        summary.bytes,
                        path.display()
                    ));
                    self.artifacts.push(PackagedArtifact {
                        identifier,
                        name: spec.name.clone(),
                        path,
                        files: summary.files,
                        bytes: summary.bytes,
                        sha256: summary.sha256,
                    });
                }
                Err(err) => {
                    self.message(format!("Error packaging the {label} artifact: {err}"));
                    failure.get_or_insert(client_error(err));
                }
            }
        }

        for spec in self.plan.reports.clone() {
            if let Err(PhaseEnd::Interrupted) = self.report(&spec, &src_dir).await {
                return PhaseEnd::Interrupted;
            }
        }

        if let (Some(spec), Some(cache_dir)) = (&self.plan.cache, self.context.cache_dir.clone()) {
            let spec = match self.expand_cache(spec).await {
                Ok(spec) => spec,
                Err(end) => return end,
            };
            let src = src_dir.clone();
            let outcome =
                tokio::task::spawn_blocking(move || cache::save(&cache_dir, &spec, &src)).await;
            match outcome {
                Ok(Ok(cache::SaveOutcome::Saved { key, files })) => {
                    self.message(format!("Saved {files} files to the cache under key {key}"))
                }
                Ok(Ok(cache::SaveOutcome::AlreadyExists { key })) => self.message(format!(
                    "Cache key {key} already exists; keyed cache entries are not overwritten"
                )),
                Ok(Ok(cache::SaveOutcome::NothingToSave)) => {
                    self.message("Nothing matched cache.paths; no cache saved".to_owned())
                }
                Ok(Ok(cache::SaveOutcome::Skipped)) => {}
                Ok(Err(err)) => self.message(format!("Warning: cannot save the cache: {err}")),
                Err(err) => self.message(format!("Warning: cannot save the cache: {err}")),
            }
        }
        match failure {
            Some(context) => PhaseEnd::Failed(context),
            None => PhaseEnd::Succeeded,
        }
    }

    /// Reads one report group's files. Report problems never fail the build, as in CodeBuild.
    async fn report(&mut self, spec: &ReportSpec, src_dir: &Path) -> Result<(), PhaseEnd> {
        let mut texts = vec![spec.name.clone()];
        texts.extend(spec.files.iter().cloned());
        texts.extend(spec.base_directory.iter().cloned());
        let mut values = self.expand(texts).await?.into_iter();
        let name = values.next().unwrap_or_default();
        let files: Vec<String> = values.by_ref().take(spec.files.len()).collect();
        let base_directory = values.next();
        // A plain name is the project's report group `<project>-<name>`; an ARN names a group.
        let name = match name.strip_prefix("arn:") {
            Some(_) => name.rsplit('/').next().unwrap_or(&name).to_owned(),
            None => format!("{}-{name}", self.context.project_name),
        };
        if !spec.file_format.is_test() {
            self.message(format!(
                "Skipping report group {name}: {} coverage reports are not supported yet",
                spec.file_format.as_str()
            ));
            return Ok(());
        }
        let selection = ArtifactSpec {
            files,
            base_directory,
            discard_paths: spec.discard_paths,
            ..ArtifactSpec::default()
        };
        let (src, format) = (src_dir.to_owned(), spec.file_format);
        let read = tokio::task::spawn_blocking(move || {
            let files = artifacts::select_files(&src, &selection).map_err(|it| it.to_string())?;
            let mut cases = Vec::new();
            let mut problems = Vec::new();
            for file in files {
                // Read as a stream: a report file is never whole in memory.
                match formats::report::parse_test_report_file(
                    format,
                    &file.archive_path,
                    &file.source,
                ) {
                    Ok(found) => cases.extend(found),
                    Err(err) => problems.push(err.to_string()),
                }
            }
            Ok::<_, String>((cases, problems))
        })
        .await
        .unwrap_or_else(|err| Err(err.to_string()));
        match read {
            Ok((mut cases, problems)) => {
                // A failing test's message may print a secret, as any output may.
                for case in &mut cases {
                    case.message = case.message.take().map(|it| self.masker.mask(&it));
                }
                for problem in &problems {
                    self.message(format!("Warning: report group {name}: {problem}"));
                }
                let summary = formats::report::summarize(&cases);
                let counts = &summary.status_counts;
                let status = if !problems.is_empty() {
                    "INCOMPLETE"
                } else if counts.failed + counts.error > 0 {
                    "FAILED"
                } else {
                    "SUCCEEDED"
                };
                self.message(format!(
                    "Report {name}: {} tests, {} succeeded, {} failed, {} errors, {} skipped",
                    summary.total, counts.succeeded, counts.failed, counts.error, counts.skipped
                ));
                self.reports.push(Report {
                    name,
                    report_type: "TEST".to_owned(),
                    status: status.to_owned(),
                    test_summary: summary,
                    test_cases: cases,
                });
            }
            Err(err) => self.message(format!("Skipping report group {name}: {err}")),
        }
        Ok(())
    }

    fn begin(&mut self, phase: PhaseType) -> f64 {
        let time = clock::now();
        let _ = self.events.send(BuildEvent::PhaseStarted { phase, time });
        time
    }

    fn end(&mut self, phase: PhaseType, started: f64, end: PhaseEnd) {
        let time = clock::now();
        let (status, context) = match end {
            PhaseEnd::Succeeded => (BuildStatus::Succeeded, None),
            PhaseEnd::Failed(context) => {
                self.failed = true;
                let status = if [FAULT, ACCESS_DENIED].contains(&context.status_code.as_str()) {
                    BuildStatus::Fault
                } else {
                    BuildStatus::Failed
                };
                (status, Some(context))
            }
            PhaseEnd::Interrupted => {
                let status = self.interrupted.unwrap_or(BuildStatus::Stopped);
                let message = match status {
                    BuildStatus::TimedOut => format!(
                        "Build timed out after {} minutes",
                        self.context.timeout.as_secs().div_ceil(60)
                    ),
                    _ => "Build stopped".to_owned(),
                };
                (status, Some(PhaseContext { status_code: status.as_str().to_owned(), message }))
            }
        };
        if status == BuildStatus::Fault {
            self.interrupted.get_or_insert(BuildStatus::Fault);
        }
        let context =
            context.map(|it| PhaseContext { message: self.masker.mask(&it.message), ..it });
        let _ = self.events.send(BuildEvent::PhaseFinished {
            phase,
            status,
            context: context.clone(),
            time,
        });
        self.record(phase, started, time, status, context);
    }

    fn record(
        &mut self,
        phase: PhaseType,
        start: f64,
        end: f64,
        status: BuildStatus,
        context: Option<PhaseContext>,
    ) {
        let contexts = vec![
            context.unwrap_or(PhaseContext { status_code: String::new(), message: String::new() }),
        ];
        self.phases.push(BuildPhase {
            phase_type: phase,
            phase_status: Some(status),
            start_time: start,
            end_time: Some(end),
            duration_in_seconds: Some((end - start).max(0.0) as u64),
            contexts: Some(contexts),
        });
    }

    fn message(&mut self, text: String) {
        let text = self.masker.mask(&text);
        let _ = self.events.send(BuildEvent::Message { text, time: Some(crate::clock::now()) });
    }
}

/// `work`'s result, or `None` when the deadline passes or a stop is requested first.
async fn race<T>(
    work: impl std::future::Future<Output = T>,
    deadline: tokio::time::Instant,
    stop: &mut watch::Receiver<bool>,
) -> Option<T> {
    tokio::select! {
        result = work => Some(result),
        () = tokio::time::sleep_until(deadline) => None,
        () = wait_for_stop(stop) => None,
    }
}

async fn wait_for_stop(stop: &mut watch::Receiver<bool>) {
    loop {
        if *stop.borrow_and_update() {
            return;
        }
        if stop.changed().await.is_err() {
            // Nobody can ask for a stop any more: wait for the other branches.
            std::future::pending::<()>().await;
        }
    }
}

fn command_error(command: &str, status: i32) -> PhaseContext {
    let reason = if status < 0 {
        "the build shell ended".to_owned()
    } else {
        format!("exit status {status}")
    };
    PhaseContext {
        status_code: "COMMAND_EXECUTION_ERROR".to_owned(),
        message: format!("Error while executing command: {command}. Reason: {reason}"),
    }
}

fn client_error(message: String) -> PhaseContext {
    PhaseContext { status_code: "CLIENT_ERROR".to_owned(), message }
}

fn fault(message: String) -> PhaseContext {
    PhaseContext { status_code: "FAULT".to_owned(), message }
}

fn project_arn(context: &BuildContext) -> String {
    let account = context.build_arn.split(':').nth(4).unwrap_or("000000000000");
    format!("arn:aws:codebuild:{}:{account}:project/{}", context.region, context.project_name)
}

/// Keeps the last 64 KiB of a phase's output, for `RETRY-<regex>` to match against.
fn keep_tail(tail: &mut String, text: &str) {
    const MAX: usize = 64 * 1024;
    tail.push_str(text);
    if tail.len() > MAX {
        let mut cut = tail.len() - MAX;
        while !tail.is_char_boundary(cut) {
            cut += 1;
        }
        tail.drain(..cut);
    }
}

/// Writes `codebuild-hash-files` into `bin`, as a script that calls our helper program.
fn install_helpers(bin: &Path, helper: &Path) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(bin)?;
    let script = bin.join("codebuild-hash-files");
    let quoted = helper.display().to_string().replace('\'', r"'\''");
    std::fs::write(&script, format!("#!/bin/sh\nexec '{quoted}' hash-files \"$@\"\n"))?;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
    Ok(bin.to_owned())
}

#[cfg(test)]
mod tests;
