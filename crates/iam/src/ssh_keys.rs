//! Users' SSH public keys (what CodeCommit's git over SSH signs in with): UploadSSHPublicKey,
//! ListSSHPublicKeys, GetSSHPublicKey (as SSH or PEM), UpdateSSHPublicKey and
//! DeleteSSHPublicKey; the key's encodings are in [`encoding`].
//!
//! A key is a document of kind `ssh-public-key` keyed by its id (`APKA…`, 20 characters; the
//! SSH user name CodeCommit's clients connect as), child of its user, with the body
//! `{userName, algorithm, blob, fingerprint, status, uploadDate}` (`blob` the SSH wire form
//! in base64): an SSH server finds the key by the id it is given ([`Identity::ssh_key`]) and
//! checks it is Active and that the client holds it.

use awsapi::query::Timestamp;
use awsapi::{ApiError, Caller};
use engine::kinds::{SSH_PUBLIC_KEY, USER};
use engine::store::{Document, StoreError, Write};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::access_keys::Status;
use crate::api::{self, store_error};
use crate::identity::Identity;
use crate::users::user_or_caller;

pub mod encoding;

use encoding::{KeyError, PublicKey};

/// The most SSH public keys a user has, as IAM's quota.
pub const MAX_SSH_KEYS_PER_USER: usize = 5;

/// A stored SSH public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshKey {
    pub id: String,
    pub user: String,
    pub key: PublicKey,
    pub fingerprint: String,
    pub active: bool,
    pub uploaded_ms: i64,
}

impl SshKey {
    fn from_document(document: &Document) -> SshKey {
        let body = &document.body;
        let text = |name: &str| body[name].as_str().unwrap_or_default().to_owned();
        let blob = awsapi::base64::decode(&text("blob")).unwrap_or_default();
        SshKey {
            id: document.key.clone(),
            user: text("userName"),
            key: PublicKey { algorithm: text("algorithm"), blob },
            fingerprint: text("fingerprint"),
            active: body["status"] == "Active",
            uploaded_ms: body["uploadDate"].as_i64().unwrap_or(document.sort),
        }
    }

    fn status(&self) -> String {
        if self.active { "Active" } else { "Inactive" }.to_owned()
    }

    fn to_shape(&self, encoding: Encoding) -> SSHPublicKey {
        SSHPublicKey {
            user_name: self.user.clone(),
            ssh_public_key_id: self.id.clone(),
            fingerprint: self.fingerprint.clone(),
            ssh_public_key_body: match encoding {
                Encoding::Ssh => self.key.to_ssh(),
                Encoding::Pem => self.key.to_pem(),
            },
            status: self.status(),
            upload_date: Timestamp(self.uploaded_ms),
        }
    }
}

impl Identity {
    /// The SSH key `id` (the user name an SSH client gives), active or not.
    pub async fn ssh_key(&self, id: &str) -> Result<Option<SshKey>, StoreError> {
        Ok(self.store.get(SSH_PUBLIC_KEY, id).await?.as_ref().map(SshKey::from_document))
    }

    /// The SSH keys of `user`, oldest first; `NoSuchEntity` without such a user.
    async fn ssh_keys_of(&self, user: &str) -> Result<Vec<SshKey>, ApiError> {
        if self.store.get(USER, user).await.map_err(store_error)?.is_none() {
            return Err(api::no_such_user(user));
        }
        let documents =
            self.store.list_all(SSH_PUBLIC_KEY, Some(user)).await.map_err(store_error)?;
        let mut keys: Vec<SshKey> = documents.iter().map(SshKey::from_document).collect();
        keys.sort_by(|a, b| (a.uploaded_ms, &a.id).cmp(&(b.uploaded_ms, &b.id)));
        Ok(keys)
    }

    /// The key `id` of `user` and its document, or `NoSuchEntity`.
    async fn ssh_key_of(&self, user: &str, id: &str) -> Result<(SshKey, Document), ApiError> {
        if self.store.get(USER, user).await.map_err(store_error)?.is_none() {
            return Err(api::no_such_user(user));
        }
        let document = self.store.get(SSH_PUBLIC_KEY, id).await.map_err(store_error)?;
        let document = document.filter(|it| it.parent.as_deref() == Some(user));
        let document = document.ok_or_else(|| {
            api::no_such_entity(&format!("The Public Key with id {id} cannot be found."))
        })?;
        Ok((SshKey::from_document(&document), document))
    }
}

/// IAM's `SSHPublicKey` shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SSHPublicKey {
    pub user_name: String,
    #[serde(rename = "SSHPublicKeyId")]
    pub ssh_public_key_id: String,
    pub fingerprint: String,
    #[serde(rename = "SSHPublicKeyBody")]
    pub ssh_public_key_body: String,
    pub status: String,
    pub upload_date: Timestamp,
}

/// IAM's `SSHPublicKeyMetadata` shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SSHPublicKeyMetadata {
    pub user_name: String,
    #[serde(rename = "SSHPublicKeyId")]
    pub ssh_public_key_id: String,
    pub status: String,
    pub upload_date: Timestamp,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UploadSSHPublicKeyRequest {
    pub user_name: String,
    #[serde(rename = "SSHPublicKeyBody")]
    pub ssh_public_key_body: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SSHPublicKeyResponse {
    #[serde(rename = "SSHPublicKey")]
    pub ssh_public_key: SSHPublicKey,
}

pub async fn upload_ssh_public_key(
    identity: &Identity,
    input: UploadSSHPublicKeyRequest,
    now: i64,
) -> Result<SSHPublicKeyResponse, ApiError> {
    let key = PublicKey::parse(&input.ssh_public_key_body).map_err(|err| match err {
        KeyError::Unrecognized => ApiError::client(
            "UnrecognizedPublicKeyEncoding",
            "The public key encoding format is unsupported or unrecognized.",
        ),
        KeyError::Invalid(why) => {
            ApiError::client("InvalidPublicKey", format!("The public key is not valid: {why}."))
        }
    })?;
    let user = input.user_name;
    let existing = identity.ssh_keys_of(&user).await?;
    let fingerprint = key.fingerprint();
    if existing.iter().any(|it| it.fingerprint == fingerprint) {
        return Err(ApiError::client(
            "DuplicateSSHPublicKey",
            "The public key is already uploaded.",
        ));
    }
    if existing.len() >= MAX_SSH_KEYS_PER_USER {
        return Err(api::limit_exceeded(&format!(
            "Cannot exceed quota for KeyPairsPerUser: {MAX_SSH_KEYS_PER_USER}"
        )));
    }
    let stored = SshKey {
        id: api::new_id("APKA", 20),
        user: user.clone(),
        fingerprint,
        key,
        active: true,
        uploaded_ms: now,
    };
    let document = Document {
        kind: SSH_PUBLIC_KEY.to_owned(),
        key: stored.id.clone(),
        parent: Some(user.clone()),
        sort: now,
        version: 0,
        body: json!({
            "userName": user,
            "algorithm": stored.key.algorithm,
            "blob": awsapi::base64::encode(&stored.key.blob),
            "fingerprint": stored.fingerprint,
            "status": "Active",
            "uploadDate": now,
        }),
    };
    // Written with the user's document, unchanged: two uploads at once (or a DeleteUser)
    // cannot both pass the checks.
    let user_document = identity.store.get(USER, &user).await.map_err(store_error)?;
    let user_document = user_document.ok_or_else(|| api::no_such_user(&user))?;
    let version = user_document.version;
    identity
        .store
        .apply(vec![
            Write::Update { document: user_document, expected_version: version },
            Write::Insert(document),
        ])
        .await
        .map_err(store_error)?;
    Ok(SSHPublicKeyResponse { ssh_public_key: stored.to_shape(Encoding::Ssh) })
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSSHPublicKeysRequest {
    pub user_name: Option<String>,
    pub marker: Option<String>,
    pub max_items: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSSHPublicKeysResponse {
    #[serde(rename = "SSHPublicKeys")]
    pub ssh_public_keys: Vec<SSHPublicKeyMetadata>,
    pub is_truncated: bool,
    pub marker: Option<String>,
}

pub async fn list_ssh_public_keys(
    identity: &Identity,
    caller: &Caller,
    input: ListSSHPublicKeysRequest,
) -> Result<ListSSHPublicKeysResponse, ApiError> {
    let user = user_or_caller(input.user_name, caller)?;
    let keys: Vec<SSHPublicKeyMetadata> = identity
        .ssh_keys_of(&user)
        .await?
        .into_iter()
        .map(|it| SSHPublicKeyMetadata {
            status: it.status(),
            user_name: it.user,
            ssh_public_key_id: it.id,
            upload_date: Timestamp(it.uploaded_ms),
        })
        .collect();
    let (ssh_public_keys, is_truncated, marker) =
        api::page(keys, input.marker.as_deref(), input.max_items)?;
    Ok(ListSSHPublicKeysResponse { ssh_public_keys, is_truncated, marker })
}

/// The encoding GetSSHPublicKey answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Encoding {
    #[serde(rename = "SSH")]
    Ssh,
    #[serde(rename = "PEM")]
    Pem,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetSSHPublicKeyRequest {
    pub user_name: String,
    #[serde(rename = "SSHPublicKeyId")]
    pub ssh_public_key_id: String,
    pub encoding: Encoding,
}

pub async fn get_ssh_public_key(
    identity: &Identity,
    input: GetSSHPublicKeyRequest,
) -> Result<SSHPublicKeyResponse, ApiError> {
    let (key, _) = identity.ssh_key_of(&input.user_name, &input.ssh_public_key_id).await?;
    Ok(SSHPublicKeyResponse { ssh_public_key: key.to_shape(input.encoding) })
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateSSHPublicKeyRequest {
    pub user_name: String,
    #[serde(rename = "SSHPublicKeyId")]
    pub ssh_public_key_id: String,
    pub status: Status,
}

pub async fn update_ssh_public_key(
    identity: &Identity,
    input: UpdateSSHPublicKeyRequest,
) -> Result<(), ApiError> {
    let (_, document) = identity.ssh_key_of(&input.user_name, &input.ssh_public_key_id).await?;
    api::set_status(&identity.store, document, input.status.as_str()).await.map_err(store_error)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteSSHPublicKeyRequest {
    pub user_name: String,
    #[serde(rename = "SSHPublicKeyId")]
    pub ssh_public_key_id: String,
}

pub async fn delete_ssh_public_key(
    identity: &Identity,
    input: DeleteSSHPublicKeyRequest,
) -> Result<(), ApiError> {
    let (_, document) = identity.ssh_key_of(&input.user_name, &input.ssh_public_key_id).await?;
    let version = document.version;
    identity
        .store
        .apply(vec![
            Write::Update { document, expected_version: version },
            Write::Delete { kind: SSH_PUBLIC_KEY.to_owned(), key: input.ssh_public_key_id },
        ])
        .await
        .map_err(store_error)
}

#[cfg(test)]
mod tests;
