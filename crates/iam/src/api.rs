//! What the IAM API's operations share: their errors as IAM names them (with IAM's HTTP
//! statuses), tags, paging by `Marker`/`MaxItems`, the name and path rules, and the ids IAM
//! gives users, keys and credentials. The operations themselves are in [`crate::users`],
//! [`crate::access_keys`], [`crate::login_profiles`], [`crate::groups`], [`crate::ssh_keys`] and
//! [`crate::service_credentials`]; each takes the time as `now` (milliseconds) and makes one
//! store transaction per transition.

use awsapi::{ApiError, ErrorKind};
use engine::store::{Document, Store, StoreError, Write};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::crypto::random_string;
use crate::identity::IdentityError;

/// The alphabet of IAM's unique ids (`AIDA…`, `AKIA…`, `APKA…`).
const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A fresh unique id: `prefix` and random characters, `length` in all.
pub(crate) fn new_id(prefix: &str, length: usize) -> String {
    format!("{prefix}{}", random_string(length - prefix.len(), ID_ALPHABET))
}

/// The id of something made before ids were stored (a user made by an older server): the
/// same every time for the same `seed`, `prefix` and `length` long.
pub(crate) fn derived_id(prefix: &str, length: usize, seed: &str) -> String {
    let digest = Sha256::digest(seed.as_bytes());
    let tail: String = digest
        .iter()
        .take(length - prefix.len())
        .map(|byte| char::from(ID_ALPHABET[usize::from(byte % 32)]))
        .collect();
    format!("{prefix}{tail}")
}

/// A tag, as IAM's `Tag` shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// The most tags an IAM entity carries.
pub(crate) const MAX_TAGS: usize = 50;

/// Checks tag keys and values as IAM does (keys 1-128, values 0-256 characters).
pub(crate) fn check_tags(tags: &[Tag]) -> Result<(), ApiError> {
    for tag in tags {
        let key_length = tag.key.chars().count();
        if !(1..=128).contains(&key_length) {
            return Err(validation(&tag.key, "tags.member.key", "have length between 1 and 128"));
        }
        if tag.value.chars().count() > 256 {
            return Err(validation(&tag.value, "tags.member.value", "have length at most 256"));
        }
    }
    Ok(())
}

/// Merges `new` tags into `tags` (a key already there takes the new value); more than
/// [`MAX_TAGS`] is `LimitExceeded`.
pub(crate) fn merge_tags(tags: &mut Vec<Tag>, new: Vec<Tag>) -> Result<(), ApiError> {
    check_tags(&new)?;
    for tag in new {
        match tags.iter_mut().find(|it| it.key == tag.key) {
            Some(existing) => existing.value = tag.value,
            None => tags.push(tag),
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(limit_exceeded(&format!(
            "The number of tags has reached the maximum limit of {MAX_TAGS}."
        )));
    }
    Ok(())
}

/// `1 validation error detected: Value '<value>' at '<member>' failed to satisfy
/// constraint: Member must <rule>`.
pub(crate) fn validation(value: &str, member: &str, rule: &str) -> ApiError {
    ApiError::client(
        "ValidationError",
        format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy \
             constraint: Member must {rule}"
        ),
    )
}

/// IAM's name rule (users, groups): 1 to `max` of letters, digits and `+=,.@_-`.
pub(crate) fn check_name(name: &str, member: &str, max: usize) -> Result<(), ApiError> {
    let valid = !name.is_empty()
        && name.chars().count() <= max
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    if valid {
        Ok(())
    } else {
        Err(validation(name, member, "satisfy regular expression pattern: [\\w+=,.@-]+"))
    }
}

/// IAM's path rule: `/`, or `/` … `/` of printable ASCII, at most 512 characters.
pub(crate) fn check_path(path: &str, member: &str) -> Result<(), ApiError> {
    let valid = path.len() <= 512
        && (path == "/"
            || (path.len() > 2
                && path.starts_with('/')
                && path.ends_with('/')
                && path.bytes().all(|b| (0x21..=0x7e).contains(&b))));
    if valid {
        Ok(())
    } else {
        Err(validation(
            path,
            member,
            "satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)",
        ))
    }
}

/// `NoSuchEntity` (404).
pub(crate) fn no_such_entity(message: &str) -> ApiError {
    ApiError::new(ErrorKind::EntityNotFound, "NoSuchEntity", message)
}

/// `NoSuchEntity` for the user `name`.
pub(crate) fn no_such_user(name: &str) -> ApiError {
    no_such_entity(&format!("The user with name {name} cannot be found."))
}

/// `EntityAlreadyExists` (409).
pub(crate) fn entity_exists(message: &str) -> ApiError {
    ApiError::new(ErrorKind::EntityConflict, "EntityAlreadyExists", message)
}

/// `DeleteConflict` (409).
pub(crate) fn delete_conflict(message: &str) -> ApiError {
    ApiError::new(ErrorKind::EntityConflict, "DeleteConflict", message)
}

/// `LimitExceeded` (409).
pub(crate) fn limit_exceeded(message: &str) -> ApiError {
    ApiError::new(ErrorKind::EntityConflict, "LimitExceeded", message)
}

/// `InvalidInput` (400).
pub(crate) fn invalid_input(message: &str) -> ApiError {
    ApiError::client("InvalidInput", message)
}

/// A store failure as IAM answers it: a concurrent change is `ConcurrentModification`
/// (409), the rest an internal failure.
/// Sets the `status` (`Active` or `Inactive`) of a key or credential read as `document`, in
/// one write checked against the version read: a concurrent change makes it fail rather than
/// be lost. Access keys, SSH keys and git credentials all keep their state so.
pub(crate) async fn set_status(
    store: &Store,
    mut document: Document,
    status: &str,
) -> Result<(), StoreError> {
    let expected_version = document.version;
    document.body["status"] = serde_json::json!(status);
    store.apply(vec![Write::Update { document, expected_version }]).await
}

pub(crate) fn store_error(err: StoreError) -> ApiError {
    match err {
        StoreError::Conflict { .. } | StoreError::NotFound { .. } => ApiError::new(
            ErrorKind::EntityConflict,
            "ConcurrentModification",
            "The request was rejected because multiple requests to change this object were \
             submitted simultaneously. Wait a few minutes and submit your request again.",
        ),
        other => ApiError::internal(other),
    }
}

impl From<IdentityError> for ApiError {
    fn from(err: IdentityError) -> ApiError {
        match err {
            IdentityError::UserExists(name) => {
                entity_exists(&format!("User with name {name} already exists."))
            }
            IdentityError::NoSuchUser(name) => no_such_user(&name),
            IdentityError::NoSuchKey(id) => {
                no_such_entity(&format!("The Access Key with id {id} cannot be found."))
            }
            IdentityError::NoSuchGitCredentials(name) => {
                no_such_entity(&format!("The service specific credential {name} cannot be found."))
            }
            IdentityError::InvalidName(name) => {
                validation(&name, "userName", "satisfy regular expression pattern: [\\w+=,.@-]+")
            }
            IdentityError::InvalidPassword => ApiError::new(
                ErrorKind::Client,
                "PasswordPolicyViolation",
                IdentityError::InvalidPassword.to_string(),
            ),
            IdentityError::Store(err) => store_error(err),
        }
    }
}

/// A policy document as IAM returns it: URL-encoded (RFC 3986: every byte but letters,
/// digits and `-_.~` as `%XX`), which the AWS CLI and SDKs decode.
pub(crate) fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A policy document refused as IAM refuses it: `MalformedPolicyDocument` with its message.
pub(crate) fn malformed(err: &crate::policy::PolicyError) -> ApiError {
    ApiError::client(crate::policy::PolicyError::CODE, err.to_string())
}

/// One page of `items` for `Marker` and `MaxItems` (100 unless said, 1 to 1000): the page,
/// whether more follow, and the marker of the next page.
pub(crate) fn page<T>(
    items: Vec<T>,
    marker: Option<&str>,
    max_items: Option<u32>,
) -> Result<(Vec<T>, bool, Option<String>), ApiError> {
    let size = match max_items {
        None => 100,
        Some(n @ 1..=1000) => n as usize,
        Some(n) => {
            return Err(validation(&n.to_string(), "maxItems", "have value between 1 and 1000"));
        }
    };
    let start = awsapi::paging::offset(marker)
        .map_err(|_| invalid_input("The marker is not one this server gave."))?;
    let total = items.len();
    let next = awsapi::paging::next_offset(start, size, total);
    let page = items.into_iter().skip(start).take(size).collect();
    Ok((page, next.is_some(), next))
}

#[cfg(test)]
mod tests;
