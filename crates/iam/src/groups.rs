//! IAM groups: CreateGroup, GetGroup (with its users), ListGroups, ListGroupsForUser,
//! AddUserToGroup, RemoveUserFromGroup and DeleteGroup (refused while it has members or
//! policies).
//!
//! A group is a document of kind `group` keyed by its name, with the body
//! `{groupName, groupId, path, arn, createDate, members}`: `members` is the sorted list of
//! its users' names, so a membership change is one write of the group (with the user's
//! document written back unchanged in the same transaction, so that a user deleted meanwhile
//! makes it fail rather than leave a dangling member).

use awsapi::ApiError;
use awsapi::query::Timestamp;
use engine::kinds::{GROUP, USER};
use engine::store::{Document, StoreError, Write};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::api::{self, store_error};
use crate::identity::Identity;
use crate::users::{User, UserRecord};

/// IAM's `Group` shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Group {
    pub path: String,
    pub group_name: String,
    pub group_id: String,
    pub arn: String,
    pub create_date: Timestamp,
}

/// A group as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRecord {
    pub group: Group,
    pub members: Vec<String>,
}

impl GroupRecord {
    fn from_document(document: &Document) -> GroupRecord {
        let body = &document.body;
        let text = |name: &str| body[name].as_str().unwrap_or_default().to_owned();
        GroupRecord {
            group: Group {
                path: text("path"),
                group_name: document.key.clone(),
                group_id: text("groupId"),
                arn: text("arn"),
                create_date: Timestamp(body["createDate"].as_i64().unwrap_or(document.sort)),
            },
            members: serde_json::from_value(body["members"].clone()).unwrap_or_default(),
        }
    }
}

/// `NoSuchEntity` for the group `name`.
fn no_such_group(name: &str) -> ApiError {
    api::no_such_entity(&format!("The group with name {name} cannot be found."))
}

impl Identity {
    /// The groups `user` is a member of, by name.
    pub async fn groups_of(&self, user: &str) -> Result<Vec<GroupRecord>, StoreError> {
        Ok(self
            .groups()
            .await?
            .into_iter()
            .filter(|it| it.members.iter().any(|m| m == user))
            .collect())
    }

    /// Every group, by name.
    pub async fn groups(&self) -> Result<Vec<GroupRecord>, StoreError> {
        let mut groups: Vec<GroupRecord> = self
            .store
            .list_all(GROUP, None)
            .await?
            .iter()
            .map(GroupRecord::from_document)
            .collect();
        groups.sort_by(|a, b| a.group.group_name.cmp(&b.group.group_name));
        Ok(groups)
    }

    /// The group `name`, if it exists.
    pub async fn group(&self, name: &str) -> Result<Option<GroupRecord>, StoreError> {
        Ok(self.store.get(GROUP, name).await?.as_ref().map(GroupRecord::from_document))
    }

    async fn existing_group(&self, name: &str) -> Result<(GroupRecord, Document), ApiError> {
        let document = self.store.get(GROUP, name).await.map_err(store_error)?;
        let document = document.ok_or_else(|| no_such_group(name))?;
        Ok((GroupRecord::from_document(&document), document))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateGroupRequest {
    pub path: Option<String>,
    pub group_name: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateGroupResponse {
    pub group: Group,
}

pub async fn create_group(
    identity: &Identity,
    input: CreateGroupRequest,
    now: i64,
) -> Result<CreateGroupResponse, ApiError> {
    let name = input.group_name;
    api::check_name(&name, "groupName", 128)?;
    let path = input.path.unwrap_or_else(|| "/".to_owned());
    api::check_path(&path, "path")?;
    let group = Group {
        arn: format!("arn:aws:iam::{}:group{path}{name}", identity.account),
        path,
        group_name: name.clone(),
        group_id: api::new_id("AGPA", 21),
        create_date: Timestamp(now),
    };
    let document = Document {
        kind: GROUP.to_owned(),
        key: name.clone(),
        parent: None,
        sort: now,
        version: 0,
        body: json!({
            "groupName": name,
            "groupId": group.group_id,
            "path": group.path,
            "arn": group.arn,
            "createDate": now,
            "members": [],
        }),
    };
    match identity.store.apply(vec![Write::Insert(document)]).await {
        Err(StoreError::AlreadyExists { .. }) => {
            Err(api::entity_exists(&format!("Group with name {name} already exists.")))
        }
        other => {
            other.map_err(store_error)?;
            Ok(CreateGroupResponse { group })
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetGroupRequest {
    pub group_name: String,
    pub marker: Option<String>,
    pub max_items: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetGroupResponse {
    pub group: Group,
    pub users: Vec<User>,
    pub is_truncated: bool,
    pub marker: Option<String>,
}

pub async fn get_group(
    identity: &Identity,
    input: GetGroupRequest,
) -> Result<GetGroupResponse, ApiError> {
    let (record, _) = identity.existing_group(&input.group_name).await?;
    let documents = identity.store.get_many(USER, &record.members).await.map_err(store_error)?;
    let mut users: Vec<User> = documents
        .iter()
        .map(|it| UserRecord::from_document(it).to_user(&identity.account, false))
        .collect();
    users.sort_by(|a, b| a.user_name.cmp(&b.user_name));
    let (users, is_truncated, marker) = api::page(users, input.marker.as_deref(), input.max_items)?;
    Ok(GetGroupResponse { group: record.group, users, is_truncated, marker })
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListGroupsRequest {
    pub path_prefix: Option<String>,
    pub marker: Option<String>,
    pub max_items: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListGroupsResponse {
    pub groups: Vec<Group>,
    pub is_truncated: bool,
    pub marker: Option<String>,
}

pub async fn list_groups(
    identity: &Identity,
    input: ListGroupsRequest,
) -> Result<ListGroupsResponse, ApiError> {
    let prefix = input.path_prefix.unwrap_or_else(|| "/".to_owned());
    let groups: Vec<Group> = identity
        .groups()
        .await
        .map_err(store_error)?
        .into_iter()
        .map(|it| it.group)
        .filter(|it| it.path.starts_with(&prefix))
        .collect();
    let (groups, is_truncated, marker) =
        api::page(groups, input.marker.as_deref(), input.max_items)?;
    Ok(ListGroupsResponse { groups, is_truncated, marker })
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListGroupsForUserRequest {
    pub user_name: String,
    pub marker: Option<String>,
    pub max_items: Option<u32>,
}

pub async fn list_groups_for_user(
    identity: &Identity,
    input: ListGroupsForUserRequest,
) -> Result<ListGroupsResponse, ApiError> {
    if identity.user(&input.user_name).await.map_err(store_error)?.is_none() {
        return Err(api::no_such_user(&input.user_name));
    }
    let groups: Vec<Group> = identity
        .groups_of(&input.user_name)
        .await
        .map_err(store_error)?
        .into_iter()
        .map(|it| it.group)
        .collect();
    let (groups, is_truncated, marker) =
        api::page(groups, input.marker.as_deref(), input.max_items)?;
    Ok(ListGroupsResponse { groups, is_truncated, marker })
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupMembershipRequest {
    pub group_name: String,
    pub user_name: String,
}

/// Adds or removes (`add`) the user to or from the group, in one transaction with the user's
/// document written back unchanged.
async fn change_membership(
    identity: &Identity,
    input: GroupMembershipRequest,
    add: bool,
) -> Result<(), ApiError> {
    let (mut record, mut group) = identity.existing_group(&input.group_name).await?;
    let user = identity.user(&input.user_name).await.map_err(store_error)?;
    let Some((_, user)) = user else { return Err(api::no_such_user(&input.user_name)) };
    let name = input.user_name;
    let present = record.members.contains(&name);
    match (add, present) {
        (true, true) => return Ok(()),
        (true, false) => {
            record.members.push(name);
            record.members.sort();
        }
        (false, false) => {
            return Err(api::no_such_entity(&format!(
                "The user with name {name} cannot be found in group {}.",
                record.group.group_name
            )));
        }
        (false, true) => record.members.retain(|it| *it != name),
    }
    let group_version = group.version;
    group.body["members"] = json!(record.members);
    let user_version = user.version;
    identity
        .store
        .apply(vec![
            Write::Update { document: group, expected_version: group_version },
            Write::Update { document: user, expected_version: user_version },
        ])
        .await
        .map_err(store_error)
}

pub async fn add_user_to_group(
    identity: &Identity,
    input: GroupMembershipRequest,
) -> Result<(), ApiError> {
    change_membership(identity, input, true).await
}

pub async fn remove_user_from_group(
    identity: &Identity,
    input: GroupMembershipRequest,
) -> Result<(), ApiError> {
    change_membership(identity, input, false).await
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteGroupRequest {
    pub group_name: String,
}

pub async fn delete_group(identity: &Identity, input: DeleteGroupRequest) -> Result<(), ApiError> {
    let (record, document) = identity.existing_group(&input.group_name).await?;
    if !record.members.is_empty() {
        return Err(api::delete_conflict(
            "Cannot delete entity, must remove users from group first.",
        ));
    }
    crate::policies::EntityPolicies::from_body(&document.body).check_deletable()?;
    let version = document.version;
    identity
        .store
        .apply(vec![
            Write::Update { document, expected_version: version },
            Write::Delete { kind: GROUP.to_owned(), key: input.group_name },
        ])
        .await
        .map_err(store_error)
}

#[cfg(test)]
mod tests;
