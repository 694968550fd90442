//! Tests of S3's SigV4: AWS's published examples (a GET signed in its headers, a presigned
//! URL) pass and any change fails, with S3's error codes; the payload modes; a key's path is
//! signed as sent. The examples' signatures are AWS's ("Signature Calculations for the
//! Authorization Header" and "Authenticating Requests: Using Query Parameters" in the S3 API
//! reference); the PUT ones were computed with the same formula outside this code.

use crate::sigv4::SignatureError;
use crate::sigv4::s3::{Payload, Presign, S3Request, S3Signed, verify};

const KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const DOCS_GET_SIGNATURE: &str = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";
const DOCS_PRESIGNED_SIGNATURE: &str =
    "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

fn at(date: &str) -> i64 {
    crate::sigv4::parse_amz_date(date).unwrap()
}

fn check(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &str)],
    now: i64,
) -> Result<S3Signed, SignatureError> {
    let request = S3Request { method, path, query, headers };
    verify(&request, "us-east-1", now, |key| (key == KEY).then_some(SECRET))
}

fn docs_get_headers(authorization: &str) -> Vec<(&str, &str)> {
    vec![
        ("host", "examplebucket.s3.amazonaws.com"),
        ("range", "bytes=0-9"),
        ("x-amz-content-sha256", EMPTY_SHA256),
        ("x-amz-date", "20130524T000000Z"),
        ("authorization", authorization),
    ]
}

fn docs_authorization(signature: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential={KEY}/20130524/us-east-1/s3/aws4_request,\
         SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature={signature}"
    )
}

#[test]
fn aws_s_signed_get_passes_and_any_change_fails_with_s3_s_codes() {
    let now = at("20130524T000000Z");
    let authorization = docs_authorization(DOCS_GET_SIGNATURE);
    let signed = check("GET", "/test.txt", "", &docs_get_headers(&authorization), now).unwrap();
    assert_eq!(signed.signer.access_key_id, KEY);
    assert_eq!(signed.payload, Payload::Sha256(EMPTY_SHA256.to_owned()));
    assert_eq!((signed.security_token, signed.presigned), (None, false));
    // Another range, another object, another key, too late: refused.
    let mut headers = docs_get_headers(&authorization);
    headers[1].1 = "bytes=0-99";
    let err = check("GET", "/test.txt", "", &headers, now).unwrap_err();
    assert_eq!(err.s3_code(), "SignatureDoesNotMatch");
    let err = check("GET", "/other.txt", "", &docs_get_headers(&authorization), now).unwrap_err();
    assert_eq!(err.s3_code(), "SignatureDoesNotMatch");
    let other = authorization.replace(KEY, "AKIAOTHEREXAMPLE0000");
    let err = check("GET", "/test.txt", "", &docs_get_headers(&other), now).unwrap_err();
    assert_eq!(err.s3_code(), "InvalidAccessKeyId");
    let late = now + 16 * 60;
    let err = check("GET", "/test.txt", "", &docs_get_headers(&authorization), late).unwrap_err();
    assert_eq!(err.s3_code(), "RequestTimeTooSkewed");
    // S3 needs x-amz-content-sha256, and one of its forms.
    let mut headers = docs_get_headers(&authorization);
    headers.remove(2);
    let err = check("GET", "/test.txt", "", &headers, now).unwrap_err();
    assert_eq!(err.s3_code(), "InvalidRequest");
    assert!(err.to_string().contains("x-amz-content-sha256"), "{err}");
    let mut headers = docs_get_headers(&authorization);
    headers[2].1 = "not-a-hash";
    let err = check("GET", "/test.txt", "", &headers, now).unwrap_err();
    assert_eq!(err.s3_code(), "InvalidRequest");
    // No credentials at all: anonymous, refused.
    let err = check("GET", "/test.txt", "", &[("host", "examplebucket.s3.amazonaws.com")], now)
        .unwrap_err();
    assert_eq!((err.clone(), err.s3_code()), (SignatureError::Missing, "AccessDenied"));
}

fn docs_presigned_query(signature: &str) -> String {
    format!(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={KEY}%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
         &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
         &X-Amz-Signature={signature}"
    )
}

#[test]
fn aws_s_presigned_url_passes_until_it_expires_and_a_tampered_one_fails() {
    let host = [("host", "examplebucket.s3.amazonaws.com")];
    let query = docs_presigned_query(DOCS_PRESIGNED_SIGNATURE);
    let signed_at = at("20130524T000000Z");
    for now in [signed_at, signed_at + 86_400] {
        let signed = check("GET", "/test.txt", &query, &host, now).unwrap();
        assert_eq!((signed.payload, signed.presigned), (Payload::Unsigned, true));
        assert_eq!(signed.signer.access_key_id, KEY);
    }
    let err = check("GET", "/test.txt", &query, &host, signed_at + 86_401).unwrap_err();
    assert_eq!((err.clone(), err.s3_code()), (SignatureError::PresignExpired, "AccessDenied"));
    assert_eq!(err.to_string(), "Request has expired");
    // Another object, a longer life, another method: refused.
    let err = check("GET", "/secret.txt", &query, &host, signed_at).unwrap_err();
    assert_eq!(err.s3_code(), "SignatureDoesNotMatch");
    let longer = query.replace("X-Amz-Expires=86400", "X-Amz-Expires=86401");
    let err = check("GET", "/test.txt", &longer, &host, signed_at).unwrap_err();
    assert_eq!(err.s3_code(), "SignatureDoesNotMatch");
    let err = check("PUT", "/test.txt", &query, &host, signed_at).unwrap_err();
    assert_eq!(err.s3_code(), "SignatureDoesNotMatch");
    // Malformed: more than a week, a parameter missing.
    let week = query.replace("X-Amz-Expires=86400", "X-Amz-Expires=604801");
    let err = check("GET", "/test.txt", &week, &host, signed_at).unwrap_err();
    assert_eq!(err.s3_code(), "AuthorizationQueryParametersError");
    let unsigned = query.replace(&format!("&X-Amz-Signature={DOCS_PRESIGNED_SIGNATURE}"), "");
    let err = check("GET", "/test.txt", &unsigned, &host, signed_at).unwrap_err();
    assert_eq!(err.s3_code(), "AuthorizationQueryParametersError");
}

#[test]
fn unsigned_and_streaming_payloads_and_a_key_signed_as_it_was_sent() {
    let now = at("20130524T000000Z");
    for (mode, signature) in [
        ("UNSIGNED-PAYLOAD", "41afbee036a08b15d609a85f33414f35dd0055170ffaf10c97cd861154f263ed"),
        (
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            "07a62dabdbc97753cfffb3d5c566cf291070de53c5fdaea74fe22077ad481d84",
        ),
    ] {
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={KEY}/20130524/us-east-1/s3/aws4_request,\
             SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature={signature}"
        );
        let headers = [
            ("host", "127.0.0.1:9000"),
            ("x-amz-content-sha256", mode),
            ("x-amz-date", "20130524T000000Z"),
            ("authorization", authorization.as_str()),
            ("x-amz-security-token", "token"),
        ];
        // The key `my file.txt`, its space encoded once.
        let signed = check("PUT", "/examplebucket/my%20file.txt", "", &headers, now).unwrap();
        assert_eq!(signed.security_token.as_deref(), Some("token"));
        match signed.payload {
            Payload::Unsigned => assert_eq!(mode, "UNSIGNED-PAYLOAD"),
            Payload::Streaming { mode: streaming, chunks } => {
                assert_eq!(streaming, mode);
                assert_eq!(chunks.seed_signature, signature);
                assert_eq!(chunks.scope, "20130524/us-east-1/s3/aws4_request");
                assert_eq!(chunks.amz_date, "20130524T000000Z");
            }
            Payload::Sha256(_) => panic!("{mode} is no hash"),
        }
    }
}

#[test]
fn a_url_presigned_here_is_aws_s_own_and_verifies() {
    let presign = Presign {
        method: "GET",
        host: "examplebucket.s3.amazonaws.com",
        path: "/test.txt",
        access_key_id: KEY,
        secret: SECRET,
        session_token: None,
        region: "us-east-1",
        now: at("20130524T000000Z"),
        expires: 86_400,
    };
    let url = crate::sigv4::s3::presign(&presign);
    // The signature of S3's documentation for this request.
    assert!(url.ends_with(&format!("X-Amz-Signature={DOCS_PRESIGNED_SIGNATURE}")), "{url}");
    let (path, query) = url.split_once('?').unwrap();
    let host = [("host", "examplebucket.s3.amazonaws.com")];
    check("GET", path, query, &host, presign.now).unwrap();

    // A key with characters to encode, and a session's token, verify too.
    let with_token = Presign {
        path: "/bucket/dir/a b+c%é.zip",
        session_token: Some("token/with+chars=="),
        ..presign
    };
    let url = crate::sigv4::s3::presign(&with_token);
    let (path, query) = url.split_once('?').unwrap();
    assert!(path.starts_with("/bucket/dir/a%20b%2Bc%25%C3%A9.zip"), "{path}");
    let signed = check("GET", path, query, &host, with_token.now).unwrap();
    assert_eq!(signed.security_token.as_deref(), Some("token/with+chars=="));
}
