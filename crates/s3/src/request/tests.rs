//! Tests of request classification: every operation from the requests the aws CLI and boto3
//! send, every refusal, and the copy headers.

use super::*;

fn classify_ok(method: &str, path: &str, query: &str) -> Operation {
    classify(method, path, query, None)
        .unwrap_or_else(|error| panic!("{method} {path}?{query}: {} {}", error.code, error.message))
}

fn classify_copy(method: &str, path: &str, query: &str, source: &str) -> Operation {
    classify(method, path, query, Some(source)).unwrap()
}

fn refused(method: &str, path: &str, query: &str) -> (String, String) {
    match classify(method, path, query, None) {
        Ok(operation) => panic!("{method} {path}?{query} is {operation:?}"),
        Err(error) => (error.code, error.message),
    }
}

fn code(method: &str, path: &str, query: &str) -> String {
    refused(method, path, query).0
}

fn s(text: &str) -> String {
    text.to_owned()
}

fn source(bucket: &str, key: &str) -> CopySource {
    CopySource { bucket: s(bucket), key: s(key), version_id: None }
}

#[test]
fn service_and_bucket_operations() {
    let b = || s("b");
    assert_eq!(classify_ok("GET", "/", ""), Operation::ListBuckets);
    assert_eq!(classify_ok("GET", "", ""), Operation::ListBuckets);
    assert_eq!(classify_ok("PUT", "/b", ""), Operation::CreateBucket { bucket: b() });
    assert_eq!(classify_ok("PUT", "/b/", ""), Operation::CreateBucket { bucket: b() });
    assert_eq!(classify_ok("HEAD", "/b", ""), Operation::HeadBucket { bucket: b() });
    assert_eq!(classify_ok("DELETE", "/b", ""), Operation::DeleteBucket { bucket: b() });
    assert_eq!(classify_ok("GET", "/b", "location"), Operation::GetBucketLocation { bucket: b() });
    assert_eq!(classify_ok("GET", "/b", "location="), Operation::GetBucketLocation { bucket: b() });
    assert_eq!(classify_ok("POST", "/b", "delete"), Operation::DeleteObjects { bucket: b() });
    assert_eq!(classify_ok("POST", "/b/", "delete="), Operation::DeleteObjects { bucket: b() });
}

#[test]
fn list_objects() {
    assert_eq!(
        classify_ok("GET", "/b", ""),
        Operation::ListObjects { bucket: s("b"), params: ListObjectsParams::default() }
    );
    assert_eq!(
        classify_ok(
            "GET",
            "/b",
            "prefix=a%2Fb%20c&delimiter=%2F&marker=m&max-keys=5&encoding-type=url"
        ),
        Operation::ListObjects {
            bucket: s("b"),
            params: ListObjectsParams {
                prefix: Some(s("a/b c")),
                delimiter: Some(s("/")),
                marker: Some(s("m")),
                max_keys: Some(5),
                url_encoding: true,
            }
        }
    );
    // An empty delimiter is none (S3 leaves it out of the answer).
    assert_eq!(
        classify_ok("GET", "/b", "delimiter=&prefix="),
        Operation::ListObjects {
            bucket: s("b"),
            params: ListObjectsParams { prefix: Some(s("")), ..ListObjectsParams::default() }
        }
    );
    assert_eq!(
        classify_ok("GET", "/b", "list-type=1&max-keys=0"),
        Operation::ListObjects {
            bucket: s("b"),
            params: ListObjectsParams { max_keys: Some(0), ..ListObjectsParams::default() }
        }
    );
}

#[test]
fn list_objects_v2() {
    // As `aws s3 ls s3://b/dir/` sends it.
    assert_eq!(
        classify_ok("GET", "/b", "list-type=2&prefix=dir%2F&delimiter=%2F&encoding-type=url"),
        Operation::ListObjectsV2 {
            bucket: s("b"),
            params: ListObjectsV2Params {
                prefix: Some(s("dir/")),
                delimiter: Some(s("/")),
                url_encoding: true,
                ..ListObjectsV2Params::default()
            }
        }
    );
    assert_eq!(
        classify_ok(
            "GET",
            "/b",
            "list-type=2&continuation-token=t%2B1&start-after=k&max-keys=1000&fetch-owner=true"
        ),
        Operation::ListObjectsV2 {
            bucket: s("b"),
            params: ListObjectsV2Params {
                continuation_token: Some(s("t+1")),
                start_after: Some(s("k")),
                max_keys: Some(1000),
                fetch_owner: true,
                ..ListObjectsV2Params::default()
            }
        }
    );
    let Operation::ListObjectsV2 { params, .. } =
        classify_ok("GET", "/b", "list-type=2&fetch-owner=false")
    else {
        panic!("not ListObjectsV2")
    };
    assert!(!params.fetch_owner);
}

#[test]
fn list_multipart_uploads() {
    assert_eq!(
        classify_ok(
            "GET",
            "/b",
            "uploads&prefix=p&delimiter=%2F&key-marker=k&upload-id-marker=u&max-uploads=2&encoding-type=url"
        ),
        Operation::ListMultipartUploads {
            bucket: s("b"),
            params: ListMultipartUploadsParams {
                prefix: Some(s("p")),
                delimiter: Some(s("/")),
                key_marker: Some(s("k")),
                upload_id_marker: Some(s("u")),
                max_uploads: Some(2),
                url_encoding: true,
            }
        }
    );
}

#[test]
fn object_operations() {
    let (b, k) = (|| s("b"), || s("dir/my key+"));
    let path = "/b/dir/my%20key%2B";
    assert_eq!(classify_ok("PUT", path, ""), Operation::PutObject { bucket: b(), key: k() });
    assert_eq!(classify_ok("DELETE", path, ""), Operation::DeleteObject { bucket: b(), key: k() });
    assert_eq!(
        classify_ok("GET", path, "versionId=null"),
        Operation::GetObject {
            bucket: b(),
            key: k(),
            part_number: None,
            overrides: ResponseOverrides::default()
        }
    );
    assert_eq!(
        classify_ok("HEAD", path, "partNumber=3"),
        Operation::HeadObject {
            bucket: b(),
            key: k(),
            part_number: Some(3),
            overrides: ResponseOverrides::default()
        }
    );
    assert_eq!(
        classify_copy("PUT", path, "", "src/a%20b"),
        Operation::CopyObject { bucket: b(), key: k(), source: source("src", "a b") }
    );
    // The copy header means nothing to other operations.
    assert_eq!(
        classify_copy("DELETE", path, "", "src/a"),
        Operation::DeleteObject { bucket: b(), key: k() }
    );
}

#[test]
fn keys_are_decoded_once_and_keep_their_slashes() {
    let key = |path: &str| classify_ok("GET", path, "").key().map(str::to_owned);
    assert_eq!(key("/b/a/b/c"), Some(s("a/b/c")));
    assert_eq!(key("/b/a%252F"), Some(s("a%2F")));
    assert_eq!(key("/b/a%2Fb"), Some(s("a/b")));
    assert_eq!(key("/b//lead"), Some(s("/lead")));
    assert_eq!(key("/b/caf%C3%A9"), Some(s("café")));
    assert_eq!(key("/b/a+b"), Some(s("a+b")));
    assert_eq!(code("GET", "/b/%FF", ""), "InvalidURI");
    assert_eq!(code("GET", "/%FF", ""), "InvalidURI");
}

#[test]
fn get_object_overrides() {
    let query = "response-content-type=text%2Fplain&response-content-disposition=attachment&\
                 response-cache-control=no-cache&response-content-encoding=gzip&\
                 response-content-language=en&response-expires=0";
    let operation = classify_ok("GET", "/b/k", query);
    assert!(operation.has_overrides());
    let Operation::GetObject { overrides, .. } = operation else { panic!("not GetObject") };
    assert_eq!(
        overrides.headers(),
        [
            ("cache-control", "no-cache"),
            ("content-disposition", "attachment"),
            ("content-encoding", "gzip"),
            ("content-language", "en"),
            ("content-type", "text/plain"),
            ("expires", "0"),
        ]
    );
    assert!(!classify_ok("GET", "/b/k", "").has_overrides());
    assert!(!classify_ok("PUT", "/b/k", "").has_overrides());
}

#[test]
fn multipart_operations() {
    let (b, k, u) = (|| s("b"), || s("k"), || s("U1"));
    assert_eq!(
        classify_ok("POST", "/b/k", "uploads"),
        Operation::CreateMultipartUpload { bucket: b(), key: k() }
    );
    assert_eq!(
        classify_ok("PUT", "/b/k", "partNumber=1&uploadId=U1"),
        Operation::UploadPart { bucket: b(), key: k(), upload_id: u(), part_number: 1 }
    );
    assert_eq!(
        classify_ok("PUT", "/b/k", "uploadId=U1&partNumber=10000"),
        Operation::UploadPart { bucket: b(), key: k(), upload_id: u(), part_number: 10000 }
    );
    assert_eq!(
        classify_copy("PUT", "/b/k", "partNumber=2&uploadId=U1", "/src/key?versionId=null"),
        Operation::UploadPartCopy {
            bucket: b(),
            key: k(),
            upload_id: u(),
            part_number: 2,
            source: CopySource { version_id: Some(s("null")), ..source("src", "key") },
        }
    );
    assert_eq!(
        classify_ok("POST", "/b/k", "uploadId=U1"),
        Operation::CompleteMultipartUpload { bucket: b(), key: k(), upload_id: u() }
    );
    assert_eq!(
        classify_ok("DELETE", "/b/k", "uploadId=U1"),
        Operation::AbortMultipartUpload { bucket: b(), key: k(), upload_id: u() }
    );
    assert_eq!(
        classify_ok("GET", "/b/k", "uploadId=U1"),
        Operation::ListParts {
            bucket: b(),
            key: k(),
            upload_id: u(),
            params: ListPartsParams::default()
        }
    );
    assert_eq!(
        classify_ok("GET", "/b/k", "uploadId=U1&max-parts=3&part-number-marker=7"),
        Operation::ListParts {
            bucket: b(),
            key: k(),
            upload_id: u(),
            params: ListPartsParams { max_parts: Some(3), part_number_marker: Some(7) }
        }
    );
}

#[test]
fn methods_a_resource_has_no_operation_for() {
    let not_allowed =
        (s("MethodNotAllowed"), s("The specified method is not allowed against this resource."));
    for (method, path, query) in [
        ("PUT", "/", ""),
        ("POST", "/", ""),
        ("DELETE", "/", ""),
        ("HEAD", "/", ""),
        ("POST", "/b", ""),
        ("PATCH", "/b", ""),
        ("POST", "/b/k", ""),
        ("PATCH", "/b/k", ""),
        ("HEAD", "/b/k", "uploadId=U"),
    ] {
        assert_eq!(refused(method, path, query), not_allowed, "{method} {path}?{query}");
    }
}

#[test]
fn subresources_we_do_not_serve() {
    for (method, path, query) in [
        ("GET", "/b", "versioning"),
        ("PUT", "/b", "policy"),
        ("GET", "/b", "acl"),
        ("GET", "/b", "versions&prefix=a"),
        ("GET", "/b/k", "tagging"),
        ("PUT", "/b/k", "acl"),
        ("POST", "/b/k", "restore"),
    ] {
        assert_eq!(code(method, path, query), "NotImplemented", "{method} {path}?{query}");
    }
}

#[test]
fn bad_numbers() {
    for query in ["max-keys=-1", "max-keys=abc", "max-keys=", "max-keys=2147483648", "max-keys=+1"]
    {
        let (code, message) = refused("GET", "/b", query);
        assert_eq!(code, "InvalidArgument", "{query}");
        assert_eq!(message, "Provided max-keys not an integer or within integer range");
    }
    assert_eq!(code("GET", "/b", "list-type=2&max-keys=x"), "InvalidArgument");
    assert_eq!(code("GET", "/b", "uploads&max-uploads=-5"), "InvalidArgument");
    assert_eq!(code("GET", "/b/k", "uploadId=U&max-parts=x"), "InvalidArgument");
    assert_eq!(code("GET", "/b/k", "uploadId=U&part-number-marker=-1"), "InvalidArgument");
    let part_number =
        (s("InvalidArgument"), s("Part number must be an integer between 1 and 10000, inclusive"));
    for query in [
        "partNumber=0&uploadId=U",
        "partNumber=10001&uploadId=U",
        "partNumber=x&uploadId=U",
        "partNumber=4294967297&uploadId=U",
        "uploadId=U",
    ] {
        assert_eq!(refused("PUT", "/b/k", query), part_number, "{query}");
    }
    assert_eq!(refused("GET", "/b/k", "partNumber=0"), part_number);
    assert_eq!(refused("HEAD", "/b/k", "partNumber=10001"), part_number);
    assert_eq!(code("PUT", "/b/k", "partNumber=1"), "InvalidArgument");
}

#[test]
fn bad_list_arguments() {
    assert_eq!(
        refused("GET", "/b", "encoding-type=base64"),
        (s("InvalidArgument"), s("Invalid Encoding Method specified in Request"))
    );
    assert_eq!(code("GET", "/b", "list-type=2&encoding-type="), "InvalidArgument");
    assert_eq!(code("GET", "/b", "list-type=3"), "InvalidArgument");
    assert_eq!(code("GET", "/b", "list-type=2&fetch-owner=yes"), "InvalidArgument");
}

#[test]
fn names_actions_buckets_and_keys() {
    let src = || source("s", "k");
    let u = || s("U");
    let (b, k) = (|| s("b"), || s("k"));
    let cases = [
        (Operation::ListBuckets, "ListBuckets", "s3:ListAllMyBuckets"),
        (Operation::CreateBucket { bucket: b() }, "CreateBucket", "s3:CreateBucket"),
        (Operation::HeadBucket { bucket: b() }, "HeadBucket", "s3:ListBucket"),
        (Operation::DeleteBucket { bucket: b() }, "DeleteBucket", "s3:DeleteBucket"),
        (Operation::GetBucketLocation { bucket: b() }, "GetBucketLocation", "s3:GetBucketLocation"),
        (
            Operation::ListObjects { bucket: b(), params: ListObjectsParams::default() },
            "ListObjects",
            "s3:ListBucket",
        ),
        (
            Operation::ListObjectsV2 { bucket: b(), params: ListObjectsV2Params::default() },
            "ListObjectsV2",
            "s3:ListBucket",
        ),
        (
            Operation::ListMultipartUploads {
                bucket: b(),
                params: ListMultipartUploadsParams::default(),
            },
            "ListMultipartUploads",
            "s3:ListBucketMultipartUploads",
        ),
        (Operation::DeleteObjects { bucket: b() }, "DeleteObjects", "s3:DeleteObject"),
        (Operation::PutObject { bucket: b(), key: k() }, "PutObject", "s3:PutObject"),
        (
            Operation::CopyObject { bucket: b(), key: k(), source: src() },
            "CopyObject",
            "s3:PutObject",
        ),
        (
            Operation::GetObject {
                bucket: b(),
                key: k(),
                part_number: None,
                overrides: ResponseOverrides::default(),
            },
            "GetObject",
            "s3:GetObject",
        ),
        (
            Operation::HeadObject {
                bucket: b(),
                key: k(),
                part_number: None,
                overrides: ResponseOverrides::default(),
            },
            "HeadObject",
            "s3:GetObject",
        ),
        (Operation::DeleteObject { bucket: b(), key: k() }, "DeleteObject", "s3:DeleteObject"),
        (
            Operation::CreateMultipartUpload { bucket: b(), key: k() },
            "CreateMultipartUpload",
            "s3:PutObject",
        ),
        (
            Operation::UploadPart { bucket: b(), key: k(), upload_id: u(), part_number: 1 },
            "UploadPart",
            "s3:PutObject",
        ),
        (
            Operation::UploadPartCopy {
                bucket: b(),
                key: k(),
                upload_id: u(),
                part_number: 1,
                source: src(),
            },
            "UploadPartCopy",
            "s3:PutObject",
        ),
        (
            Operation::CompleteMultipartUpload { bucket: b(), key: k(), upload_id: u() },
            "CompleteMultipartUpload",
            "s3:PutObject",
        ),
        (
            Operation::AbortMultipartUpload { bucket: b(), key: k(), upload_id: u() },
            "AbortMultipartUpload",
            "s3:AbortMultipartUpload",
        ),
        (
            Operation::ListParts {
                bucket: b(),
                key: k(),
                upload_id: u(),
                params: ListPartsParams::default(),
            },
            "ListParts",
            "s3:ListMultipartUploadParts",
        ),
    ];
    for (operation, name, action) in cases {
        assert_eq!(operation.name(), name);
        assert_eq!(operation.action(), action, "{name}");
        match &operation {
            Operation::ListBuckets => assert_eq!(operation.bucket(), None),
            _ => assert_eq!(operation.bucket(), Some("b"), "{name}"),
        }
        let bucket_level = [
            "ListBuckets",
            "CreateBucket",
            "HeadBucket",
            "DeleteBucket",
            "GetBucketLocation",
            "ListObjects",
            "ListObjectsV2",
            "ListMultipartUploads",
            "DeleteObjects",
        ];
        let key = if bucket_level.contains(&name) { None } else { Some("k") };
        assert_eq!(operation.key(), key, "{name}");
    }
}

#[test]
fn copy_sources() {
    assert_eq!(copy_source("b/k").unwrap(), source("b", "k"));
    assert_eq!(copy_source("/b/dir/k").unwrap(), source("b", "dir/k"));
    assert_eq!(copy_source("b%2Fdir%2Fa%20b").unwrap(), source("b", "dir/a b"));
    assert_eq!(copy_source("b/what%3F").unwrap(), source("b", "what?"));
    assert_eq!(
        copy_source("b/k?versionId=abc").unwrap(),
        CopySource { version_id: Some(s("abc")), ..source("b", "k") }
    );
    for header in ["", "/", "b", "/b", "b/", "/b/", "/k"] {
        let error = copy_source(header).unwrap_err();
        assert_eq!(error.code, "InvalidArgument", "{header:?}");
    }
    assert_eq!(copy_source("b/%FF").unwrap_err().code, "InvalidURI");
}

#[test]
fn copy_source_ranges() {
    assert_eq!(copy_source_range("bytes=0-9", 10).unwrap(), (0, 9));
    assert_eq!(copy_source_range("bytes=5-5", 10).unwrap(), (5, 5));
    for header in ["bytes=0-", "bytes=-5", "bytes=5-4", "0-9", "bytes=a-b", "bytes=0-1,3-4", ""] {
        let error = copy_source_range(header, 10).unwrap_err();
        assert_eq!(error.code, "InvalidArgument", "{header:?}");
        assert!(error.message.starts_with("The x-amz-copy-source-range value"), "{header:?}");
    }
    let error = copy_source_range("bytes=0-10", 10).unwrap_err();
    assert_eq!(
        (error.code.as_str(), error.message.as_str()),
        ("InvalidArgument", "Range specified is not valid for source object of size: 10")
    );
}

#[test]
fn page_sizes() {
    assert_eq!(page_size(None), 1000);
    assert_eq!(page_size(Some(0)), 0);
    assert_eq!(page_size(Some(5)), 5);
    assert_eq!(page_size(Some(5000)), 1000);
}
