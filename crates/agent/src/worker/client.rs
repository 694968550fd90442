//! The HTTP side of the agent protocol: one method per call of [`protocol::agent`], and the
//! sorting of failures into the three things a caller can do about them: retry (no answer, 5xx,
//! 408, 429), give up on a job (it is no longer ours) or stop the agent (the token is refused).
//!
//! Every request carries the agent's token as `Authorization: Bearer <token>`. Error answers
//! are read as [`AgentApiError`] when they are one, and kept as text otherwise, so a proxy's
//! HTML error page still ends up in the agent's log.
//!
//! Beside the agent protocol, [`Client::source_bundle`] downloads a build's source as a git
//! bundle from the git hosting routes, with the same token.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use protocol::agent::{
    AgentApiError, CacheEntries, JobControl, LeaseRequest, LeaseResponse, RegisterRequest,
    RegisterResponse,
};
use reqwest::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::AsyncWriteExt as _;

/// How long a short call (register, events, heartbeat, finish) may take before it counts as
/// failed and is retried.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How much longer than the server's long poll a lease request may take: the server answers
/// after `wait_ms` at the latest, so anything beyond this margin is a lost connection.
const LEASE_MARGIN: Duration = Duration::from_secs(10);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Uploads get a fixed allowance plus one second per MiB (a slow link's worth), so a large
/// artifact is not cut off while a dead connection is still noticed.
const UPLOAD_BASE_TIMEOUT: Duration = Duration::from_secs(120);
const UPLOAD_BYTES_PER_SECOND: u64 = 1 << 20;
/// How much of a non-JSON error body goes into a message.
const MAX_ERROR_TEXT: usize = 300;

/// A client of one server's agent API.
pub(super) struct Client {
    http: reqwest::Client,
    base: Url,
    authorization: HeaderValue,
    /// The id the server gave this agent, sent as `X-Slipway-Agent` on every later call.
    agent_id: std::sync::Mutex<String>,
}

/// Why a call failed.
#[derive(Debug, Clone)]
pub(super) enum CallError {
    /// The server answered with an error status.
    Status {
        /// The HTTP status.
        status: StatusCode,
        /// [`AgentApiError::code`], empty when the body was not one.
        code: String,
        /// What the server said.
        message: String,
    },
    /// No usable answer: the connection failed or timed out, or the answer was not the
    /// protocol's.
    Transport(String),
}

impl CallError {
    /// Whether trying the same call again later may succeed.
    pub(super) fn retryable(&self) -> bool {
        match self {
            CallError::Transport(_) => true,
            CallError::Status { status, .. } => {
                status.is_server_error()
                    || *status == StatusCode::REQUEST_TIMEOUT
                    || *status == StatusCode::TOO_MANY_REQUESTS
            }
        }
    }

    /// Whether the server refused the agent's token.
    pub(super) fn unauthorized(&self) -> bool {
        matches!(self, CallError::Status { status, code, .. }
            if *status == StatusCode::UNAUTHORIZED && code != "UnknownAgent")
    }

    /// Whether the server no longer knows the agent's id (it must register again).
    pub(super) fn unknown_agent(&self) -> bool {
        matches!(self, CallError::Status { code, .. } if code == "UnknownAgent")
    }

    /// Whether the job is no longer leased to this agent (`JobNotLeased`, 409): the server
    /// gave it away or ended the build, so nothing more about it may be reported. A 404 is
    /// not that: it is an unknown agent or a call an older server does not have.
    pub(super) fn not_leased(&self) -> bool {
        matches!(self, CallError::Status { status, code, .. }
            if code == "JobNotLeased" || *status == StatusCode::CONFLICT)
    }

    /// What the server said, without the status.
    pub(super) fn message(&self) -> &str {
        match self {
            CallError::Status { message, .. } | CallError::Transport(message) => message,
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Status { status, code, message } if code.is_empty() => {
                write!(f, "{status}: {message}")
            }
            CallError::Status { status, code, message } => {
                write!(f, "{status} {code}: {message}")
            }
            CallError::Transport(message) => f.write_str(message),
        }
    }
}

impl Client {
    /// A client for the server at `base` (`http://host:port`, maybe with a path prefix).
    pub(super) fn new(base: &str, token: &str) -> Result<Client, String> {
        let mut base =
            Url::parse(base).map_err(|err| format!("the server URL `{base}` is invalid: {err}"))?;
        if !matches!(base.scheme(), "http" | "https") || base.path_segments_mut().is_err() {
            return Err(format!("the server URL `{base}` is not an http or https URL"));
        }
        let mut authorization = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| "the agent token holds characters a header cannot carry".to_owned())?;
        authorization.set_sensitive(true);
        let mut builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("slipway-agent/", env!("CARGO_PKG_VERSION")));
        if base.scheme() == "http" {
            // No TLS to a plain-HTTP server: no trust roots to load and keep.
            builder = builder.tls_certs_only(Vec::new());
        }
        let http =
            builder.build().map_err(|err| format!("cannot set up the HTTP client: {err}"))?;
        Ok(Client { http, base, authorization, agent_id: std::sync::Mutex::new(String::new()) })
    }

    /// The base URL, for messages.
    pub(super) fn server(&self) -> &str {
        self.base.as_str()
    }

    /// `POST register`.
    pub(super) async fn register(
        &self,
        request: &RegisterRequest,
    ) -> Result<RegisterResponse, CallError> {
        self.post(&["register"], json(request)?, CALL_TIMEOUT).await
    }

    /// `POST lease`: held open by the server for up to `wait_ms`.
    pub(super) async fn lease(&self, request: &LeaseRequest) -> Result<LeaseResponse, CallError> {
        let timeout = Duration::from_millis(request.wait_ms) + LEASE_MARGIN;
        self.post(&["lease"], json(request)?, timeout).await
    }

    /// `POST jobs/<job>/events` with an already serialized [`protocol::agent::EventBatch`], so
    /// a retried batch is sent byte for byte as the first time.
    pub(super) async fn events(&self, job: &str, batch: Vec<u8>) -> Result<JobControl, CallError> {
        self.post(&["jobs", job, "events"], batch, CALL_TIMEOUT).await
    }

    /// `POST jobs/<job>/heartbeat`, with `{}` as the body; the agent is named by the
    /// `X-Slipway-Agent` header every call after registration carries.
    pub(super) async fn heartbeat(&self, job: &str) -> Result<JobControl, CallError> {
        self.post(&["jobs", job, "heartbeat"], b"{}".to_vec(), CALL_TIMEOUT).await
    }

    /// `POST jobs/<job>/finish` with a serialized [`protocol::agent::FinishRequest`]. The
    /// answer's body carries nothing the agent needs.
    pub(super) async fn finish(&self, job: &str, request: Vec<u8>) -> Result<(), CallError> {
        let request = self
            .request(Method::POST, &["jobs", job, "finish"], CALL_TIMEOUT)?
            .header(CONTENT_TYPE, "application/json")
            .body(request);
        send(request).await.map(drop)
    }

    /// `PUT jobs/<job>/<route…>` (`artifacts/<name>`, `reports/<index>`): the file at `path`
    /// as the body, streamed from disk (an artifact may be far larger than the agent's memory).
    pub(super) async fn upload(
        &self,
        job: &str,
        route: &[&str],
        path: &Path,
    ) -> Result<(), CallError> {
        let file = tokio::fs::File::open(path).await.map_err(|err| {
            CallError::Transport(format!("cannot open {}: {err}", path.display()))
        })?;
        let length = file
            .metadata()
            .await
            .map_err(|err| CallError::Transport(format!("cannot read {}: {err}", path.display())))?
            .len();
        let timeout = UPLOAD_BASE_TIMEOUT + Duration::from_secs(length / UPLOAD_BYTES_PER_SECOND);
        let content_type = if route.first() == Some(&"reports") {
            "application/x-ndjson"
        } else {
            "application/zip"
        };
        let mut segments = vec!["jobs", job];
        segments.extend(route);
        let request = self
            .request(Method::PUT, &segments, timeout)?
            .header(CONTENT_TYPE, content_type)
            .header(CONTENT_LENGTH, length)
            .body(reqwest::Body::from(file));
        send(request).await.map(drop)
    }

    /// `GET jobs/<job>/source`: an S3 source's zip, streamed into the file `to`, within a
    /// day (the zip may be large, as a repository may).
    pub(super) async fn source_zip(&self, job: &str, to: &Path) -> Result<(), CallError> {
        self.download(&["jobs", job, "source"], to, "the source zip").await
    }

    /// `GET jobs/<job>/cache`: the entries of the job's S3 cache.
    pub(super) async fn cache_entries(&self, job: &str) -> Result<CacheEntries, CallError> {
        let request = self.request(Method::GET, &["jobs", job, "cache"], CALL_TIMEOUT)?;
        let bytes = send(request)
            .await?
            .bytes()
            .await
            .map_err(|err| CallError::Transport(format!("reading the answer failed: {err}")))?;
        serde_json::from_slice(&bytes).map_err(|err| {
            CallError::Transport(format!(
                "the server's cache entries are not the protocol's: {err}"
            ))
        })
    }

    /// `GET jobs/<job>/cache/<file>`: one entry of the job's S3 cache, into the file `to`.
    pub(super) async fn cache_entry(
        &self,
        job: &str,
        file: &str,
        to: &Path,
    ) -> Result<(), CallError> {
        self.download(&["jobs", job, "cache", file], to, "the cache entry").await
    }

    /// `GET <segments>` of the agent API, its body streamed into the file `to` within a day
    /// (a zip may be large, as a repository may).
    async fn download(&self, segments: &[&str], to: &Path, what: &str) -> Result<(), CallError> {
        let timeout = Duration::from_secs(24 * 3600);
        let request = self.request(Method::GET, segments, timeout)?;
        let response = send(request).await?;
        save(response, to, what).await
    }

    /// `GET <repository>/bundle?commit=<commit>` (a git route, `repository` being its path
    /// on the server, e.g. `/v1/repos/web`): a git bundle of the repository's refs and the
    /// commit, streamed into the file `to`. No time limit, as for a clone: the repository may
    /// be large.
    pub(super) async fn source_bundle(
        &self,
        repository: &str,
        commit: &str,
        to: &Path,
    ) -> Result<(), CallError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| CallError::Transport(format!("`{}` cannot take a path", self.base)))?
            .pop_if_empty()
            .extend(repository.split('/').filter(|it| !it.is_empty()))
            .push("bundle");
        url.query_pairs_mut().append_pair("commit", commit);
        let request = self.http.get(url).header(AUTHORIZATION, self.authorization.clone());
        let response = send(request).await?;
        save(response, to, "the bundle").await
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: &[&str],
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<T, CallError> {
        let request = self
            .request(Method::POST, path, timeout)?
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        let response = send(request).await?;
        let bytes = response
            .bytes()
            .await
            .map_err(|err| CallError::Transport(format!("reading the answer failed: {err}")))?;
        serde_json::from_slice(&bytes).map_err(|err| {
            CallError::Transport(format!(
                "the server's answer to {} is not the protocol's: {err}",
                path.join("/")
            ))
        })
    }

    fn request(
        &self,
        method: Method,
        path: &[&str],
        timeout: Duration,
    ) -> Result<reqwest::RequestBuilder, CallError> {
        let mut url = self.base.clone();
        // Each part is pushed as one segment, so a job id or file name with `/`, `:` or `%` in
        // it is percent-encoded instead of changing the path.
        url.path_segments_mut()
            .map_err(|()| CallError::Transport(format!("`{}` cannot take a path", self.base)))?
            .pop_if_empty()
            .extend(["agent", "v1"])
            .extend(path);
        let mut request =
            self.http.request(method, url).header(AUTHORIZATION, self.authorization.clone());
        let agent_id = self.agent_id.lock().map(|it| it.clone()).unwrap_or_default();
        if !agent_id.is_empty() {
            request = request.header("x-slipway-agent", agent_id);
        }
        Ok(request.timeout(timeout))
    }

    /// Remembers the agent's id for the calls that carry it only in a header.
    pub(super) fn set_agent_id(&self, agent_id: &str) {
        if let Ok(mut it) = self.agent_id.lock() {
            agent_id.clone_into(&mut it);
        }
    }
}

/// Streams a response's body (`what`, for messages) into the file `to`.
async fn save(mut response: reqwest::Response, to: &Path, what: &str) -> Result<(), CallError> {
    let mut file = tokio::fs::File::create(to)
        .await
        .map_err(|err| CallError::Transport(format!("cannot create {}: {err}", to.display())))?;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|err| CallError::Transport(format!("reading {what} failed: {err}")))?
    {
        file.write_all(&chunk)
            .await
            .map_err(|err| CallError::Transport(format!("cannot write {}: {err}", to.display())))?;
    }
    file.flush()
        .await
        .map_err(|err| CallError::Transport(format!("cannot write {}: {err}", to.display())))
}

fn json(value: &impl Serialize) -> Result<Vec<u8>, CallError> {
    serde_json::to_vec(value)
        .map_err(|err| CallError::Transport(format!("cannot encode the request: {err}")))
}

/// Sends `request`; an error status becomes [`CallError::Status`].
async fn send(request: reqwest::RequestBuilder) -> Result<reqwest::Response, CallError> {
    let response = request.send().await.map_err(|err| CallError::Transport(describe(&err)))?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.bytes().await.unwrap_or_default();
    let (code, message) = match serde_json::from_slice::<AgentApiError>(&body) {
        Ok(error) => (error.code, error.message),
        Err(_) => {
            let text = String::from_utf8_lossy(&body);
            let text = text.trim();
            let mut end = text.len().min(MAX_ERROR_TEXT);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            (String::new(), text[..end].to_owned())
        }
    };
    Err(CallError::Status { status, code, message })
}

/// A transport error with its causes: reqwest's own message is often just "error sending
/// request", and the reason (connection refused, timed out) is further down the chain.
fn describe(err: &reqwest::Error) -> String {
    let mut text = if err.is_timeout() { format!("timed out: {err}") } else { err.to_string() };
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
