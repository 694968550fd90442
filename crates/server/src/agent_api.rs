//! The agent API (`/agent/v1/…`): the server's side of `protocol::agent`.
//!
//! Agents authenticate with a bearer token (stored only as its SHA-256). An agent id is bound
//! to the token that registered it: every later call must come with that token, and acts only
//! on jobs leased to that agent (secrets go only to the lease holder). A lease hands a
//! queued job to exactly one agent (the store guarantees it); every report renews the lease;
//! a lease that is not renewed expires and the build ends FAULT ([`expire_leases`]). Every
//! change to a build is one store transaction, so a crash loses nothing that was answered.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use engine::store::{Document, LeaseRequest as StoreLease, ListQuery, StoreError, Write};
use futures::StreamExt;
use protocol::agent::{
    AgentApiError, BuildJob, EventBatch, FinishRequest, JobControl, JobOffer, LeaseRequest,
    LeaseResponse, PROTOCOL_VERSION, RegisterRequest, RegisterResponse,
};
use protocol::{BuildStatus, PhaseContext};
use serde::de::DeserializeOwned;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::auth::{self, AuthError, Principal, RequestParts};
use crate::builds::{INTERNAL, core, store_core};
use engine::kinds::BUILD_JOB as JOB_KIND;
use engine::kinds::{AGENT, AGENT_TOKEN, BUILD, BUILD_TOKEN, PROJECT};

#[cfg(test)]
mod tests;

/// How often a running job must be reported on.
pub(crate) const HEARTBEAT_MS: i64 = 2_000;
/// How long a lease lasts without a report: several missed heartbeats.
pub(crate) const LEASE_MS: i64 = 15_000;
/// The longest a lease request is held open.
const MAX_WAIT_MS: u64 = 30_000;

/// An agent API error with its status.
pub(crate) struct AgentError(StatusCode, &'static str, String);

impl IntoResponse for AgentError {
    fn into_response(self) -> Response {
        (self.0, Json(AgentApiError { code: self.1.to_owned(), message: self.2 })).into_response()
    }
}

impl From<StoreError> for AgentError {
    fn from(err: StoreError) -> AgentError {
        tracing::error!(%err, "agent API: store error");
        AgentError(StatusCode::INTERNAL_SERVER_ERROR, "Internal", "internal error".to_owned())
    }
}

/// The most an agent's JSON request may hold. An event batch carries about 1 MiB of output,
/// which JSON escaping can make six times larger (`\u001b` for each ANSI escape); the rest
/// of the calls are small. Files (artifacts, test cases) go up as streamed uploads instead.
pub(crate) const BODY_LIMIT: usize = 16 << 20;

/// A request body under the route's limit, or the agent protocol's error (never axum's plain
/// text): `TooLarge` with 413, or `BadRequest`.
pub(crate) struct AgentBody(pub(crate) Bytes);

impl<S: Send + Sync> FromRequest<S> for AgentBody {
    type Rejection = AgentError;

    async fn from_request(request: Request, state: &S) -> Result<AgentBody, AgentError> {
        match Bytes::from_request(request, state).await {
            Ok(bytes) => Ok(AgentBody(bytes)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(AgentError(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "TooLarge",
                    format!("the request body is larger than {BODY_LIMIT} bytes"),
                ))
            }
            Err(rejection) => Err(bad(rejection.body_text())),
        }
    }
}

/// A JSON request body, parsed into the protocol's type, or the protocol's error.
pub(crate) struct AgentJson<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for AgentJson<T> {
    type Rejection = AgentError;

    async fn from_request(request: Request, state: &S) -> Result<AgentJson<T>, AgentError> {
        let AgentBody(bytes) = AgentBody::from_request(request, state).await?;
        parse(&bytes).map(AgentJson)
    }
}

/// Parses a request body that was read before it could be checked (see [`AgentBody`]).
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, AgentError> {
    serde_json::from_slice(body).map_err(|err| bad(format!("the request body is not valid: {err}")))
}

fn bad(message: impl Into<String>) -> AgentError {
    AgentError(StatusCode::BAD_REQUEST, "BadRequest", message.into())
}

fn not_leased(job: &str) -> AgentError {
    AgentError(
        StatusCode::CONFLICT,
        "JobNotLeased",
        format!("job {job} is not leased to this agent"),
    )
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Creates an agent token: the secret is returned once, only its hash is kept.
pub(crate) async fn create_token(state: &AppState, name: &str) -> Result<String, StoreError> {
    let token = format!(
        "slw_{}",
        crate::crypto::random_string(40, b"abcdefghijklmnopqrstuvwxyz0123456789")
    );
    let now = engine::clock::now_ms();
    let document = Document {
        kind: AGENT_TOKEN.to_owned(),
        key: token_hash(&token),
        parent: None,
        sort: now,
        version: 0,
        body: json!({ "name": name, "createdMs": now }),
    };
    state.store.apply(vec![Write::Put(document)]).await?;
    Ok(token)
}

/// A token for one build's git commands (`git-credential-helper: yes`): it acts as the user
/// who started the build, only while the build runs on the agent it was leased to (and never
/// past its timeout). Only its hash is kept: the token, and the write that stores it, which
/// goes into the lease's transaction. The transaction that ends the build deletes it
/// ([`end_build_tokens`]).
fn build_token(job: &BuildJob, agent_id: &str, now: i64) -> (String, Write) {
    let token = format!(
        "slb_{}",
        crate::crypto::random_string(40, b"abcdefghijklmnopqrstuvwxyz0123456789")
    );
    let minutes = i64::try_from(job.timeout_in_minutes).unwrap_or(60) + 10;
    let document = Document {
        kind: BUILD_TOKEN.to_owned(),
        key: token_hash(&token),
        parent: Some(job.build_id.clone()),
        sort: now,
        version: 0,
        body: json!({
            "buildId": job.build_id,
            "agentId": agent_id,
            "user": job.initiator,
            "expiresMs": now + minutes * 60_000,
        }),
    };
    (token, Write::Put(document))
}

/// The write that deletes every git token of `build_id`: part of every transaction that ends
/// the build or takes it from its agent.
pub(crate) fn end_build_tokens(build_id: &str) -> Write {
    Write::DeleteChildren { kind: BUILD_TOKEN.to_owned(), parent: build_id.to_owned() }
}

/// The build and the user a build token acts for, while it is valid: before its expiry, and
/// while its build is in progress on the agent it was leased to. A token whose build has
/// ended (or was leased again elsewhere) is deleted. (`crate::auth` makes it a principal.)
pub(crate) async fn build_token_holder(state: &AppState, token: &str) -> Option<(String, String)> {
    let key = token_hash(token);
    let document = state.store.get(BUILD_TOKEN, &key).await.ok()??;
    let expires = document.body["expiresMs"].as_i64().unwrap_or(0);
    let build_id = document.body["buildId"].as_str().unwrap_or_default();
    let build = state.store.get(BUILD, build_id).await.ok()?;
    let running = build.is_some_and(|build| {
        build.body["buildComplete"] != true
            && build.body["buildStatus"] == "IN_PROGRESS"
            && build.body[INTERNAL]["agentId"] == document.body["agentId"]
    });
    if !running || engine::clock::now_ms() >= expires {
        let delete = Write::Delete { kind: BUILD_TOKEN.to_owned(), key };
        if let Err(err) = state.store.apply(vec![delete]).await {
            tracing::debug!(%err, "deleting a build token whose build has ended");
        }
        return None;
    }
    let user = document.body["user"].as_str()?.to_owned();
    Some((build_id.to_owned(), user))
}

/// The user a build token acts as, while it is valid (see [`build_token_holder`]).
#[cfg(test)]
pub(crate) async fn build_token_user(state: &AppState, token: &str) -> Option<String> {
    build_token_holder(state, token).await.map(|(_, user)| user)
}

/// The name and hash of an agent token, when the token is valid (`crate::auth` makes it a
/// principal).
pub(crate) async fn agent_token(
    state: &AppState,
    token: &str,
) -> Result<Option<(String, String)>, StoreError> {
    let hash = token_hash(token);
    let found = state.store.get(AGENT_TOKEN, &hash).await?;
    Ok(found.map(|it| (it.body["name"].as_str().unwrap_or("agent").to_owned(), hash)))
}

/// The agent whose token the request carries (through `crate::auth`), or the refusal.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Principal, AgentError> {
    let unauthorized =
        |message: &str| AgentError(StatusCode::UNAUTHORIZED, "Unauthorized", message.to_owned());
    let principal = match auth::authenticate(
        state,
        auth::Route::Agent,
        &RequestParts::headers(headers),
    )
    .await
    {
        Ok(principal) => principal,
        Err(AuthError::Missing) => return Err(unauthorized("missing agent token")),
        Err(AuthError::Internal(err)) => {
            tracing::error!(%err, "agent API: looking up an agent token");
            return Err(AgentError(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal",
                "internal error".to_owned(),
            ));
        }
        Err(_) => return Err(unauthorized("unknown agent token")),
    };
    Ok(principal)
}

/// Authenticates the request's agent token and authorizes `action` on the agent API as a
/// whole (a call that names no agent yet); the agent.
async fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    action: &str,
) -> Result<Principal, AgentError> {
    let principal = authenticate(state, headers).await?;
    auth::authorize(&principal, action, &auth::Resource::Agents).map_err(forbidden)?;
    Ok(principal)
}

fn forbidden(denied: auth::Denied) -> AgentError {
    AgentError(StatusCode::FORBIDDEN, "Forbidden", denied.message)
}

/// Authenticates the request's agent token and authorizes `action` as `agent_id`: a token
/// acts only as its own agents. The agent's document.
async fn authorize_agent(
    state: &AppState,
    headers: &HeaderMap,
    agent_id: &str,
    action: &str,
) -> Result<Document, AgentError> {
    let principal = authenticate(state, headers).await?;
    let agent = agent(state, agent_id).await?;
    let Some(bound) = agent.body["tokenHash"].as_str() else {
        // Registered before agents were bound to tokens: it registers again.
        return Err(AgentError(
            StatusCode::NOT_FOUND,
            "UnknownAgent",
            format!("no agent {agent_id}; register again"),
        ));
    };
    let resource = auth::Resource::Agent { id: agent_id, registered_with: bound };
    auth::authorize(&principal, action, &resource).map_err(forbidden)?;
    Ok(agent)
}

/// The agent id of `X-Slipway-Agent`.
fn agent_header(headers: &HeaderMap) -> String {
    headers.get("x-slipway-agent").and_then(|it| it.to_str().ok()).unwrap_or_default().to_owned()
}

async fn agent(state: &AppState, agent_id: &str) -> Result<Document, AgentError> {
    state.store.get(AGENT, agent_id).await?.ok_or_else(|| {
        AgentError(
            StatusCode::NOT_FOUND,
            "UnknownAgent",
            format!("no agent {agent_id}; register again"),
        )
    })
}

pub(crate) async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    AgentJson(request): AgentJson<RegisterRequest>,
) -> Result<Json<RegisterResponse>, AgentError> {
    let Principal::Agent { token_hash, .. } =
        authorize(&state, &headers, auth::AGENT_REGISTER).await?
    else {
        return Err(bad("only an agent registers"));
    };
    if request.protocol != PROTOCOL_VERSION {
        return Err(bad(format!(
            "this server speaks agent protocol {PROTOCOL_VERSION}, not {}",
            request.protocol
        )));
    }
    let agent_id = format!("agent-{}", uuid::Uuid::new_v4());
    let now = engine::clock::now_ms();
    let body = json!({
        "agentId": agent_id,
        "name": request.name,
        "labels": request.labels,
        "concurrency": request.concurrency.max(1),
        "tokenHash": token_hash,
        "registeredMs": now,
        "lastSeenMs": now,
    });
    let document = Document {
        kind: AGENT.to_owned(),
        key: agent_id.clone(),
        parent: None,
        sort: now,
        version: 0,
        body,
    };
    state.store.apply(vec![Write::Insert(document)]).await?;
    tracing::info!(%agent_id, name = %request.name, "agent registered");
    Ok(Json(RegisterResponse {
        agent_id,
        heartbeat_interval_ms: HEARTBEAT_MS as u64,
        lease_duration_ms: LEASE_MS as u64,
    }))
}

pub(crate) async fn lease(
    State(state): State<AppState>,
    headers: HeaderMap,
    AgentJson(request): AgentJson<LeaseRequest>,
) -> Result<Json<LeaseResponse>, AgentError> {
    let mut agent = authorize_agent(&state, &headers, &request.agent_id, auth::AGENT_LEASE).await?;
    let labels: BTreeMap<String, String> =
        serde_json::from_value(agent.body["labels"].clone()).unwrap_or_default();
    agent.body["lastSeenMs"] = json!(engine::clock::now_ms());
    let version = agent.version;
    let _ =
        state.store.apply(vec![Write::Update { document: agent, expected_version: version }]).await;

    let wait = Duration::from_millis(request.wait_ms.min(MAX_WAIT_MS));
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        // Register interest before looking, so that a job enqueued in between wakes us.
        let notified = state.jobs.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let now = engine::clock::now_ms();
        if let Some(offer) = try_lease(&state, &request.agent_id, &labels, now).await? {
            return Ok(Json(LeaseResponse { job: Some(offer) }));
        }
        // Other replicas enqueue too: look again at least every second.
        let tick = (tokio::time::Instant::now() + Duration::from_secs(1)).min(deadline);
        tokio::select! {
            () = &mut notified => {}
            () = tokio::time::sleep_until(tick) => {}
        }
        if tokio::time::Instant::now() >= deadline
            || state.stopping.load(std::sync::atomic::Ordering::SeqCst)
        {
            return Ok(Json(LeaseResponse { job: None }));
        }
    }
}

/// Leases the oldest job `agent_id` may take, at `now`: the job's lease, the build's record
/// and its git token commit in one transaction, so a crash never leaves a leased job whose
/// build says it is queued, or a token without its lease.
async fn try_lease(
    state: &AppState,
    agent_id: &str,
    labels: &BTreeMap<String, String>,
    now: i64,
) -> Result<Option<JobOffer>, AgentError> {
    let request = StoreLease {
        agent_id: agent_id.to_owned(),
        labels: labels.clone(),
        kinds: vec![JOB_KIND.to_owned()],
        now,
        lease_until: now + LEASE_MS,
    };
    // Bounded: each pass either returns, completes a job that no longer has a build, or lost
    // the job to another agent (which then holds it).
    for _ in 0..100 {
        let Some(leased) = state.store.lease_candidate(&request).await? else { return Ok(None) };
        let job_id = leased.job.id.clone();
        let lease = Write::LeaseJob {
            job_id: job_id.clone(),
            agent_id: agent_id.to_owned(),
            now,
            lease_until: request.lease_until,
        };
        let Some(mut document) = state.store.get(BUILD, &job_id).await? else {
            state.store.apply(vec![Write::CompleteJob { job_id }]).await?;
            continue;
        };
        let mut build = core(&document).map_err(|_| bad("a stored build is damaged"))?;
        if build.build_complete {
            state
                .store
                .apply(vec![
                    Write::CompleteJob { job_id: job_id.clone() },
                    end_build_tokens(&job_id),
                ])
                .await?;
            continue;
        }
        let mut writes = vec![lease];
        if build.current_phase != protocol::PhaseType::Queued {
            // The job's previous agent lost its lease and this one took it over before the
            // expiry loop looked: the same rule applies here as there.
            let limit = retry_limit(state, &document).await?;
            let when = engine::clock::aws_timestamp(now);
            if leased.attempts - 1 > limit {
                // The agent that was lost is the build's, not the one asking now.
                let previous = document.body[INTERNAL]["agentId"].as_str().unwrap_or_default();
                let name = agent_name(state, previous).await;
                end_lost(&mut document, &mut build, when, &name);
                let version = document.version;
                let ended = vec![
                    Write::Update { document, expected_version: version },
                    Write::CompleteJob { job_id: job_id.clone() },
                    end_build_tokens(&job_id),
                ];
                match state.store.apply(ended).await {
                    Ok(()) | Err(StoreError::Conflict { .. }) => continue,
                    Err(err) => return Err(err.into()),
                }
            }
            engine::build::requeued(&mut build, when);
            document.body[INTERNAL]["eventSeq"] = json!(0);
            document.body["autoRetryConfig"] =
                json!({ "autoRetryLimit": limit, "autoRetryNumber": leased.attempts - 1 });
            // The previous agent's git token dies with its lease.
            writes.push(end_build_tokens(&job_id));
        }
        let mut job: BuildJob = serde_json::from_value(leased.job.payload.clone())
            .map_err(|_| bad("a queued job is damaged"))?;
        // Secrets are resolved now, not when the build was queued, so that they never sit in
        // the queue in plain text.
        job.secrets = resolve_secrets(state, &job).await?;
        if job.plan.git_credential_helper {
            let (token, write) = build_token(&job, agent_id, now);
            job.git_token = Some(token);
            writes.push(write);
        }
        if build.current_phase == protocol::PhaseType::Queued {
            engine::build::leased(&mut build, engine::clock::aws_timestamp(now));
        }
        store_core(&mut document, &build);
        document.body[INTERNAL]["agentId"] = json!(agent_id);
        let version = document.version;
        writes.push(Write::Update { document, expected_version: version });
        match state.store.apply(writes).await {
            Ok(()) => {}
            // Another agent (or StopBuild) came first: look again.
            Err(StoreError::Conflict { .. } | StoreError::NotFound { .. }) => continue,
            Err(err) => return Err(err.into()),
        }
        tracing::info!(build = %job_id, %agent_id, "build leased");
        return Ok(Some(JobOffer { job_id, build: job }));
    }
    Ok(None)
}

/// Every parameter and secret the plan refers to, from the server's secret store. Missing
/// ones are left out: the executor then fails the build in PROVISIONING, naming them.
async fn resolve_secrets(
    state: &AppState,
    job: &BuildJob,
) -> Result<BTreeMap<String, String>, AgentError> {
    let mut out = BTreeMap::new();
    for reference in &job.plan.parameter_store {
        if let Some(value) = state.secrets_store.get_parameter(&reference.reference).await? {
            out.insert(reference.reference.clone(), value);
        }
    }
    for reference in &job.plan.secrets_manager {
        if let Some(value) = state.secrets_store.resolve_secret(&reference.reference).await? {
            out.insert(reference.reference.clone(), value);
        }
    }
    Ok(out)
}

/// Loads the build of a job leased to `agent_id`, or says it is not theirs any more.
async fn leased_build(
    state: &AppState,
    job_id: &str,
    agent_id: &str,
) -> Result<Document, AgentError> {
    let document = state.store.get(BUILD, job_id).await?.ok_or_else(|| not_leased(job_id))?;
    if document.body[INTERNAL]["agentId"] != agent_id || document.body["buildComplete"] == true {
        return Err(not_leased(job_id));
    }
    Ok(document)
}

async fn renew(state: &AppState, job_id: &str, agent_id: &str, now: i64) -> Result<(), AgentError> {
    let until = now + LEASE_MS;
    if state.store.renew(job_id, agent_id, until).await? { Ok(()) } else { Err(not_leased(job_id)) }
}

/// The renewal of `agent_id`'s lease on `job_id` as a batch write, for a transaction that also
/// records what the agent reported.
fn renewal(job_id: &str, agent_id: &str, now: i64) -> Write {
    Write::RenewLease {
        job_id: job_id.to_owned(),
        agent_id: agent_id.to_owned(),
        lease_until: now + LEASE_MS,
    }
}

pub(crate) async fn heartbeat(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(job_id): Path<String>,
) -> Result<Json<JobControl>, AgentError> {
    let agent_id = agent_header(&headers);
    authorize_agent(&state, &headers, &agent_id, auth::AGENT_HEARTBEAT).await?;
    let document = leased_build(&state, &job_id, &agent_id).await?;
    renew(&state, &job_id, &agent_id, engine::clock::now_ms()).await?;
    Ok(Json(JobControl { stop: document.body[INTERNAL]["stopRequested"] == true }))
}

pub(crate) async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(job_id): Path<String>,
    AgentBody(body): AgentBody,
) -> Result<Json<JobControl>, AgentError> {
    // The caller is checked before its body is parsed.
    let agent_id = agent_header(&headers);
    authorize_agent(&state, &headers, &agent_id, auth::AGENT_EVENTS).await?;
    let batch: EventBatch = parse(&body)?;
    if batch.agent_id != agent_id {
        return Err(not_leased(&job_id));
    }
    record_events(&state, &job_id, &batch, engine::clock::now_ms()).await.map(Json)
}

/// Records an agent's event batch at `now`: the lease's renewal, the batch's log chunk and the
/// build's new record in one transaction, so the log never holds a chunk the build does not
/// count, and a batch the build does not record never renews the lease.
async fn record_events(
    state: &AppState,
    job_id: &str,
    batch: &EventBatch,
    now: i64,
) -> Result<JobControl, AgentError> {
    // Retried on a concurrent change (StopBuild), bounded.
    for _ in 0..5 {
        let mut document = leased_build(state, job_id, &batch.agent_id).await?;
        let applied = document.body[INTERNAL]["eventSeq"].as_u64().unwrap_or(0);
        let stop = document.body[INTERNAL]["stopRequested"] == true;
        let renew = renewal(job_id, &batch.agent_id, now);
        if batch.seq + batch.events.len() as u64 <= applied {
            // A retried batch we already have: it still says the agent is alive.
            return match state.store.apply(vec![renew]).await {
                Ok(()) => Ok(JobControl { stop }),
                Err(StoreError::Conflict { .. }) => Err(not_leased(job_id)),
                Err(err) => Err(err.into()),
            };
        }
        if batch.seq > applied {
            return Err(bad(format!(
                "events from {} were expected, not from {}",
                applied, batch.seq
            )));
        }
        let fresh = &batch.events[(applied - batch.seq) as usize..];
        let mut build = core(&document).map_err(|_| bad("a stored build is damaged"))?;
        let when = engine::clock::aws_timestamp(now);
        let mut text = String::new();
        for event in fresh {
            engine::build::apply_event(&mut build, event);
            if let Some(line) = engine::build::log_text(event, when) {
                text.push_str(&line);
            }
        }
        store_core(&mut document, &build);
        let mut writes = vec![renew];
        let log_seq = document.body[INTERNAL]["logSeq"].as_i64().unwrap_or(0);
        if !text.is_empty() {
            writes.push(Write::AppendLog {
                stream: job_id.to_owned(),
                seq: log_seq,
                data: text.into_bytes(),
            });
            document.body[INTERNAL]["logSeq"] = json!(log_seq + 1);
        }
        document.body[INTERNAL]["eventSeq"] = json!(batch.seq + batch.events.len() as u64);
        let version = document.version;
        writes.push(Write::Update { document, expected_version: version });
        match state.store.apply(writes).await {
            Ok(()) => {
                state.logs.notify_waiters();
                return Ok(JobControl { stop });
            }
            // The lease is gone (expired and taken, or the build ended).
            Err(StoreError::Conflict { kind, .. }) if kind == "job" => {
                return Err(not_leased(job_id));
            }
            Err(StoreError::Conflict { .. }) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(AgentError(
        StatusCode::SERVICE_UNAVAILABLE,
        "Busy",
        "the build kept changing; retry".to_owned(),
    ))
}

pub(crate) async fn upload_artifact(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((job_id, file)): Path<(String, String)>,
    body: Body,
) -> Result<StatusCode, AgentError> {
    store_artifact(state, headers, job_id, file, None, body).await
}

/// `PUT jobs/<job>/artifacts/<file>/<name>`: an artifact whose buildspec names it `<name>`
/// (evaluated by the build's shell), stored where [`crate::builds::artifact_key`] puts it.
pub(crate) async fn upload_named_artifact(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((job_id, file, name)): Path<(String, String, String)>,
    body: Body,
) -> Result<StatusCode, AgentError> {
    store_artifact(state, headers, job_id, file, Some(name), body).await
}

async fn store_artifact(
    state: AppState,
    headers: HeaderMap,
    job_id: String,
    file: String,
    name: Option<String>,
    body: Body,
) -> Result<StatusCode, AgentError> {
    let agent_id = agent_header(&headers);
    authorize_agent(&state, &headers, &agent_id, auth::AGENT_UPLOAD_ARTIFACT).await?;
    let document = leased_build(&state, &job_id, &agent_id).await?;
    if file.is_empty() || file.contains('/') || file.starts_with('.') {
        return Err(bad(format!("invalid artifact file name {file}")));
    }
    // The agent names its zips `artifacts.zip` and `<identifier>.zip`.
    let identifier = file.strip_suffix(".zip").filter(|it| *it != "artifacts");
    let (key, _) =
        crate::builds::artifact_key(&document, &job_id, identifier, &file, name.as_deref());
    store_upload(&state, &key, body, "artifact").await?;
    renew(&state, &job_id, &agent_id, engine::clock::now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT jobs/<job>/reports/<index>`: the test cases of the build's report `<index>`, one
/// JSON test case a line, kept in the blob store until the finish request reads them.
pub(crate) async fn upload_report(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((job_id, index)): Path<(String, String)>,
    body: Body,
) -> Result<StatusCode, AgentError> {
    let agent_id = agent_header(&headers);
    authorize_agent(&state, &headers, &agent_id, auth::AGENT_UPLOAD_REPORT).await?;
    leased_build(&state, &job_id, &agent_id).await?;
    let index: usize = index
        .parse()
        .map_err(|_| bad(format!("invalid report index {index}: expected a number")))?;
    store_upload(&state, &crate::reports::upload_key(&job_id, index), body, "report").await?;
    renew(&state, &job_id, &agent_id, engine::clock::now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Streams an upload to a temporary file, then into the blob store at `key`: never whole in
/// memory, whatever its size.
async fn store_upload(
    state: &AppState,
    key: &str,
    body: Body,
    what: &str,
) -> Result<(), AgentError> {
    let temp = state.data_dir.join("tmp");
    std::fs::create_dir_all(&temp).map_err(|err| bad(err.to_string()))?;
    let path = temp.join(format!("upload-{}", uuid::Uuid::new_v4()));
    let result = async {
        let mut out = tokio::fs::File::create(&path).await?;
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(std::io::Error::other)?;
            tokio::io::AsyncWriteExt::write_all(&mut out, &chunk).await?;
        }
        tokio::io::AsyncWriteExt::flush(&mut out).await?;
        Ok::<_, std::io::Error>(())
    }
    .await;
    if let Err(err) = result {
        let _ = std::fs::remove_file(&path);
        return Err(bad(format!("{what} upload broke off: {err}")));
    }
    let stored = state.blobs.put_file(key, &path).await;
    let _ = std::fs::remove_file(&path);
    stored.map(drop).map_err(|err| {
        tracing::error!(%err, "storing an upload");
        AgentError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal",
            format!("cannot store the {what}"),
        )
    })
}

pub(crate) async fn finish(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(job_id): Path<String>,
    AgentBody(body): AgentBody,
) -> Result<StatusCode, AgentError> {
    // The caller is checked before its (large) body is parsed.
    let agent_id = agent_header(&headers);
    authorize_agent(&state, &headers, &agent_id, auth::AGENT_FINISH).await?;
    let request: FinishRequest = parse(&body)?;
    if request.agent_id != agent_id {
        return Err(not_leased(&job_id));
    }
    for _ in 0..5 {
        let document = match leased_build(&state, &job_id, &request.agent_id).await {
            Ok(document) => document,
            // A retried finish of a build that is already complete.
            Err(_)
                if state
                    .store
                    .get(BUILD, &job_id)
                    .await?
                    .is_some_and(|it| it.body["buildComplete"] == true) =>
            {
                return Ok(StatusCode::NO_CONTENT);
            }
            Err(err) => return Err(err),
        };
        let mut document = document;
        let mut build = core(&document).map_err(|_| bad("a stored build is damaged"))?;
        let mut reported = request.build.clone();
        // Artifacts live in the blob store now, not on the agent's disk.
        crate::builds::place_artifacts(&document, &job_id, &mut reported, &request.artifact_names);
        engine::build::finished(&mut build, &reported);
        store_core(&mut document, &build);
        let mut writes = crate::reports::report_writes(
            &state,
            &mut document,
            &build,
            &job_id,
            &request.uploaded_reports,
        )
        .await?;
        let version = document.version;
        writes.insert(0, Write::Update { document, expected_version: version });
        writes.push(Write::CompleteJob { job_id: job_id.clone() });
        writes.push(end_build_tokens(&job_id));
        match state.store.apply(writes).await {
            Ok(()) => {
                tracing::info!(build = %job_id, status = build.build_status.as_str(), "build finished");
                crate::reports::remove_uploads(&state, &job_id, &request.uploaded_reports).await;
                state.logs.notify_waiters();
                return Ok(StatusCode::NO_CONTENT);
            }
            Err(StoreError::Conflict { .. }) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(AgentError(
        StatusCode::SERVICE_UNAVAILABLE,
        "Busy",
        "the build kept changing; retry".to_owned(),
    ))
}

/// Ends the builds whose agents stopped reporting by `now` (or queues them again, as their
/// project's `autoRetryLimit` says), each in one transaction with its job and its git tokens.
/// Runs every few seconds.
pub(crate) async fn expire_leases(state: &AppState, now: i64) -> Result<usize, StoreError> {
    let expired = state.store.expired_leases(now).await?;
    let mut ended = 0;
    for leased in expired {
        let job_id = leased.job.id.clone();
        let Some(mut document) = state.store.get(BUILD, &job_id).await? else {
            state.store.apply(vec![Write::CompleteJob { job_id }]).await?;
            continue;
        };
        let Ok(mut build) = core(&document) else { continue };
        // The project may allow automatic retries (`autoRetryLimit`): the job goes back to
        // the queue for another agent instead of ending the build.
        let limit = retry_limit(state, &document).await?;
        let when = engine::clock::aws_timestamp(now);
        if leased.attempts <= limit {
            engine::build::requeued(&mut build, when);
            store_core(&mut document, &build);
            document.body[INTERNAL]["eventSeq"] = json!(0);
            document.body[INTERNAL]["agentId"] = json!(null);
            document.body["autoRetryConfig"] =
                json!({ "autoRetryLimit": limit, "autoRetryNumber": leased.attempts });
            let version = document.version;
            let writes = vec![
                Write::Update { document, expected_version: version },
                Write::ReleaseJob { job_id: job_id.clone() },
                end_build_tokens(&job_id),
            ];
            match state.store.apply(writes).await {
                Ok(()) => {
                    tracing::warn!(build = %job_id, agent = %leased.agent_id, attempt = leased.attempts, "agent lost: build queued again");
                    state.jobs.notify_waiters();
                }
                Err(StoreError::Conflict { .. }) => {}
                Err(err) => return Err(err),
            }
            continue;
        }
        let name = agent_name(state, &leased.agent_id).await;
        end_lost(&mut document, &mut build, when, &name);
        store_core(&mut document, &build);
        let version = document.version;
        let writes = vec![
            Write::Update { document, expected_version: version },
            Write::CompleteJob { job_id: job_id.clone() },
            end_build_tokens(&job_id),
        ];
        match state.store.apply(writes).await {
            Ok(()) => {
                tracing::warn!(build = %job_id, agent = %leased.agent_id, "agent lost: build ended FAULT");
                ended += 1;
            }
            // Its agent reported after all: the lease is fine again.
            Err(StoreError::Conflict { .. }) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(ended)
}

/// How many times the build's project lets a build go back to the queue when its agent is lost.
async fn retry_limit(state: &AppState, build: &Document) -> Result<i64, StoreError> {
    let project = match &build.parent {
        Some(name) => state.store.get(PROJECT, name).await?,
        None => None,
    };
    Ok(project.and_then(|it| it.body["autoRetryLimit"].as_i64()).unwrap_or(0))
}

/// How API users see an agent: by the name it registered with (its id is a credential's
/// half and stays between the server and the agent).
async fn agent_name(state: &AppState, agent_id: &str) -> String {
    match state.store.get(AGENT, agent_id).await {
        Ok(Some(agent)) => {
            format!("\"{}\"", agent.body["name"].as_str().unwrap_or("unnamed"))
        }
        Ok(None) | Err(_) => "an agent that is gone".to_owned(),
    }
}

/// Ends a build whose agent (`agent_name`, see [`agent_name`]) was lost: FAULT, in the phase
/// it was in.
fn end_lost(document: &mut Document, build: &mut protocol::Build, when: f64, agent_name: &str) {
    let context = PhaseContext {
        status_code: "AGENT_LOST".to_owned(),
        message: format!(
            "The agent running the build ({agent_name}) stopped reporting and its lease expired"
        ),
    };
    engine::build::ended(build, when, BuildStatus::Fault, context);
    store_core(document, build);
}

/// Why queued builds are waiting, in one sentence, from the agents seen recently.
pub(crate) async fn queue_report(state: &AppState) -> Result<String, StoreError> {
    let now = engine::clock::now_ms();
    let agents = state
        .store
        .list(&ListQuery {
            kind: AGENT.to_owned(),
            parent: None,
            descending: true,
            after: None,
            limit: 1000,
        })
        .await?
        .documents;
    let alive: Vec<&Document> = agents
        .iter()
        .filter(|it| now - it.body["lastSeenMs"].as_i64().unwrap_or(0) < 2 * LEASE_MS)
        .collect();
    if alive.is_empty() {
        return Ok("No agent is connected: start one with `slipway agent` (or run the server without --no-local-agent)".to_owned());
    }
    let capacity: i64 = alive.iter().map(|it| it.body["concurrency"].as_i64().unwrap_or(1)).sum();
    let queued = state.store.queued_jobs().await?.len();
    Ok(format!(
        "Waiting for an agent: {} connected with {capacity} slots in all, {queued} job(s) queued",
        alive.len()
    ))
}
