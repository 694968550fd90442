//! Builds that wait in the queue longer than `queuedTimeoutInMinutes` end `TIMED_OUT`;
//! StartBuild's limits and idempotency; StartBuild and BatchDeleteBuilds as one transaction
//! each, checked against whole-state snapshots.

use serde_json::{Value, json};

use super::expire_queued;
use crate::AppState;
use crate::aws::Caller;

async fn codebuild(state: &AppState, operation: &str, input: Value) -> Value {
    let caller =
        Caller { user: "admin".to_owned(), access_key_id: String::new(), host: String::new() };
    crate::codebuild::call(state, &caller, operation, input).await.unwrap()
}

/// A project `name` whose builds echo one line.
async fn create_echo_project(state: &AppState, name: &str) {
    let buildspec = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n";
    let project = json!({
        "name": name,
        "source": { "type": "NO_SOURCE", "buildspec": buildspec },
        "artifacts": { "type": "NO_ARTIFACTS" },
        "environment": { "type": "LINUX_CONTAINER", "image": "i", "computeType": "BUILD_GENERAL1_SMALL" },
        "serviceRole": "r",
    });
    codebuild(state, "CreateProject", project).await;
}

#[tokio::test]
async fn a_build_queued_past_its_queued_timeout_ends_timed_out() {
    let (state, _dir) = crate::test_state("us-east-1").await;
    let buildspec = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n";
    codebuild(
        &state,
        "CreateProject",
        json!({
            "name": "waits",
            "source": { "type": "NO_SOURCE", "buildspec": buildspec },
            "artifacts": { "type": "NO_ARTIFACTS" },
            "environment": { "type": "LINUX_CONTAINER", "image": "i", "computeType": "BUILD_GENERAL1_SMALL" },
            "serviceRole": "r",
            "queuedTimeoutInMinutes": 30,
        }),
    )
    .await;
    // No agent is running: both builds stay queued.
    let short = codebuild(
        &state,
        "StartBuild",
        json!({ "projectName": "waits", "queuedTimeoutInMinutesOverride": 5 }),
    )
    .await;
    let long = codebuild(&state, "StartBuild", json!({ "projectName": "waits" })).await;
    let short = short["build"]["id"].as_str().unwrap().to_owned();
    let long = long["build"]["id"].as_str().unwrap().to_owned();
    let minute = 60_000;
    // The times are the queue's own, so that however long StartBuild took does not matter.
    let queued = state.store.queued_jobs().await.unwrap();
    let enqueued_at = |id: &str| queued.iter().find(|job| job.id == id).unwrap().enqueued_at;
    let (short_at, long_at) = (enqueued_at(&short), enqueued_at(&long));

    assert_eq!(expire_queued(&state, short_at + 5 * minute - 1).await.unwrap(), 0);
    // Five minutes after it was queued: only the override's.
    assert_eq!(expire_queued(&state, short_at + 5 * minute).await.unwrap(), 1);
    let builds = codebuild(&state, "BatchGetBuilds", json!({ "ids": [&short, &long] })).await;
    let (short_build, long_build) = (&builds["builds"][0], &builds["builds"][1]);
    assert_eq!(short_build["buildStatus"], "TIMED_OUT");
    assert_eq!(short_build["buildComplete"], true);
    assert_eq!(short_build["queuedTimeoutInMinutes"], 5);
    let queued = short_build["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|phase| phase["phaseType"] == "QUEUED")
        .unwrap();
    assert_eq!(queued["phaseStatus"], "TIMED_OUT");
    assert_eq!(queued["contexts"][0]["statusCode"], "BUILD_TIMED_OUT");
    assert_eq!(long_build["buildStatus"], "IN_PROGRESS");
    assert_eq!(long_build["currentPhase"], "QUEUED");
    // Off the queue: no agent can lease it any more.
    let queue: Vec<String> =
        state.store.queued_jobs().await.unwrap().into_iter().map(|job| job.id).collect();
    assert_eq!(queue, vec![long.clone()]);

    // The project's 30 minutes for the other; once ended, a build is not ended again.
    assert_eq!(expire_queued(&state, long_at + 30 * minute - 1).await.unwrap(), 0);
    assert_eq!(expire_queued(&state, long_at + 30 * minute).await.unwrap(), 1);
    assert_eq!(expire_queued(&state, long_at + 60 * minute).await.unwrap(), 0);
    let builds = codebuild(&state, "BatchGetBuilds", json!({ "ids": [&long] })).await;
    assert_eq!(builds["builds"][0]["buildStatus"], "TIMED_OUT");
}

#[tokio::test]
async fn only_queued_builds_say_why_they_wait() {
    let (state, _dir) = crate::test_state("us-east-1").await;
    create_echo_project(&state, "waits").await;
    let started = engine::clock::now_ms();
    let ended = codebuild(
        &state,
        "StartBuild",
        json!({ "projectName": "waits", "queuedTimeoutInMinutesOverride": 5 }),
    )
    .await;
    let ended = ended["build"]["id"].as_str().unwrap().to_owned();
    assert_eq!(expire_queued(&state, started + 6 * 60_000).await.unwrap(), 1);
    let queued = codebuild(&state, "StartBuild", json!({ "projectName": "waits" })).await;
    let queued = queued["build"]["id"].as_str().unwrap().to_owned();

    let builds = codebuild(&state, "BatchGetBuilds", json!({ "ids": [&ended, &queued] })).await;
    let build = |id: &str| {
        builds["builds"].as_array().unwrap().iter().find(|it| it["id"] == id).unwrap().clone()
    };
    let context = |id: &str| {
        let phases = build(id)["phases"].as_array().unwrap().clone();
        phases.last().unwrap()["contexts"].clone()
    };
    assert_eq!(build(&queued)["currentPhase"], "QUEUED", "{builds}");
    assert_eq!(context(&queued)[0]["statusCode"], "WAITING", "{builds}");
    let reason = context(&queued)[0]["message"].as_str().unwrap().to_owned();
    assert!(reason.starts_with("No agent is connected"), "{reason}");
    assert!(!context(&ended).to_string().contains("WAITING"), "{builds}");
    // The ended build alone: nothing waits, and nothing says so.
    let builds = codebuild(&state, "BatchGetBuilds", json!({ "ids": [&ended] })).await;
    assert!(!builds.to_string().contains("No agent is connected"), "{builds}");
}

#[tokio::test]
async fn parallel_start_builds_with_one_idempotency_token_make_one_build() {
    let (state, _dir) = crate::test_state("us-east-1").await;
    create_echo_project(&state, "once").await;
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let state = state.clone();
            tokio::spawn(async move {
                let input = json!({ "projectName": "once", "idempotencyToken": "t-1" });
                codebuild(&state, "StartBuild", input).await["build"]["id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
        })
        .collect();
    let mut ids = std::collections::BTreeSet::new();
    for task in tasks {
        ids.insert(task.await.unwrap());
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    let listed = codebuild(&state, "ListBuildsForProject", json!({ "projectName": "once" })).await;
    assert_eq!(listed["ids"].as_array().unwrap().len(), 1, "{listed}");
}

#[tokio::test]
async fn oversized_environment_variables_are_refused_at_start_build() {
    let (state, _dir) = crate::test_state("us-east-1").await;
    create_echo_project(&state, "vars").await;
    let caller =
        Caller { user: "admin".to_owned(), access_key_id: String::new(), host: String::new() };
    let big = "x".repeat(1024 * 1024);
    let input = json!({
        "projectName": "vars",
        "environmentVariablesOverride": [{ "name": "OK", "value": "1" }, { "name": "BIG", "value": big }],
    });
    let err = crate::codebuild::call(&state, &caller, "StartBuild", input).await.unwrap_err();
    assert_eq!(err.code, "InvalidInputException");
    assert!(err.message.contains("environmentVariablesOverride[1] (BIG)"), "{}", err.message);
    let many: Vec<Value> = (0..20)
        .map(|i| json!({ "name": format!("V{i}"), "value": "x".repeat(100 * 1024) }))
        .collect();
    let input = json!({ "projectName": "vars", "environmentVariablesOverride": many });
    let err = crate::codebuild::call(&state, &caller, "StartBuild", input).await.unwrap_err();
    assert!(err.message.contains("together"), "{}", err.message);
    let listed = codebuild(&state, "ListBuildsForProject", json!({ "projectName": "vars" })).await;
    assert_eq!(listed["ids"], json!([]));
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
    let err = crate::codebuild::call(&state, &caller, "StartBuild", input).await.unwrap_err();
    assert_eq!(err.code, "InvalidInputException", "{err:?}");
    assert!(err.message.contains("larger than 1024 KiB"), "{}", err.message);
}

// ---------------------------------------------------------------------------------------
// One transaction per transition: the whole state before and after each.

use crate::state_snapshot::{changes, snapshot};

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

/// Secondary artifacts are named by their own project settings, under their identifier; a
/// name that is no usable key (`..`, empty) leaves the agent's file name.
#[test]
fn artifact_keys_follow_the_project_settings_of_each_artifact() {
    let document = engine::store::Document {
        kind: super::BUILD.to_owned(),
        key: "app:u".to_owned(),
        parent: None,
        sort: 0,
        version: 0,
        body: json!({ super::INTERNAL: { "artifacts": {
            "primary": { "type": "S3", "name": "p.zip" },
            "secondary": [
                { "type": "S3", "artifactIdentifier": "docs", "name": "d.zip", "overrideArtifactName": true },
                { "type": "S3", "artifactIdentifier": "bad", "name": "../x", "overrideArtifactName": true },
            ],
        } } }),
    };
    let key =
        |identifier, file, name| super::artifact_key(&document, "app:u", identifier, file, name);
    assert_eq!(key(None, "artifacts.zip", Some("b.zip")), ("builds/app/u/p.zip".to_owned(), false));
    assert_eq!(
        key(Some("docs"), "docs.zip", Some("v/1.zip")),
        ("builds/app/u/docs/v/1.zip".to_owned(), true)
    );
    assert_eq!(key(Some("docs"), "docs.zip", None), ("builds/app/u/docs/d.zip".to_owned(), true));
    assert_eq!(key(Some("bad"), "bad.zip", Some("..")), ("builds/app/u/bad.zip".to_owned(), true));
    assert_eq!(
        key(Some("none"), "none.zip", Some("n")),
        ("builds/app/u/none.zip".to_owned(), false)
    );
}
