//! Webhook filter groups against pushes; CreateWebhook and the loop's pass (a push's builds
//! with the cursor) as one transaction each, checked against whole-state snapshots.

use serde_json::json;

use super::{Push, accepts, repository_of, uses_filter};

fn push<'a>(reference: &'a str, files: &'a [String], message: &'a str) -> Push<'a> {
    Push { repository: "web", reference, user: "alice", message, files }
}

#[test]
fn filter_groups_and_their_filters() {
    let files = vec!["src/main.rs".to_owned(), "README.md".to_owned()];
    let main = push("refs/heads/main", &files, "fix the build");
    let feature = push("refs/heads/feature/x", &files, "wip [skip ci]");

    // No filter groups: every push.
    assert!(accepts(&json!({}), &main));
    // Filters of a group must all match; any group may.
    let webhook = json!({ "filterGroups": [
        [{ "type": "EVENT", "pattern": "PUSH" }, { "type": "HEAD_REF", "pattern": "^refs/heads/main$" }],
        [{ "type": "EVENT", "pattern": "PUSH" }, { "type": "FILE_PATH", "pattern": "^docs/" }],
    ] });
    assert!(accepts(&webhook, &main));
    assert!(!accepts(&webhook, &feature));
    // Exclusions, users and commit messages.
    let webhook = json!({ "filterGroups": [[
        { "type": "EVENT", "pattern": "PUSH" },
        { "type": "COMMIT_MESSAGE", "pattern": "\\[skip ci\\]", "excludeMatchedPattern": true },
        { "type": "ACTOR_ACCOUNT_ID", "pattern": "^alice$" },
    ]] });
    assert!(accepts(&webhook, &main));
    assert!(!accepts(&webhook, &feature));
    // The legacy branch filter is a regex on the branch name.
    assert!(!accepts(&json!({ "branchFilter": "^main$" }), &feature));
    assert!(accepts(&json!({ "branchFilter": "^main$" }), &main));
}

#[test]
fn projects_name_their_repository_by_location() {
    let project = json!({ "source": { "type": "CODECOMMIT", "location": "http://127.0.0.1:8080/v1/repos/web" } });
    assert_eq!(repository_of(&project).as_deref(), Some("web"));
    assert_eq!(repository_of(&json!({ "source": { "type": "NO_SOURCE" } })), None);
}

#[test]
fn only_filters_on_messages_and_files_need_git() {
    let webhook = json!({ "filterGroups": [
        [{ "type": "EVENT", "pattern": "PUSH" }],
        [{ "type": "EVENT", "pattern": "PUSH" }, { "type": "FILE_PATH", "pattern": "^src/" }],
    ] });
    assert!(uses_filter(&webhook, "FILE_PATH"));
    assert!(!uses_filter(&webhook, "COMMIT_MESSAGE"));
    assert!(!uses_filter(&json!({}), "FILE_PATH"));
    assert!(!uses_filter(&json!({ "filterGroups": [] }), "COMMIT_MESSAGE"));
}

// ---------------------------------------------------------------------------------------
// One transaction per transition: the whole state before and after each.

use serde_json::Value;

use crate::AppState;
use crate::aws::Caller;
use crate::state_snapshot::{changes, snapshot};

/// 2026-01-01, in epoch milliseconds.
const NOW: i64 = 1_767_225_600_000;

fn admin() -> Caller {
    Caller { user: "admin".to_owned(), access_key_id: String::new(), host: String::new() }
}

async fn codebuild(state: &AppState, operation: &str, input: Value) -> Value {
    crate::codebuild::call(state, &admin(), operation, input).await.unwrap()
}

async fn codecommit(state: &AppState, operation: &str, input: Value) -> Value {
    crate::aws::codecommit::call(state, &admin(), operation, input).await.unwrap()
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
    super::pass(&state, NOW).await.unwrap();
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
    super::pass(&state, NOW + 1).await.unwrap();
    assert_eq!(changes(&after, &snapshot(&state.store, &[]).await, &[]), Vec::<String>::new());
}
