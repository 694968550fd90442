//! Webhook filter groups against pushes; which filters need git. (CreateWebhook and the loop's
//! pass over hosted repositories are tested in the server, `aws/codebuild/tests.rs`.)

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
