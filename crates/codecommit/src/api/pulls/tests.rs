//! Unit tests of pull requests' pure parts: rule documents, pool matching, evaluation of
//! approvals per revision, and the grouping of comments.

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
