//! Tests of objects' rules: keys, ETags (S3's values for known bodies), ranges as S3 answers
//! them, and the conditional headers in RFC 9110's order.

use crate::object::{
    BodyMd5, Conditions, MAX_KEY_BYTES, Precondition, check_key, etag, multipart_etag,
    parse_http_date, range,
};

#[test]
fn keys_up_to_1024_bytes() {
    let longest = "k".repeat(MAX_KEY_BYTES);
    assert!(check_key(&longest).is_ok());
    let err = check_key(&format!("{longest}k")).unwrap_err();
    assert_eq!(
        (err.code.as_str(), err.message.as_str()),
        ("KeyTooLongError", "Your key is too long")
    );
    // Bytes, not characters: 512 two-byte characters fit, 513 do not.
    assert!(check_key(&"é".repeat(512)).is_ok() && check_key(&"é".repeat(513)).is_err());
}

#[test]
fn etags_as_s3_computes_them() {
    let md5 = |bytes: &[u8]| {
        let mut body = BodyMd5::default();
        for piece in bytes.chunks(3) {
            body.update(piece);
        }
        body.finish()
    };
    // The empty object's ETag, as S3 shows it.
    assert_eq!(etag(&md5(b"")), "\"d41d8cd98f00b204e9800998ecf8427e\"");
    assert_eq!(etag(&md5(b"hello")), "\"5d41402abc4b2a76b9719d911017c592\"");
    // Two parts: the MD5 of the two binary MD5s, then the count (computed with Python's
    // hashlib).
    let parts = [md5(b"hello"), md5(b"world")];
    assert_eq!(multipart_etag(&parts), "\"065947336a2f2a95ba8899f3675c3be6-2\"");
}

#[test]
fn ranges_as_s3_answers_them() {
    let size = 10_000;
    let ask = |header: &str| range(Some(header), size);
    assert_eq!(ask("bytes=0-9").unwrap(), Some((0, 9)));
    assert_eq!(ask("bytes=9500-").unwrap(), Some((9500, 9999)));
    assert_eq!(ask("bytes=-500").unwrap(), Some((9500, 9999)));
    assert_eq!(ask("bytes=-20000").unwrap(), Some((0, 9999)));
    // A last byte past the end is the end.
    assert_eq!(ask("bytes=9990-20000").unwrap(), Some((9990, 9999)));
    // Ignored: the whole object.
    for ignored in ["bytes=0-9,20-29", "items=0-9", "bytes=9-0", "bytes=a-b", "bytes=", "0-9"] {
        assert_eq!(ask(ignored).unwrap(), None, "{ignored}");
    }
    assert_eq!(range(None, size).unwrap(), None);
    // Past the end: InvalidRange.
    for unsatisfiable in ["bytes=10000-", "bytes=10000-10005", "bytes=-0"] {
        assert_eq!(ask(unsatisfiable).unwrap_err().code, "InvalidRange", "{unsatisfiable}");
    }
    assert_eq!(range(Some("bytes=0-0"), 0).unwrap_err().code, "InvalidRange");
}

#[test]
fn conditional_headers_in_rfc_order() {
    let tag = "\"5d41402abc4b2a76b9719d911017c592\"";
    let modified = parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
    assert_eq!(modified, 1_445_412_480);
    let before = "Tue, 20 Oct 2015 07:28:00 GMT";
    let after = "Thu, 22 Oct 2015 07:28:00 GMT";
    let decide = |conditions: Conditions<'_>| conditions.evaluate(tag, modified);
    assert_eq!(decide(Conditions::default()), Precondition::Proceed);
    // If-Match: the tag, unquoted, in a list, `*`; another fails.
    for matching in [
        tag,
        "5d41402abc4b2a76b9719d911017c592",
        "\"x\", W/\"5d41402abc4b2a76b9719d911017c592\"",
        "*",
    ] {
        let conditions = Conditions { if_match: Some(matching), ..Conditions::default() };
        assert_eq!(decide(conditions), Precondition::Proceed, "{matching}");
    }
    let other = Conditions { if_match: Some("\"other\""), ..Conditions::default() };
    assert_eq!(decide(other), Precondition::Failed);
    // If-Match true wins over If-Unmodified-Since false (S3's documented case).
    let both = Conditions {
        if_match: Some(tag),
        if_unmodified_since: Some(before),
        ..Conditions::default()
    };
    assert_eq!(decide(both), Precondition::Proceed);
    let unmodified = Conditions { if_unmodified_since: Some(before), ..Conditions::default() };
    assert_eq!(decide(unmodified), Precondition::Failed);
    // If-None-Match: the same tag is 304, and wins over If-Modified-Since (S3's documented
    // case); another tag proceeds.
    let none = Conditions {
        if_none_match: Some(tag),
        if_modified_since: Some(before),
        ..Conditions::default()
    };
    assert_eq!(decide(none), Precondition::NotModified);
    let other = Conditions { if_none_match: Some("\"other\""), ..Conditions::default() };
    assert_eq!(decide(other), Precondition::Proceed);
    let since_after = Conditions { if_modified_since: Some(after), ..Conditions::default() };
    assert_eq!(decide(since_after), Precondition::NotModified);
    let since_before = Conditions { if_modified_since: Some(before), ..Conditions::default() };
    assert_eq!(decide(since_before), Precondition::Proceed);
    // A date that cannot be read is no condition.
    let garbage = Conditions { if_modified_since: Some("yesterday"), ..Conditions::default() };
    assert_eq!(decide(garbage), Precondition::Proceed);
}
