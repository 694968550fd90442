//! SigV4: AWS's published test vector, and every way a request can be refused.

use super::{SignatureError, SignedRequest, format_amz_date, parse_amz_date, sign, verify};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
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
    let request =
        SignedRequest { method: "GET", path: "/", query: "", headers: &headers, body: b"" };
    let now = parse_amz_date("20150830T123600Z").unwrap();
    let signer =
        verify(&request, "service", now, |key| (key == "AKIDEXAMPLE").then(|| SECRET.to_owned()));
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
    let request = SignedRequest { method: "POST", path: "/", query: "", headers: &headers, body };
    let authorization = sign(&request, "AKIATEST", secret, "us-east-1", "codebuild", date);
    headers.push(("authorization".to_owned(), authorization));
    headers
}

fn check(
    headers: &[(String, String)],
    body: &[u8],
    now: &str,
) -> Result<super::Signer, SignatureError> {
    let request = SignedRequest { method: "POST", path: "/", query: "", headers, body };
    verify(&request, "codebuild", parse_amz_date(now).unwrap(), |key| {
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

    let request =
        SignedRequest { method: "POST", path: "/", query: "", headers: &headers, body: b"{}" };
    let other_service =
        verify(&request, "codepipeline", parse_amz_date("20261122T162140Z").unwrap(), |_| {
            Some(SECRET.to_owned())
        });
    assert!(matches!(other_service, Err(SignatureError::WrongService(_))));
}

#[test]
fn dates_round_trip() {
    for text in ["19700101T000000Z", "20000229T235959Z", "20261122T162140Z", "21000301T120000Z"] {
        assert_eq!(format_amz_date(parse_amz_date(text).unwrap()), text);
    }
    assert_eq!(parse_amz_date("20261122T162140Z"), Some(1_795_364_500));
    assert_eq!(parse_amz_date("2026-11-22"), None);
}
