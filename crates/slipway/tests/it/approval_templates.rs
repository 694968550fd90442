//! CodeCommit's approval rule templates through the real `aws` CLI and real git: a template
//! associated with a repository gives its new pull requests an approval rule that holds the
//! merge back until a second user approves; a template for another destination branch does
//! not apply; templates are listed, read, renamed (keeping their associations), changed,
//! disassociated and deleted.

#![allow(clippy::disallowed_methods)]

use serde_json::json;

use crate::Sandbox;
use crate::server::RunningServer;
use crate::support::{bob, call, commit, git_ok, push_url, refused, text};

fn content(needed: u64, references: Option<&[&str]>) -> String {
    let mut document = json!({
        "Version": "2018-11-08",
        "Statements": [{
            "Type": "Approvers",
            "NumberOfApprovalsNeeded": needed,
            "ApprovalPoolMembers": ["arn:aws:iam::000000000000:user/*"],
        }],
    });
    if let Some(references) = references {
        document["DestinationReferences"] = json!(references);
    }
    document.to_string()
}

#[test]
fn approval_rule_templates_give_new_pull_requests_their_rules() {
    let sandbox = Sandbox::new();
    let server =
        RunningServer::start_with(&sandbox.path("data"), "127.0.0.1:0", &["--no-local-agent"]);
    let admin = server.credentials();
    let bob = bob(&sandbox, &server);
    call(&server, &admin, &["create-repository", "--repository-name", "demo"]);
    call(&server, &admin, &["create-repository", "--repository-name", "other"]);
    let url = push_url(&sandbox, &server, "demo");
    let work = sandbox.path("work");
    std::fs::create_dir_all(&work).unwrap();
    git_ok(&work, &["init", "-q", "-b", "main"]);
    commit(&work, "a.txt", "one\n", "first");
    git_ok(&work, &["checkout", "-q", "-b", "feature"]);
    let feature = commit(&work, "b.txt", "feature\n", "feature");
    git_ok(&work, &["push", "-q", &url, "main", "feature"]);

    // Two templates: one for every branch, one only for release.
    let created = call(
        &server,
        &admin,
        &[
            "create-approval-rule-template",
            "--approval-rule-template-name",
            "one-approval",
            "--approval-rule-template-description",
            "Somebody else looks first",
            "--approval-rule-template-content",
            &content(1, None),
        ],
    )["approvalRuleTemplate"]
        .clone();
    let template_id = text(&created["approvalRuleTemplateId"]);
    assert_eq!(template_id.len(), 36, "{created}");
    assert_eq!(created["approvalRuleTemplateName"], "one-approval");
    assert_eq!(created["approvalRuleTemplateDescription"], "Somebody else looks first");
    assert_eq!(created["lastModifiedUser"], "arn:aws:iam::000000000000:user/admin");
    assert_eq!(text(&created["ruleContentSha256"]).len(), 64);
    let release_only = content(2, Some(&["refs/heads/release"]));
    call(
        &server,
        &admin,
        &[
            "create-approval-rule-template",
            "--approval-rule-template-name",
            "release-only",
            "--approval-rule-template-content",
            &release_only,
        ],
    );
    refused(
        &server,
        &admin,
        &[
            "create-approval-rule-template",
            "--approval-rule-template-name",
            "one-approval",
            "--approval-rule-template-content",
            &content(1, None),
        ],
        "ApprovalRuleTemplateNameAlreadyExistsException",
    );
    refused(
        &server,
        &admin,
        &[
            "create-approval-rule-template",
            "--approval-rule-template-name",
            "broken",
            "--approval-rule-template-content",
            r#"{"Version":"2018-11-08","Statements":[]}"#,
        ],
        "InvalidApprovalRuleTemplateContentException",
    );
    let listed = call(&server, &admin, &["list-approval-rule-templates"]);
    assert_eq!(listed["approvalRuleTemplateNames"], json!(["one-approval", "release-only"]));
    let first = call(&server, &admin, &["list-approval-rule-templates", "--max-results", "1"]);
    assert_eq!(first["approvalRuleTemplateNames"], json!(["one-approval"]));
    let token = text(&first["nextToken"]);
    let second = call(
        &server,
        &admin,
        &["list-approval-rule-templates", "--max-results", "1", "--next-token", &token],
    );
    assert_eq!(second["approvalRuleTemplateNames"], json!(["release-only"]));
    assert!(second.get("nextToken").is_none(), "{second}");

    // Associated with demo; renamed, the template stays associated.
    call(
        &server,
        &admin,
        &[
            "associate-approval-rule-template-with-repository",
            "--approval-rule-template-name",
            "one-approval",
            "--repository-name",
            "demo",
        ],
    );
    let batch = call(
        &server,
        &admin,
        &[
            "batch-associate-approval-rule-template-with-repositories",
            "--approval-rule-template-name",
            "release-only",
            "--repository-names",
            "demo",
            "other",
            "missing",
        ],
    );
    assert_eq!(batch["associatedRepositoryNames"], json!(["demo", "other"]));
    assert_eq!(batch["errors"][0]["repositoryName"], "missing");
    assert_eq!(batch["errors"][0]["errorCode"], "RepositoryDoesNotExistException");
    let renamed = call(
        &server,
        &admin,
        &[
            "update-approval-rule-template-name",
            "--old-approval-rule-template-name",
            "one-approval",
            "--new-approval-rule-template-name",
            "needs-one",
        ],
    );
    assert_eq!(renamed["approvalRuleTemplate"]["approvalRuleTemplateId"], json!(template_id));
    let for_demo = call(
        &server,
        &admin,
        &["list-associated-approval-rule-templates-for-repository", "--repository-name", "demo"],
    );
    assert_eq!(for_demo["approvalRuleTemplateNames"], json!(["needs-one", "release-only"]));
    let repositories = call(
        &server,
        &admin,
        &[
            "list-repositories-for-approval-rule-template",
            "--approval-rule-template-name",
            "release-only",
        ],
    );
    assert_eq!(repositories["repositoryNames"], json!(["demo", "other"]));
    refused(
        &server,
        &admin,
        &["get-approval-rule-template", "--approval-rule-template-name", "one-approval"],
        "ApprovalRuleTemplateDoesNotExistException",
    );

    // Description and content change; a stale SHA-256 is refused.
    call(
        &server,
        &admin,
        &[
            "update-approval-rule-template-description",
            "--approval-rule-template-name",
            "needs-one",
            "--approval-rule-template-description",
            "One approval",
        ],
    );
    let sha = text(&created["ruleContentSha256"]);
    let new_content = content(1, Some(&["refs/heads/main"]));
    refused(
        &server,
        &admin,
        &[
            "update-approval-rule-template-content",
            "--approval-rule-template-name",
            "needs-one",
            "--new-rule-content",
            &new_content,
            "--existing-rule-content-sha256",
            &"0".repeat(64),
        ],
        "InvalidRuleContentSha256Exception",
    );
    call(
        &server,
        &admin,
        &[
            "update-approval-rule-template-content",
            "--approval-rule-template-name",
            "needs-one",
            "--new-rule-content",
            &new_content,
            "--existing-rule-content-sha256",
            &sha,
        ],
    );
    let got = call(
        &server,
        &admin,
        &["get-approval-rule-template", "--approval-rule-template-name", "needs-one"],
    )["approvalRuleTemplate"]
        .clone();
    assert_eq!(got["approvalRuleTemplateDescription"], "One approval");
    assert_eq!(got["approvalRuleTemplateContent"], json!(new_content));
    assert_ne!(got["ruleContentSha256"], json!(sha));

    // A pull request into main gets the rule of needs-one only, which holds the merge back.
    let targets = "repositoryName=demo,sourceReference=feature,destinationReference=main";
    let pull =
        call(&server, &admin, &["create-pull-request", "--title", "Feature", "--targets", targets])
            ["pullRequest"]
            .clone();
    let rules = pull["approvalRules"].as_array().unwrap();
    assert_eq!(rules.len(), 1, "{pull}");
    assert_eq!(rules[0]["approvalRuleName"], "needs-one");
    assert_eq!(rules[0]["approvalRuleContent"], json!(new_content));
    assert_eq!(
        rules[0]["originApprovalRuleTemplate"],
        json!({ "approvalRuleTemplateId": template_id, "approvalRuleTemplateName": "needs-one" })
    );
    let id = text(&pull["pullRequestId"]);
    let revision = text(&pull["revisionId"]);
    refused(
        &server,
        &admin,
        &[
            "delete-pull-request-approval-rule",
            "--pull-request-id",
            &id,
            "--approval-rule-name",
            "needs-one",
        ],
        "CannotDeleteApprovalRuleFromTemplateException",
    );
    let merge = [
        "merge-pull-request-by-fast-forward",
        "--pull-request-id",
        &id,
        "--repository-name",
        "demo",
    ];
    refused(&server, &admin, &merge, "PullRequestApprovalRulesNotSatisfiedException");
    call(
        &server,
        &bob,
        &[
            "update-pull-request-approval-state",
            "--pull-request-id",
            &id,
            "--revision-id",
            &revision,
            "--approval-state",
            "APPROVE",
        ],
    );
    let merged = call(&server, &admin, &merge)["pullRequest"].clone();
    assert_eq!(merged["pullRequestTargets"][0]["mergeMetadata"]["isMerged"], true);
    let branch = call(
        &server,
        &admin,
        &["get-branch", "--repository-name", "demo", "--branch-name", "main"],
    );
    assert_eq!(branch["branch"]["commitId"], json!(feature));

    // An associated template cannot be deleted; disassociated, it can.
    let delete = ["delete-approval-rule-template", "--approval-rule-template-name", "release-only"];
    refused(&server, &admin, &delete, "ApprovalRuleTemplateInUseException");
    call(
        &server,
        &admin,
        &[
            "disassociate-approval-rule-template-from-repository",
            "--approval-rule-template-name",
            "release-only",
            "--repository-name",
            "demo",
        ],
    );
    let batch = call(
        &server,
        &admin,
        &[
            "batch-disassociate-approval-rule-template-from-repositories",
            "--approval-rule-template-name",
            "release-only",
            "--repository-names",
            "other",
        ],
    );
    assert_eq!(batch["disassociatedRepositoryNames"], json!(["other"]));
    let deleted = call(&server, &admin, &delete);
    assert!(
        deleted["approvalRuleTemplateId"].as_str().is_some_and(|it| it.len() == 36),
        "{deleted}"
    );
    let listed = call(&server, &admin, &["list-approval-rule-templates"]);
    assert_eq!(listed["approvalRuleTemplateNames"], json!(["needs-one"]));
    let for_demo = call(
        &server,
        &admin,
        &["list-associated-approval-rule-templates-for-repository", "--repository-name", "demo"],
    );
    assert_eq!(for_demo["approvalRuleTemplateNames"], json!(["needs-one"]));
}
