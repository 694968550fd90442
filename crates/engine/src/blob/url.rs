//! Parsing the blob store URLs of [`BlobStore::from_url`](super::BlobStore::from_url).
//!
//! The grammar is small enough to parse by hand (`file://`, `s3://` and plain paths), which
//! spares the engine a URL crate and lets every error say exactly what is wrong.

use std::path::PathBuf;

use percent_encoding::percent_decode_str;

use super::{BlobError, S3Settings, check_key};

/// The region when a URL names none; moto, MinIO and most S3-compatible servers accept it.
const DEFAULT_REGION: &str = "us-east-1";

/// What a URL describes.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Target {
    Local(PathBuf),
    S3(S3Settings),
}

pub(super) fn parse(url: &str) -> Result<Target, BlobError> {
    if url.is_empty() {
        return Err(bad("the URL is empty"));
    }
    if let Some(rest) = url.strip_prefix("file://") {
        return parse_file(rest);
    }
    if let Some(rest) = url.strip_prefix("s3://") {
        return parse_s3(rest).map(Target::S3);
    }
    // A scheme before any `/` means a URL we do not serve, not a relative path (which could
    // only contain `://` as a directory named `x:` followed by an empty segment).
    if let Some((scheme, _)) = url.split_once("://")
        && !scheme.contains('/')
    {
        return Err(bad(format!(
            "unsupported scheme `{scheme}://` (use file:// or s3://, or a plain path)"
        )));
    }
    Ok(Target::Local(PathBuf::from(url)))
}

fn parse_file(rest: &str) -> Result<Target, BlobError> {
    // `file:///x` has an empty host; `localhost` is the one host that also means "here".
    let path = rest.strip_prefix("localhost").unwrap_or(rest);
    if !path.starts_with('/') {
        return Err(bad("a file URL must hold an absolute path: file:///path/to/blobs"));
    }
    if path.contains(['?', '#']) {
        return Err(bad("a file URL takes no query or fragment"));
    }
    Ok(Target::Local(PathBuf::from(decode(path)?)))
}

fn parse_s3(rest: &str) -> Result<S3Settings, BlobError> {
    if rest.contains('#') {
        return Err(bad("an s3 URL takes no fragment"));
    }
    let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
    if bucket.contains('@') {
        return Err(bad(
            "credentials never go in a URL; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead",
        ));
    }
    if bucket.is_empty() {
        return Err(bad("the s3 URL names no bucket: s3://bucket/prefix"));
    }
    if !bucket.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')) {
        return Err(bad(format!("`{bucket}` is not a bucket name")));
    }
    let prefix = decode(prefix)?;
    let prefix = prefix.trim_end_matches('/');
    if !prefix.is_empty() {
        check_key(prefix).map_err(|error| bad(format!("bad prefix: {error}")))?;
    }

    let mut settings = S3Settings {
        bucket: bucket.to_owned(),
        prefix: prefix.to_owned(),
        endpoint: None,
        region: DEFAULT_REGION.to_owned(),
        access_key_id: None,
        secret_access_key: None,
        allow_http: false,
    };
    let (mut seen_region, mut seen_allow_http) = (false, false);
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = decode(value)?;
        let duplicate = || bad(format!("the parameter `{name}` is given twice"));
        match name {
            "endpoint" => {
                if settings.endpoint.is_some() {
                    return Err(duplicate());
                }
                if !(value.starts_with("http://") || value.starts_with("https://")) {
                    return Err(bad(format!(
                        "the endpoint `{value}` is not an http:// or https:// URL"
                    )));
                }
                settings.endpoint = Some(value);
            }
            "region" => {
                if std::mem::replace(&mut seen_region, true) {
                    return Err(duplicate());
                }
                if value.is_empty() {
                    return Err(bad("the region is empty"));
                }
                settings.region = value;
            }
            "allow_http" => {
                if std::mem::replace(&mut seen_allow_http, true) {
                    return Err(duplicate());
                }
                settings.allow_http = match value.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(bad(format!(
                            "allow_http must be true or false, not `{value}`"
                        )));
                    }
                };
            }
            _ => {
                return Err(bad(format!(
                    "unknown parameter `{name}` (known: endpoint, region, allow_http; \
                     credentials come from the AWS_* environment, never from a URL)"
                )));
            }
        }
    }
    if let Some(endpoint) = &settings.endpoint
        && endpoint.starts_with("http://")
        && !settings.allow_http
    {
        return Err(bad(format!("the endpoint {endpoint} is plain HTTP: add allow_http=true")));
    }
    Ok(settings)
}

/// Decodes `%XX` escapes (a path with spaces, an endpoint given encoded) into UTF-8 text.
///
/// `percent-encoding` passes a broken escape (`%2`, `%zz`, `%+1`) through as it is; a URL
/// with one is refused instead, so that nobody gets a path they did not mean.
fn decode(text: &str) -> Result<String, BlobError> {
    let broken = text.split('%').skip(1).any(|after| {
        !after.as_bytes().get(..2).is_some_and(|digits| digits.iter().all(u8::is_ascii_hexdigit))
    });
    if broken {
        return Err(bad(format!("`{text}` has a broken %-escape")));
    }
    percent_decode_str(text)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| bad(format!("`{text}` does not decode to UTF-8")))
}

fn bad(message: impl Into<String>) -> BlobError {
    BlobError::BadUrl(message.into())
}
