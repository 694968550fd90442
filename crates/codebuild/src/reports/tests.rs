//! Report groups through the typed operations: created once, found by ARN, listed in pages;
//! test cases of a report that does not exist are not found.

use serde_json::{Value, json};

use crate::Context;

async fn codebuild(state: &Context, operation: &str, input: Value) -> Value {
    crate::testing::call(state, operation, input).await.unwrap()
}

#[tokio::test]
async fn report_groups_are_created_once_found_and_listed_in_pages() {
    let (state, _dir) = crate::testing::test_context().await;
    let create = |name: &str| json!({ "name": name, "type": "TEST", "exportConfig": { "exportConfigType": "NO_EXPORT" } });
    let created = codebuild(&state, "CreateReportGroup", create("unit")).await;
    let arn = created["reportGroup"]["arn"].as_str().unwrap().to_owned();
    assert_eq!(arn, "arn:aws:codebuild:us-east-1:000000000000:report-group/unit");
    assert_eq!(created["reportGroup"]["tags"], json!([]));
    let again = crate::testing::call(&state, "CreateReportGroup", create("unit")).await;
    assert_eq!(again.unwrap_err().code, "ResourceAlreadyExistsException");
    codebuild(&state, "CreateReportGroup", create("lint")).await;

    let missing = "arn:aws:codebuild:us-east-1:000000000000:report-group/none";
    let found =
        codebuild(&state, "BatchGetReportGroups", json!({ "reportGroupArns": [&arn, missing] }))
            .await;
    assert_eq!(found["reportGroups"][0]["name"], "unit");
    assert_eq!(found["reportGroupsNotFound"], json!([missing]));

    let page = codebuild(&state, "ListReportGroups", json!({ "maxResults": 1 })).await;
    assert_eq!(page["reportGroups"].as_array().unwrap().len(), 1, "{page}");
    let token = page["nextToken"].as_str().unwrap();
    let rest =
        codebuild(&state, "ListReportGroups", json!({ "maxResults": 1, "nextToken": token })).await;
    assert_eq!(rest["reportGroups"].as_array().unwrap().len(), 1, "{rest}");
    assert_ne!(rest["reportGroups"], page["reportGroups"]);

    let err = crate::testing::call(&state, "DescribeTestCases", json!({ "reportArn": "x" })).await;
    assert_eq!(err.unwrap_err().code, "ResourceNotFoundException");
    let err = crate::testing::call(&state, "CreateReportGroup", json!({ "name": "t" })).await;
    assert_eq!(err.unwrap_err().message, "type is required");
}
