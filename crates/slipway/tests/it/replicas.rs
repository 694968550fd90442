//! Two `slipway server` replicas of one installation on the test PostgreSQL and S3 (moto):
//! one key, one set of users, secrets and builds, whichever replica a request reaches.
//!
//! Needs `SLIPWAY_TEST_DATABASE_URL`, `SLIPWAY_TEST_S3_ENDPOINT` and `SLIPWAY_TEST_S3_BUCKET`
//! (`cargo xtask with-services` sets them); without them the test is skipped with a message,
//! except under `CI`, where it fails.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::Sandbox;
use crate::server::{RunningServer, log, start, wait_for_build};

/// The services under test, or `None` (with a message) to skip.
fn services() -> Option<(String, String, String)> {
    let var = |name: &str| std::env::var(name).ok().filter(|it| !it.is_empty());
    match (
        var("SLIPWAY_TEST_DATABASE_URL"),
        var("SLIPWAY_TEST_S3_ENDPOINT"),
        var("SLIPWAY_TEST_S3_BUCKET"),
    ) {
        (Some(database), Some(endpoint), Some(bucket)) => Some((database, endpoint, bucket)),
        _ => {
            assert!(
                std::env::var_os("CI").is_none_or(|it| it.is_empty()),
                "CI is set, so the replica test must run: set SLIPWAY_TEST_DATABASE_URL, \
                 SLIPWAY_TEST_S3_ENDPOINT and SLIPWAY_TEST_S3_BUCKET (`cargo xtask with-services`)"
            );
            eprintln!("skipped: the replica test (run it under `cargo xtask with-services`)");
            None
        }
    }
}

/// A fresh database on the test server; returns its URL.
fn fresh_database(server_url: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |it| it.subsec_nanos());
    let name = format!("slipway_replicas_{}_{nanos}", std::process::id());
    let _ = Command::new("psql")
        .arg(server_url)
        .args(["-c", &format!("DROP DATABASE IF EXISTS {name}")])
        .output();
    let created = Command::new("psql")
        .arg(server_url)
        .args(["-v", "ON_ERROR_STOP=1", "-c", &format!("CREATE DATABASE {name}")])
        .output()
        .expect("psql is installed (cargo xtask with-services installs PostgreSQL)");
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let (base, _) = server_url.rsplit_once('/').expect("a database URL ends in /NAME");
    let base = if base.ends_with('/') {
        server_url.trim_end_matches('/').to_owned()
    } else {
        base.to_owned()
    };
    format!("{base}/{name}")
}

fn replica(data: &Path, database: &str, blobs: &str, extra: &[&str]) -> RunningServer {
    let mut command = Command::new(env!("CARGO_BIN_EXE_slipway"));
    command
        .args([
            "server",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            database,
            "--blob-url",
            blobs,
        ])
        .args(extra)
        .arg("--data-dir")
        .arg(data)
        .env_remove("SLIPWAY_MASTER_KEY_FILE");
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
        command.env("AWS_ACCESS_KEY_ID", "testing").env("AWS_SECRET_ACCESS_KEY", "testing");
    }
    RunningServer::spawn(command, data)
}

#[test]
fn two_replicas_serve_one_installation() {
    let Some((database, endpoint, bucket)) = services() else { return };
    let sandbox = Sandbox::new();
    let database = fresh_database(&database);
    let prefix = database.rsplit('/').next().unwrap_or("replicas").to_owned();
    let blobs =
        format!("s3://{bucket}/{prefix}?endpoint={endpoint}&allow_http=true&region=us-east-1");
    // The first creates the installation and runs the only agent.
    let first = replica(&sandbox.path("a"), &database, &blobs, &[]);
    let key = sandbox.path("a/master.key");
    let mut second = replica(
        &sandbox.path("b"),
        &database,
        &blobs,
        &["--no-local-agent", "--master-key-file", key.to_str().unwrap()],
    );
    assert!(!sandbox.path("b/admin-credentials").exists());

    // An access key created after the start through one replica's installation (its data
    // directory, the shared database) is accepted by the other, both ways.
    let installation = |data: &str, args: &[&str]| {
        let mut command = sandbox.slipway(args);
        command.args(["--database-url", &database, "--blob-url", &blobs, "--data-dir"]);
        command.arg(sandbox.path(data));
        if data == "b" {
            command.arg("--master-key-file").arg(&key);
        }
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            command.env("AWS_ACCESS_KEY_ID", "testing").env("AWS_SECRET_ACCESS_KEY", "testing");
        }
        let run = crate::Run::from(command.output().unwrap());
        run.expect_code(0);
        run.stdout
    };
    installation("a", &["user", "create", "carol"]);
    installation("a", &["user", "attach-policy", "carol", "AdministratorAccess"]);
    for (made_by, used_on) in [("a", &second), ("b", &first)] {
        let path = sandbox.path(&format!("carol-by-{made_by}"));
        std::fs::write(&path, installation(made_by, &["access-key", "create", "--user", "carol"]))
            .unwrap();
        let who = used_on.aws_with(&path, &["sts", "get-caller-identity"]);
        who.expect_code(0);
        assert!(who.stdout.contains(":user/carol"), "{}", who.stdout);
    }

    // The admin's key, made by the first, signs requests to the second.
    let credentials = first.credentials();
    second
        .aws_with(
            &credentials,
            &[
                "secretsmanager",
                "create-secret",
                "--name",
                "ci/token",
                "--secret-string",
                "s3cr3t-value",
            ],
        )
        .expect_code(0);
    let buildspec = "version: 0.2\nenv:\n  secrets-manager:\n    TOKEN: ci/token\nphases:\n  build:\n    commands:\n      - '[ \"$TOKEN\" = s3cr3t-value ] && echo resolved-on-the-agent'\n";
    let source = json!({ "type": "NO_SOURCE", "buildspec": buildspec }).to_string();
    first.create_service_role("r", &["SecretsManagerReadWrite"], None);
    first.create_project("shared", &source);
    // Started through the second (which has no agent), run by the first's agent; the
    // second's requests are signed with the admin's credentials, which are in the first's
    // data directory.
    second.data_dir = sandbox.path("a");
    let id = start(&second, "shared", &[]);
    let build = wait_for_build(&second, &id);
    assert_eq!(build["buildStatus"], "SUCCEEDED", "{build}");
    assert!(log(&first, &id).contains("\nresolved-on-the-agent\n"));

    // Killed with -9 while its agent runs a build, the first leaves the second serving, and
    // the build ends FAULT there (its agent is gone), never stuck.
    let sleeper = json!({ "type": "NO_SOURCE", "buildspec": "version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 300\n" }).to_string();
    second.create_project("sleeper", &sleeper);
    let id = start(&second, "sleeper", &[]);
    crate::support::wait_for_phase(&second, &id, "BUILD");
    let mut first = first;
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    let build = wait_for_build(&second, &id);
    assert_eq!(build["buildStatus"], "FAULT", "{build}");
}

#[test]
fn a_push_through_one_replica_starts_its_webhook_build_once() {
    let Some((database, endpoint, bucket)) = services() else { return };
    let sandbox = Sandbox::new();
    let database = fresh_database(&database);
    let prefix = database.rsplit('/').next().unwrap_or("replicas").to_owned();
    let blobs =
        format!("s3://{bucket}/{prefix}?endpoint={endpoint}&allow_http=true&region=us-east-1");
    // The hosted repositories live in the data directory: replicas that serve git share it
    // (a shared file system), and with it the key.
    let data = sandbox.path("shared");
    let first = replica(&data, &database, &blobs, &[]);
    let second = replica(&data, &database, &blobs, &["--no-local-agent"]);
    first.json(&["codecommit", "create-repository", "--repository-name", "hooked"]);
    let clone_url = format!("{}/v1/repos/hooked", first.endpoint);
    let source = json!({ "type": "CODECOMMIT", "location": clone_url }).to_string();
    first.create_project("hooked", &source);
    let groups = json!([[{ "type": "EVENT", "pattern": "PUSH" }]]).to_string();
    first.json(&[
        "codebuild",
        "create-webhook",
        "--project-name",
        "hooked",
        "--filter-groups",
        &groups,
    ]);

    let mut command = sandbox.slipway(&[
        "git-credentials",
        "create",
        "--user",
        "admin",
        "--database-url",
        &database,
        "--blob-url",
        &blobs,
        "--data-dir",
    ]);
    command.arg(&data);
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
        command.env("AWS_ACCESS_KEY_ID", "testing").env("AWS_SECRET_ACCESS_KEY", "testing");
    }
    let created = crate::Run::from(command.output().unwrap());
    created.expect_code(0);
    let url =
        crate::support::GitCredentials::parse(&created.stdout).url(&second.endpoint, "hooked");
    let work = sandbox.path("work");
    std::fs::create_dir_all(&work).unwrap();
    crate::support::git_ok(&work, &["init", "-q", "-b", "main"]);
    let builds = |n: usize| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let ids =
                first.json(&["codebuild", "list-builds-for-project", "--project-name", "hooked"]);
            let ids: Vec<String> = ids["ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|it| it.as_str().unwrap().to_owned())
                .collect();
            if ids.len() >= n {
                return ids;
            }
            assert!(std::time::Instant::now() < deadline, "the push started no build: {ids:?}");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    for n in 1..=2 {
        crate::support::commit(
            &work,
            "buildspec.yml",
            &format!("version: 0.2\nphases:\n  build:\n    commands:\n      - echo push-{n}\n"),
            "c",
        );
        crate::support::git_ok(&work, &["push", "-q", &url, "main"]);
        let ids = builds(n);
        // Each push started exactly one build: the second push's build is the n-th one.
        assert_eq!(ids.len(), n, "{ids:?}");
        let build = wait_for_build(&first, &ids[0]);
        assert_eq!(build["buildStatus"], "SUCCEEDED", "{build}");
    }
}
