//! IAM users through the API: CreateUser, GetUser, ListUsers, UpdateUser (renames carry the
//! user's keys, credentials, SSH keys, groups, policies and console password), DeleteUser
//! (refused while anything is still attached), TagUser, UntagUser and ListUserTags.
//!
//! A user is a document of kind `user` keyed by its name, with the body
//! `{userName, arn, createDate, userId, path, tags, consolePasswordHash?}` (`createDate` in
//! milliseconds). Users made before ids were stored (by `slipway user create` on an older
//! server) have no `userId`: theirs is derived from their name and creation time
//! ([`crate::api::derived_id`]), the same at every reading, and stored with the first change
//! of the user, so that a rename keeps it.

use awsapi::query::Timestamp;
use awsapi::{ApiError, Caller};
use engine::kinds::{ACCESS_KEY, CONSOLE_SESSION, GIT_CREDENTIAL, GROUP, SSH_PUBLIC_KEY, USER};
use engine::store::{Document, StoreError, Write};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::api::{self, Tag, no_such_user, store_error};
use crate::identity::{Identity, IdentityError};

/// A user as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub name: String,
    pub path: String,
    pub user_id: String,
    pub created_ms: i64,
    pub tags: Vec<Tag>,
    /// Whether the user has a console password.
    pub has_password: bool,
}

impl UserRecord {
    pub(crate) fn from_document(document: &Document) -> UserRecord {
        let body = &document.body;
        let name = body["userName"].as_str().unwrap_or(&document.key).to_owned();
        let created_ms = body["createDate"].as_i64().unwrap_or(document.sort);
        let user_id = match body["userId"].as_str() {
            Some(id) => id.to_owned(),
            None => legacy_user_id(&name, created_ms),
        };
        UserRecord {
            path: body["path"].as_str().unwrap_or("/").to_owned(),
            user_id,
            created_ms,
            tags: serde_json::from_value(body["tags"].clone()).unwrap_or_default(),
            has_password: body["consolePasswordHash"].is_string(),
            name,
        }
    }

    /// The user's ARN: `arn:aws:iam::<account>:user<path><name>`.
    pub fn arn(&self, account: &str) -> String {
        format!("arn:aws:iam::{account}:user{}{}", self.path, self.name)
    }

    /// The user as IAM's `User` shape; its tags only when `with_tags` (GetUser shows them,
    /// ListUsers does not) and it has any.
    pub fn to_user(&self, account: &str, with_tags: bool) -> User {
        User {
            path: self.path.clone(),
            user_name: self.name.clone(),
            user_id: self.user_id.clone(),
            arn: self.arn(account),
            create_date: Timestamp(self.created_ms),
            tags: (with_tags && !self.tags.is_empty()).then(|| self.tags.clone()),
        }
    }

    /// Writes this record into `document`'s body (keeping what else it holds: the console
    /// password).
    fn write_into(&self, document: &mut Document, account: &str) {
        document.key = self.name.clone();
        let body = &mut document.body;
        body["userName"] = json!(self.name);
        body["arn"] = json!(self.arn(account));
        body["createDate"] = json!(self.created_ms);
        body["userId"] = json!(self.user_id);
        body["path"] = json!(self.path);
        body["tags"] = json!(self.tags);
    }
}

/// The id of a user made before ids were stored.
fn legacy_user_id(name: &str, created_ms: i64) -> String {
    api::derived_id("AIDA", 21, &format!("user:{name}:{created_ms}"))
}

/// IAM's `User` shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct User {
    pub path: String,
    pub user_name: String,
    pub user_id: String,
    pub arn: String,
    pub create_date: Timestamp,
    pub tags: Option<Vec<Tag>>,
}

impl Identity {
    /// The user `name` and its document, if it exists.
    pub async fn user(&self, name: &str) -> Result<Option<(UserRecord, Document)>, StoreError> {
        let document = self.store.get(USER, name).await?;
        Ok(document.map(|it| (UserRecord::from_document(&it), it)))
    }

    /// Creates the user `name` with `path` and `tags` (checked by the caller), its id fresh.
    pub async fn insert_user(
        &self,
        name: &str,
        path: &str,
        tags: Vec<Tag>,
        now_ms: i64,
    ) -> Result<UserRecord, IdentityError> {
        self.insert_user_with_policies(name, path, tags, &[], now_ms).await
    }

    /// [`Identity::insert_user`] with the managed policies `attached` (ARNs of AWS-managed
    /// policies, which need no count kept) in the same transaction: the first admin.
    pub(crate) async fn insert_user_with_policies(
        &self,
        name: &str,
        path: &str,
        tags: Vec<Tag>,
        attached: &[&str],
        now_ms: i64,
    ) -> Result<UserRecord, IdentityError> {
        let valid = !name.is_empty()
            && name.len() <= 64
            && name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
        if !valid {
            return Err(IdentityError::InvalidName(name.to_owned()));
        }
        let record = UserRecord {
            name: name.to_owned(),
            path: path.to_owned(),
            user_id: api::new_id("AIDA", 21),
            created_ms: now_ms,
            tags,
            has_password: false,
        };
        let mut document = Document {
            kind: USER.to_owned(),
            key: name.to_owned(),
            parent: None,
            sort: now_ms,
            version: 0,
            body: json!({}),
        };
        record.write_into(&mut document, &self.account);
        if !attached.is_empty() {
            document.body["attachedPolicies"] = json!(attached);
        }
        match self.store.apply(vec![Write::Insert(document)]).await {
            Err(StoreError::AlreadyExists { .. }) => {
                Err(IdentityError::UserExists(name.to_owned()))
            }
            other => {
                other?;
                Ok(record)
            }
        }
    }

    /// The user `name`, or IAM's `NoSuchEntity`.
    async fn existing_user(&self, name: &str) -> Result<(UserRecord, Document), ApiError> {
        self.user(name).await.map_err(store_error)?.ok_or_else(|| no_such_user(name))
    }

    /// Every user, by name.
    pub async fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let mut users: Vec<UserRecord> =
            self.store.list_all(USER, None).await?.iter().map(UserRecord::from_document).collect();
        users.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(users)
    }
}

/// The user an operation names, or the caller when it names none (as IAM does); a role's
/// session, which is no user, must name one (IAM's `ValidationError`,
/// [`non_user_credentials`]).
pub fn user_or_caller(name: Option<String>, caller: &Caller) -> Result<String, ApiError> {
    match name.filter(|it| !it.is_empty()) {
        Some(name) => Ok(name),
        None if is_role_session(caller) => Err(non_user_credentials()),
        None => Ok(caller.user.clone()),
    }
}

/// Whether `caller` acts as a role's session: the server names such a caller
/// `<role>/<session>`, which no user's name can be (IAM's names have no `/`).
pub fn is_role_session(caller: &Caller) -> bool {
    caller.user.contains('/')
}

/// IAM's answer to an operation that defaults to the calling user, called without a user name
/// by a role's session.
pub fn non_user_credentials() -> ApiError {
    ApiError::client(
        "ValidationError",
        "Must specify userName when calling with non-User credentials",
    )
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateUserRequest {
    pub user_name: String,
    pub path: Option<String>,
    pub permissions_boundary: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateUserResponse {
    pub user: User,
}

pub async fn create_user(
    identity: &Identity,
    input: CreateUserRequest,
    now: i64,
) -> Result<CreateUserResponse, ApiError> {
    api::check_name(&input.user_name, "userName", 64)?;
    let path = input.path.unwrap_or_else(|| "/".to_owned());
    api::check_path(&path, "path")?;
    if input.permissions_boundary.is_some() {
        return Err(api::invalid_input("Permissions boundaries are not supported on this server."));
    }
    let mut tags = Vec::new();
    api::merge_tags(&mut tags, input.tags)?;
    let record = identity.insert_user(&input.user_name, &path, tags, now).await?;
    Ok(CreateUserResponse { user: record.to_user(&identity.account, true) })
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetUserRequest {
    pub user_name: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetUserResponse {
    pub user: User,
}

pub async fn get_user(
    identity: &Identity,
    caller: &Caller,
    input: GetUserRequest,
) -> Result<GetUserResponse, ApiError> {
    let name = user_or_caller(input.user_name, caller)?;
    let (record, _) = identity.existing_user(&name).await?;
    Ok(GetUserResponse { user: record.to_user(&identity.account, true) })
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListUsersRequest {
    pub path_prefix: Option<String>,
    pub marker: Option<String>,
    pub max_items: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListUsersResponse {
    pub users: Vec<User>,
    pub is_truncated: bool,
    pub marker: Option<String>,
}

pub async fn list_users(
    identity: &Identity,
    input: ListUsersRequest,
) -> Result<ListUsersResponse, ApiError> {
    let prefix = input.path_prefix.unwrap_or_else(|| "/".to_owned());
    let users: Vec<User> = identity
        .users()
        .await
        .map_err(store_error)?
        .into_iter()
        .filter(|it| it.path.starts_with(&prefix))
        .map(|it| it.to_user(&identity.account, false))
        .collect();
    let (users, is_truncated, marker) = api::page(users, input.marker.as_deref(), input.max_items)?;
    Ok(ListUsersResponse { users, is_truncated, marker })
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateUserRequest {
    pub user_name: String,
    pub new_path: Option<String>,
    pub new_user_name: Option<String>,
}

/// Moves or renames a user in one transaction: a rename moves the user's document to its
/// new name and re-parents everything of the user's (access keys, git credentials, SSH
/// keys) and rewrites the groups that list it; the id, the console password and the tags
/// stay. The user's console sessions end (they name the user by the old name, which someone
/// else may take next).
pub async fn update_user(identity: &Identity, input: UpdateUserRequest) -> Result<(), ApiError> {
    let (mut record, old_document) = identity.existing_user(&input.user_name).await?;
    if let Some(path) = input.new_path {
        api::check_path(&path, "newPath")?;
        record.path = path;
    }
    let old_name = record.name.clone();
    let new_name = input.new_user_name.unwrap_or_else(|| old_name.clone());
    api::check_name(&new_name, "newUserName", 64)?;
    record.name = new_name.clone();
    let mut document = old_document.clone();
    record.write_into(&mut document, &identity.account);
    if new_name == old_name {
        let version = old_document.version;
        identity
            .store
            .apply(vec![Write::Update { document, expected_version: version }])
            .await
            .map_err(store_error)?;
        return Ok(());
    }
    // The old document is updated (checking nobody changed it meanwhile) and then deleted,
    // in the same transaction as the new one's insertion.
    let mut writes = vec![
        Write::Update { expected_version: old_document.version, document: old_document.clone() },
        Write::Delete { kind: USER.to_owned(), key: old_name.clone() },
        Write::Insert(Document { version: 0, ..document }),
        Write::DeleteChildren { kind: CONSOLE_SESSION.to_owned(), parent: old_name.clone() },
    ];
    for kind in [ACCESS_KEY, GIT_CREDENTIAL, SSH_PUBLIC_KEY] {
        for mut child in
            identity.store.list_all(kind, Some(&old_name)).await.map_err(store_error)?
        {
            let version = child.version;
            child.parent = Some(new_name.clone());
            child.body["userName"] = json!(new_name);
            writes.push(Write::Update { document: child, expected_version: version });
        }
    }
    for mut group in identity.store.list_all(GROUP, None).await.map_err(store_error)? {
        let Some(members) = group.body["members"].as_array_mut() else { continue };
        if !members.iter().any(|it| *it == *old_name) {
            continue;
        }
        for member in members.iter_mut() {
            if *member == *old_name {
                *member = json!(new_name);
            }
        }
        let version = group.version;
        writes.push(Write::Update { document: group, expected_version: version });
    }
    match identity.store.apply(writes).await {
        Err(StoreError::AlreadyExists { .. }) => {
            Err(api::entity_exists(&format!("User with name {new_name} already exists.")))
        }
        other => other.map_err(store_error),
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteUserRequest {
    pub user_name: String,
}

/// Deletes a user that has nothing attached any more, with any console session it still has;
/// otherwise `DeleteConflict`, naming what must go first (IAM's order: console password,
/// access keys, SSH keys, git credentials, inline and attached policies, groups).
pub async fn delete_user(identity: &Identity, input: DeleteUserRequest) -> Result<(), ApiError> {
    let (record, document) = identity.existing_user(&input.user_name).await?;
    let name = &record.name;
    let store = &identity.store;
    let conflict =
        |what: &str| api::delete_conflict(&format!("Cannot delete entity, must {what} first."));
    if record.has_password {
        return Err(conflict("delete login profile"));
    }
    if !store.list_all(ACCESS_KEY, Some(name)).await.map_err(store_error)?.is_empty() {
        return Err(conflict("delete access keys"));
    }
    if !store.list_all(SSH_PUBLIC_KEY, Some(name)).await.map_err(store_error)?.is_empty() {
        return Err(conflict("delete SSH public keys"));
    }
    if !store.list_all(GIT_CREDENTIAL, Some(name)).await.map_err(store_error)?.is_empty() {
        return Err(conflict("delete service specific credentials"));
    }
    crate::policies::EntityPolicies::from_body(&document.body).check_deletable()?;
    if !identity.groups_of(name).await.map_err(store_error)?.is_empty() {
        return Err(conflict("remove user from all groups"));
    }
    let version = document.version;
    identity
        .store
        .apply(vec![
            Write::Update { document, expected_version: version },
            Write::Delete { kind: USER.to_owned(), key: name.clone() },
            Write::DeleteChildren { kind: CONSOLE_SESSION.to_owned(), parent: name.clone() },
        ])
        .await
        .map_err(store_error)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagUserRequest {
    pub user_name: String,
    pub tags: Vec<Tag>,
}

pub async fn tag_user(identity: &Identity, input: TagUserRequest) -> Result<(), ApiError> {
    let (mut record, mut document) = identity.existing_user(&input.user_name).await?;
    api::merge_tags(&mut record.tags, input.tags)?;
    let version = document.version;
    record.write_into(&mut document, &identity.account);
    identity
        .store
        .apply(vec![Write::Update { document, expected_version: version }])
        .await
        .map_err(store_error)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagUserRequest {
    pub user_name: String,
    pub tag_keys: Vec<String>,
}

pub async fn untag_user(identity: &Identity, input: UntagUserRequest) -> Result<(), ApiError> {
    let (mut record, mut document) = identity.existing_user(&input.user_name).await?;
    record.tags.retain(|tag| !input.tag_keys.contains(&tag.key));
    let version = document.version;
    record.write_into(&mut document, &identity.account);
    identity
        .store
        .apply(vec![Write::Update { document, expected_version: version }])
        .await
        .map_err(store_error)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListUserTagsRequest {
    pub user_name: String,
    pub marker: Option<String>,
    pub max_items: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListUserTagsResponse {
    pub tags: Vec<Tag>,
    pub is_truncated: bool,
    pub marker: Option<String>,
}

pub async fn list_user_tags(
    identity: &Identity,
    input: ListUserTagsRequest,
) -> Result<ListUserTagsResponse, ApiError> {
    let (record, _) = identity.existing_user(&input.user_name).await?;
    let (tags, is_truncated, marker) =
        api::page(record.tags, input.marker.as_deref(), input.max_items)?;
    Ok(ListUserTagsResponse { tags, is_truncated, marker })
}

#[cfg(test)]
mod tests;
