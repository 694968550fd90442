//! Git over smart HTTP: clone, fetch and push the hosted repositories at `/v1/repos/<name>`.
//!
//! The clone URL is `http://HOST:PORT/v1/repos/<name>`, as CodeCommit's is
//! `https://git-codecommit.<region>.amazonaws.com/v1/repos/<name>`. Each request runs
//! `git upload-pack` or `git receive-pack --stateless-rpc` on the repository's bare directory
//! (`<data-dir>/repos/<name>.git`): the request body streams into git's stdin from a task of
//! its own while git's stdout streams back as the response, so neither a clone nor a push is
//! ever held whole in memory, and protocol v2 (fetch) as well as v0/v1 work, shallow clones
//! included.
//!
//! Every request needs HTTP Basic credentials (`auth`): HTTPS git credentials or the password
//! `aws codecommit credential-helper` derives from an access key. Git sends credentials only
//! after a `401` with `WWW-Authenticate: Basic`, so that is what a request without them gets.
//!
//! A push records what it changed: once git has finished, every command git reports as
//! done becomes a `ref-event` document (`codecommit::refs::record_push`), all in one store
//! transaction, before the response ends; then `Context::ref_events` wakes whoever reacts to
//! pushes.
//!
//! `GET /v1/repos/<name>/bundle?commit=<id>` answers with a git bundle of every ref plus that
//! commit (`git bundle create - --all <id>`), streamed as git writes it: what an agent clones
//! a build's source from in one request and one git process on each side, where a clone over
//! the smart protocol takes three requests and a dozen processes.
//!
//! A push is authorized once its commands are known, before git starts: the commands are read
//! from the start of the request (`pkt`), then `codecommit:GitPush` is asked with every ref
//! they move as `codecommit:References` (`auth::facts::git_request`), and a push refused for
//! one ref is refused whole; only then does git see the request, those first bytes included.
//! A refused push is answered in git's protocol (`ng <ref> <reason>` for each of its refs), so
//! git shows `[remote rejected]` and AWS's message. Branch protection
//! (`codecommit::protection`) is policy, decided there; what policy cannot tell, a force push
//! or a delete, the repository's `pre-receive` hook refuses before any ref moves, checking
//! each update against the verdicts the server wrote for this user from the push's commands
//! before git started. A push is in the audit trail as a `GitPush` event; one whose ref
//! updates git refused (the hook's `ng <ref> pre-receive hook declined`) carries those report
//! lines as its error ([`push_refusal`]).

pub(crate) mod auth;
pub(crate) mod pkt;

use std::convert::Infallible;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{ChildStdin, ChildStdout};
use tokio::sync::mpsc;

use codecommit::git::run;
use codecommit::protection::{self, PushPolicy};
pub(crate) use pkt::MAX_REPORT_BYTES;
use pkt::{CommandParser, RefCommand};

use crate::AppState;
use crate::audit::{Origin, Peer, record_git};
use crate::auth::{Principal, RequestParts};
use codecommit::process::git;
use engine::kinds::REPOSITORY;

/// The git routes, mounted beside the API.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/repos/{name}/info/refs", get(info_refs))
        .route("/v1/repos/{name}/git-upload-pack", post(upload_pack))
        .route("/v1/repos/{name}/git-receive-pack", post(receive_pack))
        .route("/v1/repos/{name}/bundle", get(bundle))
        // Pushes are as large as the repositories; they stream, so no limit is needed.
        .layer(DefaultBodyLimit::disable())
}

/// The bare git directory of the repository `name`.
fn repo_path(state: &AppState, name: &str) -> PathBuf {
    state.codecommit().repo_path(name)
}

/// The bare directory of the repository `name` when it exists; `None` for a name that is not
/// a repository's (checked again here, so that nothing else ever reaches the disk) or one that
/// does not exist. Git over SSH (`crate::ssh`) looks repositories up through this too.
pub(crate) async fn existing_repository(
    state: &AppState,
    name: &str,
) -> Result<Option<PathBuf>, engine::store::StoreError> {
    // Repository names are `[A-Za-z0-9_.-]{1,100}` (CodeCommit's rule).
    let valid = (1..=100).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        && name != "."
        && name != "..";
    if !valid {
        return Ok(None);
    }
    Ok(state.store.get(REPOSITORY, name).await?.map(|_| repo_path(state, name)))
}

/// The two git services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    UploadPack,
    ReceivePack,
}

impl Service {
    fn from_query(name: &str) -> Option<Service> {
        match name {
            "git-upload-pack" => Some(Service::UploadPack),
            "git-receive-pack" => Some(Service::ReceivePack),
            _ => None,
        }
    }

    /// Git's name for it, which the Service Authorization Reference's catalog maps to its
    /// action (`codecommit:GitPull`, `codecommit:GitPush`).
    fn name(self) -> &'static str {
        match self {
            Service::UploadPack => "git-upload-pack",
            Service::ReceivePack => "git-receive-pack",
        }
    }

    /// The git subcommand.
    pub(crate) fn command(self) -> &'static str {
        match self {
            Service::UploadPack => "upload-pack",
            Service::ReceivePack => "receive-pack",
        }
    }
}

fn unauthorized() -> Response {
    let mut response = (
        StatusCode::UNAUTHORIZED,
        "git credentials are needed: HTTPS git credentials (`slipway git-credentials create`) \
         or `aws codecommit credential-helper`\n",
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"slipway\""));
    response
}

fn internal(what: &str, err: impl std::fmt::Display) -> Response {
    tracing::error!(%err, "git: {what}");
    (StatusCode::INTERNAL_SERVER_ERROR, format!("{what} failed\n")).into_response()
}

/// The authenticated caller and the repository's directory, or the response refusing the
/// request.
async fn admit(
    state: &AppState,
    headers: &HeaderMap,
    name: &str,
) -> Result<(Principal, PathBuf), Response> {
    // Credentials first, so that nobody learns which repositories exist without them.
    let route = crate::auth::Route::Git { repository: name };
    let principal =
        match crate::auth::authenticate(state, route, &RequestParts::headers(headers)).await {
            Ok(principal) => principal,
            Err(err) => {
                if let crate::auth::AuthError::Internal(err) = &err {
                    tracing::error!(%err, "git: looking up credentials");
                }
                return Err(unauthorized());
            }
        };
    match existing_repository(state, name).await {
        Ok(Some(dir)) => Ok((principal, dir)),
        Ok(None) => {
            Err((StatusCode::NOT_FOUND, format!("repository {name} does not exist\n"))
                .into_response())
        }
        Err(err) => Err(internal("looking up the repository", err)),
    }
}

/// The one authorization call of a git operation, over HTTP and SSH alike:
/// `codecommit:GitPull` or `GitPush` on the repository, a push with the full names of the refs
/// it moves (none for the advertisement before it); agents may fetch, not push. `Ok(None)`
/// when it is allowed, the refusal when it is not.
pub(crate) async fn authorize_git(
    state: &AppState,
    principal: &Principal,
    service: Service,
    name: &str,
    references: &[&str],
    arrival: crate::auth::facts::Arrival<'_>,
) -> Result<Option<crate::auth::Denied>, crate::auth::facts::FactsError> {
    let place = crate::auth::place(state);
    let facts = crate::auth::facts::git_request(place, service.name(), name, references)?;
    let facts = facts.arrived(arrival);
    Ok(crate::auth::authorize(state, principal, &facts).await.err())
}

/// [`authorize_git`]'s refusal as an HTTP response, recorded in the audit trail.
async fn refusal(
    state: &AppState,
    principal: &Principal,
    service: Service,
    name: &str,
    references: &[&str],
    origin: &Origin,
) -> Option<Response> {
    match denial(state, principal, service, name, references, origin).await {
        Ok(None) => None,
        Ok(Some(denied)) => Some((StatusCode::FORBIDDEN, format!("{denied}\n")).into_response()),
        Err(response) => Some(response),
    }
}

/// [`authorize_git`]'s refusal, recorded in the audit trail; `Err` is the response when what
/// the request asks could not be told.
async fn denial(
    state: &AppState,
    principal: &Principal,
    service: Service,
    name: &str,
    references: &[&str],
    origin: &Origin,
) -> Result<Option<crate::auth::Denied>, Response> {
    let arrival = origin.arrival();
    let denied = match authorize_git(state, principal, service, name, references, arrival).await {
        Ok(Some(denied)) => denied,
        Ok(None) => return Ok(None),
        Err(err) => return Err(internal("telling what the request asks", err)),
    };
    let refused = Some(("AccessDenied", denied.message.clone()));
    record_git(state, principal, origin, name, service == Service::ReceivePack, refused).await;
    Ok(Some(denied))
}

/// A refused push's answer over HTTP: [`refusal_report`] when the client asked for a status
/// report (as every git does), otherwise a 403 with the reason.
fn refused_push(commands: &[RefCommand], capabilities: &[String], reason: &str) -> Response {
    match refusal_report(commands, capabilities, reason) {
        Some(report) => {
            with_git_headers(Response::new(Body::from(report)), Service::ReceivePack, "result")
        }
        None => (StatusCode::FORBIDDEN, format!("{reason}\n")).into_response(),
    }
}

/// What receive-pack would answer a push refused whole, over HTTP and SSH alike: `unpack ok`,
/// then `ng <ref> <reason>` for each of its refs, in side-band 1 when the client asked for
/// side-band, so that git shows `! [remote rejected] <ref> (<reason>)`. `None` when the
/// client asked for no status report.
pub(crate) fn refusal_report(
    commands: &[RefCommand],
    capabilities: &[String],
    reason: &str,
) -> Option<Vec<u8>> {
    let has = |name: &str| capabilities.iter().any(|it| it == name);
    if !has("report-status") && !has("report-status-v2") {
        return None;
    }
    // One line of text per reason: the pkt-line must not break.
    let reason = reason.trim_end().replace(['\n', '\r'], " ");
    let mut report = pkt_line("unpack ok\n");
    for command in commands {
        report.push_str(&pkt_line(&format!("ng {} {reason}\n", command.name)));
    }
    report.push_str("0000");
    if !has("side-band-64k") && !has("side-band") {
        return Some(report.into_bytes());
    }
    // Side-band packets carry at most 1000 bytes with plain side-band; split to fit.
    let mut banded = Vec::new();
    for chunk in report.as_bytes().chunks(990) {
        banded.extend_from_slice(format!("{:04x}", chunk.len() + 5).as_bytes());
        banded.push(1);
        banded.extend_from_slice(chunk);
    }
    banded.extend_from_slice(b"0000");
    Some(banded)
}

/// The `Git-Protocol` header's value when every character is one git uses there
/// (`version=2`, `version=2:object-format=sha1`, …): it becomes an environment variable.
pub(crate) fn allowed_git_protocol(value: &str) -> Option<&str> {
    let allowed = !value.is_empty()
        && value.len() <= 256
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"=:._-".contains(&b));
    allowed.then_some(value)
}

fn git_protocol(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("git-protocol")?.to_str().ok()?;
    allowed_git_protocol(value).map(str::to_owned)
}

fn is_v2(protocol: Option<&str>) -> bool {
    protocol.is_some_and(|it| it.split(':').any(|part| part == "version=2"))
}

/// The pkt-line `data`.
fn pkt_line(data: &str) -> String {
    format!("{:04x}{data}", data.len() + 4)
}

async fn info_refs(
    State(state): State<AppState>,
    peer: Peer,
    UrlPath(name): UrlPath<String>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let (principal, dir) = match admit(&state, &headers, &name).await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let service_name = query.iter().find(|(k, _)| k == "service").map(|(_, v)| v.as_str());
    let Some(service) = service_name.and_then(Service::from_query) else {
        // Without `service` a client speaks the dumb protocol, which is not served.
        return (StatusCode::FORBIDDEN, "only git's smart HTTP protocol is served\n")
            .into_response();
    };
    let origin = Origin::of(&headers, &peer);
    if let Some(refused) = refusal(&state, &principal, service, &name, &[], &origin).await {
        return refused;
    }
    let protocol = git_protocol(&headers);
    let mut command = git();
    command.arg(service.command()).args(["--stateless-rpc", "--advertise-refs"]).arg(&dir);
    if let Some(protocol) = &protocol {
        command.env("GIT_PROTOCOL", protocol);
    }
    let advertisement = match run(command).await {
        Ok(output) => output.stdout,
        Err(err) => return internal("advertising the refs", err),
    };
    let mut body = Vec::with_capacity(advertisement.len() + 64);
    // Protocol v2 starts with its capabilities; v0/v1 (and every push) with this preamble.
    if service == Service::ReceivePack || !is_v2(protocol.as_deref()) {
        let service_name = format!("git-{}", service.command());
        body.extend_from_slice(pkt_line(&format!("# service={service_name}\n")).as_bytes());
        body.extend_from_slice(b"0000");
    }
    body.extend_from_slice(&advertisement);
    with_git_headers(Response::new(Body::from(body)), service, "advertisement")
}

fn with_git_headers(mut response: Response, service: Service, what: &str) -> Response {
    let content_type = format!("application/x-git-{}-{what}", service.command());
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

async fn upload_pack(
    State(state): State<AppState>,
    peer: Peer,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let origin = Origin::of(&headers, &peer);
    rpc(state, name, Service::UploadPack, headers, body, origin).await
}

async fn receive_pack(
    State(state): State<AppState>,
    peer: Peer,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let origin = Origin::of(&headers, &peer);
    rpc(state, name, Service::ReceivePack, headers, body, origin).await
}

/// Runs one stateless-RPC exchange: the request into git's stdin, git's stdout as the
/// response.
async fn rpc(
    state: AppState,
    name: String,
    service: Service,
    headers: HeaderMap,
    body: Body,
    origin: Origin,
) -> Response {
    let (principal, dir) = match admit(&state, &headers, &name).await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    // A fetch is authorized here; a push once its commands are read, below.
    if service == Service::UploadPack
        && let Some(refused) = refusal(&state, &principal, service, &name, &[], &origin).await
    {
        return refused;
    }
    let user = principal.acting_user();
    let expected = format!("application/x-git-{}-request", service.command());
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|it| it.to_str().ok());
    if content_type != Some(expected.as_str()) {
        return (StatusCode::UNSUPPORTED_MEDIA_TYPE, format!("expected {expected}\n"))
            .into_response();
    }
    let gzip = match headers.get(header::CONTENT_ENCODING).map(HeaderValue::as_bytes) {
        None | Some(b"identity") => false,
        Some(b"gzip" | b"x-gzip") => true,
        Some(_) => {
            return (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported content encoding\n")
                .into_response();
        }
    };
    let mut body = RequestBody::new(body, gzip);
    // A push: its commands first, then its authorization with every ref they move.
    let (head, parsed) = match service {
        Service::ReceivePack => match read_commands(&mut body).await {
            Ok((head, parsed)) => (head, Some(parsed)),
            Err(response) => return response,
        },
        Service::UploadPack => (Vec::new(), None),
    };
    if let Some((commands, capabilities)) = &parsed {
        let references: Vec<&str> = commands.iter().map(|it| it.name.as_str()).collect();
        match denial(&state, &principal, service, &name, &references, &origin).await {
            Ok(None) => {}
            Ok(Some(denied)) => {
                // The client reads the answer once it has sent the whole request.
                while body.next().await.is_some() {}
                return refused_push(commands, capabilities, &denied.message);
            }
            Err(response) => return response,
        }
    }
    // A push to a repository whose rules limit force pushes or deletes runs the hook with a
    // policy for this push, written before git starts.
    let policy = match &parsed {
        Some((commands, _)) => match push_policy(&state, &name, &dir, &user).await {
            Ok(Some(policy)) => {
                policy.write(Some(commands)).await;
                Some(policy)
            }
            Ok(None) => None,
            Err((what, err)) => return internal(what, err),
        },
        None => None,
    };
    let mut command = service_command(service, &dir, policy.as_ref(), true);
    if let Some(protocol) = git_protocol(&headers) {
        command.env("GIT_PROTOCOL", protocol);
    }
    let policy_path = policy.as_ref().map(|it| it.path.clone());
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(err) => return internal(&format!("starting git {}", service.command()), err),
    };
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return internal("starting git", "its pipes are missing");
    };
    // Feeding stdin concurrently with reading stdout: git may write before it has read
    // everything, and a full pipe either way must not stall the other.
    let feeder = tokio::spawn(feed(body, head, stdin));
    let errors = tokio::spawn(read_capped(stderr, 64 << 10));
    let (sender, receiver) = mpsc::channel::<Bytes>(8);
    // The exchange is finished by a task of its own, not by the response body: a push whose
    // client hangs up after git has updated the refs still records its events.
    tokio::spawn(async move {
        let keep = service == Service::ReceivePack;
        let (sender, output) = pump(stdout, sender, keep).await;
        let status = child.wait().await;
        let fed = feeder.await;
        let stderr = errors.await.unwrap_or_default();
        if let Some(path) = policy_path {
            // Absent when the commands never arrived.
            let _ = tokio::fs::remove_file(path).await;
        }
        let succeeded = matches!(&status, Ok(status) if status.success());
        if !succeeded {
            tracing::warn!(
                repository = %name,
                status = ?status,
                stderr = %String::from_utf8_lossy(&stderr).trim(),
                "git {} failed",
                service.command()
            );
        }
        let refused = match (fed, succeeded, parsed) {
            (Ok(()), true, Some(parsed)) => {
                record_push(&state, &name, &user, Some(parsed), output).await
            }
            _ => None,
        };
        let failed = if succeeded {
            refused
        } else {
            Some(("GitFailed", format!("git {} failed", service.command())))
        };
        record_git(&state, &principal, &origin, &name, service == Service::ReceivePack, failed)
            .await;
        // Only now does the response end, so that a client whose push returned can see its
        // events.
        drop(sender);
    });
    let stream = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (Ok::<Bytes, Infallible>(chunk), receiver))
    });
    with_git_headers(Response::new(Body::from_stream(stream)), service, "result")
}

/// A bundle of the repository's refs and the commit `commit` (a full object id), for an
/// agent's source. A failure after the first bytes ends the response with an error, so the
/// client never takes a truncated bundle for a whole one.
async fn bundle(
    State(state): State<AppState>,
    peer: Peer,
    UrlPath(name): UrlPath<String>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let (principal, dir) = match admit(&state, &headers, &name).await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let origin = Origin::of(&headers, &peer);
    if let Some(refused) =
        refusal(&state, &principal, Service::UploadPack, &name, &[], &origin).await
    {
        return refused;
    }
    record_git(&state, &principal, &origin, &name, false, None).await;
    let commit = query.iter().find(|(k, _)| k == "commit").map(|(_, v)| v.as_str());
    let Some(commit) = commit.filter(|it| is_object_id(it)) else {
        return (StatusCode::BAD_REQUEST, "commit must be a full object id\n").into_response();
    };
    let mut command = git();
    command
        .arg("--git-dir")
        .arg(&dir)
        .args(["bundle", "create", "--quiet", "-", "--all", commit])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(err) => return internal("starting git bundle", err),
    };
    let (Some(mut stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return internal("starting git bundle", "its pipes are missing");
    };
    let errors = tokio::spawn(read_capped(stderr, 64 << 10));
    let (sender, receiver) = mpsc::channel::<std::io::Result<Bytes>>(8);
    tokio::spawn(async move {
        let mut buffer = vec![0u8; 64 << 10];
        loop {
            match stdout.read(&mut buffer).await {
                Ok(0) => break,
                Ok(read) => {
                    let chunk = Bytes::copy_from_slice(&buffer[..read]);
                    if sender.send(Ok(chunk)).await.is_err() {
                        // The client went away; dropping the child kills git.
                        return;
                    }
                }
                Err(err) => {
                    let _ = sender.send(Err(err)).await;
                    return;
                }
            }
        }
        let status = child.wait().await;
        if !matches!(&status, Ok(status) if status.success()) {
            let stderr = errors.await.unwrap_or_default();
            let stderr = String::from_utf8_lossy(&stderr);
            tracing::warn!(repository = %name, ?status, stderr = %stderr.trim(), "git bundle failed");
            let _ = sender.send(Err(std::io::Error::other("git bundle failed"))).await;
        }
    });
    let stream = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    let mut response = Response::new(Body::from_stream(stream));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-git-bundle"));
    response
}

/// 40 (SHA-1) or 64 (SHA-256) lower-case hex digits.
fn is_object_id(text: &str) -> bool {
    matches!(text.len(), 40 | 64) && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `git upload-pack` or `git receive-pack` on `dir` with its pipes, and for a push the
/// branch protection hook's policy (`policy`; without one the hook is not even started):
/// the one git program of git over HTTP (`stateless`, `--stateless-rpc`) and git over SSH
/// (git's plain bidirectional protocol).
pub(crate) fn service_command(
    service: Service,
    dir: &Path,
    policy: Option<&PushPolicy>,
    stateless: bool,
) -> tokio::process::Command {
    let mut command = git();
    if service == Service::ReceivePack && policy.is_none() {
        // Nothing protected: the hook would let everything through, so it is not even started
        // (our `pre-receive` is the only hook a repository has).
        command.args(["-c", "core.hooksPath=/dev/null"]);
    }
    command.arg(service.command());
    if stateless {
        command.arg("--stateless-rpc");
    }
    command.arg(dir).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    match policy {
        Some(policy) => command.env(protection::POLICY_ENV, &policy.path),
        // Nothing protected: the hook lets everything through without it.
        None => command.env_remove(protection::POLICY_ENV),
    };
    command
}

/// The policy for `user`'s push to `name` (in `dir`), with the hook installed, when the
/// repository's rules limit force pushes or deletes (which only the hook can tell); `None`
/// otherwise. An error is what failed and why.
pub(crate) async fn push_policy(
    state: &AppState,
    name: &str,
    dir: &Path,
    user: &str,
) -> Result<Option<PushPolicy>, (&'static str, String)> {
    let rules = match protection::rules(state.codecommit(), name).await {
        Ok(rules) => rules,
        Err(err) => return Err(("reading the branch protection rules", err.to_string())),
    };
    if !protection::needs_hook(&rules) {
        return Ok(None);
    }
    if let Err(err) = protection::install_hook(dir).await {
        return Err(("installing the branch protection hook", err.to_string()));
    }
    match PushPolicy::new(dir, rules, user) {
        Ok(policy) => Ok(Some(policy)),
        Err(err) => Err(("preparing the branch protection policy", err.to_string())),
    }
}

/// How much of a push's request may come before the end of its commands (a command is about
/// a hundred bytes: this is some hundred thousand refs).
pub(crate) const MAX_COMMANDS_BYTES: usize = 32 << 20;

/// The start of a push's request up to the end of its commands (and whatever else came with
/// them), and the commands and capabilities read from it; the refusal when they cannot be
/// read: a push whose ref updates are unknown cannot be authorized, so it is refused whole.
async fn read_commands(
    body: &mut RequestBody,
) -> Result<(Vec<u8>, (Vec<RefCommand>, Vec<String>)), Response> {
    let mut parser = CommandParser::new();
    let mut head = Vec::new();
    while !parser.is_done() && head.len() <= MAX_COMMANDS_BYTES {
        let Some(data) = body.next().await else { break };
        parser.feed(&data);
        head.extend_from_slice(&data);
    }
    match parser.finish() {
        Some(parsed) => Ok((head, parsed)),
        None => {
            Err((StatusCode::BAD_REQUEST, "the push's ref updates could not be read\n")
                .into_response())
        }
    }
}

/// A request's body as git reads it: gunzipped when it is gzipped (git gzips large fetch
/// negotiations), a few KiB of the compressed bytes at a time, so that what one piece
/// inflates to stays small (deflate expands at most about a thousandfold).
struct RequestBody {
    chunks: axum::body::BodyDataStream,
    decoder: Option<flate2::write::MultiGzDecoder<Vec<u8>>>,
    /// The compressed chunk being inflated, and how much of it has been.
    compressed: Bytes,
    at: usize,
}

impl RequestBody {
    fn new(body: Body, gzip: bool) -> RequestBody {
        RequestBody {
            chunks: body.into_data_stream(),
            decoder: gzip.then(|| flate2::write::MultiGzDecoder::new(Vec::new())),
            compressed: Bytes::new(),
            at: 0,
        }
    }

    /// The next bytes of the request; `None` at its end, or when the client went away or
    /// sent what does not gunzip (git then sees the request end early, and fails).
    async fn next(&mut self) -> Option<Bytes> {
        loop {
            let Some(decoder) = &mut self.decoder else {
                return self.next_chunk().await;
            };
            if self.at < self.compressed.len() {
                let end = (self.at + (4 << 10)).min(self.compressed.len());
                if let Err(err) = decoder.write_all(&self.compressed[self.at..end]) {
                    tracing::debug!(%err, "gunzipping a git request");
                    self.decoder = None;
                    self.chunks = Body::empty().into_data_stream();
                    return None;
                }
                self.at = end;
                let data = std::mem::take(decoder.get_mut());
                if !data.is_empty() {
                    return Some(Bytes::from(data));
                }
                continue;
            }
            match self.next_chunk().await {
                Some(chunk) => (self.compressed, self.at) = (chunk, 0),
                None => {
                    let decoder = self.decoder.take()?;
                    return match decoder.finish() {
                        Ok(rest) if !rest.is_empty() => Some(Bytes::from(rest)),
                        Ok(_) => None,
                        Err(err) => {
                            tracing::debug!(%err, "gunzipping a git request");
                            None
                        }
                    };
                }
            }
        }
    }

    /// The next chunk as received.
    async fn next_chunk(&mut self) -> Option<Bytes> {
        match self.chunks.next().await? {
            Ok(chunk) => Some(chunk),
            Err(err) => {
                // The client went away: git sees the request end early and fails.
                tracing::debug!(%err, "reading a git request");
                self.chunks = Body::empty().into_data_stream();
                None
            }
        }
    }
}

/// Copies the request into git's stdin: `head`, what was read of it already, then the rest.
async fn feed(mut body: RequestBody, head: Vec<u8>, mut stdin: ChildStdin) {
    if !head.is_empty() && stdin.write_all(&head).await.is_err() {
        return;
    }
    while let Some(data) = body.next().await {
        if stdin.write_all(&data).await.is_err() {
            // git stopped reading: it has what it wanted, or it failed and says so.
            return;
        }
    }
}

/// Sends git's stdout to the response. With `keep` (a push), it also keeps a copy to read
/// git's report from, and goes on reading after the client has gone so that git can finish.
async fn pump(
    mut stdout: ChildStdout,
    sender: mpsc::Sender<Bytes>,
    keep: bool,
) -> (Option<mpsc::Sender<Bytes>>, Option<Vec<u8>>) {
    let mut sender = Some(sender);
    let mut kept = keep.then(Vec::new);
    let mut buffer = vec![0u8; 64 << 10];
    loop {
        let read = match stdout.read(&mut buffer).await {
            Ok(0) => break,
            Ok(read) => read,
            Err(err) => {
                tracing::debug!(%err, "reading git's output");
                break;
            }
        };
        let chunk = Bytes::copy_from_slice(&buffer[..read]);
        if let Some(copy) = &mut kept {
            if copy.len() + chunk.len() <= MAX_REPORT_BYTES {
                copy.extend_from_slice(&chunk);
            } else {
                kept = None;
            }
        }
        if let Some(open) = &sender
            && open.send(chunk).await.is_err()
        {
            sender = None;
            if !keep {
                break;
            }
        }
    }
    (sender, kept)
}

/// Up to `limit` bytes of `reader`, reading (and dropping) the rest so the writer never
/// blocks.
async fn read_capped(mut reader: impl AsyncRead + Unpin, limit: usize) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buffer = vec![0u8; 8 << 10];
    loop {
        match reader.read(&mut buffer).await {
            Ok(0) | Err(_) => return kept,
            Ok(read) => {
                let room = limit.saturating_sub(kept.len());
                kept.extend_from_slice(&buffer[..read.min(room)]);
            }
        }
    }
}

/// Records the ref events of a push git has finished: what git reported, read from its
/// output, and the crate records what was applied. Git over SSH records its pushes here too.
/// The answer is the push's outcome for the audit trail when git refused a ref update
/// ([`push_refusal`]).
pub(crate) async fn record_push(
    state: &AppState,
    repo: &str,
    user: &str,
    parsed: Option<(Vec<RefCommand>, Vec<String>)>,
    output: Option<Vec<u8>>,
) -> Option<(&'static str, String)> {
    let Some((commands, capabilities)) = parsed else {
        tracing::warn!(repository = %repo, "a push's commands could not be read: no ref events");
        return None;
    };
    if commands.is_empty() {
        return None;
    }
    let has = |name: &str| capabilities.iter().any(|it| it == name);
    let sideband = has("side-band-64k") || has("side-band");
    let statuses = (has("report-status") || has("report-status-v2"))
        .then(|| output.and_then(|it| pkt::parse_report(&it, sideband)))
        .flatten();
    let refusal = statuses.as_deref().and_then(push_refusal);
    let reported: Option<Vec<String>> = statuses
        .map(|statuses| statuses.into_iter().filter(|it| it.ok).map(|it| it.name).collect());
    let ctx = state.codecommit();
    codecommit::refs::record_push(ctx, repo, user, &commands, reported.as_deref()).await;
    refusal
}

/// The error a push's event carries when receive-pack refused any of its ref updates: its
/// `ng <ref> <reason>` report lines, as `AccessDenied` when the `pre-receive` hook (branch
/// protection) refused them all, `RefUpdateFailed` otherwise. `None` when every update was
/// done.
pub(crate) fn push_refusal(statuses: &[pkt::RefStatus]) -> Option<(&'static str, String)> {
    let refused: Vec<&pkt::RefStatus> = statuses.iter().filter(|it| !it.ok).collect();
    if refused.is_empty() {
        return None;
    }
    let by_hook = refused.iter().all(|it| it.reason == HOOK_DECLINED);
    let code = if by_hook { "AccessDenied" } else { "RefUpdateFailed" };
    let lines: Vec<String> = refused
        .iter()
        .map(|it| format!("ng {} {}", it.name, it.reason).trim_end().to_owned())
        .collect();
    Some((code, lines.join("; ")))
}

/// receive-pack's reason for the updates its `pre-receive` hook refused.
const HOOK_DECLINED: &str = "pre-receive hook declined";

#[cfg(test)]
mod tests;
