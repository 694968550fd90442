//! Tests of S3's XML: the request bodies as the aws CLI and boto3 send them (with S3's
//! namespace or none, malformed, too large), every answer written exactly, URL encoding and
//! escaping of keys, and the status of each error code.

use super::*;

const DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// `inner` as the body of an answer with `root`, as S3 writes it.
fn answer(root: &str, inner: &str) -> String {
    format!("{DECLARATION}<{root} xmlns=\"{NAMESPACE}\">{inner}</{root}>")
}

fn malformed(result: Result<impl std::fmt::Debug, ApiError>) {
    match result {
        Ok(value) => panic!("parsed as {value:?}"),
        Err(error) => {
            assert_eq!(error.code, "MalformedXML");
            assert_eq!(
                error.message,
                "The XML you provided was not well-formed or did not validate against our \
                 published schema"
            );
        }
    }
}

fn owner() -> Owner {
    Owner { id: "75aa57f09aa0c8caeab4f8c24e99d10f".to_owned(), display_name: "alice".to_owned() }
}

const OWNER: &str = "<ID>75aa57f09aa0c8caeab4f8c24e99d10f</ID><DisplayName>alice</DisplayName>";

/// 2026-12-03T18:00:00.123Z.
const MS: i64 = 1_796_320_800_123;
const DATE: &str = "2026-12-03T18:00:00.123Z";

fn object(key: &str) -> ObjectEntry {
    ObjectEntry { key: key.to_owned(), last_modified_ms: MS, etag: "\"abc\"".to_owned(), size: 5 }
}

fn contents(key: &str, owner: bool) -> String {
    let owner = if owner { format!("<Owner>{OWNER}</Owner>") } else { String::new() };
    format!(
        "<Contents><Key>{key}</Key><LastModified>{DATE}</LastModified>\
         <ETag>&quot;abc&quot;</ETag><Size>5</Size>{owner}<StorageClass>STANDARD</StorageClass>\
         </Contents>"
    )
}

// Request bodies.

#[test]
fn create_bucket_configurations() {
    assert_eq!(create_bucket_configuration(b"").unwrap(), None);
    assert_eq!(create_bucket_configuration(b" \n").unwrap(), None);
    let body = br#"<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>"#;
    assert_eq!(create_bucket_configuration(body).unwrap().as_deref(), Some("eu-west-1"));
    let body = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CreateBucketConfiguration>\n  \
                 <LocationConstraint>eu-west-1</LocationConstraint>\n</CreateBucketConfiguration>";
    assert_eq!(create_bucket_configuration(body).unwrap().as_deref(), Some("eu-west-1"));
    let body = b"<CreateBucketConfiguration><LocationConstraint/></CreateBucketConfiguration>";
    assert_eq!(create_bucket_configuration(body).unwrap(), None);
    let body = b"<CreateBucketConfiguration/>";
    assert_eq!(create_bucket_configuration(body).unwrap(), None);
    malformed(create_bucket_configuration(b"<CreateBucketConfiguration>"));
    malformed(create_bucket_configuration(
        b"<Other><LocationConstraint>x</LocationConstraint></Other>",
    ));
    malformed(create_bucket_configuration(b"not xml"));
}

#[test]
fn delete_objects_bodies() {
    // As `aws s3api delete-objects` sends it.
    let body = br#"<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a &amp; b</Key></Object><Object><Key>dir/c</Key><VersionId>null</VersionId></Object><Quiet>true</Quiet></Delete>"#;
    assert_eq!(
        delete_objects(body).unwrap(),
        DeleteObjects {
            quiet: true,
            objects: vec![
                ObjectIdentifier { key: "a & b".to_owned(), version_id: None },
                ObjectIdentifier { key: "dir/c".to_owned(), version_id: Some("null".to_owned()) },
            ],
        }
    );
    // No namespace, no Quiet; the key's spaces, a character reference and CDATA are kept.
    let body = b"<Delete><Object><Key> a&#x2F;<![CDATA[<b>]]> </Key></Object></Delete>";
    assert_eq!(
        delete_objects(body).unwrap(),
        DeleteObjects {
            quiet: false,
            objects: vec![ObjectIdentifier { key: " a/<b> ".to_owned(), version_id: None }],
        }
    );
    // A prefix bound to S3's namespace is S3's namespace.
    let body = br#"<s3:Delete xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/"><s3:Object><s3:Key>k</s3:Key></s3:Object><s3:Quiet>false</s3:Quiet></s3:Delete>"#;
    assert_eq!(delete_objects(body).unwrap().objects.len(), 1);
}

#[test]
fn delete_objects_refusals() {
    malformed(delete_objects(b""));
    malformed(delete_objects(b"<Delete></Delete>"));
    malformed(delete_objects(b"<Delete><Object></Object></Delete>"));
    malformed(delete_objects(b"<Delete><Object><Key>k</Key></Object><Quiet>yes</Quiet></Delete>"));
    malformed(delete_objects(b"<Delete><Object><Key>k</Key></Object>"));
    malformed(delete_objects(b"<Delete><Object><Key>k</Key></Delete></Object>"));
    malformed(delete_objects(b"<Delete><Object><Key>k</Key></Object></Delete><Delete/>"));
    malformed(delete_objects(b"<Delete><Object><Key>k</Key></Object></Delete>trailing"));
    malformed(delete_objects(b"<Delete><Object><Key>&unknown;</Key></Object></Delete>"));
    malformed(delete_objects(b"<Delete><Object><Key>\xff</Key></Object></Delete>"));
    malformed(delete_objects(
        br#"<Delete xmlns="http://example.com/"><Object><Key>k</Key></Object></Delete>"#,
    ));
    malformed(delete_objects(
        b"<!DOCTYPE Delete [<!ENTITY e \"x\">]><Delete><Object><Key>&e;</Key></Object></Delete>",
    ));
    malformed(delete_objects(b"<Other><Object><Key>k</Key></Object></Other>"));
    let deep = format!("<Delete>{}{}</Delete>", "<a>".repeat(100_000), "</a>".repeat(100_000));
    malformed(delete_objects(deep.as_bytes()));
    let body =
        b"<Delete><Object><Key>k</Key><a><b><c><d><e>x</e></d></c></b></a></Object></Delete>";
    assert_eq!(delete_objects(body).unwrap().objects.len(), 1);
}

#[test]
fn delete_objects_takes_at_most_1000_objects() {
    let body = |count: usize| {
        let objects = (0..count).map(|i| format!("<Object><Key>k{i}</Key></Object>"));
        format!("<Delete>{}</Delete>", objects.collect::<String>())
    };
    assert_eq!(delete_objects(body(1000).as_bytes()).unwrap().objects.len(), 1000);
    malformed(delete_objects(body(1001).as_bytes()));
}

#[test]
fn complete_multipart_upload_bodies() {
    // As boto3 sends it.
    let body = br#"<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ETag>"e1"</ETag><PartNumber>1</PartNumber></Part><Part><ETag>&quot;e2&quot;</ETag><PartNumber>2</PartNumber><ChecksumCRC32>AAAAAA==</ChecksumCRC32><ChecksumSHA256>abc=</ChecksumSHA256></Part></CompleteMultipartUpload>"#;
    assert_eq!(
        complete_multipart_upload(body).unwrap(),
        vec![
            CompletedPart { part_number: 1, etag: "\"e1\"".to_owned(), ..CompletedPart::default() },
            CompletedPart {
                part_number: 2,
                etag: "\"e2\"".to_owned(),
                checksum_crc32: Some("AAAAAA==".to_owned()),
                checksum_sha256: Some("abc=".to_owned()),
                ..CompletedPart::default()
            },
        ]
    );
    // Indented, no namespace, parts out of order (the caller's InvalidPartOrder).
    let body = b"<CompleteMultipartUpload>\n  <Part>\n    <PartNumber> 3 </PartNumber>\n    \
                 <ETag>e3</ETag>\n    <ChecksumCRC32C>c</ChecksumCRC32C>\n    \
                 <ChecksumSHA1>s</ChecksumSHA1>\n  </Part>\n  <Part><PartNumber>1</PartNumber>\
                 <ETag>e1</ETag></Part>\n</CompleteMultipartUpload>\n";
    let parts = complete_multipart_upload(body).unwrap();
    assert_eq!(parts.iter().map(|part| part.part_number).collect::<Vec<_>>(), [3, 1]);
    assert_eq!(parts[0].etag, "e3");
    assert_eq!(parts[0].checksum_crc32c.as_deref(), Some("c"));
    assert_eq!(parts[0].checksum_sha1.as_deref(), Some("s"));
}

#[test]
fn complete_multipart_upload_refusals() {
    malformed(complete_multipart_upload(b""));
    malformed(complete_multipart_upload(b"<CompleteMultipartUpload/>"));
    malformed(complete_multipart_upload(b"<CompleteMultipartUpload></CompleteMultipartUpload>"));
    malformed(complete_multipart_upload(
        b"<CompleteMultipartUpload><Part><ETag>e</ETag></Part></CompleteMultipartUpload>",
    ));
    malformed(complete_multipart_upload(
        b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>",
    ));
    malformed(complete_multipart_upload(
        b"<CompleteMultipartUpload><Part><PartNumber>one</PartNumber><ETag>e</ETag></Part>\
          </CompleteMultipartUpload>",
    ));
    malformed(complete_multipart_upload(
        b"<CompleteMultipartUpload><Part><PartNumber>-1</PartNumber><ETag>e</ETag></Part>\
          </CompleteMultipartUpload>",
    ));
    malformed(complete_multipart_upload(b"<Delete><Object><Key>k</Key></Object></Delete>"));
}

// Answers.

#[test]
fn list_all_my_buckets() {
    let buckets = [
        Bucket { name: "a".to_owned(), creation_date_ms: MS },
        Bucket { name: "b".to_owned(), creation_date_ms: 0 },
    ];
    assert_eq!(
        list_all_my_buckets_result(&owner(), &buckets),
        answer(
            "ListAllMyBucketsResult",
            &format!(
                "<Owner>{OWNER}</Owner><Buckets>\
                 <Bucket><Name>a</Name><CreationDate>{DATE}</CreationDate></Bucket>\
                 <Bucket><Name>b</Name><CreationDate>1970-01-01T00:00:00.000Z</CreationDate>\
                 </Bucket></Buckets>"
            )
        )
    );
    assert_eq!(
        list_all_my_buckets_result(&owner(), &[]),
        answer("ListAllMyBucketsResult", &format!("<Owner>{OWNER}</Owner><Buckets></Buckets>"))
    );
}

#[test]
fn list_objects_v1() {
    let page = ObjectPage { objects: vec![object("a")], ..ObjectPage::default() };
    assert_eq!(
        list_bucket_result("b", &ListObjectsParams::default(), &page, &owner()),
        answer(
            "ListBucketResult",
            &format!(
                "<Name>b</Name><Prefix></Prefix><Marker></Marker><MaxKeys>1000</MaxKeys>\
                 <IsTruncated>false</IsTruncated>{}",
                contents("a", true)
            )
        )
    );
    // With a delimiter, a truncated page says where the next starts.
    let params = ListObjectsParams {
        prefix: Some("d/".to_owned()),
        delimiter: Some("/".to_owned()),
        marker: Some("d/0".to_owned()),
        max_keys: Some(2),
        url_encoding: false,
    };
    let page = ObjectPage {
        objects: vec![object("d/a")],
        common_prefixes: vec!["d/e/".to_owned()],
        is_truncated: true,
        next: Some("d/e/".to_owned()),
    };
    assert_eq!(
        list_bucket_result("b", &params, &page, &owner()),
        answer(
            "ListBucketResult",
            &format!(
                "<Name>b</Name><Prefix>d/</Prefix><Marker>d/0</Marker><NextMarker>d/e/</NextMarker>\
                 <MaxKeys>2</MaxKeys><Delimiter>/</Delimiter><IsTruncated>true</IsTruncated>{}\
                 <CommonPrefixes><Prefix>d/e/</Prefix></CommonPrefixes>",
                contents("d/a", true)
            )
        )
    );
    // Without one, NextMarker is left out even when truncated.
    let params = ListObjectsParams { delimiter: None, ..params };
    assert!(!list_bucket_result("b", &params, &page, &owner()).contains("NextMarker"));
}

#[test]
fn list_objects_v2() {
    let params = ListObjectsV2Params {
        prefix: Some("p".to_owned()),
        continuation_token: Some("t1".to_owned()),
        start_after: Some("p0".to_owned()),
        max_keys: Some(2000),
        ..ListObjectsV2Params::default()
    };
    let page = ObjectPage {
        objects: vec![object("p1"), object("p2")],
        is_truncated: true,
        next: Some("t2".to_owned()),
        ..ObjectPage::default()
    };
    assert_eq!(
        list_bucket_result_v2("b", &params, &page, &owner()),
        answer(
            "ListBucketResult",
            &format!(
                "<Name>b</Name><Prefix>p</Prefix><ContinuationToken>t1</ContinuationToken>\
                 <NextContinuationToken>t2</NextContinuationToken><StartAfter>p0</StartAfter>\
                 <KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>\
                 {}{}",
                contents("p1", false),
                contents("p2", false)
            )
        )
    );
    // fetch-owner lists the owner; KeyCount counts common prefixes too.
    let params = ListObjectsV2Params {
        delimiter: Some("/".to_owned()),
        fetch_owner: true,
        ..ListObjectsV2Params::default()
    };
    let page = ObjectPage {
        objects: vec![object("a")],
        common_prefixes: vec!["d/".to_owned()],
        ..ObjectPage::default()
    };
    assert_eq!(
        list_bucket_result_v2("b", &params, &page, &owner()),
        answer(
            "ListBucketResult",
            &format!(
                "<Name>b</Name><Prefix></Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys>\
                 <Delimiter>/</Delimiter><IsTruncated>false</IsTruncated>{}\
                 <CommonPrefixes><Prefix>d/</Prefix></CommonPrefixes>",
                contents("a", true)
            )
        )
    );
}

#[test]
fn url_encoding_of_listings() {
    let key = "dir/a b+c&d%é";
    let encoded = "dir/a%20b%2Bc%26d%25%C3%A9";
    assert_eq!(key_text(key, true), encoded);
    assert_eq!(key_text(key, false), key);
    assert_eq!(key_text("AZaz09-_.~/", true), "AZaz09-_.~/");
    // As `aws s3 ls` asks: v2, delimiter and encoding-type=url.
    let params = ListObjectsV2Params {
        prefix: Some("dir/a b".to_owned()),
        delimiter: Some(" ".to_owned()),
        start_after: Some("dir/a b0".to_owned()),
        continuation_token: Some("opaque+token".to_owned()),
        url_encoding: true,
        ..ListObjectsV2Params::default()
    };
    let page = ObjectPage {
        objects: vec![object(key)],
        common_prefixes: vec!["dir/a b ".to_owned()],
        ..ObjectPage::default()
    };
    assert_eq!(
        list_bucket_result_v2("b", &params, &page, &owner()),
        answer(
            "ListBucketResult",
            &format!(
                "<Name>b</Name><Prefix>dir/a%20b</Prefix>\
                 <ContinuationToken>opaque+token</ContinuationToken>\
                 <StartAfter>dir/a%20b0</StartAfter><KeyCount>2</KeyCount>\
                 <MaxKeys>1000</MaxKeys><Delimiter>%20</Delimiter>\
                 <EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>{}\
                 <CommonPrefixes><Prefix>dir/a%20b%20</Prefix></CommonPrefixes>",
                contents(encoded, false)
            )
        )
    );
    // v1 encodes the marker and next marker too.
    let params = ListObjectsParams {
        delimiter: Some("/".to_owned()),
        marker: Some("a b".to_owned()),
        url_encoding: true,
        ..ListObjectsParams::default()
    };
    let page =
        ObjectPage { is_truncated: true, next: Some("c d".to_owned()), ..ObjectPage::default() };
    let xml = list_bucket_result("b", &params, &page, &owner());
    assert!(xml.contains("<Marker>a%20b</Marker><NextMarker>c%20d</NextMarker>"), "{xml}");
    assert!(xml.contains("<EncodingType>url</EncodingType>"), "{xml}");
}

#[test]
fn keys_are_escaped() {
    let key = "<&>\"'";
    let escaped = "&lt;&amp;&gt;&quot;&apos;";
    let page = ObjectPage { objects: vec![object(key)], ..ObjectPage::default() };
    let xml = list_bucket_result_v2("b", &ListObjectsV2Params::default(), &page, &owner());
    assert!(xml.contains(&format!("<Key>{escaped}</Key>")), "{xml}");
    assert_eq!(
        initiate_multipart_upload_result("b", key, "u"),
        answer(
            "InitiateMultipartUploadResult",
            &format!("<Bucket>b</Bucket><Key>{escaped}</Key><UploadId>u</UploadId>")
        )
    );
    // A carriage return survives the parser's line-end normalization.
    assert_eq!(
        copy_object_result(0, "a\r\nb"),
        answer(
            "CopyObjectResult",
            "<LastModified>1970-01-01T00:00:00.000Z</LastModified><ETag>a&#13;\nb</ETag>"
        )
    );
    let deleted = [ObjectIdentifier { key: key.to_owned(), version_id: None }];
    assert_eq!(
        delete_result(false, &deleted, &[]),
        answer("DeleteResult", &format!("<Deleted><Key>{escaped}</Key></Deleted>"))
    );
}

#[test]
fn list_multipart_uploads() {
    let params = ListMultipartUploadsParams {
        prefix: Some("a b".to_owned()),
        delimiter: Some("/".to_owned()),
        key_marker: Some("k 0".to_owned()),
        upload_id_marker: Some("u0".to_owned()),
        max_uploads: Some(1),
        url_encoding: true,
    };
    let page = UploadPage {
        uploads: vec![UploadEntry {
            key: "a b/c".to_owned(),
            upload_id: "u1".to_owned(),
            initiated_ms: MS,
        }],
        common_prefixes: vec!["a b/d/".to_owned()],
        is_truncated: true,
        next_key_marker: Some("a b/c".to_owned()),
        next_upload_id_marker: Some("u1".to_owned()),
    };
    assert_eq!(
        list_multipart_uploads_result("b", &params, &page, &owner()),
        answer(
            "ListMultipartUploadsResult",
            &format!(
                "<Bucket>b</Bucket><KeyMarker>k%200</KeyMarker><UploadIdMarker>u0</UploadIdMarker>\
                 <NextKeyMarker>a%20b/c</NextKeyMarker><NextUploadIdMarker>u1</NextUploadIdMarker>\
                 <Delimiter>/</Delimiter><Prefix>a%20b</Prefix><MaxUploads>1</MaxUploads>\
                 <EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>\
                 <Upload><Key>a%20b/c</Key><UploadId>u1</UploadId><Initiator>{OWNER}</Initiator>\
                 <Owner>{OWNER}</Owner><StorageClass>STANDARD</StorageClass>\
                 <Initiated>{DATE}</Initiated></Upload>\
                 <CommonPrefixes><Prefix>a%20b/d/</Prefix></CommonPrefixes>"
            )
        )
    );
    assert_eq!(
        list_multipart_uploads_result(
            "b",
            &ListMultipartUploadsParams::default(),
            &UploadPage::default(),
            &owner()
        ),
        answer(
            "ListMultipartUploadsResult",
            "<Bucket>b</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>\
             <Prefix></Prefix><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>"
        )
    );
}

#[test]
fn list_parts() {
    let page = PartPage {
        parts: vec![
            PartEntry { part_number: 1, last_modified_ms: MS, etag: "\"e1\"".to_owned(), size: 5 },
            PartEntry { part_number: 2, last_modified_ms: MS, etag: "\"e2\"".to_owned(), size: 1 },
        ],
        is_truncated: true,
        next_part_number_marker: Some(2),
    };
    let params = ListPartsParams { max_parts: Some(2), part_number_marker: None };
    assert_eq!(
        list_parts_result("b", "k&", "u", &params, &page, &owner()),
        answer(
            "ListPartsResult",
            &format!(
                "<Bucket>b</Bucket><Key>k&amp;</Key><UploadId>u</UploadId>\
                 <PartNumberMarker>0</PartNumberMarker><NextPartNumberMarker>2</NextPartNumberMarker>\
                 <MaxParts>2</MaxParts><IsTruncated>true</IsTruncated>\
                 <Part><PartNumber>1</PartNumber><LastModified>{DATE}</LastModified>\
                 <ETag>&quot;e1&quot;</ETag><Size>5</Size></Part>\
                 <Part><PartNumber>2</PartNumber><LastModified>{DATE}</LastModified>\
                 <ETag>&quot;e2&quot;</ETag><Size>1</Size></Part>\
                 <Initiator>{OWNER}</Initiator><Owner>{OWNER}</Owner>\
                 <StorageClass>STANDARD</StorageClass>"
            )
        )
    );
}

#[test]
fn multipart_and_copy_answers() {
    assert_eq!(
        complete_multipart_upload_result("http://localhost/b/k", "b", "k", "\"abc-2\""),
        answer(
            "CompleteMultipartUploadResult",
            "<Location>http://localhost/b/k</Location><Bucket>b</Bucket><Key>k</Key>\
             <ETag>&quot;abc-2&quot;</ETag>"
        )
    );
    assert_eq!(
        copy_object_result(MS, "\"abc\""),
        answer(
            "CopyObjectResult",
            &format!("<LastModified>{DATE}</LastModified><ETag>&quot;abc&quot;</ETag>")
        )
    );
    assert_eq!(
        copy_part_result(MS, "\"abc\""),
        answer(
            "CopyPartResult",
            &format!("<LastModified>{DATE}</LastModified><ETag>&quot;abc&quot;</ETag>")
        )
    );
}

#[test]
fn delete_results() {
    let deleted = [
        ObjectIdentifier { key: "a".to_owned(), version_id: None },
        ObjectIdentifier { key: "b".to_owned(), version_id: Some("null".to_owned()) },
    ];
    let errors = [DeleteError {
        key: "c".to_owned(),
        version_id: None,
        code: "AccessDenied".to_owned(),
        message: "Access Denied".to_owned(),
    }];
    let error = "<Error><Key>c</Key><Code>AccessDenied</Code><Message>Access Denied</Message>\
                 </Error>";
    assert_eq!(
        delete_result(false, &deleted, &errors),
        answer(
            "DeleteResult",
            &format!(
                "<Deleted><Key>a</Key></Deleted>\
                 <Deleted><Key>b</Key><VersionId>null</VersionId></Deleted>{error}"
            )
        )
    );
    // Quiet: only the errors.
    assert_eq!(delete_result(true, &deleted, &errors), answer("DeleteResult", error));
    assert_eq!(delete_result(true, &deleted, &[]), answer("DeleteResult", ""));
}

#[test]
fn location_constraints() {
    assert_eq!(location_constraint(Some("eu-west-1")), answer("LocationConstraint", "eu-west-1"));
    assert_eq!(location_constraint(Some("us-east-1")), answer("LocationConstraint", ""));
    assert_eq!(location_constraint(None), answer("LocationConstraint", ""));
}

#[test]
fn dates() {
    assert_eq!(iso8601(MS), DATE);
    assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(iso8601(1_796_320_800_007), "2026-12-03T18:00:00.007Z");
    assert_eq!(iso8601(-1), "1969-12-31T23:59:59.999Z");
}

// Errors.

#[test]
fn statuses() {
    let cases: &[(u16, &[&str])] = &[
        (304, &["NotModified"]),
        (
            400,
            &[
                "InvalidPart",
                "InvalidPartOrder",
                "EntityTooSmall",
                "EntityTooLarge",
                "InvalidArgument",
                "InvalidBucketName",
                "MalformedXML",
                "InvalidDigest",
                "BadDigest",
                "KeyTooLongError",
                "InvalidRequest",
                "InvalidURI",
                "XAmzContentSHA256Mismatch",
                "IncompleteBody",
                "InvalidLocationConstraint",
                "IllegalLocationConstraintException",
                "ExpiredToken",
                "SomethingNew",
            ],
        ),
        (
            403,
            &[
                "AccessDenied",
                "SignatureDoesNotMatch",
                "InvalidAccessKeyId",
                "RequestTimeTooSkewed",
            ],
        ),
        (404, &["NoSuchBucket", "NoSuchKey", "NoSuchUpload"]),
        (405, &["MethodNotAllowed"]),
        (
            409,
            &[
                "BucketNotEmpty",
                "BucketAlreadyOwnedByYou",
                "BucketAlreadyExists",
                "OperationAborted",
            ],
        ),
        (411, &["MissingContentLength"]),
        (412, &["PreconditionFailed"]),
        (416, &["InvalidRange", "InvalidPartNumber"]),
        (500, &["InternalError", "InternalFailure"]),
        (501, &["NotImplemented"]),
        (503, &["SlowDown"]),
    ];
    for (status, codes) in cases {
        for code in *codes {
            assert_eq!(status_of(code), *status, "{code}");
        }
    }
}
