//! The CodeBuild operation table over the server's hosted repositories: StartBuild reads a
//! buildspec from a repository (capped); StartBuild, BatchDeleteBuilds, CreateWebhook and the
//! webhook loop's pass as one transaction each, checked against whole-state snapshots.

use serde_json::{Value, json};

use crate::AppState;
use crate::aws::Caller;
use crate::state_snapshot::{changes, snapshot};

/// 2026-01-01, in epoch milliseconds.
const NOW: i64 = 1_767_225_600_000;

fn admin() -> Caller {
    Caller { user: "admin".to_owned(), access_key_id: String::new(), host: String::new() }
}

async fn codebuild(state: &AppState, operation: &str, input: Value) -> Value {
    serde_json::from_str(&super::call(state, &admin(), operation, input).await.unwrap()).unwrap()
}

async fn codecommit(state: &AppState, operation: &str, input: Value) -> Value {
    crate::aws::codecommit::call(state, &admin(), operation, input).await.unwrap()
}

#[tokio::test]
async fn a_buildspec_over_the_cap_is_refused_at_start_build() {
    let (state, _dir) = crate::test_state("us-east-1").await;
    let caller =
        Caller { user: "admin".to_owned(), access_key_id: String::new(), host: String::new() };
    let codecommit = |operation: &'static str, input: Value| {
        let (state, caller) = (state.clone(), caller.clone());
        async move { crate::aws::codecommit::call(&state, &caller, operation, input).await.unwrap() }
    };
    codecommit("CreateRepository", json!({ "repositoryName": "web" })).await;
    let mut huge = "version: 0.2\nphases:\n  build:\n    commands:\n".to_owned();
    while huge.len() <= 1024 * 1024 {
        huge.push_str("      - echo this line makes the buildspec longer than a mebibyte\n");
    }
    let content = crate::base64_codec::encode(huge.as_bytes());
    codecommit(
        "PutFile",
        json!({ "repositoryName": "web", "branchName": "main", "filePath": "buildspec.yml", "fileContent": content }),
    )
    .await;
    codebuild(
        &state,
        "CreateProject",
        json!({
            "name": "web",
            "source": { "type": "CODECOMMIT", "location": "web" },
            "artifacts": { "type": "NO_ARTIFACTS" },
            "environment": { "type": "LINUX_CONTAINER", "image": "i", "computeType": "BUILD_GENERAL1_SMALL" },
            "serviceRole": "r",
        }),
    )
    .await;
    let input = json!({ "projectName": "web" });
    let err = super::call(&state, &caller, "StartBuild", input).await.unwrap_err();
    assert_eq!(err.code, "InvalidInputException", "{err:?}");
    assert!(err.message.contains("larger than 1024 KiB"), "{}", err.message);
}

// ---------------------------------------------------------------------------------------
// One transaction per transition: the whole state before and after each.

#[tokio::test]
async fn start_build_writes_the_build_its_job_and_its_diagnostics_in_one_transaction() {
    let (state, _dir) = crate::test_state("us-east-1").await;
    // An unknown key: a warning, which opens the build's log.
    let buildspec = "version: 0.2\nbogus: 1\nphases:\n  build:\n    commands:\n      - echo hi\n";
    let project = json!({
        "name": "warned",
        "source": { "type": "NO_SOURCE", "buildspec": buildspec },
        "artifacts": { "type": "NO_ARTIFACTS" },
        "environment": { "type": "LINUX_CONTAINER", "image": "i", "computeType": "BUILD_GENERAL1_SMALL" },
        "serviceRole": "r",
    });
    codebuild(&state, "CreateProject", project).await;
    let before = snapshot(&state.store, &[]).await;
    let started = codebuild(&state, "StartBuild", json!({ "projectName": "warned" })).await;
    let id = started["build"]["id"].as_str().unwrap();
    let after = snapshot(&state.store, &[id]).await;
    assert_eq!(
        changes(&before, &after, &[(id, "<build>")]),
        ["document build <build> added", "job <build> added", "log <build>/0 added"]
    );
    assert!(after[&format!("log {id}/0")].as_str().unwrap().contains("bogus"), "{after:?}");
    assert_eq!(after[&format!("document build {id}")]["body"]["_slipway"]["logSeq"], 1);
}

#[tokio::test]
async fn a_build_failed_by_its_buildspec_and_its_deletion_are_one_transaction_each() {
    let (state, _dir) = crate::test_state("us-east-1").await;
    let project = json!({
        "name": "broken",
        "source": { "type": "NO_SOURCE", "buildspec": "version: 0.2\nphases: [\n" },
        "artifacts": { "type": "NO_ARTIFACTS" },
        "environment": { "type": "LINUX_CONTAINER", "image": "i", "computeType": "BUILD_GENERAL1_SMALL" },
        "serviceRole": "r",
    });
    codebuild(&state, "CreateProject", project).await;
    let before = snapshot(&state.store, &[]).await;
    let started = codebuild(&state, "StartBuild", json!({ "projectName": "broken" })).await;
    let id = started["build"]["id"].as_str().unwrap().to_owned();
    assert_eq!(started["build"]["buildStatus"], "FAILED");
    let after = snapshot(&state.store, &[&id]).await;
    // The build and the log that says why it failed; no job.
    assert_eq!(
        changes(&before, &after, &[(&id, "<build>")]),
        ["document build <build> added", "log <build>/0 added"]
    );
    assert!(after[&format!("log {id}/0")].as_str().unwrap().contains("YAML_FILE_ERROR"));

    // BatchDeleteBuilds takes the build and its log.
    let deleted = codebuild(&state, "BatchDeleteBuilds", json!({ "ids": [id] })).await;
    assert_eq!(deleted["buildsDeleted"], json!([id]));
    let gone = snapshot(&state.store, &[&id]).await;
    assert_eq!(
        changes(&after, &gone, &[(&id, "<build>")]),
        ["document build <build> removed", "log <build>/0 removed"]
    );
}

#[tokio::test]
async fn create_webhook_and_the_builds_of_a_push_commit_with_their_cursor() {
    let (state, _dir) = crate::test_state("us-east-1").await;
    codecommit(&state, "CreateRepository", json!({ "repositoryName": "web" })).await;
    let buildspec = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n";
    let location = "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/web";
    let project = json!({
        "name": "site",
        "source": { "type": "CODECOMMIT", "location": location, "buildspec": buildspec },
        "artifacts": { "type": "NO_ARTIFACTS" },
        "environment": { "type": "LINUX_CONTAINER", "image": "i", "computeType": "BUILD_GENERAL1_SMALL" },
        "serviceRole": "r",
    });
    codebuild(&state, "CreateProject", project).await;

    // CreateWebhook: the project's webhook and the repository's cursor, together.
    let before = snapshot(&state.store, &[]).await;
    codebuild(&state, "CreateWebhook", json!({ "projectName": "site" })).await;
    let after = snapshot(&state.store, &[]).await;
    assert_eq!(
        changes(&before, &after, &[]),
        ["document project site changed", "document webhook-cursor web added"]
    );

    // A push: its ref event, then the loop's pass starts the build and moves the cursor in
    // one transaction.
    let put = json!({
        "repositoryName": "web",
        "branchName": "main",
        "fileContent": "aGk=",
        "filePath": "README.md",
    });
    codecommit(&state, "PutFile", put).await;
    let before = snapshot(&state.store, &[]).await;
    codebuild::webhooks::start_builds(state.codebuild(), NOW).await.unwrap();
    let after = snapshot(&state.store, &[]).await;
    let build = after
        .keys()
        .find_map(|it| it.strip_prefix("document build "))
        .expect("the push started a build")
        .to_owned();
    assert_eq!(
        changes(&before, &after, &[(&build, "<build>")]),
        [
            "document build <build> added",
            "document webhook-cursor web changed",
            "job <build> added"
        ]
    );
    // Another pass finds nothing new and changes nothing.
    codebuild::webhooks::start_builds(state.codebuild(), NOW + 1).await.unwrap();
    assert_eq!(changes(&after, &snapshot(&state.store, &[]).await, &[]), Vec::<String>::new());
}
