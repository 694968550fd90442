//! Tests of bucket names: the examples of S3's "Bucket naming rules", valid and not.

use crate::bucket::check_name;

#[test]
fn s3_s_examples_of_valid_and_invalid_names() {
    for valid in
        ["docexamplebucket1", "log-delivery-march-2020", "my-hosted-content", "a.b.c", "abc"]
    {
        assert_eq!(check_name(valid).unwrap(), valid);
    }
    let long = "a".repeat(64);
    for invalid in [
        "doc_example_bucket",
        "DocExampleBucket",
        "doc-example-bucket-",
        "-starts-with-hyphen",
        "ab",
        long.as_str(),
        "two..dots",
        "192.168.5.4",
        "xn--bucket",
        "sthree-bucket",
        "amzn-s3-demo-bucket",
        "bucket-s3alias",
        "bucket--ol-s3",
        "bucket.mrap",
        "bucket--x-s3",
        "bucket--table-s3",
        "space in",
        "",
    ] {
        let err = check_name(invalid).unwrap_err();
        assert_eq!(err.code, "InvalidBucketName", "{invalid:?}");
        assert_eq!(err.message, "The specified bucket is not valid.");
    }
}
