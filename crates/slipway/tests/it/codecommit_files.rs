//! CodeCommit's content API through the real `aws` CLI: commits made by PutFile and
//! CreateCommit, read back by GetFolder, GetBlob, BatchGetCommits and GetDifferences, and
//! finally by a real `git clone`, which must see what the API said.

#![allow(clippy::disallowed_methods)]

use std::os::unix::fs::PermissionsExt;

use serde_json::{Value, json};

use crate::Sandbox;
use crate::server::RunningServer;
use crate::support::{self, git};

const REPO: &str = "files";

/// `aws codecommit <operation> --repository-name files <args>`, expected to succeed.
fn call(server: &RunningServer, operation: &str, args: &[&str]) -> Value {
    let mut all = vec!["codecommit", operation, "--repository-name", REPO];
    all.extend_from_slice(args);
    server.json(&all)
}

/// The same, expected to fail with `exception`.
#[track_caller]
fn refused(server: &RunningServer, operation: &str, args: &[&str], exception: &str) {
    let mut all = vec!["codecommit", operation, "--repository-name", REPO];
    all.extend_from_slice(args);
    let run = server.aws(&all);
    assert!(run.stderr.contains(&format!("({exception})")), "{exception}: {run:?}");
}

fn id(value: &Value, field: &str) -> String {
    value[field].as_str().unwrap_or_else(|| panic!("{field} in {value}")).to_owned()
}

fn paths(list: &Value) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|it| (id(it, "absolutePath"), id(it, "fileMode")))
        .collect();
    all.sort();
    all
}

#[test]
fn files_committed_through_the_api_are_what_git_clones() {
    let sandbox = Sandbox::new();
    let server =
        RunningServer::start_with(&sandbox.path("data"), "127.0.0.1:0", &["--no-local-agent"]);
    server.json(&["codecommit", "create-repository", "--repository-name", REPO]);
    sandbox.write("readme", "hello\n").write("run.sh", "#!/bin/sh\necho hi\n");
    let readme = format!("fileb://{}", sandbox.path("readme").display());
    let script = format!("fileb://{}", sandbox.path("run.sh").display());

    // The first commit of an empty repository needs no parent, and creates the branch.
    let first = call(
        &server,
        "put-file",
        &[
            "--branch-name",
            "main",
            "--file-path",
            "/README.md",
            "--file-content",
            &readme,
            "--commit-message",
            "first",
            "--name",
            "Ada",
            "--email",
            "ada@example.com",
        ],
    );
    let (c1, readme_blob) = (id(&first, "commitId"), id(&first, "blobId"));
    let put_script = |parent: &str| {
        vec![
            "--branch-name".to_owned(),
            "main".to_owned(),
            "--file-path".to_owned(),
            "bin/run.sh".to_owned(),
            "--file-mode".to_owned(),
            "EXECUTABLE".to_owned(),
            "--file-content".to_owned(),
            script.clone(),
            "--parent-commit-id".to_owned(),
            parent.to_owned(),
        ]
    };
    fn as_strs(it: &[String]) -> Vec<&str> {
        it.iter().map(String::as_str).collect()
    }
    refused(
        &server,
        "put-file",
        &as_strs(&put_script(&c1))[..8],
        "ParentCommitIdRequiredException",
    );
    let second = call(&server, "put-file", &as_strs(&put_script(&c1)));
    let c2 = id(&second, "commitId");
    refused(&server, "put-file", &as_strs(&put_script(&c1)), "ParentCommitIdOutdatedException");
    refused(&server, "put-file", &as_strs(&put_script(&c2)), "SameFileContentException");
    let branch = server.json(&[
        "codecommit",
        "get-branch",
        "--repository-name",
        REPO,
        "--branch-name",
        "main",
    ]);
    assert_eq!(branch["branch"]["commitId"], c2.as_str());
    assert_eq!(
        server.json(&["codecommit", "get-repository", "--repository-name", REPO])["repositoryMetadata"]
            ["defaultBranch"],
        "main"
    );

    let root = call(&server, "get-folder", &["--folder-path", "/"]);
    assert_eq!(root["commitId"], c2.as_str());
    assert_eq!(paths(&root["files"]), [("README.md".to_owned(), "NORMAL".to_owned())]);
    assert_eq!(root["subFolders"][0]["absolutePath"], "bin");
    let bin = call(&server, "get-folder", &["--folder-path", "bin", "--commit-specifier", &c2]);
    assert_eq!(
        (&bin["files"][0]["relativePath"], &bin["files"][0]["fileMode"]),
        (&json!("run.sh"), &json!("EXECUTABLE"))
    );
    assert_eq!(bin["treeId"], root["subFolders"][0]["treeId"]);
    refused(
        &server,
        "get-folder",
        &["--folder-path", "nope", "--commit-specifier", &c2],
        "FolderDoesNotExistException",
    );
    let blob = call(&server, "get-blob", &["--blob-id", &readme_blob]);
    assert_eq!(blob["content"], "aGVsbG8K");

    let missing = "0".repeat(40);
    let batch = call(&server, "batch-get-commits", &["--commit-ids", &c1, &c2, &missing]);
    let commits = batch["commits"].as_array().unwrap();
    assert_eq!(commits.len(), 2);
    assert_eq!(commits[0]["author"]["email"], "ada@example.com");
    assert_eq!(commits[0]["message"], "first");
    // Without a name or email, the commit is the caller's.
    assert_eq!(commits[1]["author"]["email"], "admin@slipway");
    assert_eq!(commits[1]["parents"], json!([c1]));
    assert_eq!(batch["errors"][0]["commitId"], missing.as_str());

    // Adds and an update; then a move, a delete and a mode change.
    let third = call(
        &server,
        "create-commit",
        &[
            "--branch-name",
            "main",
            "--parent-commit-id",
            &c2,
            "--commit-message",
            "docs",
            "--put-files",
            r#"[{"filePath": "docs/guide.md", "fileContent": "guide\n"},
                {"filePath": "notes.txt", "fileContent": "notes\n"},
                {"filePath": "README.md", "fileContent": "hello again\n"}]"#,
        ],
    );
    let c3 = id(&third, "commitId");
    assert_eq!(
        paths(&third["filesAdded"]),
        [
            ("docs/guide.md".to_owned(), "NORMAL".to_owned()),
            ("notes.txt".to_owned(), "NORMAL".to_owned())
        ]
    );
    assert_eq!(paths(&third["filesUpdated"]), [("README.md".to_owned(), "NORMAL".to_owned())]);
    let fourth = call(
        &server,
        "create-commit",
        &[
            "--branch-name",
            "main",
            "--parent-commit-id",
            &c3,
            "--put-files",
            r#"[{"filePath": "tools/run.sh", "sourceFile": {"filePath": "bin/run.sh", "isMove": true}}]"#,
            "--delete-files",
            r#"[{"filePath": "notes.txt"}]"#,
            "--set-file-modes",
            r#"[{"filePath": "docs/guide.md", "fileMode": "EXECUTABLE"}]"#,
        ],
    );
    let c4 = id(&fourth, "commitId");
    assert_eq!(
        paths(&fourth["filesAdded"]),
        [("tools/run.sh".to_owned(), "EXECUTABLE".to_owned())]
    );
    assert_eq!(
        paths(&fourth["filesUpdated"]),
        [("docs/guide.md".to_owned(), "EXECUTABLE".to_owned())]
    );
    assert_eq!(
        paths(&fourth["filesDeleted"]),
        [
            ("bin/run.sh".to_owned(), "EXECUTABLE".to_owned()),
            ("notes.txt".to_owned(), "NORMAL".to_owned())
        ]
    );
    refused(
        &server,
        "create-commit",
        &[
            "--branch-name",
            "main",
            "--parent-commit-id",
            &c4,
            "--set-file-modes",
            r#"[{"filePath": "docs/guide.md", "fileMode": "EXECUTABLE"}]"#,
        ],
        "NoChangeException",
    );

    let differences = call(
        &server,
        "get-differences",
        &["--before-commit-specifier", &c2, "--after-commit-specifier", "main"],
    );
    let summary: Vec<(String, String, Value, Value)> = differences["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|it| {
            let path = it["afterBlob"]["path"].as_str().or(it["beforeBlob"]["path"].as_str());
            (
                id(it, "changeType"),
                path.unwrap().to_owned(),
                it["beforeBlob"]["mode"].clone(),
                it["afterBlob"]["mode"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("M".to_owned(), "README.md".to_owned(), json!("100644"), json!("100644")),
            ("D".to_owned(), "bin/run.sh".to_owned(), json!("100755"), Value::Null),
            ("A".to_owned(), "docs/guide.md".to_owned(), Value::Null, json!("100755")),
            ("A".to_owned(), "tools/run.sh".to_owned(), Value::Null, json!("100755")),
        ]
    );
    // One page at a time, the CLI follows NextToken to the same list.
    let paged = call(
        &server,
        "get-differences",
        &["--before-commit-specifier", &c2, "--after-commit-specifier", &c4, "--page-size", "1"],
    );
    assert_eq!(paged["differences"], differences["differences"]);
    let page = call(
        &server,
        "get-differences",
        &[
            "--before-commit-specifier",
            &c2,
            "--after-commit-specifier",
            &c4,
            "--no-paginate",
            "--max-results",
            "3",
        ],
    );
    assert_eq!(page["differences"].as_array().unwrap().len(), 3);
    assert_eq!(page["NextToken"], "3");
    // Without a "before", everything is an addition.
    let initial = call(&server, "get-differences", &["--after-commit-specifier", &c1]);
    assert_eq!(initial["differences"][0]["changeType"], "A");
    assert_eq!(initial["differences"][0]["afterBlob"]["blobId"], readme_blob.as_str());

    // A clone has exactly what the API described, executable bits included.
    let credentials = support::git_credentials(&sandbox, &server, "admin");
    let url = credentials.url(&server.endpoint, REPO);
    git(sandbox.dir.path(), &["clone", "-q", &url, "clone"]).expect_code(0);
    let clone = sandbox.path("clone");
    assert_eq!(git(&clone, &["rev-parse", "HEAD"]).stdout.trim(), c4);
    assert_eq!(std::fs::read_to_string(clone.join("README.md")).unwrap(), "hello again\n");
    assert_eq!(
        std::fs::read_to_string(clone.join("tools/run.sh")).unwrap(),
        "#!/bin/sh\necho hi\n"
    );
    let executable =
        |path: &str| std::fs::metadata(clone.join(path)).unwrap().permissions().mode() & 0o111 != 0;
    assert!(executable("tools/run.sh") && executable("docs/guide.md"));
    assert!(!clone.join("bin").exists() && !clone.join("notes.txt").exists());
    let log = git(&clone, &["log", "--format=%an <%ae> %s", "--reverse"]).stdout;
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        [
            "Ada <ada@example.com> first",
            "admin <admin@slipway> ",
            "admin <admin@slipway> docs",
            "admin <admin@slipway> "
        ]
    );
}

#[test]
fn put_file_takes_files_up_to_six_megabytes_and_bounds_paths() {
    let sandbox = Sandbox::new();
    let server =
        RunningServer::start_with(&sandbox.path("data"), "127.0.0.1:0", &["--no-local-agent"]);
    server.json(&["codecommit", "create-repository", "--repository-name", REPO]);
    let write = |name: &str, megabytes: usize| {
        // Varied bytes, so that nothing on the way compresses them away.
        let bytes: Vec<u8> = (0..megabytes * 1024 * 1024).map(|i| (i * 7919 % 251) as u8).collect();
        std::fs::write(sandbox.path(name), bytes).unwrap();
        format!("fileb://{}", sandbox.path(name).display())
    };
    let big = write("big", 3);
    let put = |path: &str, content: &str, parent: Option<&str>| {
        let mut args = vec![
            "codecommit",
            "put-file",
            "--repository-name",
            REPO,
            "--branch-name",
            "main",
            "--file-path",
            path,
            "--file-content",
            content,
        ];
        if let Some(parent) = parent {
            args.extend(["--parent-commit-id", parent]);
        }
        server.aws(&args)
    };
    let run = put("big.bin", &big, None);
    run.expect_code(0);
    let commit = id(&serde_json::from_str(&run.stdout).unwrap(), "commitId");
    // Over 6 MB: the handler's own error; over the request limit: the same error, in JSON.
    for (name, megabytes) in [("seven", 7), ("fifteen", 15)] {
        let run = put("too-big.bin", &write(name, megabytes), Some(&commit));
        assert!(
            run.stderr.contains("(FileContentSizeLimitExceededException)"),
            "{megabytes} MB: {run:?}"
        );
    }
    sandbox.write("small", "x\n");
    let small = format!("fileb://{}", sandbox.path("small").display());
    let long_name = "a".repeat(300);
    let run = put(&long_name, &small, Some(&commit));
    assert!(run.stderr.contains("(InvalidPathException)"), "{run:?}");
    let long_path = vec!["d"; 2100].join("/");
    let run = put(&long_path, &small, Some(&commit));
    assert!(run.stderr.contains("(InvalidPathException)"), "{run:?}");
    // Nothing but the 3 MB file was committed; a clone gets it whole.
    let clone = sandbox.path("clone");
    let url = support::push_url(&sandbox, &server, REPO);
    git(&sandbox.path(""), &["clone", "-q", &url, clone.to_str().unwrap()]);
    let cloned = std::fs::read(clone.join("big.bin")).unwrap();
    assert_eq!(cloned, std::fs::read(sandbox.path("big")).unwrap());
    assert_eq!(std::fs::read_dir(&clone).unwrap().count(), 2, "big.bin and .git only");
}
