//! CodeBuild over the server's S3: a source zip put with `aws s3 cp`, artifacts written as
//! real objects (a zip, and a secondary artifact as its files) that `aws s3 cp` and `aws s3
//! ls` read back, the refusals that end a build FAULT in DOWNLOAD_SOURCE or
//! UPLOAD_ARTIFACTS, and a cache kept in a bucket.

use std::io::Write;

use serde_json::{Value, json};

use crate::Sandbox;
use crate::server::{RunningServer, log, start, wait_for_build};

const BUILDSPEC: &str = "version: 0.2
phases:
  build:
    commands:
      - ./make.sh
artifacts:
  files: [out/app.txt]
  secondary-artifacts:
    docs:
      base-directory: docs
      files: ['**/*']
";

/// A zip of `entries` (name, content; `make.sh` executable) at `path`.
fn zip_of(path: &std::path::Path, entries: &[(&str, &str)]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, text) in entries {
        let mode = if name.ends_with(".sh") { 0o755 } else { 0o644 };
        let options = zip::write::SimpleFileOptions::default().unix_permissions(mode);
        zip.start_file(*name, options).unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
}

fn phase<'a>(build: &'a Value, name: &str) -> &'a Value {
    let phases = build["phases"].as_array().unwrap();
    phases.iter().find(|it| it["phaseType"] == name).unwrap_or_else(|| panic!("no {name}: {build}"))
}

fn create_project(server: &RunningServer, name: &str, source: &str, role: &str) {
    let artifacts = json!({
        "type": "S3", "location": "out", "path": "builds", "namespaceType": "BUILD_ID",
        "name": "app.zip", "packaging": "ZIP",
    });
    let docs = json!([{
        "artifactIdentifier": "docs", "type": "S3", "location": "site", "path": "docs",
        "name": "latest", "packaging": "NONE",
    }]);
    server
        .aws(&[
            "codebuild",
            "create-project",
            "--name",
            name,
            "--source",
            &json!({ "type": "S3", "location": source }).to_string(),
            "--artifacts",
            &artifacts.to_string(),
            "--secondary-artifacts",
            &docs.to_string(),
            "--environment",
            "type=LINUX_CONTAINER,image=local,computeType=BUILD_GENERAL1_SMALL",
            "--service-role",
            role,
        ])
        .expect_code(0);
}

#[test]
fn a_build_reads_its_source_from_s3_and_writes_its_artifacts_there() {
    let sandbox = Sandbox::new();
    let server = RunningServer::start(&sandbox.path("data"));
    for bucket in ["s3://src", "s3://out", "s3://site"] {
        server.aws(&["s3", "mb", bucket]).expect_code(0);
    }
    let zip = sandbox.path("source.zip");
    zip_of(
        &zip,
        &[
            ("buildspec.yml", BUILDSPEC),
            ("make.sh", "#!/bin/sh\nmkdir -p out && echo built from s3 > out/app.txt\n"),
            ("docs/index.html", "<h1>docs</h1>\n"),
            ("docs/guide/start.html", "start\n"),
        ],
    );
    let zip_text = zip.to_str().unwrap();
    server.aws(&["s3", "cp", zip_text, "s3://src/app/source.zip"]).expect_code(0);
    server.create_service_role("builder", &["AmazonS3FullAccess"], None);
    create_project(&server, "s3app", "src/app/source.zip", "builder");

    let id = start(&server, "s3app", &["--source-version", "ignored-version"]);
    let build = wait_for_build(&server, &id);
    assert_eq!(build["buildStatus"], "SUCCEEDED", "{build}");
    let uuid = id.split_once(':').unwrap().1;
    let location = build["artifacts"]["location"].as_str().unwrap();
    assert_eq!(location, format!("arn:aws:s3:::out/builds/{uuid}/app.zip"), "{build}");
    let secondary = &build["secondaryArtifacts"][0];
    assert_eq!(secondary["artifactIdentifier"], "docs", "{build}");
    assert_eq!(secondary["location"], "arn:aws:s3:::site/docs/latest", "{build}");

    // The primary artifact is the zip at its location.
    let object = location.replace("arn:aws:s3:::", "s3://");
    let fetched = sandbox.path("app.zip");
    server.aws(&["s3", "cp", &object, fetched.to_str().unwrap()]).expect_code(0);
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&fetched).unwrap()).unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("out/app.txt").unwrap(), &mut text).unwrap();
    assert_eq!(text, "built from s3\n");
    let head = server.json(&[
        "s3api",
        "head-object",
        "--bucket",
        "out",
        "--key",
        &format!("builds/{uuid}/app.zip"),
    ]);
    let digest = format!("\"{}\"", md5_hex(&std::fs::read(&fetched).unwrap()));
    assert_eq!(head["ETag"], digest, "the ETag is S3's: {head}");

    // The secondary artifact (packaging NONE) is its files, each an object.
    let listed = server.aws(&["s3", "ls", "--recursive", "s3://site/docs/latest/"]);
    listed.expect_code(0);
    assert!(listed.stdout.contains("docs/latest/index.html"), "{}", listed.stdout);
    assert!(listed.stdout.contains("docs/latest/guide/start.html"), "{}", listed.stdout);
    let page = sandbox.path("index.html");
    server
        .aws(&["s3", "cp", "s3://site/docs/latest/index.html", page.to_str().unwrap()])
        .expect_code(0);
    assert_eq!(std::fs::read_to_string(&page).unwrap(), "<h1>docs</h1>\n");

    // A role that may not read the source zip: FAULT in DOWNLOAD_SOURCE, naming it.
    server.create_service_role("writer", &[], Some(WRITE_ONLY));
    create_project(&server, "unreadable", "arn:aws:s3:::src/app/source.zip", "writer");
    let id = start(&server, "unreadable", &[]);
    let build = wait_for_build(&server, &id);
    assert_eq!(build["buildStatus"], "FAULT", "{build}");
    assert_eq!(
        phase(&build, "DOWNLOAD_SOURCE")["contexts"][0]["message"],
        "Role arn:aws:iam::000000000000:role/writer may not read object arn:aws:s3:::src/app/source.zip (s3:GetObject)",
        "{build}"
    );

    // A bucket that is not there: FAULT in UPLOAD_ARTIFACTS, naming it.
    server.aws(&["s3", "rb", "s3://site", "--force"]).expect_code(0);
    let id = start(&server, "s3app", &[]);
    let build = wait_for_build(&server, &id);
    assert_eq!(build["buildStatus"], "FAULT", "{build}");
    assert_eq!(
        phase(&build, "UPLOAD_ARTIFACTS")["contexts"][0]["message"],
        "Bucket site does not exist, so the build may not write object arn:aws:s3:::site/docs/latest",
        "{build}"
    );
}

/// A cache of type S3 is an object under its prefix: the first build saves it, the next one
/// restores it.
#[test]
fn the_cache_of_type_s3_is_kept_in_its_bucket() {
    let sandbox = Sandbox::new();
    let server = RunningServer::start(&sandbox.path("data"));
    server.aws(&["s3", "mb", "s3://caches"]).expect_code(0);
    server.create_service_role("builder", &["AmazonS3FullAccess"], None);
    let buildspec = "version: 0.2
phases:
  build:
    commands:
      - if [ -f deps/stamp ]; then echo \"restored $(cat deps/stamp)\"; else mkdir -p deps && echo \"build $CODEBUILD_BUILD_NUMBER\" > deps/stamp; fi
cache:
  paths: ['deps/**/*']
";
    let source = json!({ "type": "NO_SOURCE", "buildspec": buildspec }).to_string();
    let cache = json!({ "type": "S3", "location": "caches/app" }).to_string();
    server.create_project_with(
        "cached",
        &source,
        &["--service-role", "builder", "--cache", &cache],
    );
    let first = start(&server, "cached", &[]);
    assert_eq!(wait_for_build(&server, &first)["buildStatus"], "SUCCEEDED");
    let listed = server.aws(&["s3", "ls", "s3://caches/app/"]);
    listed.expect_code(0);
    assert!(listed.stdout.contains("default.zip"), "{}", listed.stdout);
    let second = start(&server, "cached", &[]);
    assert_eq!(wait_for_build(&server, &second)["buildStatus"], "SUCCEEDED");
    let text = log(&server, &second);
    assert!(text.contains("\nrestored build 1\n"), "{text}");
}

/// May write any object, read none.
const WRITE_ONLY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"*"}]}"#;

/// The MD5 of `bytes` in hex, as S3's ETag of an object put whole.
fn md5_hex(bytes: &[u8]) -> String {
    let output = std::process::Command::new("md5sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(bytes)?;
            child.wait_with_output()
        })
        .unwrap();
    String::from_utf8(output.stdout).unwrap().split_whitespace().next().unwrap().to_owned()
}
