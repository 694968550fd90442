//! The build queue as agents see it: leasing a job (with its secrets and its build token),
//! recording an agent's event batch, heartbeats, finishing, lease expiry and the queue report.
//!
//! These are the agent API's state transitions, over the `protocol::agent` types; the server's
//! `agent_api` authenticates the agent, holds the long poll, streams uploads and maps an
//! [`AgentError`] to its `{"code","message"}` answer. A lease hands a queued job to exactly one
//! agent (the store guarantees it); every report renews the lease; a lease that is not renewed
//! expires and the build ends FAULT ([`expire_leases`]). Every change to a build is one store
//! transaction, so a crash loses nothing that was answered.

use std::collections::BTreeMap;

use engine::kinds::{AGENT, BUILD, BUILD_JOB, BUILD_TOKEN, PROJECT};
use engine::store::{Document, LeaseRequest as StoreLease, ListQuery, StoreError, Write};
use protocol::agent::{BuildJob, EventBatch, FinishRequest, JobControl, JobOffer};
use protocol::{BuildStatus, PhaseContext};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::Context;
use crate::builds::{INTERNAL, core, store_core};

/// What went wrong with an agent's call, by the answer it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentErrorKind {
    /// The request cannot be acted on (`BadRequest`, 400).
    BadRequest,
    /// The job is not leased to this agent (`JobNotLeased`, 409).
    NotLeased,
    /// The build kept changing; the agent retries (`Busy`, 503).
    Busy,
    /// The server failed (`Internal`, 500).
    Internal,
}

/// An agent call's error: its kind and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentError {
    pub kind: AgentErrorKind,
    pub message: String,
}

impl AgentError {
    /// The protocol's error code for this error.
    pub fn code(&self) -> &'static str {
        match self.kind {
            AgentErrorKind::BadRequest => "BadRequest",
            AgentErrorKind::NotLeased => "JobNotLeased",
            AgentErrorKind::Busy => "Busy",
            AgentErrorKind::Internal => "Internal",
        }
    }
}

impl From<StoreError> for AgentError {
    fn from(err: StoreError) -> AgentError {
        tracing::error!(%err, "agent API: store error");
        internal()
    }
}

/// `Internal`, for a failure the caller has logged.
pub(crate) fn internal() -> AgentError {
    AgentError { kind: AgentErrorKind::Internal, message: "internal error".to_owned() }
}

/// `BadRequest`.
pub fn bad(message: impl Into<String>) -> AgentError {
    AgentError { kind: AgentErrorKind::BadRequest, message: message.into() }
}

/// `JobNotLeased`.
pub fn not_leased(job: &str) -> AgentError {
    AgentError {
        kind: AgentErrorKind::NotLeased,
        message: format!("job {job} is not leased to this agent"),
    }
}

fn busy() -> AgentError {
    AgentError { kind: AgentErrorKind::Busy, message: "the build kept changing; retry".to_owned() }
}

/// How often a running job must be reported on.
pub const HEARTBEAT_MS: i64 = 2_000;
/// How long a lease lasts without a report: several missed heartbeats.
pub const LEASE_MS: i64 = 15_000;

/// A token as it is stored: its SHA-256, in hex (agent tokens and build tokens alike).
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A token for one build's git commands (`git-credential-helper: yes`): it acts as the
/// build's service role (the repositories it may reach are those the role allows; git
/// records the user who started the build as the pusher), only while the build runs on the
/// agent it was leased to (and never past its timeout). Only its hash is kept: the token,
/// and the write that stores it, which goes into the lease's transaction. The transaction
/// that ends the build deletes it ([`end_build_tokens`]).
fn build_token(job: &BuildJob, agent_id: &str, now: i64) -> (String, Write) {
    let token =
        format!("slb_{}", iam::crypto::random_string(40, b"abcdefghijklmnopqrstuvwxyz0123456789"));
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
pub fn end_build_tokens(build_id: &str) -> Write {
    Write::DeleteChildren { kind: BUILD_TOKEN.to_owned(), parent: build_id.to_owned() }
}

/// Whom a valid build token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildTokenHolder {
    pub build_id: String,
    /// The user who started the build.
    pub initiator: String,
    /// The build's `serviceRole` (a role name or ARN), whose policies decide what the token
    /// may reach.
    pub service_role: String,
}

/// The build a build token acts for, while it is valid: before its expiry, and while its
/// build is in progress on the agent it was leased to. A token whose build has ended (or was
/// leased again elsewhere) is deleted. (The server's `auth` makes it a principal.)
pub async fn build_token_holder(ctx: &Context, token: &str, now: i64) -> Option<BuildTokenHolder> {
    let key = token_hash(token);
    let document = ctx.store.get(BUILD_TOKEN, &key).await.ok()??;
    let expires = document.body["expiresMs"].as_i64().unwrap_or(0);
    let build_id = document.body["buildId"].as_str().unwrap_or_default();
    let build = ctx.store.get(BUILD, build_id).await.ok()?;
    let service_role = build
        .as_ref()
        .and_then(|it| it.body["serviceRole"].as_str())
        .unwrap_or_default()
        .to_owned();
    let running = build.is_some_and(|build| {
        build.body["buildComplete"] != true
            && build.body["buildStatus"] == "IN_PROGRESS"
            && build.body[INTERNAL]["agentId"] == document.body["agentId"]
    });
    if !running || now >= expires {
        let delete = Write::Delete { kind: BUILD_TOKEN.to_owned(), key };
        if let Err(err) = ctx.store.apply(vec![delete]).await {
            tracing::debug!(%err, "deleting a build token whose build has ended");
        }
        return None;
    }
    let initiator = document.body["user"].as_str()?.to_owned();
    Some(BuildTokenHolder { build_id: build_id.to_owned(), initiator, service_role })
}

/// Leases the oldest job `agent_id` may take, at `now`: the job's lease, the build's record
/// and its git token commit in one transaction, so a crash never leaves a leased job whose
/// build says it is queued, or a token without its lease.
pub async fn try_lease(
    ctx: &Context,
    agent_id: &str,
    labels: &BTreeMap<String, String>,
    now: i64,
) -> Result<Option<JobOffer>, AgentError> {
    let request = StoreLease {
        agent_id: agent_id.to_owned(),
        labels: labels.clone(),
        kinds: vec![BUILD_JOB.to_owned()],
        now,
        lease_until: now + LEASE_MS,
    };
    // Bounded: each pass either returns, completes a job that no longer has a build, or lost
    // the job to another agent (which then holds it).
    for _ in 0..100 {
        let Some(leased) = ctx.store.lease_candidate(&request).await? else { return Ok(None) };
        let job_id = leased.job.id.clone();
        let lease = Write::LeaseJob {
            job_id: job_id.clone(),
            agent_id: agent_id.to_owned(),
            now,
            lease_until: request.lease_until,
        };
        let Some(mut document) = ctx.store.get(BUILD, &job_id).await? else {
            ctx.store.apply(vec![Write::CompleteJob { job_id }]).await?;
            continue;
        };
        let mut build = core(&document).map_err(|_| bad("a stored build is damaged"))?;
        if build.build_complete {
            ctx.store
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
            let limit = retry_limit(ctx, &document).await?;
            let when = engine::clock::aws_timestamp(now);
            if leased.attempts - 1 > limit {
                // The agent that was lost is the build's, not the one asking now.
                let previous = document.body[INTERNAL]["agentId"].as_str().unwrap_or_default();
                let name = agent_name(ctx, previous).await;
                end_lost(&mut document, &mut build, when, &name);
                let version = document.version;
                let ended = vec![
                    Write::Update { document, expected_version: version },
                    Write::CompleteJob { job_id: job_id.clone() },
                    end_build_tokens(&job_id),
                ];
                match ctx.store.apply(ended).await {
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
        // the queue in plain text; those the build's service role may read.
        // (And the role decides whether its S3 artifacts may be written.)
        let role = document.body["serviceRole"].as_str().unwrap_or_default();
        let artifacts = &document.body[INTERNAL]["artifacts"];
        let gated =
            crate::service_role::gate_job(ctx, &job.plan, artifacts, &job_id, role, now).await?;
        job.secrets = gated.values;
        job.refused_secrets = gated.refused;
        job.refused_artifacts = gated.refused_artifacts;
        // A refusal decided when the build started stands: its plan is no buildspec's.
        if let Some(source) = job.s3_source.as_mut().filter(|it| it.refused.is_none()) {
            source.refused =
                crate::service_role::gate_source(ctx, role, &source.bucket, &source.key, now)
                    .await?;
        }
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
        match ctx.store.apply(writes).await {
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

/// Loads the build of a job leased to `agent_id`, or says it is not theirs any more.
pub async fn leased_build(
    ctx: &Context,
    job_id: &str,
    agent_id: &str,
) -> Result<Document, AgentError> {
    let document = ctx.store.get(BUILD, job_id).await?.ok_or_else(|| not_leased(job_id))?;
    if document.body[INTERNAL]["agentId"] != agent_id || document.body["buildComplete"] == true {
        return Err(not_leased(job_id));
    }
    Ok(document)
}

/// The zip a build of source type `S3` leased to `agent_id` as `job_id` downloads: its bucket
/// and key, when the build's service role may read it at `now` (see
/// [`crate::service_role::gate_source`]); `BadRequest` with the refusal otherwise, or for a
/// build of another source type.
pub async fn leased_s3_source(
    ctx: &Context,
    job_id: &str,
    agent_id: &str,
    now: i64,
) -> Result<(String, String), AgentError> {
    let document = leased_build(ctx, job_id, agent_id).await?;
    let source = &document.body[INTERNAL]["s3Source"];
    let (Some(bucket), Some(key)) = (source["bucket"].as_str(), source["key"].as_str()) else {
        return Err(bad(format!("build {job_id} has no source of type S3")));
    };
    let role = document.body["serviceRole"].as_str().unwrap_or_default();
    match crate::service_role::gate_source(ctx, role, bucket, key, now).await? {
        Some(refused) => Err(bad(refused)),
        None => Ok((bucket.to_owned(), key.to_owned())),
    }
}

/// Renews `agent_id`'s lease on `job_id` until `now` + [`LEASE_MS`], or says it is not theirs.
pub async fn renew(
    ctx: &Context,
    job_id: &str,
    agent_id: &str,
    now: i64,
) -> Result<(), AgentError> {
    let until = now + LEASE_MS;
    if ctx.store.renew(job_id, agent_id, until).await? { Ok(()) } else { Err(not_leased(job_id)) }
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

/// Records an agent's event batch at `now`: the lease's renewal, the batch's log chunk and the
/// build's new record in one transaction, so the log never holds a chunk the build does not
/// count, and a batch the build does not record never renews the lease.
pub async fn record_events(
    ctx: &Context,
    job_id: &str,
    batch: &EventBatch,
    now: i64,
) -> Result<JobControl, AgentError> {
    // Retried on a concurrent change (StopBuild), bounded.
    for _ in 0..5 {
        let mut document = leased_build(ctx, job_id, &batch.agent_id).await?;
        let applied = document.body[INTERNAL]["eventSeq"].as_u64().unwrap_or(0);
        let stop = document.body[INTERNAL]["stopRequested"] == true;
        let renew = renewal(job_id, &batch.agent_id, now);
        if batch.seq + batch.events.len() as u64 <= applied {
            // A retried batch we already have: it still says the agent is alive.
            return match ctx.store.apply(vec![renew]).await {
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
        match ctx.store.apply(writes).await {
            Ok(()) => {
                ctx.logs.notify_waiters();
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
    Err(busy())
}

/// Ends the builds whose agents stopped reporting by `now` (or queues them again, as their
/// project's `autoRetryLimit` says), each in one transaction with its job and its git tokens.
/// Runs every few seconds.
pub async fn expire_leases(ctx: &Context, now: i64) -> Result<usize, StoreError> {
    let expired = ctx.store.expired_leases(now).await?;
    let mut ended = 0;
    for leased in expired {
        let job_id = leased.job.id.clone();
        let Some(mut document) = ctx.store.get(BUILD, &job_id).await? else {
            ctx.store.apply(vec![Write::CompleteJob { job_id }]).await?;
            continue;
        };
        let Ok(mut build) = core(&document) else { continue };
        // The project may allow automatic retries (`autoRetryLimit`): the job goes back to
        // the queue for another agent instead of ending the build.
        let limit = retry_limit(ctx, &document).await?;
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
            match ctx.store.apply(writes).await {
                Ok(()) => {
                    tracing::warn!(build = %job_id, agent = %leased.agent_id, attempt = leased.attempts, "agent lost: build queued again");
                    ctx.jobs.notify_waiters();
                }
                Err(StoreError::Conflict { .. }) => {}
                Err(err) => return Err(err),
            }
            continue;
        }
        let name = agent_name(ctx, &leased.agent_id).await;
        end_lost(&mut document, &mut build, when, &name);
        store_core(&mut document, &build);
        let version = document.version;
        let writes = vec![
            Write::Update { document, expected_version: version },
            Write::CompleteJob { job_id: job_id.clone() },
            end_build_tokens(&job_id),
        ];
        match ctx.store.apply(writes).await {
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
async fn retry_limit(ctx: &Context, build: &Document) -> Result<i64, StoreError> {
    let project = match &build.parent {
        Some(name) => ctx.store.get(PROJECT, name).await?,
        None => None,
    };
    Ok(project.and_then(|it| it.body["autoRetryLimit"].as_i64()).unwrap_or(0))
}

/// How API users see an agent: by the name it registered with (its id is a credential's
/// half and stays between the server and the agent).
pub async fn agent_name(ctx: &Context, agent_id: &str) -> String {
    match ctx.store.get(AGENT, agent_id).await {
        Ok(Some(agent)) => {
            format!("\"{}\"", agent.body["name"].as_str().unwrap_or("unnamed"))
        }
        Ok(None) | Err(_) => "an agent that is gone".to_owned(),
    }
}

/// Ends a build whose agent (`agent_name`, see [`agent_name`]) was lost: FAULT, in the phase
/// it was in.
pub fn end_lost(document: &mut Document, build: &mut protocol::Build, when: f64, agent_name: &str) {
    let context = PhaseContext {
        status_code: "AGENT_LOST".to_owned(),
        message: format!(
            "The agent running the build ({agent_name}) stopped reporting and its lease expired"
        ),
    };
    engine::build::ended(build, when, BuildStatus::Fault, context);
    store_core(document, build);
}

/// Why queued builds are waiting at `now`, in one sentence, from the agents seen recently.
pub async fn queue_report(ctx: &Context, now: i64) -> Result<String, StoreError> {
    let agents = ctx
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
    let queued = ctx.store.queued_jobs().await?.len();
    Ok(format!(
        "Waiting for an agent: {} connected with {capacity} slots in all, {queued} job(s) queued",
        alive.len()
    ))
}

/// A heartbeat from `agent_id` on `job_id` at `now`: renews the lease; says whether to stop.
pub async fn heartbeat(
    ctx: &Context,
    job_id: &str,
    agent_id: &str,
    now: i64,
) -> Result<JobControl, AgentError> {
    let document = leased_build(ctx, job_id, agent_id).await?;
    renew(ctx, job_id, agent_id, now).await?;
    Ok(JobControl { stop: document.body[INTERNAL]["stopRequested"] == true })
}

/// Finishes `job_id` as its agent reports at `now`: the build's final record, its reports, the
/// job's completion and the end of its git tokens in one transaction. A retried finish of a
/// build that is already complete succeeds.
pub async fn finish(
    ctx: &Context,
    job_id: &str,
    request: &FinishRequest,
    now: i64,
) -> Result<(), AgentError> {
    for _ in 0..5 {
        let document = match leased_build(ctx, job_id, &request.agent_id).await {
            Ok(document) => document,
            // A retried finish of a build that is already complete.
            Err(_)
                if ctx
                    .store
                    .get(BUILD, job_id)
                    .await?
                    .is_some_and(|it| it.body["buildComplete"] == true) =>
            {
                return Ok(());
            }
            Err(err) => return Err(err),
        };
        let mut document = document;
        let mut build = core(&document).map_err(|_| bad("a stored build is damaged"))?;
        let mut reported = request.build.clone();
        // Artifacts live in the blob store now, not on the agent's disk.
        crate::builds::place_artifacts(&document, job_id, &mut reported, &request.artifact_names);
        engine::build::finished(&mut build, &reported);
        store_core(&mut document, &build);
        let mut writes = crate::reports::report_writes(
            ctx,
            &mut document,
            &build,
            job_id,
            &request.uploaded_reports,
            now,
        )
        .await?;
        let version = document.version;
        writes.insert(0, Write::Update { document, expected_version: version });
        writes.push(Write::CompleteJob { job_id: job_id.to_owned() });
        writes.push(end_build_tokens(job_id));
        match ctx.store.apply(writes).await {
            Ok(()) => {
                tracing::info!(build = %job_id, status = build.build_status.as_str(), "build finished");
                crate::reports::remove_uploads(ctx, job_id, &request.uploaded_reports).await;
                ctx.logs.notify_waiters();
                return Ok(());
            }
            Err(StoreError::Conflict { .. }) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(busy())
}
