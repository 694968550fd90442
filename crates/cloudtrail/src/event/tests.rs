//! Tests of the record: its fields from a request, its JSON names, secret removal.

use serde_json::{Value, json};

use crate::event::{
    Event, EventType, HIDDEN, MAX_ITEMS, MAX_VALUE_CHARS, Request, Resource, UserIdentity,
    event_source, is_read_only, redact,
};
use crate::testing::{ACCOUNT, REGION, call};

#[test]
fn an_event_from_a_request_has_cloudtrails_fields() {
    let event = call(1_764_758_441_000, "StartBuild", "alice", "web");
    let record = serde_json::to_value(&event).unwrap();
    assert_eq!(record["eventVersion"], "1.08");
    assert_eq!(record["eventTime"], "2025-12-03T10:40:41Z");
    assert_eq!(record["eventSource"], "codebuild.amazonaws.com");
    assert_eq!(record["eventName"], "StartBuild");
    assert_eq!(record["awsRegion"], REGION);
    assert_eq!(record["sourceIPAddress"], "192.0.2.1");
    assert_eq!(record["userAgent"], "aws-cli/2");
    assert_eq!(
        record["userIdentity"],
        json!({
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLEUSERID0000",
            "arn": "arn:aws:iam::000000000000:user/alice",
            "accountId": ACCOUNT,
            "accessKeyId": "AKIAEXAMPLE",
            "userName": "alice",
        })
    );
    assert_eq!(record["requestParameters"], json!({ "name": "web" }));
    assert_eq!(record["responseElements"], Value::Null);
    assert!(record.get("errorCode").is_none());
    assert_eq!(record["readOnly"], false);
    assert_eq!(record["eventType"], "AwsApiCall");
    assert_eq!(record["managementEvent"], true);
    assert_eq!(record["recipientAccountId"], ACCOUNT);
    assert_eq!(record["eventID"].as_str().unwrap().len(), 36);
    assert_eq!(record["requestID"].as_str().unwrap().len(), 36);
    assert_eq!(
        record["resources"],
        json!([{
            "ARN": "arn:aws:codebuild:us-east-1:000000000000:project/web",
            "accountId": ACCOUNT,
            "type": "AWS::CodeBuild::Project",
        }])
    );
    assert_eq!(event.time_ms(), 1_764_758_441_000);
    let back: Event = serde_json::from_value(record).unwrap();
    assert_eq!(back, event);
}

#[test]
fn a_refused_request_keeps_its_error() {
    let mut request = Request::api_call(
        0,
        &event_source("codecommit"),
        "DeleteRepository",
        UserIdentity::iam_user(ACCOUNT, "bob", "AIDAEXAMPLEBOB000000", ""),
    );
    request.error = Some(("AccessDeniedException".to_owned(), "not allowed".to_owned()));
    request.request_id = "req-1".to_owned();
    let record = serde_json::to_value(Event::new(REGION, ACCOUNT, request)).unwrap();
    assert_eq!(record["errorCode"], "AccessDeniedException");
    assert_eq!(record["errorMessage"], "not allowed");
    assert_eq!(record["requestID"], "req-1");
    assert!(record["userIdentity"].get("accessKeyId").is_none());
}

#[test]
fn console_events_have_their_types() {
    let mut request = Request::api_call(
        0,
        "signin.amazonaws.com",
        "ConsoleLogin",
        UserIdentity::unknown(ACCOUNT, Some("eve")),
    );
    request.event_type = EventType::AwsConsoleSignIn;
    request.response_elements = Some(json!({ "ConsoleLogin": "Failure" }));
    let record = serde_json::to_value(Event::new(REGION, ACCOUNT, request)).unwrap();
    assert_eq!(record["eventType"], "AwsConsoleSignIn");
    assert_eq!(record["userIdentity"]["type"], "Unknown");
    assert_eq!(record["userIdentity"]["userName"], "eve");
    assert_eq!(record["responseElements"]["ConsoleLogin"], "Failure");
    assert_eq!(record["readOnly"], false);
}

#[test]
fn read_only_follows_the_operation() {
    for name in [
        "GetRepository",
        "ListBuilds",
        "DescribeTestCases",
        "BatchGetBuilds",
        "LookupEvents",
        "GitPull",
    ] {
        assert!(is_read_only(name), "{name}");
    }
    for name in ["StartBuild", "CreateRepository", "PutParameter", "GitPush", "ConsoleLogin"] {
        assert!(!is_read_only(name), "{name}");
    }
}

#[test]
fn secret_values_are_hidden_and_policies_kept() {
    let ssm = redact(
        "ssm.amazonaws.com",
        json!({ "Name": "/db/password", "Value": "hunter2", "Type": "SecureString" }),
    );
    assert_eq!(ssm, json!({ "Name": "/db/password", "Value": HIDDEN, "Type": "SecureString" }));
    let secrets = redact(
        "secretsmanager.amazonaws.com",
        json!({ "Name": "db", "SecretString": "s3cret", "SecretBinary": "AAEC" }),
    );
    assert_eq!(secrets, json!({ "Name": "db", "SecretString": HIDDEN, "SecretBinary": HIDDEN }));
    let iam = redact(
        "iam.amazonaws.com",
        json!({
            "UserName": "alice",
            "Password": "p4ss",
            "PolicyDocument": "{\"Statement\":[]}",
            "Nested": [{ "NewPassword": "x", "OldPassword": "y" }],
        }),
    );
    assert_eq!(
        iam,
        json!({
            "UserName": "alice",
            "Password": HIDDEN,
            "PolicyDocument": "{\"Statement\":[]}",
            "Nested": [{ "NewPassword": HIDDEN, "OldPassword": HIDDEN }],
        })
    );
    // `Value` is a secret only in SSM.
    let codebuild = redact(
        "codebuild.amazonaws.com",
        json!({ "environmentVariablesOverride": [{ "name": "A", "value": "b" }], "Value": 1 }),
    );
    assert_eq!(
        codebuild,
        json!({ "environmentVariablesOverride": [{ "name": "A", "value": "b" }], "Value": 1 })
    );
}

#[test]
fn big_inputs_are_truncated() {
    let content = "x".repeat(MAX_VALUE_CHARS * 3);
    let items: Vec<u32> = (0..500).collect();
    let kept = redact("codecommit.amazonaws.com", json!({ "fileContent": content, "ids": items }));
    let text = kept["fileContent"].as_str().unwrap();
    assert!(text.starts_with(&"x".repeat(MAX_VALUE_CHARS)));
    assert!(text.ends_with("...(truncated)"));
    assert_eq!(text.chars().count(), MAX_VALUE_CHARS + "...(truncated)".len());
    assert_eq!(kept["ids"].as_array().unwrap().len(), MAX_ITEMS);
}

#[test]
fn resources_from_arns() {
    let repository = Resource::from_arn("arn:aws:codecommit:us-east-1:000000000000:web").unwrap();
    assert_eq!(repository.resource_type, "AWS::CodeCommit::Repository");
    assert_eq!(repository.name(), "arn:aws:codecommit:us-east-1:000000000000:web");
    let build =
        Resource::from_arn("arn:aws:codebuild:us-east-1:000000000000:build/web:0a1b").unwrap();
    assert_eq!(build.resource_type, "AWS::CodeBuild::Build");
    assert_eq!(build.account_id, ACCOUNT);
    assert_eq!(Resource::from_arn("*"), None);
    assert_eq!(Resource::from_arn("arn:aws:codebuild:us-east-1:000000000000:project/*"), None);
    // S3's ARNs name no region nor account.
    let bucket = Resource::from_arn("arn:aws:s3:::bucket").unwrap();
    assert_eq!(
        (bucket.resource_type.as_str(), bucket.account_id.as_str()),
        ("AWS::S3::Bucket", "")
    );
    let object = Resource::from_arn("arn:aws:s3:::bucket/dir/key.zip").unwrap();
    assert_eq!(object.resource_type, "AWS::S3::Object");
    assert_eq!(object.name(), "arn:aws:s3:::bucket/dir/key.zip");
    assert!(!serde_json::to_string(&object).unwrap().contains("accountId"));
}
