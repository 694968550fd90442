//! STS temporary credentials: AssumeRole (a session of a role, its trust policy permitting)
//! and GetSessionToken (a session of the calling user), and the lookup that lets SigV4 honour
//! them ([`Identity::session`]).
//!
//! A session is an access key id (`ASIA…`), a secret (sealed under the installation's key, as
//! access keys' secrets are), a session token (random and long; only its SHA-256 is stored,
//! compared in constant time) and an expiry, in a document of kind `sts-session` keyed by the
//! access key id. A role's session acts as `arn:aws:sts::<account>:assumed-role/<role>/<name>`
//! with `aws:userid` `AROA…:<name>` and no `aws:username`, with the role's policies (and, when
//! AssumeRole was given session policies — an inline `Policy`, managed `PolicyArns` — only
//! what they allow too, [`SessionPolicies`]); a user's session acts as the user. The managed
//! session policies are kept as ARNs and their documents read when the session's policies
//! are resolved (`Identity::session_policies`, cached in [`crate::effective`]), so a new
//! default version applies to the sessions that name it, as on AWS. Sessions are read as access keys are, cached for at most [`SESSION_CACHE_MS`]
//! and until this process writes a session; expired ones authorize nothing, and go when the
//! same role or user asks for a new one and in the server's `sts-sessions` loop
//! ([`expire_sessions`]).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use awsapi::query::Timestamp;
use awsapi::{ApiError, ErrorKind};
use engine::kinds::STS_SESSION;
use engine::store::{Changes, Document, ListQuery, Store, Write};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::api::{self, store_error};
use crate::crypto::random_string;
use crate::identity::{Identity, IdentityError};
use crate::policy::{self, Caller, Context, Decision, Policy, Principal, Request};

/// AssumeRole's shortest session (seconds), and its default.
pub const ASSUME_ROLE_MIN_SECONDS: u32 = 900;
pub const ASSUME_ROLE_DEFAULT_SECONDS: u32 = 3_600;
/// The longest session of a role assumed with a role's session (role chaining).
pub const CHAINED_MAX_SECONDS: u32 = 3_600;
/// AssumeRole's longest `DurationSeconds` before the role's own limit applies.
const ASSUME_ROLE_MAX_SECONDS: u32 = 43_200;
/// GetSessionToken's shortest, longest and default session (seconds).
pub const SESSION_TOKEN_SECONDS: std::ops::RangeInclusive<u32> = 900..=129_600;
pub const SESSION_TOKEN_DEFAULT_SECONDS: u32 = 43_200;

/// The most characters of session policy (the inline policy and the managed policies' ARNs
/// together) AWS's packed limit stands for.
const MAX_SESSION_POLICY: usize = 2_048;

/// The most managed session policies (`PolicyArns`) AssumeRole takes.
pub const MAX_POLICY_ARNS: usize = 10;

/// How long a cached session is trusted without reading it again.
pub const SESSION_CACHE_MS: i64 = 1_000;

/// The most sessions cached: beyond, the cache is emptied rather than grown.
const SESSION_CACHE_ENTRIES: usize = 10_000;

/// How many expired sessions one pass of [`expire_sessions`] deletes in a transaction.
const EXPIRE_BATCH: i64 = 500;

const TOKEN_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Who a session acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActsAs {
    /// A session of the role `role_name` (its id and ARN as when it was assumed).
    Role { role_name: String, role_id: String, role_arn: String, session_name: String },
    /// The user who called GetSessionToken, and their id (`AIDA…`; empty in a session begun
    /// before sessions recorded it).
    User { user_name: String, user_id: String },
}

/// A session, as the SigV4 path and authorization read it.
#[derive(Debug)]
pub struct Session {
    pub access_key_id: String,
    pub secret: Arc<str>,
    token_sha256: [u8; 32],
    /// When it began and when it ends (ms since the epoch).
    pub create_date_ms: i64,
    pub expiration_ms: i64,
    pub acts_as: ActsAs,
    /// A role session's principal (its assumed-role ARN and `AROA…:<name>` id); `None` for a
    /// user's session, which is the user.
    pub principal: Option<Principal>,
    /// AssumeRole's inline session policy, parsed.
    pub session_policy: Option<Arc<Policy>>,
    /// AssumeRole's managed session policies (`PolicyArns`), in the order given.
    pub policy_arns: Vec<String>,
    /// The session policies when they are the inline one alone (they never change then).
    pub(crate) inline_only: Option<Arc<SessionPolicies>>,
}

/// Sessions are the same session when their access key is.
impl PartialEq for Session {
    fn eq(&self, other: &Session) -> bool {
        self.access_key_id == other.access_key_id
    }
}

impl Eq for Session {}

impl Session {
    /// Whether `token` is this session's token (compared in constant time).
    pub fn token_matches(&self, token: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        bool::from(digest.ct_eq(&self.token_sha256))
    }

    /// Whether the session has ended at `now_ms`.
    pub fn expired(&self, now_ms: i64) -> bool {
        now_ms >= self.expiration_ms
    }

    fn from_document(identity: &Identity, document: &Document) -> Option<Session> {
        let body = &document.body;
        let text = |field: &str| body[field].as_str().unwrap_or_default().to_owned();
        let secret = match identity.secrets.open(body["sealedSecret"].as_str().unwrap_or_default())
        {
            Ok(secret) => secret,
            Err(err) => {
                tracing::error!(access_key_id = %document.key, %err, "cannot open a session's secret");
                return None;
            }
        };
        let token_sha256: [u8; 32] =
            hex::decode(text("sessionTokenSha256")).ok()?.try_into().ok()?;
        let (acts_as, principal) = if body["type"] == ROLE_SESSION {
            let session_name = text("roleSessionName");
            let role_name = text("roleName");
            let role_id = text("roleId");
            let principal = Principal {
                arn: assumed_role_arn(&identity.account, &role_name, &session_name),
                account: identity.account.clone(),
                user_name: None,
                user_id: format!("{role_id}:{session_name}"),
            };
            let role_arn = text("roleArn");
            (ActsAs::Role { role_name, role_id, role_arn, session_name }, Some(principal))
        } else {
            (ActsAs::User { user_name: text("userName"), user_id: text("userId") }, None)
        };
        let session_policy = match body["policy"].as_str() {
            Some(text) => match Policy::parse_identity(text) {
                Ok(policy) => Some(Arc::new(policy)),
                Err(err) => {
                    // It parsed when the session began: a session whose limit cannot be read
                    // is no session.
                    tracing::error!(access_key_id = %document.key, %err, "a session policy does not parse");
                    return None;
                }
            },
            None => None,
        };
        let policy_arns: Vec<String> =
            serde_json::from_value(body["policyArns"].clone()).unwrap_or_default();
        let inline_only = match (&session_policy, policy_arns.is_empty()) {
            (Some(policy), true) => Some(Arc::new(SessionPolicies::new(vec![(
                INLINE_SESSION_POLICY.to_owned(),
                policy.clone(),
            )]))),
            _ => None,
        };
        Some(Session {
            access_key_id: document.key.clone(),
            secret: secret.into(),
            token_sha256,
            create_date_ms: body["createDate"].as_i64().unwrap_or(0),
            expiration_ms: body["expiration"].as_i64().unwrap_or(0),
            acts_as,
            principal,
            session_policy,
            policy_arns,
            inline_only,
        })
    }
}

/// What an inline session policy's matched statements report.
pub(crate) const INLINE_SESSION_POLICY: &str = "session policy";

/// A role session's session policies, parsed: its inline policy (named
/// [`INLINE_SESSION_POLICY`]) and its managed session policies (by ARN) as they are now. The
/// session may do only what they allow (any of them, as AWS evaluates session policies
/// together) and an explicit deny in one refuses; a managed one deleted since allows nothing.
#[derive(Debug)]
pub struct SessionPolicies {
    pub policies: Vec<(String, Arc<Policy>)>,
}

impl SessionPolicies {
    pub(crate) fn new(policies: Vec<(String, Arc<Policy>)>) -> SessionPolicies {
        SessionPolicies { policies }
    }

    /// Whether they let `request` through: `None` when they do, else AWS's refusal, naming
    /// the session policy.
    pub fn refusal(&self, request: &Request<'_>) -> Option<String> {
        let decision = match self.policies.as_slice() {
            // The usual case, an inline policy alone, without a list to build.
            [(id, policy)] => policy::evaluate(&[(id.as_str(), &**policy)], request).decision,
            policies => {
                let named: Vec<(&str, &Policy)> =
                    policies.iter().map(|(id, policy)| (id.as_str(), &**policy)).collect();
                policy::evaluate(&named, request).decision
            }
        };
        session_refusal(decision, request)
    }
}

/// The `type` of a role's session document, and of a user's.
const ROLE_SESSION: &str = "AssumedRole";
const USER_SESSION: &str = "SessionToken";

/// `arn:aws:sts::<account>:assumed-role/<role>/<session>`.
pub fn assumed_role_arn(account: &str, role_name: &str, session_name: &str) -> String {
    format!("arn:aws:sts::{account}:assumed-role/{role_name}/{session_name}")
}

/// The sessions read recently, as `identity`'s key cache keeps access keys: an entry is used
/// only while no batch of this process has written a session since it was read, and for at
/// most [`SESSION_CACHE_MS`].
pub(crate) struct SessionCache {
    entries: RwLock<HashMap<String, CachedSession>>,
    changes: Changes,
}

struct CachedSession {
    session: Arc<Session>,
    read_at_ms: i64,
    changes: u64,
}

impl SessionCache {
    pub(crate) fn new(store: &Store) -> SessionCache {
        SessionCache { entries: RwLock::default(), changes: store.watch(STS_SESSION) }
    }

    fn get(&self, access_key_id: &str, now_ms: i64) -> Option<Arc<Session>> {
        let entries = self.entries.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = entries.get(access_key_id)?;
        let fresh = (0..SESSION_CACHE_MS).contains(&(now_ms - entry.read_at_ms))
            && entry.changes == self.changes.current();
        fresh.then(|| entry.session.clone())
    }

    fn put(&self, access_key_id: &str, entry: CachedSession) {
        let mut entries = self.entries.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= SESSION_CACHE_ENTRIES && !entries.contains_key(access_key_id) {
            entries.clear();
        }
        entries.insert(access_key_id.to_owned(), entry);
    }
}

impl Identity {
    /// The session of the access key `access_key_id` (`ASIA…`) as of at most
    /// [`SESSION_CACHE_MS`] before `now_ms`, expired or not (the caller tells an expired
    /// token from an unknown one); `None` when there is none.
    pub async fn session(
        &self,
        access_key_id: &str,
        now_ms: i64,
    ) -> Result<Option<Arc<Session>>, IdentityError> {
        if let Some(session) = self.sessions.get(access_key_id, now_ms) {
            return Ok(Some(session));
        }
        // The count before the read: a write committed while it runs makes the entry stale.
        let changes = self.sessions.changes.current();
        let Some(document) = self.store.get(STS_SESSION, access_key_id).await? else {
            return Ok(None);
        };
        let Some(session) = Session::from_document(self, &document).map(Arc::new) else {
            return Ok(None);
        };
        let entry = CachedSession { session: session.clone(), read_at_ms: now_ms, changes };
        self.sessions.put(access_key_id, entry);
        Ok(Some(session))
    }

    /// Writes a new session for `parent` (`role/<name>`, `user/<name>`) ending at
    /// `expiration_ms`, with the fields `body` adds, and removes that parent's expired
    /// sessions in the same transaction; the credentials, shown this once.
    async fn new_session(
        &self,
        parent: String,
        mut body: serde_json::Value,
        now_ms: i64,
        expiration_ms: i64,
    ) -> Result<Credentials, ApiError> {
        let access_key_id = api::new_id("ASIA", 20);
        let secret_access_key = random_string(40, TOKEN_ALPHABET);
        let session_token = random_string(256, TOKEN_ALPHABET);
        body["accessKeyId"] = json!(access_key_id);
        body["sealedSecret"] = json!(self.secrets.seal(&secret_access_key));
        body["sessionTokenSha256"] = json!(hex::encode(Sha256::digest(session_token.as_bytes())));
        body["createDate"] = json!(now_ms);
        body["expiration"] = json!(expiration_ms);
        let mut writes: Vec<Write> = self
            .store
            .list_all(STS_SESSION, Some(&parent))
            .await
            .map_err(store_error)?
            .into_iter()
            .filter(|document| document.sort <= now_ms)
            .map(|document| Write::Delete { kind: STS_SESSION.to_owned(), key: document.key })
            .collect();
        writes.push(Write::Insert(Document {
            kind: STS_SESSION.to_owned(),
            key: access_key_id.clone(),
            parent: Some(parent),
            sort: expiration_ms,
            version: 0,
            body,
        }));
        self.store.apply(writes).await.map_err(store_error)?;
        Ok(Credentials {
            access_key_id,
            secret_access_key,
            session_token,
            expiration: Timestamp(expiration_ms),
        })
    }
}

/// STS's `Credentials` shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expiration: Timestamp,
}

/// STS's `AssumedRoleUser` shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssumedRoleUser {
    pub assumed_role_id: String,
    pub arn: String,
}

/// One of AssumeRole's `PolicyArns` (managed session policies).
#[derive(Debug, Clone, Deserialize)]
pub struct PolicyDescriptor {
    #[serde(rename = "arn")]
    pub arn: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssumeRoleRequest {
    pub role_arn: String,
    pub role_session_name: String,
    pub policy: Option<String>,
    #[serde(default)]
    pub policy_arns: Vec<PolicyDescriptor>,
    pub duration_seconds: Option<u32>,
    pub external_id: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssumeRoleResponse {
    pub credentials: Credentials,
    pub assumed_role_user: AssumedRoleUser,
    pub packed_policy_size: Option<u32>,
}

/// `ValidationError` for the STS member `member` (as STS spells it: `durationSeconds`).
fn validation(value: &str, member: &str, rule: &str) -> ApiError {
    api::validation(value, member, rule)
}

fn check_length(
    value: &str,
    member: &str,
    range: std::ops::RangeInclusive<usize>,
) -> Result<(), ApiError> {
    let length = value.chars().count();
    if length < *range.start() {
        let rule = format!("have length greater than or equal to {}", range.start());
        return Err(validation(value, member, &rule));
    }
    if length > *range.end() {
        let rule = format!("have length less than or equal to {}", range.end());
        return Err(validation(value, member, &rule));
    }
    Ok(())
}

fn check_seconds(seconds: u32, range: std::ops::RangeInclusive<u32>) -> Result<(), ApiError> {
    let value = seconds.to_string();
    if seconds < *range.start() {
        let rule = format!("have value greater than or equal to {}", range.start());
        return Err(validation(&value, "durationSeconds", &rule));
    }
    if seconds > *range.end() {
        let rule = format!("have value less than or equal to {}", range.end());
        return Err(validation(&value, "durationSeconds", &rule));
    }
    Ok(())
}

/// Checks AssumeRole's members as STS's model constrains them (before anything is
/// authorized): `ValidationError` with STS's message.
pub fn check_assume_role(input: &AssumeRoleRequest) -> Result<(), ApiError> {
    check_length(&input.role_arn, "roleArn", 20..=2048)?;
    let name = &input.role_session_name;
    check_length(name, "roleSessionName", 2..=64)?;
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)) {
        let rule = r"satisfy regular expression pattern: [\w+=,.@-]*";
        return Err(validation(name, "roleSessionName", rule));
    }
    if let Some(seconds) = input.duration_seconds {
        check_seconds(seconds, ASSUME_ROLE_MIN_SECONDS..=ASSUME_ROLE_MAX_SECONDS)?;
    }
    if let Some(policy) = &input.policy {
        check_length(policy, "policy", 1..=usize::MAX)?;
    }
    if let Some(external_id) = &input.external_id {
        check_length(external_id, "externalId", 2..=1224)?;
    }
    if input.policy_arns.len() > MAX_POLICY_ARNS {
        let arns: Vec<&str> =
            input.policy_arns.iter().map(|it| it.arn.as_deref().unwrap_or("null")).collect();
        let rule = format!("have length less than or equal to {MAX_POLICY_ARNS}");
        return Err(validation(&format!("[{}]", arns.join(", ")), "policyArns", &rule));
    }
    for (index, descriptor) in input.policy_arns.iter().enumerate() {
        let member = format!("policyArns.member.{}.arn", index + 1);
        let Some(arn) = &descriptor.arn else {
            return Err(validation("null", &member, "not be null"));
        };
        check_length(arn, &member, 20..=2048)?;
    }
    Ok(())
}

/// STS's refusal of a managed session policy that does not exist (in this account or AWS's).
fn no_such_session_policy(arn: &str) -> ApiError {
    ApiError::client(
        "InvalidParameterValue",
        format!("Policy {arn} does not exist or is not attachable."),
    )
}

/// AWS's refusal of an AssumeRole the trust policy does not permit (or of a role that does
/// not exist: the caller learns nothing more).
pub fn assume_role_denied(caller_arn: &str, role_arn: &str) -> ApiError {
    ApiError::new(
        ErrorKind::Forbidden,
        "AccessDenied",
        format!(
            "User: {caller_arn} is not authorized to perform: {} on resource: {role_arn}",
            policy::ASSUME_ROLE
        ),
    )
}

/// AssumeRole for `caller` (a user, or a role's session when `chained`), once its identity
/// policies allowed `sts:AssumeRole` on the role: the role's trust policy must permit the
/// caller (with `context`'s keys, and `sts:RoleSessionName` / `sts:ExternalId`), the duration
/// must fit the role's `MaxSessionDuration` (and one hour when chained); then a new session,
/// in one transaction.
pub async fn assume_role(
    identity: &Identity,
    caller: &Principal,
    chained: bool,
    context: &Context,
    input: AssumeRoleRequest,
    now_ms: i64,
) -> Result<AssumeRoleResponse, ApiError> {
    check_assume_role(&input)?;
    let denied = || assume_role_denied(&caller.arn, &input.role_arn);
    let role_name = input.role_arn.rsplit('/').next().unwrap_or_default();
    let Some((role, _)) = identity.role(role_name).await? else {
        return Err(denied());
    };
    if role.arn != input.role_arn {
        return Err(denied());
    }
    let trust = Policy::parse_trust(&role.assume_role_policy_document).map_err(|err| {
        tracing::error!(role = %role.role_name, %err, "a stored trust policy does not parse");
        denied()
    })?;
    let mut keys = context.clone();
    keys.insert("sts:RoleSessionName", input.role_session_name.clone());
    if let Some(external_id) = &input.external_id {
        keys.insert("sts:ExternalId", external_id.clone());
    }
    if policy::evaluate_trust(&trust, Caller::Principal(caller), &keys).decision
        != Decision::Allowed
    {
        return Err(denied());
    }
    let seconds = input.duration_seconds.unwrap_or(ASSUME_ROLE_DEFAULT_SECONDS);
    if seconds > role.max_session_duration {
        return Err(ApiError::client(
            "ValidationError",
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }
    if chained && seconds > CHAINED_MAX_SECONDS {
        return Err(ApiError::client(
            "ValidationError",
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by \
             role chaining.",
        ));
    }
    if let Some(text) = &input.policy {
        Policy::parse_identity(text)
            .map_err(|err| ApiError::client("MalformedPolicyDocument", err.to_string()))?;
    }
    let policy_arns: Vec<String> =
        input.policy_arns.iter().filter_map(|it| it.arn.clone()).collect();
    for arn in &policy_arns {
        if identity.managed_policy(arn).await?.is_none() {
            return Err(no_such_session_policy(arn));
        }
    }
    let packed_policy_size = packed_size(input.policy.as_deref(), &policy_arns)?;
    let session_name = input.role_session_name;
    let mut body = json!({
        "type": ROLE_SESSION,
        "roleName": role.role_name,
        "roleId": role.role_id,
        "roleArn": role.arn,
        "roleSessionName": session_name,
        "callerArn": caller.arn,
    });
    if let Some(text) = &input.policy {
        body["policy"] = json!(text);
    }
    if !policy_arns.is_empty() {
        body["policyArns"] = json!(policy_arns);
    }
    let expiration = now_ms + i64::from(seconds) * 1000;
    let parent = format!("role/{}", role.role_name);
    let credentials = identity.new_session(parent, body, now_ms, expiration).await?;
    Ok(AssumeRoleResponse {
        credentials,
        assumed_role_user: AssumedRoleUser {
            assumed_role_id: format!("{}:{session_name}", role.role_id),
            arn: assumed_role_arn(&identity.account, &role.role_name, &session_name),
        },
        packed_policy_size,
    })
}

/// `PackedPolicySize`: how much of AWS's packed limit the inline session policy and the
/// managed session policies' ARNs take, in percent (`None` when there are none), or
/// `PackedPolicyTooLarge` beyond it. The plaintext stands for the packed form: the inline
/// policy's characters and the ARNs' together, within [`MAX_SESSION_POLICY`].
fn packed_size(policy: Option<&str>, policy_arns: &[String]) -> Result<Option<u32>, ApiError> {
    if policy.is_none() && policy_arns.is_empty() {
        return Ok(None);
    }
    let plaintext = policy.map_or(0, str::len) + policy_arns.iter().map(String::len).sum::<usize>();
    let percent = plaintext * 100 / MAX_SESSION_POLICY;
    if percent > 100 {
        return Err(ApiError::client(
            "PackedPolicyTooLarge",
            format!(
                "Packed policy consumes {percent}% of allotted space, please use smaller policy."
            ),
        ));
    }
    Ok(Some(u32::try_from(percent).unwrap_or(100)))
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetSessionTokenRequest {
    pub duration_seconds: Option<u32>,
    pub serial_number: Option<String>,
    pub token_code: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetSessionTokenResponse {
    pub credentials: Credentials,
}

/// Checks GetSessionToken's members as STS's model constrains them.
pub fn check_get_session_token(input: &GetSessionTokenRequest) -> Result<(), ApiError> {
    if let Some(seconds) = input.duration_seconds {
        check_seconds(seconds, SESSION_TOKEN_SECONDS)?;
    }
    Ok(())
}

/// AWS's refusal of GetSessionToken called with a session's credentials.
pub fn session_token_from_session() -> ApiError {
    ApiError::new(
        ErrorKind::Forbidden,
        "AccessDenied",
        "Cannot call GetSessionToken with session credentials",
    )
}

/// GetSessionToken for the user `user_name` (signing with a long-term access key): a new
/// session acting as the user, in one transaction.
pub async fn get_session_token(
    identity: &Identity,
    user_name: &str,
    input: GetSessionTokenRequest,
    now_ms: i64,
) -> Result<GetSessionTokenResponse, ApiError> {
    check_get_session_token(&input)?;
    let Some(user) =
        identity.store.get(engine::kinds::USER, user_name).await.map_err(store_error)?
    else {
        return Err(api::no_such_user(user_name));
    };
    let user_id = crate::users::UserRecord::from_document(&user).user_id;
    let seconds = input.duration_seconds.unwrap_or(SESSION_TOKEN_DEFAULT_SECONDS);
    let body = json!({ "type": USER_SESSION, "userName": user_name, "userId": user_id });
    let expiration = now_ms + i64::from(seconds) * 1000;
    let parent = format!("user/{user_name}");
    let credentials = identity.new_session(parent, body, now_ms, expiration).await?;
    Ok(GetSessionTokenResponse { credentials })
}

/// AWS's refusal of `request` by a session's session policies deciding `decision`; `None`
/// when they allow it.
fn session_refusal(decision: Decision, request: &Request<'_>) -> Option<String> {
    let why = match decision {
        Decision::Allowed => return None,
        Decision::ImplicitDeny => {
            format!("because no session policy allows the {} action", request.action)
        }
        Decision::ExplicitDeny => "with an explicit deny in a session policy".to_owned(),
    };
    Some(format!(
        "User: {} is not authorized to perform: {} on resource: {} {why}",
        request.principal.arn, request.action, request.resource
    ))
}

/// Deletes the sessions that have expired by `now_ms`, oldest first, a batch per transaction;
/// how many it deleted.
pub async fn expire_sessions(store: &Store, now_ms: i64) -> Result<usize, ApiError> {
    let mut total = 0;
    loop {
        let query = ListQuery {
            kind: STS_SESSION.to_owned(),
            parent: None,
            descending: false,
            after: None,
            limit: EXPIRE_BATCH,
        };
        let page = store.list(&query).await.map_err(store_error)?;
        let writes: Vec<Write> = page
            .documents
            .into_iter()
            .take_while(|document| document.sort <= now_ms)
            .map(|document| Write::Delete { kind: STS_SESSION.to_owned(), key: document.key })
            .collect();
        let deleted = writes.len();
        if deleted > 0 {
            store.apply(writes).await.map_err(store_error)?;
        }
        total += deleted;
        if deleted < usize::try_from(EXPIRE_BATCH).unwrap_or(usize::MAX) {
            return Ok(total);
        }
    }
}

#[cfg(test)]
mod tests;
