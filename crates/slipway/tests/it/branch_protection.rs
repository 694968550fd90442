//! Branch protection against `slipway server`: rules set with `slipway branch-protection`
//! decide who may push, force-push or delete a branch, as the account-level IAM policy they
//! are written as (`show`) and, for what a policy cannot tell, the repository's hook; a
//! refused push shows git's `[remote rejected]` line and the reason (AWS's explicit deny
//! message), and leaves the ref where it was.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use engine::store::{ListQuery, Store};
use serde_json::{Value, json};

use crate::server::RunningServer;
use crate::support::GitCredentials;
use crate::{Run, Sandbox};

/// A server, its data directory as a string for the admin commands, and the clients' files.
struct Setup {
    server: RunningServer,
    sandbox: Sandbox,
    scratch: PathBuf,
}

impl Setup {
    fn data(&self) -> &str {
        self.server.data_dir.to_str().unwrap()
    }

    fn slipway(&self, args: &[&str]) -> Run {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--data-dir", self.data()]);
        Run::from(self.sandbox.slipway(&all).output().unwrap())
    }

    /// A user with HTTPS git credentials; returns the clone URL of `repo` for them.
    fn user(&self, name: &str, repo: &str) -> String {
        self.slipway(&["user", "create", name]).expect_code(0);
        self.slipway(&["user", "attach-policy", name, "AdministratorAccess"]).expect_code(0);
        let run = self.slipway(&["git-credentials", "create", "--user", name]);
        run.expect_code(0);
        GitCredentials::parse(&run.stdout).url(&self.server.endpoint, repo)
    }

    /// `git <args>` in `cwd` (under the scratch directory), with no configuration but ours.
    fn git(&self, cwd: &str, args: &[&str]) -> Run {
        let cwd = self.scratch.join(cwd);
        std::fs::create_dir_all(&cwd).unwrap();
        let output = Command::new("git")
            .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
            .args(["-c", "init.defaultBranch=main"])
            .args(args)
            .current_dir(&cwd)
            .env("HOME", self.scratch.join("home"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_TERMINAL_PROMPT", "0")
            .stdin(Stdio::null())
            .output()
            .expect("git is installed");
        Run::from(output)
    }

    #[track_caller]
    fn git_ok(&self, cwd: &str, args: &[&str]) -> String {
        let run = self.git(cwd, args);
        assert_eq!(run.code, Some(0), "git {args:?}:\n{}{}", run.stdout, run.stderr);
        run.stdout
    }

    /// A push that the server refuses: git fails, says `[remote rejected]` and the reason.
    #[track_caller]
    fn refused(&self, cwd: &str, args: &[&str], reason: &str) {
        let run = self.git(cwd, args);
        assert_ne!(run.code, Some(0), "git {args:?} was not refused:\n{}", run.stderr);
        assert!(run.stderr.contains("[remote rejected]"), "{}", run.stderr);
        assert!(run.stderr.contains(reason), "no {reason:?} in:\n{}", run.stderr);
    }

    /// The `(user, event, ref)` of the ref events recorded for `repo`, in order.
    fn events(&self, repo: &str) -> Vec<(String, String, String)> {
        let url = format!("sqlite:{}", self.server.data_dir.join("slipway.db").display());
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let store = Store::connect(&url).await.unwrap();
            let query = ListQuery {
                kind: "ref-event".to_owned(),
                parent: Some(repo.to_owned()),
                descending: false,
                after: None,
                limit: 1000,
            };
            let page = store.list(&query).await.unwrap();
            store.close().await;
            let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
            page.documents
                .iter()
                .map(|it| (text(&it.body["user"]), text(&it.body["event"]), text(&it.body["ref"])))
                .collect()
        })
    }

    /// `refs/heads/<branch>`'s commit on the server, empty when there is no such branch.
    fn remote(&self, url: &str, branch: &str) -> String {
        let listing = self.git_ok(".", &["ls-remote", url, &format!("refs/heads/{branch}")]);
        listing.split_whitespace().next().unwrap_or_default().to_owned()
    }
}

#[test]
fn protected_branches_refuse_pushes_force_pushes_and_deletes_by_the_wrong_users() {
    let sandbox = Sandbox::new();
    let server =
        RunningServer::start_with(&sandbox.path("data"), "127.0.0.1:0", &["--no-local-agent"]);
    let scratch = sandbox.path("clients");
    std::fs::create_dir_all(scratch.join("home")).unwrap();
    let setup = Setup { server, sandbox, scratch };
    let repo = "guarded";
    setup
        .server
        .aws(&["codecommit", "create-repository", "--repository-name", repo])
        .expect_code(0);
    let alice = setup.user("alice", repo);
    let bob = setup.user("bob", repo);

    // Rules: only for repositories that exist; listed as JSON.
    let run = setup.slipway(&["branch-protection", "set", "missing", "main", "--push", "alice"]);
    assert_ne!(run.code, Some(0));
    let run = setup.slipway(&["branch-protection", "list", "missing"]);
    assert_ne!(run.code, Some(0));
    setup
        .slipway(&[
            "branch-protection",
            "set",
            repo,
            "main",
            "--push",
            "alice",
            "--force-push",
            "",
            "--delete",
            "",
        ])
        .expect_code(0);
    setup.slipway(&["user", "create", "ci"]).expect_code(0);
    setup.slipway(&["branch-protection", "set", repo, "release/*", "--push", "ci"]).expect_code(0);
    setup.slipway(&["branch-protection", "remove", repo, "release/*"]).expect_code(0);
    let run = setup.slipway(&["branch-protection", "list", repo]);
    run.expect_code(0);
    let listed: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        listed,
        json!({ "rules": [
            { "branch": "main", "push": ["alice"], "forcePush": [], "delete": [] },
        ] })
    );

    // The rules are the account-level policy's statements: a Deny per rule and list.
    let run = setup.slipway(&["branch-protection", "show", repo]);
    run.expect_code(0);
    let shown: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        shown["policyArn"], "arn:aws:iam::000000000000:policy/slipway/SlipwayBranchProtection",
        "{shown}"
    );
    let statements = shown["statements"].as_array().unwrap();
    assert_eq!(statements.len(), 2, "{shown}");
    assert_eq!(statements[0]["Effect"], "Deny");
    assert_eq!(statements[0]["Action"][0], "codecommit:GitPush");
    assert_eq!(
        statements[0]["Condition"]["StringNotEquals"]["aws:username"],
        json!(["alice"]),
        "{shown}"
    );
    assert_eq!(statements[1]["Action"], json!(["codecommit:DeleteBranch"]), "{shown}");
    let policy = setup.server.json(&[
        "iam",
        "get-policy",
        "--policy-arn",
        "arn:aws:iam::000000000000:policy/slipway/SlipwayBranchProtection",
    ]);
    assert_eq!(policy["Policy"]["Path"], "/slipway/", "{policy}");

    // Alice may push main.
    setup.git_ok("a", &["init", "-q"]);
    std::fs::write(setup.scratch.join("a/file"), "one\n").unwrap();
    setup.git_ok("a", &["add", "."]);
    setup.git_ok("a", &["commit", "-q", "-m", "one"]);
    setup.git_ok("a", &["push", "-q", &alice, "HEAD:refs/heads/main"]);
    let one = setup.git_ok("a", &["rev-parse", "HEAD"]).trim().to_owned();
    assert_eq!(setup.remote(&alice, "main"), one);

    // Bob may not push main, even a fast-forward; nothing moves.
    setup.git_ok(".", &["clone", "-q", &bob, "b"]);
    std::fs::write(setup.scratch.join("b/file"), "bob\n").unwrap();
    setup.git_ok("b", &["commit", "-q", "-am", "bob"]);
    setup.refused(
        "b",
        &["push", &bob, "HEAD:main"],
        "user/bob is not authorized to perform: codecommit:GitPush on resource: \
         arn:aws:codecommit:us-east-1:000000000000:guarded with an explicit deny",
    );
    assert_eq!(setup.remote(&alice, "main"), one);

    // Alice may not rewrite main, nor delete it.
    setup.git_ok("a", &["commit", "-q", "--amend", "-m", "one, amended"]);
    setup.refused(
        "a",
        &["push", "--force", &alice, "HEAD:main"],
        "alice may not force-push branch main: nobody may",
    );
    assert_eq!(setup.remote(&alice, "main"), one);
    setup.refused("a", &["push", &alice, ":main"], "alice may not delete branch main");
    assert_eq!(setup.remote(&alice, "main"), one);

    // A branch no rule matches is anyone's: bob creates, rewrites and deletes it.
    setup.git_ok("b", &["push", "-q", &bob, "HEAD:refs/heads/topic"]);
    setup.git_ok("b", &["commit", "-q", "--amend", "-m", "bob, amended"]);
    setup.git_ok("b", &["push", "-q", "--force", &bob, "HEAD:topic"]);
    let amended = setup.git_ok("b", &["rev-parse", "HEAD"]).trim().to_owned();
    assert_eq!(setup.remote(&bob, "topic"), amended);
    setup.git_ok("b", &["push", "-q", &bob, ":topic"]);
    assert_eq!(setup.remote(&bob, "topic"), "");

    // Alice's fast-forward of main still works; the rule gone, bob's push works too.
    setup.git_ok("a", &["reset", "-q", "--hard", &one]);
    std::fs::write(setup.scratch.join("a/file"), "two\n").unwrap();
    setup.git_ok("a", &["commit", "-q", "-am", "two"]);
    setup.git_ok("a", &["push", "-q", &alice, "HEAD:main"]);
    let two = setup.git_ok("a", &["rev-parse", "HEAD"]).trim().to_owned();
    assert_eq!(setup.remote(&alice, "main"), two);
    setup.slipway(&["branch-protection", "remove", repo, "main"]).expect_code(0);
    setup.git_ok("b", &["push", "-q", "--force", &bob, "HEAD:main"]);
    assert_eq!(setup.remote(&bob, "main"), amended);
    // Refused pushes recorded nothing.
    let event = |user: &str, event: &str, name: &str| {
        (user.to_owned(), event.to_owned(), format!("refs/heads/{name}"))
    };
    assert_eq!(
        setup.events(repo),
        [
            event("alice", "created", "main"),
            event("bob", "created", "topic"),
            event("bob", "updated", "topic"),
            event("bob", "deleted", "topic"),
            event("alice", "updated", "main"),
            event("bob", "updated", "main"),
        ]
    );
    // No policy file is left behind in the repository.
    let leftovers: Vec<_> = std::fs::read_dir(setup.server.data_dir.join("repos/guarded.git"))
        .unwrap()
        .filter_map(|it| it.ok())
        .filter(|it| it.file_name().to_string_lossy().starts_with("slipway-push-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// The commit `branch` of `repo` points at, through the API (empty when there is none).
fn api_branch(server: &RunningServer, repo: &str, branch: &str) -> String {
    let run = server.aws(&[
        "codecommit",
        "get-branch",
        "--repository-name",
        repo,
        "--branch-name",
        branch,
    ]);
    if run.code != Some(0) {
        return String::new();
    }
    let value: Value = serde_json::from_str(&run.stdout).unwrap();
    value["branch"]["commitId"].as_str().unwrap_or_default().to_owned()
}

/// `aws codecommit <args>` as `credentials`; its JSON output, or the error it printed.
fn codecommit(server: &RunningServer, credentials: &std::path::Path, args: &[&str]) -> Run {
    let mut all = vec!["codecommit"];
    all.extend_from_slice(args);
    server.aws_with(credentials, &all)
}

#[track_caller]
fn denied(run: &Run, reason: &str) {
    assert_ne!(run.code, Some(0), "not refused: {}", run.stdout);
    assert!(run.stderr.contains("(AccessDeniedException)"), "{}", run.stderr);
    assert!(run.stderr.contains(reason), "no {reason:?} in {}", run.stderr);
}

#[test]
fn branch_protection_holds_on_every_codecommit_operation_that_moves_a_ref() {
    let sandbox = Sandbox::new();
    let server =
        RunningServer::start_with(&sandbox.path("data"), "127.0.0.1:0", &["--no-local-agent"]);
    let scratch = sandbox.path("clients");
    std::fs::create_dir_all(scratch.join("home")).unwrap();
    let setup = Setup { server, sandbox, scratch };
    let server = &setup.server;
    let admin = server.credentials();
    let repo = "web";
    server.aws(&["codecommit", "create-repository", "--repository-name", repo]).expect_code(0);
    for user in ["alice", "ci"] {
        setup.slipway(&["user", "create", user]).expect_code(0);
        setup.slipway(&["user", "attach-policy", user, "AdministratorAccess"]).expect_code(0);
    }
    let keys = setup.slipway(&["access-key", "create", "--user", "alice"]);
    keys.expect_code(0);
    let alice = setup.sandbox.path("alice-credentials");
    std::fs::write(&alice, &keys.stdout).unwrap();
    setup.sandbox.write("content", "hello\n");
    let content = format!("fileb://{}", setup.sandbox.path("content").display());

    // Before any rule: main, and three feature branches to merge by each strategy.
    let put = |credentials: &std::path::Path, branch: &str, path: &str, parent: &str| {
        let mut args = vec![
            "put-file",
            "--repository-name",
            repo,
            "--branch-name",
            branch,
            "--file-path",
            path,
            "--file-content",
            &content,
        ];
        if !parent.is_empty() {
            args.extend(["--parent-commit-id", parent]);
        }
        codecommit(server, credentials, &args)
    };
    put(&admin, "main", "README.md", "").expect_code(0);
    let main = api_branch(server, repo, "main");
    let mut pulls = Vec::new();
    for branch in ["ff", "squash", "three-way"] {
        codecommit(
            server,
            &admin,
            &[
                "create-branch",
                "--repository-name",
                repo,
                "--branch-name",
                branch,
                "--commit-id",
                &main,
            ],
        )
        .expect_code(0);
        put(&admin, branch, &format!("{branch}.txt"), &main).expect_code(0);
        let targets =
            format!("repositoryName={repo},sourceReference={branch},destinationReference=main");
        let run = codecommit(
            server,
            &admin,
            &["create-pull-request", "--title", branch, "--targets", &targets],
        );
        run.expect_code(0);
        let created: Value = serde_json::from_str(&run.stdout).unwrap();
        pulls.push(created["pullRequest"]["pullRequestId"].as_str().unwrap().to_owned());
    }
    codecommit(
        server,
        &admin,
        &[
            "create-branch",
            "--repository-name",
            repo,
            "--branch-name",
            "keep",
            "--commit-id",
            &main,
        ],
    )
    .expect_code(0);

    // A rule naming a user who does not exist is refused: nobody is locked out by a typo.
    let typo = setup.slipway(&["branch-protection", "set", repo, "main", "--push", "alcie"]);
    assert_ne!(typo.code, Some(0));
    assert!(typo.stderr.contains("alcie"), "{}", typo.stderr);
    setup.slipway(&["branch-protection", "set", repo, "main", "--push", "alice,ci"]).expect_code(0);
    setup.slipway(&["branch-protection", "set", repo, "keep", "--delete", "alice"]).expect_code(0);
    setup
        .slipway(&["branch-protection", "set", repo, "release/*", "--push", "alice"])
        .expect_code(0);

    // The admin may move none of them through the API, and nothing moves.
    let refused = |operation: &str| {
        format!(
            "user/admin is not authorized to perform: codecommit:{operation} on resource: \
             arn:aws:codecommit:us-east-1:000000000000:web with an explicit deny"
        )
    };
    denied(&put(&admin, "main", "other.txt", &main), &refused("PutFile"));
    let files = r#"[{"filePath": "other.txt", "fileContent": "other\n"}]"#;
    let commit_args = [
        "create-commit",
        "--repository-name",
        repo,
        "--branch-name",
        "main",
        "--parent-commit-id",
        &main,
        "--put-files",
        files,
    ];
    denied(&codecommit(server, &admin, &commit_args), &refused("CreateCommit"));
    let merges = [
        "merge-pull-request-by-fast-forward",
        "merge-pull-request-by-squash",
        "merge-pull-request-by-three-way",
    ];
    let operations =
        ["MergePullRequestByFastForward", "MergePullRequestBySquash", "MergePullRequestByThreeWay"];
    for ((merge, id), operation) in merges.iter().zip(&pulls).zip(operations) {
        let args = [*merge, "--pull-request-id", id, "--repository-name", repo];
        denied(&codecommit(server, &admin, &args), &refused(operation));
    }
    assert_eq!(api_branch(server, repo, "main"), main);
    let delete = ["delete-branch", "--repository-name", repo, "--branch-name", "keep"];
    denied(&codecommit(server, &admin, &delete), &refused("DeleteBranch"));
    assert_eq!(api_branch(server, repo, "keep"), main);
    let create = [
        "create-branch",
        "--repository-name",
        repo,
        "--branch-name",
        "release/1",
        "--commit-id",
        &main,
    ];
    denied(&codecommit(server, &admin, &create), &refused("CreateBranch"));
    assert_eq!(api_branch(server, repo, "release/1"), "");

    // Alice may do each of them.
    codecommit(server, &alice, &create).expect_code(0);
    assert_eq!(api_branch(server, repo, "release/1"), main);
    let fast_forward = [merges[0], "--pull-request-id", &pulls[0], "--repository-name", repo];
    codecommit(server, &alice, &fast_forward).expect_code(0);
    let merged = api_branch(server, repo, "main");
    assert_ne!(merged, main);
    put(&alice, "main", "other.txt", &merged).expect_code(0);
    let moved = api_branch(server, repo, "main");
    assert_ne!(moved, merged);
    let more = r#"[{"filePath": "more.txt", "fileContent": "more\n"}]"#;
    let commit_args = [
        "create-commit",
        "--repository-name",
        repo,
        "--branch-name",
        "main",
        "--parent-commit-id",
        &moved,
        "--put-files",
        more,
    ];
    codecommit(server, &alice, &commit_args).expect_code(0);
    assert_ne!(api_branch(server, repo, "main"), moved);
    for (merge, id) in merges.iter().zip(&pulls).skip(1) {
        let before = api_branch(server, repo, "main");
        codecommit(server, &alice, &[*merge, "--pull-request-id", id, "--repository-name", repo])
            .expect_code(0);
        assert_ne!(api_branch(server, repo, "main"), before, "{merge}");
    }
    codecommit(server, &alice, &delete).expect_code(0);
    assert_eq!(api_branch(server, repo, "keep"), "");
}
