//! IAM policies through the API: customer-managed policies and their versions (CreatePolicy,
//! GetPolicy, ListPolicies, CreatePolicyVersion, GetPolicyVersion, ListPolicyVersions,
//! SetDefaultPolicyVersion, DeletePolicyVersion, DeletePolicy), the AWS-managed ones of
//! [`crate::catalog`] beside them, their attachment to users, groups and roles
//! (Attach…/Detach…/ListAttached…Policies, ListEntitiesForPolicy), and the inline policies
//! embedded in users, groups and roles (Put…/Get…/Delete…/List…Policy).
//!
//! A customer-managed policy is a document of kind `policy` keyed by its name (IAM's policy
//! names are unique in an account, whatever their path), its body a [`PolicyRecord`]: every
//! version's document as received, and `attachmentCount`. What a user, group or role has
//! of policies is in its own document ([`EntityPolicies`]): `attachedPolicies` (the managed
//! policies' ARNs, in the order attached) and `inlinePolicies` (name to document). So an
//! attachment is one transaction writing the entity and the policy (its count; for an
//! AWS-managed policy, which has no document, the entity alone), and a rename of a user
//! carries its policies.

use std::collections::{BTreeMap, HashMap};

use awsapi::ApiError;
use awsapi::query::Timestamp;
use engine::kinds::{GROUP, POLICY, ROLE, USER};
use engine::store::{Document, StoreError, Write};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::api::{self, Tag, store_error};
use crate::catalog::{self, ManagedPolicy};
use crate::identity::Identity;
use crate::policy::Policy as PolicyDocument;

/// The AWS-managed policy that allows everything: the first admin's.
pub const ADMINISTRATOR_ACCESS: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

/// The field of the installation document that says when the users that existed before
/// policies were enforced were given [`ADMINISTRATOR_ACCESS`].
pub const GRANTED_MARKER: &str = "existingUsersGrantedAdministratorAccess";

/// The account-level customer-managed policy branch protection is written as
/// (`codecommit::protection`): it applies to every user besides their own policies, and
/// [`account_policy_write`] replaces it whenever the rules change. It is that function's
/// alone: the IAM API reads it (GetPolicy, GetPolicyVersion, ListPolicyVersions,
/// ListEntitiesForPolicy, simulation) but refuses, for every caller, what would change or
/// remove it or its attachments, and the creation of another policy of its name
/// ([`protected_policy`]), since either would silently undo branch protection.
pub const BRANCH_PROTECTION_POLICY: &str = "SlipwayBranchProtection";

/// The path of the policies Slipway itself writes.
pub const SLIPWAY_POLICY_PATH: &str = "/slipway/";

/// The ARN of [`BRANCH_PROTECTION_POLICY`] in `account`.
pub fn branch_protection_policy_arn(account: &str) -> String {
    format!("arn:aws:iam::{account}:policy{SLIPWAY_POLICY_PATH}{BRANCH_PROTECTION_POLICY}")
}

/// How every AWS-managed policy's ARN begins.
pub const AWS_POLICY_PREFIX: &str = "arn:aws:iam::aws:policy";

/// The most versions a managed policy keeps.
const MAX_VERSIONS: usize = 5;
/// The most managed policies attached to one user, group or role (IAM's default quota).
const MAX_ATTACHED: usize = 10;
/// The longest managed policy document (IAM's quota, in characters without white space).
/// The generated [`BRANCH_PROTECTION_POLICY`] is exempt ([`account_policy_write`]).
const MAX_MANAGED_POLICY_SIZE: usize = 6_144;
/// The longest trust policy of a role (IAM's quota `ACLSizePerRole`, counted so too).
pub(crate) const MAX_TRUST_POLICY_SIZE: usize = 2_048;

/// A policy document's size as IAM's quotas count it: its characters, white space not
/// counted.
pub(crate) fn policy_size(document: &str) -> usize {
    document.chars().filter(|c| !c.is_whitespace()).count()
}

/// What a managed policy is attached to, or an inline policy embedded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntityKind {
    User,
    Group,
    Role,
}

impl EntityKind {
    pub(crate) fn kind(self) -> &'static str {
        match self {
            EntityKind::User => USER,
            EntityKind::Group => GROUP,
            EntityKind::Role => ROLE,
        }
    }

    /// `user`, `group` or `role`, as IAM's messages name them.
    pub fn label(self) -> &'static str {
        match self {
            EntityKind::User => "user",
            EntityKind::Group => "group",
            EntityKind::Role => "role",
        }
    }

    fn not_found(self, name: &str) -> ApiError {
        api::no_such_entity(&format!("The {} with name {name} cannot be found.", self.label()))
    }

    /// IAM's quota of the inline policies of one of these, all together, in characters
    /// without white space ([`policy_size`]).
    fn inline_quota(self) -> usize {
        match self {
            EntityKind::User => 2_048,
            EntityKind::Group => 5_120,
            EntityKind::Role => 10_240,
        }
    }

    /// IAM's quota name for the managed policies attached to one of these.
    fn quota(self) -> &'static str {
        match self {
            EntityKind::User => "PoliciesPerUser",
            EntityKind::Group => "PoliciesPerGroup",
            EntityKind::Role => "PoliciesPerRole",
        }
    }
}

/// The policies a user, group or role document holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntityPolicies {
    /// The managed policies' ARNs, in the order they were attached.
    pub attached: Vec<String>,
    /// Inline policies: name to document, as received.
    pub inline: BTreeMap<String, String>,
}

impl EntityPolicies {
    pub fn from_body(body: &Value) -> EntityPolicies {
        EntityPolicies {
            attached: serde_json::from_value(body["attachedPolicies"].clone()).unwrap_or_default(),
            inline: serde_json::from_value(body["inlinePolicies"].clone()).unwrap_or_default(),
        }
    }

    fn write_into(&self, body: &mut Value) {
        body["attachedPolicies"] = json!(self.attached);
        body["inlinePolicies"] = json!(self.inline);
    }

    /// `DeleteConflict` when anything is still attached or embedded, as DeleteUser,
    /// DeleteGroup and DeleteRole answer.
    pub(crate) fn check_deletable(&self) -> Result<(), ApiError> {
        if !self.inline.is_empty() {
            return Err(api::delete_conflict("Cannot delete entity, must delete policies first."));
        }
        if !self.attached.is_empty() {
            return Err(api::delete_conflict(
                "Cannot delete entity, must detach all policies first.",
            ));
        }
        Ok(())
    }
}

/// A customer-managed policy as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRecord {
    pub policy_name: String,
    pub policy_id: String,
    pub arn: String,
    pub path: String,
    pub description: Option<String>,
    pub create_date: i64,
    pub update_date: i64,
    pub default_version_id: String,
    pub attachment_count: u32,
    /// The number the next version takes (`v<n>`).
    pub next_version: u32,
    pub versions: Vec<VersionRecord>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// One version of a customer-managed policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionRecord {
    pub version_id: String,
    pub document: String,
    pub create_date: i64,
}

impl PolicyRecord {
    fn from_document(document: &Document) -> Result<PolicyRecord, ApiError> {
        serde_json::from_value(document.body.clone()).map_err(ApiError::internal)
    }

    /// The default version's document.
    pub fn default_document(&self) -> Option<&str> {
        self.versions
            .iter()
            .find(|it| it.version_id == self.default_version_id)
            .map(|it| it.document.as_str())
    }

    pub(crate) fn to_policy(&self, with_tags: bool) -> Policy {
        Policy {
            policy_name: self.policy_name.clone(),
            policy_id: self.policy_id.clone(),
            arn: self.arn.clone(),
            path: self.path.clone(),
            default_version_id: self.default_version_id.clone(),
            attachment_count: self.attachment_count,
            permissions_boundary_usage_count: 0,
            is_attachable: true,
            description: self.description.clone(),
            create_date: Timestamp(self.create_date),
            update_date: Timestamp(self.update_date),
            tags: (with_tags && !self.tags.is_empty()).then(|| self.tags.clone()),
        }
    }

    pub(crate) fn version(&self, version: &VersionRecord) -> PolicyVersion {
        PolicyVersion {
            document: Some(api::url_encode(&version.document)),
            version_id: version.version_id.clone(),
            is_default_version: version.version_id == self.default_version_id,
            create_date: Timestamp(version.create_date),
        }
    }
}

/// An AWS-managed policy's dates, read from the catalog's ISO 8601 text.
fn catalog_date(text: &str) -> Timestamp {
    Timestamp(crate::policy::time_ms(text).unwrap_or_default())
}

/// An AWS-managed policy as IAM's `Policy` shape, attached `count` times here.
pub(crate) fn aws_policy(policy: &ManagedPolicy, count: u32) -> Policy {
    Policy {
        policy_name: policy.name.clone(),
        policy_id: aws_policy_id(policy),
        arn: policy.arn.clone(),
        path: policy.path.clone(),
        default_version_id: policy.default_version_id.clone(),
        attachment_count: count,
        permissions_boundary_usage_count: 0,
        is_attachable: true,
        description: policy.description.clone(),
        create_date: catalog_date(&policy.create_date),
        update_date: catalog_date(&policy.update_date),
        tags: None,
    }
}

/// The id of an AWS-managed policy: the same on every server.
fn aws_policy_id(policy: &ManagedPolicy) -> String {
    api::derived_id("ANPA", 21, &policy.arn)
}

/// An AWS-managed policy's one version, its default.
pub(crate) fn aws_version(policy: &ManagedPolicy, with_document: bool) -> PolicyVersion {
    PolicyVersion {
        document: with_document.then(|| api::url_encode(&policy.document)),
        version_id: policy.default_version_id.clone(),
        is_default_version: true,
        create_date: catalog_date(&policy.update_date),
    }
}

/// IAM's `Policy` shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Policy {
    pub policy_name: String,
    pub policy_id: String,
    pub arn: String,
    pub path: String,
    pub default_version_id: String,
    pub attachment_count: u32,
    pub permissions_boundary_usage_count: u32,
    pub is_attachable: bool,
    pub description: Option<String>,
    pub create_date: Timestamp,
    pub update_date: Timestamp,
    pub tags: Option<Vec<Tag>>,
}

/// IAM's `PolicyVersion` shape (its `Document` URL-encoded, as IAM returns it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyVersion {
    pub document: Option<String>,
    pub version_id: String,
    pub is_default_version: bool,
    pub create_date: Timestamp,
}

/// IAM's `AttachedPolicy` shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttachedPolicy {
    pub policy_name: String,
    pub policy_arn: String,
}

/// A managed policy an ARN names: AWS's, or one of this account's with its document.
pub(crate) enum Managed {
    Aws(&'static ManagedPolicy),
    Local(Box<PolicyRecord>, Document),
}

impl Managed {
    pub(crate) fn name(&self) -> &str {
        match self {
            Managed::Aws(policy) => &policy.name,
            Managed::Local(record, _) => &record.policy_name,
        }
    }
}

impl Identity {
    /// The managed policy `arn` names, if it exists.
    pub(crate) async fn managed_policy(&self, arn: &str) -> Result<Option<Managed>, ApiError> {
        if arn.starts_with(AWS_POLICY_PREFIX) {
            return Ok(catalog::managed_policy(arn).filter(|it| it.arn == arn).map(Managed::Aws));
        }
        let prefix = format!("arn:aws:iam::{}:policy/", self.account);
        if !arn.starts_with(&prefix) {
            return Ok(None);
        }
        let name = arn.rsplit('/').next().unwrap_or_default();
        let Some(document) = self.store.get(POLICY, name).await.map_err(store_error)? else {
            return Ok(None);
        };
        let record = PolicyRecord::from_document(&document)?;
        Ok((record.arn == arn).then(|| Managed::Local(Box::new(record), document)))
    }

    /// Every customer-managed policy, by name.
    pub(crate) async fn local_policies(&self) -> Result<Vec<PolicyRecord>, ApiError> {
        let documents = self.store.list_all(POLICY, None).await.map_err(store_error)?;
        let mut policies =
            documents.iter().map(PolicyRecord::from_document).collect::<Result<Vec<_>, _>>()?;
        policies.sort_by(|a, b| a.policy_name.cmp(&b.policy_name));
        Ok(policies)
    }

    /// Every user, group and role with its name, id, path and policies.
    pub(crate) async fn entities(&self) -> Result<Vec<Entity>, ApiError> {
        let mut entities = Vec::new();
        for kind in [EntityKind::User, EntityKind::Group, EntityKind::Role] {
            let documents = self.store.list_all(kind.kind(), None).await.map_err(store_error)?;
            for document in documents {
                entities.push(Entity::from_document(kind, &document));
            }
        }
        entities.sort_by(|a, b| (a.kind.label(), &a.name).cmp(&(b.kind.label(), &b.name)));
        Ok(entities)
    }

    /// How many users, groups and roles each managed policy is attached to.
    pub(crate) async fn attachment_counts(&self) -> Result<HashMap<String, u32>, ApiError> {
        let mut counts = HashMap::new();
        for entity in self.entities().await? {
            for arn in entity.policies.attached {
                *counts.entry(arn).or_insert(0) += 1;
            }
        }
        Ok(counts)
    }

    /// The document of the user, group or role `name`, or IAM's `NoSuchEntity`.
    async fn entity_document(&self, kind: EntityKind, name: &str) -> Result<Document, ApiError> {
        let document = self.store.get(kind.kind(), name).await.map_err(store_error)?;
        document.ok_or_else(|| kind.not_found(name))
    }
}

impl Identity {
    /// Once per installation (the marker [`GRANTED_MARKER`] in the installation document
    /// `installation_key`): attaches AdministratorAccess to every user that exists, so that
    /// the users of an installation made before policies were enforced keep what they could
    /// do. One transaction with the marker; the users given it, or `None` when it was done
    /// before (or there is no installation document).
    pub async fn grant_existing_users_administrator_access(
        &self,
        installation_key: &str,
        now_ms: i64,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let Some(mut marker) =
            self.store.get(engine::kinds::INSTALLATION, installation_key).await?
        else {
            return Ok(None);
        };
        if !marker.body[GRANTED_MARKER].is_null() {
            return Ok(None);
        }
        let mut writes = Vec::new();
        let mut granted = Vec::new();
        for mut user in self.store.list_all(USER, None).await? {
            let mut policies = EntityPolicies::from_body(&user.body);
            if policies.attached.iter().any(|it| it == ADMINISTRATOR_ACCESS) {
                continue;
            }
            policies.attached.push(ADMINISTRATOR_ACCESS.to_owned());
            policies.write_into(&mut user.body);
            granted.push(user.key.clone());
            let version = user.version;
            writes.push(Write::Update { document: user, expected_version: version });
        }
        marker.body[GRANTED_MARKER] = json!(now_ms);
        let version = marker.version;
        writes.push(Write::Update { document: marker, expected_version: version });
        self.store.apply(writes).await?;
        Ok(Some(granted))
    }

    /// Attaches the managed policy `policy` (an ARN, an AWS-managed policy's name, or the
    /// name of one of this account's) to the user `user`: `slipway user attach-policy`.
    /// The policy's ARN.
    pub async fn attach_policy_to_user(
        &self,
        user: &str,
        policy: &str,
    ) -> Result<String, ApiError> {
        let arn = if policy.starts_with("arn:") {
            policy.to_owned()
        } else if let Some(managed) = catalog::managed_policy(policy) {
            managed.arn.clone()
        } else {
            format!("arn:aws:iam::{}:policy/{policy}", self.account)
        };
        change_attachment(self, EntityKind::User, user, &arn, true).await?;
        Ok(arn)
    }
}

/// A user, group or role, as policies see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entity {
    pub(crate) kind: EntityKind,
    pub(crate) name: String,
    pub(crate) id: String,
    pub(crate) path: String,
    pub(crate) policies: EntityPolicies,
}

impl Entity {
    fn from_document(kind: EntityKind, document: &Document) -> Entity {
        let (id, path) = match kind {
            EntityKind::User => {
                let user = crate::users::UserRecord::from_document(document);
                (user.user_id, user.path)
            }
            EntityKind::Group => {
                let body = &document.body;
                (text(body, "groupId"), text(body, "path"))
            }
            EntityKind::Role => {
                let body = &document.body;
                (text(body, "roleId"), text(body, "path"))
            }
        };
        Entity {
            kind,
            name: document.key.clone(),
            id,
            path,
            policies: EntityPolicies::from_body(&document.body),
        }
    }
}

fn text(body: &Value, name: &str) -> String {
    body[name].as_str().unwrap_or_default().to_owned()
}

/// `NoSuchEntity` for a managed policy ARN that names none.
fn no_such_policy(arn: &str) -> ApiError {
    api::no_such_entity(&format!("Policy {arn} does not exist or is not attachable."))
}

/// AWS-managed policies cannot be changed.
fn aws_managed_refused(arn: &str) -> ApiError {
    api::invalid_input(&format!("Policy {arn} is an AWS managed policy and cannot be changed."))
}

/// `UnmodifiableEntity` for a change through the IAM API of [`BRANCH_PROTECTION_POLICY`]
/// (`arn`), as IAM refuses a change to a protected entity that only its service may make.
fn protected_policy(arn: &str) -> ApiError {
    ApiError::client(
        "UnmodifiableEntity",
        format!(
            "Cannot perform the operation on the protected policy {arn}: Slipway writes it from \
             the branch protection rules. Change them with `slipway branch-protection`."
        ),
    )
}

/// Refuses a change of `arn` when it is [`BRANCH_PROTECTION_POLICY`]'s.
fn check_modifiable(identity: &Identity, arn: &str) -> Result<(), ApiError> {
    if arn == branch_protection_policy_arn(&identity.account) {
        return Err(protected_policy(arn));
    }
    Ok(())
}

/// Parses an identity policy document as IAM checks it.
fn check_document(document: &str) -> Result<(), ApiError> {
    PolicyDocument::parse_identity(document).map(drop).map_err(|err| api::malformed(&err))
}

/// IAM's rule for policy names: 1 to 128 of letters, digits and `+=,.@_-`.
fn check_policy_name(name: &str) -> Result<(), ApiError> {
    api::check_name(name, "policyName", 128)
}

/// The customer-managed policy `arn`, with its document, to change; `NoSuchEntity` when
/// there is none, refused for an AWS-managed one and for [`BRANCH_PROTECTION_POLICY`].
async fn local_policy(
    identity: &Identity,
    arn: &str,
) -> Result<(PolicyRecord, Document), ApiError> {
    check_modifiable(identity, arn)?;
    match identity.managed_policy(arn).await? {
        Some(Managed::Local(record, document)) => Ok((*record, document)),
        Some(Managed::Aws(_)) => Err(aws_managed_refused(arn)),
        None => Err(api::no_such_entity(&format!("Policy {arn} was not found."))),
    }
}

/// Writes a changed policy record back (one transaction, checked against its version).
async fn write_policy(
    identity: &Identity,
    record: &PolicyRecord,
    mut document: Document,
) -> Result<(), ApiError> {
    let version = document.version;
    document.body = serde_json::to_value(record).map_err(ApiError::internal)?;
    identity
        .store
        .apply(vec![Write::Update { document, expected_version: version }])
        .await
        .map_err(store_error)
}

/// The write that makes `document` the default version of the account-level policy
/// [`BRANCH_PROTECTION_POLICY`] (creating it), or deletes the policy when `document` is
/// `None`; `existing` is its store document as read, whose version checks the write. `None`
/// when nothing changes. The document is generated, so IAM's size quota (6,144 characters,
/// [`MAX_MANAGED_POLICY_SIZE`]) is not applied: a deny per rule soon outgrows it, and many
/// rules must still hold. The oldest versions beyond IAM's five are dropped. A
/// customer-managed policy of that name that is not Slipway's (another path) is left alone:
/// an error.
pub fn account_policy_write(
    account: &str,
    existing: Option<&Document>,
    document: Option<&str>,
    now: i64,
) -> Result<Option<Write>, ApiError> {
    let name = BRANCH_PROTECTION_POLICY;
    let arn = branch_protection_policy_arn(account);
    let record = existing.map(PolicyRecord::from_document).transpose()?;
    if let Some(record) = &record
        && record.arn != arn
    {
        return Err(api::entity_exists(&format!(
            "A policy called {name} already exists at {}: branch protection needs the name.",
            record.arn
        )));
    }
    let Some(text) = document else {
        return Ok(
            existing.map(|found| Write::Delete { kind: POLICY.to_owned(), key: found.key.clone() })
        );
    };
    let record = match record {
        Some(record) if record.default_document() == Some(text) => return Ok(None),
        Some(mut record) => {
            let version_id = format!("v{}", record.next_version);
            record.next_version += 1;
            record.versions.push(VersionRecord {
                version_id: version_id.clone(),
                document: text.to_owned(),
                create_date: now,
            });
            record.default_version_id = version_id;
            record.update_date = now;
            while record.versions.len() > MAX_VERSIONS {
                record.versions.remove(0);
            }
            record
        }
        None => PolicyRecord {
            policy_name: name.to_owned(),
            policy_id: api::new_id("ANPA", 21),
            arn,
            path: SLIPWAY_POLICY_PATH.to_owned(),
            description: Some(
                "Branch protection (slipway branch-protection): written by Slipway, changes \
                 are overwritten"
                    .to_owned(),
            ),
            create_date: now,
            update_date: now,
            default_version_id: "v1".to_owned(),
            attachment_count: 0,
            next_version: 2,
            versions: vec![VersionRecord {
                version_id: "v1".to_owned(),
                document: text.to_owned(),
                create_date: now,
            }],
            tags: Vec::new(),
        },
    };
    let body = serde_json::to_value(&record).map_err(ApiError::internal)?;
    Ok(Some(match existing {
        Some(found) => {
            let mut document = found.clone();
            document.body = body;
            Write::Update { document, expected_version: found.version }
        }
        None => Write::Insert(Document {
            kind: POLICY.to_owned(),
            key: name.to_owned(),
            parent: None,
            sort: now,
            version: 0,
            body,
        }),
    }))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreatePolicyRequest {
    pub policy_name: String,
    pub path: Option<String>,
    pub policy_document: String,
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyResponse {
    pub policy: Policy,
}

pub async fn create_policy(
    identity: &Identity,
    input: CreatePolicyRequest,
    now: i64,
) -> Result<PolicyResponse, ApiError> {
    let name = input.policy_name;
    check_policy_name(&name)?;
    let path = input.path.unwrap_or_else(|| "/".to_owned());
    api::check_path(&path, "path")?;
    if name == BRANCH_PROTECTION_POLICY {
        // Its name is branch protection's (policy names are unique in an account, whatever
        // their path): another policy of that name would stand in its place.
        return Err(protected_policy(&branch_protection_policy_arn(&identity.account)));
    }
    check_size(&input.policy_document)?;
    check_document(&input.policy_document)?;
    let mut tags = Vec::new();
    api::merge_tags(&mut tags, input.tags)?;
    let record = PolicyRecord {
        arn: format!("arn:aws:iam::{}:policy{path}{name}", identity.account),
        policy_name: name.clone(),
        policy_id: api::new_id("ANPA", 21),
        path,
        description: input.description,
        create_date: now,
        update_date: now,
        default_version_id: "v1".to_owned(),
        attachment_count: 0,
        next_version: 2,
        versions: vec![VersionRecord {
            version_id: "v1".to_owned(),
            document: input.policy_document,
            create_date: now,
        }],
        tags,
    };
    let document = Document {
        kind: POLICY.to_owned(),
        key: name.clone(),
        parent: None,
        sort: now,
        version: 0,
        body: serde_json::to_value(&record).map_err(ApiError::internal)?,
    };
    match identity.store.apply(vec![Write::Insert(document)]).await {
        Err(StoreError::AlreadyExists { .. }) => Err(api::entity_exists(&format!(
            "A policy called {name} already exists. Duplicate names are not allowed."
        ))),
        other => {
            other.map_err(store_error)?;
            Ok(PolicyResponse { policy: record.to_policy(true) })
        }
    }
}

/// IAM's size quota of a managed policy document (white space not counted).
fn check_size(document: &str) -> Result<(), ApiError> {
    if policy_size(document) > MAX_MANAGED_POLICY_SIZE {
        return Err(api::limit_exceeded(&format!(
            "Cannot exceed quota for PolicySize: {MAX_MANAGED_POLICY_SIZE}"
        )));
    }
    Ok(())
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyArnRequest {
    pub policy_arn: String,
}

pub async fn get_policy(
    identity: &Identity,
    input: PolicyArnRequest,
) -> Result<PolicyResponse, ApiError> {
    let arn = input.policy_arn;
    match identity.managed_policy(&arn).await? {
        Some(Managed::Local(record, _)) => Ok(PolicyResponse { policy: record.to_policy(true) }),
        Some(Managed::Aws(policy)) => {
            let count = identity.attachment_counts().await?.get(&arn).copied().unwrap_or(0);
            Ok(PolicyResponse { policy: aws_policy(policy, count) })
        }
        None => Err(api::no_such_entity(&format!("Policy {arn} was not found."))),
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPoliciesRequest {
    /// `All` (the default), `AWS` or `Local`.
    pub scope: Option<String>,
    #[serde(default)]
    pub only_attached: bool,
    pub path_prefix: Option<String>,
    pub marker: Option<String>,
    pub max_items: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPoliciesResponse {
    pub policies: Vec<Policy>,
    pub is_truncated: bool,
    pub marker: Option<String>,
}

/// The AWS-managed policies (by name), then this account's (by name).
pub async fn list_policies(
    identity: &Identity,
    input: ListPoliciesRequest,
) -> Result<ListPoliciesResponse, ApiError> {
    let scope = input.scope.unwrap_or_else(|| "All".to_owned());
    let (aws, local) = match scope.as_str() {
        "All" => (true, true),
        "AWS" => (true, false),
        "Local" => (false, true),
        other => {
            return Err(api::validation(
                other,
                "scope",
                "satisfy enum value set: [All, AWS, Local]",
            ));
        }
    };
    let prefix = input.path_prefix.unwrap_or_else(|| "/".to_owned());
    let mut policies = Vec::new();
    if aws {
        let counts = identity.attachment_counts().await?;
        let mut managed: Vec<&ManagedPolicy> = catalog::managed_policies().iter().collect();
        managed.sort_by(|a, b| a.name.cmp(&b.name));
        for policy in managed {
            policies.push(aws_policy(policy, counts.get(&policy.arn).copied().unwrap_or(0)));
        }
    }
    if local {
        policies.extend(identity.local_policies().await?.iter().map(|it| it.to_policy(false)));
    }
    policies.retain(|it| {
        it.path.starts_with(&prefix) && (!input.only_attached || it.attachment_count > 0)
    });
    let (policies, is_truncated, marker) =
        api::page(policies, input.marker.as_deref(), input.max_items)?;
    Ok(ListPoliciesResponse { policies, is_truncated, marker })
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreatePolicyVersionRequest {
    pub policy_arn: String,
    pub policy_document: String,
    #[serde(default)]
    pub set_as_default: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyVersionResponse {
    pub policy_version: PolicyVersion,
}

pub async fn create_policy_version(
    identity: &Identity,
    input: CreatePolicyVersionRequest,
    now: i64,
) -> Result<PolicyVersionResponse, ApiError> {
    let (mut record, document) = local_policy(identity, &input.policy_arn).await?;
    check_size(&input.policy_document)?;
    check_document(&input.policy_document)?;
    if record.versions.len() >= MAX_VERSIONS {
        return Err(api::limit_exceeded(&format!(
            "A managed policy can have up to {MAX_VERSIONS} versions. Before you create a new \
             version, you must delete an existing version."
        )));
    }
    let version = VersionRecord {
        version_id: format!("v{}", record.next_version),
        document: input.policy_document,
        create_date: now,
    };
    record.next_version += 1;
    if input.set_as_default {
        record.default_version_id = version.version_id.clone();
    }
    record.update_date = now;
    record.versions.push(version.clone());
    write_policy(identity, &record, document).await?;
    let mut shown = record.version(&version);
    shown.document = None;
    Ok(PolicyVersionResponse { policy_version: shown })
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyVersionRequest {
    pub policy_arn: String,
    pub version_id: String,
}

fn no_such_version(arn: &str, version: &str) -> ApiError {
    api::no_such_entity(&format!("Policy {arn} version {version} does not exist."))
}

pub async fn get_policy_version(
    identity: &Identity,
    input: PolicyVersionRequest,
) -> Result<PolicyVersionResponse, ApiError> {
    let arn = &input.policy_arn;
    let version = match identity.managed_policy(arn).await? {
        Some(Managed::Aws(policy)) if policy.default_version_id == input.version_id => {
            aws_version(policy, true)
        }
        Some(Managed::Local(record, _)) => {
            let found = record.versions.iter().find(|it| it.version_id == input.version_id);
            let found = found.ok_or_else(|| no_such_version(arn, &input.version_id))?;
            record.version(found)
        }
        Some(Managed::Aws(_)) => return Err(no_such_version(arn, &input.version_id)),
        None => return Err(api::no_such_entity(&format!("Policy {arn} was not found."))),
    };
    Ok(PolicyVersionResponse { policy_version: version })
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPolicyVersionsRequest {
    pub policy_arn: String,
    pub marker: Option<String>,
    pub max_items: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPolicyVersionsResponse {
    pub versions: Vec<PolicyVersion>,
    pub is_truncated: bool,
    pub marker: Option<String>,
}

/// The versions, newest first, without their documents (as IAM lists them).
pub async fn list_policy_versions(
    identity: &Identity,
    input: ListPolicyVersionsRequest,
) -> Result<ListPolicyVersionsResponse, ApiError> {
    let arn = &input.policy_arn;
    let versions = match identity.managed_policy(arn).await? {
        Some(Managed::Aws(policy)) => vec![aws_version(policy, false)],
        Some(Managed::Local(record, _)) => record
            .versions
            .iter()
            .rev()
            .map(|it| PolicyVersion { document: None, ..record.version(it) })
            .collect(),
        None => return Err(api::no_such_entity(&format!("Policy {arn} was not found."))),
    };
    let (versions, is_truncated, marker) =
        api::page(versions, input.marker.as_deref(), input.max_items)?;
    Ok(ListPolicyVersionsResponse { versions, is_truncated, marker })
}

pub async fn set_default_policy_version(
    identity: &Identity,
    input: PolicyVersionRequest,
    now: i64,
) -> Result<(), ApiError> {
    let (mut record, document) = local_policy(identity, &input.policy_arn).await?;
    if !record.versions.iter().any(|it| it.version_id == input.version_id) {
        return Err(no_such_version(&input.policy_arn, &input.version_id));
    }
    record.default_version_id = input.version_id;
    record.update_date = now;
    write_policy(identity, &record, document).await
}

pub async fn delete_policy_version(
    identity: &Identity,
    input: PolicyVersionRequest,
) -> Result<(), ApiError> {
    let (mut record, document) = local_policy(identity, &input.policy_arn).await?;
    if !record.versions.iter().any(|it| it.version_id == input.version_id) {
        return Err(no_such_version(&input.policy_arn, &input.version_id));
    }
    if record.default_version_id == input.version_id {
        return Err(api::delete_conflict("Cannot delete the default version of a policy."));
    }
    record.versions.retain(|it| it.version_id != input.version_id);
    write_policy(identity, &record, document).await
}

pub async fn delete_policy(identity: &Identity, input: PolicyArnRequest) -> Result<(), ApiError> {
    let (record, document) = local_policy(identity, &input.policy_arn).await?;
    if record.attachment_count > 0 {
        return Err(api::delete_conflict("Cannot delete a policy attached to entities."));
    }
    if record.versions.len() > 1 {
        return Err(api::delete_conflict(
            "This policy has more than one version. Before you delete a policy, you must delete \
             the policy's versions. The default version is deleted with the policy.",
        ));
    }
    let version = document.version;
    identity
        .store
        .apply(vec![
            Write::Update { document, expected_version: version },
            Write::Delete { kind: POLICY.to_owned(), key: record.policy_name },
        ])
        .await
        .map_err(store_error)
}

/// Attaches (`attach`) or detaches the managed policy `arn` to or from the user, group or
/// role `name`: one transaction writing the entity and, for a customer-managed policy, its
/// attachment count.
pub async fn change_attachment(
    identity: &Identity,
    kind: EntityKind,
    name: &str,
    arn: &str,
    attach: bool,
) -> Result<(), ApiError> {
    check_modifiable(identity, arn)?;
    let mut entity = identity.entity_document(kind, name).await?;
    let managed = identity.managed_policy(arn).await?.ok_or_else(|| no_such_policy(arn))?;
    let mut policies = EntityPolicies::from_body(&entity.body);
    let present = policies.attached.iter().any(|it| it == arn);
    let change: i64 = match (attach, present) {
        (true, true) => return Ok(()),
        (true, false) => {
            if policies.attached.len() >= MAX_ATTACHED {
                return Err(api::limit_exceeded(&format!(
                    "Cannot exceed quota for {}: {MAX_ATTACHED}",
                    kind.quota()
                )));
            }
            policies.attached.push(arn.to_owned());
            1
        }
        (false, false) => {
            return Err(api::no_such_entity(&format!("Policy {arn} was not attached.")));
        }
        (false, true) => {
            policies.attached.retain(|it| it != arn);
            -1
        }
    };
    let entity_version = entity.version;
    policies.write_into(&mut entity.body);
    let mut writes = vec![Write::Update { document: entity, expected_version: entity_version }];
    if let Managed::Local(mut record, mut document) = managed {
        let count = i64::from(record.attachment_count) + change;
        record.attachment_count = u32::try_from(count.max(0)).unwrap_or_default();
        let version = document.version;
        document.body = serde_json::to_value(&*record).map_err(ApiError::internal)?;
        writes.push(Write::Update { document, expected_version: version });
    }
    identity.store.apply(writes).await.map_err(store_error)
}

/// The managed policies attached to the user, group or role `name`, filtered by path.
async fn list_attached(
    identity: &Identity,
    kind: EntityKind,
    name: &str,
    path_prefix: Option<String>,
    marker: Option<String>,
    max_items: Option<u32>,
) -> Result<ListAttachedPoliciesResponse, ApiError> {
    let entity = identity.entity_document(kind, name).await?;
    let prefix = path_prefix.unwrap_or_else(|| "/".to_owned());
    let mut attached = Vec::new();
    for arn in EntityPolicies::from_body(&entity.body).attached {
        let Some(managed) = identity.managed_policy(&arn).await? else { continue };
        let path = match &managed {
            Managed::Aws(policy) => policy.path.clone(),
            Managed::Local(record, _) => record.path.clone(),
        };
        if path.starts_with(&prefix) {
            attached
                .push(AttachedPolicy { policy_name: managed.name().to_owned(), policy_arn: arn });
        }
    }
    let (attached_policies, is_truncated, marker) =
        api::page(attached, marker.as_deref(), max_items)?;
    Ok(ListAttachedPoliciesResponse { attached_policies, is_truncated, marker })
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAttachedPoliciesResponse {
    pub attached_policies: Vec<AttachedPolicy>,
    pub is_truncated: bool,
    pub marker: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListInlinePoliciesResponse {
    pub policy_names: Vec<String>,
    pub is_truncated: bool,
    pub marker: Option<String>,
}

/// Embeds (or replaces) the inline policy `policy` in the user, group or role `name`, within
/// IAM's quota of all its inline policies together ([`EntityKind::inline_quota`]).
async fn put_inline(
    identity: &Identity,
    kind: EntityKind,
    name: &str,
    policy: String,
    document_text: String,
) -> Result<(), ApiError> {
    check_policy_name(&policy)?;
    check_document(&document_text)?;
    let mut entity = identity.entity_document(kind, name).await?;
    let mut policies = EntityPolicies::from_body(&entity.body);
    policies.inline.insert(policy, document_text);
    let quota = kind.inline_quota();
    if policies.inline.values().map(|it| policy_size(it)).sum::<usize>() > quota {
        return Err(api::limit_exceeded(&format!(
            "Maximum policy size of {quota} bytes exceeded for {} {name}",
            kind.label()
        )));
    }
    let version = entity.version;
    policies.write_into(&mut entity.body);
    identity
        .store
        .apply(vec![Write::Update { document: entity, expected_version: version }])
        .await
        .map_err(store_error)
}

fn no_such_inline(kind: EntityKind, policy: &str) -> ApiError {
    api::no_such_entity(&format!("The {} policy with name {policy} cannot be found.", kind.label()))
}

/// The document of the inline policy `policy` of `name`.
async fn get_inline(
    identity: &Identity,
    kind: EntityKind,
    name: &str,
    policy: &str,
) -> Result<String, ApiError> {
    let entity = identity.entity_document(kind, name).await?;
    let policies = EntityPolicies::from_body(&entity.body);
    let document = policies.inline.get(policy).ok_or_else(|| no_such_inline(kind, policy))?;
    Ok(api::url_encode(document))
}

async fn delete_inline(
    identity: &Identity,
    kind: EntityKind,
    name: &str,
    policy: &str,
) -> Result<(), ApiError> {
    let mut entity = identity.entity_document(kind, name).await?;
    let mut policies = EntityPolicies::from_body(&entity.body);
    if policies.inline.remove(policy).is_none() {
        return Err(no_such_inline(kind, policy));
    }
    let version = entity.version;
    policies.write_into(&mut entity.body);
    identity
        .store
        .apply(vec![Write::Update { document: entity, expected_version: version }])
        .await
        .map_err(store_error)
}

async fn list_inline(
    identity: &Identity,
    kind: EntityKind,
    name: &str,
    marker: Option<String>,
    max_items: Option<u32>,
) -> Result<ListInlinePoliciesResponse, ApiError> {
    let entity = identity.entity_document(kind, name).await?;
    let names: Vec<String> = EntityPolicies::from_body(&entity.body).inline.into_keys().collect();
    let (policy_names, is_truncated, marker) = api::page(names, marker.as_deref(), max_items)?;
    Ok(ListInlinePoliciesResponse { policy_names, is_truncated, marker })
}

/// The typed inputs and functions of the policy operations on one kind of entity (users,
/// groups, roles): the same operations, each kind's inputs naming it with its own member
/// (`UserName`, `GroupName`, `RoleName`).
macro_rules! entity_operations {
    (
        $kind:expr, $field:ident,
        $put_request:ident, $name_request:ident, $list_request:ident, $attach_request:ident,
        $list_attached_request:ident, $get_response:ident,
        $put:ident, $get:ident, $delete:ident, $list:ident, $attach:ident, $detach:ident,
        $list_attached:ident
    ) => {
        #[derive(Debug, Clone, Deserialize)]
        #[serde(rename_all = "PascalCase")]
        pub struct $put_request {
            pub $field: String,
            pub policy_name: String,
            pub policy_document: String,
        }

        #[derive(Debug, Clone, Deserialize)]
        #[serde(rename_all = "PascalCase")]
        pub struct $name_request {
            pub $field: String,
            pub policy_name: String,
        }

        #[derive(Debug, Clone, Deserialize)]
        #[serde(rename_all = "PascalCase")]
        pub struct $list_request {
            pub $field: String,
            pub marker: Option<String>,
            pub max_items: Option<u32>,
        }

        #[derive(Debug, Clone, Deserialize)]
        #[serde(rename_all = "PascalCase")]
        pub struct $attach_request {
            pub $field: String,
            pub policy_arn: String,
        }

        #[derive(Debug, Clone, Deserialize)]
        #[serde(rename_all = "PascalCase")]
        pub struct $list_attached_request {
            pub $field: String,
            pub path_prefix: Option<String>,
            pub marker: Option<String>,
            pub max_items: Option<u32>,
        }

        #[derive(Debug, Clone, Serialize)]
        #[serde(rename_all = "PascalCase")]
        pub struct $get_response {
            pub $field: String,
            pub policy_name: String,
            /// URL-encoded, as IAM returns it.
            pub policy_document: String,
        }

        pub async fn $put(identity: &Identity, input: $put_request) -> Result<(), ApiError> {
            put_inline(identity, $kind, &input.$field, input.policy_name, input.policy_document)
                .await
        }

        pub async fn $get(
            identity: &Identity,
            input: $name_request,
        ) -> Result<$get_response, ApiError> {
            let document = get_inline(identity, $kind, &input.$field, &input.policy_name).await?;
            Ok($get_response {
                $field: input.$field,
                policy_name: input.policy_name,
                policy_document: document,
            })
        }

        pub async fn $delete(identity: &Identity, input: $name_request) -> Result<(), ApiError> {
            delete_inline(identity, $kind, &input.$field, &input.policy_name).await
        }

        pub async fn $list(
            identity: &Identity,
            input: $list_request,
        ) -> Result<ListInlinePoliciesResponse, ApiError> {
            list_inline(identity, $kind, &input.$field, input.marker, input.max_items).await
        }

        pub async fn $attach(identity: &Identity, input: $attach_request) -> Result<(), ApiError> {
            change_attachment(identity, $kind, &input.$field, &input.policy_arn, true).await
        }

        pub async fn $detach(identity: &Identity, input: $attach_request) -> Result<(), ApiError> {
            change_attachment(identity, $kind, &input.$field, &input.policy_arn, false).await
        }

        pub async fn $list_attached(
            identity: &Identity,
            input: $list_attached_request,
        ) -> Result<ListAttachedPoliciesResponse, ApiError> {
            let (name, prefix, marker, max) =
                (input.$field, input.path_prefix, input.marker, input.max_items);
            list_attached(identity, $kind, &name, prefix, marker, max).await
        }
    };
}

entity_operations!(
    EntityKind::User,
    user_name,
    PutUserPolicyRequest,
    UserPolicyRequest,
    ListUserPoliciesRequest,
    AttachUserPolicyRequest,
    ListAttachedUserPoliciesRequest,
    GetUserPolicyResponse,
    put_user_policy,
    get_user_policy,
    delete_user_policy,
    list_user_policies,
    attach_user_policy,
    detach_user_policy,
    list_attached_user_policies
);

entity_operations!(
    EntityKind::Group,
    group_name,
    PutGroupPolicyRequest,
    GroupPolicyRequest,
    ListGroupPoliciesRequest,
    AttachGroupPolicyRequest,
    ListAttachedGroupPoliciesRequest,
    GetGroupPolicyResponse,
    put_group_policy,
    get_group_policy,
    delete_group_policy,
    list_group_policies,
    attach_group_policy,
    detach_group_policy,
    list_attached_group_policies
);

entity_operations!(
    EntityKind::Role,
    role_name,
    PutRolePolicyRequest,
    RolePolicyRequest,
    ListRolePoliciesRequest,
    AttachRolePolicyRequest,
    ListAttachedRolePoliciesRequest,
    GetRolePolicyResponse,
    put_role_policy,
    get_role_policy,
    delete_role_policy,
    list_role_policies,
    attach_role_policy,
    detach_role_policy,
    list_attached_role_policies
);

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListEntitiesForPolicyRequest {
    pub policy_arn: String,
    /// `User`, `Role`, `Group`, `LocalManagedPolicy` or `AWSManagedPolicy`.
    pub entity_filter: Option<String>,
    pub path_prefix: Option<String>,
    pub marker: Option<String>,
    pub max_items: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyUser {
    pub user_name: String,
    pub user_id: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyGroup {
    pub group_name: String,
    pub group_id: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyRole {
    pub role_name: String,
    pub role_id: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListEntitiesForPolicyResponse {
    pub policy_groups: Vec<PolicyGroup>,
    pub policy_users: Vec<PolicyUser>,
    pub policy_roles: Vec<PolicyRole>,
    pub is_truncated: bool,
    pub marker: Option<String>,
}

/// The users, groups and roles the policy is attached to, paged by `Marker` and `MaxItems`
/// over the three lists as one sequence (in the order [`Identity::entities`] gives them), as
/// IAM pages them.
pub async fn list_entities_for_policy(
    identity: &Identity,
    input: ListEntitiesForPolicyRequest,
) -> Result<ListEntitiesForPolicyResponse, ApiError> {
    let arn = &input.policy_arn;
    if identity.managed_policy(arn).await?.is_none() {
        return Err(api::no_such_entity(&format!("Policy {arn} was not found.")));
    }
    let wanted = |kind: EntityKind| match input.entity_filter.as_deref() {
        None | Some("LocalManagedPolicy" | "AWSManagedPolicy") => true,
        Some(filter) => filter.eq_ignore_ascii_case(kind.label()),
    };
    let prefix = input.path_prefix.clone().unwrap_or_else(|| "/".to_owned());
    let mut found = Vec::new();
    for entity in identity.entities().await? {
        let attached = entity.policies.attached.iter().any(|it| it == arn);
        if attached && wanted(entity.kind) && entity.path.starts_with(&prefix) {
            found.push((entity.kind, entity.name, entity.id));
        }
    }
    let (page, is_truncated, marker) = api::page(found, input.marker.as_deref(), input.max_items)?;
    let mut answer = ListEntitiesForPolicyResponse {
        policy_groups: Vec::new(),
        policy_users: Vec::new(),
        policy_roles: Vec::new(),
        is_truncated,
        marker,
    };
    for (kind, name, id) in page {
        match kind {
            EntityKind::User => {
                answer.policy_users.push(PolicyUser { user_name: name, user_id: id })
            }
            EntityKind::Group => {
                answer.policy_groups.push(PolicyGroup { group_name: name, group_id: id })
            }
            EntityKind::Role => {
                answer.policy_roles.push(PolicyRole { role_name: name, role_id: id })
            }
        }
    }
    Ok(answer)
}

#[cfg(test)]
mod tests;
