//! Access keys through the API: CreateAccessKey (at most two per user, as IAM), ListAccessKeys,
//! UpdateAccessKey (an Inactive key is refused by SigV4 from the next request on: the
//! server's verifier reads the key's `status`), DeleteAccessKey and GetAccessKeyLastUsed.
//!
//! Last use is not recorded here: writing to the store on signed requests would put a write
//! on the hot path. GetAccessKeyLastUsed answers as IAM does for a key never used (service
//! and region `N/A`, no date), and the server fills in the last use from the audit trail,
//! which records every signed request anyway.

use awsapi::query::Timestamp;
use awsapi::{ApiError, Caller};
use engine::kinds::{ACCESS_KEY, USER};
use engine::store::{Document, Write};
use serde::{Deserialize, Serialize};

use crate::api::{self, store_error};
use crate::identity::{Identity, IdentityError};
use crate::users::user_or_caller;

/// The most access keys a user has (active or not), as IAM's quota.
pub const MAX_ACCESS_KEYS_PER_USER: usize = 2;

/// IAM's `AccessKeyMetadata` shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessKeyMetadata {
    pub user_name: String,
    pub access_key_id: String,
    pub status: String,
    pub create_date: Timestamp,
}

impl AccessKeyMetadata {
    fn from_document(document: &Document) -> AccessKeyMetadata {
        let body = &document.body;
        AccessKeyMetadata {
            user_name: body["userName"].as_str().unwrap_or_default().to_owned(),
            access_key_id: document.key.clone(),
            status: body["status"].as_str().unwrap_or("Inactive").to_owned(),
            create_date: Timestamp(body["createDate"].as_i64().unwrap_or(document.sort)),
        }
    }
}

/// IAM's `AccessKey` shape: a new key, with its secret (shown this once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessKey {
    pub user_name: String,
    pub access_key_id: String,
    pub status: String,
    pub secret_access_key: String,
    pub create_date: Timestamp,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateAccessKeyRequest {
    pub user_name: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateAccessKeyResponse {
    pub access_key: AccessKey,
}

pub async fn create_access_key(
    identity: &Identity,
    caller: &Caller,
    input: CreateAccessKeyRequest,
    now: i64,
) -> Result<CreateAccessKeyResponse, ApiError> {
    let user = user_or_caller(input.user_name, caller)?;
    let Some(user_document) = identity.store.get(USER, &user).await.map_err(store_error)? else {
        return Err(api::no_such_user(&user));
    };
    let keys = identity.store.list_all(ACCESS_KEY, Some(&user)).await.map_err(store_error)?;
    if keys.len() >= MAX_ACCESS_KEYS_PER_USER {
        return Err(api::limit_exceeded(&format!(
            "Cannot exceed quota for AccessKeysPerUser: {MAX_ACCESS_KEYS_PER_USER}"
        )));
    }
    let (document, credentials) = identity.new_access_key(&user, now);
    // The user's document is written back unchanged with the key: two creations at once (or
    // a DeleteUser) cannot both pass the quota (or the conflict check).
    let version = user_document.version;
    identity
        .store
        .apply(vec![
            Write::Update { document: user_document, expected_version: version },
            Write::Insert(document),
        ])
        .await
        .map_err(store_error)?;
    Ok(CreateAccessKeyResponse {
        access_key: AccessKey {
            user_name: credentials.user,
            access_key_id: credentials.access_key_id,
            status: "Active".to_owned(),
            secret_access_key: credentials.secret_access_key,
            create_date: Timestamp(now),
        },
    })
}

impl Identity {
    /// The access keys of `user`, oldest first; `NoSuchUser` when there is no such user.
    pub async fn access_keys(&self, user: &str) -> Result<Vec<AccessKeyMetadata>, IdentityError> {
        if self.store.get(USER, user).await?.is_none() {
            return Err(IdentityError::NoSuchUser(user.to_owned()));
        }
        let mut documents = self.store.list_all(ACCESS_KEY, Some(user)).await?;
        documents.sort_by(|a, b| (a.sort, &a.key).cmp(&(b.sort, &b.key)));
        Ok(documents.iter().map(AccessKeyMetadata::from_document).collect())
    }

    /// The key `access_key_id` of `user`, or `NoSuchEntity` (also for another user's key).
    async fn key_of(&self, user: &str, access_key_id: &str) -> Result<Document, ApiError> {
        if self.store.get(USER, user).await.map_err(store_error)?.is_none() {
            return Err(api::no_such_user(user));
        }
        let document = self.store.get(ACCESS_KEY, access_key_id).await.map_err(store_error)?;
        document.filter(|it| it.parent.as_deref() == Some(user)).ok_or_else(|| {
            api::no_such_entity(&format!("The Access Key with id {access_key_id} cannot be found."))
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAccessKeysRequest {
    pub user_name: Option<String>,
    pub marker: Option<String>,
    pub max_items: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAccessKeysResponse {
    pub access_key_metadata: Vec<AccessKeyMetadata>,
    pub is_truncated: bool,
    pub marker: Option<String>,
}

pub async fn list_access_keys(
    identity: &Identity,
    caller: &Caller,
    input: ListAccessKeysRequest,
) -> Result<ListAccessKeysResponse, ApiError> {
    let user = user_or_caller(input.user_name, caller)?;
    let keys = identity.access_keys(&user).await?;
    let (access_key_metadata, is_truncated, marker) =
        api::page(keys, input.marker.as_deref(), input.max_items)?;
    Ok(ListAccessKeysResponse { access_key_metadata, is_truncated, marker })
}

/// `Active` or `Inactive`, IAM's `statusType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum Status {
    Active,
    Inactive,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "Active",
            Status::Inactive => "Inactive",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateAccessKeyRequest {
    pub user_name: Option<String>,
    pub access_key_id: String,
    pub status: Status,
}

pub async fn update_access_key(
    identity: &Identity,
    caller: &Caller,
    input: UpdateAccessKeyRequest,
) -> Result<(), ApiError> {
    let user = user_or_caller(input.user_name, caller)?;
    let document = identity.key_of(&user, &input.access_key_id).await?;
    api::set_status(&identity.store, document, input.status.as_str()).await.map_err(store_error)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteAccessKeyRequest {
    pub user_name: Option<String>,
    pub access_key_id: String,
}

pub async fn delete_access_key(
    identity: &Identity,
    caller: &Caller,
    input: DeleteAccessKeyRequest,
) -> Result<(), ApiError> {
    let user = user_or_caller(input.user_name, caller)?;
    let document = identity.key_of(&user, &input.access_key_id).await?;
    let version = document.version;
    identity
        .store
        .apply(vec![
            Write::Update { document, expected_version: version },
            Write::Delete { kind: ACCESS_KEY.to_owned(), key: input.access_key_id },
        ])
        .await
        .map_err(store_error)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetAccessKeyLastUsedRequest {
    pub access_key_id: String,
}

/// IAM's `AccessKeyLastUsed` shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessKeyLastUsed {
    pub last_used_date: Option<Timestamp>,
    pub service_name: String,
    pub region: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetAccessKeyLastUsedResponse {
    pub user_name: Option<String>,
    pub access_key_last_used: AccessKeyLastUsed,
}

pub async fn get_access_key_last_used(
    identity: &Identity,
    input: GetAccessKeyLastUsedRequest,
) -> Result<GetAccessKeyLastUsedResponse, ApiError> {
    let document =
        identity.store.get(ACCESS_KEY, &input.access_key_id).await.map_err(store_error)?;
    let Some(document) = document else {
        return Err(api::no_such_entity(&format!(
            "The Access Key with id {} cannot be found.",
            input.access_key_id
        )));
    };
    Ok(GetAccessKeyLastUsedResponse {
        user_name: document.body["userName"].as_str().map(str::to_owned),
        access_key_last_used: AccessKeyLastUsed {
            last_used_date: None,
            service_name: "N/A".to_owned(),
            region: "N/A".to_owned(),
        },
    })
}

#[cfg(test)]
mod tests;
