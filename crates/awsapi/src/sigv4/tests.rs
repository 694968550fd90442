//! SigV4: AWS's published test vector, and every way a request can be refused.

use sha2::Digest;

use super::{SignatureError, SignedRequest, format_amz_date, parse_amz_date, sign, verify};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// The headers as a request lends them to the verifier.
fn borrowed(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[test]
fn aws_get_vanilla_test_vector() {
    // From AWS's SigV4 test suite (get-vanilla).
    let headers = headers(&[
        ("host", "example.amazonaws.com"),
        ("x-amz-date", "20150830T123600Z"),
        (
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        ),
    ]);
    let request = SignedRequest {
        method: "GET",
        path: "/",
        query: "",
        headers: &borrowed(&headers),
        body: b"",
    };
    let now = parse_amz_date("20150830T123600Z").unwrap();
    let signer = verify(&request, "service", "us-east-1", now, |key| {
        (key == "AKIDEXAMPLE").then(|| SECRET.to_owned())
    });
    assert_eq!(signer.unwrap().region, "us-east-1");
}

/// A JSON 1.1 request signed like the aws CLI signs one.
fn signed(body: &[u8], date: &str, secret: &str) -> Vec<(String, String)> {
    let mut headers = headers(&[
        ("content-type", "application/x-amz-json-1.1"),
        ("host", "127.0.0.1:8080"),
        ("x-amz-date", date),
        ("x-amz-target", "CodeBuild_20161006.ListProjects"),
    ]);
    let request =
        SignedRequest { method: "POST", path: "/", query: "", headers: &borrowed(&headers), body };
    let authorization = sign(&request, "AKIATEST", secret, "us-east-1", "codebuild", date);
    headers.push(("authorization".to_owned(), authorization));
    headers
}

fn check(
    headers: &[(String, String)],
    body: &[u8],
    now: &str,
) -> Result<super::Signer, SignatureError> {
    let request =
        SignedRequest { method: "POST", path: "/", query: "", headers: &borrowed(headers), body };
    verify(&request, "codebuild", "us-east-1", parse_amz_date(now).unwrap(), |key| {
        (key == "AKIATEST").then(|| SECRET.to_owned())
    })
}

#[test]
fn a_correctly_signed_request_passes_and_any_change_fails() {
    let headers = signed(b"{}", "20261122T162140Z", SECRET);
    assert_eq!(check(&headers, b"{}", "20261122T162140Z").unwrap().access_key_id, "AKIATEST");
    assert_eq!(check(&headers, b"{\"a\":1}", "20261122T162140Z"), Err(SignatureError::Mismatch));
    let wrong = signed(b"{}", "20261122T162140Z", "not the secret");
    assert_eq!(check(&wrong, b"{}", "20261122T162140Z"), Err(SignatureError::Mismatch));
}

#[test]
fn skewed_clocks_unknown_keys_and_missing_headers_are_refused() {
    let headers = signed(b"{}", "20261122T162140Z", SECRET);
    let late = check(&headers, b"{}", "20261122T163641Z").unwrap_err();
    assert_eq!(late.code(), "InvalidSignatureException");
    assert!(
        late.to_string().starts_with("Signature expired: 20261122T162140Z is now earlier than")
    );
    assert!(matches!(
        check(&headers, b"{}", "20261122T160639Z"),
        Err(SignatureError::NotYetCurrent { .. })
    ));

    let mut unknown = headers.clone();
    for (k, v) in &mut unknown {
        if k == "authorization" {
            *v = v.replace("AKIATEST", "AKIAOTHER");
        }
    }
    assert_eq!(check(&unknown, b"{}", "20261122T162140Z"), Err(SignatureError::UnknownKey));

    let without: Vec<_> = headers.iter().filter(|(k, _)| k != "authorization").cloned().collect();
    assert_eq!(
        check(&without, b"{}", "20261122T162140Z").unwrap_err().code(),
        "MissingAuthenticationTokenException"
    );

    let request = SignedRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &borrowed(&headers),
        body: b"{}",
    };
    let other_service = verify(
        &request,
        "codepipeline",
        "us-east-1",
        parse_amz_date("20261122T162140Z").unwrap(),
        |_| Some(SECRET.to_owned()),
    );
    assert!(matches!(other_service, Err(SignatureError::WrongService(_))));
}

#[test]
fn a_captured_request_replayed_with_another_body_is_refused() {
    // The attack: the body's hash goes in an X-Amz-Content-SHA256 header that is not signed,
    // and another body follows it. The verifier hashes the body itself.
    let original = br#"{"Name":"db-password"}"#;
    let swapped = br#"{"Name":"admin-password"}"#;
    let mut headers = signed(original, "20261122T162140Z", SECRET);
    let original_hash = hex::encode(sha2::Sha256::digest(original));
    headers.push(("x-amz-content-sha256".to_owned(), original_hash));
    assert!(check(&headers, original, "20261122T162140Z").is_ok());
    assert_eq!(check(&headers, swapped, "20261122T162140Z"), Err(SignatureError::Mismatch));

    // A header that claims another hash than the body's is refused, signed or not.
    let mut lying = signed(original, "20261122T162140Z", SECRET);
    lying.push(("x-amz-content-sha256".to_owned(), hex::encode(sha2::Sha256::digest(swapped))));
    assert_eq!(check(&lying, original, "20261122T162140Z"), Err(SignatureError::Mismatch));

    // Outside S3 a body is always signed.
    let mut unsigned = signed(original, "20261122T162140Z", SECRET);
    unsigned.push(("x-amz-content-sha256".to_owned(), "UNSIGNED-PAYLOAD".to_owned()));
    let refused = check(&unsigned, swapped, "20261122T162140Z").unwrap_err();
    assert!(matches!(refused, SignatureError::UnsignedPayload(_)), "{refused:?}");
    assert_eq!(refused.code(), "InvalidSignatureException");
}

#[test]
fn a_request_signed_for_another_region_is_refused_naming_the_served_one() {
    let headers = signed(b"{}", "20261122T162140Z", SECRET);
    let request = SignedRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &borrowed(&headers),
        body: b"{}",
    };
    let refused = verify(
        &request,
        "codebuild",
        "eu-west-1",
        parse_amz_date("20261122T162140Z").unwrap(),
        |_| Some(SECRET.to_owned()),
    )
    .unwrap_err();
    assert_eq!(refused.code(), "InvalidSignatureException");
    let message = refused.to_string();
    assert!(message.starts_with("Credential should be scoped to a valid region."), "{message}");
    assert!(message.contains("'eu-west-1'") && message.contains("'us-east-1'"), "{message}");
}

#[test]
fn dates_round_trip() {
    for text in ["19700101T000000Z", "20000229T235959Z", "20261122T162140Z", "21000301T120000Z"] {
        assert_eq!(format_amz_date(parse_amz_date(text).unwrap()), text);
    }
    assert_eq!(parse_amz_date("20261122T162140Z"), Some(1_795_364_500));
    assert_eq!(parse_amz_date("2026-11-22"), None);
    // Signs inside a field (which `str::parse` takes) and days a month does not have.
    for malformed in
        ["2026+1+2T162140Z", "20261122T+1+2+3Z", "20260231T000000Z", "20261122T246000Z"]
    {
        assert_eq!(parse_amz_date(malformed), None, "{malformed}");
    }
}

/// Query keys and values are decoded by the `percent-encoding` crate; a `%` without two hex
/// digits after it (`%+1`) is kept as it is, not read as a byte.
#[test]
fn query_escapes_decode_and_malformed_ones_stay() {
    assert_eq!(super::percent_decode("a%20b%2Fc"), "a b/c");
    assert_eq!(super::percent_decode("%+1"), "%+1");
    assert_eq!(super::percent_decode("100%"), "100%");
}
