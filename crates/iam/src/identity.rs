//! Users, their access keys and their console passwords (their HTTPS git credentials are
//! in [`crate::git_credentials`]).
//!
//! An access key is an id (`AKIA…`, public) and a secret (40 characters) that signs API
//! requests (SigV4). Secrets are stored sealed under the installation's key and opened only
//! to verify a signature. A console password is chosen by a person, so it is kept only as a
//! salted PBKDF2-HMAC-SHA256 hash with OWASP's 600,000 iterations, slow to guess by design.
//! (Not Argon2: its 19 MiB work area raises glibc's mmap threshold for the rest of the
//! process, which cost the server 8 MB of resident memory after a thousand builds; see
//! `bench/RESULTS.md`, P6.) On first start the server creates the user `admin`, one key and a
//! console password.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use engine::store::{Changes, Document, ListQuery, Store, StoreError, Write};
use pbkdf2::password_hash::phc::{Output, PasswordHash, Salt};
use pbkdf2::password_hash::{PasswordHasher, PasswordVerifier};
use pbkdf2::{Algorithm, Params, Pbkdf2};
use serde_json::json;

use crate::crypto::{SecretBox, random_string};
use engine::kinds::{ACCESS_KEY, USER};

/// A new access key, the only time its secret is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user the key belongs to.
    pub user: String,
    /// `AKIA…`.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
}

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("user `{0}` already exists")]
    UserExists(String),
    #[error("no user `{0}`")]
    NoSuchUser(String),
    #[error("no access key `{0}`")]
    NoSuchKey(String),
    #[error("no git credentials `{0}`")]
    NoSuchGitCredentials(String),
    #[error("invalid user name `{0}`: use 1 to 64 letters, digits and + = , . @ _ -")]
    InvalidName(String),
    #[error("the password must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters long")]
    InvalidPassword,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The shortest console password accepted (IAM's default password policy).
pub const MIN_PASSWORD_LENGTH: usize = 8;
/// The longest console password accepted (IAM's limit).
pub const MAX_PASSWORD_LENGTH: usize = 128;

/// The field of a user's document that holds the console password's hash.
pub(crate) const PASSWORD_HASH: &str = "consolePasswordHash";

/// Users and access keys in the store.
#[derive(Clone)]
pub struct Identity {
    pub(crate) store: Store,
    pub(crate) secrets: SecretBox,
    pub(crate) account: String,
    keys: Arc<KeyCache>,
    pub(crate) policy_cache: Arc<crate::effective::PolicyCache>,
    pub(crate) sessions: Arc<crate::sessions::SessionCache>,
}

/// An active access key: whose it is (the user's name, and their unique id `AIDA…` as
/// GetUser names it: what the audit trail records), and its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveKey {
    pub user: Arc<str>,
    /// The user's id; empty when their policies could not be read.
    pub user_id: Arc<str>,
    pub secret: Arc<str>,
}

/// The active access keys read recently, so that a signed request does not read and open its
/// key in the store each time (that was a tenth of the server's work per API call). An entry
/// is used only while no batch of this process has written a key or a user since it was
/// read ([`Changes`]), so a key this server deactivates is refused at once; and for at most
/// [`KEY_CACHE_MS`], so that a change another replica makes reaches this one that soon (IAM
/// on AWS is eventually consistent in the same way).
struct KeyCache {
    entries: RwLock<HashMap<String, CachedKey>>,
    key_changes: Changes,
    user_changes: Changes,
}

struct CachedKey {
    key: ActiveKey,
    read_at_ms: i64,
    changes: (u64, u64),
}

/// How long a cached access key is trusted without reading it again.
pub const KEY_CACHE_MS: i64 = 1_000;

/// The most keys cached: a flood of requests signed with many keys empties the cache rather
/// than growing it.
const KEY_CACHE_ENTRIES: usize = 10_000;

impl KeyCache {
    fn changes(&self) -> (u64, u64) {
        (self.key_changes.current(), self.user_changes.current())
    }

    fn get(&self, access_key_id: &str, now_ms: i64) -> Option<ActiveKey> {
        let entries = self.entries.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = entries.get(access_key_id)?;
        let fresh = (0..KEY_CACHE_MS).contains(&(now_ms - entry.read_at_ms))
            && entry.changes == self.changes();
        fresh.then(|| entry.key.clone())
    }

    fn put(&self, access_key_id: &str, entry: CachedKey) {
        let mut entries = self.entries.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= KEY_CACHE_ENTRIES && !entries.contains_key(access_key_id) {
            entries.clear();
        }
        entries.insert(access_key_id.to_owned(), entry);
    }
}

impl Identity {
    pub fn new(store: Store, secrets: SecretBox, account: &str) -> Identity {
        let keys = Arc::new(KeyCache {
            entries: RwLock::default(),
            key_changes: store.watch(ACCESS_KEY),
            user_changes: store.watch(USER),
        });
        let policy_cache = Arc::new(crate::effective::PolicyCache::new(&store));
        let sessions = Arc::new(crate::sessions::SessionCache::new(&store));
        Identity { store, secrets, account: account.to_owned(), keys, policy_cache, sessions }
    }

    /// Creates `admin`, with AdministratorAccess attached, and a key for it when there is no
    /// user at all.
    pub async fn bootstrap(&self, now_ms: i64) -> Result<Option<Credentials>, IdentityError> {
        let query = ListQuery {
            kind: USER.to_owned(),
            parent: None,
            descending: false,
            after: None,
            limit: 1,
        };
        if !self.store.list(&query).await?.documents.is_empty() {
            return Ok(None);
        }
        // Another replica starting at the same moment may create it first: then it is that
        // replica's to announce.
        let admin = [crate::policies::ADMINISTRATOR_ACCESS];
        match self.insert_user_with_policies("admin", "/", Vec::new(), &admin, now_ms).await {
            Err(IdentityError::UserExists(_)) => return Ok(None),
            other => {
                other?;
            }
        }
        Ok(Some(self.create_access_key("admin", now_ms).await?))
    }

    /// Creates the user `name` at the root path, without tags (`slipway user create`, the
    /// first admin): [`Identity::insert_user`], as CreateUser does.
    pub async fn create_user(&self, name: &str, now_ms: i64) -> Result<(), IdentityError> {
        self.insert_user(name, "/", Vec::new(), now_ms).await.map(drop)
    }

    pub async fn create_access_key(
        &self,
        user: &str,
        now_ms: i64,
    ) -> Result<Credentials, IdentityError> {
        if self.store.get(USER, user).await?.is_none() {
            return Err(IdentityError::NoSuchUser(user.to_owned()));
        }
        let (document, credentials) = self.new_access_key(user, now_ms);
        self.store.apply(vec![Write::Insert(document)]).await?;
        Ok(credentials)
    }

    /// A new access key of `user`: the document to insert (its secret sealed) and the
    /// credentials, shown this once.
    pub(crate) fn new_access_key(&self, user: &str, now_ms: i64) -> (Document, Credentials) {
        let access_key_id =
            format!("AKIA{}", random_string(16, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"));
        let secret_access_key =
            random_string(40, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
        let body = json!({
            "userName": user,
            "accessKeyId": access_key_id,
            "status": "Active",
            "createDate": now_ms,
            "sealedSecret": self.secrets.seal(&secret_access_key),
        });
        let document = Document {
            kind: ACCESS_KEY.to_owned(),
            key: access_key_id.clone(),
            parent: Some(user.to_owned()),
            sort: now_ms,
            version: 0,
            body,
        };
        (document, Credentials { user: user.to_owned(), access_key_id, secret_access_key })
    }

    /// Deactivates a key for good: requests signed with it are refused from now on.
    pub async fn revoke_access_key(&self, access_key_id: &str) -> Result<(), IdentityError> {
        let Some(document) = self.store.get(ACCESS_KEY, access_key_id).await? else {
            return Err(IdentityError::NoSuchKey(access_key_id.to_owned()));
        };
        Ok(crate::api::set_status(&self.store, document, "Inactive").await?)
    }

    /// Sets the console password of `user`, replacing any previous one.
    pub async fn set_password(&self, user: &str, password: &str) -> Result<(), IdentityError> {
        let hash = checked_hash(password).await?;
        // Read, change, write with the version read: a concurrent change of the same user
        // makes this one fail rather than be lost.
        let Some(mut document) = self.store.get(USER, user).await? else {
            return Err(IdentityError::NoSuchUser(user.to_owned()));
        };
        let version = document.version;
        document.body[PASSWORD_HASH] = json!(hash);
        self.store.apply(vec![Write::Update { document, expected_version: version }]).await?;
        Ok(())
    }

    /// Whether `password` is the console password of `user`; `false` for a user that does not
    /// exist or has no console password.
    pub async fn check_password(&self, user: &str, password: &str) -> Result<bool, IdentityError> {
        let hash = match self.store.get(USER, user).await? {
            Some(document) => document.body[PASSWORD_HASH].as_str().map(str::to_owned),
            None => None,
        };
        let password = password.to_owned();
        let matches = tokio::task::spawn_blocking(move || match hash {
            Some(hash) => verify_password(&hash, &password),
            // Take as long as a real check, so that the time taken does not say which user
            // names exist.
            None => {
                let _ = hash_password(&password);
                false
            }
        })
        .await
        .expect("checking a password does not panic");
        Ok(matches)
    }

    /// The user and secret of an active key, as of at most [`KEY_CACHE_MS`] before `now_ms`.
    pub async fn secret(
        &self,
        access_key_id: &str,
        now_ms: i64,
    ) -> Result<Option<ActiveKey>, IdentityError> {
        if let Some(key) = self.keys.get(access_key_id, now_ms) {
            return Ok(Some(key));
        }
        // The counts before the read: a write committed while it runs makes the entry stale.
        let changes = self.keys.changes();
        let Some(document) = self.store.get(ACCESS_KEY, access_key_id).await? else {
            return Ok(None);
        };
        if document.body["status"] != "Active" {
            return Ok(None);
        }
        let user = document.body["userName"].as_str().unwrap_or_default();
        let sealed = document.body["sealedSecret"].as_str().unwrap_or_default();
        match self.secrets.open(sealed) {
            Ok(secret) => {
                let user_id = self.user_id(user, now_ms).await;
                let key = ActiveKey { user: user.into(), user_id, secret: secret.into() };
                let entry = CachedKey { key: key.clone(), read_at_ms: now_ms, changes };
                self.keys.put(access_key_id, entry);
                Ok(Some(key))
            }
            Err(err) => {
                tracing::error!(%access_key_id, %err, "cannot open an access key's secret");
                Ok(None)
            }
        }
    }

    /// The unique id (`AIDA…`) of the user `name`, from their cached policies (which the
    /// request's authorization reads next: no read of its own once they are cached); empty
    /// when there is no such user or they could not be read.
    pub async fn user_id(&self, name: &str, now_ms: i64) -> Arc<str> {
        match self.user_policies(name, now_ms).await {
            Ok(Some(policies)) => policies.principal.user_id.as_str().into(),
            Ok(None) => "".into(),
            Err(err) => {
                tracing::error!(user = %name, err = %err.message, "reading a user's id");
                "".into()
            }
        }
    }
}

/// The hash of a console password of an accepted length (hashed on a blocking thread: it is
/// slow by design).
pub(crate) async fn checked_hash(password: &str) -> Result<String, IdentityError> {
    let length = password.chars().count();
    if !(MIN_PASSWORD_LENGTH..=MAX_PASSWORD_LENGTH).contains(&length) {
        return Err(IdentityError::InvalidPassword);
    }
    let password = password.to_owned();
    Ok(tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .expect("hashing a password does not panic"))
}

/// PBKDF2 iterations for new hashes (OWASP's figure for HMAC-SHA256); a stored hash says its
/// own count, so raising this later keeps old passwords working.
const PBKDF2_ROUNDS: u32 = 600_000;

/// A hash of `password` with a fresh salt, as a PHC string:
/// `$pbkdf2-sha256$i=600000,l=32$<salt>$<hash>` (B64, the PHC format's base 64).
fn hash_password(password: &str) -> String {
    let params = Params::new(PBKDF2_ROUNDS).expect("valid PBKDF2 parameters");
    let salt = crate::crypto::random_bytes(16);
    Pbkdf2::new(Algorithm::Pbkdf2Sha256, params)
        .hash_password_with_salt(password.as_bytes(), &salt)
        .expect("a 16-byte salt and 32-byte output are valid PHC parts")
        .to_string()
}

/// Whether `password` matches the stored `hash`: a PHC string, or the format this server
/// wrote before it used one (`pbkdf2-sha256$ROUNDS$SALT$HASH`, hex), which still verifies.
fn verify_password(hash: &str, password: &str) -> bool {
    let Some(parsed) = PasswordHash::new(hash).ok().or_else(|| legacy_password_hash(hash)) else {
        tracing::error!("a console password hash in the store cannot be read");
        return false;
    };
    Pbkdf2::SHA256.verify_password(password.as_bytes(), &parsed).is_ok()
}

/// A hash in the pre-PHC format `pbkdf2-sha256$ROUNDS$SALT$HASH` (salt and hash in hex), as
/// the PHC hash it stands for.
fn legacy_password_hash(hash: &str) -> Option<PasswordHash> {
    let ["pbkdf2-sha256", rounds, salt, expected] = hash.split('$').collect::<Vec<_>>()[..] else {
        return None;
    };
    let expected = hex::decode(expected).ok()?;
    let params = Params::new_with_output_len(rounds.parse().ok()?, expected.len()).ok()?;
    Some(PasswordHash {
        algorithm: Algorithm::Pbkdf2Sha256.into(),
        version: None,
        params: params.try_into().ok()?,
        salt: Some(Salt::new(&hex::decode(salt).ok()?).ok()?),
        hash: Some(Output::new(&expected).ok()?),
    })
}

/// The admin's credentials file: the access key in the AWS shared-credentials format
/// (`~/.aws/credentials`) and, as a comment the AWS tools skip, the console password.
pub fn credentials_file(credentials: &Credentials, console_password: &str) -> String {
    format!(
        "# Slipway access key of user {user}\n\
         # Console password of user {user}: {console_password}\n\
         [default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        credentials.access_key_id,
        credentials.secret_access_key,
        user = credentials.user,
    )
}

#[cfg(test)]
mod tests;
