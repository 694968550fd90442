//! Git's credentials: HTTPS git credentials (created, revoked, looked up) and the pieces of
//! the credential helper's password, which `crate::auth` checks on every git request.
//!
//! Two kinds of credentials are accepted, as CodeCommit does:
//! - HTTPS git credentials: a generated user name (`<user>-at-<6 digits>`) and a 40-character
//!   password, stored only as a salted SHA-256 hash (kind `git-credential`);
//! - the password `aws codecommit credential-helper` derives from an access key: user name =
//!   the access key id, password = `<YYYYMMDDTHHMMSS>Z<hex SigV4 signature>` over a fixed
//!   canonical request naming the repository's path and the host (aws-formats.md §6.1). We
//!   recompute it for the time it claims, like any SigV4 signature.

use axum::http::HeaderMap;
use engine::store::{Document, StoreError, Write};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::crypto::{random_bytes, random_string};
use awsapi::sigv4::{hmac, parse_amz_date, signing_key};
use engine::kinds::{GIT_CREDENTIAL, USER};

/// The user names of agents (token holders), which may fetch but not push.
pub(crate) const AGENT_USER_PREFIX: &str = "agent:";

/// Creates HTTPS git credentials for `user`: the git user name and the password, which is
/// shown this once and never stored.
pub(crate) async fn create_git_credentials(
    state: &AppState,
    user: &str,
) -> Result<(String, String), StoreError> {
    if state.store.get(USER, user).await?.is_none() {
        return Err(StoreError::NotFound { kind: USER.to_owned(), key: user.to_owned() });
    }
    let password =
        random_string(40, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
    let salt = random_bytes(16);
    let now = engine::clock::now_ms();
    // A million names per user: a clash is unlikely, and a few tries make it vanishingly so.
    let mut last_error = None;
    for _ in 0..8 {
        let name = format!("{user}-at-{}", random_string(6, b"0123456789"));
        let document = Document {
            kind: GIT_CREDENTIAL.to_owned(),
            key: name.clone(),
            parent: Some(user.to_owned()),
            sort: now,
            version: 0,
            body: json!({
                "userName": user,
                "passwordHash": password_hash(&salt, &password),
                "salt": hex::encode(&salt),
                "status": "Active",
                "createdMs": now,
            }),
        };
        match state.store.apply(vec![Write::Insert(document)]).await {
            Ok(()) => return Ok((name, password)),
            Err(err @ StoreError::AlreadyExists { .. }) => last_error = Some(err),
            Err(err) => return Err(err),
        }
    }
    Err(last_error.unwrap_or(StoreError::AlreadyExists {
        kind: GIT_CREDENTIAL.to_owned(),
        key: format!("{user}-at-…"),
    }))
}

/// Deactivates HTTPS git credentials for good.
pub(crate) async fn revoke_git_credentials(
    state: &AppState,
    git_user_name: &str,
) -> Result<(), StoreError> {
    let Some(mut document) = state.store.get(GIT_CREDENTIAL, git_user_name).await? else {
        return Err(StoreError::NotFound {
            kind: GIT_CREDENTIAL.to_owned(),
            key: git_user_name.to_owned(),
        });
    };
    let version = document.version;
    document.body["status"] = json!("Inactive");
    state.store.apply(vec![Write::Update { document, expected_version: version }]).await
}

fn password_hash(salt: &[u8], password: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt);
    hasher.update(password.as_bytes());
    hex::encode(hasher.finalize())
}

/// The user HTTPS git credentials stand for, when they are active and the password is
/// theirs (`crate::auth` decides who a git caller is; this only looks the credentials up).
pub(crate) async fn check_git_credentials(
    state: &AppState,
    user_name: &str,
    password: &str,
) -> Result<Option<String>, StoreError> {
    let Some(document) = state.store.get(GIT_CREDENTIAL, user_name).await? else {
        return Ok(None);
    };
    let body = &document.body;
    if body["status"] != "Active" {
        return Ok(None);
    }
    let Some(salt) = body["salt"].as_str().and_then(|it| hex::decode(it).ok()) else {
        return Ok(None);
    };
    let Some(expected) = body["passwordHash"].as_str() else { return Ok(None) };
    let actual = password_hash(&salt, password);
    Ok(bool::from(expected.as_bytes().ct_eq(actual.as_bytes()))
        .then(|| body["userName"].as_str().map(str::to_owned))
        .flatten())
}

/// Whether `user` may reach the repository `repo` at all (asked by `crate::auth::authorize`
/// for a build's git token). Every user may reach every repository until the authorization
/// model comes.
pub(crate) fn may_reach(_user: &str, _repo: &str) -> bool {
    true
}

/// The host without its port, as the helper signs it (`netloc.split(':')[0]`).
pub(crate) fn host_name(host: &str) -> &str {
    host.split(':').next().unwrap_or(host)
}

/// The access key id a helper's user name stands for. The helper appends `%<session token>`
/// for temporary credentials, which this server does not issue: those are refused.
pub(crate) fn access_key_id(user_name: &str) -> Option<String> {
    let decoded = percent_decode(user_name)?;
    let valid = !decoded.is_empty()
        && decoded.len() <= 128
        && decoded.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    valid.then_some(decoded)
}

/// The parts of a credential-helper password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HelperPassword<'a> {
    /// `YYYYMMDDTHHMMSS`, as signed (without the `Z`).
    pub(crate) timestamp: &'a str,
    pub(crate) seconds: i64,
    pub(crate) signature: &'a str,
}

/// Splits `<YYYYMMDDTHHMMSS>Z<64 hex digits>`; `None` for anything else (a generated git
/// password, say: those are 40 characters).
pub(crate) fn split_codecommit_password(password: &str) -> Option<HelperPassword<'_>> {
    if password.len() != 80 || !password.is_ascii() {
        return None;
    }
    let (stamp, signature) = password.split_at(16);
    let seconds = parse_amz_date(stamp)?;
    if !signature.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    Some(HelperPassword { timestamp: &stamp[..15], seconds, signature })
}

/// The hex signature `aws codecommit credential-helper` computes (awscli's
/// `customizations/codecommit.py`, `sign_request`): SigV4 for service `codecommit` over the
/// canonical request `GIT\n<path>\n\nhost:<host name>\n\nhost\n`, whose string to sign has
/// the timestamp without its `Z`.
pub(crate) fn codecommit_signature(
    secret: &str,
    region: &str,
    timestamp: &str,
    host_name: &str,
    path: &str,
) -> String {
    let canonical = format!("GIT\n{path}\n\nhost:{host_name}\n\nhost\n");
    let date = timestamp.get(..8).unwrap_or(timestamp);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{timestamp}\n{date}/{region}/codecommit/aws4_request\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    hex::encode(hmac(&signing_key(secret, date, region, "codecommit"), string_to_sign.as_bytes()))
}

/// The user name and password of `Authorization: Basic …`.
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(crate::base64_codec::decode(encoded.trim())?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// `text` percent-decoded; `None` when a `%` is not followed by two hex digits (`%+1`, `%4`)
/// or the result is not UTF-8, so a malformed user name is refused, never guessed at.
pub(crate) fn percent_decode(text: &str) -> Option<String> {
    let well_formed = text.split('%').skip(1).all(|rest| {
        rest.as_bytes().get(..2).is_some_and(|it| it.iter().all(u8::is_ascii_hexdigit))
    });
    if !well_formed {
        return None;
    }
    percent_encoding::percent_decode_str(text).decode_utf8().ok().map(|it| it.into_owned())
}
