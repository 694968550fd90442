//! The agent API through the router: an agent token acts only as its own agents, on jobs
//! leased to them; a build's git token dies with the build; request bodies are rejected in the
//! agent protocol's JSON error shape, never as axum's plain text; the lease, an event batch,
//! the finish and a lost lease are one transaction each, checked against whole-state snapshots.

use protocol::BuildStatus;
use protocol::agent::{FinishRequest, JobOffer, LeaseResponse, RegisterResponse};
use serde_json::{Value, json};

use codebuild::builds::{INTERNAL, core};
use codebuild::queue::{agent_name, end_lost, expire_leases, record_events, try_lease};
use engine::kinds::{BUILD, BUILD_TOKEN};

use super::*;
use crate::aws::Caller;

struct Harness {
    state: AppState,
    endpoint: String,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
    _serving: tokio::task::JoinHandle<()>,
}

/// An agent as the server knows it: its token and the id it registered as.
struct Agent {
    token: String,
    id: String,
}

impl Harness {
    async fn start() -> Harness {
        let (state, dir) = crate::test_state("us-east-1").await;
        let (endpoint, serving) = crate::serve_for_test(state.clone()).await;
        Harness { state, endpoint, client: reqwest::Client::new(), _dir: dir, _serving: serving }
    }

    async fn codebuild(&self, operation: &str, input: Value) -> Value {
        let caller =
            Caller { user: "admin".to_owned(), access_key_id: String::new(), host: String::new() };
        let answer = crate::aws::codebuild::call(&self.state, &caller, operation, input).await;
        serde_json::from_str(&answer.unwrap()).unwrap()
    }

    /// A project whose builds use the git credential helper, and one queued build of it.
    async fn queue_build(&self) -> String {
        let buildspec = "version: 0.2\nenv:\n  git-credential-helper: yes\nphases:\n  build:\n    commands:\n      - echo hi\n";
        self.codebuild(
            "CreateProject",
            json!({
                "name": "proj",
                "source": { "type": "NO_SOURCE", "buildspec": buildspec },
                "artifacts": { "type": "NO_ARTIFACTS" },
                "environment": { "type": "LINUX_CONTAINER", "image": "i", "computeType": "BUILD_GENERAL1_SMALL" },
                "serviceRole": "r",
            }),
        )
        .await;
        let started = self.codebuild("StartBuild", json!({ "projectName": "proj" })).await;
        started["build"]["id"].as_str().unwrap().to_owned()
    }

    async fn register(&self, name: &str) -> Agent {
        let token = create_token(&self.state, name).await.unwrap();
        let response = self
            .client
            .post(format!("{}/agent/v1/register", self.endpoint))
            .bearer_auth(&token)
            .json(&json!({ "name": name, "labels": {}, "concurrency": 1, "protocol": PROTOCOL_VERSION }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let registered: RegisterResponse = response.json().await.unwrap();
        Agent { token, id: registered.agent_id }
    }

    /// `method path` with `token` as `agent_id` (header) and `body`; the status and the
    /// answer.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        agent_id: &str,
        body: Vec<u8>,
    ) -> (u16, String) {
        let response = self
            .client
            .request(method, format!("{}{path}", self.endpoint))
            .bearer_auth(token)
            .header("x-slipway-agent", agent_id)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    async fn lease(&self, token: &str, agent_id: &str) -> (u16, String) {
        let body = json!({ "agentId": agent_id, "waitMs": 0 }).to_string().into_bytes();
        self.call(reqwest::Method::POST, "/agent/v1/lease", token, agent_id, body).await
    }

    /// The finish request that would end `build_id` SUCCEEDED.
    async fn succeeded(&self, build_id: &str, agent_id: &str) -> Vec<u8> {
        let document = self.state.store.get(BUILD, build_id).await.unwrap().unwrap();
        let mut build = core(&document).unwrap();
        build.build_status = BuildStatus::Succeeded;
        build.build_complete = true;
        serde_json::to_vec(&FinishRequest {
            agent_id: agent_id.to_owned(),
            build,
            uploaded_reports: Vec::new(),
            artifact_names: Default::default(),
        })
        .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_token_acts_only_as_its_own_agent_on_its_own_jobs() {
    let harness = Harness::start().await;
    let build_id = harness.queue_build().await;
    let a = harness.register("agent-a").await;
    let b = harness.register("agent-b").await;

    // B's token cannot lease as A (the lease hands out the build's secrets).
    let (status, text) = harness.lease(&b.token, &a.id).await;
    assert_eq!(status, 403, "{text}");
    let (status, text) = harness.lease(&a.token, &a.id).await;
    assert_eq!(status, 200, "{text}");
    let offer: LeaseResponse = serde_json::from_str(&text).unwrap();
    let JobOffer { job_id, .. } = offer.job.expect("A leased the build");
    assert_eq!(job_id, build_id);

    // B's token with A's id: refused on every call about A's job.
    let job = |what: &str| format!("/agent/v1/jobs/{job_id}/{what}");
    let post = reqwest::Method::POST;
    let events = json!({ "agentId": a.id, "seq": 0, "events": [] }).to_string().into_bytes();
    let finish = harness.succeeded(&build_id, &a.id).await;
    for (method, path, body) in [
        (post.clone(), job("heartbeat"), Vec::new()),
        (post.clone(), job("events"), events.clone()),
        (reqwest::Method::PUT, job("artifacts/out.zip"), b"forged".to_vec()),
        (post.clone(), job("finish"), finish.clone()),
    ] {
        let (status, text) = harness.call(method, &path, &b.token, &a.id, body).await;
        assert_eq!(status, 403, "{path}: {text}");
    }
    // B's own id on A's job: not leased to B.
    let events_b = json!({ "agentId": b.id, "seq": 0, "events": [] }).to_string().into_bytes();
    let finish_b = harness.succeeded(&build_id, &b.id).await;
    for (path, body) in
        [(job("heartbeat"), Vec::new()), (job("events"), events_b), (job("finish"), finish_b)]
    {
        let (status, text) = harness.call(post.clone(), &path, &b.token, &b.id, body).await;
        assert_eq!(status, 409, "{path}: {text}");
        assert!(text.contains("JobNotLeased"), "{text}");
    }
    // The finish body is not even parsed for a caller who may not finish.
    let (status, _) =
        harness.call(post.clone(), &job("finish"), &b.token, &a.id, b"{not json".to_vec()).await;
    assert_eq!(status, 403);
    let (status, _) = harness
        .call(post.clone(), &job("finish"), "slw_unknown", &a.id, b"{not json".to_vec())
        .await;
    assert_eq!(status, 401);
    // A header that says A with a body that says B is refused too.
    let (status, _) = harness
        .call(
            post.clone(),
            &job("finish"),
            &a.token,
            &a.id,
            harness.succeeded(&build_id, &b.id).await,
        )
        .await;
    assert_eq!(status, 409);

    // Nothing B sent changed the build; A still runs and finishes it.
    let document = harness.state.store.get(BUILD, &build_id).await.unwrap().unwrap();
    assert_eq!(document.body["buildStatus"], "IN_PROGRESS");
    let (status, text) =
        harness.call(post.clone(), &job("heartbeat"), &a.token, &a.id, Vec::new()).await;
    assert_eq!(status, 200, "{text}");
    let (status, text) = harness.call(post, &job("finish"), &a.token, &a.id, finish).await;
    assert_eq!(status, 204, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_agents_token_cannot_upload_a_report_into_an_agents_job() {
    let harness = Harness::start().await;
    let build_id = harness.queue_build().await;
    let a = harness.register("agent-a").await;
    let b = harness.register("agent-b").await;
    let (status, text) = harness.lease(&a.token, &a.id).await;
    assert_eq!(status, 200, "{text}");
    let path = format!("/agent/v1/jobs/{build_id}/reports/0");
    let forged = b"{\"name\":\"forged\"}\n".to_vec();
    // B's token saying it is A: refused before anything is stored.
    let put = reqwest::Method::PUT;
    let (status, text) = harness.call(put.clone(), &path, &b.token, &a.id, forged.clone()).await;
    assert_eq!(status, 403, "{text}");
    let key = codebuild::reports::upload_key(&build_id, 0);
    assert!(harness.state.blobs.head(&key).await.unwrap().is_none(), "B's report was stored");
    // A itself may.
    let (status, text) = harness.call(put, &path, &a.token, &a.id, forged).await;
    assert_eq!(status, 204, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_builds_git_token_dies_with_the_build() {
    let harness = Harness::start().await;
    let build_id = harness.queue_build().await;
    let a = harness.register("agent-a").await;
    let (status, text) = harness.lease(&a.token, &a.id).await;
    assert_eq!(status, 200, "{text}");
    let offer: LeaseResponse = serde_json::from_str(&text).unwrap();
    let token = offer.job.unwrap().build.git_token.expect("the build asked for a git token");
    assert_eq!(build_token_user(&harness.state, &token).await.as_deref(), Some("admin"));

    let finish = harness.succeeded(&build_id, &a.id).await;
    let path = format!("/agent/v1/jobs/{build_id}/finish");
    let (status, text) = harness.call(reqwest::Method::POST, &path, &a.token, &a.id, finish).await;
    assert_eq!(status, 204, "{text}");
    // The build has ended: its token reaches nothing any more, and is gone.
    assert_eq!(build_token_user(&harness.state, &token).await, None);
    let response = harness
        .client
        .get(format!("{}/v1/repos/anything/info/refs?service=git-receive-pack", harness.endpoint))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(harness.state.store.get(BUILD_TOKEN, &token_hash(&token)).await.unwrap().is_none());
}

#[tokio::test]
async fn a_lost_agent_is_named_by_its_name_not_its_id() {
    let harness = Harness::start().await;
    let build_id = harness.queue_build().await;
    let a = harness.register("build-box-1").await;
    let mut document = harness.state.store.get(BUILD, &build_id).await.unwrap().unwrap();
    let mut build = core(&document).unwrap();
    end_lost(&mut document, &mut build, 0.0, &agent_name(harness.state.codebuild(), &a.id).await);
    let context = build
        .phases
        .iter()
        .flat_map(|phase| phase.contexts.iter().flatten())
        .find(|context| context.status_code == "AGENT_LOST")
        .expect("the build says its agent was lost");
    assert!(context.message.contains("\"build-box-1\"") && !context.message.contains(&a.id));
    assert!(!serde_json::to_string(&document.body).unwrap().contains(&a.id));
}

async fn error_of(response: axum::response::Response) -> (StatusCode, AgentApiError) {
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn a_body_over_the_limit_is_too_large_in_the_protocols_shape() {
    // Without the router's layer, axum's default limit (2 MB) applies.
    let request = Request::new(Body::from(vec![b' '; 3 << 20]));
    let Err(rejection) = AgentBody::from_request(request, &()).await else {
        panic!("a 3 MB body passed the default limit");
    };
    let (status, error) = error_of(rejection.into_response()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error.code, "TooLarge");
}

#[tokio::test]
async fn malformed_json_is_a_bad_request_naming_the_problem() {
    let request = Request::new(Body::from(r#"{"name": 1}"#));
    let Err(rejection) = AgentJson::<RegisterRequest>::from_request(request, &()).await else {
        panic!("a malformed registration was accepted");
    };
    let (status, error) = error_of(rejection.into_response()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error.code, "BadRequest");
    assert!(error.message.contains("invalid type"), "{}", error.message);
}

// ---------------------------------------------------------------------------------------
// One transaction per transition: the whole state before and after each.

use crate::state_snapshot::{changes, snapshot};

/// 2026-01-01, in epoch milliseconds: the time the transitions below are told.
const NOW: i64 = 1_767_225_600_000;

/// A queued build leased to a registered agent at [`NOW`]: the harness, the build, the agent
/// and the build's git token.
async fn leased() -> (Harness, String, Agent, String) {
    let harness = Harness::start().await;
    let build_id = harness.queue_build().await;
    let agent = harness.register("agent-a").await;
    let Ok(Some(offer)) =
        try_lease(harness.state.codebuild(), &agent.id, &BTreeMap::new(), NOW).await
    else {
        panic!("the agent leased nothing");
    };
    assert_eq!(offer.job_id, build_id);
    let token = offer.build.git_token.expect("the build asked for a git token");
    (harness, build_id, agent, token)
}

fn names<'a>(build_id: &'a str, token: &'a str) -> [(&'a str, &'a str); 2] {
    [(build_id, "<build>"), (token, "<token>")]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_writes_the_job_the_build_and_its_token_in_one_transaction() {
    let harness = Harness::start().await;
    let build_id = harness.queue_build().await;
    let agent = harness.register("agent-a").await;
    let store = &harness.state.store;
    let before = snapshot(store, &[&build_id]).await;
    let Ok(Some(offer)) =
        try_lease(harness.state.codebuild(), &agent.id, &BTreeMap::new(), NOW).await
    else {
        panic!("the agent leased nothing");
    };
    let after = snapshot(store, &[&build_id]).await;
    let hash = token_hash(offer.build.git_token.as_deref().unwrap());
    assert_eq!(
        changes(&before, &after, &names(&build_id, &hash)),
        [
            "document build <build> changed",
            "document build-token <token> added",
            "job <build> changed",
        ]
    );
    assert_eq!(
        after[&format!("job {build_id}")]["lease"],
        json!({ "agent": agent.id, "until": NOW + LEASE_MS, "attempts": 1 })
    );
    let build = &after[&format!("document build {build_id}")]["body"];
    assert_eq!(build[INTERNAL]["agentId"], json!(agent.id));
    // QUEUED has ended, at the lease's time.
    let queued = build["phases"].as_array().unwrap().iter().find(|it| it["phaseType"] == "QUEUED");
    assert_eq!(queued.unwrap()["endTime"], json!(engine::clock::aws_timestamp(NOW)));
    let token = &after[&format!("document build-token {hash}")];
    assert_eq!(token["parent"], json!(build_id));
    assert_eq!(token["body"]["agentId"], json!(agent.id));
    // A second agent finds nothing to take, and changes nothing looking.
    let b = harness.register("agent-b").await;
    let before = snapshot(store, &[&build_id]).await;
    assert!(matches!(
        try_lease(harness.state.codebuild(), &b.id, &BTreeMap::new(), NOW + 1).await,
        Ok(None)
    ));
    assert_eq!(changes(&before, &snapshot(store, &[&build_id]).await, &[]), Vec::<String>::new());
}

fn message_batch(agent_id: &str, seq: u64, text: &str) -> EventBatch {
    EventBatch {
        agent_id: agent_id.to_owned(),
        seq,
        events: vec![protocol::BuildEvent::Message { text: text.to_owned(), time: None }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_batch_renews_logs_and_records_in_one_transaction() {
    let (harness, build_id, agent, token) = leased().await;
    let hash = token_hash(&token);
    let store = &harness.state.store;
    let before = snapshot(store, &[&build_id]).await;
    let batch = message_batch(&agent.id, 0, "hello");
    let Ok(control) =
        record_events(harness.state.codebuild(), &build_id, &batch, NOW + 1_000).await
    else {
        panic!("the batch was refused");
    };
    assert!(!control.stop);
    let after = snapshot(store, &[&build_id]).await;
    assert_eq!(
        changes(&before, &after, &names(&build_id, &hash)),
        ["document build <build> changed", "job <build> changed", "log <build>/0 added"]
    );
    assert_eq!(after[&format!("job {build_id}")]["lease"]["until"], json!(NOW + 1_000 + LEASE_MS));
    assert!(after[&format!("log {build_id}/0")].as_str().unwrap().contains("hello"));
    let internal = &after[&format!("document build {build_id}")]["body"][INTERNAL];
    assert_eq!((&internal["eventSeq"], &internal["logSeq"]), (&json!(1), &json!(1)));

    // A batch whose log chunk cannot be written changes nothing: the lease is not renewed
    // and the build does not count the batch.
    store.append_log(&build_id, 1, b"in the way").await.unwrap();
    let before = snapshot(store, &[&build_id]).await;
    let batch = message_batch(&agent.id, 1, "again");
    assert!(
        record_events(harness.state.codebuild(), &build_id, &batch, NOW + 2_000).await.is_err()
    );
    assert_eq!(changes(&before, &snapshot(store, &[&build_id]).await, &[]), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finishing_ends_the_build_its_job_and_its_git_token_in_one_transaction() {
    let (harness, build_id, agent, token) = leased().await;
    let hash = token_hash(&token);
    let store = &harness.state.store;
    let before = snapshot(store, &[&build_id]).await;
    let finish = harness.succeeded(&build_id, &agent.id).await;
    let path = format!("/agent/v1/jobs/{build_id}/finish");
    let (status, text) =
        harness.call(reqwest::Method::POST, &path, &agent.token, &agent.id, finish).await;
    assert_eq!(status, 204, "{text}");
    let after = snapshot(store, &[&build_id]).await;
    assert_eq!(
        changes(&before, &after, &names(&build_id, &hash)),
        [
            "document build <build> changed",
            "document build-token <token> removed",
            "job <build> removed",
        ]
    );
    assert_eq!(after[&format!("document build {build_id}")]["body"]["buildStatus"], "SUCCEEDED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_agent_ends_the_build_its_job_and_its_git_token_in_one_transaction() {
    let (harness, build_id, _agent, token) = leased().await;
    let hash = token_hash(&token);
    let store = &harness.state.store;
    let before = snapshot(store, &[&build_id]).await;
    // Not expired yet at the lease's end; expired just after it.
    assert_eq!(expire_leases(harness.state.codebuild(), NOW + LEASE_MS).await.unwrap(), 0);
    assert_eq!(changes(&before, &snapshot(store, &[&build_id]).await, &[]), Vec::<String>::new());
    assert_eq!(expire_leases(harness.state.codebuild(), NOW + LEASE_MS + 1).await.unwrap(), 1);
    let after = snapshot(store, &[&build_id]).await;
    assert_eq!(
        changes(&before, &after, &names(&build_id, &hash)),
        [
            "document build <build> changed",
            "document build-token <token> removed",
            "job <build> removed",
        ]
    );
    assert_eq!(after[&format!("document build {build_id}")]["body"]["buildStatus"], "FAULT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_retried_after_its_agent_was_lost_takes_the_old_token_away() {
    let (harness, build_id, _agent, token) = leased().await;
    let store = &harness.state.store;
    // The project allows a retry: the lease's expiry queues the build again, and the lost
    // agent's token goes with that transaction.
    let mut project = store.get("project", "proj").await.unwrap().unwrap();
    project.body["autoRetryLimit"] = json!(1);
    let version = project.version;
    store
        .apply(vec![Write::Update { document: project, expected_version: version }])
        .await
        .unwrap();
    let before = snapshot(store, &[&build_id]).await;
    assert_eq!(expire_leases(harness.state.codebuild(), NOW + LEASE_MS + 1).await.unwrap(), 0);
    let after = snapshot(store, &[&build_id]).await;
    assert_eq!(
        changes(&before, &after, &names(&build_id, &token_hash(&token))),
        [
            "document build <build> changed",
            "document build-token <token> removed",
            "job <build> changed",
        ]
    );
    assert_eq!(after[&format!("job {build_id}")]["lease"], json!(null));
}

/// A build of an S3 source downloads its zip through `GET jobs/<job>/source`, only as the
/// agent it is leased to and only as far as its service role may read it; its artifacts of
/// type S3 go into the project's bucket as real objects, and the record names them by ARN.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_source_is_streamed_to_its_agent_and_artifacts_go_to_the_bucket() {
    let harness = Harness::start().await;
    let state = &harness.state;
    let s3 = state.s3();
    for bucket in ["src", "out"] {
        s3::buckets::create_bucket(&s3, bucket, None, 0).await.unwrap();
    }
    let zip = {
        use std::io::Write;
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        zip.start_file("buildspec.yml", zip::write::SimpleFileOptions::default()).unwrap();
        let buildspec = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\nartifacts:\n  files: [a.txt]\n";
        zip.write_all(buildspec.as_bytes()).unwrap();
        zip.finish().unwrap().into_inner()
    };
    let put = s3::objects::PutObject {
        bucket: "src".to_owned(),
        key: "app.zip".to_owned(),
        attributes: Default::default(),
        checks: Default::default(),
        if_none_match: None,
        if_match: None,
    };
    let body = futures::stream::iter([Ok(s3::objects::Chunk::Data(zip.clone().into()))]);
    s3::objects::put_object(&s3, put, body, 0).await.unwrap();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"codebuild.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"*"}]}"#;
    let role = iam::roles::CreateRoleRequest {
        path: None,
        role_name: "builder".into(),
        assume_role_policy_document: trust.into(),
        description: None,
        max_session_duration: None,
        permissions_boundary: None,
        tags: Vec::new(),
    };
    iam::roles::create_role(&state.identity, role, 0).await.unwrap();
    let inline = iam::policies::PutRolePolicyRequest {
        role_name: "builder".into(),
        policy_name: "s3".into(),
        policy_document: policy.into(),
    };
    iam::policies::put_role_policy(&state.identity, inline).await.unwrap();
    harness
        .codebuild(
            "CreateProject",
            json!({
                "name": "s3app",
                "source": { "type": "S3", "location": "src/app.zip" },
                "artifacts": { "type": "S3", "location": "out", "name": "app.zip", "packaging": "ZIP", "namespaceType": "BUILD_ID" },
                "environment": { "type": "LINUX_CONTAINER", "image": "i", "computeType": "BUILD_GENERAL1_SMALL" },
                "serviceRole": "builder",
            }),
        )
        .await;
    let started = harness.codebuild("StartBuild", json!({ "projectName": "s3app" })).await;
    let build_id = started["build"]["id"].as_str().unwrap().to_owned();
    let a = harness.register("agent-a").await;
    let b = harness.register("agent-b").await;
    let (status, text) = harness.lease(&a.token, &a.id).await;
    assert_eq!(status, 200, "{text}");
    let offer: LeaseResponse = serde_json::from_str(&text).unwrap();
    let source = offer.job.unwrap().build.s3_source.expect("an S3 source");
    assert_eq!(
        (source.bucket.as_str(), source.key.as_str(), source.refused),
        ("src", "app.zip", None)
    );

    let path = format!("/agent/v1/jobs/{build_id}/source");
    let get = reqwest::Method::GET;
    let (status, text) = harness.call(get.clone(), &path, &b.token, &a.id, Vec::new()).await;
    assert_eq!(status, 403, "another agent's token: {text}");
    let (status, text) = harness.call(get.clone(), &path, &b.token, &b.id, Vec::new()).await;
    assert_eq!(status, 409, "not B's job: {text}");
    let response = harness
        .client
        .get(format!("{}{path}", harness.endpoint))
        .bearer_auth(&a.token)
        .header("x-slipway-agent", &a.id)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap(), zip);

    // The artifact, uploaded as the agent does, is the object the record names.
    let artifact = format!("/agent/v1/jobs/{build_id}/artifacts/artifacts.zip");
    let put = reqwest::Method::PUT;
    let (status, text) = harness.call(put, &artifact, &a.token, &a.id, b"zip bytes".to_vec()).await;
    assert_eq!(status, 204, "{text}");
    let uuid = build_id.split_once(':').unwrap().1;
    let key = format!("{uuid}/app.zip");
    let read = s3::objects::Read::default();
    let object = s3::objects::head_object(&s3, "out", &key, &read).await.unwrap().object;
    assert_eq!(object.size, 9);
    let document = state.store.get(BUILD, &build_id).await.unwrap().unwrap();
    let mut build = core(&document).unwrap();
    build.build_status = BuildStatus::Succeeded;
    build.build_complete = true;
    build.artifacts = Some(protocol::BuildArtifacts {
        location: "artifacts.zip".to_owned(),
        sha256sum: String::new(),
        artifact_identifier: None,
        override_artifact_name: None,
    });
    let finish = serde_json::to_vec(&FinishRequest {
        agent_id: a.id.clone(),
        build,
        uploaded_reports: Vec::new(),
        artifact_names: Default::default(),
    })
    .unwrap();
    let finish_path = format!("/agent/v1/jobs/{build_id}/finish");
    let (status, text) =
        harness.call(reqwest::Method::POST, &finish_path, &a.token, &a.id, finish).await;
    assert_eq!(status, 204, "{text}");
    let document = state.store.get(BUILD, &build_id).await.unwrap().unwrap();
    assert_eq!(document.body["artifacts"]["location"], format!("arn:aws:s3:::out/{key}"));
}

/// A build's S3 cache through `jobs/<job>/cache`: listed, uploaded and downloaded as
/// objects under the cache's prefix, as the agent the job is leased to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_cache_is_listed_uploaded_and_downloaded_under_its_prefix() {
    let harness = Harness::start().await;
    let state = &harness.state;
    let s3 = state.s3();
    s3::buckets::create_bucket(&s3, "caches", None, 0).await.unwrap();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"codebuild.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let role = iam::roles::CreateRoleRequest {
        path: None,
        role_name: "builder".into(),
        assume_role_policy_document: trust.into(),
        description: None,
        max_session_duration: None,
        permissions_boundary: None,
        tags: Vec::new(),
    };
    iam::roles::create_role(&state.identity, role, 0).await.unwrap();
    let inline = iam::policies::PutRolePolicyRequest {
        role_name: "builder".into(),
        policy_name: "s3".into(),
        policy_document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#.into(),
    };
    iam::policies::put_role_policy(&state.identity, inline).await.unwrap();
    let buildspec = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\ncache:\n  paths: ['deps/**/*']\n";
    harness
        .codebuild(
            "CreateProject",
            json!({
                "name": "cached",
                "source": { "type": "NO_SOURCE", "buildspec": buildspec },
                "artifacts": { "type": "NO_ARTIFACTS" },
                "cache": { "type": "S3", "location": "caches/app/" },
                "environment": { "type": "LINUX_CONTAINER", "image": "i", "computeType": "BUILD_GENERAL1_SMALL" },
                "serviceRole": "builder",
            }),
        )
        .await;
    let started = harness.codebuild("StartBuild", json!({ "projectName": "cached" })).await;
    let build_id = started["build"]["id"].as_str().unwrap().to_owned();
    let a = harness.register("agent-a").await;
    let (status, text) = harness.lease(&a.token, &a.id).await;
    assert_eq!(status, 200, "{text}");
    let offer: LeaseResponse = serde_json::from_str(&text).unwrap();
    let cache = offer.job.unwrap().build.s3_cache.expect("an S3 cache");
    assert_eq!((cache.bucket.as_str(), cache.prefix.as_str()), ("caches", "app"));

    let path = |rest: &str| format!("/agent/v1/jobs/{build_id}/cache{rest}");
    let (get, put) = (reqwest::Method::GET, reqwest::Method::PUT);
    let (status, text) = harness.call(get.clone(), &path(""), &a.token, &a.id, Vec::new()).await;
    assert_eq!((status, text.as_str()), (200, r#"{"entries":[]}"#));
    let entry = b"cache zip".to_vec();
    let (status, text) =
        harness.call(put.clone(), &path("/default.zip"), &a.token, &a.id, entry.clone()).await;
    assert_eq!(status, 204, "{text}");
    let read = s3::objects::Read::default();
    let object = s3::objects::head_object(&s3, "caches", "app/default.zip", &read).await;
    assert_eq!(object.unwrap().object.size, entry.len() as u64);
    let (status, text) = harness.call(get.clone(), &path(""), &a.token, &a.id, Vec::new()).await;
    assert_eq!((status, text.as_str()), (200, r#"{"entries":["default.zip"]}"#));
    let (status, text) =
        harness.call(get.clone(), &path("/default.zip"), &a.token, &a.id, Vec::new()).await;
    assert_eq!((status, text.into_bytes()), (200, entry));
    let (status, text) = harness.call(put, &path("/notes.txt"), &a.token, &a.id, Vec::new()).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("invalid cache entry name notes.txt"), "{text}");
    let (status, text) = harness.call(get, &path("/k-gone.zip"), &a.token, &a.id, Vec::new()).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("the object s3://caches/app/k-gone.zip does not exist"), "{text}");
}
