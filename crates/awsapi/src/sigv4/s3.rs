//! SigV4 as S3 takes it, for the S3 API (issue 11): signed in the `Authorization` header with
//! `x-amz-content-sha256` naming the payload (a SHA-256, `UNSIGNED-PAYLOAD`, or an aws-chunked
//! `STREAMING-…` mode whose chunks are checked as they stream), or presigned in the query
//! (`X-Amz-Credential` … `X-Amz-Expires`, the payload unsigned).
//!
//! Unlike the other services, S3 signs the path as it was sent (encoded once, not twice), and
//! the body is not read here: the caller streams it and checks it against [`Payload`].

use sha2::{Digest, Sha256};

use super::{
    Authorization, Canonical, SignatureError, Signer, canonical_headers, canonical_query,
    check_time_and_scope, parse_authorization, percent_decode, uri_encode,
};

/// The longest a presigned URL may be valid: seven days.
pub const MAX_PRESIGN_EXPIRES: i64 = 604_800;

/// The aws-chunked modes of `x-amz-content-sha256`.
const STREAMING_MODES: &[&str] = &[
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
    "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
];

/// An S3 request as the verifier needs it (its body is the caller's to stream).
pub struct S3Request<'a> {
    pub method: &'a str,
    /// The path as received, still percent-encoded.
    pub path: &'a str,
    /// The query string as received, without `?`.
    pub query: &'a str,
    /// Every header, names lower-cased, in the order received.
    pub headers: &'a [(&'a str, &'a str)],
}

/// What the signature says of the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// The body's SHA-256 (lower-case hex) the signature covers: a body without it must be
    /// refused (`XAmzContentSHA256Mismatch`).
    Sha256(String),
    /// `UNSIGNED-PAYLOAD`, and every presigned URL: the body is not signed.
    Unsigned,
    /// An aws-chunked body: its mode, and what its chunks' signatures chain from.
    Streaming { mode: String, chunks: ChunkSigning },
}

/// What an aws-chunked body's chunk signatures are computed with: the request's signing key,
/// time and scope, and the signature of the request itself (the first chunk's "previous").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkSigning {
    pub key: Vec<u8>,
    pub amz_date: String,
    pub scope: String,
    pub seed_signature: String,
}

/// A verified S3 request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Signed {
    pub signer: Signer,
    pub payload: Payload,
    /// `X-Amz-Security-Token` (header, or query when presigned): the caller checks it against
    /// the signer's session.
    pub security_token: Option<String>,
    pub presigned: bool,
}

/// Checks an S3 request's signature for this server's `region` at `now` (seconds since the
/// epoch); `secret` returns an active access key's secret. A request with neither an
/// `Authorization` header nor a presigned query is [`SignatureError::Missing`] (S3's
/// `AccessDenied` for anonymous requests).
pub fn verify<S: AsRef<str>>(
    request: &S3Request<'_>,
    region: &str,
    now: i64,
    secret: impl FnOnce(&str) -> Option<S>,
) -> Result<S3Signed, SignatureError> {
    let header = |name: &str| request.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    if let Some(authorization) = header("authorization") {
        return verify_header(request, authorization, region, now, secret);
    }
    let presigned = request.query.split('&').any(|pair| {
        let key = pair.split_once('=').map_or(pair, |(key, _)| key);
        key == "X-Amz-Algorithm" || key == "X-Amz-Signature" || key == "X-Amz-Credential"
    });
    if presigned {
        return verify_presigned(request, region, now, secret);
    }
    Err(SignatureError::Missing)
}

fn verify_header<S: AsRef<str>>(
    request: &S3Request<'_>,
    authorization: &str,
    region: &str,
    now: i64,
    secret: impl FnOnce(&str) -> Option<S>,
) -> Result<S3Signed, SignatureError> {
    let header = |name: &str| request.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    let auth = parse_authorization(authorization)?;
    let amz_date = header("x-amz-date").ok_or_else(|| {
        SignatureError::Incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
                .to_owned(),
        )
    })?;
    check_time_and_scope(amz_date, now, None, &auth, "s3", region)?;
    require_host(&auth)?;
    let claimed = header("x-amz-content-sha256").ok_or_else(|| {
        SignatureError::BadContentSha256(
            "Missing required header for this request: x-amz-content-sha256".to_owned(),
        )
    })?;
    let payload_kind = payload_kind(claimed)?;
    let secret = secret(auth.access_key).ok_or(SignatureError::UnknownKey)?;
    let canonical_headers = canonical_headers(request.headers, &auth.signed_headers)?;
    let (key, scope) = check_signature(
        request,
        &auth,
        amz_date,
        &canonical_query(request.query, None),
        &canonical_headers,
        claimed,
        secret.as_ref(),
    )?;
    let payload = match payload_kind {
        PayloadKind::Sha256 => Payload::Sha256(claimed.to_ascii_lowercase()),
        PayloadKind::Unsigned => Payload::Unsigned,
        PayloadKind::Streaming => Payload::Streaming {
            mode: claimed.to_owned(),
            chunks: ChunkSigning {
                key,
                amz_date: amz_date.to_owned(),
                scope,
                seed_signature: auth.signature.to_owned(),
            },
        },
    };
    Ok(S3Signed {
        signer: Signer {
            access_key_id: auth.access_key.to_owned(),
            region: auth.region.to_owned(),
        },
        payload,
        security_token: header("x-amz-security-token").map(str::to_owned),
        presigned: false,
    })
}

fn verify_presigned<S: AsRef<str>>(
    request: &S3Request<'_>,
    region: &str,
    now: i64,
    secret: impl FnOnce(&str) -> Option<S>,
) -> Result<S3Signed, SignatureError> {
    let pairs: Vec<(String, String)> = request
        .query
        .split('&')
        .filter(|it| !it.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect();
    let param = |name: &str| pairs.iter().find(|(key, _)| key == name).map(|(_, v)| v.as_str());
    let required = || {
        SignatureError::MalformedQuery(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, \
             X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and \
             X-Amz-Expires parameters."
                .to_owned(),
        )
    };
    let algorithm = param("X-Amz-Algorithm").ok_or_else(required)?;
    if algorithm != "AWS4-HMAC-SHA256" {
        return Err(SignatureError::MalformedQuery(
            "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"".to_owned(),
        ));
    }
    let credential = param("X-Amz-Credential").ok_or_else(required)?;
    let amz_date = param("X-Amz-Date").ok_or_else(required)?;
    let expires = param("X-Amz-Expires").ok_or_else(required)?;
    let signed_headers = param("X-Amz-SignedHeaders").ok_or_else(required)?;
    let signature = param("X-Amz-Signature").ok_or_else(required)?;
    let expires: i64 = expires.parse().map_err(|_| {
        SignatureError::MalformedQuery("X-Amz-Expires should be a number".to_owned())
    })?;
    if expires < 0 {
        return Err(SignatureError::MalformedQuery(
            "X-Amz-Expires must be non-negative".to_owned(),
        ));
    }
    if expires > MAX_PRESIGN_EXPIRES {
        return Err(SignatureError::MalformedQuery(format!(
            "X-Amz-Expires must be less than a week (in seconds) that is {MAX_PRESIGN_EXPIRES}"
        )));
    }
    let parts: Vec<&str> = credential.split('/').collect();
    if parts.len() != 5 || parts[4] != "aws4_request" || parts.iter().any(|it| it.is_empty()) {
        return Err(SignatureError::MalformedQuery(format!(
            "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; \
             expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\": {credential}"
        )));
    }
    let auth = Authorization {
        access_key: parts[0],
        date: parts[1],
        region: parts[2],
        service: parts[3],
        signed_headers: signed_headers.split(';').collect(),
        signature,
    };
    check_time_and_scope(amz_date, now, Some(expires), &auth, "s3", region)?;
    require_host(&auth)?;
    let secret = secret(auth.access_key).ok_or(SignatureError::UnknownKey)?;
    let canonical_headers = canonical_headers(request.headers, &auth.signed_headers)?;
    check_signature(
        request,
        &auth,
        amz_date,
        &canonical_query(request.query, Some("X-Amz-Signature")),
        &canonical_headers,
        "UNSIGNED-PAYLOAD",
        secret.as_ref(),
    )?;
    Ok(S3Signed {
        signer: Signer {
            access_key_id: auth.access_key.to_owned(),
            region: auth.region.to_owned(),
        },
        payload: Payload::Unsigned,
        security_token: param("X-Amz-Security-Token").map(str::to_owned),
        presigned: true,
    })
}

/// What a presigned URL lets its holder do: `method` on `path` (`/bucket/key`, not encoded)
/// at `host`, signed by `access_key_id` (with `session_token` for temporary credentials) for
/// `region`, from `now` (seconds since the epoch) for `expires` seconds.
pub struct Presign<'a> {
    pub method: &'a str,
    pub host: &'a str,
    pub path: &'a str,
    pub access_key_id: &'a str,
    pub secret: &'a str,
    pub session_token: Option<&'a str>,
    pub region: &'a str,
    pub now: i64,
    pub expires: i64,
}

/// The path and query (`/bucket/key?X-Amz-Algorithm=…&X-Amz-Signature=…`) of a URL presigned
/// as the SDKs presign S3's: the host the one signed header, the payload unsigned.
pub fn presign(request: &Presign<'_>) -> String {
    let amz_date = super::format_amz_date(request.now);
    let date = &amz_date[..8];
    let scope = format!("{date}/{}/s3/aws4_request", request.region);
    let credential = format!("{}/{scope}", request.access_key_id);
    let mut query = vec![
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256".to_owned()),
        ("X-Amz-Credential", credential),
        ("X-Amz-Date", amz_date.clone()),
        ("X-Amz-Expires", request.expires.to_string()),
        ("X-Amz-SignedHeaders", "host".to_owned()),
    ];
    if let Some(token) = request.session_token {
        query.push(("X-Amz-Security-Token", token.to_owned()));
    }
    query.sort();
    let query = query
        .iter()
        .map(|(key, value)| format!("{key}={}", uri_encode(value, false)))
        .collect::<Vec<_>>()
        .join("&");
    let path = uri_encode(request.path, true);
    let canonical = format!(
        "{}\n{path}\n{query}\nhost:{}\n\nhost\nUNSIGNED-PAYLOAD",
        request.method, request.host
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let key = super::signing_key(request.secret, date, request.region, "s3");
    let signature = hex::encode(super::hmac(&key, string_to_sign.as_bytes()));
    format!("{path}?{query}&X-Amz-Signature={signature}")
}

enum PayloadKind {
    Sha256,
    Unsigned,
    Streaming,
}

fn payload_kind(claimed: &str) -> Result<PayloadKind, SignatureError> {
    if claimed == "UNSIGNED-PAYLOAD" {
        return Ok(PayloadKind::Unsigned);
    }
    if STREAMING_MODES.contains(&claimed) {
        return Ok(PayloadKind::Streaming);
    }
    if claimed.len() == 64 && claimed.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(PayloadKind::Sha256);
    }
    Err(SignatureError::BadContentSha256(
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, \
         STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a \
         valid sha256 value."
            .to_owned(),
    ))
}

fn require_host(auth: &Authorization<'_>) -> Result<(), SignatureError> {
    if auth.signed_headers.contains(&"host") {
        return Ok(());
    }
    Err(SignatureError::Incomplete(
        "'Host' must be a 'SignedHeader' in the AWS Authorization.".to_owned(),
    ))
}

/// [`super::check_signature`] of an S3 request: its path signed as the client encoded it,
/// once.
fn check_signature(
    request: &S3Request<'_>,
    auth: &Authorization<'_>,
    amz_date: &str,
    canonical_query: &str,
    canonical_headers: &str,
    payload_hash: &str,
    secret: &str,
) -> Result<(Vec<u8>, String), SignatureError> {
    let canonical = Canonical {
        method: request.method,
        path: &uri_encode(&percent_decode(request.path), true),
        query: canonical_query,
        headers: canonical_headers,
        payload_hash,
    };
    super::check_signature(&canonical, auth, amz_date, secret)
}

#[cfg(test)]
mod tests;
