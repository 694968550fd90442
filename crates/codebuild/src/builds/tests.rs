//! Builds that wait in the queue longer than `queuedTimeoutInMinutes` end `TIMED_OUT`;
//! StartBuild's limits and idempotency; S3 sources. (StartBuild over hosted repositories and
//! the whole-state snapshots are tested in the server, `aws/codebuild/tests.rs`.)

use serde_json::{Value, json};

use super::expire_queued;
use crate::Context;

async fn codebuild(state: &Context, operation: &str, input: Value) -> Value {
    crate::testing::call(state, operation, input).await.unwrap()
}

/// A project `name` whose builds echo one line.
async fn create_echo_project(state: &Context, name: &str) {
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
    let (state, _dir) = crate::testing::test_context().await;
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
    let (state, _dir) = crate::testing::test_context().await;
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
    let (state, _dir) = crate::testing::test_context().await;
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
    let (state, _dir) = crate::testing::test_context().await;
    create_echo_project(&state, "vars").await;
    let big = "x".repeat(1024 * 1024);
    let input = json!({
        "projectName": "vars",
        "environmentVariablesOverride": [{ "name": "OK", "value": "1" }, { "name": "BIG", "value": big }],
    });
    let err = crate::testing::call(&state, "StartBuild", input).await.unwrap_err();
    assert_eq!(err.code, "InvalidInputException");
    assert!(err.message.contains("environmentVariablesOverride[1] (BIG)"), "{}", err.message);
    let many: Vec<Value> = (0..20)
        .map(|i| json!({ "name": format!("V{i}"), "value": "x".repeat(100 * 1024) }))
        .collect();
    let input = json!({ "projectName": "vars", "environmentVariablesOverride": many });
    let err = crate::testing::call(&state, "StartBuild", input).await.unwrap_err();
    assert!(err.message.contains("together"), "{}", err.message);
    let listed = codebuild(&state, "ListBuildsForProject", json!({ "projectName": "vars" })).await;
    assert_eq!(listed["ids"], json!([]));
}

/// A member of the wrong type is a SerializationException naming it; RetryBuild repeats the
/// request the build keeps, members this server does not act on included, with the retry's own
/// idempotency token.
#[tokio::test]
async fn typed_inputs_name_a_wrong_member_and_retry_repeats_the_whole_request() {
    let (state, _dir) = crate::testing::test_context().await;
    create_echo_project(&state, "typed").await;
    let input = json!({ "projectName": "typed", "timeoutInMinutesOverride": "ten" });
    let err = crate::testing::call(&state, "StartBuild", input).await.unwrap_err();
    assert_eq!(err.code, "SerializationException", "{err:?}");
    assert!(err.message.contains("timeoutInMinutesOverride"), "{}", err.message);
    let input = json!({
        "projectName": "typed",
        "environmentVariablesOverride": [{ "name": "GREETING", "value": "hi" }],
        "artifactsOverride": { "type": "NO_ARTIFACTS" },
        "idempotencyToken": "first",
    });
    let started = codebuild(&state, "StartBuild", input.clone()).await;
    let first = started["build"]["id"].as_str().unwrap().to_owned();
    let retried = codebuild(&state, "RetryBuild", json!({ "id": first })).await;
    let second = retried["build"]["id"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    let document = state.store.get(super::BUILD, &second).await.unwrap().unwrap();
    let mut expected = input;
    expected.as_object_mut().unwrap().remove("idempotencyToken");
    assert_eq!(document.body[super::INTERNAL]["request"], expected);
    let variables = &retried["build"]["environment"]["environmentVariables"];
    assert_eq!(variables, &json!([{ "name": "GREETING", "value": "hi", "type": "PLAINTEXT" }]));
}

/// BatchGetBuilds answers a build that is not queued with its stored text (top-level members
/// parsed, the bookkeeping dropped) and a queued one through the parsed path: both are what
/// `public` gives, and the queued one says why it waits.
#[tokio::test]
async fn batch_get_builds_answers_stored_text_as_the_parsed_path_would() {
    let (state, _dir) = crate::testing::test_context().await;
    create_echo_project(&state, "texts").await;
    let started = codebuild(&state, "StartBuild", json!({ "projectName": "texts" })).await;
    let queued = started["build"]["id"].as_str().unwrap().to_owned();
    let started = codebuild(&state, "StartBuild", json!({ "projectName": "texts" })).await;
    let stopped = started["build"]["id"].as_str().unwrap().to_owned();
    codebuild(&state, "StopBuild", json!({ "id": stopped })).await;

    let ids = vec![stopped.clone(), queued.clone()];
    let answer =
        super::batch_get_builds(&state, super::BatchGetBuildsInput { ids: Some(ids) }, 0).await;
    let answer = answer.unwrap();
    let stored =
        state.store.get_many(engine::kinds::BUILD, std::slice::from_ref(&stopped)).await.unwrap();
    // The stopped build: its text, exactly the parsed path's serialization.
    assert_eq!(answer.builds[0].get(), super::public(&stored[0]).to_string());
    assert!(!answer.builds[0].get().contains(super::INTERNAL));
    let raw = state.store.get_many_raw(engine::kinds::BUILD, &[stopped]).await.unwrap();
    assert!(super::public_text(&raw[0].body).is_some());
    // The queued build: the parsed path, with the reason it waits.
    let raw = state.store.get_many_raw(engine::kinds::BUILD, &[queued]).await.unwrap();
    assert!(super::public_text(&raw[0].body).is_none());
    let build: Value = serde_json::from_str(answer.builds[1].get()).unwrap();
    assert_eq!(build["currentPhase"], "QUEUED");
    let phase = build["phases"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(phase["contexts"][0]["statusCode"], "WAITING", "{build}");
    assert!(!answer.builds[1].get().contains(super::INTERNAL));
}

fn zip_of(entries: &[(&str, &str)]) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, text) in entries {
        zip.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// A build of an S3 source compiles the buildspec in its zip and hands the agent the zip's
/// bucket and key; a zip without one fails the build in DOWNLOAD_SOURCE; a missing zip, or
/// one the build's role may not read, is not read and the agent is told why.
#[tokio::test]
async fn an_s3_source_build_reads_its_buildspec_from_the_zip() {
    let buckets = std::sync::Arc::new(crate::testing::MemoryBuckets::with_bucket("src"));
    let buildspec = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo from-zip\n";
    buckets.put("src", "app.zip", &zip_of(&[("buildspec.yml", buildspec), ("a.txt", "a")]));
    buckets.put("src", "empty.zip", &zip_of(&[("a.txt", "a")]));
    let (state, _dir) = crate::testing::test_context_with(buckets).await;
    let project = json!({
        "name": "s3app",
        "source": { "type": "S3", "location": "arn:aws:s3:::src/app.zip" },
        "artifacts": { "type": "NO_ARTIFACTS" },
        "environment": { "type": "LINUX_CONTAINER", "image": "i", "computeType": "BUILD_GENERAL1_SMALL" },
        "serviceRole": "reader",
    });
    codebuild(&state, "CreateProject", project).await;
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::src/*"}]}"#;
    crate::testing::role(&state, "reader", crate::testing::TRUST_CODEBUILD, policy).await;
    let started =
        codebuild(&state, "StartBuild", json!({ "projectName": "s3app", "sourceVersion": "v1" }))
            .await;
    assert_eq!(started["build"]["buildStatus"], "IN_PROGRESS", "{started}");
    assert_eq!(started["build"]["sourceVersion"], "v1");
    let queued = |id: String| {
        let state = state.clone();
        async move {
            let jobs = state.store.queued_jobs().await.unwrap();
            let job = jobs.into_iter().find(|it| it.id == id).unwrap();
            serde_json::from_value::<protocol::agent::BuildJob>(job.payload).unwrap()
        }
    };
    let job = queued(started["build"]["id"].as_str().unwrap().to_owned()).await;
    let source = job.s3_source.unwrap();
    assert_eq!(source.refused, None);
    assert_eq!((source.bucket.as_str(), source.key.as_str()), ("src", "app.zip"));
    assert_eq!(source.version.as_deref(), Some("v1"));
    assert_eq!(job.plan.phases[0].commands, ["echo from-zip"]);

    let override_to =
        |location: &str| json!({ "projectName": "s3app", "sourceLocationOverride": location });
    let failed = codebuild(&state, "StartBuild", override_to("src/empty.zip")).await;
    assert_eq!(failed["build"]["buildStatus"], "FAILED", "{failed}");
    let phases = failed["build"]["phases"].as_array().unwrap();
    let download = phases.iter().find(|it| it["phaseType"] == "DOWNLOAD_SOURCE").unwrap();
    assert_eq!(
        download["contexts"][0]["message"],
        "buildspec.yml does not exist in s3://src/empty.zip"
    );
    for (location, why) in [
        (
            "src/gone.zip",
            "The build's source cannot be read: the object s3://src/gone.zip does not exist",
        ),
        (
            "other/app.zip",
            "Role arn:aws:iam::000000000000:role/reader may not read object arn:aws:s3:::other/app.zip (s3:GetObject)",
        ),
    ] {
        let started = codebuild(&state, "StartBuild", override_to(location)).await;
        assert_eq!(started["build"]["buildStatus"], "IN_PROGRESS", "{started}");
        let job = queued(started["build"]["id"].as_str().unwrap().to_owned()).await;
        assert_eq!(job.s3_source.unwrap().refused.as_deref(), Some(why));
    }
}

/// A build whose role could not read its S3 source when it started never runs, even if the
/// role may read it by the time an agent leases the build: its plan is no buildspec's.
#[tokio::test]
async fn an_s3_source_refused_at_start_stays_refused_at_lease() {
    let buckets = std::sync::Arc::new(crate::testing::MemoryBuckets::with_bucket("src"));
    let buildspec = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo from-zip\n";
    buckets.put("src", "app.zip", &zip_of(&[("buildspec.yml", buildspec)]));
    let (state, _dir) = crate::testing::test_context_with(buckets).await;
    crate::testing::create_role(&state, "late", crate::testing::TRUST_CODEBUILD).await;
    let project = json!({
        "name": "late",
        "source": { "type": "S3", "location": "src/app.zip" },
        "artifacts": { "type": "NO_ARTIFACTS" },
        "environment": { "type": "LINUX_CONTAINER", "image": "i", "computeType": "BUILD_GENERAL1_SMALL" },
        "serviceRole": "late",
    });
    codebuild(&state, "CreateProject", project).await;
    codebuild(&state, "StartBuild", json!({ "projectName": "late" })).await;
    let read = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
    crate::testing::put_role_policy(&state, "late", read).await;
    let now = engine::clock::now_ms();
    let labels = std::collections::BTreeMap::new();
    let offer = crate::queue::try_lease(&state, "agent-1", &labels, now).await.unwrap().unwrap();
    let refused = offer.build.s3_source.unwrap().refused.unwrap();
    assert!(
        refused.contains("role/late may not read object arn:aws:s3:::src/app.zip"),
        "{refused}"
    );
}
