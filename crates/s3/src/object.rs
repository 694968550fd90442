//! Objects: their keys, their ETags as S3 computes them, the part of one a `Range` header asks
//! for, and what the conditional headers decide.

use awsapi::ApiError;
use md5::{Digest, Md5};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

/// The longest key S3 takes, in bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 1024;

/// `key` if S3 would take it as an object's key; else S3's `KeyTooLongError`.
pub fn check_key(key: &str) -> Result<&str, ApiError> {
    if key.len() > MAX_KEY_BYTES {
        return Err(ApiError::client("KeyTooLongError", "Your key is too long"));
    }
    Ok(key)
}

/// The MD5 of a body, fed as it streams.
#[derive(Default)]
pub struct BodyMd5(Md5);

impl BodyMd5 {
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn finish(self) -> [u8; 16] {
        self.0.finalize().into()
    }
}

/// The ETag of an object uploaded whole: its body's MD5 in hex, quoted.
pub fn etag(md5: &[u8; 16]) -> String {
    format!("\"{}\"", hex::encode(md5))
}

/// The ETag of an object a multipart upload made of parts with these MD5s (in part order):
/// the MD5 of their MD5s, then `-` and how many parts, quoted.
pub fn multipart_etag(parts: &[[u8; 16]]) -> String {
    let mut md5 = Md5::new();
    for part in parts {
        md5.update(part);
    }
    let digest: [u8; 16] = md5.finalize().into();
    format!("\"{}-{}\"", hex::encode(digest), parts.len())
}

/// The bytes of an object of `size` bytes a `Range` header asks for, first and last included;
/// `None` for the whole object (no header, or one S3 ignores: another unit, several ranges,
/// or one that is not a range). A range that starts past the end is S3's `InvalidRange`.
pub fn range(header: Option<&str>, size: u64) -> Result<Option<(u64, u64)>, ApiError> {
    let Some(spec) = header.and_then(|it| it.trim().strip_prefix("bytes=")) else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((first, last)) = spec.trim().split_once('-') else { return Ok(None) };
    let number = |text: &str| -> Option<u64> {
        (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.parse().ok())?
    };
    let unsatisfiable =
        || Err(ApiError::client("InvalidRange", "The requested range is not satisfiable"));
    match (number(first), number(last)) {
        // `bytes=-500`: the last 500 bytes.
        (None, Some(suffix)) if first.is_empty() => {
            if suffix == 0 || size == 0 {
                return unsatisfiable();
            }
            Ok(Some((size - suffix.min(size), size - 1)))
        }
        // `bytes=9500-`: from byte 9500 to the end.
        (Some(start), None) if last.is_empty() => {
            if start >= size {
                return unsatisfiable();
            }
            Ok(Some((start, size - 1)))
        }
        (Some(start), Some(end)) if start <= end => {
            if start >= size {
                return unsatisfiable();
            }
            Ok(Some((start, end.min(size - 1))))
        }
        _ => Ok(None),
    }
}

/// What the conditional headers of a GET or HEAD decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// Answer the object.
    Proceed,
    /// `304 Not Modified`.
    NotModified,
    /// `412 PreconditionFailed`.
    Failed,
}

/// A request's conditional headers, as sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Conditions<'a> {
    pub if_match: Option<&'a str>,
    pub if_none_match: Option<&'a str>,
    pub if_modified_since: Option<&'a str>,
    pub if_unmodified_since: Option<&'a str>,
}

impl Conditions<'_> {
    /// The decision for an object with `etag` last modified at `last_modified` (seconds since
    /// the epoch), as S3 makes it (RFC 9110's order): `If-Match` (else `If-Unmodified-Since`)
    /// fails the request with 412; then `If-None-Match` (else `If-Modified-Since`) answers 304.
    /// A date that cannot be read is no condition.
    pub fn evaluate(&self, etag: &str, last_modified: i64) -> Precondition {
        let since = |header: Option<&str>| header.and_then(parse_http_date);
        if let Some(tags) = self.if_match {
            if !matches_any(tags, etag) {
                return Precondition::Failed;
            }
        } else if since(self.if_unmodified_since).is_some_and(|date| last_modified > date) {
            return Precondition::Failed;
        }
        if let Some(tags) = self.if_none_match {
            if matches_any(tags, etag) {
                return Precondition::NotModified;
            }
        } else if since(self.if_modified_since).is_some_and(|date| last_modified <= date) {
            return Precondition::NotModified;
        }
        Precondition::Proceed
    }
}

/// Whether the list of entity tags `tags` (`*`, or `"a", W/"b"`) names `etag`.
fn matches_any(tags: &str, etag: &str) -> bool {
    let bare = |tag: &str| tag.trim().trim_start_matches("W/").trim_matches('"').to_owned();
    let etag = bare(etag);
    tags.split(',').any(|tag| tag.trim() == "*" || bare(tag) == etag)
}

/// `ms` since the epoch as an HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`), as S3 writes
/// `Last-Modified`.
pub fn http_date(ms: i64) -> String {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .format(&format)
        .unwrap_or_default()
}

/// An HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`) as seconds since the epoch.
pub fn parse_http_date(text: &str) -> Option<i64> {
    OffsetDateTime::parse(text.trim(), &Rfc2822).ok().map(OffsetDateTime::unix_timestamp)
}

#[cfg(test)]
mod tests;
