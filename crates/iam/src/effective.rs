//! The policies that apply to a principal, parsed, as the server asks for them on every
//! request ([`Identity::user_policies`], [`Identity::role_policies`]): a user's inline and
//! attached managed policies and those of each of their groups, a role's own, with the
//! principal's ARN and id. A user is also under the account-level branch protection policy
//! (`policies::BRANCH_PROTECTION_POLICY`, written by `codecommit::protection`) when it exists.
//!
//! A role session's session policies ([`Identity::session_policies`]: its inline policy and
//! the managed session policies AssumeRole named, their default versions as they are now) are
//! cached beside them, by the session's access key, on the same terms.
//!
//! They are cached as access keys are ([`crate::identity`]): an entry is used only while no
//! batch of this process has written a user, group, role or managed policy since it was read
//! (the store's change counters of those kinds, read before the store is), and for at most
//! [`POLICY_CACHE_MS`], so that a policy change made through this server applies to the very
//! next request and one made through another replica within that time.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use engine::kinds::{GROUP, POLICY, ROLE, USER};
use engine::store::{Changes, Store};

use crate::identity::Identity;
use crate::policies::{EntityKind, EntityPolicies, Managed};
use crate::policy::{self, Context, Evaluation, Policy, Principal, Request};
use crate::sessions::{INLINE_SESSION_POLICY, Session, SessionPolicies};
use crate::users::UserRecord;

/// How long cached policies are trusted without reading them again.
pub const POLICY_CACHE_MS: i64 = 1_000;

/// The most principals cached: beyond, the cache is emptied rather than grown.
const POLICY_CACHE_ENTRIES: usize = 10_000;

/// Where a policy that applies to a principal comes from, as SimulatePrincipalPolicy's
/// `SourcePolicyType` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceType {
    /// Inline in the user, group or role.
    Inline(EntityKind),
    AwsManaged,
    UserManaged,
    /// Given with the request (SimulateCustomPolicy's, PolicyInputList).
    None,
}

impl SourceType {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceType::Inline(kind) => kind.label(),
            SourceType::AwsManaged => "aws-managed",
            SourceType::UserManaged => "user-managed",
            SourceType::None => "none",
        }
    }
}

/// One policy that applies, parsed.
#[derive(Debug, Clone)]
pub struct NamedPolicy {
    /// The inline policy's name, or the managed policy's ARN: what the matched statements
    /// report.
    pub id: String,
    pub source: SourceType,
    pub policy: Arc<Policy>,
}

/// A principal and every identity policy that applies to it.
#[derive(Debug, Clone)]
pub struct EffectivePolicies {
    pub principal: Principal,
    pub policies: Vec<NamedPolicy>,
}

impl EffectivePolicies {
    /// The policies as [`policy::evaluate`] takes them.
    pub fn named(&self) -> Vec<(&str, &Policy)> {
        self.policies.iter().map(|it| (it.id.as_str(), &*it.policy)).collect()
    }

    /// Evaluates one request of this principal.
    pub fn evaluate(&self, action: &str, resource: &str, context: &Context) -> Evaluation<'_> {
        let request = Request { principal: &self.principal, action, resource, context };
        policy::evaluate(&self.named(), &request)
    }

    /// Where the policy `id` comes from.
    pub fn source_of(&self, id: &str) -> SourceType {
        self.policies.iter().find(|it| it.id == id).map_or(SourceType::None, |it| it.source)
    }
}

/// The principals' policies read recently.
pub(crate) struct PolicyCache {
    entries: RwLock<HashMap<(EntityKind, String), Cached>>,
    /// Role sessions' session policies, by the session's access key id.
    sessions: RwLock<HashMap<String, CachedSession>>,
    changes: [Changes; 4],
}

struct CachedSession {
    value: Arc<SessionPolicies>,
    read_at_ms: i64,
    changes: [u64; 4],
}

struct Cached {
    value: Option<Arc<EffectivePolicies>>,
    read_at_ms: i64,
    changes: [u64; 4],
}

impl PolicyCache {
    pub(crate) fn new(store: &Store) -> PolicyCache {
        PolicyCache {
            entries: RwLock::default(),
            sessions: RwLock::default(),
            changes: [
                store.watch(USER),
                store.watch(GROUP),
                store.watch(POLICY),
                store.watch(ROLE),
            ],
        }
    }

    fn changes(&self) -> [u64; 4] {
        [0, 1, 2, 3].map(|index| self.changes[index].current())
    }

    fn get(
        &self,
        key: &(EntityKind, String),
        now_ms: i64,
    ) -> Option<Option<Arc<EffectivePolicies>>> {
        let entries = self.entries.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = entries.get(key)?;
        let fresh = (0..POLICY_CACHE_MS).contains(&(now_ms - entry.read_at_ms))
            && entry.changes == self.changes();
        fresh.then(|| entry.value.clone())
    }

    fn put(&self, key: (EntityKind, String), entry: Cached) {
        let mut entries = self.entries.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= POLICY_CACHE_ENTRIES && !entries.contains_key(&key) {
            entries.clear();
        }
        entries.insert(key, entry);
    }

    fn get_session(&self, access_key_id: &str, now_ms: i64) -> Option<Arc<SessionPolicies>> {
        let sessions = self.sessions.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = sessions.get(access_key_id)?;
        let fresh = (0..POLICY_CACHE_MS).contains(&(now_ms - entry.read_at_ms))
            && entry.changes == self.changes();
        fresh.then(|| entry.value.clone())
    }

    fn put_session(&self, access_key_id: &str, entry: CachedSession) {
        let mut sessions = self.sessions.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if sessions.len() >= POLICY_CACHE_ENTRIES && !sessions.contains_key(access_key_id) {
            sessions.clear();
        }
        sessions.insert(access_key_id.to_owned(), entry);
    }
}

impl Identity {
    /// The policies of the user `name` (theirs and their groups'), as of at most
    /// [`POLICY_CACHE_MS`] before `now_ms`; `None` when there is no such user.
    pub async fn user_policies(
        &self,
        name: &str,
        now_ms: i64,
    ) -> Result<Option<Arc<EffectivePolicies>>, awsapi::ApiError> {
        self.cached_policies(EntityKind::User, name, now_ms).await
    }

    /// The policies of the role `name`, as [`Identity::user_policies`].
    pub async fn role_policies(
        &self,
        name: &str,
        now_ms: i64,
    ) -> Result<Option<Arc<EffectivePolicies>>, awsapi::ApiError> {
        self.cached_policies(EntityKind::Role, name, now_ms).await
    }

    /// The session policies of `session` as of at most [`POLICY_CACHE_MS`] before `now_ms`:
    /// its inline policy and its managed session policies' default versions (a managed one
    /// deleted since is left out, allowing nothing); `None` when it has none (it then has its
    /// principal's policies alone). A session with an inline policy alone reads nothing.
    pub async fn session_policies(
        &self,
        session: &Session,
        now_ms: i64,
    ) -> Result<Option<Arc<SessionPolicies>>, awsapi::ApiError> {
        if session.policy_arns.is_empty() {
            return Ok(session.inline_only.clone());
        }
        let key = session.access_key_id.as_str();
        if let Some(found) = self.policy_cache.get_session(key, now_ms) {
            return Ok(Some(found));
        }
        // The counts before the reads: a write committed while they run makes the entry stale.
        let changes = self.policy_cache.changes();
        let mut policies = Vec::new();
        if let Some(inline) = &session.session_policy {
            policies.push((INLINE_SESSION_POLICY.to_owned(), inline.clone()));
        }
        for arn in &session.policy_arns {
            let text = match self.managed_policy(arn).await? {
                Some(Managed::Aws(managed)) => managed.document.clone(),
                Some(Managed::Local(record, _)) => match record.default_document() {
                    Some(text) => text.to_owned(),
                    None => continue,
                },
                None => continue,
            };
            if let Some(policy) = parse_stored(arn, &text) {
                policies.push((arn.clone(), policy));
            }
        }
        let value = Arc::new(SessionPolicies::new(policies));
        let entry = CachedSession { value: value.clone(), read_at_ms: now_ms, changes };
        self.policy_cache.put_session(key, entry);
        Ok(Some(value))
    }

    async fn cached_policies(
        &self,
        kind: EntityKind,
        name: &str,
        now_ms: i64,
    ) -> Result<Option<Arc<EffectivePolicies>>, awsapi::ApiError> {
        let key = (kind, name.to_owned());
        if let Some(found) = self.policy_cache.get(&key, now_ms) {
            return Ok(found);
        }
        // The counts before the reads: a write committed while they run makes the entry stale.
        let changes = self.policy_cache.changes();
        let value = self.read_policies(kind, name).await?.map(Arc::new);
        let entry = Cached { value: value.clone(), read_at_ms: now_ms, changes };
        self.policy_cache.put(key, entry);
        Ok(value)
    }

    /// The policies of a user (with their groups'), a group or a role, read from the store.
    pub async fn read_policies(
        &self,
        kind: EntityKind,
        name: &str,
    ) -> Result<Option<EffectivePolicies>, awsapi::ApiError> {
        let store_error = crate::api::store_error;
        let Some(document) = self.store.get(kind.kind(), name).await.map_err(store_error)? else {
            return Ok(None);
        };
        let body = &document.body;
        let text = |field: &str| body[field].as_str().unwrap_or_default().to_owned();
        let principal = match kind {
            EntityKind::User => {
                let user = UserRecord::from_document(&document);
                Principal {
                    arn: user.arn(&self.account),
                    account: self.account.clone(),
                    user_name: Some(user.name),
                    user_id: user.user_id,
                }
            }
            EntityKind::Group => Principal {
                arn: text("arn"),
                account: self.account.clone(),
                user_name: None,
                user_id: text("groupId"),
            },
            EntityKind::Role => Principal {
                arn: text("arn"),
                account: self.account.clone(),
                user_name: None,
                user_id: text("roleId"),
            },
        };
        let mut sources = vec![(kind, EntityPolicies::from_body(body))];
        if kind == EntityKind::User {
            for group in self.store.list_all(GROUP, None).await.map_err(store_error)? {
                let members = group.body["members"].as_array();
                if members.is_some_and(|it| it.iter().any(|member| *member == *name)) {
                    sources.push((EntityKind::Group, EntityPolicies::from_body(&group.body)));
                }
            }
        }
        let mut policies: Vec<NamedPolicy> = Vec::new();
        for (kind, entity) in sources {
            for (policy_name, text) in &entity.inline {
                if let Some(policy) = parse_stored(policy_name, text) {
                    let source = SourceType::Inline(kind);
                    policies.push(NamedPolicy { id: policy_name.clone(), source, policy });
                }
            }
            for arn in &entity.attached {
                if policies.iter().any(|it| it.id == *arn) {
                    continue;
                }
                let (source, text) = match self.managed_policy(arn).await? {
                    Some(Managed::Aws(managed)) => {
                        (SourceType::AwsManaged, managed.document.clone())
                    }
                    Some(Managed::Local(record, _)) => match record.default_document() {
                        Some(text) => (SourceType::UserManaged, text.to_owned()),
                        None => continue,
                    },
                    None => continue,
                };
                if let Some(policy) = parse_stored(arn, &text) {
                    policies.push(NamedPolicy { id: arn.clone(), source, policy });
                }
            }
        }
        // Every user is also under the account-level branch protection policy.
        if kind == EntityKind::User
            && let Some(protection) = self.branch_protection_policy().await?
            && !policies.iter().any(|it| it.id == protection.id)
        {
            policies.push(protection);
        }
        Ok(Some(EffectivePolicies { principal, policies }))
    }

    /// The account-level branch protection policy
    /// (`policies::BRANCH_PROTECTION_POLICY`), read from the store now (not cached: the
    /// server asks for it afresh for each request that moves a branch, so that a rule set by
    /// another process holds at once), parsed; `None` when there is none.
    pub async fn branch_protection_policy(&self) -> Result<Option<NamedPolicy>, awsapi::ApiError> {
        let arn = crate::policies::branch_protection_policy_arn(&self.account);
        let Some(Managed::Local(record, _)) = self.managed_policy(&arn).await? else {
            return Ok(None);
        };
        let policy = record.default_document().and_then(|it| parse_stored(&arn, it));
        Ok(policy.map(|policy| NamedPolicy { id: arn, source: SourceType::UserManaged, policy }))
    }
}

/// A stored document, parsed; one that no longer parses (it did when written) is logged and
/// left out, so it allows nothing.
fn parse_stored(id: &str, text: &str) -> Option<Arc<Policy>> {
    match Policy::parse_identity(text) {
        Ok(policy) => Some(Arc::new(policy)),
        Err(err) => {
            tracing::error!(policy = %id, %err, "a stored policy document does not parse");
            None
        }
    }
}

#[cfg(test)]
mod tests;
