//! CodeCommit's pull requests through the real `aws` CLI and real git: a pull request is
//! opened on pushed branches, held back by an approval rule until a second user approves it,
//! merged three-way (what `git clone` then sees), refused when it conflicts, merged by
//! fast-forward, and commented on.

#![allow(clippy::disallowed_methods)]

use std::path::Path;

use serde_json::{Value, json};

use crate::Sandbox;
use crate::server::RunningServer;
use crate::support::{bob, call, commit, git_ok, push_url, refused, text};

const BOB: &str = "arn:aws:iam::000000000000:user/bob";

fn create(server: &RunningServer, admin: &Path, source: &str) -> Value {
    let targets = format!("repositoryName=demo,sourceReference={source},destinationReference=main");
    call(
        server,
        admin,
        &["create-pull-request", "--title", &format!("Merge {source}"), "--targets", &targets],
    )["pullRequest"]
        .clone()
}

#[test]
fn pull_requests_are_approved_merged_and_commented() {
    let sandbox = Sandbox::new();
    let server =
        RunningServer::start_with(&sandbox.path("data"), "127.0.0.1:0", &["--no-local-agent"]);
    let admin = server.credentials();
    let bob = bob(&sandbox, &server);
    call(&server, &admin, &["create-repository", "--repository-name", "demo"]);
    let url = push_url(&sandbox, &server, "demo");
    let work = sandbox.path("work");
    std::fs::create_dir_all(&work).unwrap();
    git_ok(&work, &["init", "-q", "-b", "main"]);
    let first = commit(&work, "a.txt", "one\n", "first");
    git_ok(&work, &["checkout", "-q", "-b", "feature"]);
    let feature = commit(&work, "b.txt", "feature\n", "feature");
    git_ok(&work, &["checkout", "-q", "main"]);
    let main = commit(&work, "c.txt", "main\n", "main moves on");
    git_ok(&work, &["push", "-q", &url, "main", "feature"]);

    // Opened, listed and read back.
    let pull = create(&server, &admin, "feature");
    let id = text(&pull["pullRequestId"]);
    assert_eq!(pull["pullRequestStatus"], "OPEN");
    assert_eq!(pull["authorArn"], "arn:aws:iam::000000000000:user/admin");
    let target = &pull["pullRequestTargets"][0];
    assert_eq!(
        (&target["sourceReference"], &target["destinationReference"]),
        (&json!("refs/heads/feature"), &json!("refs/heads/main"))
    );
    assert_eq!(
        (&target["sourceCommit"], &target["destinationCommit"], &target["mergeBase"]),
        (&json!(feature), &json!(main), &json!(first))
    );
    assert_eq!(target["mergeMetadata"], json!({ "isMerged": false }));
    let listed = call(&server, &admin, &["list-pull-requests", "--repository-name", "demo"]);
    assert_eq!(listed["pullRequestIds"], json!([id]));
    let closed = call(
        &server,
        &admin,
        &["list-pull-requests", "--repository-name", "demo", "--pull-request-status", "CLOSED"],
    );
    assert_eq!(closed["pullRequestIds"], json!([]));
    let got = call(&server, &admin, &["get-pull-request", "--pull-request-id", &id]);
    let revision = text(&got["pullRequest"]["revisionId"]);
    assert_eq!(revision, text(&pull["revisionId"]));
    call(
        &server,
        &admin,
        &["update-pull-request-title", "--pull-request-id", &id, "--title", "Feature b"],
    );
    refused(
        &server,
        &admin,
        &[
            "create-pull-request",
            "--title",
            "same",
            "--targets",
            "repositoryName=demo,sourceReference=main",
        ],
        "SourceAndDestinationAreSameException",
    );

    // One approval from bob is needed: the merge waits for it, and the author cannot give it.
    let rule = json!({
        "Version": "2018-11-08",
        "Statements": [{
            "Type": "Approvers",
            "NumberOfApprovalsNeeded": 1,
            "ApprovalPoolMembers": [BOB],
        }],
    })
    .to_string();
    let created = call(
        &server,
        &admin,
        &[
            "create-pull-request-approval-rule",
            "--pull-request-id",
            &id,
            "--approval-rule-name",
            "bob-says-yes",
            "--approval-rule-content",
            &rule,
        ],
    );
    assert_eq!(created["approvalRule"]["approvalRuleName"], "bob-says-yes");
    let merge_three_way =
        ["merge-pull-request-by-three-way", "--pull-request-id", &id, "--repository-name", "demo"];
    refused(&server, &admin, &merge_three_way, "PullRequestApprovalRulesNotSatisfiedException");
    let approve = [
        "update-pull-request-approval-state",
        "--pull-request-id",
        &id,
        "--revision-id",
        &revision,
        "--approval-state",
        "APPROVE",
    ];
    refused(&server, &admin, &approve, "PullRequestCannotBeApprovedByAuthorException");
    call(&server, &bob, &approve);
    let states = call(
        &server,
        &admin,
        &["get-pull-request-approval-states", "--pull-request-id", &id, "--revision-id", &revision],
    );
    assert_eq!(states["approvals"], json!([{ "userArn": BOB, "approvalState": "APPROVE" }]));
    let evaluated = call(
        &server,
        &admin,
        &[
            "evaluate-pull-request-approval-rules",
            "--pull-request-id",
            &id,
            "--revision-id",
            &revision,
        ],
    );
    assert_eq!(
        evaluated["evaluation"],
        json!({
            "approved": true,
            "overridden": false,
            "approvalRulesSatisfied": ["bob-says-yes"],
            "approvalRulesNotSatisfied": [],
        })
    );

    // Comments on the compared commits, one of them on a line of a file.
    let compared = ["--before-commit-id", &main, "--after-commit-id", &feature];
    let mut post = vec!["post-comment-for-pull-request", "--pull-request-id", &id];
    post.extend(["--repository-name", "demo", "--content", "Looks good"]);
    post.extend(compared);
    let posted = call(&server, &bob, &post);
    assert_eq!(posted["comment"]["authorArn"], BOB);
    assert_eq!(posted["comment"]["content"], "Looks good");
    post[6] = "On this line";
    post.extend(["--location", "filePath=b.txt,filePosition=1,relativeFileVersion=AFTER"]);
    let located = call(&server, &admin, &post);
    assert!(located["afterBlobId"].is_string(), "{located}");
    let comments = call(
        &server,
        &admin,
        &["get-comments-for-pull-request", "--pull-request-id", &id, "--repository-name", "demo"],
    )["commentsForPullRequestData"]
        .clone();
    assert_eq!(comments.as_array().unwrap().len(), 2, "{comments}");
    assert_eq!(comments[0]["comments"][0]["content"], "Looks good");
    assert_eq!(comments[1]["location"]["filePath"], "b.txt");
    assert_eq!(comments[1]["comments"][0]["content"], "On this line");

    // Approved: the three-way merge makes a merge commit on main, which a clone sees.
    let mut merge = merge_three_way.to_vec();
    merge.extend(["--commit-message", "Merge feature", "--author-name", "Ada", "--email", "ada@x"]);
    let merged = call(&server, &admin, &merge)["pullRequest"].clone();
    assert_eq!(merged["pullRequestStatus"], "CLOSED");
    let metadata = &merged["pullRequestTargets"][0]["mergeMetadata"];
    assert_eq!(
        (&metadata["isMerged"], &metadata["mergeOption"]),
        (&json!(true), &json!("THREE_WAY_MERGE"))
    );
    assert_eq!(metadata["mergedBy"], "arn:aws:iam::000000000000:user/admin");
    let merge_commit = text(&metadata["mergeCommitId"]);
    let clone = sandbox.path("clone");
    git_ok(sandbox.dir.path(), &["clone", "-q", &url, clone.to_str().unwrap()]);
    assert_eq!(git_ok(&clone, &["rev-parse", "HEAD"]).stdout.trim(), merge_commit);
    assert_eq!(
        git_ok(&clone, &["rev-parse", "HEAD^1", "HEAD^2"]).stdout,
        format!("{main}\n{feature}\n")
    );
    assert_eq!(std::fs::read_to_string(clone.join("b.txt")).unwrap(), "feature\n");
    assert_eq!(
        git_ok(&clone, &["log", "-1", "--format=%an %s"]).stdout.trim(),
        "Ada Merge feature"
    );
    refused(&server, &admin, &merge_three_way, "PullRequestAlreadyClosedException");
    let events = call(&server, &admin, &["describe-pull-request-events", "--pull-request-id", &id]);
    let kinds: Vec<&str> = events["pullRequestEvents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|it| it["pullRequestEventType"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "PULL_REQUEST_CREATED",
            "PULL_REQUEST_APPROVAL_RULE_CREATED",
            "PULL_REQUEST_APPROVAL_STATE_CHANGED",
            "PULL_REQUEST_MERGE_STATE_CHANGED",
            "PULL_REQUEST_STATUS_CHANGED",
        ]
    );

    // A branch that changes a.txt as main does too conflicts: no strategy merges it.
    commit(&clone, "a.txt", "two\n", "main changes a");
    git_ok(&clone, &["push", "-q", &url, "main"]);
    git_ok(&clone, &["checkout", "-q", "-b", "clash", &first]);
    commit(&clone, "a.txt", "three\n", "clash changes a");
    git_ok(&clone, &["push", "-q", &url, "clash"]);
    let clash = text(&create(&server, &admin, "clash")["pullRequestId"]);
    for how in [
        "merge-pull-request-by-three-way",
        "merge-pull-request-by-squash",
        "merge-pull-request-by-fast-forward",
    ] {
        refused(
            &server,
            &admin,
            &[how, "--pull-request-id", &clash, "--repository-name", "demo"],
            "ManualMergeRequiredException",
        );
    }
    // A push to the source branch is a new revision: the approvals of the old one are gone.
    let old = call(&server, &admin, &["get-pull-request", "--pull-request-id", &clash]);
    let old_revision = text(&old["pullRequest"]["revisionId"]);
    let mut approve_clash = approve.to_vec();
    approve_clash[2] = &clash;
    approve_clash[4] = &old_revision;
    call(&server, &bob, &approve_clash);
    commit(&clone, "d.txt", "more\n", "more on clash");
    git_ok(&clone, &["push", "-q", &url, "clash"]);
    let new = call(&server, &admin, &["get-pull-request", "--pull-request-id", &clash]);
    assert_ne!(text(&new["pullRequest"]["revisionId"]), old_revision);
    refused(&server, &bob, &approve_clash, "RevisionNotCurrentException");
    call(
        &server,
        &admin,
        &[
            "update-pull-request-status",
            "--pull-request-id",
            &clash,
            "--pull-request-status",
            "CLOSED",
        ],
    );

    // A fast-forward merge moves main to the source commit itself.
    git_ok(&clone, &["checkout", "-q", "main"]);
    git_ok(&clone, &["checkout", "-q", "-b", "quick"]);
    let quick = commit(&clone, "e.txt", "quick\n", "quick");
    git_ok(&clone, &["push", "-q", &url, "quick"]);
    let ff = text(&create(&server, &admin, "quick")["pullRequestId"]);
    let merged = call(
        &server,
        &admin,
        &[
            "merge-pull-request-by-fast-forward",
            "--pull-request-id",
            &ff,
            "--repository-name",
            "demo",
            "--source-commit-id",
            &quick,
        ],
    )["pullRequest"]
        .clone();
    assert_eq!(merged["pullRequestTargets"][0]["mergeMetadata"]["mergeCommitId"], quick.as_str());
    let branch = call(
        &server,
        &admin,
        &["get-branch", "--repository-name", "demo", "--branch-name", "main"],
    );
    assert_eq!(branch["branch"]["commitId"], quick.as_str());
    let open = call(
        &server,
        &admin,
        &["list-pull-requests", "--repository-name", "demo", "--pull-request-status", "OPEN"],
    );
    assert_eq!(open["pullRequestIds"], json!([]));
}
