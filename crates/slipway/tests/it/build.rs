//! `slipway build`: the contract of the issue, through the real binary; and builds on the
//! server acting as their project's service role.

use std::io::Read;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::server::{RunningServer, log, start, wait_for_build};
use crate::{Run, Sandbox, repository};

fn report(sandbox: &Sandbox) -> Value {
    serde_json::from_str(&std::fs::read_to_string(sandbox.path("report.json")).unwrap()).unwrap()
}

fn phase_statuses(report: &Value) -> Vec<String> {
    report["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|it| {
            format!(
                "{} {}",
                it["phaseType"].as_str().unwrap(),
                it["phaseStatus"].as_str().unwrap_or("-")
            )
        })
        .collect()
}

#[test]
fn the_readme_example_builds_and_reports_like_codebuild() {
    let sandbox = Sandbox::new();
    let example = repository().join("examples/hello");
    let run = Run::from(
        sandbox
            .slipway(&[
                "build",
                "--source",
                example.to_str().unwrap(),
                "--artifacts",
                "out",
                "--report",
                "report.json",
            ])
            .output()
            .unwrap(),
    );
    run.expect_code(0);
    assert!(run.stdout.contains("hello from "), "{}", run.stdout);
    assert!(!run.stdout.contains('\x1b'), "no colour in a pipe");
    assert!(run.stdout.contains("Build SUCCEEDED"));

    let report = report(&sandbox);
    assert_eq!(report["buildStatus"], "SUCCEEDED");
    assert_eq!(
        phase_statuses(&report),
        [
            "SUBMITTED SUCCEEDED",
            "QUEUED SUCCEEDED",
            "PROVISIONING SUCCEEDED",
            "DOWNLOAD_SOURCE SUCCEEDED",
            "INSTALL SUCCEEDED",
            "PRE_BUILD SUCCEEDED",
            "BUILD SUCCEEDED",
            "POST_BUILD SUCCEEDED",
            "UPLOAD_ARTIFACTS SUCCEEDED",
            "FINALIZING SUCCEEDED",
            "COMPLETED -",
        ]
    );
    let build_phase = &report["phases"][6];
    for key in ["startTime", "endTime", "durationInSeconds", "contexts"] {
        assert!(build_phase.get(key).is_some(), "phase without {key}: {build_phase}");
    }
    assert_eq!(
        report["exportedEnvironmentVariables"][0],
        serde_json::json!({"name": "VERSION", "value": "1.0.1"})
    );
    let summary = &report["reports"][0]["testSummary"];
    assert_eq!(report["reports"][0]["name"], "hello-unit-tests");
    assert_eq!(summary["total"], 2);
    assert_eq!(summary["statusCounts"]["SUCCEEDED"], 2);
    assert_eq!(summary["durationInNanoSeconds"], 3_000_000);

    // The artifact keeps the base directory's contents, with the executable bit.
    let zip = std::fs::File::open(sandbox.path("out/artifacts.zip")).unwrap();
    let mut zip = zip::ZipArchive::new(zip).unwrap();
    let mut entry = zip.by_name("app.sh").unwrap();
    assert_eq!(entry.unix_mode().unwrap() & 0o111, 0o111);
    let mut content = String::new();
    entry.read_to_string(&mut content).unwrap();
    assert!(content.contains("app version 1.0.1"));
}

#[test]
fn the_source_directory_is_never_changed() {
    let sandbox = Sandbox::new();
    sandbox.write("source/data.txt", "original\n").write(
        "source/buildspec.yml",
        "version: 0.2\nphases:\n  build:\n    commands:\n      - echo changed > data.txt\n      - rm buildspec.yml\n      - touch new-file\n",
    );
    sandbox.build(&[]).expect_code(0);
    assert_eq!(std::fs::read_to_string(sandbox.path("source/data.txt")).unwrap(), "original\n");
    assert!(sandbox.path("source/buildspec.yml").exists());
    assert!(!sandbox.path("source/new-file").exists());
}

#[test]
fn an_invalid_buildspec_runs_nothing_and_exits_2() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "source/buildspec.yml",
        "version: 0.2\nphases:\n  bulid:\n    commands: [touch ../../ran]\n  build:\n    on-failure: EXPLODE\n    commands:\n      - touch ../../ran\n",
    );
    let run = sandbox.build(&[]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("buildspec.yml:3:3: warning: unknown key `bulid` in `phases` (ignored); expected one of install, pre_build, build, post_build; did you mean `build`?"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("buildspec.yml:6:17: error: invalid `on-failure` value `EXPLODE`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("is invalid (1 error); nothing was run"), "{}", run.stderr);
    assert!(!run.stderr.contains("\x1b["), "no colour in a pipe: {}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(!sandbox.path("ran").exists());
}

/// As on the server (and in CodeBuild), a buildspec whose only phase is misspelt runs no
/// commands and succeeds, with the warning.
#[test]
fn a_buildspec_with_no_known_phase_runs_nothing_and_succeeds() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "source/buildspec.yml",
        "version: 0.2\nphases:\n  bulid:\n    commands: [touch ../../ran, exit 3]\n",
    );
    let run = sandbox.build(&[]);
    run.expect_code(0);
    assert!(run.stderr.contains("warning: unknown key `bulid` in `phases`"), "{}", run.stderr);
    assert!(run.stdout.contains("Build SUCCEEDED"), "{}", run.stdout);
    assert!(!run.stdout.contains("\x1b[") && !run.stderr.contains("\x1b["), "{run:?}");
    assert!(!sandbox.path("ran").exists());
}

/// `slipway build` in the source directory writes `./slipway-artifacts` there; the next
/// build's source must not hold the previous build's artifacts.
#[test]
fn the_default_artifacts_folder_is_not_copied_into_the_next_build() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "source/buildspec.yml",
        "version: 0.2\nphases:\n  build:\n    commands:\n      - ls slipway-artifacts 2>/dev/null || echo no-artifacts-folder\n      - echo ok > out.txt\nartifacts:\n  files: ['**/*']\n",
    );
    for round in 0..2 {
        let output = sandbox.slipway(&["build"]).current_dir(sandbox.path("source")).output();
        let run = Run::from(output.unwrap());
        run.expect_code(0);
        assert!(run.stdout.contains("\nno-artifacts-folder\n"), "round {round}: {}", run.stdout);
        assert!(!run.stdout.contains("\x1b["), "no colour in a pipe: {}", run.stdout);
    }
    let zip = std::fs::File::open(sandbox.path("source/slipway-artifacts/artifacts.zip")).unwrap();
    let zip = zip::ZipArchive::new(zip).unwrap();
    let names: Vec<String> = zip.file_names().map(|it| it.unwrap().into_owned()).collect();
    assert!(!names.iter().any(|it| it.starts_with("slipway-artifacts")), "{names:?}");
}

/// An agent's log to a pipe holds no ANSI codes, and an agent starting again removes the
/// workspace a killed one left behind.
#[test]
fn an_agent_removes_stale_workspaces_and_logs_without_colour() {
    use std::io::BufRead;
    let sandbox = Sandbox::new();
    sandbox.write("agent/work/job-killed/work/shell/variables", "declare -x TOKEN=secret\n");
    // Port 9 (discard) refuses: the agent keeps retrying until it is killed.
    let mut child = sandbox
        .slipway(&[
            "agent",
            "--server",
            "http://127.0.0.1:9",
            "--token",
            "t",
            "--work-dir",
            "agent",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            if lines_tx.send(line.unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    let line = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines_rx.recv_timeout(left) {
            Ok(line) if line.contains("left by an earlier agent") => break line,
            Ok(line) => seen.push(line),
            Err(_) => {
                let _ = child.kill();
                panic!("the agent never reported removing the workspace: {seen:?}");
            }
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.contains("removed 1 workspace left"), "{line}");
    assert!(!line.contains('\x1b') && !seen.iter().any(|it| it.contains('\x1b')), "{line}");
    assert!(!sandbox.path("agent/work/job-killed").exists());
}

#[test]
fn wrong_arguments_exit_2() {
    let sandbox = Sandbox::new();
    sandbox
        .write("source/buildspec.yml", "version: 0.2\nphases:\n  build:\n    commands: [echo]\n");
    sandbox.build(&["--env", "NOEQUALS"]).expect_code(2);
    sandbox.build(&["--env", "CODEBUILD_BUILD_ID=x"]).expect_code(2);
    sandbox.build(&["--timeout", "0"]).expect_code(2);
    sandbox.build(&["--secrets", "missing.json"]).expect_code(2);
    sandbox.build(&["--buildspec", "nope.yml"]).expect_code(2);
    sandbox.build(&["--no-such-flag"]).expect_code(2);
}

#[test]
fn a_failed_build_exits_1_and_still_reports() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "source/buildspec.yaml",
        "version: 0.2\nphases:\n  build:\n    commands: [exit 5]\n",
    );
    let run = sandbox.build(&["--report", "report.json"]);
    run.expect_code(1);
    assert!(run.stdout.contains("Phase context status code: COMMAND_EXECUTION_ERROR Message: Error while executing command: exit 5. Reason: exit status 5"));
    let report = report(&sandbox);
    assert_eq!(report["buildStatus"], "FAILED");
    assert_eq!(report["phases"][6]["contexts"][0]["statusCode"], "COMMAND_EXECUTION_ERROR");
}

#[test]
fn env_overrides_and_secrets_from_a_file() {
    let sandbox = Sandbox::new();
    sandbox
        .write(
            "source/buildspec.yml",
            r#"version: 0.2
env:
  variables:
    STAGE: dev
  parameter-store:
    DB_PASSWORD: /app/db-password
  secrets-manager:
    API_KEY: app/keys:api
phases:
  build:
    commands:
      - echo "stage=$STAGE password=$DB_PASSWORD key=$API_KEY"
"#,
        )
        .write(
            "secrets.yml",
            "/app/db-password: s3cr3t-pw\napp/keys: '{\"api\": \"key-12345\"}'\n",
        );
    let run = sandbox.build(&["--env", "STAGE=prod", "--secrets", "secrets.yml"]);
    run.expect_code(0);
    assert!(run.stdout.contains("stage=prod password=*** key=***"), "{}", run.stdout);
    assert!(!run.stdout.contains("s3cr3t-pw") && !run.stdout.contains("key-12345"));

    sandbox.write(
        "secrets.json",
        r#"{"/app/db-password": "from-json", "app/keys": {"api": "json-key"}}"#,
    );
    let run = sandbox.build(&["--secrets", "secrets.json"]);
    run.expect_code(0);
    assert!(run.stdout.contains("stage=dev password=*** key=***"), "{}", run.stdout);
}

#[test]
fn the_cache_survives_between_builds_with_hash_files_keys() {
    let sandbox = Sandbox::new();
    sandbox.write("source/package-lock.json", "{\"lockfileVersion\": 3}\n").write(
        "source/buildspec.yml",
        r#"version: 0.2
phases:
  install:
    commands:
      - '[ -d node_modules ] && echo "restored: $(cat node_modules/dep)" || echo "no cache"'
      - mkdir -p node_modules && echo "dep-1" > node_modules/dep
cache:
  key: npm-$(codebuild-hash-files package-lock.json)
  paths:
    - node_modules/**/*
"#,
    );
    let first = sandbox.build(&["--cache", "cache"]);
    first.expect_code(0);
    assert!(first.stdout.contains("no cache"), "{}", first.stdout);
    let second = sandbox.build(&["--cache", "cache"]);
    second.expect_code(0);
    assert!(second.stdout.contains("restored: dep-1"), "{}", second.stdout);
    assert!(second.stdout.contains("from cache key npm-"), "{}", second.stdout);
}

#[test]
fn a_timeout_ends_timed_out() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "source/buildspec.yml",
        "version: 0.2\nphases:\n  build:\n    commands:\n      - 'sleep 300 & echo $! > \"$MARKS/sleep.pid\"; wait'\n",
    );
    let marks = format!("MARKS={}", sandbox.dir.path().display());
    let run = sandbox.build(&["--timeout", "0.02", "--report", "report.json", "--env", &marks]);
    run.expect_code(1);
    // The build ended because of its timeout, not because the command finished: the report
    // says so, and the command's process is gone (it would sleep another five minutes).
    let report = report(&sandbox);
    assert_eq!(report["buildStatus"], "TIMED_OUT", "{report}");
    let pid = std::fs::read_to_string(sandbox.path("sleep.pid")).unwrap();
    let proc = format!("/proc/{}", pid.trim());
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::path::Path::new(&proc).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!std::path::Path::new(&proc).exists(), "the timed-out command outlived the build");
}

#[test]
fn ctrl_c_stops_the_build_and_everything_it_started() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "source/buildspec.yml",
        "version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 300 & echo $! > \"$MARKS/background.pid\"\n      - echo ready > \"$MARKS/ready\"; sleep 300\n",
    );
    let mut child = sandbox
        .slipway(&[
            "build",
            "--source",
            "source",
            "--report",
            "report.json",
            "--env",
            &format!("MARKS={}", sandbox.dir.path().display()),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !sandbox.path("ready").exists() {
        assert!(Instant::now() < deadline, "the build never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1));
    assert_eq!(report(&sandbox)["buildStatus"], "STOPPED");
    let pid = std::fs::read_to_string(sandbox.path("background.pid")).unwrap();
    let proc = format!("/proc/{}", pid.trim());
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::path::Path::new(&proc).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!std::path::Path::new(&proc).exists(), "the background process outlived the build");
}

#[test]
fn output_streams_live() {
    use std::io::BufRead;
    let sandbox = Sandbox::new();
    sandbox.write(
        "source/buildspec.yml",
        "version: 0.2\nphases:\n  build:\n    commands:\n      - echo first\n      - 'while [ ! -f \"$MARKS/go\" ]; do sleep 0.05; done; echo second'\n",
    );
    let marks = format!("MARKS={}", sandbox.dir.path().display());
    let mut child = sandbox
        .slipway(&["build", "--source", "source", "--timeout", "1", "--env", &marks])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    // The first command's output arrives while the second command still waits.
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push(line.clone());
        if line == "first" {
            break;
        }
    }
    assert_eq!(seen.last().map(String::as_str), Some("first"), "{seen:?}");
    assert!(!seen.iter().any(|it| it == "second"));
    sandbox.write("go", "");
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert!(rest.iter().any(|it| it == "second"), "{rest:?}");
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn colour_on_a_terminal() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "source/buildspec.yml",
        "version: 0.2\nphases:\n  build:\n    commands: [echo hi]\n",
    );
    // `script` gives the build a pseudo-terminal, as a person's shell would.
    let command = format!("{} build --source source", env!("CARGO_BIN_EXE_slipway"));
    let output = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(sandbox.dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("\x1b[32mBuild SUCCEEDED"), "{stdout}");
}

#[test]
fn sandboxed_local_builds_cannot_write_the_host() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "source/buildspec.yml",
        "version: 0.2\nphases:\n  build:\n    commands:\n      - touch /usr/slipway-local-e2e 2>/dev/null && echo host-writable || echo host-read-only\n      - echo ok > out.txt\nartifacts:\n  files: [out.txt]\n",
    );
    let run = sandbox.build(&["--sandbox"]);
    run.expect_code(0);
    assert!(run.stdout.contains("\nhost-read-only\n"), "{}", run.stdout);
    assert!(sandbox.path("slipway-artifacts/artifacts.zip").is_file());
}

/// The PROVISIONING phase of a build, as BatchGetBuilds shows it.
fn provisioning(build: &Value) -> &Value {
    let phases = build["phases"].as_array().unwrap();
    phases.iter().find(|it| it["phaseType"] == "PROVISIONING").unwrap()
}

#[test]
fn a_build_acts_as_its_service_role_and_may_read_only_what_it_allows() {
    let sandbox = Sandbox::new();
    let server = RunningServer::start(&sandbox.path("data"));
    let read_dev = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": "ssm:GetParameters",
            "Resource": "arn:aws:ssm:us-east-1:000000000000:parameter/dev/*"
        }]
    })
    .to_string();
    server.create_service_role("ci", &[], Some(&read_dev));
    for (name, value) in [("/dev/db", "dev-pass"), ("/prod/db", "prod-pass")] {
        let put =
            ["ssm", "put-parameter", "--name", name, "--value", value, "--type", "SecureString"];
        server.aws(&put).expect_code(0);
    }
    let buildspec = |parameters: &str| {
        format!(
            "version: 0.2\nenv:\n  parameter-store:\n{parameters}phases:\n  build:\n    commands:\n      - echo \"read $DEV\"\n"
        )
    };
    let source = |parameters: &str| {
        serde_json::json!({ "type": "NO_SOURCE", "buildspec": buildspec(parameters) }).to_string()
    };
    let role = ["--service-role", "arn:aws:iam::000000000000:role/ci"];
    server.create_project_with("dev", &source("    DEV: /dev/db\n"), &role);
    server.create_project_with("prod", &source("    DEV: /dev/db\n    PROD: /prod/db\n"), &role);

    // What the role allows is read (and masked).
    let id = start(&server, "dev", &[]);
    let build = wait_for_build(&server, &id);
    assert_eq!(build["buildStatus"], "SUCCEEDED", "{build}");
    assert!(log(&server, &id).contains("\nread ***\n"));

    // What it does not is refused, naming the parameter and the role, before any command runs.
    let id = start(&server, "prod", &[]);
    let build = wait_for_build(&server, &id);
    assert_eq!(build["buildStatus"], "FAULT", "{build}");
    let context = &provisioning(&build)["contexts"][0];
    let message = context["message"].as_str().unwrap();
    assert!(
        message.contains(
            "Role arn:aws:iam::000000000000:role/ci may not read parameter /prod/db (ssm:GetParameters)"
        ),
        "{build}"
    );
    let text = log(&server, &id);
    assert!(!text.contains("Running command"), "no command ran: {text}");

    // A role that does not exist allows nothing, and the message says so; a build without
    // parameters runs with it all the same.
    server.create_project_with("nobody", &source("    DEV: /dev/db\n"), &["--service-role", "any"]);
    let id = start(&server, "nobody", &[]);
    let build = wait_for_build(&server, &id);
    assert_eq!(build["buildStatus"], "FAULT", "{build}");
    let message = provisioning(&build)["contexts"][0]["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("Role arn:aws:iam::000000000000:role/any does not exist"),
        "{message}"
    );
    let plain = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo plain\n";
    let id = start(&server, "nobody", &["--buildspec-override", plain]);
    assert_eq!(wait_for_build(&server, &id)["buildStatus"], "SUCCEEDED");

    // Artifacts of type S3 need s3:PutObject on their object, which `ci` does not have.
    let packaged = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo out > out.txt\nartifacts:\n  files: [out.txt]\n";
    let source = serde_json::json!({ "type": "NO_SOURCE", "buildspec": packaged }).to_string();
    server.create_project_with(
        "s3",
        &source,
        &["--service-role", "ci", "--artifacts", "type=S3,location=bucket,path=out,name=app.zip"],
    );
    let id = start(&server, "s3", &[]);
    let build = wait_for_build(&server, &id);
    assert_eq!(build["buildStatus"], "FAULT", "{build}");
    let phases = build["phases"].as_array().unwrap();
    let upload = phases.iter().find(|it| it["phaseType"] == "UPLOAD_ARTIFACTS").unwrap();
    assert_eq!(
        upload["contexts"][0]["message"],
        "Role arn:aws:iam::000000000000:role/ci may not write object arn:aws:s3:::bucket/out/app.zip (s3:PutObject)",
        "{build}"
    );
}

#[test]
fn a_build_tokens_push_is_refused_when_its_role_does_not_allow_git_push() {
    let sandbox = Sandbox::new();
    let server = RunningServer::start(&sandbox.path("data"));
    server.json(&["codecommit", "create-repository", "--repository-name", "app"]);
    let work = sandbox.path("work");
    std::fs::create_dir_all(&work).unwrap();
    crate::support::git_ok(&work, &["init", "-q", "-b", "main"]);
    crate::support::commit(&work, "data.txt", "shared data\n", "data");
    let url = crate::support::push_url(&sandbox, &server, "app");
    crate::support::git_ok(&work, &["push", "-q", &url, "main"]);

    // The role may read repositories, not push to them.
    server.create_service_role("reader", &["AWSCodeCommitReadOnly"], None);
    let source = serde_json::json!({
        "type": "CODECOMMIT",
        "location": format!("{}/v1/repos/app", server.endpoint)
    })
    .to_string();
    server.create_project_with("app", &source, &["--service-role", "reader"]);
    let buildspec = "version: 0.2\nenv:\n  git-credential-helper: yes\nphases:\n  build:\n    commands:\n      - git clone -q \"$CODEBUILD_SOURCE_REPO_URL\" copy && cat copy/data.txt\n      - cd copy && git -c user.name=b -c user.email=b@example.com commit -q --allow-empty -m from-build && git push -q origin HEAD:from-build\n";
    let id = start(&server, "app", &["--buildspec-override", buildspec]);
    let build = wait_for_build(&server, &id);
    assert_eq!(build["buildStatus"], "FAILED", "{build}");
    let text = log(&server, &id);
    assert!(text.contains("\nshared data\n"), "the role may pull: {text}");
    let branches = server.json(&["codecommit", "list-branches", "--repository-name", "app"]);
    assert_eq!(branches["branches"], serde_json::json!(["main"]));
    // The refusal is in the audit trail, as AWS's message naming the role.
    let events = server.json(&[
        "cloudtrail",
        "lookup-events",
        "--lookup-attributes",
        "AttributeKey=EventName,AttributeValue=GitPush",
    ]);
    let (summary, refused) = events["Events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|it| (it, it["CloudTrailEvent"].as_str().unwrap_or_default().to_owned()))
        .find(|(_, it)| it.contains("AccessDenied"))
        .unwrap_or_else(|| panic!("no refused GitPush in {events}"));
    // By the role's CodeBuild session, as CloudTrail writes a build's calls.
    let uuid = id.rsplit_once(':').unwrap().1;
    let session = format!("AWSCodeBuild-{uuid}");
    assert_eq!(summary["Username"], session.as_str(), "{summary}");
    let record: serde_json::Value = serde_json::from_str(&refused).unwrap();
    let identity = &record["userIdentity"];
    assert_eq!(identity["type"], "AssumedRole", "{identity}");
    let arn = format!("arn:aws:sts::000000000000:assumed-role/reader/{session}");
    assert_eq!(identity["arn"], arn.as_str(), "{identity}");
    assert!(identity["principalId"].as_str().unwrap().starts_with("AROA"), "{identity}");
    let issuer = &identity["sessionContext"]["sessionIssuer"];
    assert_eq!(issuer["arn"], "arn:aws:iam::000000000000:role/reader", "{identity}");
    assert!(
        refused.contains(
            "arn:aws:iam::000000000000:role/reader is not authorized to perform: codecommit:GitPush"
        ),
        "{refused}"
    );
}
