//! IAM roles: CreateRole (with its trust policy, checked as one), GetRole, ListRoles,
//! DeleteRole (refused while policies are attached or embedded), UpdateAssumeRolePolicy,
//! TagRole, UntagRole and ListRoleTags. Their permissions policies are in
//! [`crate::policies`].
//!
//! A role is a document of kind `role` keyed by its name, with the body `{roleName, roleId,
//! path, arn, createDate, assumeRolePolicyDocument, description?, maxSessionDuration, tags,
//! attachedPolicies, inlinePolicies}` (the trust policy as received).

use awsapi::ApiError;
use awsapi::query::Timestamp;
use engine::kinds::ROLE;
use engine::store::{Document, StoreError, Write};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::api::{self, Tag, store_error};
use crate::identity::Identity;
use crate::policies::EntityPolicies;
use crate::policy::Policy as PolicyDocument;

/// A session's shortest and longest duration (seconds), and the default.
const SESSION_SECONDS: std::ops::RangeInclusive<u32> = 3_600..=43_200;

/// A role as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleRecord {
    pub role_name: String,
    pub role_id: String,
    pub path: String,
    pub arn: String,
    pub create_date: i64,
    pub assume_role_policy_document: String,
    pub description: Option<String>,
    pub max_session_duration: u32,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl RoleRecord {
    pub(crate) fn from_document(document: &Document) -> Result<RoleRecord, ApiError> {
        serde_json::from_value(document.body.clone()).map_err(ApiError::internal)
    }

    /// Writes the record into `body`, keeping its policies.
    fn write_into(&self, body: &mut Value) -> Result<(), ApiError> {
        let Value::Object(fields) = serde_json::to_value(self).map_err(ApiError::internal)? else {
            return Err(ApiError::internal("a role is written as an object"));
        };
        for (name, value) in fields {
            body[name] = value;
        }
        Ok(())
    }

    /// IAM's `Role` shape; its tags only when `with_tags`.
    pub fn to_role(&self, with_tags: bool) -> Role {
        Role {
            path: self.path.clone(),
            role_name: self.role_name.clone(),
            role_id: self.role_id.clone(),
            arn: self.arn.clone(),
            create_date: Timestamp(self.create_date),
            assume_role_policy_document: api::url_encode(&self.assume_role_policy_document),
            description: self.description.clone(),
            max_session_duration: self.max_session_duration,
            tags: (with_tags && !self.tags.is_empty()).then(|| self.tags.clone()),
        }
    }
}

/// IAM's `Role` shape (the trust policy URL-encoded, as IAM returns it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Role {
    pub path: String,
    pub role_name: String,
    pub role_id: String,
    pub arn: String,
    pub create_date: Timestamp,
    pub assume_role_policy_document: String,
    pub description: Option<String>,
    pub max_session_duration: u32,
    pub tags: Option<Vec<Tag>>,
}

/// `NoSuchEntity` for the role `name`.
pub(crate) fn no_such_role(name: &str) -> ApiError {
    api::no_such_entity(&format!("The role with name {name} cannot be found."))
}

impl Identity {
    /// The role `name` and its document, if it exists.
    pub async fn role(&self, name: &str) -> Result<Option<(RoleRecord, Document)>, ApiError> {
        let document = self.store.get(ROLE, name).await.map_err(store_error)?;
        match document {
            Some(document) => Ok(Some((RoleRecord::from_document(&document)?, document))),
            None => Ok(None),
        }
    }

    async fn existing_role(&self, name: &str) -> Result<(RoleRecord, Document), ApiError> {
        self.role(name).await?.ok_or_else(|| no_such_role(name))
    }

    /// Every role, by name.
    pub async fn roles(&self) -> Result<Vec<(RoleRecord, Document)>, ApiError> {
        let documents = self.store.list_all(ROLE, None).await.map_err(store_error)?;
        let mut roles = Vec::new();
        for document in documents {
            roles.push((RoleRecord::from_document(&document)?, document));
        }
        roles.sort_by(|a, b| a.0.role_name.cmp(&b.0.role_name));
        Ok(roles)
    }
}

/// Checks a trust policy as IAM does: within the quota `ACLSizePerRole` (white space not
/// counted), else `LimitExceeded`; then `MalformedPolicyDocument` with its message.
fn check_trust(document: &str) -> Result<(), ApiError> {
    let quota = crate::policies::MAX_TRUST_POLICY_SIZE;
    if crate::policies::policy_size(document) > quota {
        return Err(api::limit_exceeded(&format!(
            "Cannot exceed quota for ACLSizePerRole: {quota}"
        )));
    }
    PolicyDocument::parse_trust(document).map(drop).map_err(|err| api::malformed(&err))
}

/// Writes a changed role back, in one transaction checked against the version read.
async fn write_role(
    identity: &Identity,
    record: &RoleRecord,
    mut document: Document,
) -> Result<(), ApiError> {
    let version = document.version;
    record.write_into(&mut document.body)?;
    identity
        .store
        .apply(vec![Write::Update { document, expected_version: version }])
        .await
        .map_err(store_error)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateRoleRequest {
    pub path: Option<String>,
    pub role_name: String,
    pub assume_role_policy_document: String,
    pub description: Option<String>,
    pub max_session_duration: Option<u32>,
    pub permissions_boundary: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleResponse {
    pub role: Role,
}

pub async fn create_role(
    identity: &Identity,
    input: CreateRoleRequest,
    now: i64,
) -> Result<RoleResponse, ApiError> {
    let name = input.role_name;
    api::check_name(&name, "roleName", 64)?;
    let path = input.path.unwrap_or_else(|| "/".to_owned());
    api::check_path(&path, "path")?;
    if input.permissions_boundary.is_some() {
        return Err(api::invalid_input("Permissions boundaries are not supported on this server."));
    }
    let max_session_duration = input.max_session_duration.unwrap_or(*SESSION_SECONDS.start());
    if !SESSION_SECONDS.contains(&max_session_duration) {
        return Err(api::validation(
            &max_session_duration.to_string(),
            "maxSessionDuration",
            "have value between 3600 and 43200",
        ));
    }
    check_trust(&input.assume_role_policy_document)?;
    let mut tags = Vec::new();
    api::merge_tags(&mut tags, input.tags)?;
    let record = RoleRecord {
        arn: format!("arn:aws:iam::{}:role{path}{name}", identity.account),
        role_name: name.clone(),
        role_id: api::new_id("AROA", 21),
        path,
        create_date: now,
        assume_role_policy_document: input.assume_role_policy_document,
        description: input.description,
        max_session_duration,
        tags,
    };
    let mut document = Document {
        kind: ROLE.to_owned(),
        key: name.clone(),
        parent: None,
        sort: now,
        version: 0,
        body: json!({"attachedPolicies": [], "inlinePolicies": {}}),
    };
    record.write_into(&mut document.body)?;
    match identity.store.apply(vec![Write::Insert(document)]).await {
        Err(StoreError::AlreadyExists { .. }) => {
            Err(api::entity_exists(&format!("Role with name {name} already exists.")))
        }
        other => {
            other.map_err(store_error)?;
            Ok(RoleResponse { role: record.to_role(true) })
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleNameRequest {
    pub role_name: String,
}

pub async fn get_role(
    identity: &Identity,
    input: RoleNameRequest,
) -> Result<RoleResponse, ApiError> {
    let (record, _) = identity.existing_role(&input.role_name).await?;
    Ok(RoleResponse { role: record.to_role(true) })
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListRolesRequest {
    pub path_prefix: Option<String>,
    pub marker: Option<String>,
    pub max_items: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListRolesResponse {
    pub roles: Vec<Role>,
    pub is_truncated: bool,
    pub marker: Option<String>,
}

pub async fn list_roles(
    identity: &Identity,
    input: ListRolesRequest,
) -> Result<ListRolesResponse, ApiError> {
    let prefix = input.path_prefix.unwrap_or_else(|| "/".to_owned());
    let roles: Vec<Role> = identity
        .roles()
        .await?
        .into_iter()
        .filter(|(it, _)| it.path.starts_with(&prefix))
        .map(|(it, _)| it.to_role(false))
        .collect();
    let (roles, is_truncated, marker) = api::page(roles, input.marker.as_deref(), input.max_items)?;
    Ok(ListRolesResponse { roles, is_truncated, marker })
}

pub async fn delete_role(identity: &Identity, input: RoleNameRequest) -> Result<(), ApiError> {
    let (_, document) = identity.existing_role(&input.role_name).await?;
    EntityPolicies::from_body(&document.body).check_deletable()?;
    let version = document.version;
    identity
        .store
        .apply(vec![
            Write::Update { document, expected_version: version },
            Write::Delete { kind: ROLE.to_owned(), key: input.role_name },
        ])
        .await
        .map_err(store_error)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateAssumeRolePolicyRequest {
    pub role_name: String,
    pub policy_document: String,
}

pub async fn update_assume_role_policy(
    identity: &Identity,
    input: UpdateAssumeRolePolicyRequest,
) -> Result<(), ApiError> {
    let (mut record, document) = identity.existing_role(&input.role_name).await?;
    check_trust(&input.policy_document)?;
    record.assume_role_policy_document = input.policy_document;
    write_role(identity, &record, document).await
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagRoleRequest {
    pub role_name: String,
    pub tags: Vec<Tag>,
}

pub async fn tag_role(identity: &Identity, input: TagRoleRequest) -> Result<(), ApiError> {
    let (mut record, document) = identity.existing_role(&input.role_name).await?;
    api::merge_tags(&mut record.tags, input.tags)?;
    write_role(identity, &record, document).await
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagRoleRequest {
    pub role_name: String,
    pub tag_keys: Vec<String>,
}

pub async fn untag_role(identity: &Identity, input: UntagRoleRequest) -> Result<(), ApiError> {
    let (mut record, document) = identity.existing_role(&input.role_name).await?;
    record.tags.retain(|tag| !input.tag_keys.contains(&tag.key));
    write_role(identity, &record, document).await
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListRoleTagsRequest {
    pub role_name: String,
    pub marker: Option<String>,
    pub max_items: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListRoleTagsResponse {
    pub tags: Vec<Tag>,
    pub is_truncated: bool,
    pub marker: Option<String>,
}

pub async fn list_role_tags(
    identity: &Identity,
    input: ListRoleTagsRequest,
) -> Result<ListRoleTagsResponse, ApiError> {
    let (record, _) = identity.existing_role(&input.role_name).await?;
    let (tags, is_truncated, marker) =
        api::page(record.tags, input.marker.as_deref(), input.max_items)?;
    Ok(ListRoleTagsResponse { tags, is_truncated, marker })
}

#[cfg(test)]
mod tests;
