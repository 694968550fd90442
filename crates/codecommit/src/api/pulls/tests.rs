//! Unit tests of pull requests' pure parts: rule documents, pool matching, evaluation of
//! approvals per revision, the grouping of comments, and the typed inputs and outputs.

use serde_json::json;

use super::approvals::{Statement, evaluation, glob, in_pool, parse_rule, satisfied};
use super::comments::group;

const BOB: &str = "arn:aws:iam::000000000000:user/bob";
const CAROL: &str = "arn:aws:iam::000000000000:user/carol";

fn rule(needed: u64, pool: &[&str]) -> String {
    json!({
        "Version": "2018-11-08",
        "Statements": [{ "Type": "Approvers", "NumberOfApprovalsNeeded": needed, "ApprovalPoolMembers": pool }],
    })
    .to_string()
}

#[test]
fn rule_documents_parse_and_bad_ones_say_why() {
    assert_eq!(
        parse_rule(&rule(2, &[BOB])).unwrap(),
        vec![Statement { needed: 2, pool: vec![BOB.to_owned()] }]
    );
    let no_pool = r#"{"Version":"2018-11-08","Statements":[{"Type":"Approvers","NumberOfApprovalsNeeded":1}]}"#;
    assert_eq!(parse_rule(no_pool).unwrap()[0].pool, Vec::<String>::new());
    for bad in [
        "not json",
        r#"{"Version":"2020-01-01","Statements":[{"Type":"Approvers","NumberOfApprovalsNeeded":1}]}"#,
        r#"{"Version":"2018-11-08","Statements":[]}"#,
        r#"{"Version":"2018-11-08","Statements":[{"Type":"Other","NumberOfApprovalsNeeded":1}]}"#,
        r#"{"Version":"2018-11-08","Statements":[{"Type":"Approvers","NumberOfApprovalsNeeded":0}]}"#,
        r#"{"Version":"2018-11-08","Statements":[{"Type":"Approvers","NumberOfApprovalsNeeded":1,"ApprovalPoolMembers":[1]}]}"#,
    ] {
        assert!(parse_rule(bad).is_err(), "{bad}");
    }
}

#[test]
fn globs_match_runs_and_single_characters() {
    assert!(glob("*", ""));
    assert!(glob("arn:aws:iam::*:user/*", BOB));
    assert!(glob("a*c*e", "abcde"));
    assert!(glob("b?b", "bob"));
    assert!(!glob("b?b", "boob"));
    assert!(!glob("arn:aws:iam::*:user/b", BOB));
}

#[test]
fn pool_members_name_users_by_arn_or_approver_name() {
    assert!(in_pool(BOB, BOB));
    assert!(in_pool("arn:aws:iam::000000000000:user/*", BOB));
    assert!(in_pool("CodeCommitApprovers:000000000000:bob", BOB));
    assert!(in_pool("CodeCommitApprovers:*:b*", BOB));
    assert!(!in_pool("CodeCommitApprovers:111111111111:bob", BOB));
    assert!(!in_pool("CodeCommitApprovers:000000000000:bob", CAROL));
    assert!(!in_pool("arn:aws:sts::000000000000:assumed-role/Review/*", BOB));
}

#[test]
fn rules_count_approvals_from_their_pool_only() {
    assert!(satisfied(&rule(1, &[]), &[CAROL]));
    assert!(!satisfied(&rule(1, &[BOB]), &[CAROL]));
    assert!(satisfied(&rule(1, &[BOB]), &[CAROL, BOB]));
    assert!(!satisfied(&rule(2, &["CodeCommitApprovers:000000000000:*"]), &[BOB]));
    assert!(satisfied(&rule(2, &["CodeCommitApprovers:000000000000:*"]), &[BOB, CAROL]));
    assert!(!satisfied("broken", &[BOB]));
}

#[test]
fn evaluation_counts_only_the_current_revision() {
    let mut body = json!({
        "revisionId": "r2",
        "approvalRules": [
            { "approvalRuleName": "one", "approvalRuleContent": rule(1, &[]) },
            { "approvalRuleName": "bob", "approvalRuleContent": rule(1, &[BOB]) },
        ],
        "_slipway": {
            "approvals": [{ "userArn": BOB, "revisionId": "r1" }, { "userArn": CAROL, "revisionId": "r2" }],
            "override": { "revisionId": "r1", "overrider": BOB },
        },
    });
    assert_eq!(
        evaluation(&body),
        json!({
            "approved": false,
            "overridden": false,
            "approvalRulesSatisfied": ["one"],
            "approvalRulesNotSatisfied": ["bob"],
        })
    );
    body["_slipway"]["override"]["revisionId"] = json!("r2");
    assert_eq!(evaluation(&body)["overridden"], true);
    assert!(super::approvals::mergeable(&body));
    body["approvalRules"] = json!([]);
    body["_slipway"]["override"] = json!(null);
    assert_eq!(evaluation(&body)["approved"], true, "no rules, nothing to satisfy");
}

#[test]
fn comments_group_per_commits_and_location() {
    let post = |before: &str, location: Option<&str>, id: &str| {
        let mut it = json!({
            "pullRequestId": "1",
            "beforeCommitId": before,
            "afterCommitId": "a",
            "comment": { "commentId": id },
        });
        if let Some(path) = location {
            it["location"] = json!({ "filePath": path, "relativeFileVersion": "AFTER" });
        }
        it
    };
    let posts = [
        post("b", None, "1"),
        post("b", Some("x"), "2"),
        post("b", None, "3"),
        post("c", None, "4"),
    ];
    let refs: Vec<&serde_json::Value> = posts.iter().collect();
    let groups = group(&refs);
    assert_eq!(groups.len(), 3);
    assert_eq!(groups[0]["comments"], json!([{ "commentId": "1" }, { "commentId": "3" }]));
    assert_eq!(groups[1]["location"]["filePath"], "x");
    assert!(groups[0].get("comment").is_none());
    assert_eq!(groups[2]["beforeCommitId"], "c");
}

#[test]
fn references_are_named_in_full() {
    assert_eq!(super::full_reference("feature"), "refs/heads/feature");
    assert_eq!(super::full_reference("refs/heads/x"), "refs/heads/x");
}

#[test]
fn inputs_take_botocore_member_names() {
    let input: super::CreatePullRequestInput = awsapi::json::typed(json!({
        "title": "t",
        "targets": [{ "repositoryName": "r", "sourceReference": "feature" }],
        "clientRequestToken": "x",
    }))
    .unwrap();
    let targets = input.targets.unwrap();
    assert_eq!(targets[0].repository_name.as_deref(), Some("r"));
    assert_eq!(targets[0].destination_reference, None);
    let input: super::PostCommentForPullRequestInput = awsapi::json::typed(json!({
        "pullRequestId": "1",
        "location": { "filePath": "a", "filePosition": 3, "relativeFileVersion": "BEFORE" },
    }))
    .unwrap();
    assert_eq!(input.location.unwrap().file_position, Some(3));
    let input: super::MergePullRequestInput =
        awsapi::json::typed(json!({ "pullRequestId": "1", "conflictDetailLevel": "LINE_LEVEL" }))
            .unwrap();
    assert_eq!(input.pull_request_id.as_deref(), Some("1"), "unread members are ignored");
}

#[test]
fn outputs_write_codecommit_member_names() {
    fn json<T: serde::Serialize>(output: &T) -> serde_json::Value {
        serde_json::to_value(output).unwrap()
    }
    let state = super::GetPullRequestOverrideStateOutput { overridden: false, overrider: None };
    assert_eq!(json(&state), json!({ "overridden": false }));
    let states = super::GetPullRequestApprovalStatesOutput {
        approvals: vec![super::Approval { user_arn: BOB.to_owned(), approval_state: "APPROVE" }],
    };
    assert_eq!(
        json(&states),
        json!({ "approvals": [{ "userArn": BOB, "approvalState": "APPROVE" }] })
    );
    let listed =
        super::ListPullRequestsOutput { pull_request_ids: vec!["2".to_owned()], next_token: None };
    assert_eq!(json(&listed), json!({ "pullRequestIds": ["2"] }));
    let posted = super::PostCommentForPullRequestOutput {
        repository_name: "r".to_owned(),
        pull_request_id: "1".to_owned(),
        before_commit_id: "b".to_owned(),
        after_commit_id: "a".to_owned(),
        before_blob_id: None,
        after_blob_id: Some("x".to_owned()),
        location: Some(super::Location {
            file_path: Some("f".to_owned()),
            file_position: None,
            relative_file_version: Some("AFTER".to_owned()),
        }),
        comment: json!({ "commentId": "c" }),
    };
    assert_eq!(
        json(&posted),
        json!({
            "repositoryName": "r",
            "pullRequestId": "1",
            "beforeCommitId": "b",
            "afterCommitId": "a",
            "afterBlobId": "x",
            "location": { "filePath": "f", "relativeFileVersion": "AFTER" },
            "comment": { "commentId": "c" },
        })
    );
}
