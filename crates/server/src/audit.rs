//! The server's side of the audit trail: what the edge knows of a request (who, from where,
//! with which user agent, what it asked, how it ended) made into a `cloudtrail` event and
//! handed to the recorder (`cloudtrail::recorder`), which never makes the request wait.
//!
//! The recording points: every AWS API call after its outcome is known (`aws.rs`, and the
//! Query path in `aws/query.rs`), git pushes and fetches (`git.rs`), console sign-ins
//! (`console.rs`'s `login`) and console actions (every other console POST, through
//! [`console_actions`]).

use std::net::SocketAddr;
use std::time::Duration;

use axum::Extension;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::Response;
use cloudtrail::event::{Event, EventType, Request as Facts, Resource, UserIdentity, event_source};
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::{Principal, SignIn};
use crate::error::ApiError;

/// How long `LookupEvents` and the audit page wait for this process's recorded events to be
/// written before they read (the flusher may be restarting; they read what is there then).
pub(crate) const FLUSH_WAIT: Duration = Duration::from_secs(2);

/// The event source of console sign-ins, as CloudTrail writes it.
const SIGN_IN_SOURCE: &str = "signin.amazonaws.com";

/// The longest user agent kept.
const MAX_USER_AGENT: usize = 1024;

/// Where a request came from: the peer's address and the `User-Agent` header.
#[derive(Debug, Clone, Default)]
pub(crate) struct Origin {
    pub(crate) source_ip: String,
    pub(crate) user_agent: String,
}

/// The peer address axum's `ConnectInfo` gives, as handlers extract it.
pub(crate) type Peer = Option<Extension<ConnectInfo<SocketAddr>>>;

impl Origin {
    /// How the request arrived, for its condition keys: from this address, over plain HTTP.
    pub(crate) fn arrival(&self) -> crate::auth::facts::Arrival<'_> {
        crate::auth::facts::Arrival { source_ip: &self.source_ip, secure_transport: false }
    }

    pub(crate) fn of(headers: &HeaderMap, peer: &Peer) -> Origin {
        let source_ip = match peer {
            Some(Extension(ConnectInfo(address))) => address.ip().to_string(),
            // In-process tests have no socket.
            None => String::new(),
        };
        let user_agent = headers
            .get("user-agent")
            .and_then(|it| it.to_str().ok())
            .map(|it| it.chars().take(MAX_USER_AGENT).collect())
            .unwrap_or_default();
        Origin { source_ip, user_agent }
    }
}

/// The `userIdentity` of a principal, as CloudTrail writes it: an IAM user by their unique
/// id (`AIDA…`, which authentication found), a role's session as `AssumedRole`, a build's git
/// token as its project's service role's CodeBuild session ([`build_identity`]).
pub(crate) async fn identity(state: &AppState, principal: &Principal) -> UserIdentity {
    let account = &state.account;
    match principal {
        Principal::User { via: SignIn::Session { access_key_id, session }, .. } => {
            session_identity(account, access_key_id, session)
        }
        Principal::User { name, user_id, via } => {
            let key = match via {
                SignIn::SigV4 { access_key_id }
                | SignIn::GitHelper { access_key_id }
                | SignIn::LogsAccessKey { access_key_id }
                | SignIn::Session { access_key_id, .. } => access_key_id.as_str(),
                SignIn::GitCredentials { .. }
                | SignIn::ConsoleSession { .. }
                | SignIn::Ssh { .. } => "",
            };
            UserIdentity::iam_user(account, name, user_id, key)
        }
        Principal::Build { build_id, service_role, .. } => {
            build_identity(state, build_id, service_role).await
        }
        Principal::Agent { name, .. } => UserIdentity {
            identity_type: "AWSService".to_owned(),
            principal_id: Some(format!("agent:{name}")),
            arn: None,
            account_id: Some(account.clone()),
            access_key_id: None,
            user_name: Some(format!("agent:{name}")),
            session_context: None,
        },
    }
}

/// The `userIdentity` of a request signed with STS temporary credentials, as CloudTrail
/// writes it: a role's session is `AssumedRole` with the role as `sessionIssuer`; a user's
/// (GetSessionToken) is the user, with the session's attributes.
fn session_identity(
    account: &str,
    access_key_id: &str,
    session: &iam::sessions::Session,
) -> UserIdentity {
    let attributes = json!({
        "creationDate": awsapi::query::Timestamp(session.create_date_ms).iso8601(),
        "mfaAuthenticated": "false",
    });
    let iam::sessions::ActsAs::Role { role_name, role_id, role_arn, .. } = &session.acts_as else {
        let (user, user_id) = match &session.acts_as {
            iam::sessions::ActsAs::User { user_name, user_id } => (user_name.as_str(), user_id),
            iam::sessions::ActsAs::Role { .. } => ("", &String::new()),
        };
        let mut identity = UserIdentity::iam_user(account, user, user_id, access_key_id);
        identity.session_context = Some(json!({ "attributes": attributes }));
        return identity;
    };
    let principal = session.principal.as_ref();
    let mut identity =
        assumed_role(account, Some(role_id.as_str()), role_arn, role_name, attributes);
    identity.principal_id = principal.map(|it| it.user_id.clone());
    identity.arn = principal.map(|it| it.arn.clone());
    identity.access_key_id = Some(access_key_id.to_owned());
    identity
}

/// An `AssumedRole` `userIdentity` whose session's issuer is the role (`role_id`, `role_arn`,
/// `role_name`) with the session's `attributes`; the caller sets who and which key.
fn assumed_role(
    account: &str,
    role_id: Option<&str>,
    role_arn: &str,
    role_name: &str,
    attributes: serde_json::Value,
) -> UserIdentity {
    UserIdentity {
        identity_type: "AssumedRole".to_owned(),
        principal_id: None,
        arn: None,
        account_id: Some(account.to_owned()),
        access_key_id: None,
        user_name: None,
        session_context: Some(json!({
            "sessionIssuer": {
                "type": "Role",
                "principalId": role_id,
                "arn": role_arn,
                "accountId": account,
                "userName": role_name,
            },
            "attributes": attributes,
        })),
    }
}

/// The session name CodeBuild gives a build's session of its project's service role:
/// `AWSCodeBuild-<build uuid>` (the build id is `<project>:<uuid>`).
pub(crate) fn build_session_name(build_id: &str) -> String {
    let uuid = build_id.rsplit_once(':').map_or(build_id, |(_, uuid)| uuid);
    format!("AWSCodeBuild-{uuid}")
}

/// The `userIdentity` of a build's git token, as CloudTrail writes the calls of a build with
/// its project's service role (`setting`, a role name or ARN): the role's session
/// `AWSCodeBuild-<build uuid>`, `principalId` `<role id>:<session>`, the role as the
/// session's issuer. The role's id and ARN come from its cached policies (which authorizing
/// the token's request has just read); a role that does not exist is named by the setting,
/// without an id.
async fn build_identity(state: &AppState, build_id: &str, setting: &str) -> UserIdentity {
    let account = &state.account;
    let role_name = iam::service_roles::role_name(setting);
    let session_name = build_session_name(build_id);
    let role = match state.identity.role_policies(role_name, engine::clock::now_ms()).await {
        Ok(found) => found.map(|policies| policies.principal.clone()),
        Err(err) => {
            tracing::error!(role = %role_name, err = %err.message, "reading a build's role");
            None
        }
    };
    let (role_id, role_arn) = match role {
        Some(role) => (Some(role.user_id), role.arn),
        None => (None, iam::service_roles::role_arn(setting, account)),
    };
    let attributes = json!({ "mfaAuthenticated": "false" });
    let mut identity = assumed_role(account, role_id.as_deref(), &role_arn, role_name, attributes);
    identity.principal_id = role_id.map(|id| format!("{id}:{session_name}"));
    identity.arn = Some(format!("arn:aws:sts::{account}:assumed-role/{role_name}/{session_name}"));
    identity
}

/// The `Credential=<access key>/…` of a request's SigV4 `Authorization` header, for the
/// identity of a caller refused before it was authenticated.
fn claimed_access_key(headers: &HeaderMap) -> Option<String> {
    let authorization = headers.get("authorization")?.to_str().ok()?;
    let (_, rest) = authorization.split_once("Credential=")?;
    let (key, _) = rest.split_once('/')?;
    Some(key.to_owned())
}

/// What an AWS API call was, gathered as `aws::dispatch` learns it.
#[derive(Debug, Default)]
pub(crate) struct ApiCall {
    /// The SigV4 signing name; empty until the target names a service (an unknown target is
    /// not recorded, as CloudTrail records no call to no service).
    pub(crate) signing_name: &'static str,
    pub(crate) operation: String,
    pub(crate) identity: Option<UserIdentity>,
    pub(crate) parameters: Option<Value>,
    /// The ARNs authorization asked about (none when the call ended before it).
    pub(crate) resources: Vec<String>,
    /// Whether the call is a data event (an S3 object's operation).
    pub(crate) data_event: bool,
}

impl ApiCall {
    /// Records the call with its outcome (`error`, if it failed or was refused).
    pub(crate) fn record(
        self,
        state: &AppState,
        headers: &HeaderMap,
        origin: &Origin,
        request_id: &str,
        error: Option<&ApiError>,
    ) {
        if self.signing_name.is_empty() {
            return;
        }
        let identity = self.identity.unwrap_or_else(|| unknown(state, headers));
        let now = engine::clock::now_ms();
        let mut facts =
            Facts::api_call(now, &event_source(self.signing_name), &self.operation, identity);
        // The resources the request named, as authorization asked for them.
        facts.resources = self.resources.iter().filter_map(|arn| Resource::from_arn(arn)).collect();
        facts.parameters = self.parameters;
        facts.data_event = self.data_event;
        finish(state, facts, origin, request_id, error);
    }
}

fn unknown(state: &AppState, headers: &HeaderMap) -> UserIdentity {
    let mut identity = UserIdentity::unknown(&state.account, None);
    identity.access_key_id = claimed_access_key(headers);
    identity
}

fn finish(
    state: &AppState,
    mut facts: Facts,
    origin: &Origin,
    request_id: &str,
    error: Option<&ApiError>,
) {
    facts.source_ip = origin.source_ip.clone();
    facts.user_agent = origin.user_agent.clone();
    facts.request_id = request_id.to_owned();
    facts.error = error.map(|err| (err.code.clone(), err.message.clone()));
    state.audit.record(Event::new(&state.region, &state.account, facts));
}

/// Records a Query-protocol call (STS, IAM) of `service` with its outcome. The caller is
/// authenticated again here (the Query path is rare: administration, not the hot path).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn record_query(
    state: &AppState,
    origin: &Origin,
    service: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    request_id: &str,
    error: Option<&ApiError>,
) {
    let form: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let Some(action) = form.iter().find(|(key, _)| key == "Action").map(|(_, value)| value.clone())
    else {
        return;
    };
    let identity = match crate::aws::authenticate(state, service, method, uri, headers, body).await
    {
        Ok((principal, _)) => identity(state, &principal).await,
        Err(_) => unknown(state, headers),
    };
    let parameters: serde_json::Map<String, Value> = form
        .into_iter()
        .filter(|(key, _)| key != "Action" && key != "Version")
        .map(|(key, value)| (key, Value::String(value)))
        .collect();
    let now = engine::clock::now_ms();
    let mut facts = Facts::api_call(now, &event_source(service), &action, identity);
    facts.parameters = Some(Value::Object(parameters));
    finish(state, facts, origin, request_id, error);
}

/// Records a git fetch (`GitPull`) or push (`GitPush`) of `repository`; `error` is the
/// refusal or failure.
pub(crate) async fn record_git(
    state: &AppState,
    principal: &Principal,
    origin: &Origin,
    repository: &str,
    push: bool,
    error: Option<(&str, String)>,
) {
    let name = if push { "GitPush" } else { "GitPull" };
    let now = engine::clock::now_ms();
    let mut facts =
        Facts::api_call(now, &event_source("codecommit"), name, identity(state, principal).await);
    facts.parameters = Some(json!({ "repositoryName": repository }));
    let arn = format!("arn:aws:codecommit:{}:{}:{repository}", state.region, state.account);
    facts.resources = Resource::from_arn(&arn).into_iter().collect();
    facts.source_ip = origin.source_ip.clone();
    facts.user_agent = origin.user_agent.clone();
    facts.error = error.map(|(code, message)| (code.to_owned(), message));
    state.audit.record(Event::new(&state.region, &state.account, facts));
}

/// Records a console sign-in of `user` (`ConsoleLogin`), as CloudTrail writes one: the
/// outcome in `responseElements`, a failure's message `Failed authentication`, and the
/// identity of a failed attempt not known: only the name it gave, and not even that when no
/// such user exists (people type passwords into the name field).
pub(crate) async fn record_sign_in(state: &AppState, origin: &Origin, user: &str, succeeded: bool) {
    let now = engine::clock::now_ms();
    let identity = if succeeded {
        let user_id = state.identity.user_id(user, now).await;
        UserIdentity::iam_user(&state.account, user, &user_id, "")
    } else {
        let known = matches!(state.store.get(engine::kinds::USER, user).await, Ok(Some(_)));
        let shown = if known { user } else { cloudtrail::event::HIDDEN };
        UserIdentity::unknown(&state.account, Some(shown))
    };
    let mut facts = Facts::api_call(now, SIGN_IN_SOURCE, "ConsoleLogin", identity);
    facts.event_type = EventType::AwsConsoleSignIn;
    facts.read_only = Some(false);
    let outcome = if succeeded { "Success" } else { "Failure" };
    facts.response_elements = Some(json!({ "ConsoleLogin": outcome }));
    facts.additional_event_data =
        Some(json!({ "LoginTo": "/console/", "MobileVersion": "No", "MFAUsed": "No" }));
    if !succeeded {
        facts.error =
            Some(("Failed authentication".to_owned(), "Failed authentication".to_owned()));
    }
    facts.source_ip = origin.source_ip.clone();
    facts.user_agent = origin.user_agent.clone();
    state.audit.record(Event::new(&state.region, &state.account, facts));
}

/// What a console POST is, as an event: its source and name (the IAM action the console
/// authorizes it as, where there is one).
fn console_action(path: &str) -> (&'static str, &'static str) {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["console", "logout"] => (SIGN_IN_SOURCE, "ConsoleLogout"),
        ["console", "security", "password"] => ("iam.amazonaws.com", "ChangePassword"),
        ["console", "security", "git-credentials"] => {
            ("iam.amazonaws.com", "CreateServiceSpecificCredential")
        }
        ["console", "security", "git-credentials", _, "revoke"] => {
            ("iam.amazonaws.com", "UpdateServiceSpecificCredential")
        }
        _ => ("console.amazonaws.com", "ConsoleAction"),
    }
}

/// Middleware of the console's routes: every POST but the sign-in (which records itself) is
/// recorded as an `AwsConsoleAction` once it is answered, with the signed-in user (looked up
/// before the action, which may end the session) and the answer's status as its outcome.
pub(crate) async fn console_actions(
    axum::extract::State(state): axum::extract::State<AppState>,
    peer: Peer,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    if request.method() != Method::POST || path == "/console/login" {
        return next.run(request).await;
    }
    let origin = Origin::of(request.headers(), &peer);
    let route = crate::auth::Route::Console;
    let parts = crate::auth::RequestParts::headers(request.headers());
    let identity = match crate::auth::authenticate(&state, route, &parts).await {
        Ok(principal) => identity(&state, &principal).await,
        Err(_) => UserIdentity::unknown(&state.account, None),
    };
    let response = next.run(request).await;
    let (source, name) = console_action(&path);
    let now = engine::clock::now_ms();
    let mut facts = Facts::api_call(now, source, name, identity);
    facts.event_type = EventType::AwsConsoleAction;
    facts.read_only = Some(false);
    facts.parameters = Some(json!({ "path": path }));
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        let code = if status == StatusCode::FORBIDDEN { "AccessDenied" } else { "Failed" };
        facts.error = Some((code.to_owned(), format!("The console answered {status}.")));
    }
    facts.source_ip = origin.source_ip;
    facts.user_agent = origin.user_agent;
    state.audit.record(Event::new(&state.region, &state.account, facts));
    response
}

#[cfg(test)]
mod tests;
