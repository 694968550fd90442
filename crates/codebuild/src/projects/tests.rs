//! CreateProject and UpdateProject refuse what StartBuild would refuse later; malformed build
//! ids are invalid input.

use serde_json::{Value, json};

use awsapi::ApiError;

use crate::Context;

async fn codebuild(state: &Context, operation: &str, input: Value) -> Result<Value, ApiError> {
    crate::testing::call(state, operation, input).await
}

fn project(source_type: &str, role: &str) -> Value {
    json!({
        "name": "app",
        "source": { "type": source_type, "location": "web", "buildspec": "version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n" },
        "artifacts": { "type": "NO_ARTIFACTS" },
        "environment": { "type": "LINUX_CONTAINER", "image": "i", "computeType": "BUILD_GENERAL1_SMALL" },
        "serviceRole": role,
    })
}

#[track_caller]
fn refused(result: Result<Value, ApiError>, needle: &str) {
    let err = result.unwrap_err();
    assert_eq!(err.code, "InvalidInputException", "{err:?}");
    assert!(err.message.contains(needle), "{needle:?} not in {}", err.message);
}

#[tokio::test]
async fn projects_that_could_not_build_are_refused_at_creation() {
    let (state, _dir) = crate::testing::test_context().await;
    let create = |input| codebuild(&state, "CreateProject", input);
    refused(create(project("GITHUB", "r")).await, "Source type GITHUB is not supported");
    refused(
        create(project("NO_SOURCE", "arn:aws:iam::123456789012:role/build")).await,
        "belongs to account 123456789012",
    );
    refused(
        create(project("NO_SOURCE", "arn:aws:iam:role/build")).await,
        "Invalid service role ARN",
    );
    refused(
        create(project("NO_SOURCE", "arn:aws:s3:::000000000000:role/x")).await,
        "Invalid service role ARN",
    );
    refused(create(project("NO_SOURCE", "a role")).await, "Invalid service role");
    create(project("NO_SOURCE", "arn:aws:iam::000000000000:role/service-role/build"))
        .await
        .unwrap();
    // An update is checked as a whole project.
    let update = json!({ "name": "app", "source": { "type": "GITHUB", "location": "x" } });
    refused(codebuild(&state, "UpdateProject", update).await, "GITHUB");
    let update = json!({ "name": "app", "serviceRole": "arn:aws:iam::1:role/x" });
    refused(codebuild(&state, "UpdateProject", update).await, "belongs to account 1");
    let update = json!({ "name": "app", "serviceRole": "build" });
    codebuild(&state, "UpdateProject", update).await.unwrap();
}

/// S3 sources are zips (`bucket/key`); S3 artifacts name their bucket and CodeBuild's
/// packagings and namespaces.
#[tokio::test]
async fn s3_sources_and_artifacts_are_checked_at_creation() {
    let (state, _dir) = crate::testing::test_context().await;
    let create = |input| codebuild(&state, "CreateProject", input);
    let with = |source: Value, artifacts: Value| {
        let mut project = project("S3", "r");
        project["source"] = source;
        project["artifacts"] = artifacts;
        project
    };
    let none = json!({ "type": "NO_ARTIFACTS" });
    for location in ["src", "src/", "arn:aws:s3:::src", ""] {
        let source = json!({ "type": "S3", "location": location });
        refused(
            create(with(source, none.clone())).await,
            "a source of type S3 is the zip <bucket>/<key>",
        );
    }
    let source = json!({ "type": "S3", "location": "src/app.zip" });
    let artifacts = json!({ "type": "S3", "name": "a.zip" });
    refused(create(with(source.clone(), artifacts)).await, "need a location");
    let artifacts = json!({ "type": "S3", "location": "out", "packaging": "TAR" });
    refused(create(with(source.clone(), artifacts)).await, "Invalid packaging: TAR");
    let artifacts = json!({ "type": "S3", "location": "out", "namespaceType": "UUID" });
    refused(create(with(source.clone(), artifacts)).await, "Invalid namespaceType: UUID");
    let artifacts = json!({ "type": "S3", "location": "out", "packaging": "ZIP", "namespaceType": "BUILD_ID", "name": "a.zip" });
    let created =
        create(with(json!({ "type": "S3", "location": "arn:aws:s3:::src/app.zip" }), artifacts))
            .await;
    assert_eq!(created.unwrap()["project"]["source"]["location"], "arn:aws:s3:::src/app.zip");
}

#[tokio::test]
async fn malformed_build_ids_are_invalid_input() {
    let (state, _dir) = crate::testing::test_context().await;
    refused(codebuild(&state, "BatchGetBuilds", json!({ "ids": ["nocolon"] })).await, "nocolon");
    refused(codebuild(&state, "StopBuild", json!({ "id": "nocolon" })).await, "nocolon");
    let found = codebuild(&state, "BatchGetBuilds", json!({ "ids": ["app:1234"] })).await.unwrap();
    assert_eq!(found["buildsNotFound"], json!(["app:1234"]));
}

#[tokio::test]
async fn list_projects_pages_by_offset_tokens() {
    let (state, _dir) = crate::testing::test_context().await;
    for name in ["b1", "a1"] {
        let mut input = project("NO_SOURCE", "r");
        input["name"] = json!(name);
        codebuild(&state, "CreateProject", input).await.unwrap();
    }
    let listed = codebuild(&state, "ListProjects", json!({})).await.unwrap();
    assert_eq!(listed, json!({ "projects": ["a1", "b1"] }));
    let listed =
        codebuild(&state, "ListProjects", json!({ "sortOrder": "DESCENDING" })).await.unwrap();
    assert_eq!(listed["projects"], json!(["b1", "a1"]));
    refused(codebuild(&state, "ListProjects", json!({ "nextToken": "x" })).await, "nextToken");
}
