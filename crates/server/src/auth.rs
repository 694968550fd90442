//! Who is calling, and what they may do: the one authentication path and the one
//! authorization decision of every route.
//!
//! [`authenticate`] turns a request's parts and the kind of route it reached into a
//! [`Principal`] — a user (with how they signed in), an agent, or a build's git token acting
//! as its project's service role — or an [`AuthError`]. No other code decides who a caller
//! is: the credential stores (access keys and git credentials in `iam`'s `Identity`, agent and
//! build tokens in `agent_api`, console sessions in `console::session`) only look credentials
//! up. [`authorize`] then decides whether that principal may do what a request asks — its
//! [`RequestFacts`] ([`facts`]): AWS's action, every resource it names, its condition keys;
//! every operation calls it once (the AWS dispatch table, the git routes, the logs and the
//! console's calls into the services; the agent API through [`authorize_agent_api`]), and
//! each route answers a refusal in its own protocol's shape.

use std::sync::Arc;

use axum::http::{HeaderMap, Method, Uri};
use iam::sessions::{ActsAs, Session};
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::git::auth as git_auth;
use awsapi::sigv4::{self, SignatureError, SignedRequest};

pub(crate) mod facts;
pub(crate) use facts::RequestFacts;

#[cfg(test)]
pub(crate) mod tests;

/// Who made a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Principal {
    /// A user of this installation, and how they signed in. `user_id` is the user's unique id
    /// (`AIDA…`, as GetUser names it) as authentication found it (from the access key cache or
    /// the user's cached policies: what the audit trail records as `principalId`); a role's
    /// session's name is `<role>/<session>` and its id empty (the session has its own).
    User { name: String, user_id: Arc<str>, via: SignIn },
    /// An agent, by its token's name; the token's hash binds it to the agents it registered.
    Agent { name: String, token_hash: String },
    /// A build's own git token (`git-credential-helper: yes`), acting as the build's service
    /// role (`service_role`, a role name or ARN: its policies decide what the token reaches)
    /// while the build runs on the agent that leased it; git records the user who started
    /// the build (`initiator`) as the pusher.
    Build { build_id: String, initiator: String, service_role: String },
}

/// How a user signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SignIn {
    /// An AWS API request signed with SigV4 by this access key.
    SigV4 { access_key_id: String },
    /// The git password `aws codecommit credential-helper` derives from this access key.
    GitHelper { access_key_id: String },
    /// HTTPS git credentials (`slipway git-credentials create`) under this git user name.
    GitCredentials { git_user_name: String },
    /// A console session; its anti-forgery token, which the session's forms carry.
    ConsoleSession { csrf: String },
    /// An access key as HTTP Basic credentials, for build logs.
    LogsAccessKey { access_key_id: String },
    /// Git over SSH with the IAM SSH public key of this id (the SSH user name, `APKA…`).
    Ssh { ssh_public_key_id: String },
    /// STS temporary credentials (`ASIA…`) with their session token: an AWS API request
    /// signed with them, or the credential helper's git password derived from them (its user
    /// name `<key id>%<token>`). A role's session (the principal's name is then
    /// `<role>/<session>`, as CodeBuild names such an initiator) or a user's (GetSessionToken;
    /// the name is the user's).
    Session { access_key_id: String, session: Arc<Session> },
}

impl Principal {
    /// The user a principal acts as (what git records as the pusher, what the services see):
    /// a user's name, `agent:<name>` for an agent, the initiator for a build token.
    pub(crate) fn acting_user(&self) -> String {
        match self {
            Principal::User { name, .. } => name.clone(),
            Principal::Agent { name, .. } => format!("{}{name}", git_auth::AGENT_USER_PREFIX),
            Principal::Build { initiator, .. } => initiator.clone(),
        }
    }

    fn describe(&self) -> String {
        match self {
            Principal::User { name, .. } => format!("User: {name}"),
            Principal::Agent { name, .. } => format!("Agent: {name}"),
            Principal::Build { build_id, .. } => format!("Build token of {build_id}"),
        }
    }
}

/// The kind of route a request reached, which decides the credentials it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route<'a> {
    /// `POST /`: SigV4 for this signing name (`codebuild`, `sts`, …) and the server's region.
    Aws { signing_name: &'a str },
    /// Git smart HTTP and bundles of this repository: an agent's or a build's bearer token,
    /// or HTTP Basic (git credentials, or the credential helper's SigV4 password).
    Git { repository: &'a str },
    /// The agent API: an agent's bearer token.
    Agent,
    /// Build logs: an access key as HTTP Basic credentials.
    Logs,
    /// The console: the session cookie.
    Console,
}

/// The parts of a request authentication reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestParts<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) query: &'a str,
    pub(crate) headers: &'a HeaderMap,
    /// The body as received: SigV4 signs its SHA-256. Empty for routes that do not sign it.
    pub(crate) body: &'a [u8],
}

impl<'a> RequestParts<'a> {
    pub(crate) fn new(
        method: &'a Method,
        uri: &'a Uri,
        headers: &'a HeaderMap,
        body: &'a [u8],
    ) -> RequestParts<'a> {
        RequestParts {
            method: method.as_str(),
            path: uri.path(),
            query: uri.query().unwrap_or_default(),
            headers,
            body,
        }
    }

    /// A request whose credentials are all in its headers (bearer tokens, HTTP Basic, the
    /// session cookie).
    pub(crate) fn headers(headers: &'a HeaderMap) -> RequestParts<'a> {
        RequestParts { method: "GET", path: "/", query: "", headers, body: &[] }
    }
}

/// Why a request has no principal.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AuthError {
    /// No credentials of the kind the route takes.
    #[error("missing credentials")]
    Missing,
    /// Credentials that are unknown, wrong, expired or ill-formed.
    #[error("invalid credentials: {0}")]
    Invalid(&'static str),
    /// An AWS request's signature did not verify; AWS's own error.
    #[error(transparent)]
    Signature(SignatureError),
    /// The credentials could not be looked up.
    #[error("looking up credentials: {0}")]
    Internal(String),
}

fn internal(err: impl std::fmt::Display) -> AuthError {
    AuthError::Internal(err.to_string())
}

/// Turns a request into its principal: the one place that decides who a caller is.
pub(crate) async fn authenticate(
    state: &AppState,
    route: Route<'_>,
    request: &RequestParts<'_>,
) -> Result<Principal, AuthError> {
    match route {
        Route::Aws { signing_name } => sigv4_user(state, signing_name, request).await,
        Route::Git { repository } => git_principal(state, repository, request.headers).await,
        Route::Agent => {
            let token = bearer(request.headers).ok_or(AuthError::Missing)?;
            agent_token(state, token).await?.ok_or(AuthError::Invalid("unknown agent token"))
        }
        Route::Logs => logs_user(state, request.headers).await,
        Route::Console => console_user(state, request.headers).await,
    }
}

/// The token of `Authorization: Bearer …`.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|it| it.to_str().ok())
        .and_then(|it| it.strip_prefix("Bearer "))
}

async fn sigv4_user(
    state: &AppState,
    service: &str,
    request: &RequestParts<'_>,
) -> Result<Principal, AuthError> {
    let pairs = header_pairs(request.headers);
    let signed = SignedRequest {
        method: request.method,
        path: request.path,
        query: request.query,
        headers: &pairs,
        body: request.body,
    };
    // The secret is looked up first (asynchronously); the verifier itself is pure.
    let now_ms = engine::clock::now_ms();
    let key_id = sigv4_key_id(&pairs);
    if let Some(id) = key_id.filter(|id| id.starts_with(SESSION_KEY_PREFIX)) {
        let session = token_session(state, id, &pairs, request.query, now_ms).await?;
        let secret = session.as_ref().map(|session| session.secret.clone());
        let signer = sigv4::verify(&signed, service, &state.region, now_ms / 1000, |_| secret)
            .map_err(AuthError::Signature)?;
        return session_principal(session, signer.access_key_id, now_ms);
    }
    let found = match key_id {
        Some(id) => state.identity.secret(id, now_ms).await.map_err(internal)?,
        None => None,
    };
    let (name, user_id) = key_user(found.as_ref());
    let signer = sigv4::verify(&signed, service, &state.region, now_ms / 1000, |_| {
        found.map(|key| key.secret)
    })
    .map_err(AuthError::Signature)?;
    let via = SignIn::SigV4 { access_key_id: signer.access_key_id };
    Ok(Principal::User { name, user_id, via })
}

/// An S3 request's principal (`aws::s3`, the S3 API), and what its signature says of the
/// body, which the caller streams and checks: signed in the `Authorization` header or
/// presigned in the query, by an access key or by a session's temporary key (its token in
/// `X-Amz-Security-Token`, a header or the presigned URL's parameter), as [`sigv4_user`]
/// takes them.
pub(crate) async fn s3_user(
    state: &AppState,
    request: &RequestParts<'_>,
) -> Result<(Principal, sigv4::s3::S3Signed), AuthError> {
    let pairs = header_pairs(request.headers);
    let s3_request = sigv4::s3::S3Request {
        method: request.method,
        path: request.path,
        query: request.query,
        headers: &pairs,
    };
    let now_ms = engine::clock::now_ms();
    let key_id =
        sigv4_key_id(&pairs).map(str::to_owned).or_else(|| presigned_key_id(request.query));
    let Some(key_id) = key_id else {
        // No key to look up: the verifier says what is missing or malformed.
        let refused =
            sigv4::s3::verify(&s3_request, &state.region, now_ms / 1000, |_| None::<String>)
                .err()
                .unwrap_or(SignatureError::UnknownKey);
        return Err(AuthError::Signature(refused));
    };
    if key_id.starts_with(SESSION_KEY_PREFIX) {
        let session = token_session(state, &key_id, &pairs, request.query, now_ms).await?;
        let secret = session.as_ref().map(|session| session.secret.clone());
        let signed = sigv4::s3::verify(&s3_request, &state.region, now_ms / 1000, |_| secret)
            .map_err(AuthError::Signature)?;
        let principal = session_principal(session, signed.signer.access_key_id.clone(), now_ms)?;
        return Ok((principal, signed));
    }
    let found = state.identity.secret(&key_id, now_ms).await.map_err(internal)?;
    let (name, user_id) = key_user(found.as_ref());
    let signed = sigv4::s3::verify(&s3_request, &state.region, now_ms / 1000, |_| {
        found.map(|key| key.secret)
    })
    .map_err(AuthError::Signature)?;
    let via = SignIn::SigV4 { access_key_id: signed.signer.access_key_id.clone() };
    Ok((Principal::User { name, user_id, via }, signed))
}

/// A request's headers as the verifiers take them: names lower-case, values that are text.
fn header_pairs(headers: &HeaderMap) -> Vec<(&str, &str)> {
    headers.iter().filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?))).collect()
}

/// The user an access key found for a signature belongs to, by name and unique id; both
/// empty when no key was found (the verifier then refuses the request).
fn key_user(found: Option<&iam::identity::ActiveKey>) -> (String, Arc<str>) {
    match found {
        Some(key) => (key.user.to_string(), key.user_id.clone()),
        None => (String::new(), "".into()),
    }
}

/// The access key id a presigned URL's `X-Amz-Credential` names.
fn presigned_key_id(query: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == "X-Amz-Credential")
        .and_then(|(_, value)| value.split('/').next().map(str::to_owned))
}

/// How STS's temporary access key ids begin.
const SESSION_KEY_PREFIX: &str = "ASIA";

/// The session of the temporary access key `id`, if the request carries its token
/// (`X-Amz-Security-Token`, a header or a presigned URL's parameter): without it the key is
/// unknown, and the verifier, given no secret, refuses the request
/// (`UnrecognizedClientException`, S3's `InvalidAccessKeyId`).
async fn token_session(
    state: &AppState,
    id: &str,
    headers: &[(&str, &str)],
    query: &str,
    now_ms: i64,
) -> Result<Option<Arc<Session>>, AuthError> {
    let token = security_token(headers, query);
    Ok(state
        .identity
        .session(id, now_ms)
        .await
        .map_err(internal)?
        .filter(|session| token.as_deref().is_some_and(|token| session.token_matches(token))))
}

/// The principal of a request whose signature held with `session`'s secret; a session that
/// has ended is refused with `ExpiredToken` once the signature holds.
fn session_principal(
    session: Option<Arc<Session>>,
    access_key_id: String,
    now_ms: i64,
) -> Result<Principal, AuthError> {
    let Some(session) = session else {
        return Err(AuthError::Signature(SignatureError::UnknownKey));
    };
    if session.expired(now_ms) {
        return Err(AuthError::Signature(SignatureError::ExpiredToken));
    }
    Ok(Principal::User {
        name: session_name(&session),
        user_id: session_user_id(&session),
        via: SignIn::Session { access_key_id, session },
    })
}

/// The user id of a session's principal: a user's session's user's (`AIDA…`); none for a
/// role's (its own id is `AROA…:<session>`, in the session).
fn session_user_id(session: &Session) -> Arc<str> {
    match &session.acts_as {
        ActsAs::User { user_id, .. } => user_id.as_str().into(),
        ActsAs::Role { .. } => "".into(),
    }
}

/// The name a session's principal acts under: `<role>/<session>` for a role's, the user's
/// for a user's.
fn session_name(session: &Session) -> String {
    match &session.acts_as {
        ActsAs::Role { role_name, session_name, .. } => format!("{role_name}/{session_name}"),
        ActsAs::User { user_name, .. } => user_name.clone(),
    }
}

/// The session token a request carries: the `X-Amz-Security-Token` header, or the query
/// parameter of that name (presigned URLs).
fn security_token(headers: &[(&str, &str)], query: &str) -> Option<String> {
    if let Some((_, value)) = headers.iter().find(|(k, _)| *k == "x-amz-security-token") {
        return Some((*value).to_owned());
    }
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == "X-Amz-Security-Token")
        .map(|(_, value)| value.into_owned())
}

/// The access key id named in the `Authorization` header, if any.
fn sigv4_key_id<'a>(headers: &[(&str, &'a str)]) -> Option<&'a str> {
    let value = headers.iter().find(|(k, _)| *k == "authorization")?.1;
    let start = value.find("Credential=")? + "Credential=".len();
    value[start..].split('/').next()
}

/// How far the time in a credential-helper password may be from the server's clock, as for
/// any SigV4 signature.
const MAX_SKEW_SECONDS: i64 = 15 * 60;

async fn git_principal(
    state: &AppState,
    repo: &str,
    headers: &HeaderMap,
) -> Result<Principal, AuthError> {
    // An agent fetching a build's source, or a build's git commands, authenticate with a
    // bearer token.
    if let Some(token) = bearer(headers) {
        match agent_token(state, token).await {
            Ok(Some(agent)) => return Ok(agent),
            Ok(None) => {}
            Err(err) => tracing::error!(%err, "looking up an agent token"),
        }
        // A build's own token acts as its service role, while the build runs.
        return match crate::agent_api::build_token_holder(state, token).await {
            Some(holder) => Ok(Principal::Build {
                build_id: holder.build_id,
                initiator: holder.initiator,
                service_role: holder.service_role,
            }),
            None => Err(AuthError::Invalid("unknown or ended build token")),
        };
    }
    let (user_name, password) = git_auth::basic_credentials(headers).ok_or(AuthError::Missing)?;
    if let Some(claimed) = git_auth::split_codecommit_password(&password) {
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|it| it.to_str().ok())
            .ok_or(AuthError::Invalid("no Host header to check the signature against"))?;
        let now_ms = engine::clock::now_ms();
        if (now_ms.div_euclid(1000) - claimed.seconds).abs() > MAX_SKEW_SECONDS {
            return Err(AuthError::Invalid("the password's time is too far from now"));
        }
        // Temporary credentials: the helper's user name carries the session token.
        let session = match git_auth::session_credentials(&user_name) {
            Some((key_id, token)) => {
                let session = state
                    .identity
                    .session(key_id, now_ms)
                    .await
                    .map_err(internal)?
                    .filter(|session| session.token_matches(token))
                    .ok_or(AuthError::Invalid("unknown session or wrong session token"))?;
                if session.expired(now_ms) {
                    return Err(AuthError::Invalid("the session has expired"));
                }
                Some(session)
            }
            None => None,
        };
        let (access_key_id, key) = match &session {
            Some(session) => {
                let key = iam::identity::ActiveKey {
                    user: session_name(session).into(),
                    user_id: session_user_id(session),
                    secret: session.secret.clone(),
                };
                (session.access_key_id.clone(), key)
            }
            None => {
                let access_key_id = git_auth::access_key_id(&user_name)
                    .ok_or(AuthError::Invalid("the user name is not an access key id"))?;
                let key = state
                    .identity
                    .secret(&access_key_id, now_ms)
                    .await
                    .map_err(internal)?
                    .ok_or(AuthError::Invalid("unknown access key"))?;
                (access_key_id, key)
            }
        };
        // The helper signs for the client's configured region; the server serves one region,
        // as its API does (a password signed for another is refused like a request would be).
        let path = format!("/v1/repos/{repo}");
        let expected = git_auth::codecommit_signature(
            &key.secret,
            &state.region,
            claimed.timestamp,
            git_auth::host_name(host),
            &path,
        );
        if !bool::from(expected.as_bytes().ct_eq(claimed.signature.as_bytes())) {
            return Err(AuthError::Invalid("the signature does not match"));
        }
        let name = key.user.to_string();
        let via = match session {
            Some(session) => SignIn::Session { access_key_id, session },
            None => SignIn::GitHelper { access_key_id },
        };
        return Ok(Principal::User { name, user_id: key.user_id, via });
    }
    let user = state
        .identity
        .check_git_credentials(&user_name, &password)
        .await
        .map_err(internal)?
        .ok_or(AuthError::Invalid("unknown or wrong git credentials"))?;
    let user_id = state.identity.user_id(&user, engine::clock::now_ms()).await;
    let via = SignIn::GitCredentials { git_user_name: user_name };
    Ok(Principal::User { name: user, user_id, via })
}

/// Git over SSH's sign-in: the SSH user name is the id of an IAM SSH public key, and the key
/// the client proved it holds (`offered`, its SSH wire blob) must be that key, byte for byte,
/// and Active; the principal is the key's user. Every refusal is the same, so that a client
/// learns nothing of which ids exist.
pub(crate) async fn ssh_user(
    state: &AppState,
    ssh_public_key_id: &str,
    offered: &[u8],
) -> Result<Principal, AuthError> {
    let key = state.identity.ssh_key(ssh_public_key_id).await.map_err(internal)?;
    match key {
        Some(key) if ssh_key_admits(&key, offered) => {
            let user_id = state.identity.user_id(&key.user, engine::clock::now_ms()).await;
            let via = SignIn::Ssh { ssh_public_key_id: key.id };
            Ok(Principal::User { name: key.user, user_id, via })
        }
        _ => Err(AuthError::Invalid("unknown, inactive or other SSH public key")),
    }
}

/// Whether the stored key `key` lets in a client that holds the key `offered` (its SSH wire
/// blob): the same key, and Active.
pub(crate) fn ssh_key_admits(key: &iam::ssh_keys::SshKey, offered: &[u8]) -> bool {
    key.active && bool::from(key.key.blob.as_slice().ct_eq(offered))
}

/// The agent an agent token names, when the token is valid.
async fn agent_token(state: &AppState, token: &str) -> Result<Option<Principal>, AuthError> {
    let found = crate::agent_api::agent_token(state, token).await.map_err(internal)?;
    Ok(found.map(|(name, token_hash)| Principal::Agent { name, token_hash }))
}

/// `Authorization: Basic base64(access-key-id:secret)`.
async fn logs_user(state: &AppState, headers: &HeaderMap) -> Result<Principal, AuthError> {
    let encoded = headers
        .get("authorization")
        .and_then(|it| it.to_str().ok())
        .and_then(|it| it.strip_prefix("Basic "))
        .ok_or(AuthError::Missing)?;
    let decoded = crate::base64_codec::decode(encoded.trim())
        .and_then(|it| String::from_utf8(it).ok())
        .ok_or(AuthError::Invalid("the credentials are not base64 text"))?;
    let (key, secret) =
        decoded.split_once(':').ok_or(AuthError::Invalid("the credentials have no ':'"))?;
    let found = state
        .identity
        .secret(key, engine::clock::now_ms())
        .await
        .map_err(internal)?
        .ok_or(AuthError::Invalid("unknown access key"))?;
    if !bool::from(found.secret.as_bytes().ct_eq(secret.as_bytes())) {
        return Err(AuthError::Invalid("wrong secret access key"));
    }
    Ok(Principal::User {
        name: found.user.to_string(),
        user_id: found.user_id,
        via: SignIn::LogsAccessKey { access_key_id: key.to_owned() },
    })
}

async fn console_user(state: &AppState, headers: &HeaderMap) -> Result<Principal, AuthError> {
    let session =
        crate::console::session::from_request(&state.store, headers, engine::clock::now_ms())
            .await
            .map_err(internal)?
            .ok_or(AuthError::Missing)?;
    let user_id = state.identity.user_id(&session.user, engine::clock::now_ms()).await;
    let via = SignIn::ConsoleSession { csrf: session.csrf };
    Ok(Principal::User { name: session.user, user_id, via })
}

/// Git's actions, as IAM names them (what [`facts::git_request`] takes from the catalog;
/// the decision below tells them apart).
pub(crate) const GIT_PULL: &str = "codecommit:GitPull";
pub(crate) const GIT_PUSH: &str = "codecommit:GitPush";
/// The agent API's actions (ours: AWS has no agents). Only agents perform them.
pub(crate) const AGENT_REGISTER: &str = "slipway-agent:Register";
pub(crate) const AGENT_LEASE: &str = "slipway-agent:Lease";
pub(crate) const AGENT_HEARTBEAT: &str = "slipway-agent:Heartbeat";
pub(crate) const AGENT_EVENTS: &str = "slipway-agent:ReportEvents";
pub(crate) const AGENT_UPLOAD_ARTIFACT: &str = "slipway-agent:UploadArtifact";
pub(crate) const AGENT_UPLOAD_REPORT: &str = "slipway-agent:UploadReport";
pub(crate) const AGENT_FINISH: &str = "slipway-agent:Finish";

const AGENT_ACTION_PREFIX: &str = "slipway-agent:";

/// What an action is performed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resource<'a> {
    /// An AWS resource by its ARN (`*` for an operation that names no one resource).
    Arn(&'a str),
    /// The agent API as a whole (registering, or a call that names no agent).
    Agents,
    /// One registered agent, with the hash of the token that registered it.
    Agent { id: &'a str, registered_with: &'a str },
}

impl std::fmt::Display for Resource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Resource::Arn(arn) => f.write_str(arn),
            Resource::Agents => f.write_str("agents"),
            Resource::Agent { id, .. } => write!(f, "agent {id}"),
        }
    }
}

/// A refusal: the principal may not perform the action on the resource.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub(crate) struct Denied {
    pub(crate) message: String,
}

/// Whether `principal` may do what a request asks: its action on EVERY resource it names,
/// with its condition keys. A request with one resource the principal may not reach is
/// refused whole, naming that resource. The one authorization decision of every operation
/// but the agent API's ([`authorize_agent_api`]).
///
/// A user may do what their IAM policies allow ([`authorize_request`]), and never the agent
/// API; agents keep their fixed rules ([`fixed_rules`]); a build token only git, as far as
/// its build's service role allows.
pub(crate) async fn authorize(
    state: &AppState,
    principal: &Principal,
    facts: &RequestFacts,
) -> Result<(), Denied> {
    let any = ["*".to_owned()];
    let resources = if facts.resources.is_empty() { &any[..] } else { &facts.resources[..] };
    authorize_request(state, principal, &facts.action, resources, &facts.context).await
}

/// Whether `principal` may perform one of the agent API's actions on `resource` (the agent
/// API as a whole, or one registered agent).
pub(crate) fn authorize_agent_api(
    principal: &Principal,
    action: &str,
    resource: &Resource<'_>,
) -> Result<(), Denied> {
    fixed_rules(principal, action, resource)
}

/// [`authorize`]'s decision for an action on several resources (every one must be allowed) with
/// the request's own context keys (`codecommit:References`, and `aws:SourceIp` and
/// `aws:SecureTransport` from how it arrived, `facts::Arrival`) besides those every
/// request has: for a user, their identity policies (their own and their groups',
/// `iam::effective`, cached) evaluated with `aws:username`, `aws:userid`, `aws:PrincipalArn`,
/// `aws:PrincipalAccount`, `aws:CurrentTime`, `aws:EpochTime`, `aws:SecureTransport`
/// (`false` unless the request says otherwise: the server itself speaks plain HTTP),
/// `aws:MultiFactorAuthPresent` (`false`) and, only when one of the policies tests an
/// `aws:ResourceTag/<key>` (so that no other request reads more of the store), each
/// resource's tags ([`resource_tags`]); the refusal is AWS's message; a request that moves a branch (it sets
/// `codecommit:References`) meets the branch protection policy read afresh
/// ([`fresh_branch_protection`]). Agents: [`fixed_rules`], on each resource. Build tokens:
/// [`fixed_rules`], then their service role's policies with the same keys
/// ([`authorize_build`]), and a build token's push also meets branch protection, as its
/// initiator ([`branch_protection`]).
pub(crate) async fn authorize_request(
    state: &AppState,
    principal: &Principal,
    action: &str,
    resources: &[String],
    context: &[(String, Vec<String>)],
) -> Result<(), Denied> {
    let Principal::User { name, via, .. } = principal else {
        for resource in resources {
            fixed_rules(principal, action, &Resource::Arn(resource))?;
        }
        if let Principal::Build { service_role, initiator, .. } = principal {
            authorize_build(state, service_role, action, resources, context).await?;
            return branch_protection(state, initiator, action, resources, context).await;
        }
        return Ok(());
    };
    if action.starts_with(AGENT_ACTION_PREFIX) {
        let resource = resources.first().map(String::as_str).unwrap_or("*");
        return fixed_rules(principal, action, &Resource::Arn(resource));
    }
    let now_ms = engine::clock::now_ms();
    // A session acts with its role's or its user's policies (and its own session policy).
    let session = match via {
        SignIn::Session { session, .. } => Some(&**session),
        _ => None,
    };
    let session_principal = session.and_then(|it| it.principal.as_ref());
    let refused = |resource: &str| Denied {
        message: iam::policy::refusal_message(
            &session_principal.map_or_else(|| user_arn(state, name), |it| it.arn.clone()),
            action,
            resource,
            iam::policy::Decision::ImplicitDeny,
        )
        .unwrap_or_default(),
    };
    let first = resources.first().map(String::as_str).unwrap_or("*");
    let read = match session.map(|it| &it.acts_as) {
        Some(ActsAs::Role { role_name, .. }) => {
            state.identity.role_policies(role_name, now_ms).await
        }
        Some(ActsAs::User { user_name, .. }) => {
            state.identity.user_policies(user_name, now_ms).await
        }
        None => state.identity.user_policies(name, now_ms).await,
    };
    let policies = match read {
        Ok(Some(policies)) => policies,
        Ok(None) => return Err(refused(first)),
        Err(err) => {
            tracing::error!(user = %name, err = %err.message, "reading a principal's policies");
            return Err(refused(first));
        }
    };
    // A role deleted and made again under its name is another role: its old sessions end.
    if let Some(ActsAs::Role { role_id, .. }) = session.map(|it| &it.acts_as)
        && policies.principal.user_id != *role_id
    {
        return Err(refused(first));
    }
    let acting = session_principal.unwrap_or(&policies.principal);
    // Its session policies (inline and managed), from the policy cache.
    let session_policies = match session {
        Some(session) => match state.identity.session_policies(session, now_ms).await {
            Ok(found) => found,
            Err(err) => {
                tracing::error!(user = %name, err = %err.message, "reading a session's policies");
                return Err(refused(first));
            }
        },
        None => None,
    };
    let mut keys = request_keys(now_ms, context);
    // A role's session is known to policies by its role's ARN (AWS's aws:PrincipalArn),
    // unless the request's own keys say otherwise.
    if let Some(ActsAs::Role { role_arn, .. }) = session.map(|it| &it.acts_as)
        && !context.iter().any(|(key, _)| key.eq_ignore_ascii_case("aws:PrincipalArn"))
    {
        keys.insert("aws:PrincipalArn", role_arn.clone());
    }
    let mut named = policies.named();
    // A request that moves a branch meets the branch protection policy as it is now.
    let protection = if moves_a_branch(context) {
        Some(fresh_branch_protection(state, name).await?)
    } else {
        None
    };
    if let Some(protection) = &protection {
        let arn = protection_arn(state);
        named.retain(|(id, _)| *id != arn);
        named.extend(protection.as_ref().map(|it| (it.id.as_str(), &*it.policy)));
    }
    let tags_tested = named.iter().any(|(_, policy)| policy.tests_key_with_prefix(RESOURCE_TAG));
    for resource in resources {
        let tagged;
        let context = if tags_tested {
            let mut with_tags = keys.clone();
            let tags = resource_tags(state, resource).await;
            with_tags.set_resource_tags(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            tagged = with_tags;
            &tagged
        } else {
            &keys
        };
        let request = iam::policy::Request { principal: acting, action, resource, context };
        let evaluation = iam::policy::evaluate(&named, &request);
        if let Some(message) = evaluation.refusal(&request) {
            return Err(Denied { message });
        }
        if let Some(limit) = &session_policies
            && let Some(message) = limit.refusal(&request)
        {
            return Err(Denied { message });
        }
    }
    Ok(())
}

/// The keys every request has (`aws:SecureTransport`, `aws:MultiFactorAuthPresent`,
/// `aws:CurrentTime`, `aws:EpochTime`) with the request's own.
fn request_keys(now_ms: i64, context: &[(String, Vec<String>)]) -> iam::policy::Context {
    let mut keys = iam::policy::Context::new();
    keys.insert("aws:SecureTransport", "false");
    keys.insert("aws:MultiFactorAuthPresent", "false");
    keys.set_time(now_ms.div_euclid(1000));
    for (key, values) in context {
        keys.set(key, values.clone());
    }
    keys
}

/// A build token's request, past [`fixed_rules`]: what the build's service role (`setting`,
/// a role name or ARN) allows, on every resource, as CodeBuild's role would be asked
/// (`codebuild::service_role`). A role that does not exist or does not trust CodeBuild
/// allows nothing.
async fn authorize_build(
    state: &AppState,
    setting: &str,
    action: &str,
    resources: &[String],
    context: &[(String, Vec<String>)],
) -> Result<(), Denied> {
    let now_ms = engine::clock::now_ms();
    let role = codebuild::service_role::build_role(state.codebuild(), setting, now_ms)
        .await
        .map_err(|err| Denied { message: err.message })?;
    let keys = request_keys(now_ms, context);
    for resource in resources {
        if let Err(refused) = role.check(action, resource, &keys) {
            let message = codebuild::service_role::git_refusal(&role, refused, action, resource);
            return Err(Denied { message });
        }
    }
    Ok(())
}

/// The prefix of the condition keys of a resource's tags.
const RESOURCE_TAG: &str = "aws:ResourceTag/";

/// The tags of the resource `arn` names, for `aws:ResourceTag/<key>`: a CodeCommit
/// repository's (kept apart from its metadata), a CodeBuild project's, an IAM user's or role's
/// — one read of its document. None for other resources, `*`, or one that does not exist (a
/// store error is logged and gives none: a condition on a tag then does not hold).
async fn resource_tags(state: &AppState, arn: &str) -> Vec<(String, String)> {
    let Some((kind, key)) = tagged_document(state, arn) else {
        return Vec::new();
    };
    let body = match state.store.get(kind, key).await {
        Ok(Some(document)) => document.body,
        Ok(None) => return Vec::new(),
        Err(err) => {
            tracing::error!(%err, %arn, "reading a resource's tags");
            return Vec::new();
        }
    };
    let tags = if kind == engine::kinds::REPOSITORY {
        &body[codecommit::api::SLIPWAY]["tags"]
    } else {
        &body["tags"]
    };
    let text = |value: &serde_json::Value| value.as_str().map(str::to_owned);
    match tags {
        // A repository's: a map.
        serde_json::Value::Object(map) => {
            map.iter().filter_map(|(key, value)| Some((key.clone(), text(value)?))).collect()
        }
        // A project's `{key, value}`s, an IAM entity's `{Key, Value}`s.
        serde_json::Value::Array(items) => items
            .iter()
            .filter_map(|item| {
                let key = text(&item["key"]).or_else(|| text(&item["Key"]))?;
                let value = text(&item["value"]).or_else(|| text(&item["Value"]))?;
                Some((key, value))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The kind and key of the document that holds the tags of the resource `arn`, when it is
/// one of this server's that has tags.
fn tagged_document<'a>(state: &AppState, arn: &'a str) -> Option<(&'static str, &'a str)> {
    if let Some(name) = repository_name(arn) {
        return Some((engine::kinds::REPOSITORY, name));
    }
    let mut parts = arn.splitn(6, ':');
    let (_arn, _partition, service, _region, account, resource) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if account != state.account {
        return None;
    }
    let (kind, path) = match (service, resource.split_once('/')?) {
        ("codebuild", ("project", name)) => (engine::kinds::PROJECT, name),
        ("iam", ("user", path)) => (engine::kinds::USER, path),
        ("iam", ("role", path)) => (engine::kinds::ROLE, path),
        _ => return None,
    };
    // An IAM entity's ARN has its path before its name.
    let name = path.rsplit('/').next()?;
    (!name.is_empty() && name != "*").then_some((kind, name))
}

/// Whether a request moves a branch: it names the refs it moves (`codecommit:References`),
/// which is what branch protection decides on.
fn moves_a_branch(context: &[(String, Vec<String>)]) -> bool {
    context.iter().any(|(key, values)| {
        key.eq_ignore_ascii_case("codecommit:References") && !values.is_empty()
    })
}

fn protection_arn(state: &AppState) -> String {
    iam::policies::branch_protection_policy_arn(&state.account)
}

/// The branch protection policy read now (`Identity::branch_protection_policy`): the
/// policies are cached for up to a second, but a rule `slipway branch-protection` sets from
/// another process holds for the very next push, as the rules always did. A read that fails
/// refuses (for `user`'s request).
async fn fresh_branch_protection(
    state: &AppState,
    user: &str,
) -> Result<Option<iam::effective::NamedPolicy>, Denied> {
    state.identity.branch_protection_policy().await.map_err(|err| {
        tracing::error!(user = %user, err = %err.message, "reading the branch protection policy");
        Denied { message: "the branch protection policy could not be read".to_owned() }
    })
}

/// A build token's push acts for the build's initiator: the account-level branch protection
/// policy (`iam::policies::BRANCH_PROTECTION_POLICY`) holds for it as for the initiator's own
/// pushes. Only its explicit denies count (the fixed rules allowed the rest).
async fn branch_protection(
    state: &AppState,
    initiator: &str,
    action: &str,
    resources: &[String],
    context: &[(String, Vec<String>)],
) -> Result<(), Denied> {
    // Only what moves a branch meets it: a build's fetches read nothing more.
    if !moves_a_branch(context) {
        return Ok(());
    }
    let now_ms = engine::clock::now_ms();
    let policies = match state.identity.user_policies(initiator, now_ms).await {
        Ok(Some(policies)) => policies,
        Ok(None) => return Ok(()),
        Err(err) => {
            tracing::error!(user = %initiator, err = %err.message, "reading a user's policies");
            let message = format!("the policies of {initiator} could not be read");
            return Err(Denied { message });
        }
    };
    let Some(protection) = fresh_branch_protection(state, initiator).await? else {
        return Ok(());
    };
    let keys = request_keys(now_ms, context);
    for resource in resources {
        let request = iam::policy::Request {
            principal: &policies.principal,
            action,
            resource,
            context: &keys,
        };
        let evaluation = iam::policy::evaluate(&[(&protection.id, &protection.policy)], &request);
        if evaluation.decision == iam::policy::Decision::ExplicitDeny
            && let Some(message) = evaluation.refusal(&request)
        {
            return Err(Denied { message });
        }
    }
    Ok(())
}

/// The rules that do not depend on IAM policies: nobody but an agent performs the agent API's
/// actions; agents may perform them (each only as the agents its token registered) and fetch
/// sources; a build token only git, on repositories (its service role then decides which,
/// [`authorize_build`]). A user passes them for every other action (their policies then
/// decide).
pub(crate) fn fixed_rules(
    principal: &Principal,
    action: &str,
    resource: &Resource<'_>,
) -> Result<(), Denied> {
    let allowed = match principal {
        Principal::User { .. } => !action.starts_with(AGENT_ACTION_PREFIX),
        Principal::Agent { token_hash, .. } => match (action, resource) {
            (GIT_PUSH, _) => return Err(Denied { message: "agents may fetch, not push".into() }),
            (GIT_PULL, Resource::Arn(_)) => true,
            (action, Resource::Agents) => action.starts_with(AGENT_ACTION_PREFIX),
            (action, Resource::Agent { id, registered_with }) => {
                if !action.starts_with(AGENT_ACTION_PREFIX) {
                    false
                } else if bool::from(token_hash.as_bytes().ct_eq(registered_with.as_bytes())) {
                    true
                } else {
                    return Err(Denied {
                        message: format!("agent {id} was registered with another agent token"),
                    });
                }
            }
            _ => false,
        },
        Principal::Build { .. } => match (action, resource) {
            (GIT_PULL | GIT_PUSH, Resource::Arn(arn)) => repository_name(arn).is_some(),
            _ => false,
        },
    };
    if allowed {
        Ok(())
    } else {
        Err(Denied {
            message: format!(
                "{} is not authorized to perform: {action} on resource: {resource}",
                principal.describe()
            ),
        })
    }
}

/// Who a principal is to IAM policies (its ARN, account, `aws:username`, `aws:userid`): a
/// role's session is its assumed-role principal, a user (or a user's session) the user; `None`
/// for agents and build tokens, and for a user who no longer exists.
pub(crate) async fn policy_principal(
    state: &AppState,
    principal: &Principal,
) -> Option<iam::policy::Principal> {
    let Principal::User { name, via, .. } = principal else {
        return None;
    };
    let name = match via {
        SignIn::Session { session, .. } => match &session.acts_as {
            ActsAs::Role { .. } => return session.principal.clone(),
            ActsAs::User { user_name, .. } => user_name,
        },
        _ => name,
    };
    match state.identity.user_policies(name, engine::clock::now_ms()).await {
        Ok(policies) => policies.map(|it| it.principal.clone()),
        Err(err) => {
            tracing::error!(user = %name, err = %err.message, "reading a user's policies");
            None
        }
    }
}

/// The ARN of the IAM user `name` (with no path: the refusal's wording before their policies
/// are read).
fn user_arn(state: &AppState, name: &str) -> String {
    format!("arn:aws:iam::{}:user/{name}", state.account)
}

/// The repository a CodeCommit ARN names (`arn:aws:codecommit:<region>:<account>:<name>`).
fn repository_name(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:aws:codecommit:")?;
    let mut parts = rest.splitn(3, ':');
    let (_region, _account, name) = (parts.next()?, parts.next()?, parts.next()?);
    (!name.is_empty()).then_some(name)
}

/// Where this server's resources are, for [`facts`].
pub(crate) fn place(state: &AppState) -> facts::Place<'_> {
    facts::Place { region: &state.region, account: &state.account }
}
