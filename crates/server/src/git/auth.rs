//! Git's credentials as a request carries them: the Basic credentials of a git request and
//! the pieces of the credential helper's password, which `crate::auth` checks on every git
//! request.
//!
//! Two kinds of credentials are accepted, as CodeCommit does:
//! - HTTPS git credentials: a generated user name (`<user>-at-<6 digits>`) and a 40-character
//!   password, which `iam::git_credentials` creates, stores (only as a salted hash) and
//!   checks;
//! - the password `aws codecommit credential-helper` derives from an access key: user name =
//!   the access key id, password = `<YYYYMMDDTHHMMSS>Z<hex SigV4 signature>` over a fixed
//!   canonical request naming the repository's path and the host (aws-formats.md §6.1). We
//!   recompute it for the time it claims, like any SigV4 signature.

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

use awsapi::sigv4::{hmac, parse_amz_date, signing_key};

/// The user names of agents (token holders), which may fetch but not push.
pub(crate) const AGENT_USER_PREFIX: &str = "agent:";

/// The host without its port, as the helper signs it (`netloc.split(':')[0]`).
pub(crate) fn host_name(host: &str) -> &str {
    host.split(':').next().unwrap_or(host)
}

/// The access key id a helper's user name stands for (a long-term key's: temporary
/// credentials' user names are [`session_credentials`]).
pub(crate) fn access_key_id(user_name: &str) -> Option<String> {
    let decoded = percent_decode(user_name)?;
    let valid = !decoded.is_empty()
        && decoded.len() <= 128
        && decoded.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    valid.then_some(decoded)
}

/// The access key id and session token of a helper's user name for temporary credentials:
/// the helper writes `<ASIA… key id>%<session token>`.
pub(crate) fn session_credentials(user_name: &str) -> Option<(&str, &str)> {
    let (key, token) = user_name.split_once('%')?;
    let valid = key.starts_with("ASIA")
        && key.len() <= 128
        && key.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && !token.is_empty();
    valid.then_some((key, token))
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
