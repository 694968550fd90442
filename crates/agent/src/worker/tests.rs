//! Worker tests: a small in-process server speaks the agent protocol over loopback with an
//! in-memory job queue and records everything it receives; the agent under test runs real
//! builds with bash. Every wait is bounded.

#![allow(clippy::disallowed_methods)]

use std::collections::{BTreeMap, VecDeque};
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{self, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use protocol::agent::{
    AgentApiError, BuildJob, EventBatch, FinishRequest, JobControl, JobOffer, LeaseRequest,
    LeaseResponse, PROTOCOL_VERSION, RegisterRequest, RegisterResponse,
};
use protocol::{BuildEvent, BuildStatus, PhaseType};
use sha2::{Digest, Sha256};
use tokio::sync::{Notify, watch};

use super::{AgentConfig, AgentError, BATCH_BYTES, Pending, run_agent};

const TOKEN: &str = "the-agent-token";

/// What the fake server knows about one leased job.
#[derive(Debug, Default)]
struct JobRecord {
    /// The events applied, in order.
    events: Vec<BuildEvent>,
    /// The `seq` of every events call, failed ones included.
    seqs: Vec<u64>,
    /// Batches that skipped events (a `seq` beyond what the server had).
    gaps: Vec<u64>,
    heartbeats: usize,
    artifacts: BTreeMap<String, Vec<u8>>,
    finish: Option<FinishRequest>,
    /// How many events the server had when `finish` came.
    events_at_finish: usize,
    /// Whether StopBuild was called.
    stop: bool,
    /// Whether the server took the job back: every call about it answers 409 JobNotLeased, as
    /// the real server does.
    revoked: bool,
}

#[derive(Debug, Default)]
struct FakeState {
    registrations: Vec<RegisterRequest>,
    queue: VecDeque<JobOffer>,
    leases: usize,
    /// Lease requests being answered (long polls the agent has not given up).
    leases_in_flight: usize,
    jobs: BTreeMap<String, JobRecord>,
    /// Answer the next events call with a 500, without applying it.
    fail_next_events: bool,
    /// Refuse the next finish request with a 400, as a server that cannot take it would.
    refuse_next_finish: bool,
    /// The zip `GET jobs/<job>/source` answers (404 without one).
    source_zip: Option<Vec<u8>>,
}

/// The server at the process edge.
#[derive(Debug, Default)]
struct Fake {
    state: Mutex<FakeState>,
    queued: Notify,
}

impl Fake {
    fn new() -> Arc<Fake> {
        Arc::new(Fake::default())
    }

    fn with<T>(&self, f: impl FnOnce(&mut FakeState) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    fn enqueue(&self, job: JobOffer) {
        self.with(|state| state.queue.push_back(job));
        self.queued.notify_waiters();
    }

    fn job<T>(&self, id: &str, f: impl FnOnce(&mut JobRecord) -> T) -> Option<T> {
        self.with(|state| state.jobs.get_mut(id).map(f))
    }

    fn finished(&self, id: &str) -> Option<FinishRequest> {
        self.job(id, |job| job.finish.clone()).flatten()
    }

    /// Whether the job's events show `command` started.
    fn started(&self, id: &str, command: &str) -> bool {
        self.job(id, |job| {
            job.events.iter().any(
                |it| matches!(it, BuildEvent::CommandStarted { command: c, .. } if c == command),
            )
        })
        .unwrap_or(false)
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = AgentApiError { code: code.to_owned(), message: message.to_owned() };
    (status, Json(body)).into_response()
}

/// The 401 answer when the request does not carry the agent token.
fn refused(headers: &HeaderMap) -> Option<Response> {
    let expected = format!("Bearer {TOKEN}");
    match headers.get("authorization").and_then(|it| it.to_str().ok()) {
        Some(it) if it == expected => None,
        _ => Some(error(StatusCode::UNAUTHORIZED, "Unauthorized", "unknown agent token")),
    }
}

fn not_leased() -> Response {
    error(StatusCode::CONFLICT, "JobNotLeased", "the job is not leased to this agent")
}

async fn register(
    State(fake): State<Arc<Fake>>,
    headers: HeaderMap,
    Json(request): Json<RegisterRequest>,
) -> Response {
    if let Some(refused) = refused(&headers) {
        return refused;
    }
    fake.with(|state| state.registrations.push(request));
    // A long heartbeat interval: stop requests must still arrive within a second.
    Json(RegisterResponse {
        agent_id: "agent-1".to_owned(),
        heartbeat_interval_ms: 10_000,
        lease_duration_ms: 60_000,
    })
    .into_response()
}

async fn lease(
    State(fake): State<Arc<Fake>>,
    headers: HeaderMap,
    Json(request): Json<LeaseRequest>,
) -> Response {
    if let Some(refused) = refused(&headers) {
        return refused;
    }
    assert_eq!(request.agent_id, "agent-1");
    fake.with(|state| {
        state.leases += 1;
        state.leases_in_flight += 1;
    });
    // Counts the poll as over when it is answered or when the agent hangs up.
    struct InFlight(Arc<Fake>);
    impl Drop for InFlight {
        fn drop(&mut self) {
            self.0.with(|state| state.leases_in_flight -= 1);
        }
    }
    let _in_flight = InFlight(Arc::clone(&fake));
    let deadline = tokio::time::Instant::now() + Duration::from_millis(request.wait_ms);
    loop {
        // Created before looking at the queue, so an enqueue in between still wakes it.
        let queued = fake.queued.notified();
        let job = fake.with(|state| {
            let job = state.queue.pop_front()?;
            state.jobs.insert(job.job_id.clone(), JobRecord::default());
            Some(job)
        });
        if job.is_some() || tokio::time::timeout_at(deadline, queued).await.is_err() {
            return Json(LeaseResponse { job }).into_response();
        }
    }
}

async fn events(
    State(fake): State<Arc<Fake>>,
    extract::Path(id): extract::Path<String>,
    headers: HeaderMap,
    Json(batch): Json<EventBatch>,
) -> Response {
    if let Some(refused) = refused(&headers) {
        return refused;
    }
    fake.with(|state| {
        let fail = std::mem::take(&mut state.fail_next_events);
        let Some(job) = state.jobs.get_mut(&id).filter(|it| !it.revoked) else {
            return not_leased();
        };
        job.seqs.push(batch.seq);
        if fail {
            return error(StatusCode::INTERNAL_SERVER_ERROR, "Internal", "injected failure");
        }
        let have = job.events.len() as u64;
        if batch.seq > have {
            job.gaps.push(batch.seq);
            return error(StatusCode::BAD_REQUEST, "BadRequest", "events are missing");
        }
        // A batch the server already has (partly) is acknowledged, not applied twice.
        let known = (have - batch.seq) as usize;
        job.events.extend(batch.events.into_iter().skip(known));
        Json(JobControl { stop: job.stop }).into_response()
    })
}

async fn heartbeat(
    State(fake): State<Arc<Fake>>,
    extract::Path(id): extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = refused(&headers) {
        return refused;
    }
    fake.with(|state| match state.jobs.get_mut(&id).filter(|it| !it.revoked) {
        Some(job) => {
            job.heartbeats += 1;
            Json(JobControl { stop: job.stop }).into_response()
        }
        None => not_leased(),
    })
}

async fn artifact(
    State(fake): State<Arc<Fake>>,
    extract::Path((id, name)): extract::Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = refused(&headers) {
        return refused;
    }
    fake.with(|state| match state.jobs.get_mut(&id).filter(|it| !it.revoked) {
        Some(job) => {
            job.artifacts.insert(name, body.to_vec());
            StatusCode::NO_CONTENT.into_response()
        }
        None => not_leased(),
    })
}

async fn finish(
    State(fake): State<Arc<Fake>>,
    extract::Path(id): extract::Path<String>,
    headers: HeaderMap,
    Json(request): Json<FinishRequest>,
) -> Response {
    if let Some(refused) = refused(&headers) {
        return refused;
    }
    fake.with(|state| {
        if std::mem::take(&mut state.refuse_next_finish) {
            return error(StatusCode::BAD_REQUEST, "BadRequest", "the record is not valid");
        }
        match state.jobs.get_mut(&id).filter(|it| !it.revoked && it.finish.is_none()) {
            Some(job) => {
                job.events_at_finish = job.events.len();
                job.finish = Some(request);
                Json(serde_json::json!({})).into_response()
            }
            None => not_leased(),
        }
    })
}

async fn source(
    State(fake): State<Arc<Fake>>,
    extract::Path(id): extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = refused(&headers) {
        return refused;
    }
    fake.with(|state| match (state.jobs.get(&id), &state.source_zip) {
        (Some(_), Some(zip)) => zip.clone().into_response(),
        (Some(_), None) => error(StatusCode::BAD_REQUEST, "BadRequest", "no such object"),
        (None, _) => not_leased(),
    })
}

/// Serves `fake` on a loopback port; returns its base URL.
async fn serve(fake: Arc<Fake>) -> String {
    let app = Router::new()
        .route("/agent/v1/register", post(register))
        .route("/agent/v1/lease", post(lease))
        .route("/agent/v1/jobs/{job}/events", post(events))
        .route("/agent/v1/jobs/{job}/heartbeat", post(heartbeat))
        .route("/agent/v1/jobs/{job}/artifacts/{name}", put(artifact))
        // A report's test cases are kept as an artifact named by the report's index.
        .route("/agent/v1/jobs/{job}/reports/{name}", put(artifact))
        .route("/agent/v1/jobs/{job}/finish", post(finish))
        .route("/agent/v1/jobs/{job}/source", axum::routing::get(source))
        .with_state(fake);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

/// An agent running against a fake server.
struct Agent {
    fake: Arc<Fake>,
    shutdown: watch::Sender<bool>,
    run: tokio::task::JoinHandle<Result<(), AgentError>>,
    log: Arc<Mutex<Vec<String>>>,
    work: tempfile::TempDir,
}

impl Agent {
    async fn start(fake: &Arc<Fake>, concurrency: u32) -> Agent {
        Agent::start_with(fake, concurrency, TOKEN).await
    }

    async fn start_with(fake: &Arc<Fake>, concurrency: u32, token: &str) -> Agent {
        let server = serve(Arc::clone(fake)).await;
        let work = tempfile::tempdir().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        let config = AgentConfig {
            server,
            token: token.to_owned(),
            name: "test-agent".to_owned(),
            labels: BTreeMap::from([("os".to_owned(), "linux".to_owned())]),
            concurrency,
            work_root: work.path().to_owned(),
            cache_dir: None,
            helper_program: None,
            base_env: vec![("PATH".to_owned(), "/usr/local/bin:/usr/bin:/bin".to_owned())],
            forced_sandbox: None,
            on_log: Some(Arc::new(move |line| sink.lock().unwrap().push(line))),
        };
        let (shutdown, shutdown_rx) = watch::channel(false);
        let run = tokio::spawn(run_agent(config, shutdown_rx));
        Agent { fake: Arc::clone(fake), shutdown, run, log, work }
    }

    /// Asks the agent to shut down and waits (boundedly) for it to return.
    async fn stop(self, within: Duration) -> Result<(), AgentError> {
        self.shutdown.send_replace(true);
        tokio::time::timeout(within, self.run)
            .await
            .unwrap_or_else(|_| panic!("the agent did not shut down; log: {:?}", self.log))
            .unwrap()
    }

    async fn wait_finished(&self, id: &str) -> FinishRequest {
        let what = format!("job {id} to finish; log: {:?}", self.log);
        wait_for(&what, Duration::from_secs(20), || self.fake.finished(id)).await
    }

    /// Whether every job directory is gone from the work root.
    fn work_root_is_empty(&self) -> bool {
        std::fs::read_dir(self.work.path()).unwrap().next().is_none()
    }
}

async fn wait_for<T>(what: &str, within: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn job(id: &str, buildspec: &str) -> JobOffer {
    let parsed = formats::buildspec::parse("buildspec.yml", buildspec);
    assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
    JobOffer {
        job_id: id.to_owned(),
        build: BuildJob {
            build_id: format!("test:{id}"),
            build_arn: format!("arn:aws:codebuild:us-east-1:000000000000:build/test:{id}"),
            build_number: 1,
            project_name: "test".to_owned(),
            region: "us-east-1".to_owned(),
            initiator: "tests".to_owned(),
            timeout_in_minutes: 5,
            plan: parsed.value.unwrap().plan,
            variables: Vec::new(),
            secrets: BTreeMap::new(),
            refused_secrets: BTreeMap::new(),
            refused_artifacts: None,
            sandbox: false,
            platform_variables: Vec::new(),
            git_token: None,
            source: None,
            s3_source: None,
            s3_cache: None,
        },
    }
}

/// The build's output, as the server received it.
fn output(events: &[BuildEvent]) -> String {
    events
        .iter()
        .filter_map(|it| match it {
            BuildEvent::Output { text } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_reports_its_events_in_order_across_a_retried_batch_then_finishes() {
    let fake = Fake::new();
    fake.with(|state| state.fail_next_events = true);
    fake.enqueue(job(
        "j1",
        "version: 0.2\nphases:\n  build:\n    commands:\n      - echo hello from the job\n",
    ));
    let agent = Agent::start(&fake, 1).await;
    let finish = agent.wait_finished("j1").await;
    assert_eq!(finish.agent_id, "agent-1");
    assert_eq!(finish.build.build_status, BuildStatus::Succeeded);
    assert_eq!(finish.build.id, "test:j1");

    let (events, seqs, gaps, at_finish) = fake
        .job("j1", |job| {
            (job.events.clone(), job.seqs.clone(), job.gaps.clone(), job.events_at_finish)
        })
        .unwrap();
    // The failed first batch was sent again with the same seq, and no batch skipped events.
    assert!(seqs.len() >= 2, "{seqs:?}");
    assert_eq!(seqs[..2], [0, 0]);
    assert!(gaps.is_empty(), "{gaps:?}");
    // Every event arrived before the build record.
    assert_eq!(at_finish, events.len());
    assert!(matches!(
        events.first(),
        Some(BuildEvent::PhaseStarted { phase: PhaseType::Provisioning, .. })
    ));
    assert!(matches!(
        events.last(),
        Some(BuildEvent::PhaseFinished { phase: PhaseType::Finalizing, .. })
    ));
    assert_eq!(output(&events), "hello from the job\n");
    let command = events
        .iter()
        .position(|it| matches!(it, BuildEvent::CommandStarted { command, .. } if command == "echo hello from the job"))
        .unwrap();
    let printed = events.iter().position(|it| matches!(it, BuildEvent::Output { .. })).unwrap();
    assert!(command < printed);
    let finished_phases =
        events.iter().filter(|it| matches!(it, BuildEvent::PhaseFinished { .. })).count();
    let started_phases =
        events.iter().filter(|it| matches!(it, BuildEvent::PhaseStarted { .. })).count();
    assert_eq!(finished_phases, started_phases);

    let registrations = fake.with(|state| state.registrations.clone());
    assert_eq!(
        registrations,
        [RegisterRequest {
            name: "test-agent".to_owned(),
            labels: BTreeMap::from([("os".to_owned(), "linux".to_owned())]),
            concurrency: 1,
            protocol: PROTOCOL_VERSION,
        }]
    );
    wait_for("the job's directory to go", Duration::from_secs(5), || {
        agent.work_root_is_empty().then_some(())
    })
    .await;
    let log = agent.log.lock().unwrap().join("\n");
    assert!(log.contains("retrying"), "{log}");
    agent.stop(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_resolved_by_the_server_are_used_and_masked() {
    let fake = Fake::new();
    let mut offer = job(
        "j1",
        r#"
version: 0.2
env:
  parameter-store:
    TOKEN: /app/token
  secrets-manager:
    DB: db/creds:password
phases:
  build:
    commands:
      - echo "token=$TOKEN db=$DB"
"#,
    );
    offer.build.secrets = BTreeMap::from([
        ("/app/token".to_owned(), "tok-5ecret-1".to_owned()),
        ("db/creds:password".to_owned(), "pa55-db-word".to_owned()),
    ]);
    fake.enqueue(offer);
    let agent = Agent::start(&fake, 1).await;
    let finish = agent.wait_finished("j1").await;
    assert_eq!(finish.build.build_status, BuildStatus::Succeeded);
    let events = fake.job("j1", |job| job.events.clone()).unwrap();
    assert_eq!(output(&events), "token=*** db=***\n");
    let everything = format!(
        "{}{}",
        serde_json::to_string(&events).unwrap(),
        serde_json::to_string(&finish).unwrap()
    );
    assert!(!everything.contains("tok-5ecret-1") && !everything.contains("pa55-db-word"));
    agent.stop(Duration::from_secs(5)).await.unwrap();
}

/// A zip of `entries` (name, content).
fn zip_of(entries: &[(&str, &str)]) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, text) in entries {
        zip.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn s3_job(id: &str, refused: Option<&str>) -> JobOffer {
    let mut offer =
        job(id, "version: 0.2\nphases:\n  build:\n    commands:\n      - cat hello.txt\n");
    offer.build.s3_source = Some(protocol::agent::S3Source {
        bucket: "src".to_owned(),
        key: "app.zip".to_owned(),
        version: None,
        refused: refused.map(str::to_owned),
    });
    offer
}

/// An S3 source's zip is downloaded and unpacked as the source; a zip the role may not read,
/// one that cannot be downloaded, or one with an entry outside the source directory ends the
/// build FAULT in DOWNLOAD_SOURCE with why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_source_is_downloaded_and_unpacked_or_the_build_faults_in_download_source() {
    let fake = Fake::new();
    fake.with(|state| state.source_zip = Some(zip_of(&[("hello.txt", "hello from the zip\n")])));
    fake.enqueue(s3_job("s1", None));
    let agent = Agent::start(&fake, 1).await;
    let finish = agent.wait_finished("s1").await;
    assert_eq!(finish.build.build_status, BuildStatus::Succeeded);
    let events = fake.job("s1", |job| job.events.clone()).unwrap();
    assert!(output(&events).contains("hello from the zip\n"), "{}", output(&events));

    let fault = |finish: &FinishRequest| {
        assert_eq!(finish.build.build_status, BuildStatus::Fault);
        let phases = &finish.build.phases;
        assert_eq!(phases[0].phase_type, PhaseType::Provisioning);
        assert_eq!(phases[1].phase_type, PhaseType::DownloadSource);
        assert_eq!(phases[1].phase_status, Some(BuildStatus::Fault));
        phases[1].contexts.as_ref().unwrap()[0].message.clone()
    };
    fake.enqueue(s3_job("s2", Some("Role r may not read object arn:aws:s3:::src/app.zip")));
    let message = fault(&agent.wait_finished("s2").await);
    assert_eq!(message, "Role r may not read object arn:aws:s3:::src/app.zip");

    fake.with(|state| state.source_zip = None);
    fake.enqueue(s3_job("s3", None));
    let message = fault(&agent.wait_finished("s3").await);
    assert_eq!(message, "downloading the source failed: no such object");

    fake.with(|state| state.source_zip = Some(zip_of(&[("../evil.txt", "evil")])));
    fake.enqueue(s3_job("s4", None));
    let message = fault(&agent.wait_finished("s4").await);
    assert!(message.contains("would leave the source directory"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_request_ends_the_build_stopped_without_waiting_for_a_heartbeat() {
    let fake = Fake::new();
    fake.enqueue(job(
        "j1",
        "version: 0.2\nphases:\n  build:\n    commands:\n      - echo started\n      - sleep 30\n",
    ));
    let agent = Agent::start(&fake, 1).await;
    wait_for("the build to sleep", Duration::from_secs(10), || {
        fake.started("j1", "sleep 30").then_some(())
    })
    .await;
    // Only heartbeats report on a sleeping build, and the server asks for one every 10 s;
    // the agent asks about stops more often, so the build ends STOPPED long before
    // `sleep 30` would have (wait_finished's bound is 20 s).
    fake.job("j1", |job| job.stop = true).unwrap();
    let finish = agent.wait_finished("j1").await;
    assert_eq!(finish.build.build_status, BuildStatus::Stopped);
    assert!(fake.job("j1", |job| job.heartbeats).unwrap() >= 1);
    agent.stop(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifacts_are_uploaded_byte_for_byte_before_the_build_finishes() {
    let fake = Fake::new();
    fake.enqueue(job(
        "j1",
        r#"
version: 0.2
phases:
  build:
    commands:
      - mkdir -p out && printf 'artifact data\n' > out/data.txt
artifacts:
  files:
    - out/data.txt
"#,
    ));
    let agent = Agent::start(&fake, 1).await;
    let finish = agent.wait_finished("j1").await;
    assert_eq!(finish.build.build_status, BuildStatus::Succeeded);
    let uploaded = fake.job("j1", |job| job.artifacts.clone()).unwrap();
    assert_eq!(uploaded.keys().collect::<Vec<_>>(), ["artifacts.zip"]);
    let bytes = &uploaded["artifacts.zip"];
    let record = finish.build.artifacts.unwrap();
    let digest = hex::encode(Sha256::digest(bytes));
    assert_eq!(record.sha256sum, digest);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.clone())).unwrap();
    let mut text = String::new();
    zip.by_name("out/data.txt").unwrap().read_to_string(&mut text).unwrap();
    assert_eq!(text, "artifact data\n");
    wait_for("the job's directory to go", Duration::from_secs(5), || {
        agent.work_root_is_empty().then_some(())
    })
    .await;
    agent.stop(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_cases_go_up_as_a_file_and_not_inside_the_finish_request() {
    let fake = Fake::new();
    fake.enqueue(job(
        "j1",
        r#"
version: 0.2
phases:
  build:
    commands:
      - |
        { echo '<testsuite name="s">'; i=0
          while [ $i -lt 3000 ]; do echo "<testcase classname=\"c\" name=\"t$i\"/>"; i=$((i+1)); done
          echo '</testsuite>'; } > junit.xml
reports:
  unit:
    files: [junit.xml]
"#,
    ));
    let agent = Agent::start(&fake, 1).await;
    let finish = agent.wait_finished("j1").await;
    assert_eq!(finish.build.build_status, BuildStatus::Succeeded);
    assert_eq!(finish.uploaded_reports, [0]);
    let report = &finish.build.reports[0];
    assert!(report.test_cases.is_empty());
    assert_eq!(report.test_summary.total, 3000);
    let uploaded = fake.job("j1", |job| job.artifacts["0"].clone()).unwrap();
    let cases: Vec<protocol::TestCase> = String::from_utf8(uploaded)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(cases.len(), 3000);
    assert_eq!((cases[0].name.as_str(), cases[2999].name.as_str()), ("t0", "t2999"));
    agent.stop(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_build_record_ends_the_build_fault_saying_why_not_agent_lost() {
    let fake = Fake::new();
    fake.with(|state| state.refuse_next_finish = true);
    fake.enqueue(job("j1", "version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n"));
    let agent = Agent::start(&fake, 1).await;
    let finish = agent.wait_finished("j1").await;
    assert_eq!(finish.build.build_status, BuildStatus::Fault);
    let contexts: Vec<String> = finish
        .build
        .phases
        .iter()
        .flat_map(|it| it.contexts.iter().flatten())
        .map(|it| it.message.clone())
        .collect();
    assert!(
        contexts.iter().any(|it| it.contains("refused the build's record")
            && it.contains("the record is not valid")),
        "{contexts:?}"
    );
    agent.stop(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_jobs_run_in_parallel_with_concurrency_two() {
    let fake = Fake::new();
    let agent = Agent::start(&fake, 2).await;
    wait_for("the agent to lease", Duration::from_secs(5), || {
        (fake.with(|state| state.leases) >= 1).then_some(())
    })
    .await;
    // Each job marks that it started, then waits (boundedly) for the other's mark: they can
    // both succeed only if they run at the same time, however slow the machine.
    let marks = tempfile::tempdir().unwrap();
    let meet = |me: &str, other: &str| {
        let dir = marks.path().display();
        format!(
            "version: 0.2\nphases:\n  build:\n    commands:\n      - touch {dir}/{me}\n      - 'i=0; while [ ! -f {dir}/{other} ]; do i=$((i+1)); [ $i -lt 600 ] || exit 1; sleep 0.05; done'\n"
        )
    };
    fake.enqueue(job("a", &meet("a", "b")));
    fake.enqueue(job("b", &meet("b", "a")));
    for id in ["a", "b"] {
        assert_eq!(agent.wait_finished(id).await.build.build_status, BuildStatus::Succeeded);
    }
    agent.stop(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_is_fatal() {
    let fake = Fake::new();
    let agent = Agent::start_with(&fake, 1, "not-the-token").await;
    let outcome = tokio::time::timeout(Duration::from_secs(5), agent.run).await.unwrap().unwrap();
    let err = outcome.unwrap_err();
    assert!(matches!(err, AgentError::Unauthorized { .. }), "{err:?}");
    assert!(err.to_string().contains("refused the agent's token"), "{err}");
    assert!(fake.with(|state| state.registrations.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_leasing() {
    let fake = Fake::new();
    let agent = Agent::start(&fake, 1).await;
    wait_for("the agent to lease", Duration::from_secs(5), || {
        (fake.with(|state| state.leases) >= 1).then_some(())
    })
    .await;
    // The agent is in a long poll: shutting down must not wait for it to end.
    let fake = Arc::clone(&agent.fake);
    let leases = fake.with(|state| state.leases);
    agent.stop(Duration::from_secs(2)).await.unwrap();
    // The agent hung up on its long poll (the fake sees the request dropped) and asked for
    // nothing more.
    wait_for("the long poll to be given up", Duration::from_secs(5), || {
        (fake.with(|state| state.leases_in_flight) == 0).then_some(())
    })
    .await;
    assert_eq!(fake.with(|state| state.leases), leases);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_a_running_job_finish_and_report() {
    let fake = Fake::new();
    fake.enqueue(job(
        "j1",
        "version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 1\n      - echo done\n",
    ));
    let agent = Agent::start(&fake, 1).await;
    wait_for("the build to sleep", Duration::from_secs(10), || {
        fake.started("j1", "sleep 1").then_some(())
    })
    .await;
    agent.stop(Duration::from_secs(10)).await.unwrap();
    let finish = fake.finished("j1").expect("the job reported before the agent returned");
    assert_eq!(finish.build.build_status, BuildStatus::Succeeded);
    assert_eq!(output(&fake.job("j1", |job| job.events.clone()).unwrap()), "done\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_the_server_took_back_is_stopped_and_not_reported() {
    let fake = Fake::new();
    fake.enqueue(job("j1", "version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 30\n"));
    let agent = Agent::start(&fake, 1).await;
    wait_for("the build to sleep", Duration::from_secs(10), || {
        fake.started("j1", "sleep 30").then_some(())
    })
    .await;
    fake.job("j1", |job| job.revoked = true).unwrap();
    // The build is killed and its directory removed well before `sleep 30` would end.
    wait_for("the job's directory to go", Duration::from_secs(5), || {
        agent.work_root_is_empty().then_some(())
    })
    .await;
    assert!(fake.finished("j1").is_none());
    let log = agent.log.lock().unwrap().join("\n");
    assert!(log.contains("no longer leases"), "{log}");
    agent.stop(Duration::from_secs(5)).await.unwrap();
}

#[test]
fn waiting_output_is_merged_not_dropped_when_too_much_waits() {
    let mut pending = Pending::default();
    pending.push(BuildEvent::Message { text: "first".to_owned(), time: None });
    for i in 0..10_500 {
        pending.push(BuildEvent::Output { text: format!("line {i}\n") });
    }
    assert!(pending.events.len() < 1_000, "{}", pending.events.len());
    let expected: String = (0..10_500).map(|i| format!("line {i}\n")).collect();
    assert_eq!(pending.events[0], BuildEvent::Message { text: "first".to_owned(), time: None });
    let all: Vec<BuildEvent> = pending.events.iter().cloned().collect();
    assert_eq!(output(&all), expected);
    // Batches number their events from the given seq and stay within the limits.
    let batch = pending.take_batch(7, "agent-1").unwrap();
    let decoded: EventBatch = serde_json::from_slice(&batch.body).unwrap();
    assert_eq!((decoded.seq, decoded.events.len() as u64), (7, batch.events));
    assert!(decoded.events.len() <= 200);
}

#[test]
fn job_secrets_are_looked_up_by_the_exact_reference() {
    use crate::secrets::SecretSource;
    let why = "Role arn:aws:iam::000000000000:role/ci may not read parameter /prod/db (ssm:GetParameters)";
    let secrets = super::JobSecrets {
        values: BTreeMap::from([
            ("/p".to_owned(), "1".to_owned()),
            ("s:key".to_owned(), "2".to_owned()),
        ]),
        refused: BTreeMap::from([("/prod/db".to_owned(), why.to_owned())]),
    };
    assert_eq!(secrets.parameter("/p"), Ok("1".to_owned()));
    assert_eq!(secrets.secret("s:key"), Ok("2".to_owned()));
    assert!(secrets.secret("s").is_err());
    // A reference the build's role may not read says so, not that it was not found.
    assert_eq!(secrets.parameter("/prod/db"), Err(why.to_owned()));
    assert_eq!(secrets.refusal("/prod/db"), Some(why.to_owned()));
    assert_eq!(secrets.refusal("/p"), None);
    assert_eq!(
        secrets.parameter("/missing"),
        Err("parameter `/missing` was not resolved by the server".to_owned())
    );
}

#[test]
fn escape_heavy_output_goes_in_batches_whose_json_stays_small() {
    // 3 MB of ANSI escapes without a newline: 18 MB as JSON in one event.
    let text: String = "\u{1b}[32m\r".repeat(500_000);
    let mut pending = Pending::default();
    pending.push(BuildEvent::Output { text: text.clone() });
    let mut seq = 0;
    let mut all = Vec::new();
    while !pending.events.is_empty() {
        let batch = pending.take_batch(seq, "agent-1").unwrap();
        assert!(batch.body.len() <= BATCH_BYTES + 1024, "a batch of {} bytes", batch.body.len());
        let decoded: EventBatch = serde_json::from_slice(&batch.body).unwrap();
        seq += decoded.events.len() as u64;
        all.extend(decoded.events);
    }
    assert!(all.len() > 1);
    assert_eq!(output(&all), text);
}
