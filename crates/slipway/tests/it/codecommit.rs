//! The CodeCommit API through the real `aws` CLI, with real git pushes.

use serde_json::json;

use crate::Sandbox;
use crate::server::RunningServer;
use crate::support::{self, git};

#[test]
fn repositories_branches_commits_and_files() {
    let sandbox = Sandbox::new();
    let server =
        RunningServer::start_with(&sandbox.path("data"), "127.0.0.1:0", &["--no-local-agent"]);
    let created = server.json(&[
        "codecommit",
        "create-repository",
        "--repository-name",
        "demo",
        "--repository-description",
        "first",
    ]);
    let metadata = &created["repositoryMetadata"];
    assert_eq!(metadata["cloneUrlHttp"], format!("{}/v1/repos/demo", server.endpoint));
    assert_eq!(metadata["Arn"], "arn:aws:codecommit:us-east-1:000000000000:demo");
    let again = server.aws(&["codecommit", "create-repository", "--repository-name", "demo"]);
    assert!(again.stderr.contains("(RepositoryNameExistsException)"), "{}", again.stderr);
    let bad = server.aws(&["codecommit", "create-repository", "--repository-name", "bad name"]);
    assert!(bad.stderr.contains("(InvalidRepositoryNameException)"), "{}", bad.stderr);

    // Push two branches with git credentials made by `slipway git-credentials create`.
    let credentials = support::git_credentials(&sandbox, &server, "admin");
    let url = credentials.url(&server.endpoint, "demo");
    let work = sandbox.path("work");
    std::fs::create_dir_all(work.join("bin")).unwrap();
    git(&work, &["init", "-q", "-b", "main"]).expect_code(0);
    std::fs::write(work.join("README.md"), "hello\n").unwrap();
    std::fs::write(work.join("bin/run.sh"), "#!/bin/sh\n").unwrap();
    git(&work, &["update-index", "--add", "--chmod=+x", "bin/run.sh"]).expect_code(0);
    git(&work, &["add", "README.md"]).expect_code(0);
    git(&work, &["commit", "-q", "-m", "first commit"]).expect_code(0);
    git(&work, &["push", "-q", &url, "main", "main:feature"]).expect_code(0);
    let commit = git(&work, &["rev-parse", "HEAD"]).stdout.trim().to_owned();

    let repository = server.json(&["codecommit", "get-repository", "--repository-name", "demo"]);
    assert_eq!(repository["repositoryMetadata"]["defaultBranch"], "main");
    assert_eq!(
        server.json(&["codecommit", "list-branches", "--repository-name", "demo"])["branches"],
        json!(["feature", "main"])
    );
    assert_eq!(
        server.json(&[
            "codecommit",
            "get-branch",
            "--repository-name",
            "demo",
            "--branch-name",
            "feature"
        ])["branch"],
        json!({ "branchName": "feature", "commitId": commit })
    );
    let got = server.json(&[
        "codecommit",
        "get-commit",
        "--repository-name",
        "demo",
        "--commit-id",
        &commit,
    ]);
    assert_eq!(got["commit"]["message"], "first commit\n");
    assert_eq!(got["commit"]["author"]["email"], "ada@example.com");
    let file = server.json(&[
        "codecommit",
        "get-file",
        "--repository-name",
        "demo",
        "--file-path",
        "bin/run.sh",
    ]);
    assert_eq!(
        (file["fileMode"].as_str(), file["fileContent"].as_str()),
        (Some("EXECUTABLE"), Some("IyEvYmluL3NoCg=="))
    );
    let missing =
        server.aws(&["codecommit", "get-file", "--repository-name", "demo", "--file-path", "nope"]);
    assert!(missing.stderr.contains("(FileDoesNotExistException)"), "{}", missing.stderr);

    server
        .aws(&[
            "codecommit",
            "create-branch",
            "--repository-name",
            "demo",
            "--branch-name",
            "release",
            "--commit-id",
            &commit,
        ])
        .expect_code(0);
    let exists = server.aws(&[
        "codecommit",
        "create-branch",
        "--repository-name",
        "demo",
        "--branch-name",
        "release",
        "--commit-id",
        &commit,
    ]);
    assert!(exists.stderr.contains("(BranchNameExistsException)"), "{}", exists.stderr);
    server
        .aws(&[
            "codecommit",
            "update-default-branch",
            "--repository-name",
            "demo",
            "--default-branch-name",
            "release",
        ])
        .expect_code(0);
    let deleted = server.json(&[
        "codecommit",
        "delete-branch",
        "--repository-name",
        "demo",
        "--branch-name",
        "main",
    ]);
    assert_eq!(deleted["deletedBranch"]["commitId"], commit.as_str());
    let default = server.aws(&[
        "codecommit",
        "delete-branch",
        "--repository-name",
        "demo",
        "--branch-name",
        "release",
    ]);
    assert!(
        default.stderr.contains("(DefaultBranchCannotBeDeletedException)"),
        "{}",
        default.stderr
    );

    server
        .aws(&[
            "codecommit",
            "update-repository-description",
            "--repository-name",
            "demo",
            "--repository-description",
            "second",
        ])
        .expect_code(0);
    server
        .aws(&[
            "codecommit",
            "update-repository-name",
            "--old-name",
            "demo",
            "--new-name",
            "renamed",
        ])
        .expect_code(0);
    let both = server.json(&[
        "codecommit",
        "batch-get-repositories",
        "--repository-names",
        "renamed",
        "demo",
    ]);
    assert_eq!(both["repositories"][0]["repositoryDescription"], "second");
    assert_eq!(both["repositoriesNotFound"], json!(["demo"]));
    // The renamed repository still clones under its new name.
    let renamed_url = url.replace("/demo", "/renamed");
    git(sandbox.dir.path(), &["clone", "-q", &renamed_url, "clone"]).expect_code(0);
    assert!(sandbox.path("clone/README.md").is_file());

    assert_eq!(
        server.json(&["codecommit", "list-repositories"])["repositories"][0]["repositoryName"],
        "renamed"
    );
    let id = server.json(&["codecommit", "delete-repository", "--repository-name", "renamed"])["repositoryId"].clone();
    assert_eq!(id, both["repositories"][0]["repositoryId"]);
    assert_eq!(server.json(&["codecommit", "list-repositories"])["repositories"], json!([]));
    let gone = server.aws(&["codecommit", "get-repository", "--repository-name", "renamed"]);
    assert!(gone.stderr.contains("(RepositoryDoesNotExistException)"), "{}", gone.stderr);
}

#[test]
fn builds_take_their_source_from_a_hosted_repository() {
    let sandbox = Sandbox::new();
    let server = RunningServer::start(&sandbox.path("data"));
    server.json(&["codecommit", "create-repository", "--repository-name", "app"]);
    let credentials = support::git_credentials(&sandbox, &server, "admin");
    let clone_url = format!("{}/v1/repos/app", server.endpoint);
    let url = credentials.url(&server.endpoint, "app");
    let work = sandbox.path("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]).expect_code(0);
    std::fs::write(work.join("message.txt"), "from main\n").unwrap();
    std::fs::write(
        work.join("buildspec.yml"),
        "version: 0.2\nphases:\n  build:\n    commands:\n      - cat message.txt\n      - echo \"version=$CODEBUILD_SOURCE_VERSION commit=$CODEBUILD_RESOLVED_SOURCE_VERSION branch=$(git rev-parse --abbrev-ref HEAD)\"\n      - echo \"hooks=$(test -d .git/hooks && echo yes) samples=$(ls .git/hooks | wc -l)\"\n",
    )
    .unwrap();
    git(&work, &["add", "."]).expect_code(0);
    git(&work, &["commit", "-q", "-m", "main"]).expect_code(0);
    git(&work, &["checkout", "-q", "-b", "feature"]).expect_code(0);
    std::fs::write(work.join("message.txt"), "from feature\n").unwrap();
    git(&work, &["commit", "-q", "-am", "feature"]).expect_code(0);
    git(&work, &["push", "-q", &url, "main", "feature"]).expect_code(0);
    let feature = git(&work, &["rev-parse", "feature"]).stdout.trim().to_owned();

    let source = json!({ "type": "CODECOMMIT", "location": clone_url }).to_string();
    server.create_project("app", &source);

    // The default branch, then a branch by name.
    let first = crate::server::start(&server, "app", &[]);
    let build = crate::server::wait_for_build(&server, &first);
    assert_eq!(build["buildStatus"], "SUCCEEDED", "{build}");
    let text = crate::server::log(&server, &first);
    assert!(text.contains("\nfrom main\n"), "{text}");
    // The agent's checkout has git's hooks folder, without the template's samples.
    assert!(text.contains("\nhooks=yes samples=0\n"), "{text}");
    let second = crate::server::start(&server, "app", &["--source-version", "feature"]);
    let build = crate::server::wait_for_build(&server, &second);
    assert_eq!(build["resolvedSourceVersion"], feature.as_str());
    let text = crate::server::log(&server, &second);
    assert!(text.contains("\nfrom feature\n"), "{text}");
    assert!(text.contains(&format!("version=feature commit={feature} branch=feature")), "{text}");

    // gitCloneDepth 1: the agent fetches only the commit it builds.
    let shallow =
        json!({ "type": "CODECOMMIT", "location": clone_url, "gitCloneDepth": 1 }).to_string();
    server.create_project("shallow", &shallow);
    let count = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo \"commits=$(git rev-list --count HEAD) head=$(git rev-parse HEAD)\"\n";
    let third = crate::server::start(
        &server,
        "shallow",
        &["--source-version", "feature", "--buildspec-override", count],
    );
    crate::server::wait_for_build(&server, &third);
    let text = crate::server::log(&server, &third);
    assert!(text.contains(&format!("commits=1 head={feature}")), "{text}");

    // A version that does not exist is refused; a missing buildspec fails the build.
    let missing = server.aws(&[
        "codebuild",
        "start-build",
        "--project-name",
        "app",
        "--source-version",
        "nope",
    ]);
    assert!(missing.stderr.contains("(InvalidInputException)"), "{}", missing.stderr);
    let failed = server.json(&[
        "codebuild",
        "start-build",
        "--project-name",
        "app",
        "--buildspec-override",
        "ci/other.yml",
    ]);
    assert_eq!(failed["build"]["buildStatus"], "FAILED");
}

#[test]
fn a_push_starts_the_build_its_webhook_selects() {
    let sandbox = Sandbox::new();
    let server = RunningServer::start(&sandbox.path("data"));
    server.json(&["codecommit", "create-repository", "--repository-name", "hooked"]);
    let credentials = support::git_credentials(&sandbox, &server, "admin");
    let clone_url = format!("{}/v1/repos/hooked", server.endpoint);
    let url = credentials.url(&server.endpoint, "hooked");
    let source = json!({ "type": "CODECOMMIT", "location": clone_url }).to_string();
    server.create_project("hooked", &source);
    let groups = json!([[{ "type": "EVENT", "pattern": "PUSH" }, { "type": "HEAD_REF", "pattern": "^refs/heads/main$" }]]).to_string();
    let created = server.json(&[
        "codebuild",
        "create-webhook",
        "--project-name",
        "hooked",
        "--filter-groups",
        &groups,
    ]);
    assert_eq!(created["webhook"]["filterGroups"][0][1]["pattern"], "^refs/heads/main$");
    let project = server.json(&["codebuild", "batch-get-projects", "--names", "hooked"]);
    assert_eq!(project["projects"][0]["webhook"]["status"], "ACTIVE");

    let work = sandbox.path("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]).expect_code(0);
    std::fs::write(
        work.join("buildspec.yml"),
        "version: 0.2\nphases:\n  build:\n    commands:\n      - echo \"trigger=$CODEBUILD_WEBHOOK_TRIGGER event=$CODEBUILD_WEBHOOK_EVENT actor=$CODEBUILD_WEBHOOK_ACTOR_ACCOUNT_ID\"\n",
    )
    .unwrap();
    git(&work, &["add", "."]).expect_code(0);
    git(&work, &["commit", "-q", "-m", "first"]).expect_code(0);
    // A push to a branch the webhook does not select starts nothing.
    git(&work, &["push", "-q", &url, "main:feature"]).expect_code(0);
    git(&work, &["push", "-q", &url, "main"]).expect_code(0);
    let commit = git(&work, &["rev-parse", "HEAD"]).stdout.trim().to_owned();

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let id = loop {
        let ids =
            server.json(&["codebuild", "list-builds-for-project", "--project-name", "hooked"]);
        if let Some(id) = ids["ids"][0].as_str() {
            break id.to_owned();
        }
        assert!(std::time::Instant::now() < deadline, "the push started no build");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let build = crate::server::wait_for_build(&server, &id);
    assert_eq!(build["buildStatus"], "SUCCEEDED", "{build}");
    assert_eq!(build["resolvedSourceVersion"], commit.as_str());
    assert!(
        crate::server::log(&server, &id).contains("trigger=branch/main event=PUSH actor=admin")
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    let ids = server.json(&["codebuild", "list-builds-for-project", "--project-name", "hooked"]);
    assert_eq!(ids["ids"].as_array().unwrap().len(), 1, "only the push to main builds: {ids}");

    server.aws(&["codebuild", "delete-webhook", "--project-name", "hooked"]).expect_code(0);
    let gone = server.aws(&["codebuild", "delete-webhook", "--project-name", "hooked"]);
    assert!(gone.stderr.contains("(ResourceNotFoundException)"), "{}", gone.stderr);
}

#[test]
fn the_git_credential_helper_lets_build_commands_use_git_against_the_server() {
    let sandbox = Sandbox::new();
    let server = RunningServer::start(&sandbox.path("data"));
    for name in ["app", "other"] {
        server.json(&["codecommit", "create-repository", "--repository-name", name]);
    }
    let credentials = support::git_credentials(&sandbox, &server, "admin");
    let with_credentials = |repo: &str| credentials.url(&server.endpoint, repo);
    let work = sandbox.path("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]).expect_code(0);
    std::fs::write(work.join("data.txt"), "shared data\n").unwrap();
    git(&work, &["add", "."]).expect_code(0);
    git(&work, &["commit", "-q", "-m", "data"]).expect_code(0);
    git(&work, &["push", "-q", &with_credentials("other"), "main"]).expect_code(0);
    git(&work, &["push", "-q", &with_credentials("app"), "main"]).expect_code(0);

    let source =
        json!({ "type": "CODECOMMIT", "location": format!("{}/v1/repos/app", server.endpoint) })
            .to_string();
    // The build's git token reaches what its service role allows.
    server.create_service_role("r", &["AWSCodeCommitPowerUser"], None);
    server.create_project("app", &source);
    let commands = "    commands:\n      - git clone -q \"${CODEBUILD_SOURCE_REPO_URL%/v1/repos/*}/v1/repos/other\" other && cat other/data.txt\n      - cd other && git -c user.name=b -c user.email=b@example.com commit -q --allow-empty -m from-build && git push -q origin HEAD:from-build\n      - env | grep ^GIT_CONFIG_VALUE_0= || true\n";
    let with_helper =
        format!("version: 0.2\nenv:\n  git-credential-helper: yes\nphases:\n  build:\n{commands}");
    let id = crate::server::start(&server, "app", &["--buildspec-override", &with_helper]);
    let build = crate::server::wait_for_build(&server, &id);
    assert_eq!(build["buildStatus"], "SUCCEEDED", "{build}");
    let text = crate::server::log(&server, &id);
    assert!(text.contains("\nshared data\n"), "{text}");
    // The token is in the build's environment, and masked like every secret.
    assert!(text.contains("GIT_CONFIG_VALUE_0=Authorization: Bearer ***"), "{text}");
    let branches = server.json(&["codecommit", "list-branches", "--repository-name", "other"]);
    assert_eq!(branches["branches"], json!(["from-build", "main"]));

    // Without it, the build's git has no credentials for the server.
    let without = format!("version: 0.2\nphases:\n  build:\n{commands}");
    let id = crate::server::start(&server, "app", &["--buildspec-override", &without]);
    assert_eq!(crate::server::wait_for_build(&server, &id)["buildStatus"], "FAILED");
}
