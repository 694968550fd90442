//! HTTPS git credentials: the user name and password a person gives `git` (like CodeCommit's
//! service-specific credentials), created, listed, revoked and checked.
//!
//! These are methods on [`Identity`] rather than a store of their own: git credentials are a
//! user's credentials as access keys are, so they need the same store handle, the same "does
//! this user exist" check and the same [`IdentityError`]s, and every caller (the server's
//! authentication, the console, the admin commands) already holds the one `Identity`. They
//! live in this module of their own to keep their stored format and its tests together.
//!
//! A credential is a document of kind `git-credential` keyed by its generated git user name
//! (`<user>-at-<6 digits>`), child of the user, with the body
//! `{userName, passwordHash, salt, status, createdMs, credentialId}` (`credentialId`, IAM's
//! `ServiceSpecificCredentialId`, is absent from credentials made before it was written:
//! [`crate::service_credentials`] derives theirs): `salt` is 16 random bytes in hex and
//! `passwordHash` is hex SHA-256 of the salt's bytes then the password's. The password is 40
//! random characters, so a fast hash is enough (nothing to guess); it is shown once and never
//! stored. This format is what existing installations hold: it does not change.

use engine::store::{Document, StoreError, Write};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::crypto::{random_bytes, random_string};
use crate::identity::{Identity, IdentityError};
use engine::kinds::{GIT_CREDENTIAL, USER};

/// One git credential as a user's list shows it (never its password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitCredential {
    /// The git user name, `<user>-at-<6 digits>`.
    pub git_user_name: String,
    /// The user it stands for.
    pub user: String,
    /// Whether git accepts it (revoked ones are kept, inactive).
    pub active: bool,
    /// When it was created, in milliseconds since the epoch.
    pub created_ms: i64,
}

impl GitCredential {
    fn from_document(document: Document) -> GitCredential {
        let body = &document.body;
        GitCredential {
            user: body["userName"].as_str().unwrap_or_default().to_owned(),
            active: body["status"] == "Active",
            created_ms: body["createdMs"].as_i64().unwrap_or(document.sort),
            git_user_name: document.key,
        }
    }
}

impl Identity {
    /// Creates HTTPS git credentials for `user` at `now_ms`: the git user name and the
    /// password, which is shown this once and never stored.
    pub async fn create_git_credentials(
        &self,
        user: &str,
        now_ms: i64,
    ) -> Result<(String, String), IdentityError> {
        if self.store.get(USER, user).await?.is_none() {
            return Err(IdentityError::NoSuchUser(user.to_owned()));
        }
        let password =
            random_string(40, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
        let salt = random_bytes(16);
        // A million names per user: a clash is unlikely, and a few tries make it vanishingly so.
        let mut last_error = None;
        for _ in 0..8 {
            let name = format!("{user}-at-{}", random_string(6, b"0123456789"));
            let document = Document {
                kind: GIT_CREDENTIAL.to_owned(),
                key: name.clone(),
                parent: Some(user.to_owned()),
                sort: now_ms,
                version: 0,
                body: json!({
                    "userName": user,
                    "passwordHash": password_hash(&salt, &password),
                    "salt": hex::encode(&salt),
                    "status": "Active",
                    "createdMs": now_ms,
                    "credentialId": crate::api::new_id("ACCA", 21),
                }),
            };
            match self.store.apply(vec![Write::Insert(document)]).await {
                Ok(()) => return Ok((name, password)),
                Err(err @ StoreError::AlreadyExists { .. }) => last_error = Some(err),
                Err(err) => return Err(err.into()),
            }
        }
        Err(last_error
            .unwrap_or(StoreError::AlreadyExists {
                kind: GIT_CREDENTIAL.to_owned(),
                key: format!("{user}-at-…"),
            })
            .into())
    }

    /// A new password for the credential `document` (which keeps its name): the updated
    /// document, to write with the version read, and the password, shown this once.
    pub(crate) fn new_password(mut document: Document) -> (Document, String) {
        let password =
            random_string(40, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
        let salt = random_bytes(16);
        document.body["passwordHash"] = json!(password_hash(&salt, &password));
        document.body["salt"] = json!(hex::encode(&salt));
        (document, password)
    }

    /// Deactivates HTTPS git credentials for good: git refuses them from now on.
    pub async fn revoke_git_credentials(&self, git_user_name: &str) -> Result<(), IdentityError> {
        let Some(document) = self.store.get(GIT_CREDENTIAL, git_user_name).await? else {
            return Err(IdentityError::NoSuchGitCredentials(git_user_name.to_owned()));
        };
        Ok(crate::api::set_status(&self.store, document, "Inactive").await?)
    }

    /// The git credentials named `git_user_name`, active or not.
    pub async fn git_credential(
        &self,
        git_user_name: &str,
    ) -> Result<Option<GitCredential>, IdentityError> {
        let document = self.store.get(GIT_CREDENTIAL, git_user_name).await?;
        Ok(document.map(GitCredential::from_document))
    }

    /// Every git credential of `user`, active or not, oldest first.
    pub async fn list_git_credentials(
        &self,
        user: &str,
    ) -> Result<Vec<GitCredential>, IdentityError> {
        let documents = self.store.list_all(GIT_CREDENTIAL, Some(user)).await?;
        Ok(documents.into_iter().map(GitCredential::from_document).collect())
    }

    /// The user HTTPS git credentials stand for, when they are active and the password is
    /// theirs; `None` otherwise (the server's authentication decides who a git caller is;
    /// this only looks the credentials up).
    pub async fn check_git_credentials(
        &self,
        git_user_name: &str,
        password: &str,
    ) -> Result<Option<String>, IdentityError> {
        let Some(document) = self.store.get(GIT_CREDENTIAL, git_user_name).await? else {
            return Ok(None);
        };
        Ok(password_matches(&document.body, password)
            .then(|| document.body["userName"].as_str().map(str::to_owned))
            .flatten())
    }
}

/// Whether `password` is the one the credential `body` holds the hash of, and the credential
/// is active. The hashes are compared in constant time.
fn password_matches(body: &serde_json::Value, password: &str) -> bool {
    if body["status"] != "Active" {
        return false;
    }
    let Some(salt) = body["salt"].as_str().and_then(|it| hex::decode(it).ok()) else {
        return false;
    };
    let Some(expected) = body["passwordHash"].as_str() else { return false };
    let actual = password_hash(&salt, password);
    bool::from(expected.as_bytes().ct_eq(actual.as_bytes()))
}

/// Hex SHA-256 of `salt` then `password`: the stored `passwordHash`.
fn password_hash(salt: &[u8], password: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt);
    hasher.update(password.as_bytes());
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests;
