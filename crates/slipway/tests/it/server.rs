//! `slipway server` driven by the real `aws` CLI: credentials, signatures, CodeBuild projects.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::wait_for_phase;
use crate::{Run, Sandbox};

/// The flag that runs the embedded agent's builds outside bubblewrap, for tests whose builds
/// exchange files with the test.
pub(crate) const UNSANDBOXED: &str = "--unsandboxed-local-builds-can-read-server-secrets";

/// A running `slipway server` on a free loopback port.
pub(crate) struct RunningServer {
    pub(crate) child: Child,
    pub(crate) endpoint: String,
    pub(crate) data_dir: PathBuf,
    /// The server's standard error, printed when the test fails.
    pub(crate) stderr: tempfile::NamedTempFile,
    /// Where git over SSH listens (`127.0.0.1:PORT`), with `--ssh-listen`.
    pub(crate) ssh: Option<String>,
}

impl RunningServer {
    pub(crate) fn start(data_dir: &Path) -> RunningServer {
        RunningServer::start_with(data_dir, "127.0.0.1:0", &[])
    }

    pub(crate) fn start_with(data_dir: &Path, listen: &str, args: &[&str]) -> RunningServer {
        let mut command = Command::new(env!("CARGO_BIN_EXE_slipway"));
        command
            .args(["server", "--listen", listen])
            .args(args)
            .arg("--data-dir")
            .arg(data_dir)
            .env_remove("SLIPWAY_DATABASE_URL")
            .env_remove("SLIPWAY_BLOB_URL")
            .env_remove("SLIPWAY_MASTER_KEY_FILE");
        RunningServer::spawn(command, data_dir)
    }

    /// Starts `command` (a `slipway server …`) and waits until it says where it listens; its
    /// standard error goes to a file that is printed if the test fails.
    pub(crate) fn spawn(mut command: Command, data_dir: &Path) -> RunningServer {
        let stderr = tempfile::NamedTempFile::new().unwrap();
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr.reopen().unwrap())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let Some(Ok(first)) = lines.next() else {
            let _ = child.wait();
            panic!(
                "the server did not say where it listens; its stderr:\n{}",
                std::fs::read_to_string(stderr.path()).unwrap_or_default()
            );
        };
        let endpoint = first.strip_prefix("Slipway is listening on ").expect(&first).to_owned();
        // The next line says where git over SSH listens, when it does (another line follows
        // in any case).
        let second = lines.next().and_then(Result::ok).unwrap_or_default();
        let ssh = second
            .strip_prefix("Git over SSH is listening on ssh://")
            .and_then(|rest| rest.split(' ').next())
            .map(str::to_owned);
        // Keep reading its output so that it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        RunningServer { child, endpoint, data_dir: data_dir.to_owned(), stderr, ssh }
    }

    pub(crate) fn credentials(&self) -> PathBuf {
        self.data_dir.join("admin-credentials")
    }

    /// `aws <args> --endpoint-url … --region us-east-1` with the admin's credentials file.
    pub(crate) fn aws(&self, args: &[&str]) -> Run {
        self.aws_with(&self.credentials(), args)
    }

    pub(crate) fn aws_with(&self, credentials: &Path, args: &[&str]) -> Run {
        self.aws_in_region("us-east-1", credentials, args)
    }

    /// `aws <args>` signed for `region`.
    pub(crate) fn aws_in_region(&self, region: &str, credentials: &Path, args: &[&str]) -> Run {
        self.aws_configured(region, credentials, Path::new("/dev/null"), args)
    }

    /// `aws <args>` signed for `region`, with `config` as the CLI's config file.
    pub(crate) fn aws_configured(
        &self,
        region: &str,
        credentials: &Path,
        config: &Path,
        args: &[&str],
    ) -> Run {
        let output = Command::new("aws")
            .args(args)
            .args(["--endpoint-url", &self.endpoint, "--region", region, "--output", "json"])
            .env("AWS_SHARED_CREDENTIALS_FILE", credentials)
            .env("AWS_CONFIG_FILE", config)
            .env("AWS_PAGER", "")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE")
            .stdin(Stdio::null())
            .output()
            .expect("the aws CLI is installed (cargo xtask test installs it)");
        Run::from(output)
    }

    pub(crate) fn json(&self, args: &[&str]) -> Value {
        let run = self.aws(args);
        run.expect_code(0);
        serde_json::from_str(&run.stdout).unwrap_or_else(|err| panic!("{err}: {}", run.stdout))
    }

    /// `aws codebuild create-project` with a local image, no artifacts and `extra`,
    /// expected to succeed.
    pub(crate) fn create_project_with(&self, name: &str, source: &str, extra: &[&str]) {
        let mut args = vec![
            "codebuild",
            "create-project",
            "--name",
            name,
            "--source",
            source,
            "--artifacts",
            "type=NO_ARTIFACTS",
            "--environment",
            "type=LINUX_CONTAINER,image=local,computeType=BUILD_GENERAL1_SMALL",
            "--service-role",
            "r",
        ];
        args.extend_from_slice(extra);
        self.aws(&args).expect_code(0);
    }

    /// `aws iam create-role` of `name`, trusting CodeBuild (so that builds may act as it), and
    /// `aws iam attach-role-policy` of each AWS-managed policy in `managed` (by name), and
    /// `aws iam put-role-policy` of `inline` (a document) when given.
    pub(crate) fn create_service_role(&self, name: &str, managed: &[&str], inline: Option<&str>) {
        self.aws(&[
            "iam",
            "create-role",
            "--role-name",
            name,
            "--assume-role-policy-document",
            CODEBUILD_TRUST,
        ])
        .expect_code(0);
        for policy in managed {
            let arn = format!("arn:aws:iam::aws:policy/{policy}");
            self.aws(&["iam", "attach-role-policy", "--role-name", name, "--policy-arn", &arn])
                .expect_code(0);
        }
        if let Some(document) = inline {
            self.aws(&[
                "iam",
                "put-role-policy",
                "--role-name",
                name,
                "--policy-name",
                "inline",
                "--policy-document",
                document,
            ])
            .expect_code(0);
        }
    }

    /// [`RunningServer::create_project_with`] with nothing extra.
    pub(crate) fn create_project(&self, name: &str, source: &str) {
        self.create_project_with(name, source, &[]);
    }

    pub(crate) fn stop(mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "the server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let text = std::fs::read_to_string(self.stderr.path()).unwrap_or_default();
            eprintln!("--- stderr of the server at {} ---\n{text}--- end ---", self.endpoint);
        }
    }
}

fn http_get(endpoint: &str, path: &str) -> String {
    let address = endpoint.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// The trust policy of a role CodeBuild may assume (a project's service role).
pub(crate) const CODEBUILD_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"codebuild.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

const BUILDSPEC: &str = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo hello\n";

fn create_project(server: &RunningServer, name: &str) -> Run {
    let source = json!({ "type": "NO_SOURCE", "buildspec": BUILDSPEC }).to_string();
    server.aws(&[
        "codebuild",
        "create-project",
        "--name",
        name,
        "--source",
        &source,
        "--artifacts",
        "type=NO_ARTIFACTS",
        "--environment",
        "type=LINUX_CONTAINER,image=aws/codebuild/standard:7.0,computeType=BUILD_GENERAL1_SMALL",
        "--service-role",
        "arn:aws:iam::000000000000:role/build",
    ])
}

#[test]
fn the_aws_cli_manages_codebuild_projects() {
    let sandbox = Sandbox::new();
    let server = RunningServer::start(&sandbox.path("data"));
    assert!(http_get(&server.endpoint, "/healthz").starts_with("HTTP/1.1 200"));

    // The credentials file works as it is, and is private.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(server.credentials()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(server.json(&["codebuild", "list-projects"]), json!({ "projects": [] }));

    let created: Value =
        serde_json::from_str(&create_project(&server, "web").expect_code(0).stdout).unwrap();
    let project = &created["project"];
    assert_eq!(project["name"], "web");
    assert_eq!(project["arn"], "arn:aws:codebuild:us-east-1:000000000000:project/web");
    assert_eq!(project["timeoutInMinutes"], 60);
    assert_eq!(project["source"]["buildspec"], BUILDSPEC);
    create_project(&server, "api").expect_code(0);

    let duplicate = create_project(&server, "web");
    duplicate.expect_code(255);
    assert!(
        duplicate.stderr.contains("An error occurred (ResourceAlreadyExistsException) when calling the CreateProject operation: Project already exists: arn:aws:codebuild:us-east-1:000000000000:project/web"),
        "{}",
        duplicate.stderr
    );
    let bad_name = create_project(&server, "bad.name");
    assert!(bad_name.stderr.contains("(InvalidInputException)"), "{}", bad_name.stderr);

    assert_eq!(server.json(&["codebuild", "list-projects"]), json!({ "projects": ["api", "web"] }));
    assert_eq!(
        server.json(&[
            "codebuild",
            "list-projects",
            "--sort-by",
            "CREATED_TIME",
            "--sort-order",
            "DESCENDING"
        ]),
        json!({ "projects": ["api", "web"] })
    );
    let got = server.json(&["codebuild", "batch-get-projects", "--names", "web", "missing"]);
    assert_eq!(got["projects"][0]["name"], "web");
    assert_eq!(got["projectsNotFound"], json!(["missing"]));

    let updated = server.json(&[
        "codebuild",
        "update-project",
        "--name",
        "web",
        "--timeout-in-minutes",
        "30",
        "--description",
        "the site",
    ]);
    assert_eq!(updated["project"]["timeoutInMinutes"], 30);
    assert_eq!(updated["project"]["description"], "the site");
    assert_eq!(updated["project"]["source"]["type"], "NO_SOURCE");
    let missing =
        server.aws(&["codebuild", "update-project", "--name", "nope", "--description", "x"]);
    assert!(missing.stderr.contains("(ResourceNotFoundException)"), "{}", missing.stderr);

    server.aws(&["codebuild", "delete-project", "--name", "api"]).expect_code(0);
    assert_eq!(server.json(&["codebuild", "list-projects"]), json!({ "projects": ["web"] }));

    // A restart keeps everything, and creates no second admin.
    let credentials = std::fs::read_to_string(server.credentials()).unwrap();
    assert_eq!(server.stop(), Some(0));
    let server = RunningServer::start(&sandbox.path("data"));
    assert_eq!(std::fs::read_to_string(server.credentials()).unwrap(), credentials);
    assert_eq!(server.json(&["codebuild", "list-projects"]), json!({ "projects": ["web"] }));
}

#[test]
fn bad_signatures_unknown_keys_and_revoked_keys_are_refused() {
    let sandbox = Sandbox::new();
    let server = RunningServer::start(&sandbox.path("data"));
    let data = server.data_dir.to_str().unwrap().to_owned();

    let wrong_secret = sandbox.path("wrong");
    let good = std::fs::read_to_string(server.credentials()).unwrap();
    let key_line = good.lines().find(|it| it.starts_with("aws_access_key_id")).unwrap();
    std::fs::write(&wrong_secret, format!("[default]\n{key_line}\naws_secret_access_key = AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n")).unwrap();
    let run = server.aws_with(&wrong_secret, &["codebuild", "list-projects"]);
    run.expect_code(255);
    assert!(run.stderr.contains("(InvalidSignatureException)"), "{}", run.stderr);
    // Nothing happened: a refused CreateProject creates nothing.
    let source = json!({ "type": "NO_SOURCE", "buildspec": BUILDSPEC }).to_string();
    server
        .aws_with(
            &wrong_secret,
            &[
                "codebuild",
                "create-project",
                "--name",
                "sneaky",
                "--source",
                &source,
                "--artifacts",
                "type=NO_ARTIFACTS",
                "--environment",
                "type=LINUX_CONTAINER,image=i,computeType=BUILD_GENERAL1_SMALL",
                "--service-role",
                "r",
            ],
        )
        .expect_code(255);
    assert_eq!(server.json(&["codebuild", "list-projects"]), json!({ "projects": [] }));

    let unknown = sandbox.path("unknown");
    std::fs::write(
        &unknown,
        "[default]\naws_access_key_id = AKIAUNKNOWNUNKNOWN00\naws_secret_access_key = x\n",
    )
    .unwrap();
    let run = server.aws_with(&unknown, &["codebuild", "list-projects"]);
    assert!(run.stderr.contains("(UnrecognizedClientException)"), "{}", run.stderr);

    let unsigned = server.aws(&["codebuild", "list-projects", "--no-sign-request"]);
    assert!(
        unsigned.stderr.contains("(MissingAuthenticationTokenException)"),
        "{}",
        unsigned.stderr
    );

    // A second user's key works until it is revoked; the commands work beside a running server.
    Run::from(sandbox.slipway(&["user", "create", "ci", "--data-dir", &data]).output().unwrap())
        .expect_code(0);
    let attach = ["user", "attach-policy", "ci", "AdministratorAccess", "--data-dir", &data];
    Run::from(sandbox.slipway(&attach).output().unwrap()).expect_code(0);
    let created = Run::from(
        sandbox
            .slipway(&["access-key", "create", "--user", "ci", "--data-dir", &data])
            .output()
            .unwrap(),
    );
    created.expect_code(0);
    let ci = sandbox.path("ci-credentials");
    std::fs::write(&ci, &created.stdout).unwrap();
    server.aws_with(&ci, &["codebuild", "list-projects"]).expect_code(0);
    let key_id = created
        .stdout
        .lines()
        .find_map(|it| it.strip_prefix("aws_access_key_id = "))
        .unwrap()
        .to_owned();
    Run::from(
        sandbox.slipway(&["access-key", "revoke", &key_id, "--data-dir", &data]).output().unwrap(),
    )
    .expect_code(0);
    // The server trusts a key it read for up to a second (`iam::identity::KEY_CACHE_MS`)
    // when the change comes from another process: the refusal comes within that.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let revoked = server.aws_with(&ci, &["codebuild", "list-projects"]);
        if revoked.stderr.contains("(UnrecognizedClientException)") {
            break;
        }
        assert!(Instant::now() < deadline, "still accepted: {}", revoked.stdout);
    }
    let no_user = Run::from(
        sandbox
            .slipway(&["access-key", "create", "--user", "nobody", "--data-dir", &data])
            .output()
            .unwrap(),
    );
    no_user.expect_code(2);
}

/// Polls BatchGetBuilds until the build completes (bounded).
pub(crate) fn wait_for_build(server: &RunningServer, id: &str) -> Value {
    wait_for_build_within(server, id, Duration::from_secs(60))
}

/// [`wait_for_build`] for builds that take long by design.
fn wait_for_build_within(server: &RunningServer, id: &str, bound: Duration) -> Value {
    let deadline = Instant::now() + bound;
    loop {
        let builds = server.json(&["codebuild", "batch-get-builds", "--ids", id]);
        let build = builds["builds"][0].clone();
        if build["buildComplete"] == true {
            return build;
        }
        assert!(Instant::now() < deadline, "the build did not finish: {build}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(crate) fn start(server: &RunningServer, project: &str, extra: &[&str]) -> String {
    let mut args = vec!["codebuild", "start-build", "--project-name", project];
    args.extend_from_slice(extra);
    let started = server.json(&args);
    assert_eq!(started["build"]["buildStatus"], "IN_PROGRESS", "{started}");
    started["build"]["id"].as_str().unwrap().to_owned()
}

/// The build's whole log, with the admin's key as HTTP Basic credentials.
pub(crate) fn log(server: &RunningServer, id: &str) -> String {
    let credentials = std::fs::read_to_string(server.credentials()).unwrap();
    let field = |name: &str| {
        credentials
            .lines()
            .find_map(|it| it.strip_prefix(&format!("{name} = ")))
            .unwrap()
            .to_owned()
    };
    let basic =
        base64(&format!("{}:{}", field("aws_access_key_id"), field("aws_secret_access_key")));
    let address = server.endpoint.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    write!(stream, "GET /v1/builds/{id}/log HTTP/1.1\r\nHost: {address}\r\nAuthorization: Basic {basic}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}

fn base64(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn builds_run_on_the_embedded_agent() {
    let sandbox = Sandbox::new();
    let server = RunningServer::start(&sandbox.path("data"));
    let buildspec = r#"version: 0.2
env:
  parameter-store:
    DB_PASSWORD: /app/db-password
  exported-variables: [VERSION]
phases:
  build:
    commands:
      - echo "building $GREETING with $DB_PASSWORD"
      - VERSION=2.$CODEBUILD_BUILD_NUMBER
      - mkdir -p reports && printf '<testsuite name="s"><testcase classname="c" name="ok" time="0.1"/><testcase classname="c" name="bad"><failure message="boom"/></testcase></testsuite>' > reports/junit.xml
reports:
  unit:
    files: [reports/junit.xml]
"#;
    let source = json!({ "type": "NO_SOURCE", "buildspec": buildspec }).to_string();
    // The build acts as its service role, which must be allowed to read the parameter.
    server.create_service_role("r", &["AmazonSSMReadOnlyAccess"], None);
    server
        .aws(&["codebuild", "create-project", "--name", "app", "--source", &source, "--artifacts", "type=NO_ARTIFACTS",
            "--environment", "type=LINUX_CONTAINER,image=local,computeType=BUILD_GENERAL1_SMALL,environmentVariables=[{name=GREETING,value=hello}]",
            "--service-role", "r"])
        .expect_code(0);
    server
        .aws(&[
            "ssm",
            "put-parameter",
            "--name",
            "/app/db-password",
            "--value",
            "hunter22",
            "--type",
            "SecureString",
        ])
        .expect_code(0);

    let id = start(&server, "app", &[]);
    assert!(id.starts_with("app:"));
    let build = wait_for_build(&server, &id);
    assert_eq!(build["buildStatus"], "SUCCEEDED", "{build}");
    assert_eq!(build["buildNumber"], 1);
    let phases: Vec<&str> = build["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|it| it["phaseType"].as_str().unwrap())
        .collect();
    assert_eq!(
        phases,
        [
            "SUBMITTED",
            "QUEUED",
            "PROVISIONING",
            "DOWNLOAD_SOURCE",
            "INSTALL",
            "PRE_BUILD",
            "BUILD",
            "POST_BUILD",
            "UPLOAD_ARTIFACTS",
            "FINALIZING",
            "COMPLETED"
        ]
    );
    assert_eq!(
        build["exportedEnvironmentVariables"],
        json!([{ "name": "VERSION", "value": "2.1" }])
    );
    assert_eq!(build["initiator"], "admin");
    assert_eq!(build["logs"]["deepLink"], format!("{}/v1/builds/{id}/log", server.endpoint));

    let text = log(&server, &id);
    assert!(
        text.contains("Running command echo \"building $GREETING with $DB_PASSWORD\""),
        "{text}"
    );
    assert!(text.contains("building hello with ***"), "{text}");
    assert!(!text.contains("hunter22"));

    // The test report and its cases.
    let report_arn = build["reportArns"][0].as_str().unwrap().to_owned();
    let reports = server.json(&["codebuild", "batch-get-reports", "--report-arns", &report_arn]);
    assert_eq!(reports["reports"][0]["status"], "FAILED");
    assert_eq!(reports["reports"][0]["testSummary"]["total"], 2);
    let failed = server.json(&[
        "codebuild",
        "describe-test-cases",
        "--report-arn",
        &report_arn,
        "--filter",
        "status=FAILED",
    ]);
    assert_eq!(failed["testCases"][0]["name"], "bad");
    assert_eq!(failed["testCases"][0]["message"], "boom");
    let groups = server.json(&["codebuild", "list-report-groups"]);
    assert_eq!(
        groups["reportGroups"],
        json!(["arn:aws:codebuild:us-east-1:000000000000:report-group/app-unit"])
    );

    // Overrides, numbering and listing.
    let second = start(
        &server,
        "app",
        &["--environment-variables-override", "name=GREETING,value=override,type=PLAINTEXT"],
    );
    let build = wait_for_build(&server, &second);
    assert_eq!(build["buildNumber"], 2);
    assert!(log(&server, &second).contains("building override with ***"));
    assert_eq!(
        server.json(&["codebuild", "list-builds-for-project", "--project-name", "app"])["ids"],
        json!([second, id])
    );
    assert_eq!(
        server.json(&["codebuild", "list-builds", "--sort-order", "ASCENDING"])["ids"],
        json!([id, second])
    );
}

#[test]
fn stopping_failing_and_bad_buildspecs() {
    let sandbox = Sandbox::new();
    let server = RunningServer::start(&sandbox.path("data"));
    let source = json!({ "type": "NO_SOURCE", "buildspec": "version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 300\n" }).to_string();
    server.create_project("slow", &source);
    let id = start(&server, "slow", &[]);
    // Wait until it runs, then stop it: it ends STOPPED long before `sleep 300` would end
    // (wait_for_build gives up after a minute), however busy the machine.
    wait_for_phase(&server, &id, "BUILD");
    server.aws(&["codebuild", "stop-build", "--id", &id]).expect_code(0);
    let build = wait_for_build(&server, &id);
    assert_eq!(build["buildStatus"], "STOPPED");

    let bad = server.json(&[
        "codebuild",
        "start-build",
        "--project-name",
        "slow",
        "--buildspec-override",
        "version: 0.2\nphases:\n  build:\n    on-failure: EXPLODE\n    commands: [x]\n",
    ]);
    let build = &bad["build"];
    assert_eq!(build["buildStatus"], "FAILED");
    let download = build["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|it| it["phaseType"] == "DOWNLOAD_SOURCE")
        .unwrap();
    assert_eq!(download["contexts"][0]["statusCode"], "YAML_FILE_ERROR");
    assert!(
        download["contexts"][0]["message"]
            .as_str()
            .unwrap()
            .contains("invalid `on-failure` value `EXPLODE`")
    );
    // The buildspec's error is in the build's log, which is not empty.
    let bad_log = log(&server, build["id"].as_str().unwrap());
    assert!(bad_log.contains("invalid `on-failure` value `EXPLODE`"), "{bad_log}");
    assert!(bad_log.contains("Phase complete: DOWNLOAD_SOURCE State: FAILED"), "{bad_log}");

    let failing = start(
        &server,
        "slow",
        &[
            "--buildspec-override",
            "version: 0.2\nphases:\n  build:\n    commands: [exit 3]\n  bulid:\n    commands: [x]\n",
        ],
    );
    let build = wait_for_build(&server, &failing);
    assert_eq!(build["buildStatus"], "FAILED");
    // Its warnings open the log, before the agent's first line.
    let failing_log = log(&server, &failing);
    let first = failing_log.lines().find(|it| it.starts_with("[Container]")).unwrap_or_default();
    assert!(first.contains("unknown key `bulid`"), "{failing_log}");
    // A buildspec whose only phase is misspelt runs no commands and succeeds, as it does
    // with `slipway build` (and in CodeBuild): the parser only warns about it.
    let misspelt = start(
        &server,
        "slow",
        &["--buildspec-override", "version: 0.2\nphases:\n  bulid:\n    commands: [exit 3]\n"],
    );
    let build = wait_for_build(&server, &misspelt);
    assert_eq!(build["buildStatus"], "SUCCEEDED", "{build}");
    let missing = server.aws(&["codebuild", "start-build", "--project-name", "nope"]);
    assert!(missing.stderr.contains("(ResourceNotFoundException)"), "{}", missing.stderr);
    let deleted =
        server.json(&["codebuild", "batch-delete-builds", "--ids", &failing, "missing:1"]);
    assert_eq!(deleted["buildsDeleted"], json!([failing]));
    assert_eq!(deleted["buildsNotDeleted"][0]["statusCode"], "BUILD_NOT_FOUND");
}

/// Waits (bounded) until `path` exists.
fn wait_for_file(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !path.exists() {
        assert!(Instant::now() < deadline, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn remote_agents_survive_a_server_crash_and_lost_agents_fault_their_builds() {
    let sandbox = Sandbox::new();
    let data = sandbox.path("data");
    let server = RunningServer::start_with(&data, "127.0.0.1:0", &["--no-local-agent"]);
    let marks = sandbox.path("marks");
    std::fs::create_dir_all(&marks).unwrap();
    let buildspec = format!(
        "version: 0.2\nphases:\n  build:\n    commands:\n      - echo $$ > {0}/shell-$CODEBUILD_BUILD_NUMBER; touch {0}/started-$CODEBUILD_BUILD_NUMBER\n      - while [ ! -f {0}/go-$CODEBUILD_BUILD_NUMBER ]; do sleep 0.1; done; echo finished\n",
        marks.display()
    );
    let source = json!({ "type": "NO_SOURCE", "buildspec": buildspec }).to_string();
    server.create_project("remote", &source);

    // Without an agent the build waits, and says why.
    let first = start(&server, "remote", &[]);
    let queued = server.json(&["codebuild", "batch-get-builds", "--ids", &first]);
    let build = &queued["builds"][0];
    assert_eq!(build["currentPhase"], "QUEUED");
    let why = build["phases"].as_array().unwrap().last().unwrap()["contexts"][0]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(why.starts_with("No agent is connected"), "{why}");

    let token = Run::from(
        sandbox
            .slipway(&["agent-token", "create", "remote", "--data-dir", data.to_str().unwrap()])
            .output()
            .unwrap(),
    );
    token.expect_code(0);
    let start_agent = |endpoint: &str, n: u32| {
        Agent(
            Command::new(env!("CARGO_BIN_EXE_slipway"))
                .args(["agent", "--server", endpoint, "--token", token.stdout.trim(), "--work-dir"])
                .arg(sandbox.path(&format!("agent-{n}")))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    };
    let mut agent = start_agent(&server.endpoint, 1);
    wait_for_file(&marks.join("started-1"));

    // The server dies (SIGKILL) while the build runs; it comes back on the same port, and the
    // agent, which kept the build running, reports it to the end.
    let endpoint = server.endpoint.clone();
    let listen = endpoint.trim_start_matches("http://").to_owned();
    let mut server = server;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(server);
    let server = RunningServer::start_with(&data, &listen, &["--no-local-agent"]);
    std::fs::write(marks.join("go-1"), "").unwrap();
    let build = wait_for_build(&server, &first);
    assert_eq!(build["buildStatus"], "SUCCEEDED", "{build}");
    assert!(log(&server, &first).contains("\nfinished\n"));

    // The agent dies (SIGKILL) while a build runs: its lease expires and the build ends FAULT.
    let second = start(&server, "remote", &[]);
    wait_for_file(&marks.join("started-2"));
    wait_for_phase(&server, &second, "BUILD");
    agent.0.kill().unwrap();
    agent.0.wait().unwrap();
    // The build's shell does not outlive its agent: its watchdog kills the process group.
    let shell = std::fs::read_to_string(marks.join("shell-2")).unwrap();
    let proc = std::path::PathBuf::from(format!("/proc/{}", shell.trim()));
    let deadline = Instant::now() + Duration::from_secs(10);
    while proc.exists() {
        assert!(Instant::now() < deadline, "the build outlived its agent");
        std::thread::sleep(Duration::from_millis(100));
    }
    let build = wait_for_build(&server, &second);
    assert_eq!(build["buildStatus"], "FAULT", "{build}");
    let build_phase =
        build["phases"].as_array().unwrap().iter().find(|it| it["phaseType"] == "BUILD").unwrap();
    assert_eq!(build_phase["contexts"][0]["statusCode"], "AGENT_LOST");

    // With `autoRetryLimit`, a lost agent's build goes back to the queue and another agent
    // runs it to the end.
    server
        .aws(&["codebuild", "update-project", "--name", "remote", "--auto-retry-limit", "1"])
        .expect_code(0);
    let mut agent = start_agent(&server.endpoint, 2);
    let third = start(&server, "remote", &[]);
    wait_for_file(&marks.join("started-3"));
    wait_for_phase(&server, &third, "BUILD");
    agent.0.kill().unwrap();
    agent.0.wait().unwrap();
    std::fs::write(marks.join("go-3"), "").unwrap();
    let mut agent = start_agent(&server.endpoint, 3);
    let build = wait_for_build(&server, &third);
    assert_eq!(build["buildStatus"], "SUCCEEDED", "{build}");
    assert_eq!(build["autoRetryConfig"]["autoRetryNumber"], 1, "{build}");
    agent.0.kill().unwrap();
    agent.0.wait().unwrap();
}

#[test]
fn a_project_tagged_for_the_sandbox_builds_inside_bubblewrap() {
    let sandbox = Sandbox::new();
    let server = RunningServer::start(&sandbox.path("data"));
    let buildspec = "version: 0.2\nphases:\n  build:\n    commands:\n      - touch /usr/slipway-e2e 2>/dev/null && echo host-writable || echo host-read-only\n";
    let source = json!({ "type": "NO_SOURCE", "buildspec": buildspec }).to_string();
    server.create_project_with(
        "boxed",
        &source,
        &["--tags", "key=slipway:sandbox,value=bubblewrap"],
    );
    let id = start(&server, "boxed", &[]);
    assert_eq!(wait_for_build(&server, &id)["buildStatus"], "SUCCEEDED");
    let text = log(&server, &id);
    assert!(text.contains("\nhost-read-only\n"), "{text}");
}

#[test]
fn the_live_log_streams_as_the_build_prints() {
    let sandbox = Sandbox::new();
    // The build waits for a file the test writes, which the sandbox would hide.
    let server = RunningServer::start_with(&sandbox.path("data"), "127.0.0.1:0", &[UNSANDBOXED]);
    let marks = sandbox.path("marks");
    std::fs::create_dir_all(&marks).unwrap();
    let buildspec = format!(
        "version: 0.2\nphases:\n  build:\n    commands:\n      - echo first-line\n      - 'while [ ! -f {0}/go ]; do sleep 0.05; done; echo second-line'\n",
        marks.display()
    );
    let source = json!({ "type": "NO_SOURCE", "buildspec": buildspec }).to_string();
    server.create_project("live", &source);
    let id = start(&server, "live", &[]);

    let credentials = std::fs::read_to_string(server.credentials()).unwrap();
    let field = |name: &str| {
        credentials
            .lines()
            .find_map(|it| it.strip_prefix(&format!("{name} = ")))
            .unwrap()
            .to_owned()
    };
    let basic =
        base64(&format!("{}:{}", field("aws_access_key_id"), field("aws_secret_access_key")));
    let address = server.endpoint.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(stream, "GET /v1/builds/{id}/log/live HTTP/1.1\r\nHost: {address}\r\nAuthorization: Basic {basic}\r\nConnection: close\r\n\r\n").unwrap();
    let mut reader = BufReader::new(stream);
    let mut seen = String::new();
    // The first line arrives while the build still waits for the second.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !seen.contains("data: first-line") {
        assert!(Instant::now() < deadline, "{seen}");
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "the stream ended early: {seen}");
        seen.push_str(&line);
    }
    assert!(!seen.contains("second-line"));
    // Browsers must take the log as the text it is, never sniff it into HTML.
    assert!(
        seen.to_ascii_lowercase().contains("\r\nx-content-type-options: nosniff\r\n"),
        "{seen}"
    );
    std::fs::write(marks.join("go"), "").unwrap();
    let mut rest = String::new();
    reader.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("data: second-line"), "{rest}");
    assert!(rest.contains("event: end\ndata: SUCCEEDED"), "{rest}");
    let mut stream = TcpStream::connect(&address).unwrap();
    write!(stream, "GET /v1/builds/{id}/log HTTP/1.1\r\nHost: {address}\r\nAuthorization: Basic {basic}\r\nConnection: close\r\n\r\n").unwrap();
    let mut download = String::new();
    stream.read_to_string(&mut download).unwrap();
    assert!(download.starts_with("HTTP/1.1 200"), "{download}");
    assert!(
        download.to_ascii_lowercase().contains("\r\nx-content-type-options: nosniff\r\n"),
        "{download}"
    );
    assert!(download.contains("second-line"), "{download}");

    // Without credentials, nothing.
    assert!(
        http_get(&server.endpoint, &format!("/v1/builds/{id}/log")).starts_with("HTTP/1.1 401")
    );
}

#[test]
fn a_server_crash_with_the_embedded_agent_ends_its_builds_fault() {
    let sandbox = Sandbox::new();
    let data = sandbox.path("data");
    // The build writes a file the test waits for, which the sandbox would hide.
    let server = RunningServer::start_with(&data, "127.0.0.1:0", &[UNSANDBOXED]);
    let marks = sandbox.path("marks");
    std::fs::create_dir_all(&marks).unwrap();
    let buildspec = format!(
        "version: 0.2\nphases:\n  build:\n    commands:\n      - touch {0}/started; sleep 300\n",
        marks.display()
    );
    let source = json!({ "type": "NO_SOURCE", "buildspec": buildspec }).to_string();
    server.create_project("crash", &source);
    let id = start(&server, "crash", &[]);
    wait_for_file(&marks.join("started"));
    let listen = server.endpoint.trim_start_matches("http://").to_owned();
    let mut server = server;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(server);
    // Back up: the build whose agent died with the server ends FAULT, with the reason.
    let server = RunningServer::start_with(&data, &listen, &[UNSANDBOXED]);
    let build = wait_for_build(&server, &id);
    assert_eq!(build["buildStatus"], "FAULT", "{build}");
    let last = build["phases"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|it| it["phaseStatus"] == "FAULT")
        .unwrap();
    assert_eq!(last["contexts"][0]["statusCode"], "AGENT_LOST");
}

/// An agent process that is killed when the test ends, even by a failed assertion.
struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_aws_cli_learns_who_it_is_which_region_is_served_and_what_is_not_here_yet() {
    let sandbox = Sandbox::new();
    let server = RunningServer::start(&sandbox.path("data"));

    // `aws sts get-caller-identity` is how people check their credentials.
    let identity = server.json(&["sts", "get-caller-identity"]);
    assert_eq!(identity["Account"], "000000000000", "{identity}");
    assert_eq!(identity["Arn"], "arn:aws:iam::000000000000:user/admin", "{identity}");
    // The user's unique id, as IAM's GetUser names it (not the signing key).
    let user = server.json(&["iam", "get-user", "--user-name", "admin"]);
    assert_eq!(identity["UserId"], user["User"]["UserId"], "{identity} {user}");
    assert!(identity["UserId"].as_str().unwrap().starts_with("AIDA"), "{identity}");

    // The server serves us-east-1 only: a client set up for eu-west-1 learns it.
    let run =
        server.aws_in_region("eu-west-1", &server.credentials(), &["codebuild", "list-projects"]);
    run.expect_code(255);
    assert!(run.stderr.contains("(InvalidSignatureException)"), "{}", run.stderr);
    assert!(
        run.stderr.contains("valid region") && run.stderr.contains("us-east-1"),
        "{}",
        run.stderr
    );
    let run =
        server.aws_in_region("eu-west-1", &server.credentials(), &["sts", "get-caller-identity"]);
    run.expect_code(255);
    assert!(run.stderr.contains("(SignatureDoesNotMatch)"), "{}", run.stderr);

    // Services that are not here yet say so, in the protocol their client reads.
    let run = server.aws(&["iam", "list-instance-profiles"]);
    run.expect_code(255);
    assert!(
        run.stderr
            .contains("The IAM action ListInstanceProfiles is not available on this server yet"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("invalid XML"), "{}", run.stderr);
    let run = server.aws(&["codepipeline", "list-pipelines"]);
    run.expect_code(255);
    assert!(
        run.stderr.contains("CodePipeline is not available on this server yet"),
        "{}",
        run.stderr
    );
    // S3 is served: a new installation has no buckets.
    let buckets = server.json(&["s3api", "list-buckets"]);
    assert_eq!(buckets["Buckets"], json!([]), "{buckets}");
}

/// The server's peak resident memory so far (`VmHWM`), in kB.
fn peak_memory_kb(server: &RunningServer) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
    let line = status.lines().find(|it| it.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn large_reports_and_escape_heavy_output_never_end_a_build_fault() {
    let sandbox = Sandbox::new();
    let server = RunningServer::start(&sandbox.path("data"));

    // 20,000 test cases: they go up as a file of their own, not inside the finish request,
    // and every one of them can be read back.
    let buildspec = r#"version: 0.2
phases:
  build:
    commands:
      - |
        { echo '<testsuite name="s">'; i=0
          while [ $i -lt 20000 ]; do echo "<testcase classname=\"c\" name=\"t$i\"/>"; i=$((i+1)); done
          echo '<testcase classname="c" name="bad"><failure message="boom"/></testcase></testsuite>'; } > many.xml
reports:
  many:
    files: [many.xml]
"#;
    let source = json!({ "type": "NO_SOURCE", "buildspec": buildspec }).to_string();
    server.create_project("many", &source);
    let id = start(&server, "many", &[]);
    let build = wait_for_build(&server, &id);
    assert_eq!(build["buildStatus"], "SUCCEEDED", "{build}");
    let report_arn = build["reportArns"][0].as_str().unwrap().to_owned();
    let report = server.json(&["codebuild", "batch-get-reports", "--report-arns", &report_arn]);
    assert_eq!(report["reports"][0]["testSummary"]["total"], 20_001, "{report}");
    assert_eq!(report["reports"][0]["truncated"], false);
    let cases = server.json(&[
        "codebuild",
        "describe-test-cases",
        "--report-arn",
        &report_arn,
        "--page-size",
        "1000",
    ]);
    let names: std::collections::BTreeSet<&str> = cases["testCases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|it| it["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 20_001);
    assert!(names.contains("t0") && names.contains("t19999") && names.contains("bad"));
    let failed = server.json(&[
        "codebuild",
        "describe-test-cases",
        "--report-arn",
        &report_arn,
        "--filter",
        "status=FAILED",
    ]);
    assert_eq!(failed["testCases"].as_array().unwrap().len(), 1, "{failed}");
    assert_eq!(failed["testCases"][0]["message"], "boom");

    // A 300 MB report (300 failures of 1 MB each) is read as a stream: the server's memory
    // stays far below the file's size.
    let buildspec = r#"version: 0.2
phases:
  build:
    commands:
      - head -c 1000000 /dev/zero | tr '\0' x > message.txt
      - |
        { echo '<testsuite name="big">'; i=0
          while [ $i -lt 300 ]; do echo "<testcase classname=\"c\" name=\"t$i\"><failure>"; cat message.txt; echo '</failure></testcase>'; i=$((i+1)); done
          echo '</testsuite>'; } > big.xml
      - test $(wc -c < big.xml) -gt 300000000 && echo big-enough
reports:
  big:
    files: [big.xml]
"#;
    let source = json!({ "type": "NO_SOURCE", "buildspec": buildspec }).to_string();
    server.create_project("big", &source);
    let id = start(&server, "big", &[]);
    let build = wait_for_build_within(&server, &id, Duration::from_secs(300));
    assert_eq!(build["buildStatus"], "SUCCEEDED", "{build}");
    assert!(log(&server, &id).contains("\nbig-enough\n"), "the report is not 300 MB");
    let report_arn = build["reportArns"][0].as_str().unwrap().to_owned();
    let report = server.json(&["codebuild", "batch-get-reports", "--report-arns", &report_arn]);
    assert_eq!(report["reports"][0]["testSummary"]["statusCounts"]["FAILED"], 300, "{report}");
    let peak = peak_memory_kb(&server);
    assert!(peak < 100 * 1024, "the server's peak memory was {peak} kB");

    // An event batch of escape-heavy output (ANSI colours, `\r` progress bars) is far larger
    // as JSON than as text; it arrives whole.
    let buildspec = r#"version: 0.2
phases:
  build:
    commands:
      - head -c 3000000 /dev/zero | tr '\0' '\033'; echo
      - i=0; while [ $i -lt 20000 ]; do printf '\033[32m%05d\r' $i; i=$((i+1)); done; echo; echo progress-done
"#;
    let source = json!({ "type": "NO_SOURCE", "buildspec": buildspec }).to_string();
    server.create_project("escapes", &source);
    let id = start(&server, "escapes", &[]);
    let build = wait_for_build(&server, &id);
    assert_eq!(build["buildStatus"], "SUCCEEDED", "{build}");
    let text = dechunked(&log(&server, &id));
    assert_eq!(text.bytes().filter(|it| *it == 0x1b).count(), 3_000_000 + 20_000);
    assert_eq!(text.matches('\r').count(), 20_000);
    assert!(text.contains("\x1b[32m19999\r\nprogress-done\n"), "the progress bar is not whole");
}

/// The body of a raw HTTP/1.1 response whose body is chunked.
fn dechunked(response: &str) -> String {
    let (head, mut rest) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.to_ascii_lowercase().contains("transfer-encoding: chunked"), "{head}");
    let mut body = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n").unwrap();
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            return body;
        }
        body.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
}

/// Sends `POST <path>` with an agent token and `body`, and returns the status line and the
/// response body.
fn agent_post(server: &RunningServer, path: &str, token: &str, body: &[u8]) -> (String, String) {
    let address = server.endpoint.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let length = body.len();
    write!(stream, "POST {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n").unwrap();
    stream.write_all(body).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

#[test]
fn agent_calls_are_refused_in_the_agent_protocols_error_shape() {
    let sandbox = Sandbox::new();
    let data = sandbox.path("data");
    let server = RunningServer::start(&data);
    let token = Run::from(
        sandbox
            .slipway(&["agent-token", "create", "probe", "--data-dir", data.to_str().unwrap()])
            .output()
            .unwrap(),
    );
    token.expect_code(0);
    let token = token.stdout.trim();
    let code = |body: &str| serde_json::from_str::<Value>(body).unwrap()["code"].clone();

    // Malformed JSON: the protocol's BadRequest, not axum's plain text.
    let (status, body) = agent_post(&server, "/agent/v1/register", token, br#"{"name": 1}"#);
    assert!(status.starts_with("HTTP/1.1 400"), "{status}");
    assert_eq!(code(&body), "BadRequest", "{body}");

    // An event batch of 3 MB of JSON (1 MB of ANSI escapes) is within the agent routes'
    // limit: it is read and answered for what it is (here: an agent that never registered).
    let text: String = "\u{1b}".repeat(500_000);
    let batch = json!({
        "agentId": "agent-x",
        "seq": 0,
        "events": [{ "event": "output", "text": text }],
    });
    let batch = serde_json::to_vec(&batch).unwrap();
    assert!(batch.len() > 2_500_000);
    let (status, body) = agent_post(&server, "/agent/v1/jobs/p:1/events", token, &batch);
    assert!(status.starts_with("HTTP/1.1 404"), "{status} {body}");
    assert_eq!(code(&body), "UnknownAgent", "{body}");
}

#[test]
fn a_build_on_the_embedded_agent_cannot_read_the_servers_secrets() {
    // Outside /tmp, which the sandbox replaces anyway: the data directory itself must be hidden.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let data = std::path::absolute(dir.path().join("data")).unwrap();
    let server = RunningServer::start(&data);
    let pid = server.child.id();
    let key = std::fs::read_to_string(data.join("master.key")).unwrap();
    let mut commands = String::new();
    for file in ["admin-credentials", "master.key", "slipway.db"] {
        let path = data.join(file);
        assert!(path.is_file(), "{}", path.display());
        commands.push_str(&format!(
            "      - if cat {0} >/dev/null 2>&1; then echo 'LEAKED {1}'; else echo 'hidden {1}'; fi\n",
            path.display(),
            file
        ));
    }
    commands.push_str(&format!(
        "      - if cat /proc/{pid}/environ >/dev/null 2>&1; then echo 'LEAKED environ'; else echo 'hidden environ'; fi\n"
    ));
    commands.push_str(&format!(
        "      - if ls {} >/dev/null 2>&1 && [ -n \"$(ls -A {} | grep -v agent)\" ]; then echo 'LEAKED listing'; else echo 'hidden listing'; fi\n",
        data.display(),
        data.display()
    ));
    commands.push_str("      - env | grep -c SLIPWAY_ || echo 'no server variables'\n");
    commands.push_str("      - grep CapEff /proc/self/status\n");
    let buildspec = format!("version: 0.2\nphases:\n  build:\n    commands:\n{commands}");
    let source = json!({ "type": "NO_SOURCE", "buildspec": buildspec }).to_string();
    server.create_project("thief", &source);
    let id = start(&server, "thief", &[]);
    assert_eq!(wait_for_build(&server, &id)["buildStatus"], "SUCCEEDED");
    let text = log(&server, &id);
    for what in ["admin-credentials", "master.key", "slipway.db", "environ", "listing"] {
        assert!(text.contains(&format!("\nhidden {what}\n")), "{what}: {text}");
    }
    assert!(!text.contains("\nLEAKED"), "{text}");
    assert!(!text.contains(key.trim()), "{text}");
    assert!(text.contains("\nno server variables\n"), "{text}");
    assert!(text.contains("CapEff:\t0000000000000000"), "{text}");
}

#[test]
fn the_data_directory_and_its_secrets_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::new();
    let data = sandbox.path("data");
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let server = RunningServer::start(&data);
    let check = || {
        assert_eq!(mode(&data), 0o700);
        for file in ["admin-credentials", "master.key", "slipway.db"] {
            assert_eq!(mode(&data.join(file)), 0o600, "{file}");
        }
    };
    check();
    drop(server);
    // Loosened by hand, they are private again on the next start.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(data.join("slipway.db"), std::fs::Permissions::from_mode(0o644))
        .unwrap();
    std::fs::set_permissions(data.join("master.key"), std::fs::Permissions::from_mode(0o644))
        .unwrap();
    let server = RunningServer::start(&data);
    check();
    drop(server);
}

#[test]
fn without_bubblewrap_the_embedded_agent_refuses_to_start() {
    let sandbox = Sandbox::new();
    let data = sandbox.path("data");
    // A PATH without bwrap.
    let bin = sandbox.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    // Bounded, in case the server starts after all.
    let run = Run::from(
        Command::new("/usr/bin/timeout")
            .arg("60")
            .arg(env!("CARGO_BIN_EXE_slipway"))
            .args(["server", "--listen", "127.0.0.1:0", "--data-dir", data.to_str().unwrap()])
            .env("PATH", &bin)
            .stdin(Stdio::null())
            .output()
            .unwrap(),
    );
    run.expect_code(1);
    assert!(run.stderr.contains("apt-get install bubblewrap"), "{}", run.stderr);
    assert!(run.stderr.contains(UNSANDBOXED), "{}", run.stderr);
    assert!(!data.exists(), "nothing is written");
}

#[test]
fn administration_commands_never_create_an_installation() {
    let sandbox = Sandbox::new();
    let looked = sandbox.dir.path().join("slipway-data");
    let commands: &[&[&str]] = &[
        &["user", "create", "bob"],
        &["git-credentials", "create", "--user", "admin"],
        &["agent-token", "create", "ci"],
        &["access-key", "create", "--user", "admin"],
        &["branch-protection", "list", "web"],
        &["mirror", "list", "web"],
        &["parameter", "put", "/a", "--value", "b"],
        &["secret", "put", "a", "--value", "b"],
        &["trigger-secret", "web", "t"],
    ];
    for args in commands {
        let run = Run::from(sandbox.slipway(args).env_remove("SLIPWAY_DATA_DIR").output().unwrap());
        run.expect_code(1);
        assert!(run.stderr.contains(&looked.display().to_string()), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains("--data-dir"), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains("SLIPWAY_DATA_DIR"), "{args:?}: {}", run.stderr);
        assert!(!looked.exists(), "{args:?} created {}", looked.display());
    }
}

#[test]
fn a_second_server_on_a_busy_port_fails_before_it_writes_anything() {
    let sandbox = Sandbox::new();
    let first =
        RunningServer::start_with(&sandbox.path("first"), "127.0.0.1:0", &["--no-local-agent"]);
    let busy = first.endpoint.trim_start_matches("http://").to_owned();
    let second = sandbox.path("second");
    let run = Run::from(
        sandbox
            .slipway(&["server", "--no-local-agent", "--listen", &busy, "--data-dir"])
            .arg(&second)
            .output()
            .unwrap(),
    );
    run.expect_code(1);
    assert!(run.stderr.contains(&format!("cannot listen on {busy}")), "{}", run.stderr);
    assert!(!second.exists(), "the second server wrote {}", second.display());
}

#[test]
fn replicas_share_the_installation_key_and_refuse_another() {
    let sandbox = Sandbox::new();
    let database = format!("--database-url=sqlite:{}", sandbox.path("shared.db").display());
    let first = RunningServer::start_with(
        &sandbox.path("a"),
        "127.0.0.1:0",
        &["--no-local-agent", &database],
    );
    let key = sandbox.path("a/master.key");

    // Without the installation's key a second replica refuses to start, and says how.
    let replica = |data: &str, extra: &[&str]| {
        let mut args = vec!["server", "--no-local-agent", "--listen", "127.0.0.1:0", &database];
        args.extend_from_slice(extra);
        args.push("--data-dir");
        args.push(data);
        Run::from(sandbox.slipway(&args).env_remove("SLIPWAY_MASTER_KEY_FILE").output().unwrap())
    };
    let without = replica("b", &[]);
    without.expect_code(1);
    assert!(without.stderr.contains("--master-key-file"), "{}", without.stderr);
    assert!(!sandbox.path("b/master.key").exists());
    let other_key = sandbox.path("other.key");
    std::fs::write(&other_key, format!("{}\n", "ab".repeat(32))).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&other_key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let wrong = replica("b", &["--master-key-file", other_key.to_str().unwrap()]);
    wrong.expect_code(1);
    assert!(wrong.stderr.contains("is not this installation's"), "{}", wrong.stderr);
    assert!(wrong.stderr.contains("SLIPWAY_MASTER_KEY_FILE"), "{}", wrong.stderr);

    // With it, the second replica serves the same users and keys, and did not create the
    // admin (the first did, and wrote its credentials).
    let second = RunningServer::start_with(
        &sandbox.path("b"),
        "127.0.0.1:0",
        &["--no-local-agent", &database, "--master-key-file", key.to_str().unwrap()],
    );
    assert!(!sandbox.path("b/admin-credentials").exists());
    assert!(!sandbox.path("b/master.key").exists());
    let created = second.aws_with(
        &first.credentials(),
        &["ssm", "put-parameter", "--name", "/p", "--value", "v", "--type", "SecureString"],
    );
    created.expect_code(0);
    let got = first.json(&["ssm", "get-parameter", "--name", "/p", "--with-decryption"]);
    assert_eq!(got["Parameter"]["Value"], "v", "{got}");
}

/// The artifact's name as CodeBuild gives it: the buildspec's `artifacts.name`, evaluated by
/// the build's shell, when the project's `overrideArtifactName` is true; the project's
/// artifact name otherwise. `BatchGetBuilds` shows it at the end of `artifacts.location`, the
/// zip's S3 object, read back with the real `aws` CLI.
#[test]
fn the_artifact_is_named_as_codebuild_names_it() {
    let sandbox = Sandbox::new();
    let server = RunningServer::start(&sandbox.path("data"));
    let buildspec = "version: 0.2\nphases:\n  build:\n    commands:\n      - VERSION=2.$CODEBUILD_BUILD_NUMBER\n      - echo ok > out.txt\nartifacts:\n  files: [out.txt]\n  name: app-$VERSION.zip\n";
    let source = json!({ "type": "NO_SOURCE", "buildspec": buildspec }).to_string();
    // Artifacts of type S3 are written as the project's service role, which must allow it.
    server.create_service_role("r", &["AmazonS3FullAccess"], None);
    server.aws(&["s3", "mb", "s3://bucket"]).expect_code(0);
    for (project, overrides) in [("named", "true"), ("fixed", "false")] {
        let artifacts = format!(
            "type=S3,location=bucket,name=project.zip,packaging=ZIP,overrideArtifactName={overrides}"
        );
        server
            .aws(&[
                "codebuild",
                "create-project",
                "--name",
                project,
                "--source",
                &source,
                "--artifacts",
                &artifacts,
                "--environment",
                "type=LINUX_CONTAINER,image=local,computeType=BUILD_GENERAL1_SMALL",
                "--service-role",
                "r",
            ])
            .expect_code(0);
    }
    for (project, name, overrides) in
        [("named", "app-2.1.zip", true), ("fixed", "project.zip", false)]
    {
        let id = start(&server, project, &[]);
        let build = wait_for_build(&server, &id);
        assert_eq!(build["buildStatus"], "SUCCEEDED", "{build}");
        let artifacts = &build["artifacts"];
        assert_eq!(artifacts["location"], format!("arn:aws:s3:::bucket/{name}"), "{build}");
        assert_eq!(artifacts["overrideArtifactName"], overrides, "{build}");
        // The location is where the zip is.
        let head = server.json(&["s3api", "head-object", "--bucket", "bucket", "--key", name]);
        assert!(head["ContentLength"].as_u64().unwrap() > 0, "{head}");
    }
}
