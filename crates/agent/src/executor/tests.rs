//! Executor tests: real bash, real files, one build per test.

#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use protocol::{BuildEvent, BuildStatus, EnvVariable, PhaseType};
use tokio::sync::{mpsc, watch};

use super::{BuildContext, BuildResult, run_build};
use crate::MapSecrets;

/// A finished test build: its result, everything it printed, and its directories.
struct Finished {
    result: BuildResult,
    output: String,
    artifacts: PathBuf,
    _temp: tempfile::TempDir,
}

impl Finished {
    fn status(&self) -> BuildStatus {
        self.result.build.build_status
    }

    /// Each phase with its status, e.g. `BUILD FAILED`, in order (without SUBMITTED/QUEUED).
    fn phases(&self) -> Vec<String> {
        self.result
            .build
            .phases
            .iter()
            .filter(|it| {
                !matches!(
                    it.phase_type,
                    PhaseType::Submitted | PhaseType::Queued | PhaseType::Completed
                )
            })
            .map(|it| {
                format!(
                    "{} {}",
                    it.phase_type.as_str(),
                    it.phase_status.map(|s| s.as_str()).unwrap_or("-")
                )
            })
            .collect()
    }

    fn context(&self, phase: PhaseType) -> String {
        let phase = self.result.build.phases.iter().find(|it| it.phase_type == phase).unwrap();
        let context = &phase.contexts.as_ref().unwrap()[0];
        format!("{}: {}", context.status_code, context.message)
    }
}

struct Setup {
    buildspec: &'static str,
    files: Vec<(&'static str, &'static str)>,
    secrets: BTreeMap<String, String>,
    /// References the build's role may not read: reference → why.
    refused: BTreeMap<String, String>,
    /// `BuildContext::refused_artifacts`.
    refused_artifacts: Option<String>,
    overrides: Vec<EnvVariable>,
    timeout: Duration,
    cache_dir: Option<PathBuf>,
    git: bool,
    stop_after: Option<Duration>,
    sandbox: bool,
    /// `BuildContext::source_commit`.
    source_commit: Option<String>,
}

impl Setup {
    fn new(buildspec: &'static str) -> Setup {
        Setup {
            buildspec,
            files: Vec::new(),
            secrets: BTreeMap::new(),
            refused: BTreeMap::new(),
            refused_artifacts: None,
            overrides: Vec::new(),
            timeout: Duration::from_secs(60),
            cache_dir: None,
            git: false,
            stop_after: None,
            sandbox: false,
            source_commit: None,
        }
    }

    async fn run(self) -> Finished {
        self.run_with(|_| {}).await
    }

    /// Runs the build after `change` has changed the source (after the git commit, if any).
    async fn run_with(self, change: impl FnOnce(&Path)) -> Finished {
        let temp = tempfile::tempdir().unwrap();
        let source = temp.path().join("source");
        std::fs::create_dir_all(&source).unwrap();
        for (path, content) in &self.files {
            let path = source.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        if self.git {
            git(&source, &["init", "-q"]);
            git(&source, &["add", "-A"]);
            git(
                &source,
                &[
                    "-c",
                    "user.name=t",
                    "-c",
                    "user.email=t@e",
                    "commit",
                    "-q",
                    "--allow-empty",
                    "-m",
                    "x",
                ],
            );
        }
        change(&source);
        let parsed = formats::buildspec::parse("buildspec.yml", self.buildspec);
        assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
        let plan = parsed.value.unwrap().plan;
        let artifacts = temp.path().join("artifacts");
        let work_dir = temp.path().join("work");
        let context = BuildContext {
            build_id: "test:0000".to_owned(),
            build_arn: "arn:aws:codebuild:us-east-1:000000000000:build/test:0000".to_owned(),
            build_number: 7,
            project_name: "test".to_owned(),
            region: "us-east-1".to_owned(),
            initiator: "tests".to_owned(),
            source_dir: source.clone(),
            work_dir,
            artifacts_dir: artifacts.clone(),
            cache_dir: self.cache_dir.clone(),
            timeout: self.timeout,
            base_env: vec![("PATH".to_owned(), "/usr/local/bin:/usr/bin:/bin".to_owned())],
            env_overrides: self.overrides.clone(),
            helper_program: None,
            sandbox: self.sandbox,
            sandbox_hidden: Vec::new(),
            output_budget: None,
            git_credentials: None,
            platform_variables: Vec::new(),
            source_version: None,
            source_repo_url: None,
            source_commit: self.source_commit.clone(),
            refused_artifacts: self.refused_artifacts.clone(),
        };
        let (events_tx, mut events_rx) = mpsc::unbounded_channel();
        let (stop_tx, stop_rx) = watch::channel(false);
        if let Some(after) = self.stop_after {
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                let _ = stop_tx.send(true);
            });
        } else {
            // Keep the sender alive for the whole build.
            std::mem::forget(stop_tx);
        }
        let secrets =
            Refusing { values: MapSecrets::new(self.secrets.clone()), refused: self.refused };
        let result = run_build(&plan, &context, &secrets, events_tx, stop_rx).await;
        let mut output = String::new();
        while let Ok(event) = events_rx.try_recv() {
            match event {
                BuildEvent::Output { text } => output.push_str(&text),
                BuildEvent::Message { text, .. } => {
                    output.push_str(&format!("[message] {}\n", text.replace('\n', "\\n")))
                }
                BuildEvent::CommandStarted { command, .. } => {
                    output.push_str(&format!("[command] {}\n", command.replace('\n', "\\n")))
                }
                BuildEvent::PhaseFinished { phase, status, context, .. } => {
                    output.push_str(&format!("[phase] {} {}", phase.as_str(), status.as_str()));
                    if let Some(context) = context {
                        output.push_str(&format!(" ({})", context.message.replace('\n', "\\n")));
                    }
                    output.push('\n');
                }
                BuildEvent::PhaseStarted { .. } => {}
            }
        }
        if self.source_commit.is_some() {
            // Moved into the workspace, not copied.
            assert!(!source.exists(), "{} is still there", source.display());
        }
        Finished { result, output, artifacts, _temp: temp }
    }
}

/// Secrets from a map, but those `refused` names the server refused (the build's role may not
/// read them).
struct Refusing {
    values: MapSecrets,
    refused: BTreeMap<String, String>,
}

impl crate::SecretSource for Refusing {
    fn parameter(&self, name: &str) -> Result<String, String> {
        self.values.parameter(name)
    }

    fn secret(&self, reference: &str) -> Result<String, String> {
        self.values.secret(reference)
    }

    fn refusal(&self, reference: &str) -> Option<String> {
        self.refused.get(reference).cloned()
    }
}

fn git(dir: &Path, args: &[&str]) {
    let status = std::process::Command::new("git").args(args).current_dir(dir).status().unwrap();
    assert!(status.success());
}

fn lines(output: &str) -> Vec<&str> {
    output.lines().filter(|it| !it.starts_with('[')).collect()
}

#[tokio::test]
async fn shell_state_carries_across_commands_and_phases() {
    let build = Setup::new(
        r#"
version: 0.2
phases:
  install:
    commands:
      - PLAIN=one; export EXPORTED=two
      - mkdir -p sub/dir && cd sub
      - greet() { echo hi; }
  build:
    commands:
      - echo "plain=$PLAIN exported=$EXPORTED dir=${PWD#$CODEBUILD_SRC_DIR}"
      - sh -c 'echo "child sees exported=$EXPORTED plain=${PLAIN:-unset}"'
      - cd dir; unset PLAIN
      - echo "plain=${PLAIN:-unset} dir=${PWD#$CODEBUILD_SRC_DIR}"
      - type greet >/dev/null 2>&1 || echo "functions do not carry over"
      - set -e; false; echo "not reached"
      - echo "set -e did not carry over"; false
"#,
    )
    .run()
    .await;
    assert_eq!(
        lines(&build.output),
        [
            "plain=one exported=two dir=/sub",
            "child sees exported=two plain=unset",
            "plain=unset dir=/sub/dir",
            "functions do not carry over",
        ]
    );
    assert_eq!(build.status(), BuildStatus::Failed);
    assert_eq!(
        build.context(PhaseType::Build),
        "COMMAND_EXECUTION_ERROR: Error while executing command: set -e; false; echo \"not reached\". Reason: exit status 1"
    );
}

#[tokio::test]
async fn the_shells_files_live_in_memory_for_the_agents_user_only_and_go_with_the_build() {
    let build = Setup::new(
        r#"
version: 0.2
phases:
  build:
    commands:
      - echo "$__slipway_state"
      - stat -c %a "$__slipway_state"
"#,
    )
    .run()
    .await;
    assert_eq!(build.status(), BuildStatus::Succeeded, "{}", build.output);
    let output = lines(&build.output);
    let state = Path::new(output[0]);
    if Path::new("/dev/shm").is_dir() {
        assert!(state.starts_with("/dev/shm"), "{}", state.display());
        assert_eq!(output[1], "700");
    }
    assert!(!state.exists(), "{} outlived the build", state.display());
}

#[tokio::test]
async fn a_multi_line_command_fails_only_by_its_last_status() {
    let build = Setup::new(
        r#"
version: 0.2
phases:
  build:
    commands:
      - |
        false
        echo "kept going"
      - |
        true
        exit 3
"#,
    )
    .run()
    .await;
    assert_eq!(lines(&build.output), ["kept going"]);
    assert!(build.context(PhaseType::Build).ends_with("Reason: exit status 3"));
}

#[tokio::test]
async fn background_processes_keep_running_for_later_commands() {
    let build = Setup::new(
        r#"
version: 0.2
phases:
  pre_build:
    commands:
      - (sleep 0.2; echo started > marker) &
  build:
    commands:
      - for i in $(seq 600); do [ -f marker ] && break; sleep 0.05; done; cat marker
"#,
    )
    .run()
    .await;
    assert_eq!(lines(&build.output), ["started"]);
    assert_eq!(build.status(), BuildStatus::Succeeded);
}

#[tokio::test]
async fn a_failed_build_phase_still_runs_post_build_and_uploads() {
    let build = Setup::new(
        r#"
version: 0.2
phases:
  build:
    commands:
      - echo "succeeding=$CODEBUILD_BUILD_SUCCEEDING"
      - exit 2
      - echo not reached
    finally:
      - echo "finally succeeding=$CODEBUILD_BUILD_SUCCEEDING"
  post_build:
    commands:
      - echo "post_build succeeding=$CODEBUILD_BUILD_SUCCEEDING"
      - echo out > out.txt
artifacts:
  files: [out.txt]
"#,
    )
    .run()
    .await;
    assert_eq!(
        lines(&build.output),
        ["succeeding=1", "finally succeeding=0", "post_build succeeding=0"]
    );
    assert_eq!(
        build.phases(),
        [
            "PROVISIONING SUCCEEDED",
            "DOWNLOAD_SOURCE SUCCEEDED",
            "INSTALL SUCCEEDED",
            "PRE_BUILD SUCCEEDED",
            "BUILD FAILED",
            "POST_BUILD SUCCEEDED",
            "UPLOAD_ARTIFACTS SUCCEEDED",
            "FINALIZING SUCCEEDED",
        ]
    );
    assert!(build.artifacts.join("artifacts.zip").is_file());
    assert_eq!(build.status(), BuildStatus::Failed);
}

#[tokio::test]
async fn a_failed_install_or_pre_build_skips_to_finalizing() {
    for phase in ["install", "pre_build"] {
        let buildspec = format!(
            "version: 0.2\nphases:\n  {phase}:\n    commands: [\"false\"]\n  build:\n    commands: [echo build]\n  post_build:\n    commands: [echo post]\nartifacts:\n  files: ['**/*']\n"
        );
        let build = Setup::new(Box::leak(buildspec.into_boxed_str())).run().await;
        let failed = if phase == "install" { "INSTALL FAILED" } else { "PRE_BUILD FAILED" };
        let mut expected = vec!["PROVISIONING SUCCEEDED", "DOWNLOAD_SOURCE SUCCEEDED"];
        if phase == "pre_build" {
            expected.push("INSTALL SUCCEEDED");
        }
        expected.extend([failed, "FINALIZING SUCCEEDED"]);
        assert_eq!(build.phases(), expected, "{phase}");
        assert!(lines(&build.output).is_empty(), "{phase}: {}", build.output);
    }
}

#[tokio::test]
async fn on_failure_abort_and_continue() {
    let abort = Setup::new(
        r#"
version: 0.2
phases:
  build:
    on-failure: ABORT
    commands: ["false"]
  post_build:
    commands: [echo post]
artifacts:
  files: ['**/*']
"#,
    )
    .run()
    .await;
    assert!(
        abort.phases().ends_with(&["BUILD FAILED".to_owned(), "FINALIZING SUCCEEDED".to_owned()])
    );
    assert!(lines(&abort.output).is_empty());

    let continued = Setup::new(
        r#"
version: 0.2
phases:
  install:
    on-failure: CONTINUE
    commands: ["false"]
  pre_build:
    commands:
      - echo "pre_build ran, succeeding=$CODEBUILD_BUILD_SUCCEEDING"
"#,
    )
    .run()
    .await;
    assert_eq!(lines(&continued.output), ["pre_build ran, succeeding=0"]);
    assert_eq!(continued.status(), BuildStatus::Failed);
}

#[tokio::test]
async fn retry_runs_the_phase_again_when_the_failure_matches() {
    let build = Setup::new(
        r#"
version: 0.2
phases:
  build:
    on-failure: RETRY-2
    commands:
      - echo attempt >> attempts; n=$(wc -l < attempts); echo "attempt $n"; [ "$n" -ge 3 ]
"#,
    )
    .run()
    .await;
    assert_eq!(lines(&build.output), ["attempt 1", "attempt 2", "attempt 3"]);
    assert_eq!(build.status(), BuildStatus::Succeeded);

    let unmatched = Setup::new(
        r#"
version: 0.2
phases:
  build:
    on-failure: RETRY-5-connection timed out
    commands:
      - echo "disk full"; exit 1
"#,
    )
    .run()
    .await;
    assert_eq!(lines(&unmatched.output), ["disk full"]);
    assert_eq!(unmatched.status(), BuildStatus::Failed);

    let matched = Setup::new(
        r#"
version: 0.2
phases:
  build:
    on-failure: RETRY-1-connection timed out
    commands:
      - echo "connection timed out"; exit 1
"#,
    )
    .run()
    .await;
    assert_eq!(lines(&matched.output), ["connection timed out", "connection timed out"]);
    assert_eq!(matched.status(), BuildStatus::Failed);
}

#[tokio::test]
async fn finally_failure_fails_the_phase() {
    let build = Setup::new(
        r#"
version: 0.2
phases:
  build:
    commands: [echo ok]
    finally: [exit 4, echo skipped]
"#,
    )
    .run()
    .await;
    assert_eq!(lines(&build.output), ["ok"]);
    assert_eq!(build.status(), BuildStatus::Failed);
    assert!(build.context(PhaseType::Build).contains("exit 4. Reason: exit status 4"));
}

#[tokio::test]
async fn codebuild_variables_and_precedence() {
    let mut setup = Setup::new(
        r#"
version: 0.2
env:
  variables:
    LITERAL: "$HOME/x"
    OVERRIDDEN: from-buildspec
phases:
  build:
    commands:
      - echo "id=$CODEBUILD_BUILD_ID number=$CODEBUILD_BUILD_NUMBER arn=$CODEBUILD_BUILD_ARN"
      - echo "region=$AWS_REGION initiator=$CODEBUILD_INITIATOR"
      - '[ "$PWD" = "$CODEBUILD_SRC_DIR" ] && echo "starts in the source"'
      - '[ "$CODEBUILD_START_TIME" -gt 1700000000000 ] && echo "start time in ms"'
      - echo "revision=$CODEBUILD_RESOLVED_SOURCE_VERSION" | sed -E 's/[0-9a-f]{40}/<sha>/'
      - echo "literal=$LITERAL overridden=$OVERRIDDEN"
"#,
    );
    setup.overrides =
        vec![EnvVariable { name: "OVERRIDDEN".to_owned(), value: "from-command-line".to_owned() }];
    setup.git = true;
    let build = setup.run().await;
    assert_eq!(
        lines(&build.output),
        [
            "id=test:0000 number=7 arn=arn:aws:codebuild:us-east-1:000000000000:build/test:0000",
            "region=us-east-1 initiator=tests",
            "starts in the source",
            "start time in ms",
            "revision=<sha>",
            "literal=$HOME/x overridden=from-command-line",
        ]
    );
    assert_eq!(build.result.build.resolved_source_version.as_ref().map(String::len), Some(40));
}

#[tokio::test]
async fn exported_variables_are_captured_at_the_end() {
    let build = Setup::new(
        r#"
version: 0.2
env:
  exported-variables: [VERSION, NEVER_SET, CODEBUILD_BUILD_ID]
phases:
  build:
    commands: [VERSION=1.0]
  post_build:
    commands: [VERSION=1.1]
"#,
    )
    .run()
    .await;
    let exported: Vec<(String, String)> = build
        .result
        .build
        .exported_environment_variables
        .iter()
        .map(|it| (it.name.clone(), it.value.clone()))
        .collect();
    assert_eq!(
        exported,
        [
            ("VERSION".to_owned(), "1.1".to_owned()),
            ("NEVER_SET".to_owned(), String::new()),
            ("CODEBUILD_BUILD_ID".to_owned(), "test:0000".to_owned())
        ]
    );
}

#[tokio::test]
async fn secrets_are_resolved_and_masked_everywhere() {
    let mut setup = Setup::new(
        r#"
version: 0.2
env:
  parameter-store:
    DB_PASSWORD: /prod/db/password
  secrets-manager:
    TOKEN: ci/tokens:github
    WHOLE: ci/tokens
  exported-variables: [LEAK]
phases:
  build:
    commands:
      - echo "password is $DB_PASSWORD."
      - echo "token=${TOKEN}, again:${TOKEN}"
      - printf '%s' "${TOKEN:0:4}"; sleep 0.1; printf '%s\n' "${TOKEN:4}"
      - echo "$WHOLE"
      - LEAK="x${DB_PASSWORD}y"
      - exit 9
"#,
    );
    setup.secrets.insert("/prod/db/password".to_owned(), "hunter22".to_owned());
    setup.secrets.insert("ci/tokens".to_owned(), r#"{"github": "ghp_abcdef123"}"#.to_owned());
    let build = setup.run().await;
    assert_eq!(lines(&build.output), ["password is ***.", "token=***, again:***", "***", "***"]);
    assert!(!build.output.contains("hunter22") && !build.output.contains("ghp_abcdef123"));
    assert_eq!(build.result.build.exported_environment_variables[0].value, "x***y");
}

/// A command that holds a secret's value literally must not show it: neither in the
/// `Running command` echo, nor in the executor's messages, nor in the phase's context.
#[tokio::test]
async fn masking_covers_the_command_echo_messages_and_phase_contexts() {
    let mut setup = Setup::new(
        r#"
version: 0.2
env:
  parameter-store:
    DB_PASSWORD: /prod/db/password
phases:
  build:
    on-failure: RETRY-1
    commands:
      - test "$DB_PASSWORD" = hunter22 && echo same; exit 3 # hunter22
reports:
  unit:
    files: ['reports/*.xml']
"#,
    );
    setup.secrets.insert("/prod/db/password".to_owned(), "hunter22".to_owned());
    setup.files.push((
        "reports/junit.xml",
        r#"<testsuite name="s"><testcase classname="c" name="bad"><failure message="expected hunter22"/></testcase></testsuite>"#,
    ));
    let build = setup.run().await;
    assert!(
        build.output.contains("[command] test \"$DB_PASSWORD\" = *** && echo same"),
        "{}",
        build.output
    );
    assert!(
        build.output.contains("[message] Command did not exit successfully"),
        "{}",
        build.output
    );
    assert!(build.output.contains("[phase] BUILD FAILED"), "{}", build.output);
    assert!(!build.output.contains("hunter22"), "{}", build.output);
    let record = serde_json::to_string(&build.result.build).unwrap();
    assert!(!record.contains("hunter22"), "{record}");
    assert!(build.context(PhaseType::Build).contains("***"), "{}", build.context(PhaseType::Build));
    let case = &build.result.build.reports[0].test_cases[0];
    assert_eq!(case.message.as_deref(), Some("expected ***"));
}

#[tokio::test]
async fn a_missing_secret_fails_provisioning_before_anything_runs() {
    let build = Setup::new(
        r#"
version: 0.2
env:
  secrets-manager:
    TOKEN: missing:key
phases:
  build:
    commands: [echo ran]
"#,
    )
    .run()
    .await;
    assert_eq!(build.phases(), ["PROVISIONING FAILED", "FINALIZING SUCCEEDED"]);
    assert_eq!(
        build.context(PhaseType::Provisioning),
        "CLIENT_ERROR: Secrets Manager error: secret `missing` not found (for variable TOKEN)"
    );
    assert!(lines(&build.output).is_empty());
}

#[tokio::test]
async fn a_secret_the_builds_role_may_not_read_ends_it_fault_in_provisioning() {
    let mut setup = Setup::new(
        r#"
version: 0.2
env:
  parameter-store:
    DEV: /dev/db
    PROD: /prod/db
phases:
  build:
    commands: [echo ran]
"#,
    );
    setup.secrets.insert("/dev/db".to_owned(), "dev".to_owned());
    let why = "Role arn:aws:iam::000000000000:role/ci may not read parameter /prod/db (ssm:GetParameters)";
    setup.refused.insert("/prod/db".to_owned(), why.to_owned());
    let build = setup.run().await;
    assert_eq!(build.status(), BuildStatus::Fault);
    assert_eq!(build.phases(), ["PROVISIONING FAULT", "FINALIZING SUCCEEDED"]);
    assert_eq!(
        build.context(PhaseType::Provisioning),
        format!("ACCESS_DENIED: {why}, for variable PROD")
    );
    assert!(lines(&build.output).is_empty());
}

#[tokio::test]
async fn artifacts_the_builds_role_may_not_write_end_it_fault_in_upload_artifacts() {
    let buildspec = "version: 0.2\nphases:\n  build:\n    commands: [echo ran > out.txt]\nartifacts:\n  files: [out.txt]\n";
    let mut setup = Setup::new(buildspec);
    let why = "Role arn:aws:iam::000000000000:role/ci may not write object arn:aws:s3:::bucket/app.zip (s3:PutObject)";
    setup.refused_artifacts = Some(why.to_owned());
    let build = setup.run().await;
    assert_eq!(build.status(), BuildStatus::Fault);
    assert_eq!(
        build.phases(),
        [
            "PROVISIONING SUCCEEDED",
            "DOWNLOAD_SOURCE SUCCEEDED",
            "INSTALL SUCCEEDED",
            "PRE_BUILD SUCCEEDED",
            "BUILD SUCCEEDED",
            "POST_BUILD SUCCEEDED",
            "UPLOAD_ARTIFACTS FAULT",
            "FINALIZING SUCCEEDED"
        ]
    );
    assert_eq!(build.context(PhaseType::UploadArtifacts), format!("ACCESS_DENIED: {why}"));
    assert!(!build.artifacts.join("artifacts.zip").exists());

    // A build with nothing to package writes nothing: the refusal does not apply.
    let mut setup = Setup::new("version: 0.2\nphases:\n  build:\n    commands: [echo ran]\n");
    setup.refused_artifacts = Some(why.to_owned());
    assert_eq!(setup.run().await.status(), BuildStatus::Succeeded);
}

#[tokio::test]
async fn artifacts_expand_variables_set_by_commands() {
    let mut setup = Setup::new(
        r#"
version: 0.2
phases:
  build:
    commands:
      - mkdir -p out/sub docs && echo a > out/a.txt && echo b > out/sub/b.txt && echo d > docs/d.md
      - OUT=out; NAME=release-$CODEBUILD_BUILD_NUMBER
artifacts:
  files: ['**/*']
  base-directory: $OUT
  name: $NAME
  secondary-artifacts:
    docs:
      files: ['docs/*.md']
      discard-paths: yes
"#,
    );
    setup.files.push(("README", "hello"));
    let build = setup.run().await;
    assert_eq!(build.status(), BuildStatus::Succeeded, "{}", build.output);
    let primary = &build.result.artifacts[0];
    assert_eq!(
        (primary.identifier.as_deref(), primary.name.as_deref(), primary.files),
        (None, Some("release-7"), 2)
    );
    let docs = &build.result.artifacts[1];
    assert_eq!((docs.identifier.as_deref(), docs.files), (Some("docs"), 1));
    assert!(build.artifacts.join("docs.zip").is_file());
    assert_eq!(build.result.build.artifacts.as_ref().unwrap().override_artifact_name, Some(true));
}

#[tokio::test]
async fn no_matching_artifact_fails_upload_artifacts() {
    let build = Setup::new(
        r#"
version: 0.2
phases:
  build:
    commands: [echo]
artifacts:
  files: [missing/*.jar]
"#,
    )
    .run()
    .await;
    assert_eq!(build.status(), BuildStatus::Failed);
    assert_eq!(
        build.context(PhaseType::UploadArtifacts),
        "CLIENT_ERROR: no matching artifact paths found"
    );
}

#[tokio::test]
async fn the_cache_is_restored_before_install_and_saved_at_the_end() {
    let cache = tempfile::tempdir().unwrap();
    let buildspec = r#"
version: 0.2
phases:
  install:
    commands:
      - 'if [ -f deps/lib.txt ]; then echo "cached: $(cat deps/lib.txt)"; else echo "cold"; fi'
  build:
    commands:
      - mkdir -p deps && echo v1 > deps/lib.txt
cache:
  key: deps-$(cat lock.txt)
  paths: ['deps/**/*']
"#;
    for expected in ["cold", "cached: v1"] {
        let mut setup = Setup::new(buildspec);
        setup.files.push(("lock.txt", "abc"));
        setup.cache_dir = Some(cache.path().to_owned());
        let build = setup.run().await;
        assert_eq!(lines(&build.output), [expected], "{}", build.output);
        assert_eq!(build.status(), BuildStatus::Succeeded);
    }
}

/// A build that links a host file into its artifact (or names one by `../`) gets no zip
/// holding it: UPLOAD_ARTIFACTS fails with CLIENT_ERROR naming the path.
#[tokio::test]
async fn artifacts_outside_the_source_fail_the_upload_naming_the_path() {
    let build = Setup::new(
        r#"
version: 0.2
phases:
  build:
    commands:
      - ln -s /etc/passwd leak
artifacts:
  files:
    - leak
"#,
    )
    .run()
    .await;
    let context = build.context(PhaseType::UploadArtifacts);
    assert!(context.starts_with("CLIENT_ERROR: "), "{context}");
    assert!(
        context.contains("leak") && context.contains("outside the build's source"),
        "{context}"
    );
    assert_eq!(build.status(), BuildStatus::Failed);
    assert!(!build.artifacts.join("artifacts.zip").exists());

    let build = Setup::new(
        r#"
version: 0.2
phases:
  build:
    commands:
      - echo host > ../host.txt
artifacts:
  files:
    - ../host.txt
"#,
    )
    .run()
    .await;
    let context = build.context(PhaseType::UploadArtifacts);
    assert!(context.starts_with("CLIENT_ERROR: ") && context.contains("host.txt"), "{context}");
}

#[tokio::test]
async fn junit_reports_become_test_cases() {
    let mut setup = Setup::new(
        r#"
version: 0.2
phases:
  build:
    commands: [echo]
reports:
  unit:
    files: ['reports/*.xml']
"#,
    );
    setup.files.push((
        "reports/junit.xml",
        r#"<testsuite name="s"><testcase classname="c" name="ok" time="0.5"/><testcase classname="c" name="bad" time="0.25"><failure message="boom"/></testcase></testsuite>"#,
    ));
    let build = setup.run().await;
    let report = &build.result.build.reports[0];
    assert_eq!((report.name.as_str(), report.status.as_str()), ("test-unit", "FAILED"));
    assert_eq!(report.test_summary.total, 2);
    assert_eq!(report.test_summary.status_counts.failed, 1);
    assert_eq!(report.test_summary.duration_in_nano_seconds, 750_000_000);
    // A failing test fails its report, not the build, as in CodeBuild.
    assert_eq!(build.status(), BuildStatus::Succeeded);
}

/// Whether a process with this pid is still alive.
fn alive(pid: &str) -> bool {
    Path::new(&format!("/proc/{}", pid.trim())).exists()
}

#[tokio::test]
async fn a_timeout_kills_the_whole_process_group() {
    let mut setup = Setup::new(
        r#"
version: 0.2
phases:
  pre_build:
    commands:
      - sleep 300 & echo $! > "$PIDS/background"
  build:
    commands:
      - echo $$ > "$PIDS/shell"; sleep 300
  post_build:
    commands: [echo not reached]
"#,
    );
    let pids = tempfile::tempdir().unwrap();
    setup.overrides =
        vec![EnvVariable { name: "PIDS".to_owned(), value: pids.path().display().to_string() }];
    setup.timeout = Duration::from_millis(1500);
    let started = std::time::Instant::now();
    let build = setup.run().await;
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(build.status(), BuildStatus::TimedOut);
    assert_eq!(
        build.phases()[4..],
        ["BUILD TIMED_OUT".to_owned(), "FINALIZING SUCCEEDED".to_owned()]
    );
    assert!(build.context(PhaseType::Build).starts_with("TIMED_OUT: Build timed out"));
    let background = std::fs::read_to_string(pids.path().join("background")).unwrap();
    // The kill is asynchronous: wait (bounded, generously) for the process to be gone.
    for _ in 0..300 {
        if !alive(&background) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!alive(&background), "the background sleep survived the timeout");
}

#[tokio::test]
async fn a_stop_request_ends_the_build_stopped() {
    let mut setup = Setup::new(
        r#"
version: 0.2
phases:
  build:
    commands: [sleep 300]
"#,
    );
    setup.stop_after = Some(Duration::from_millis(500));
    let started = std::time::Instant::now();
    let build = setup.run().await;
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(build.status(), BuildStatus::Stopped);
    assert!(build.phases().contains(&"BUILD STOPPED".to_owned()));
}

#[tokio::test]
async fn posix_mode_by_default_and_bash_on_request() {
    let sh = Setup::new(
        r#"
version: 0.2
phases:
  build:
    commands:
      - shopt -oq posix && echo posix
"#,
    )
    .run()
    .await;
    assert_eq!(lines(&sh.output), ["posix"]);
    let bash = Setup::new(
        r#"
version: 0.2
env:
  shell: bash
phases:
  build:
    commands:
      - shopt -oq posix || echo bash
"#,
    )
    .run()
    .await;
    assert_eq!(lines(&bash.output), ["bash"]);
}

#[tokio::test]
async fn run_as_runs_commands_as_another_user_and_keeps_the_session_state() {
    use std::os::unix::fs::MetadataExt;
    let build = Setup::new(
        r#"
version: 0.2
run-as: nobody
phases:
  install:
    run-as: root
    commands:
      - ROOT_VAR=set-by-root; mkdir sub; cd sub
      - echo "install as $(id -un)"
  build:
    commands:
      - echo "build as $(id -un), var=$ROOT_VAR, dir=${PWD#$CODEBUILD_SRC_DIR}"
      - NOBODY_VAR=from-nobody; touch made-by-nobody
  post_build:
    run-as: root
    commands:
      - echo "post_build as $(id -un), var=$NOBODY_VAR, owner=$(stat -c %U made-by-nobody)"
"#,
    )
    .run()
    .await;
    if std::fs::metadata("/proc/self").unwrap().uid() == 0 {
        assert_eq!(
            lines(&build.output),
            [
                "install as root",
                "build as nobody, var=set-by-root, dir=/sub",
                "post_build as root, var=from-nobody, owner=nobody",
            ]
        );
        assert_eq!(build.status(), BuildStatus::Succeeded);
    } else {
        // Without root, another user cannot be switched to: the phase says why.
        assert!(build.context(PhaseType::Install).contains("the agent must run as root"));
    }
}

/// The shell's state directory stays the agent's own (it holds the build's secrets), and
/// the state files exist before the first `run-as` command (here from expanding the cache's
/// fields): variables and the directory still carry, since the driver hands them over on
/// open file descriptors, and nothing is denied.
#[tokio::test]
async fn run_as_carries_variables_and_directory_from_command_to_command() {
    use std::os::unix::fs::MetadataExt;
    if std::fs::metadata("/proc/self").unwrap().uid() != 0 {
        // Only root can switch users; the test above covers the refusal.
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    let mut setup = Setup::new(
        r#"
version: 0.2
run-as: nobody
phases:
  build:
    commands:
      - CARRIED=from-first; mkdir -p deeper; cd deeper
      - echo "as $(id -un), var=$CARRIED, dir=${PWD#$CODEBUILD_SRC_DIR}"
      - touch "$CODEBUILD_SRC_DIR/../shell/variables" 2>/dev/null && echo state open || echo state closed
      - cat "$CODEBUILD_SRC_DIR/../shell/run-as-env" >/dev/null 2>&1 && echo secrets readable || echo secrets unreadable
cache:
  paths:
    - "cached/**/*"
"#,
    );
    setup.cache_dir = Some(cache.path().to_owned());
    let build = setup.run().await;
    assert_eq!(
        lines(&build.output),
        ["as nobody, var=from-first, dir=/deeper", "state closed", "secrets unreadable"],
        "{}",
        build.output
    );
    assert!(!build.output.contains("Permission denied"), "{}", build.output);
    assert_eq!(build.status(), BuildStatus::Succeeded);
}

#[tokio::test]
async fn attribute_changes_and_odd_values_carry_over() {
    let build = Setup::new(
        r#"
version: 0.2
env:
  shell: bash
phases:
  build:
    commands:
      - export LATER_PRIVATE=1; NEWLINES=$'a\nb'; QUOTES="it's \"quoted\" \$HOME"
      - export -n LATER_PRIVATE; declare -i NUMBER=2
      - sh -c 'echo "child- ${LATER_PRIVATE:-not exported}"'
      - NUMBER+=3; echo "number=$NUMBER"
      - printf '%s|' "$NEWLINES" "$QUOTES"; echo
"#,
    )
    .run()
    .await;
    assert_eq!(
        lines(&build.output),
        ["child- not exported", "number=5", "a", "b|it's \"quoted\" $HOME|"]
    );
}

#[tokio::test]
async fn a_git_source_is_copied_without_its_ignored_files() {
    let mut setup = Setup::new(
        r#"
version: 0.2
phases:
  build:
    commands:
      - ls -A | sort | tr '\n' ' '; echo
      - git status --porcelain | sort | tr '\n' ' '; echo
"#,
    );
    setup.files.extend([
        (".gitignore", "target/\n"),
        ("tracked.txt", "t"),
        ("target/huge.bin", "x"),
    ]);
    setup.git = true;
    let build = setup.run_with(|source| {
        std::fs::write(source.join("untracked.txt"), "u").unwrap();
        std::fs::write(source.join("tracked.txt"), "changed").unwrap();
    });
    let build = build.await;
    assert_eq!(
        lines(&build.output),
        [".git .gitignore tracked.txt untracked.txt ", " M tracked.txt ?? untracked.txt "]
    );
}

#[tokio::test]
async fn a_sandboxed_build_writes_only_its_workspace() {
    let mut setup = Setup::new(
        r#"
version: 0.2
phases:
  build:
    commands:
      - echo data > in-workspace && cat in-workspace
      - touch /usr/slipway-sandbox-test 2>/dev/null && echo "host writable" || echo "host read-only"
      - echo tmp > /tmp/x && cat /tmp/x
      - '[ "$HOME" = "${CODEBUILD_SRC_DIR%/src}/home" ] && echo "home in the workspace"'
"#,
    );
    setup.sandbox = true;
    let build = setup.run().await;
    assert_eq!(
        lines(&build.output),
        ["data", "host read-only", "tmp", "home in the workspace"],
        "{}",
        build.output
    );
    assert_eq!(build.status(), BuildStatus::Succeeded);
    assert!(!Path::new("/usr/slipway-sandbox-test").exists());
}

/// `run-as` works in the sandbox (which the embedded agent forces on every build): the shell
/// gets only the capabilities `runuser` needs, and none at all without `run-as`.
#[tokio::test]
async fn run_as_works_in_the_sandbox_and_only_run_as_gets_capabilities() {
    use std::os::unix::fs::MetadataExt;
    if std::fs::metadata("/proc/self").unwrap().uid() != 0 {
        // Only root can switch users; `run_as_runs_commands_as_another_user…` covers the refusal.
        return;
    }
    let mut setup = Setup::new(
        r#"
version: 0.2
phases:
  install:
    commands:
      - grep CapEff /proc/self/status
  build:
    run-as: nobody
    commands:
      - VAR=kept; echo "build as $(id -un)"
      - echo "var=$VAR"
"#,
    );
    setup.sandbox = true;
    let build = setup.run().await;
    assert_eq!(
        lines(&build.output),
        ["CapEff:\t00000000000000c0", "build as nobody", "var=kept"],
        "{}",
        build.output
    );
    assert_eq!(build.status(), BuildStatus::Succeeded);
    let mut setup = Setup::new(
        "version: 0.2\nphases:\n  build:\n    commands:\n      - grep CapEff /proc/self/status\n",
    );
    setup.sandbox = true;
    let build = setup.run().await;
    assert_eq!(lines(&build.output), ["CapEff:\t0000000000000000"], "{}", build.output);
}

#[tokio::test]
async fn the_output_budget_holds_the_build_until_output_is_handled() {
    let budget = std::sync::Arc::new(super::OutputBudget::new(10));
    budget.spend(6).await;
    // A text larger than what is left waits until the consumer gives some back: polled
    // once, it is not ready (no timing involved), and once bytes are released it finishes.
    let mut waiting = std::pin::pin!(budget.spend(6));
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(waiting.as_mut().poll(&mut context).is_pending());
    assert_eq!(budget.pending(), 6, "nothing was taken while waiting");
    budget.release(6);
    tokio::time::timeout(Duration::from_secs(30), waiting).await.unwrap();
    assert_eq!(budget.pending(), 6);
    // A text larger than the whole budget still goes through once nothing else is pending.
    budget.release(6);
    tokio::time::timeout(Duration::from_secs(5), budget.spend(100)).await.unwrap();
}

#[tokio::test]
async fn a_checkout_made_for_the_build_is_moved_whole_and_names_its_commit() {
    let mut setup = Setup::new(
        r#"
version: 0.2
phases:
  build:
    commands:
      - ls -A | sort | tr '\n' ' '; echo
      - echo "revision=$CODEBUILD_RESOLVED_SOURCE_VERSION"
"#,
    );
    setup.files.extend([(".gitignore", "target/\n"), ("tracked.txt", "t"), ("target/x", "x")]);
    setup.git = true;
    // Whatever the caller says it checked out is believed, and nothing is left out.
    setup.source_commit = Some("c0ffee".repeat(6) + "c0ff");
    let build = setup.run().await;
    let commit = "c0ffee".repeat(6) + "c0ff";
    assert_eq!(
        lines(&build.output),
        [".git .gitignore target tracked.txt ".to_owned(), format!("revision={commit}")]
    );
    assert_eq!(build.result.build.resolved_source_version, Some(commit));
}

#[test]
fn shell_nonces_are_random_hex_tokens() {
    let nonces: std::collections::BTreeSet<String> =
        (0..100).map(|_| super::shell::nonce()).collect();
    assert_eq!(nonces.len(), 100);
    for nonce in &nonces {
        assert_eq!(nonce.len(), 32, "{nonce}");
        assert!(nonce.bytes().all(|byte| byte.is_ascii_hexdigit()), "{nonce}");
    }
}
