//! Verifying AWS Signature Version 4 on incoming API requests.
//!
//! Every request to the AWS JSON API is signed by the client (the `aws` CLI, boto3, the SDKs)
//! with an access key's secret. We recompute the signature from the request and compare, as
//! AWS does (`shared/reference/aws-formats.md` §7.4). The function is pure: the caller passes
//! the current time and a way to look up a key's secret.

use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::percent_decode_str;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

/// `20261122T162140Z`: SigV4's `X-Amz-Date` (ISO 8601 basic format), the one description of
/// it (`engine::clock` re-exports it).
pub const AMZ_DATE: &[BorrowedFormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");

/// How far a request's timestamp may be from the server's clock.
const MAX_SKEW_SECONDS: i64 = 15 * 60;

/// A request as the verifier needs it.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// The path as received, still percent-encoded.
    pub path: &'a str,
    /// The query string as received, without `?`.
    pub query: &'a str,
    /// Every header, names lower-cased, in the order received.
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// Who signed a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    pub access_key_id: String,
    pub region: String,
}

/// Why a request was refused, with the AWS error code each maps to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("Missing Authentication Token")]
    Missing,
    #[error("{0}")]
    Incomplete(String),
    /// An unknown access key, or a session's key without its session token (or another).
    #[error("The security token included in the request is invalid.")]
    UnknownKey,
    /// A session's key and token, after the session ended.
    #[error("The security token included in the request is expired")]
    ExpiredToken,
    #[error("Signature expired: {request} is now earlier than {earliest} ({now} - 15 min.)")]
    Expired { request: String, earliest: String, now: String },
    #[error("Signature not yet current: {request} is still later than {latest} ({now} + 15 min.)")]
    NotYetCurrent { request: String, latest: String, now: String },
    #[error("Credential should be scoped to correct service: '{0}'. ")]
    WrongService(String),
    /// The credential names a region this server does not serve; it serves exactly one.
    #[error(
        "Credential should be scoped to a valid region. This server serves '{served}', not '{signed}'."
    )]
    WrongRegion { signed: String, served: String },
    /// `X-Amz-Content-SHA256` is `UNSIGNED-PAYLOAD` (or a streaming mode), which only S3 takes.
    #[error(
        "The body of a request to this service must be signed: '{0}' is not accepted for X-Amz-Content-SHA256."
    )]
    UnsignedPayload(String),
    #[error(
        "The request signature we calculated does not match the signature you provided. \
         Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    )]
    Mismatch,
    /// A presigned URL past its `X-Amz-Expires`.
    #[error("Request has expired")]
    PresignExpired,
    /// A presigned URL's query parameters are missing or malformed (S3's
    /// `AuthorizationQueryParametersError`).
    #[error("{0}")]
    MalformedQuery(String),
    /// An S3 request signed in its headers without `x-amz-content-sha256`, or with a value S3
    /// does not take.
    #[error("{0}")]
    BadContentSha256(String),
}

impl SignatureError {
    /// The `__type` AWS answers with.
    pub fn code(&self) -> &'static str {
        match self {
            SignatureError::Missing => "MissingAuthenticationTokenException",
            SignatureError::Incomplete(_) => "IncompleteSignatureException",
            SignatureError::UnknownKey => "UnrecognizedClientException",
            SignatureError::ExpiredToken => "ExpiredTokenException",
            SignatureError::Expired { .. }
            | SignatureError::NotYetCurrent { .. }
            | SignatureError::WrongService(_)
            | SignatureError::WrongRegion { .. }
            | SignatureError::UnsignedPayload(_)
            | SignatureError::Mismatch
            | SignatureError::PresignExpired
            | SignatureError::MalformedQuery(_)
            | SignatureError::BadContentSha256(_) => "InvalidSignatureException",
        }
    }

    /// The code S3 answers with (its XML error's `Code`).
    pub fn s3_code(&self) -> &'static str {
        match self {
            SignatureError::Missing | SignatureError::PresignExpired => "AccessDenied",
            SignatureError::Incomplete(_)
            | SignatureError::WrongService(_)
            | SignatureError::WrongRegion { .. } => "AuthorizationHeaderMalformed",
            SignatureError::UnknownKey => "InvalidAccessKeyId",
            SignatureError::ExpiredToken => "ExpiredToken",
            SignatureError::Expired { .. } | SignatureError::NotYetCurrent { .. } => {
                "RequestTimeTooSkewed"
            }
            SignatureError::UnsignedPayload(_) | SignatureError::BadContentSha256(_) => {
                "InvalidRequest"
            }
            SignatureError::Mismatch => "SignatureDoesNotMatch",
            SignatureError::MalformedQuery(_) => "AuthorizationQueryParametersError",
        }
    }
}

/// Checks `request`'s signature for `service` (its signing name, e.g. `codebuild`) in
/// `region` (the one this server serves) at `now` (seconds since the epoch). `secret`
/// returns the secret of an active access key.
///
/// The payload hash signed is always the SHA-256 of the body received: a client's
/// `X-Amz-Content-SHA256` header, signed or not, only has to agree with it, so a captured
/// request cannot be replayed with another body.
pub fn verify<S: AsRef<str>>(
    request: &SignedRequest<'_>,
    service: &str,
    region: &str,
    now: i64,
    secret: impl FnOnce(&str) -> Option<S>,
) -> Result<Signer, SignatureError> {
    let header = |name: &str| -> Vec<&str> {
        request.headers.iter().filter(|(k, _)| *k == name).map(|(_, v)| *v).collect()
    };
    let authorization = *header("authorization").first().ok_or(SignatureError::Missing)?;
    let auth = parse_authorization(authorization)?;
    let amz_date = header("x-amz-date").first().copied().ok_or_else(|| {
        SignatureError::Incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
                .to_owned(),
        )
    })?;
    check_time_and_scope(amz_date, now, None, &auth, service, region)?;
    if !auth.signed_headers.contains(&"host") {
        return Err(SignatureError::Incomplete(
            "'Host' must be a 'SignedHeader' in the AWS Authorization.".to_owned(),
        ));
    }
    let secret = secret(auth.access_key).ok_or(SignatureError::UnknownKey)?;

    let canonical_headers = canonical_headers(request.headers, &auth.signed_headers)?;
    let canonical_query = canonical_query(request.query, None);
    let payload_hash = hex::encode(Sha256::digest(request.body));
    if let Some(claimed) = header("x-amz-content-sha256").first() {
        if claimed.starts_with("UNSIGNED-PAYLOAD") || claimed.starts_with("STREAMING-") {
            return Err(SignatureError::UnsignedPayload((*claimed).to_owned()));
        }
        if !claimed.eq_ignore_ascii_case(&payload_hash) {
            return Err(SignatureError::Mismatch);
        }
    }
    let canonical = Canonical {
        method: request.method,
        // Services other than S3 encode the (already encoded) path once more.
        path: &uri_encode(request.path, true),
        query: &canonical_query,
        headers: &canonical_headers,
        payload_hash: &payload_hash,
    };
    check_signature(&canonical, &auth, amz_date, secret.as_ref())?;
    Ok(Signer { access_key_id: auth.access_key.to_owned(), region: auth.region.to_owned() })
}

/// The request's time (`amz_date`) within [`MAX_SKEW_SECONDS`] of `now` (or, for a presigned
/// URL, at most its `X-Amz-Expires` seconds before `now`), and its credential scope of that
/// day, for `service` in `region`.
fn check_time_and_scope(
    amz_date: &str,
    now: i64,
    expires: Option<i64>,
    auth: &Authorization<'_>,
    service: &str,
    region: &str,
) -> Result<i64, SignatureError> {
    let request_time = parse_amz_date(amz_date)
        .ok_or_else(|| SignatureError::Incomplete(format!("Invalid X-Amz-Date '{amz_date}'")))?;
    if let Some(expires) = expires {
        if now > request_time.saturating_add(expires) {
            return Err(SignatureError::PresignExpired);
        }
    } else if now - request_time > MAX_SKEW_SECONDS {
        return Err(SignatureError::Expired {
            request: amz_date.to_owned(),
            earliest: format_amz_date(now - MAX_SKEW_SECONDS),
            now: format_amz_date(now),
        });
    }
    if request_time - now > MAX_SKEW_SECONDS {
        return Err(SignatureError::NotYetCurrent {
            request: amz_date.to_owned(),
            latest: format_amz_date(now + MAX_SKEW_SECONDS),
            now: format_amz_date(now),
        });
    }
    if !amz_date.starts_with(auth.date) {
        return Err(SignatureError::Incomplete(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}'",
            auth.date,
            &amz_date[..8.min(amz_date.len())]
        )));
    }
    if auth.service != service {
        return Err(SignatureError::WrongService(service.to_owned()));
    }
    if auth.region != region {
        return Err(SignatureError::WrongRegion {
            signed: auth.region.to_owned(),
            served: region.to_owned(),
        });
    }
    Ok(request_time)
}

/// A request's canonical form, but for its signed header names (SigV4's canonical request).
struct Canonical<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a str,
    headers: &'a str,
    payload_hash: &'a str,
}

/// Compares the request's signature with the one computed from its canonical form with
/// `secret`; the signing key and the scope, for the chunks of an S3 streaming body.
fn check_signature(
    canonical: &Canonical<'_>,
    auth: &Authorization<'_>,
    amz_date: &str,
    secret: &str,
) -> Result<(Vec<u8>, String), SignatureError> {
    let text = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        canonical.method,
        canonical.path,
        canonical.query,
        canonical.headers,
        auth.signed_headers.join(";"),
        canonical.payload_hash
    );
    let scope = format!("{}/{}/{}/aws4_request", auth.date, auth.region, auth.service);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(text.as_bytes()))
    );
    let key = signing_key(secret, auth.date, auth.region, auth.service);
    let expected = hex::encode(hmac(&key, string_to_sign.as_bytes()));
    if !bool::from(expected.as_bytes().ct_eq(auth.signature.as_bytes())) {
        return Err(SignatureError::Mismatch);
    }
    Ok((key, scope))
}

/// `name:value,value\n` for each of `signed` (lower-cased names) from `headers`, each value's
/// runs of spaces made one; a signed header that is missing is a mismatch.
fn canonical_headers(headers: &[(&str, &str)], signed: &[&str]) -> Result<String, SignatureError> {
    let mut canonical = String::with_capacity(256);
    for name in signed {
        let mut values = headers.iter().filter(|(k, _)| k == name).map(|(_, v)| *v);
        let Some(first) = values.next() else {
            return Err(SignatureError::Mismatch);
        };
        canonical.push_str(name);
        canonical.push(':');
        for (i, value) in std::iter::once(first).chain(values).enumerate() {
            if i > 0 {
                canonical.push(',');
            }
            for (j, word) in value.split_whitespace().enumerate() {
                if j > 0 {
                    canonical.push(' ');
                }
                canonical.push_str(word);
            }
        }
        canonical.push('\n');
    }
    Ok(canonical)
}

/// The query's pairs decoded, encoded canonically and sorted, `k=v&…`, without the pair named
/// `leave_out` (a presigned URL's own signature).
fn canonical_query(query: &str, leave_out: Option<&str>) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|it| !it.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .filter(|(key, _)| leave_out.is_none_or(|name| percent_decode(key) != name))
        .map(|(k, v)| {
            (uri_encode(&percent_decode(k), false), uri_encode(&percent_decode(v), false))
        })
        .collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// Signs a request the way the AWS SDKs do; the tests use it to make requests to verify.
pub fn sign(
    request: &SignedRequest<'_>,
    access_key: &str,
    secret: &str,
    region: &str,
    service: &str,
    amz_date: &str,
) -> String {
    let names: Vec<&str> = {
        let mut names: Vec<&str> = request.headers.iter().map(|(k, _)| *k).collect();
        names.sort();
        names.dedup();
        names
    };
    let canonical_headers: String = names
        .iter()
        .map(|name| {
            let values: Vec<&str> =
                request.headers.iter().filter(|(k, _)| k == name).map(|(_, v)| v.trim()).collect();
            format!("{name}:{}\n", values.join(","))
        })
        .collect();
    let canonical = format!(
        "{}\n{}\n{}\n{canonical_headers}\n{}\n{}",
        request.method,
        uri_encode(request.path, true),
        request.query,
        names.join(";"),
        hex::encode(Sha256::digest(request.body))
    );
    let date = &amz_date[..8];
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let signature =
        hex::encode(hmac(&signing_key(secret, date, region, service), string_to_sign.as_bytes()));
    format!(
        "AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={}, Signature={signature}",
        names.join(";")
    )
}

struct Authorization<'a> {
    access_key: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(header: &str) -> Result<Authorization<'_>, SignatureError> {
    let incomplete = |what: &str| {
        SignatureError::Incomplete(format!(
            "Authorization header requires '{what}' parameter. Authorization={header}"
        ))
    };
    let rest = header.strip_prefix("AWS4-HMAC-SHA256 ").ok_or_else(|| {
        SignatureError::Incomplete(format!("Unsupported Authorization Type: {header}"))
    })?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let Some((key, value)) = part.trim().split_once('=') else { continue };
        match key {
            "Credential" => credential = Some(value),
            "SignedHeaders" => signed = Some(value),
            "Signature" => signature = Some(value),
            _ => {}
        }
    }
    let credential = credential.ok_or_else(|| incomplete("Credential"))?;
    let signed = signed.ok_or_else(|| incomplete("SignedHeaders"))?;
    let signature = signature.ok_or_else(|| incomplete("Signature"))?;
    let parts: Vec<&str> = credential.split('/').collect();
    if parts.len() != 5 || parts[4] != "aws4_request" || parts.iter().any(|it| it.is_empty()) {
        return Err(SignatureError::Incomplete(format!(
            "Credential should be scoped to a valid region, not '{}'. ",
            parts.get(2).unwrap_or(&"")
        )));
    }
    Ok(Authorization {
        access_key: parts[0],
        date: parts[1],
        region: parts[2],
        service: parts[3],
        signed_headers: signed.split(';').collect(),
        signature,
    })
}

/// SigV4's derived key for one day, region and service (§7.4 step 5); the CodeCommit git
/// password (`git::auth`) is signed with it too.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let key = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let key = hmac(&key, region.as_bytes());
    let key = hmac(&key, service.as_bytes());
    hmac(&key, b"aws4_request")
}

pub fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any size");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn uri_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A query key or value as the client meant it, before it is encoded canonically; a `%`
/// without two hex digits after it (`%+1`) stays as it is, so the signature does not match.
fn percent_decode(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// `20261122T162140Z` as seconds since the epoch.
pub fn parse_amz_date(text: &str) -> Option<i64> {
    let time = PrimitiveDateTime::parse(text, AMZ_DATE).ok()?.assume_utc();
    Some(time.unix_timestamp())
}

/// Seconds since the epoch as `20261122T162140Z`.
pub fn format_amz_date(seconds: i64) -> String {
    let time = OffsetDateTime::from_unix_timestamp(seconds)
        .map(|time| PrimitiveDateTime::new(time.date(), time.time()))
        .unwrap_or(if seconds < 0 { PrimitiveDateTime::MIN } else { PrimitiveDateTime::MAX });
    // Formatting fails only for a description that asks for an offset, which this one does
    // not.
    time.format(AMZ_DATE).unwrap_or_default()
}

/// The service a request's credential scope names (`…/<date>/<region>/<service>/aws4_request`
/// in the `Authorization` header, or a presigned URL's `X-Amz-Credential` in `query`), if any.
pub fn scope_service<'a>(
    authorization: Option<&'a str>,
    query: Option<&'a str>,
) -> Option<&'a str> {
    let credential = match authorization {
        Some(value) => {
            let start = value.find("Credential=")? + "Credential=".len();
            value[start..].split([',', ' ']).next()?
        }
        None => query?.split('&').find_map(|pair| pair.strip_prefix("X-Amz-Credential="))?,
    };
    // In a query string the slashes are percent-encoded.
    let mut parts: Vec<&str> = if credential.contains('/') {
        credential.split('/').collect()
    } else {
        credential.split("%2F").collect()
    };
    if parts.len() != 5 {
        return None;
    }
    parts.truncate(4);
    parts.pop()
}

pub mod chunked;
pub mod s3;

#[cfg(test)]
mod tests;
