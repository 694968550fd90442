//! Tests of policy parsing and evaluation, table-driven: statement matching, every condition
//! operator, policy variables, deny beating allow, trust policies, every malformed-document
//! error and the refusal messages.

use super::*;

const ACCOUNT: &str = "123456789012";
const BOB: &str = "arn:aws:iam::123456789012:user/bob";
const REPO: &str = "arn:aws:codecommit:us-east-1:123456789012:MyDemoRepo";
const PROJECT: &str = "arn:aws:codebuild:us-east-1:123456789012:project/p";

fn bob() -> Principal {
    Principal {
        arn: BOB.to_owned(),
        account: ACCOUNT.to_owned(),
        user_name: Some("bob".to_owned()),
        user_id: "AIDAEXAMPLEBOB".to_owned(),
    }
}

/// A 2012-10-17 document with these statements (JSON text of an array's items).
fn document(statements: &str) -> String {
    format!(r#"{{"Version": "2012-10-17", "Statement": [{statements}]}}"#)
}

fn context(keys: &[(&str, &[&str])]) -> Context {
    let mut context = Context::new();
    for (key, values) in keys {
        context.set(key, values.iter().map(|value| (*value).to_owned()).collect());
    }
    context
}

/// The decision of identity policies (given as documents) on one request by bob.
fn decide(documents: &[&str], action: &str, resource: &str, keys: &[(&str, &[&str])]) -> Decision {
    let policies: Vec<Policy> = documents
        .iter()
        .map(|text| Policy::parse_identity(text).unwrap_or_else(|e| panic!("{e}: {text}")))
        .collect();
    let named: Vec<(&str, &Policy)> = policies.iter().map(|policy| ("p", policy)).collect();
    let principal = bob();
    let context = context(keys);
    let request = Request { principal: &principal, action, resource, context: &context };
    evaluate(&named, &request).decision
}

use Decision::{Allowed, ExplicitDeny, ImplicitDeny};

#[test]
fn statements_match_actions_and_resources() {
    // (statement, action, resource, decision)
    let cases: &[(&str, &str, &str, Decision)] = &[
        (
            r#"{"Effect": "Allow", "Action": "*", "Resource": "*"}"#,
            "codecommit:GitPush",
            REPO,
            Allowed,
        ),
        (
            r#"{"Effect": "Allow", "Action": "codecommit:*", "Resource": "*"}"#,
            "codecommit:GitPush",
            REPO,
            Allowed,
        ),
        (
            r#"{"Effect": "Allow", "Action": "codecommit:*", "Resource": "*"}"#,
            "codebuild:StartBuild",
            PROJECT,
            ImplicitDeny,
        ),
        // Action names are case-insensitive.
        (
            r#"{"Effect": "Allow", "Action": "CodeCommit:gitpush", "Resource": "*"}"#,
            "codecommit:GitPush",
            REPO,
            Allowed,
        ),
        (
            r#"{"Effect": "Allow", "Action": "codecommit:Get*", "Resource": "*"}"#,
            "codecommit:GetBranch",
            REPO,
            Allowed,
        ),
        (
            r#"{"Effect": "Allow", "Action": "codecommit:Get*", "Resource": "*"}"#,
            "codecommit:GitPush",
            REPO,
            ImplicitDeny,
        ),
        (
            r#"{"Effect": "Allow", "Action": "codecommit:Git????", "Resource": "*"}"#,
            "codecommit:GitPush",
            REPO,
            Allowed,
        ),
        (
            r#"{"Effect": "Allow", "Action": "codecommit:Git???", "Resource": "*"}"#,
            "codecommit:GitPush",
            REPO,
            ImplicitDeny,
        ),
        (
            r#"{"Effect": "Allow", "Action": "codecommit:*Pu*", "Resource": "*"}"#,
            "codecommit:GitPush",
            REPO,
            Allowed,
        ),
        (
            r#"{"Effect": "Allow", "Action": "codecommit:*Pull*", "Resource": "*"}"#,
            "codecommit:GitPush",
            REPO,
            ImplicitDeny,
        ),
        (
            r#"{"Effect": "Allow", "Action": ["codebuild:StartBuild", "codecommit:GitPull"], "Resource": "*"}"#,
            "codecommit:GitPull",
            REPO,
            Allowed,
        ),
        // NotAction: everything but.
        (
            r#"{"Effect": "Allow", "NotAction": "codecommit:GitPush", "Resource": "*"}"#,
            "codecommit:GitPush",
            REPO,
            ImplicitDeny,
        ),
        (
            r#"{"Effect": "Allow", "NotAction": "codecommit:GitPush", "Resource": "*"}"#,
            "codecommit:GitPull",
            REPO,
            Allowed,
        ),
        (
            r#"{"Effect": "Allow", "NotAction": ["iam:*", "sts:*"], "Resource": "*"}"#,
            "iam:CreateUser",
            "*",
            ImplicitDeny,
        ),
        // Resources: case-sensitive globs.
        (
            r#"{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:codecommit:us-east-1:123456789012:MyDemoRepo"}"#,
            "codecommit:GitPush",
            REPO,
            Allowed,
        ),
        (
            r#"{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:codecommit:us-east-1:123456789012:mydemorepo"}"#,
            "codecommit:GitPush",
            REPO,
            ImplicitDeny,
        ),
        (
            r#"{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:codecommit:*:123456789012:My*"}"#,
            "codecommit:GitPush",
            REPO,
            Allowed,
        ),
        (
            r#"{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:codecommit:*:*:Other*"}"#,
            "codecommit:GitPush",
            REPO,
            ImplicitDeny,
        ),
        (
            r#"{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:codecommit:*"}"#,
            "codecommit:GitPush",
            REPO,
            Allowed,
        ),
        (
            r#"{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:codecommit:us-east-1:123456789012:MyDemoRep?"}"#,
            "codecommit:GitPush",
            REPO,
            Allowed,
        ),
        (
            r#"{"Effect": "Allow", "Action": "*", "Resource": ["arn:aws:codebuild:*", "arn:aws:codecommit:*:*:MyDemoRepo"]}"#,
            "codecommit:GitPush",
            REPO,
            Allowed,
        ),
        // NotResource.
        (
            r#"{"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:codecommit:*:*:MyDemoRepo"}"#,
            "codecommit:GitPush",
            REPO,
            ImplicitDeny,
        ),
        (
            r#"{"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:codecommit:*:*:Other"}"#,
            "codecommit:GitPush",
            REPO,
            Allowed,
        ),
        // Deny statements.
        (
            r#"{"Effect": "Deny", "Action": "*", "Resource": "*"}"#,
            "codecommit:GitPush",
            REPO,
            ExplicitDeny,
        ),
        (
            r#"{"Effect": "Deny", "NotAction": "codecommit:Get*", "Resource": "*"}"#,
            "codecommit:GetBranch",
            REPO,
            ImplicitDeny,
        ),
        // A statement as one object rather than a list.
        (
            r#"{"Effect": "Allow", "Action": "codecommit:GitPull", "Resource": "*", "Sid": "Pull1"}"#,
            "codecommit:GitPull",
            REPO,
            Allowed,
        ),
    ];
    for (statement, action, resource, expected) in cases {
        let text = document(statement);
        assert_eq!(
            decide(&[&text], action, resource, &[]),
            *expected,
            "{statement} on {action} {resource}"
        );
    }
    let single = r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "codecommit:GitPull", "Resource": "*"}}"#;
    assert_eq!(decide(&[single], "codecommit:GitPull", REPO, &[]), Allowed);
}

#[test]
fn deny_beats_allow_and_nothing_allows_by_default() {
    let allow = document(r#"{"Effect": "Allow", "Action": "codecommit:*", "Resource": "*"}"#);
    let deny = document(r#"{"Effect": "Deny", "Action": "codecommit:GitPush", "Resource": "*"}"#);
    assert_eq!(decide(&[], "codecommit:GitPush", REPO, &[]), ImplicitDeny);
    assert_eq!(decide(&[&allow], "codecommit:GitPush", REPO, &[]), Allowed);
    assert_eq!(decide(&[&allow, &deny], "codecommit:GitPush", REPO, &[]), ExplicitDeny);
    assert_eq!(decide(&[&deny, &allow], "codecommit:GitPush", REPO, &[]), ExplicitDeny);
    assert_eq!(decide(&[&deny], "codecommit:GitPush", REPO, &[]), ExplicitDeny);
    assert_eq!(decide(&[&allow, &deny], "codecommit:GitPull", REPO, &[]), Allowed);
    let both = document(
        r#"{"Effect": "Allow", "Action": "*", "Resource": "*"},
           {"Effect": "Deny", "Action": "codecommit:Delete*", "Resource": "*"}"#,
    );
    assert_eq!(decide(&[&both], "codecommit:DeleteRepository", REPO, &[]), ExplicitDeny);
    assert_eq!(decide(&[&both], "codecommit:GetRepository", REPO, &[]), Allowed);
}

#[test]
fn an_evaluation_names_the_statements_that_decided_it() {
    let first = Policy::parse_identity(&document(
        r#"{"Sid": "All", "Effect": "Allow", "Action": "*", "Resource": "*"},
           {"Effect": "Allow", "Action": "codecommit:*", "Resource": "*"}"#,
    ))
    .unwrap();
    let second = Policy::parse_identity(&document(
        r#"{"Sid": "Reads", "Effect": "Allow", "Action": "codecommit:Get*", "Resource": "*"},
           {"Sid": "NoPush", "Effect": "Deny", "Action": "codecommit:GitPush", "Resource": "*",
            "Condition": {"StringEquals": {"codecommit:References": "refs/heads/main"}}}"#,
    ))
    .unwrap();
    let policies = [("arn:aws:iam::123456789012:policy/first", &first), ("second", &second)];
    let principal = bob();
    let empty = Context::new();
    let request =
        |action, context| Request { principal: &principal, action, resource: REPO, context };

    let evaluation = evaluate(&policies, &request("codecommit:GetBranch", &empty));
    assert_eq!(evaluation.decision, Allowed);
    assert_eq!(
        evaluation.matched_statements,
        [
            MatchedStatement {
                policy: "arn:aws:iam::123456789012:policy/first",
                index: 0,
                sid: Some("All")
            },
            MatchedStatement {
                policy: "arn:aws:iam::123456789012:policy/first",
                index: 1,
                sid: None
            },
            MatchedStatement { policy: "second", index: 0, sid: Some("Reads") },
        ]
    );
    assert!(evaluation.missing_context_values.is_empty());

    // The deny's condition lacks its key: allowed, and the key is reported missing.
    let evaluation = evaluate(&policies, &request("codecommit:GitPush", &empty));
    assert_eq!(evaluation.decision, Allowed);
    assert_eq!(evaluation.missing_context_values, ["codecommit:References"]);

    let main = context(&[("codecommit:References", &["refs/heads/main"])]);
    let evaluation = evaluate(&policies, &request("codecommit:GitPush", &main));
    assert_eq!(evaluation.decision, ExplicitDeny);
    assert_eq!(
        evaluation.matched_statements,
        [MatchedStatement { policy: "second", index: 1, sid: Some("NoPush") }]
    );

    let evaluation = evaluate(&[], &request("codecommit:GitPush", &main));
    assert_eq!(evaluation.decision, ImplicitDeny);
    assert!(evaluation.matched_statements.is_empty());
    assert_eq!(Allowed.as_str(), "allowed");
    assert_eq!(ImplicitDeny.as_str(), "implicitDeny");
    assert_eq!(ExplicitDeny.as_str(), "explicitDeny");
}

/// Whether a statement allowing everything under this `Condition` element allows bob's
/// request with these context keys.
fn condition_holds(condition: &str, keys: &[(&str, &[&str])]) -> bool {
    let text = document(&format!(
        r#"{{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {condition}}}"#
    ));
    decide(&[&text], "codecommit:GitPush", REPO, keys) == Allowed
}

/// Context keys and their values, as test data.
type Keys = &'static [(&'static str, &'static [&'static str])];

type ConditionCase = (&'static str, Keys, bool);

fn check_conditions(cases: &[ConditionCase]) {
    for (condition, keys, expected) in cases {
        assert_eq!(condition_holds(condition, keys), *expected, "{condition} with {keys:?}");
    }
}

#[test]
fn string_operators() {
    check_conditions(&[
        (r#"{"StringEquals": {"aws:username": "bob"}}"#, &[], true),
        (r#"{"StringEquals": {"aws:username": "Bob"}}"#, &[], false),
        (r#"{"StringEquals": {"aws:username": ["alice", "bob"]}}"#, &[], true),
        (r#"{"StringEquals": {"aws:username": ["alice", "carol"]}}"#, &[], false),
        // Key names are case-insensitive.
        (r#"{"StringEquals": {"AWS:UserName": "bob"}}"#, &[], true),
        (r#"{"StringEquals": {"s3:prefix": "home"}}"#, &[("S3:Prefix", &["home"])], true),
        // `*` is not a wildcard for StringEquals.
        (r#"{"StringEquals": {"aws:username": "b*"}}"#, &[], false),
        (r#"{"StringEquals": {"aws:username": "b*"}}"#, &[("aws:username", &["b*"])], true),
        // A missing key: false, and true for the negated operator.
        (r#"{"StringEquals": {"aws:SourceVpc": "vpc-1"}}"#, &[], false),
        (r#"{"StringNotEquals": {"aws:SourceVpc": "vpc-1"}}"#, &[], true),
        (r#"{"StringNotEquals": {"aws:username": "bob"}}"#, &[], false),
        (r#"{"StringNotEquals": {"aws:username": "alice"}}"#, &[], true),
        // A negated operator with several values: none may match (NOR).
        (r#"{"StringNotEquals": {"aws:username": ["alice", "bob"]}}"#, &[], false),
        (r#"{"StringNotEquals": {"aws:username": ["alice", "carol"]}}"#, &[], true),
        (r#"{"StringEqualsIgnoreCase": {"aws:username": "BOB"}}"#, &[], true),
        (r#"{"StringEqualsIgnoreCase": {"aws:username": "bobby"}}"#, &[], false),
        (r#"{"StringNotEqualsIgnoreCase": {"aws:username": "BOB"}}"#, &[], false),
        (r#"{"StringNotEqualsIgnoreCase": {"aws:username": "ALICE"}}"#, &[], true),
        (r#"{"StringEqualsIgnoreCase": {"k:x": "ÉTÉ"}}"#, &[("k:x", &["été"])], true),
        (r#"{"StringLike": {"aws:username": "b*"}}"#, &[], true),
        (r#"{"StringLike": {"aws:username": "B*"}}"#, &[], false),
        (r#"{"StringLike": {"aws:username": "b?b"}}"#, &[], true),
        (r#"{"StringLike": {"aws:username": "b?"}}"#, &[], false),
        (r#"{"StringLike": {"aws:username": "*"}}"#, &[], true),
        (r#"{"StringLike": {"aws:username": "*o*"}}"#, &[], true),
        (r#"{"StringLike": {"aws:username": "*x*"}}"#, &[], false),
        (
            r#"{"StringLike": {"s3:prefix": "home/*/docs/*"}}"#,
            &[("s3:prefix", &["home/bob/docs/a/b"])],
            true,
        ),
        (
            r#"{"StringLike": {"s3:prefix": "home/*/docs/*"}}"#,
            &[("s3:prefix", &["home/bob/doc/a"])],
            false,
        ),
        (r#"{"StringLike": {"s3:prefix": "a*b*c"}}"#, &[("s3:prefix", &["aXbYbZc"])], true),
        (r#"{"StringLike": {"s3:prefix": "a*b*c"}}"#, &[("s3:prefix", &["aXbYbZ"])], false),
        (r#"{"StringLike": {"s3:prefix": "é?"}}"#, &[("s3:prefix", &["éà"])], true),
        (r#"{"StringLike": {"aws:SourceVpc": "*"}}"#, &[], false),
        (r#"{"StringNotLike": {"aws:username": "a*"}}"#, &[], true),
        (r#"{"StringNotLike": {"aws:username": ["a*", "b*"]}}"#, &[], false),
        (r#"{"StringNotLike": {"aws:SourceVpc": "vpc-*"}}"#, &[], true),
        // Several keys under one operator, and several operators: all must hold.
        (
            r#"{"StringEquals": {"aws:username": "bob", "aws:PrincipalAccount": "123456789012"}}"#,
            &[],
            true,
        ),
        (
            r#"{"StringEquals": {"aws:username": "bob", "aws:PrincipalAccount": "999999999999"}}"#,
            &[],
            false,
        ),
        (
            r#"{"StringEquals": {"aws:username": "bob"}, "StringLike": {"aws:PrincipalArn": "*:user/b*"}}"#,
            &[],
            true,
        ),
        (
            r#"{"StringEquals": {"aws:username": "bob"}, "StringLike": {"aws:PrincipalArn": "*:role/*"}}"#,
            &[],
            false,
        ),
        // The principal's own keys.
        (r#"{"StringEquals": {"aws:userid": "AIDAEXAMPLEBOB"}}"#, &[], true),
        (
            r#"{"StringEquals": {"aws:PrincipalArn": "arn:aws:iam::123456789012:user/bob"}}"#,
            &[],
            true,
        ),
        // Numbers and booleans in JSON are compared as their text.
        (r#"{"StringEquals": {"k:n": 5}}"#, &[("k:n", &["5"])], true),
        (r#"{"StringEquals": {"k:n": [true, 7]}}"#, &[("k:n", &["true"])], true),
    ]);
}

#[test]
fn numeric_operators() {
    check_conditions(&[
        (r#"{"NumericEquals": {"s3:max-keys": "10"}}"#, &[("s3:max-keys", &["10"])], true),
        (r#"{"NumericEquals": {"s3:max-keys": 10}}"#, &[("s3:max-keys", &["10.0"])], true),
        (r#"{"NumericEquals": {"s3:max-keys": "10"}}"#, &[("s3:max-keys", &["11"])], false),
        (r#"{"NumericEquals": {"s3:max-keys": ["9", "11"]}}"#, &[("s3:max-keys", &["11"])], true),
        (r#"{"NumericEquals": {"s3:max-keys": "10"}}"#, &[("s3:max-keys", &["ten"])], false),
        (r#"{"NumericEquals": {"s3:max-keys": "10"}}"#, &[], false),
        (r#"{"NumericNotEquals": {"s3:max-keys": "10"}}"#, &[("s3:max-keys", &["11"])], true),
        (
            r#"{"NumericNotEquals": {"s3:max-keys": ["10", "11"]}}"#,
            &[("s3:max-keys", &["11"])],
            false,
        ),
        (r#"{"NumericNotEquals": {"s3:max-keys": "10"}}"#, &[], true),
        (r#"{"NumericLessThan": {"s3:max-keys": "10"}}"#, &[("s3:max-keys", &["9"])], true),
        (r#"{"NumericLessThan": {"s3:max-keys": "10"}}"#, &[("s3:max-keys", &["10"])], false),
        (r#"{"NumericLessThanEquals": {"s3:max-keys": "10"}}"#, &[("s3:max-keys", &["10"])], true),
        (
            r#"{"NumericLessThanEquals": {"s3:max-keys": "10"}}"#,
            &[("s3:max-keys", &["10.5"])],
            false,
        ),
        (r#"{"NumericGreaterThan": {"s3:max-keys": "10"}}"#, &[("s3:max-keys", &["10.5"])], true),
        (r#"{"NumericGreaterThan": {"s3:max-keys": "10"}}"#, &[("s3:max-keys", &["10"])], false),
        (
            r#"{"NumericGreaterThanEquals": {"s3:max-keys": "-1"}}"#,
            &[("s3:max-keys", &["-1"])],
            true,
        ),
        (
            r#"{"NumericGreaterThanEquals": {"s3:max-keys": "0"}}"#,
            &[("s3:max-keys", &["-1"])],
            false,
        ),
        // A policy value that is no number matches nothing.
        (r#"{"NumericLessThan": {"s3:max-keys": "inf"}}"#, &[("s3:max-keys", &["1"])], false),
        (r#"{"NumericEquals": {"s3:max-keys": "NaN"}}"#, &[("s3:max-keys", &["NaN"])], false),
        (r#"{"NumericLessThan": {"s3:max-keys": "many"}}"#, &[("s3:max-keys", &["1"])], false),
    ]);
}

#[test]
fn date_operators() {
    const NOW: &[(&str, &[&str])] = &[("aws:CurrentTime", &["2026-12-03T10:15:30Z"])];
    const EPOCH: &[(&str, &[&str])] = &[("aws:EpochTime", &["1796292930"])];
    check_conditions(&[
        (r#"{"DateEquals": {"aws:CurrentTime": "2026-12-03T10:15:30Z"}}"#, NOW, true),
        (r#"{"DateEquals": {"aws:CurrentTime": "2026-12-03T11:15:30+01:00"}}"#, NOW, true),
        (r#"{"DateEquals": {"aws:CurrentTime": "2026-12-03T10:15:30.000Z"}}"#, NOW, true),
        (r#"{"DateEquals": {"aws:CurrentTime": "1796292930"}}"#, NOW, true),
        (r#"{"DateEquals": {"aws:CurrentTime": 1796292930}}"#, NOW, true),
        (r#"{"DateEquals": {"aws:CurrentTime": "20261203T101530Z"}}"#, NOW, true),
        (r#"{"DateEquals": {"aws:CurrentTime": "2026-12-03T10:15:31Z"}}"#, NOW, false),
        (r#"{"DateNotEquals": {"aws:CurrentTime": "2026-12-03T10:15:31Z"}}"#, NOW, true),
        (r#"{"DateNotEquals": {"aws:CurrentTime": "2026-12-03T10:15:31Z"}}"#, &[], true),
        (r#"{"DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}}"#, NOW, true),
        (r#"{"DateLessThan": {"aws:CurrentTime": "2026-12-03"}}"#, NOW, false),
        (r#"{"DateLessThan": {"aws:CurrentTime": "2026-12-04"}}"#, NOW, true),
        (r#"{"DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}}"#, &[], false),
        (r#"{"DateLessThanEquals": {"aws:CurrentTime": "2026-12-03T10:15:30Z"}}"#, NOW, true),
        (r#"{"DateGreaterThan": {"aws:CurrentTime": "2026-12-03T10:15:29.5Z"}}"#, NOW, true),
        (r#"{"DateGreaterThan": {"aws:CurrentTime": "2026-12-03T10:15:30Z"}}"#, NOW, false),
        (r#"{"DateGreaterThanEquals": {"aws:CurrentTime": "2026-12-03T10:15:30Z"}}"#, NOW, true),
        (r#"{"DateGreaterThan": {"aws:EpochTime": "2026-01-01T00:00:00Z"}}"#, EPOCH, true),
        (r#"{"DateLessThan": {"aws:EpochTime": "1796292931"}}"#, EPOCH, true),
        (r#"{"DateLessThan": {"aws:CurrentTime": "not a date"}}"#, NOW, false),
        (r#"{"DateLessThan": {"aws:CurrentTime": "2026-02-30"}}"#, NOW, false),
        (
            r#"{"DateLessThan": {"aws:CurrentTime": "2027-01-01"}}"#,
            &[("aws:CurrentTime", &["yesterday"])],
            false,
        ),
    ]);
}

#[test]
fn times_are_read_and_written_as_iso_8601() {
    let second = 1_000_000_000i128;
    let cases: &[(&str, Option<i128>)] = &[
        ("1970-01-01T00:00:00Z", Some(0)),
        ("1970-01-01", Some(0)),
        ("0", Some(0)),
        ("1.5", Some(second + second / 2)),
        ("-86400", Some(-86_400 * second)),
        ("1969-12-31T00:00:00Z", Some(-86_400 * second)),
        ("2000-02-29T12:00:00Z", Some(951_825_600 * second)),
        ("2000-02-29T13:30:00+01:30", Some(951_825_600 * second)),
        ("2000-02-29T10:00:00-02:00", Some(951_825_600 * second)),
        ("2000-02-29T12:00Z", Some(951_825_600 * second)),
        ("2000-02-29T12:00:00", Some(951_825_600 * second)),
        ("2001-02-29", None),
        ("2000-13-01", None),
        ("2000-01-01T25:00:00Z", None),
        ("2000-01-01Tnoon", None),
        ("", None),
        ("soon", None),
        ("abcé5678T101530Z", None),
        ("2000-01-01T1é:00Z", None),
        ("2000-01-01T1é00Z", None),
    ];
    for (text, expected) in cases {
        assert_eq!(time::parse(text), *expected, "{text}");
    }
    assert_eq!(time::iso8601(0), "1970-01-01T00:00:00Z");
    assert_eq!(time::iso8601(1_796_292_930), "2026-12-03T10:15:30Z");
    assert_eq!(time::iso8601(951_825_600), "2000-02-29T12:00:00Z");
    assert_eq!(time::iso8601(-1), "1969-12-31T23:59:59Z");

    let mut context = Context::new();
    context.set_time(1_796_292_930);
    assert_eq!(context.get("aws:currenttime"), Some(&["2026-12-03T10:15:30Z".to_owned()][..]));
    assert_eq!(context.get("AWS:EpochTime"), Some(&["1796292930".to_owned()][..]));
    // The keys are written out when read: a context read and one not are the same context.
    let mut unread = Context::new();
    unread.set_time(1_796_292_930);
    assert_eq!(context, unread);
    // A time set explicitly wins; setting the request's time again replaces it.
    context.set("aws:CurrentTime", vec!["2020-01-01T00:00:00Z".to_owned()]);
    assert_eq!(context.get("aws:CurrentTime"), Some(&["2020-01-01T00:00:00Z".to_owned()][..]));
    context.set_time(0);
    assert_eq!(context.get("aws:CurrentTime"), Some(&["1970-01-01T00:00:00Z".to_owned()][..]));
}

#[test]
fn a_requests_global_keys_and_tags() {
    let mut context = Context::for_request("203.0.113.7", true, 1_796_292_930);
    context
        .set_request_tags([("Team", "red"), ("cost", "42")])
        .set_resource_tags([("owner", "bob")])
        .insert("codecommit:References", "refs/heads/main")
        .insert("codecommit:References", "refs/heads/dev");
    let one = |value: &str| Some(vec![value.to_owned()]);
    let cases: &[(&str, Option<Vec<String>>)] = &[
        ("aws:SourceIp", one("203.0.113.7")),
        ("aws:SecureTransport", one("true")),
        ("aws:MultiFactorAuthPresent", one("false")),
        ("aws:CurrentTime", one("2026-12-03T10:15:30Z")),
        ("aws:EpochTime", one("1796292930")),
        ("aws:RequestTag/team", one("red")),
        ("AWS:REQUESTTAG/COST", one("42")),
        ("aws:TagKeys", Some(vec!["Team".to_owned(), "cost".to_owned()])),
        ("aws:ResourceTag/owner", one("bob")),
        (
            "codecommit:references",
            Some(vec!["refs/heads/main".to_owned(), "refs/heads/dev".to_owned()]),
        ),
        ("aws:SourceVpc", None),
    ];
    for (key, expected) in cases {
        assert_eq!(context.get(key).map(<[String]>::to_vec), *expected, "{key}");
    }
    // Setting no values removes a key.
    context.set("aws:SourceIp", Vec::new());
    assert_eq!(context.get("aws:SourceIp"), None);
    context.set_request_tags([]);
    assert_eq!(context.get("aws:TagKeys"), None);
}

#[test]
fn bool_binary_and_ip_operators() {
    check_conditions(&[
        (
            r#"{"Bool": {"aws:SecureTransport": "true"}}"#,
            &[("aws:SecureTransport", &["true"])],
            true,
        ),
        (r#"{"Bool": {"aws:SecureTransport": true}}"#, &[("aws:SecureTransport", &["TRUE"])], true),
        (
            r#"{"Bool": {"aws:SecureTransport": "true"}}"#,
            &[("aws:SecureTransport", &["false"])],
            false,
        ),
        (
            r#"{"Bool": {"aws:MultiFactorAuthPresent": "false"}}"#,
            &[("aws:MultiFactorAuthPresent", &["false"])],
            true,
        ),
        (r#"{"Bool": {"aws:MultiFactorAuthPresent": "true"}}"#, &[], false),
        (
            r#"{"BinaryEquals": {"k:blob": "QmluYXJ5VmFsdWU="}}"#,
            &[("k:blob", &["QmluYXJ5VmFsdWU="])],
            true,
        ),
        (
            r#"{"BinaryEquals": {"k:blob": "QmluYXJ5VmFsdWU="}}"#,
            &[("k:blob", &["qmluyxj5vmfsdwu="])],
            false,
        ),
        (
            r#"{"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}"#,
            &[("aws:SourceIp", &["203.0.113.7"])],
            true,
        ),
        (
            r#"{"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}"#,
            &[("aws:SourceIp", &["203.0.114.7"])],
            false,
        ),
        (
            r#"{"IpAddress": {"aws:SourceIp": "203.0.113.9/24"}}"#,
            &[("aws:SourceIp", &["203.0.113.200"])],
            true,
        ),
        (
            r#"{"IpAddress": {"aws:SourceIp": "203.0.113.7"}}"#,
            &[("aws:SourceIp", &["203.0.113.7"])],
            true,
        ),
        (
            r#"{"IpAddress": {"aws:SourceIp": "203.0.113.7/32"}}"#,
            &[("aws:SourceIp", &["203.0.113.8"])],
            false,
        ),
        (
            r#"{"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}"#,
            &[("aws:SourceIp", &["198.51.100.1"])],
            true,
        ),
        (
            r#"{"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}}"#,
            &[("aws:SourceIp", &["192.168.4.4"])],
            true,
        ),
        (
            r#"{"IpAddress": {"aws:SourceIp": "2001:db8::/32"}}"#,
            &[("aws:SourceIp", &["2001:db8:1::5"])],
            true,
        ),
        (
            r#"{"IpAddress": {"aws:SourceIp": "2001:db8::/32"}}"#,
            &[("aws:SourceIp", &["2001:db9::5"])],
            false,
        ),
        (
            r#"{"IpAddress": {"aws:SourceIp": "::/0"}}"#,
            &[("aws:SourceIp", &["203.0.113.7"])],
            false,
        ),
        (
            r#"{"IpAddress": {"aws:SourceIp": "203.0.113.0/33"}}"#,
            &[("aws:SourceIp", &["203.0.113.7"])],
            false,
        ),
        (
            r#"{"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}"#,
            &[("aws:SourceIp", &["somewhere"])],
            false,
        ),
        (r#"{"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}"#, &[], false),
        (
            r#"{"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}"#,
            &[("aws:SourceIp", &["198.51.100.1"])],
            true,
        ),
        (
            r#"{"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}"#,
            &[("aws:SourceIp", &["203.0.113.1"])],
            false,
        ),
        (r#"{"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}"#, &[], true),
    ]);
}

#[test]
fn arn_operators() {
    const SOURCE: &[(&str, &[&str])] =
        &[("aws:SourceArn", &["arn:aws:codebuild:us-east-1:123456789012:project/p"])];
    check_conditions(&[
        (
            r#"{"ArnEquals": {"aws:SourceArn": "arn:aws:codebuild:us-east-1:123456789012:project/p"}}"#,
            SOURCE,
            true,
        ),
        (
            r#"{"ArnEquals": {"aws:SourceArn": "arn:aws:codebuild:us-east-1:123456789012:project/q"}}"#,
            SOURCE,
            false,
        ),
        (
            r#"{"ArnLike": {"aws:SourceArn": "arn:aws:codebuild:*:123456789012:project/*"}}"#,
            SOURCE,
            true,
        ),
        (r#"{"ArnLike": {"aws:SourceArn": "arn:aws:codebuild:*:*:*"}}"#, SOURCE, true),
        (
            r#"{"ArnLike": {"aws:SourceArn": "arn:aws:codebuild:us-east-?:123456789012:project/p"}}"#,
            SOURCE,
            true,
        ),
        // Each part is matched separately: a `*` does not reach across colons.
        (r#"{"ArnLike": {"aws:SourceArn": "arn:aws:*:project/p"}}"#, SOURCE, false),
        (r#"{"ArnLike": {"aws:SourceArn": "arn:aws:codecommit:*:*:*"}}"#, SOURCE, false),
        (r#"{"ArnLike": {"aws:SourceArn": "arn:aws:codebuild:*:*:project/P"}}"#, SOURCE, false),
        (
            r#"{"ArnLike": {"aws:SourceArn": "arn:aws:codebuild:*:*:*"}}"#,
            &[("aws:SourceArn", &["not-an-arn"])],
            false,
        ),
        (r#"{"ArnLike": {"aws:SourceArn": "arn:aws:codebuild:*:*:*"}}"#, &[], false),
        // The resource part keeps its colons.
        (
            r#"{"ArnLike": {"aws:SourceArn": "arn:aws:logs:*:*:log-group:/aws/*"}}"#,
            &[("aws:SourceArn", &["arn:aws:logs:us-east-1:1:log-group:/aws/x:*"])],
            true,
        ),
        (r#"{"ArnLike": {"aws:SourceArn": "*"}}"#, SOURCE, true),
        (r#"{"ArnLike": {"aws:SourceArn": "*"}}"#, &[("aws:SourceArn", &["not-an-arn"])], false),
        (
            r#"{"ArnNotEquals": {"aws:SourceArn": "arn:aws:codebuild:us-east-1:123456789012:project/q"}}"#,
            SOURCE,
            true,
        ),
        (r#"{"ArnNotLike": {"aws:SourceArn": "arn:aws:codebuild:*:*:project/*"}}"#, SOURCE, false),
        (r#"{"ArnNotLike": {"aws:SourceArn": "arn:aws:codebuild:*:*:project/*"}}"#, &[], true),
    ]);
}

#[test]
fn null_and_if_exists() {
    check_conditions(&[
        (r#"{"Null": {"aws:TokenIssueTime": "true"}}"#, &[], true),
        (r#"{"Null": {"aws:TokenIssueTime": "true"}}"#, &[("aws:TokenIssueTime", &["x"])], false),
        (r#"{"Null": {"aws:TokenIssueTime": "false"}}"#, &[("aws:TokenIssueTime", &["x"])], true),
        (r#"{"Null": {"aws:TokenIssueTime": false}}"#, &[], false),
        (r#"{"Null": {"aws:username": "false"}}"#, &[], true),
        // A key with no values is absent.
        (r#"{"Null": {"aws:TagKeys": "true"}}"#, &[("aws:TagKeys", &[])], true),
        (r#"{"StringEqualsIfExists": {"ec2:InstanceType": "t2.micro"}}"#, &[], true),
        (
            r#"{"StringEqualsIfExists": {"ec2:InstanceType": "t2.micro"}}"#,
            &[("ec2:InstanceType", &["t2.micro"])],
            true,
        ),
        (
            r#"{"StringEqualsIfExists": {"ec2:InstanceType": "t2.micro"}}"#,
            &[("ec2:InstanceType", &["m5.large"])],
            false,
        ),
        (r#"{"StringNotEqualsIfExists": {"ec2:InstanceType": "t2.micro"}}"#, &[], true),
        (
            r#"{"StringNotEqualsIfExists": {"ec2:InstanceType": "t2.micro"}}"#,
            &[("ec2:InstanceType", &["t2.micro"])],
            false,
        ),
        (
            r#"{"StringLikeIfExists": {"ec2:InstanceType": "t2.*"}}"#,
            &[("ec2:InstanceType", &["t2.nano"])],
            true,
        ),
        (r#"{"NumericLessThanIfExists": {"s3:max-keys": "10"}}"#, &[], true),
        (
            r#"{"NumericLessThanIfExists": {"s3:max-keys": "10"}}"#,
            &[("s3:max-keys", &["20"])],
            false,
        ),
        (r#"{"DateLessThanIfExists": {"aws:CurrentTime": "2020-01-01"}}"#, &[], true),
        (r#"{"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}}"#, &[], true),
        (
            r#"{"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}}"#,
            &[("aws:MultiFactorAuthPresent", &["false"])],
            false,
        ),
        (r#"{"IpAddressIfExists": {"aws:SourceIp": "10.0.0.0/8"}}"#, &[], true),
        (r#"{"ArnLikeIfExists": {"aws:SourceArn": "arn:aws:s3:::b"}}"#, &[], true),
        (r#"{"BinaryEqualsIfExists": {"k:blob": "AA=="}}"#, &[], true),
    ]);
}

#[test]
fn set_operators_on_multivalued_keys() {
    const TAGS: &[(&str, &[&str])] = &[("aws:TagKeys", &["team", "cost"])];
    const ONE_TAG: &[(&str, &[&str])] = &[("aws:TagKeys", &["team"])];
    const NO_TAGS: &[(&str, &[&str])] = &[("aws:TagKeys", &[])];
    check_conditions(&[
        (r#"{"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "cost", "env"]}}"#, TAGS, true),
        (r#"{"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}"#, TAGS, false),
        // ForAllValues holds for a missing or empty key.
        (r#"{"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}"#, &[], true),
        (r#"{"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}"#, NO_TAGS, true),
        (r#"{"ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]}}"#, TAGS, true),
        (r#"{"ForAnyValue:StringEquals": {"aws:TagKeys": ["env"]}}"#, TAGS, false),
        // ForAnyValue fails for a missing or empty key (unless IfExists).
        (r#"{"ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]}}"#, &[], false),
        (r#"{"ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]}}"#, NO_TAGS, false),
        (r#"{"ForAnyValue:StringEqualsIfExists": {"aws:TagKeys": ["team"]}}"#, &[], true),
        (r#"{"ForAllValues:StringLike": {"aws:TagKeys": ["t*", "c*"]}}"#, TAGS, true),
        (r#"{"ForAllValues:StringLike": {"aws:TagKeys": ["t*"]}}"#, TAGS, false),
        // Negated operators under set operators: each request value against all policy values.
        (r#"{"ForAllValues:StringNotEquals": {"aws:TagKeys": ["env", "owner"]}}"#, TAGS, true),
        (r#"{"ForAllValues:StringNotEquals": {"aws:TagKeys": ["team"]}}"#, TAGS, false),
        (r#"{"ForAllValues:StringNotEquals": {"aws:TagKeys": ["team"]}}"#, &[], true),
        (r#"{"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["team"]}}"#, TAGS, true),
        (r#"{"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["team"]}}"#, ONE_TAG, false),
        (r#"{"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["team"]}}"#, &[], false),
        (r#"{"ForAnyValue:StringNotLike": {"aws:TagKeys": ["t*", "c*"]}}"#, TAGS, false),
        // Without a set operator a multi-valued key passes if any value does (a negated
        // operator if none matches).
        (r#"{"StringEquals": {"aws:TagKeys": "cost"}}"#, TAGS, true),
        (r#"{"StringNotEquals": {"aws:TagKeys": "cost"}}"#, TAGS, false),
        (r#"{"StringNotEquals": {"aws:TagKeys": "env"}}"#, TAGS, true),
        (
            r#"{"ForAnyValue:IpAddress": {"k:ips": "10.0.0.0/8"}}"#,
            &[("k:ips", &["192.168.0.1", "10.1.1.1"])],
            true,
        ),
        (
            r#"{"ForAllValues:IpAddress": {"k:ips": "10.0.0.0/8"}}"#,
            &[("k:ips", &["192.168.0.1", "10.1.1.1"])],
            false,
        ),
        (r#"{"ForAllValues:NumericLessThan": {"k:n": "10"}}"#, &[("k:n", &["1", "2"])], true),
        (
            r#"{"ForAnyValue:ArnLike": {"k:arns": "arn:aws:s3:::b*"}}"#,
            &[("k:arns", &["arn:aws:s3:::x", "arn:aws:s3:::bucket"])],
            true,
        ),
    ]);
}

/// CodeCommit's documented "limit pushes and merges to branches" policy (CodeCommit User
/// Guide): a deny on pushes, branch deletions, PutFile and merges that name `main` or
/// `prod`, written with `StringEqualsIfExists` and `Null` on `codecommit:References`.
#[test]
fn codecommits_deny_push_to_main_policy() {
    let deny = r#"{
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Action": [
                    "codecommit:GitPush",
                    "codecommit:DeleteBranch",
                    "codecommit:PutFile",
                    "codecommit:Merge*"
                ],
                "Resource": "arn:aws:codecommit:us-east-1:123456789012:MyDemoRepo",
                "Condition": {
                    "StringEqualsIfExists": {
                        "codecommit:References": [
                            "refs/heads/main",
                            "refs/heads/prod"
                        ]
                    },
                    "Null": {
                        "codecommit:References": "false"
                    }
                }
            }
        ]
    }"#;
    let power_user = document(r#"{"Effect": "Allow", "Action": "codecommit:*", "Resource": "*"}"#);
    let other_repo = "arn:aws:codecommit:us-east-1:123456789012:Other";
    let cases: &[(&str, &str, &[&str], Decision)] = &[
        ("codecommit:GitPush", REPO, &["refs/heads/main"], ExplicitDeny),
        ("codecommit:GitPush", REPO, &["refs/heads/prod"], ExplicitDeny),
        ("codecommit:GitPush", REPO, &["refs/heads/feature"], Allowed),
        // One of the refs a push moves is enough.
        ("codecommit:GitPush", REPO, &["refs/heads/feature", "refs/heads/main"], ExplicitDeny),
        ("codecommit:GitPush", REPO, &["refs/tags/v1"], Allowed),
        // Refs are case-sensitive.
        ("codecommit:GitPush", REPO, &["refs/heads/Main"], Allowed),
        // A push that moves no ref (the key absent): the Null test keeps the deny away.
        ("codecommit:GitPush", REPO, &[], Allowed),
        ("codecommit:DeleteBranch", REPO, &["refs/heads/main"], ExplicitDeny),
        ("codecommit:PutFile", REPO, &["refs/heads/main"], ExplicitDeny),
        ("codecommit:MergeBranchesByFastForward", REPO, &["refs/heads/main"], ExplicitDeny),
        ("codecommit:MergePullRequestBySquash", REPO, &["refs/heads/dev"], Allowed),
        ("codecommit:GitPush", other_repo, &["refs/heads/main"], Allowed),
        ("codecommit:GitPull", REPO, &["refs/heads/main"], Allowed),
    ];
    for (action, resource, refs, expected) in cases {
        let keys: &[(&str, &[&str])] = &[("codecommit:References", refs)];
        assert_eq!(
            decide(&[deny, &power_user], action, resource, keys),
            *expected,
            "{action} {resource} {refs:?}"
        );
    }
}

#[test]
fn policy_variables() {
    // (resource pattern, resource, context, decision)
    let home = "arn:aws:s3:::bucket/home/bob/notes.txt";
    let cases: &[(&str, &str, Keys, Decision)] = &[
        ("arn:aws:s3:::bucket/home/${aws:username}/*", home, &[], Allowed),
        (
            "arn:aws:s3:::bucket/home/${aws:username}/*",
            "arn:aws:s3:::bucket/home/alice/x",
            &[],
            ImplicitDeny,
        ),
        // Key names in variables are case-insensitive; values are not.
        ("arn:aws:s3:::bucket/home/${AWS:UserName}/*", home, &[], Allowed),
        (
            "arn:aws:s3:::bucket/home/${aws:username}/*",
            "arn:aws:s3:::bucket/home/Bob/x",
            &[],
            ImplicitDeny,
        ),
        // A variable's value is literal text: its `*` is no wildcard.
        (
            "arn:aws:s3:::bucket/${k:dir}",
            "arn:aws:s3:::bucket/x",
            &[("k:dir", &["*"])],
            ImplicitDeny,
        ),
        ("arn:aws:s3:::bucket/${k:dir}", "arn:aws:s3:::bucket/*", &[("k:dir", &["*"])], Allowed),
        // Any context key.
        (
            "arn:aws:s3:::bucket/${aws:PrincipalAccount}/*",
            "arn:aws:s3:::bucket/123456789012/x",
            &[],
            Allowed,
        ),
        ("arn:aws:s3:::bucket/${aws:userid}", "arn:aws:s3:::bucket/AIDAEXAMPLEBOB", &[], Allowed),
        (
            "arn:aws:s3:::bucket/${s3:prefix}",
            "arn:aws:s3:::bucket/docs",
            &[("s3:prefix", &["docs"])],
            Allowed,
        ),
        // An unknown key: that resource does not match; with a default it does.
        (
            "arn:aws:s3:::bucket/${aws:PrincipalTag/team}/*",
            "arn:aws:s3:::bucket/x/y",
            &[],
            ImplicitDeny,
        ),
        (
            "arn:aws:s3:::bucket/${aws:PrincipalTag/team, 'shared'}/*",
            "arn:aws:s3:::bucket/shared/y",
            &[],
            Allowed,
        ),
        (
            "arn:aws:s3:::bucket/${aws:PrincipalTag/team,'shared'}/*",
            "arn:aws:s3:::bucket/shared/y",
            &[],
            Allowed,
        ),
        (
            "arn:aws:s3:::bucket/${aws:PrincipalTag/team, 'shared'}/*",
            "arn:aws:s3:::bucket/red/y",
            &[("aws:PrincipalTag/team", &["red"])],
            Allowed,
        ),
        // A key with several values cannot be substituted.
        (
            "arn:aws:s3:::bucket/${k:many}",
            "arn:aws:s3:::bucket/a",
            &[("k:many", &["a", "b"])],
            ImplicitDeny,
        ),
        // `${*}`, `${?}` and `${$}` are the characters themselves.
        ("arn:aws:s3:::bucket/a${*}b", "arn:aws:s3:::bucket/a*b", &[], Allowed),
        ("arn:aws:s3:::bucket/a${*}b", "arn:aws:s3:::bucket/aXb", &[], ImplicitDeny),
        ("arn:aws:s3:::bucket/a${?}b", "arn:aws:s3:::bucket/a?b", &[], Allowed),
        ("arn:aws:s3:::bucket/a${?}b", "arn:aws:s3:::bucket/aXb", &[], ImplicitDeny),
        ("arn:aws:s3:::bucket/${$}{x}", "arn:aws:s3:::bucket/${x}", &[], Allowed),
        // An unclosed `${` is plain text.
        ("arn:aws:s3:::bucket/${aws:username", "arn:aws:s3:::bucket/${aws:username", &[], Allowed),
    ];
    for (pattern, resource, keys, expected) in cases {
        let text = document(&format!(
            r#"{{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "{pattern}"}}"#
        ));
        assert_eq!(
            decide(&[&text], "s3:GetObject", resource, keys),
            *expected,
            "{pattern} on {resource}"
        );
    }

    // In a 2008-10-17 document, or one without a Version, `${…}` is plain text.
    for version in [r#""Version": "2008-10-17","#, ""] {
        let text = format!(
            r#"{{{version} "Statement": [{{"Effect": "Allow", "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::bucket/${{aws:username}}"}}]}}"#
        );
        let policy = Policy::parse_identity(&text).unwrap();
        assert_eq!(policy.version(), Version::V2008_10_17);
        assert_eq!(decide(&[&text], "s3:GetObject", "arn:aws:s3:::bucket/bob", &[]), ImplicitDeny);
        assert_eq!(
            decide(&[&text], "s3:GetObject", "arn:aws:s3:::bucket/${aws:username}", &[]),
            Allowed
        );
    }

    // Variables in condition values, the String and Arn operators.
    check_conditions(&[
        (
            r#"{"StringLike": {"s3:prefix": ["home/${aws:username}/*"]}}"#,
            &[("s3:prefix", &["home/bob/a"])],
            true,
        ),
        (
            r#"{"StringLike": {"s3:prefix": ["home/${aws:username}/*"]}}"#,
            &[("s3:prefix", &["home/alice/a"])],
            false,
        ),
        (
            r#"{"StringEquals": {"aws:ResourceTag/owner": "${aws:username}"}}"#,
            &[("aws:ResourceTag/owner", &["bob"])],
            true,
        ),
        (
            r#"{"StringEquals": {"aws:ResourceTag/owner": "${aws:PrincipalTag/x}"}}"#,
            &[("aws:ResourceTag/owner", &["bob"])],
            false,
        ),
        (
            r#"{"StringNotEquals": {"aws:ResourceTag/owner": "${aws:username}"}}"#,
            &[("aws:ResourceTag/owner", &["alice"])],
            true,
        ),
        (
            r#"{"ArnLike": {"aws:SourceArn": "arn:aws:iam::*:user/${aws:username}"}}"#,
            &[("aws:SourceArn", &["arn:aws:iam::1:user/bob"])],
            true,
        ),
    ]);

    // A variable without a value is reported missing.
    let policy = Policy::parse_identity(&document(
        r#"{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b/${aws:PrincipalTag/Team}"}"#,
    ))
    .unwrap();
    let principal = bob();
    let context = Context::new();
    let request = Request {
        principal: &principal,
        action: "s3:GetObject",
        resource: "arn:aws:s3:::b/x",
        context: &context,
    };
    let evaluation = evaluate(&[("p", &policy)], &request);
    assert_eq!(evaluation.decision, ImplicitDeny);
    assert_eq!(evaluation.missing_context_values, ["aws:PrincipalTag/Team"]);
}

#[test]
fn a_role_session_has_no_user_name() {
    let principal = Principal {
        arn: "arn:aws:sts::123456789012:assumed-role/builder/build-7".to_owned(),
        account: ACCOUNT.to_owned(),
        user_name: None,
        user_id: "AROAEXAMPLE:build-7".to_owned(),
    };
    let policy = Policy::parse_identity(&document(
        r#"{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b/${aws:username}"}"#,
    ))
    .unwrap();
    let context = Context::new();
    let request = Request {
        principal: &principal,
        action: "s3:GetObject",
        resource: "arn:aws:s3:::b/",
        context: &context,
    };
    assert_eq!(evaluate(&[("p", &policy)], &request).decision, ImplicitDeny);
    // The context may set a principal key itself.
    let mut context = Context::new();
    context.insert("aws:username", "builder");
    let request = Request { resource: "arn:aws:s3:::b/builder", context: &context, ..request };
    assert_eq!(evaluate(&[("p", &policy)], &request).decision, Allowed);
}

#[test]
fn trust_policies() {
    let alice = Principal {
        arn: "arn:aws:iam::123456789012:user/alice".to_owned(),
        account: ACCOUNT.to_owned(),
        user_name: Some("alice".to_owned()),
        user_id: "AIDAEXAMPLEALICE".to_owned(),
    };
    let stranger = Principal {
        arn: "arn:aws:iam::999999999999:user/bob".to_owned(),
        account: "999999999999".to_owned(),
        user_name: Some("bob".to_owned()),
        user_id: "AIDAEXAMPLESTRANGER".to_owned(),
    };
    let session = Principal {
        arn: "arn:aws:sts::123456789012:assumed-role/deployer/s1".to_owned(),
        account: ACCOUNT.to_owned(),
        user_name: None,
        user_id: "AROAEXAMPLE:s1".to_owned(),
    };
    let bob = bob();
    let trust = |principal: &str| {
        Policy::parse_trust(&document(&format!(
            r#"{{"Effect": "Allow", "Principal": {principal}, "Action": "sts:AssumeRole"}}"#
        )))
        .unwrap_or_else(|e| panic!("{e}: {principal}"))
    };
    let codebuild = Caller::Service("codebuild.amazonaws.com");
    let cases: &[(&str, Caller<'_>, Decision)] = &[
        (r#"{"Service": "codebuild.amazonaws.com"}"#, codebuild, Allowed),
        (
            r#"{"Service": ["codepipeline.amazonaws.com", "codebuild.amazonaws.com"]}"#,
            codebuild,
            Allowed,
        ),
        (r#"{"Service": "codepipeline.amazonaws.com"}"#, codebuild, ImplicitDeny),
        (r#"{"Service": "codebuild.amazonaws.com"}"#, Caller::Principal(&bob), ImplicitDeny),
        (r#"{"AWS": "arn:aws:iam::123456789012:user/bob"}"#, Caller::Principal(&bob), Allowed),
        (
            r#"{"AWS": "arn:aws:iam::123456789012:user/bob"}"#,
            Caller::Principal(&alice),
            ImplicitDeny,
        ),
        (
            r#"{"AWS": ["arn:aws:iam::123456789012:user/alice", "arn:aws:iam::123456789012:user/bob"]}"#,
            Caller::Principal(&bob),
            Allowed,
        ),
        (r#"{"AWS": "123456789012"}"#, Caller::Principal(&alice), Allowed),
        (r#"{"AWS": "arn:aws:iam::123456789012:root"}"#, Caller::Principal(&alice), Allowed),
        (
            r#"{"AWS": "arn:aws:iam::123456789012:root"}"#,
            Caller::Principal(&stranger),
            ImplicitDeny,
        ),
        (r#"{"AWS": "arn:aws:iam::123456789012:root"}"#, codebuild, ImplicitDeny),
        (r#"{"AWS": "*"}"#, Caller::Principal(&stranger), Allowed),
        (r#"{"AWS": "*"}"#, codebuild, ImplicitDeny),
        (r#""*""#, codebuild, Allowed),
        (r#""*""#, Caller::Principal(&stranger), Allowed),
        // A role's sessions are the role.
        (
            r#"{"AWS": "arn:aws:iam::123456789012:role/deployer"}"#,
            Caller::Principal(&session),
            Allowed,
        ),
        (
            r#"{"AWS": "arn:aws:iam::123456789012:role/ci/deployer"}"#,
            Caller::Principal(&session),
            Allowed,
        ),
        (
            r#"{"AWS": "arn:aws:iam::123456789012:role/builder"}"#,
            Caller::Principal(&session),
            ImplicitDeny,
        ),
        (
            r#"{"AWS": "arn:aws:iam::999999999999:role/deployer"}"#,
            Caller::Principal(&session),
            ImplicitDeny,
        ),
        (
            r#"{"Federated": "cognito-identity.amazonaws.com"}"#,
            Caller::Principal(&bob),
            ImplicitDeny,
        ),
    ];
    let context = Context::new();
    for (principal, caller, expected) in cases {
        let policy = trust(principal);
        assert_eq!(policy.kind(), PolicyKind::Trust);
        assert_eq!(
            evaluate_trust(&policy, *caller, &context).decision,
            *expected,
            "{principal} {caller:?}"
        );
    }

    // Other actions, NotPrincipal, denies and conditions.
    let other_action = Policy::parse_trust(&document(
        r#"{"Effect": "Allow", "Principal": "*", "Action": "sts:TagSession"}"#,
    ))
    .unwrap();
    assert_eq!(evaluate_trust(&other_action, codebuild, &context).decision, ImplicitDeny);
    let not_principal = Policy::parse_trust(&document(
        r#"{"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::123456789012:user/bob"}, "Action": "sts:*"}"#,
    ))
    .unwrap();
    assert_eq!(
        evaluate_trust(&not_principal, Caller::Principal(&bob), &context).decision,
        ImplicitDeny
    );
    assert_eq!(
        evaluate_trust(&not_principal, Caller::Principal(&alice), &context).decision,
        Allowed
    );
    let deny = Policy::parse_trust(&document(
        r#"{"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "sts:AssumeRole"},
           {"Sid": "NotAlice", "Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::123456789012:user/alice"}, "Action": "sts:AssumeRole"}"#,
    ))
    .unwrap();
    assert_eq!(evaluate_trust(&deny, Caller::Principal(&bob), &context).decision, Allowed);
    let evaluation = evaluate_trust(&deny, Caller::Principal(&alice), &context);
    assert_eq!(evaluation.decision, ExplicitDeny);
    assert_eq!(
        evaluation.matched_statements,
        [MatchedStatement { policy: "", index: 1, sid: Some("NotAlice") }]
    );
    let conditional = Policy::parse_trust(&document(
        r#"{"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "sts:AssumeRole",
            "Condition": {"StringLike": {"aws:PrincipalArn": "*:user/b*"}, "Bool": {"aws:MultiFactorAuthPresent": "false"}}}"#,
    ))
    .unwrap();
    let mfa = context_with_mfa();
    assert_eq!(evaluate_trust(&conditional, Caller::Principal(&bob), &mfa).decision, Allowed);
    assert_eq!(
        evaluate_trust(&conditional, Caller::Principal(&alice), &mfa).decision,
        ImplicitDeny
    );
    let evaluation = evaluate_trust(&conditional, Caller::Principal(&bob), &context);
    assert_eq!(evaluation.decision, ImplicitDeny);
    assert_eq!(evaluation.missing_context_values, ["aws:MultiFactorAuthPresent"]);
}

fn context_with_mfa() -> Context {
    context(&[("aws:MultiFactorAuthPresent", &["false"])])
}

#[test]
fn malformed_documents_are_refused_with_iams_messages() {
    let statement = |body: &str| document(body);
    use PolicyError as E;
    // (document, kind, error)
    let cases: Vec<(String, PolicyKind, PolicyError)> = vec![
        ("not json".to_owned(), PolicyKind::Identity, E::Syntax),
        ("[]".to_owned(), PolicyKind::Identity, E::Syntax),
        (r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}], "Extra": 1}"#.to_owned(), PolicyKind::Identity, E::UnknownField("Extra".to_owned())),
        (r#"{"Version": "2012-10-17", "Id": 5, "Statement": []}"#.to_owned(), PolicyKind::Identity, E::Syntax),
        (r#"{"Version": "2012-10-18", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}"#.to_owned(), PolicyKind::Identity, E::UnsupportedVersion),
        (r#"{"Version": 2012, "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}"#.to_owned(), PolicyKind::Identity, E::UnsupportedVersion),
        (r#"{"Version": "2012-10-17"}"#.to_owned(), PolicyKind::Identity, E::MissingStatement),
        (r#"{"Version": "2012-10-17", "Statement": []}"#.to_owned(), PolicyKind::Identity, E::MissingStatement),
        (r#"{"Version": "2012-10-17", "Statement": "Allow"}"#.to_owned(), PolicyKind::Identity, E::Syntax),
        (r#"{"Version": "2012-10-17", "Statement": ["Allow"]}"#.to_owned(), PolicyKind::Identity, E::Syntax),
        (statement(r#"{"Action": "*", "Resource": "*"}"#), PolicyKind::Identity, E::MissingEffect),
        (statement(r#"{"Effect": "Permit", "Action": "*", "Resource": "*"}"#), PolicyKind::Identity, E::InvalidEffect("Permit".to_owned())),
        (statement(r#"{"Effect": "allow", "Action": "*", "Resource": "*"}"#), PolicyKind::Identity, E::InvalidEffect("allow".to_owned())),
        (statement(r#"{"Effect": "Allow", "Resource": "*"}"#), PolicyKind::Identity, E::MissingActions),
        (statement(r#"{"Effect": "Allow", "Action": [], "Resource": "*"}"#), PolicyKind::Identity, E::MissingActions),
        (statement(r#"{"Effect": "Allow", "Action": "*"}"#), PolicyKind::Identity, E::MissingResources),
        (statement(r#"{"Effect": "Allow", "Action": "*", "Resource": []}"#), PolicyKind::Identity, E::MissingResources),
        (statement(r#"{"Effect": "Allow", "Action": "*", "Resource": "*", "Principal": "*"}"#), PolicyKind::Identity, E::ProhibitedField("Principal")),
        (statement(r#"{"Effect": "Allow", "Action": "*", "Resource": "*", "NotPrincipal": "*"}"#), PolicyKind::Identity, E::ProhibitedField("NotPrincipal")),
        (statement(r#"{"Effect": "Allow", "Action": "*", "NotAction": "s3:*", "Resource": "*"}"#), PolicyKind::Identity, E::ConflictingFields("Action", "NotAction")),
        (statement(r#"{"Effect": "Allow", "Action": "*", "Resource": "*", "NotResource": "*"}"#), PolicyKind::Identity, E::ConflictingFields("Resource", "NotResource")),
        (statement(r#"{"Effect": "Allow", "Action": "*", "Resource": "*", "Foo": 1}"#), PolicyKind::Identity, E::UnknownField("Foo".to_owned())),
        (statement(r#"{"Effect": "Allow", "Action": "GitPush", "Resource": "*"}"#), PolicyKind::Identity, E::InvalidNamespace("GitPush".to_owned())),
        (statement(r#"{"Effect": "Allow", "Action": ":GitPush", "Resource": "*"}"#), PolicyKind::Identity, E::InvalidNamespace(":GitPush".to_owned())),
        (statement(r#"{"Effect": "Allow", "Action": "code commit:GitPush", "Resource": "*"}"#), PolicyKind::Identity, E::InvalidNamespace("code commit:GitPush".to_owned())),
        (statement(r#"{"Effect": "Allow", "Action": "ec2:ec2:CreateNetworkInterface", "Resource": "*"}"#), PolicyKind::Identity, E::TooManyColons("ec2:ec2:CreateNetworkInterface".to_owned())),
        (statement(r#"{"Effect": "Allow", "Action": "*:Untag*", "Resource": "*"}"#), PolicyKind::Identity, E::WildcardVendor("*:Untag*".to_owned())),
        (statement(r#"{"Effect": "Allow", "Action": 5, "Resource": "*"}"#), PolicyKind::Identity, E::Syntax),
        (statement(r#"{"Effect": "Allow", "Action": ["s3:GetObject", 5], "Resource": "*"}"#), PolicyKind::Identity, E::Syntax),
        (statement(r#"{"Effect": "Allow", "Action": "*", "Resource": "my-bucket"}"#), PolicyKind::Identity, E::InvalidResource("my-bucket".to_owned())),
        (statement(r#"{"Effect": "Allow", "Action": "*", "Resource": ""}"#), PolicyKind::Identity, E::InvalidResource(String::new())),
        (statement(r#"{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringEqualz": {"aws:username": "bob"}}}"#), PolicyKind::Identity, E::InvalidConditionType("StringEqualz".to_owned())),
        (statement(r#"{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"NullIfExists": {"aws:username": "true"}}}"#), PolicyKind::Identity, E::InvalidConditionType("NullIfExists".to_owned())),
        (statement(r#"{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"ForSomeValues:StringEquals": {"aws:username": "bob"}}}"#), PolicyKind::Identity, E::InvalidConditionType("ForSomeValues:StringEquals".to_owned())),
        (statement(r#"{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {"username": "bob"}}}"#), PolicyKind::Identity, E::InvalidNamespace("username".to_owned())),
        (statement(r#"{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringEquals": "bob"}}"#), PolicyKind::Identity, E::Syntax),
        (statement(r#"{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {"aws:username": null}}}"#), PolicyKind::Identity, E::Syntax),
        (statement(r#"{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {"aws:username": [{"a": 1}]}}}"#), PolicyKind::Identity, E::Syntax),
        (statement(r#"{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": []}"#), PolicyKind::Identity, E::Syntax),
        (statement(r#"{"Sid": "no spaces", "Effect": "Allow", "Action": "*", "Resource": "*"}"#), PolicyKind::Identity, E::InvalidSid("no spaces".to_owned())),
        (statement(r#"{"Sid": 1, "Effect": "Allow", "Action": "*", "Resource": "*"}"#), PolicyKind::Identity, E::Syntax),
        (statement(r#"{"Sid": "A", "Effect": "Allow", "Action": "*", "Resource": "*"}, {"Sid": "A", "Effect": "Deny", "Action": "*", "Resource": "*"}"#), PolicyKind::Identity, E::DuplicateSid("A".to_owned())),
        // Trust policies.
        (statement(r#"{"Effect": "Allow", "Action": "sts:AssumeRole"}"#), PolicyKind::Trust, E::MissingPrincipal),
        (statement(r#"{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole", "Resource": "*"}"#), PolicyKind::Trust, E::ProhibitedField("Resource")),
        (statement(r#"{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole", "NotResource": "*"}"#), PolicyKind::Trust, E::ProhibitedField("NotResource")),
        (statement(r#"{"Effect": "Allow", "Principal": "*"}"#), PolicyKind::Trust, E::MissingActions),
        (statement(r#"{"Effect": "Allow", "Principal": "*", "NotPrincipal": "*", "Action": "sts:AssumeRole"}"#), PolicyKind::Trust, E::ConflictingFields("Principal", "NotPrincipal")),
        (statement(r#"{"Effect": "Allow", "Principal": {"AWS": "bob"}, "Action": "sts:AssumeRole"}"#), PolicyKind::Trust, E::InvalidPrincipal(r#""AWS":"bob""#.to_owned())),
        (statement(r#"{"Effect": "Allow", "Principal": {"AWS": "arn:aws::iam::123456789012:root"}, "Action": "sts:AssumeRole"}"#), PolicyKind::Trust, E::InvalidPrincipal(r#""AWS":"arn:aws::iam::123456789012:root""#.to_owned())),
        (statement(r#"{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:user/*"}, "Action": "sts:AssumeRole"}"#), PolicyKind::Trust, E::InvalidPrincipal(r#""AWS":"arn:aws:iam::123456789012:user/*""#.to_owned())),
        (statement(r#"{"Effect": "Allow", "Principal": {"AWS": "12345"}, "Action": "sts:AssumeRole"}"#), PolicyKind::Trust, E::InvalidPrincipal(r#""AWS":"12345""#.to_owned())),
        (statement(r#"{"Effect": "Allow", "Principal": {"Service": ""}, "Action": "sts:AssumeRole"}"#), PolicyKind::Trust, E::InvalidPrincipal(r#""Service":"""#.to_owned())),
        (statement(r#"{"Effect": "Allow", "Principal": {"Person": "bob"}, "Action": "sts:AssumeRole"}"#), PolicyKind::Trust, E::InvalidPrincipal(r#""Person":"bob""#.to_owned())),
        (statement(r#"{"Effect": "Allow", "Principal": "bob", "Action": "sts:AssumeRole"}"#), PolicyKind::Trust, E::InvalidPrincipal(r#""bob""#.to_owned())),
        (statement(r#"{"Effect": "Allow", "Principal": {}, "Action": "sts:AssumeRole"}"#), PolicyKind::Trust, E::InvalidPrincipal("{}".to_owned())),
        (statement(r#"{"Effect": "Allow", "Principal": {"AWS": 5}, "Action": "sts:AssumeRole"}"#), PolicyKind::Trust, E::Syntax),
    ];
    for (text, kind, expected) in &cases {
        assert_eq!(Policy::parse(text, *kind).as_ref(), Err(expected), "{text}");
    }

    // The messages, AWS's where known.
    let messages: &[(PolicyError, &str)] = &[
        (E::Syntax, "Syntax errors in policy."),
        (E::UnsupportedVersion, "Policy document must be version 2012-10-17 or greater."),
        (E::MissingEffect, "Missing required field Effect"),
        (E::MissingActions, "Policy statement must contain actions."),
        (E::MissingResources, "Policy statement must contain resources."),
        (E::MissingPrincipal, "Missing required field Principal"),
        (E::ProhibitedField("Principal"), "Has prohibited field Principal"),
        (E::ProhibitedField("Resource"), "Has prohibited field Resource"),
        (
            E::InvalidNamespace("x".to_owned()),
            "Actions/Conditions must be prefixed by a valid namespace",
        ),
        (E::TooManyColons("a:b:c".to_owned()), "Actions/Condition can contain only one colon."),
        (
            E::WildcardVendor("*:x".to_owned()),
            "Action vendors (e.g., aws, ec2, etc.) must not contain wildcards",
        ),
        (
            E::InvalidResource("my-bucket".to_owned()),
            r#"Resource my-bucket must be in ARN format or "*"."#,
        ),
        (
            E::InvalidPrincipal(r#""AWS":"bob""#.to_owned()),
            r#"Invalid principal in policy: "AWS":"bob""#,
        ),
        (
            E::InvalidSid("a b".to_owned()),
            "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*",
        ),
        (E::DuplicateSid("A".to_owned()), "Statement IDs (SID) in a single policy must be unique."),
        (E::UnknownField("Foo".to_owned()), "Syntax errors in policy. Unknown field Foo."),
        (
            E::InvalidConditionType("StringEqualz".to_owned()),
            "Syntax errors in policy. Invalid condition operator StringEqualz.",
        ),
    ];
    for (error, message) in messages {
        assert_eq!(error.to_string(), *message);
    }
    assert_eq!(PolicyError::CODE, "MalformedPolicyDocument");
}

#[test]
fn valid_documents_of_every_shape_parse() {
    let identity = [
        r#"{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}"#,
        r#"{"Version": "2008-10-17", "Id": "x", "Statement": {"Effect": "Deny", "NotAction": ["s3:*"], "NotResource": "arn:aws:s3:::b"}}"#,
        r#"{"Version": "2012-10-17", "Statement": [{"Sid": "", "Effect": "Allow", "Action": "aws-marketplace:View*", "Resource": ["*"]}, {"Sid": "", "Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]}"#,
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {}}]}"#,
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {"aws:RequestTag/aws:cloudformation:stack-name": "x"}, "NumericLessThan": {"s3:max-keys": []}}}]}"#,
    ];
    for text in identity {
        let policy = Policy::parse_identity(text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(policy.kind(), PolicyKind::Identity);
    }
    let policy = Policy::parse_identity(identity[2]).unwrap();
    assert_eq!(policy.statement_count(), 2);
    assert_eq!(policy.version(), Version::V2012_10_17);
    let trust = [
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "sts:AssumeRole"}]}"#,
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": ["123456789012", "arn:aws:iam::123456789012:role/r", "arn:aws:sts::123456789012:assumed-role/r/s"], "Service": ["a.amazonaws.com"]}, "Action": ["sts:AssumeRole", "sts:TagSession"]}]}"#,
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}, "NotAction": "sts:AssumeRoleWithSAML"}]}"#,
    ];
    for text in trust {
        Policy::parse_trust(text).unwrap_or_else(|e| panic!("{e}: {text}"));
    }
}

#[test]
fn refusal_messages_are_awss() {
    assert_eq!(
        refusal_message(BOB, "codebuild:StartBuild", PROJECT, ImplicitDeny).as_deref(),
        Some(
            "User: arn:aws:iam::123456789012:user/bob is not authorized to perform: \
             codebuild:StartBuild on resource: arn:aws:codebuild:us-east-1:123456789012:project/p \
             because no identity-based policy allows the codebuild:StartBuild action"
        )
    );
    assert_eq!(
        refusal_message(BOB, "codecommit:GitPush", REPO, ExplicitDeny).as_deref(),
        Some(
            "User: arn:aws:iam::123456789012:user/bob is not authorized to perform: \
             codecommit:GitPush on resource: arn:aws:codecommit:us-east-1:123456789012:MyDemoRepo \
             with an explicit deny in an identity-based policy"
        )
    );
    assert_eq!(refusal_message(BOB, "codecommit:GitPush", REPO, Allowed), None);

    // From an evaluation.
    let principal = bob();
    let context = Context::new();
    let request = Request {
        principal: &principal,
        action: "codebuild:StartBuild",
        resource: PROJECT,
        context: &context,
    };
    assert_eq!(
        evaluate(&[], &request).refusal(&request),
        refusal_message(BOB, "codebuild:StartBuild", PROJECT, ImplicitDeny)
    );
    let allow = Policy::parse_identity(&document(
        r#"{"Effect": "Allow", "Action": "codebuild:*", "Resource": "*"}"#,
    ))
    .unwrap();
    assert_eq!(evaluate(&[("p", &allow)], &request).refusal(&request), None);
}

#[test]
fn a_policy_says_whether_it_tests_keys_of_a_prefix() {
    let tagged = document(
        r#"{"Effect": "Allow", "Action": "*", "Resource": "*",
            "Condition": {"StringEquals": {"aws:resourcetag/team": "a"}}}"#,
    );
    let plain = document(
        r#"{"Effect": "Allow", "Action": "*", "Resource": "*",
            "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}}"#,
    );
    let tagged = Policy::parse_identity(&tagged).unwrap();
    let plain = Policy::parse_identity(&plain).unwrap();
    assert!(tagged.tests_key_with_prefix("aws:ResourceTag/"));
    assert!(!plain.tests_key_with_prefix("aws:ResourceTag/"));
    assert!(plain.tests_key_with_prefix("aws:sourceip"));
}
