//! The agent API (`/agent/v1/…`): the server's side of `protocol::agent`.
//!
//! Agents authenticate with a bearer token (stored only as its SHA-256). An agent id is bound
//! to the token that registered it: every later call must come with that token, and acts only
//! on jobs leased to that agent (secrets go only to the lease holder). Here: the routes'
//! handlers, their body limits, authentication (through `crate::auth`), registration and agent
//! tokens, the lease's long poll, the uploads streamed to the blob store or an S3 bucket, and
//! an S3 source's zip and S3 cache entries streamed between the agent and their bucket. The state
//! transitions (leasing, events, heartbeats, finishing, lease expiry) are
//! `codebuild::queue`'s; its errors answer as the protocol's `{"code","message"}`.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use codebuild::artifacts;
use codebuild::buckets::BucketError;
use codebuild::cache::{self, CacheAccess};
use codebuild::queue::{self, HEARTBEAT_MS, LEASE_MS, token_hash};
use engine::kinds::{AGENT, AGENT_TOKEN};
use engine::store::{Document, StoreError, Write};
use futures::StreamExt;
use protocol::agent::{
    AgentApiError, CacheEntries, EventBatch, FinishRequest, JobControl, LeaseRequest,
    LeaseResponse, PROTOCOL_VERSION, RegisterRequest, RegisterResponse,
};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::AppState;
use crate::auth::{self, AuthError, Principal, RequestParts};

#[cfg(test)]
mod tests;

/// The action of downloading a build's S3 source (`GET jobs/<job>/source`).
const AGENT_DOWNLOAD_SOURCE: &str = "slipway-agent:DownloadSource";
/// The action of listing, downloading and uploading a build's S3 cache entries.
const AGENT_CACHE: &str = "slipway-agent:Cache";

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

impl From<queue::AgentError> for AgentError {
    fn from(err: queue::AgentError) -> AgentError {
        let status = match err.kind {
            queue::AgentErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            queue::AgentErrorKind::NotLeased => StatusCode::CONFLICT,
            queue::AgentErrorKind::Busy => StatusCode::SERVICE_UNAVAILABLE,
            queue::AgentErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        AgentError(status, err.code(), err.message)
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
    queue::not_leased(job).into()
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

/// The build a build token acts for (its initiator, its service role), while it is valid
/// (see `codebuild::queue::build_token_holder`; `crate::auth` makes it a principal).
pub(crate) async fn build_token_holder(
    state: &AppState,
    token: &str,
) -> Option<queue::BuildTokenHolder> {
    queue::build_token_holder(state.codebuild(), token, engine::clock::now_ms()).await
}

/// The user a build token acts as, while it is valid (see [`build_token_holder`]).
#[cfg(test)]
pub(crate) async fn build_token_user(state: &AppState, token: &str) -> Option<String> {
    build_token_holder(state, token).await.map(|it| it.initiator)
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
    auth::authorize_agent_api(&principal, action, &auth::Resource::Agents).map_err(forbidden)?;
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
    auth::authorize_agent_api(&principal, action, &resource).map_err(forbidden)?;
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

    let ctx = state.codebuild();
    let wait = Duration::from_millis(request.wait_ms.min(MAX_WAIT_MS));
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        // Register interest before looking, so that a job enqueued in between wakes us.
        let notified = state.jobs.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let now = engine::clock::now_ms();
        if let Some(offer) = queue::try_lease(ctx, &request.agent_id, &labels, now).await? {
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

pub(crate) async fn heartbeat(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(job_id): Path<String>,
) -> Result<Json<JobControl>, AgentError> {
    let agent_id = agent_header(&headers);
    authorize_agent(&state, &headers, &agent_id, auth::AGENT_HEARTBEAT).await?;
    let now = engine::clock::now_ms();
    Ok(Json(queue::heartbeat(state.codebuild(), &job_id, &agent_id, now).await?))
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
    let now = engine::clock::now_ms();
    Ok(Json(queue::record_events(state.codebuild(), &job_id, &batch, now).await?))
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
/// (evaluated by the build's shell), stored where [`codebuild::artifacts::destination`] puts
/// it: the blob store, or (artifacts of type S3) the project's bucket.
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
    let ctx = state.codebuild();
    let document = queue::leased_build(ctx, &job_id, &agent_id).await?;
    if file.is_empty() || file.contains('/') || file.starts_with('.') {
        return Err(bad(format!("invalid artifact file name {file}")));
    }
    // The agent names its zips `artifacts.zip` and `<identifier>.zip`.
    let identifier = file.strip_suffix(".zip").filter(|it| *it != "artifacts");
    let (destination, _) =
        artifacts::destination(&document, &job_id, identifier, &file, name.as_deref());
    let path = receive_upload(&state, body, "artifact").await?;
    let stored = artifacts::store(ctx, &destination, &path).await;
    let _ = std::fs::remove_file(&path);
    stored.map_err(|err| match err {
        // The bucket went between the lease (which checked it) and the upload: the agent
        // ends the build FAULT with this message.
        BucketError::NoSuchBucket(_) | BucketError::NoSuchKey { .. } => {
            bad(format!("cannot store the artifact at {}: {err}", destination.location()))
        }
        BucketError::Failed(err) => {
            tracing::error!(%err, "storing an artifact");
            AgentError(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal",
                "cannot store the artifact".to_owned(),
            )
        }
    })?;
    queue::renew(ctx, &job_id, &agent_id, engine::clock::now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET jobs/<job>/source`: the zip of a build of source type `S3`, streamed from its bucket
/// to the agent the job is leased to, when the build's service role may read it
/// (`s3:GetObject`; `BadRequest` with the refusal otherwise).
pub(crate) async fn download_source(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(job_id): Path<String>,
) -> Result<Response, AgentError> {
    let agent_id = agent_header(&headers);
    authorize_agent(&state, &headers, &agent_id, AGENT_DOWNLOAD_SOURCE).await?;
    let ctx = state.codebuild();
    let now = engine::clock::now_ms();
    let (bucket, key) = queue::leased_s3_source(ctx, &job_id, &agent_id, now).await?;
    let (object, body) = ctx.buckets.read_object(&bucket, &key).await.map_err(|err| match err {
        BucketError::Failed(err) => {
            tracing::error!(%err, "reading a build's source zip");
            AgentError(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal",
                "cannot read the source".to_owned(),
            )
        }
        missing => bad(format!("The build's source cannot be read: {missing}")),
    })?;
    queue::renew(ctx, &job_id, &agent_id, now).await?;
    Ok(zip_response(object.size, body))
}

/// `GET jobs/<job>/cache`: the entries of a build's S3 cache, when its service role may
/// list them (`s3:ListBucket`).
pub(crate) async fn list_cache(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(job_id): Path<String>,
) -> Result<Json<CacheEntries>, AgentError> {
    let agent_id = agent_header(&headers);
    authorize_agent(&state, &headers, &agent_id, AGENT_CACHE).await?;
    let ctx = state.codebuild();
    let now = engine::clock::now_ms();
    let cache = cache::leased_cache(ctx, &job_id, &agent_id, CacheAccess::List, now).await?;
    let prefix = cache::entry_key(&cache, "");
    let keys = ctx.buckets.list_keys(&cache.bucket, &prefix).await.map_err(bucket_refusal)?;
    queue::renew(ctx, &job_id, &agent_id, now).await?;
    Ok(Json(CacheEntries { entries: cache::entries(&cache, &keys) }))
}

/// `GET jobs/<job>/cache/<file>`: one entry of a build's S3 cache, streamed from its
/// bucket, when its service role may read it (`s3:GetObject`).
pub(crate) async fn download_cache(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((job_id, file)): Path<(String, String)>,
) -> Result<Response, AgentError> {
    let agent_id = agent_header(&headers);
    authorize_agent(&state, &headers, &agent_id, AGENT_CACHE).await?;
    let ctx = state.codebuild();
    let now = engine::clock::now_ms();
    let access = CacheAccess::Read(&file);
    let cache = cache::leased_cache(ctx, &job_id, &agent_id, access, now).await?;
    let key = cache::entry_key(&cache, &file);
    let (object, body) =
        ctx.buckets.read_object(&cache.bucket, &key).await.map_err(bucket_refusal)?;
    queue::renew(ctx, &job_id, &agent_id, now).await?;
    Ok(zip_response(object.size, body))
}

/// `PUT jobs/<job>/cache/<file>`: a new entry of a build's S3 cache, streamed into its
/// bucket, when its service role may write it (`s3:PutObject`).
pub(crate) async fn upload_cache(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((job_id, file)): Path<(String, String)>,
    body: Body,
) -> Result<StatusCode, AgentError> {
    let agent_id = agent_header(&headers);
    authorize_agent(&state, &headers, &agent_id, AGENT_CACHE).await?;
    let ctx = state.codebuild();
    let now = engine::clock::now_ms();
    let access = CacheAccess::Write(&file);
    let cache = cache::leased_cache(ctx, &job_id, &agent_id, access, now).await?;
    let key = cache::entry_key(&cache, &file);
    let path = receive_upload(&state, body, "cache entry").await?;
    let written = ctx.buckets.write_object(&cache.bucket, &key, &path, "application/zip").await;
    let _ = std::fs::remove_file(&path);
    written.map_err(bucket_refusal)?;
    queue::renew(ctx, &job_id, &agent_id, engine::clock::now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A bucket's answer as the agent API's error: a missing bucket or object is the agent's
/// `BadRequest`, with S3's reason; anything else is internal.
fn bucket_refusal(err: BucketError) -> AgentError {
    match err {
        BucketError::Failed(err) => {
            tracing::error!(%err, "agent API: reading or writing a bucket");
            AgentError(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal",
                "cannot reach the bucket".to_owned(),
            )
        }
        missing => bad(missing.to_string()),
    }
}

/// A zip of `size` bytes streamed as the answer.
fn zip_response(size: u64, body: codebuild::buckets::ObjectBody) -> Response {
    let body = Body::from_stream(body.map(|chunk| chunk.map_err(std::io::Error::other)));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/zip"));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(size));
    response
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
    let ctx = state.codebuild();
    queue::leased_build(ctx, &job_id, &agent_id).await?;
    let index: usize = index
        .parse()
        .map_err(|_| bad(format!("invalid report index {index}: expected a number")))?;
    store_upload(&state, &codebuild::reports::upload_key(&job_id, index), body, "report").await?;
    queue::renew(ctx, &job_id, &agent_id, engine::clock::now_ms()).await?;
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
    let path = receive_upload(state, body, what).await?;
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

/// Streams an upload to a new temporary file (the caller removes it), never whole in memory.
async fn receive_upload(
    state: &AppState,
    body: Body,
    what: &str,
) -> Result<std::path::PathBuf, AgentError> {
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
    Ok(path)
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
    queue::finish(state.codebuild(), &job_id, &request, engine::clock::now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}
