//! Tests of the server's buckets as CodeBuild sees them: what it writes is an S3 object with
//! S3's ETag, what it reads is the object a user put, and missing buckets and keys are told
//! apart from failures.

use codebuild::buckets::{BucketError, Buckets, download};

use super::*;

#[tokio::test]
async fn objects_written_and_read_are_s3_objects() {
    let (state, dir) = crate::test_state("us-east-1").await;
    let buckets = ServedBuckets { s3: state.s3() };
    assert!(!buckets.bucket_exists("out").await.unwrap());
    s3::buckets::create_bucket(&state.s3(), "out", None, 0).await.unwrap();
    assert!(buckets.bucket_exists("out").await.unwrap());

    // More than one chunk, so that the file is streamed in pieces.
    let bytes: Vec<u8> = (0..CHUNK * 2 + 7).map(|it| (it % 251) as u8).collect();
    let file = dir.path().join("app.zip");
    std::fs::write(&file, &bytes).unwrap();
    let written = buckets.write_object("out", "b/app.zip", &file, "application/zip").await.unwrap();
    assert_eq!(written.size, bytes.len() as u64);
    let digest = written.etag.trim_matches('"');
    assert!(digest.len() == 32 && digest.chars().all(|c| c.is_ascii_hexdigit()), "{written:?}");
    // S3 itself answers it, with its content type.
    let answer = objects::head_object(&state.s3(), "out", "b/app.zip", &Read::default()).await;
    let object = answer.unwrap().object;
    assert_eq!(object.etag, written.etag);
    assert_eq!(object.attributes.content_type.as_deref(), Some("application/zip"));
    assert_eq!(buckets.head_object("out", "b/app.zip").await.unwrap(), written);

    let copy = dir.path().join("copy.zip");
    assert_eq!(download(&buckets, "out", "b/app.zip", &copy).await.unwrap(), bytes.len() as u64);
    assert_eq!(std::fs::read(&copy).unwrap(), bytes);

    let gone = buckets.head_object("out", "gone").await.unwrap_err();
    assert_eq!(gone, BucketError::NoSuchKey { bucket: "out".to_owned(), key: "gone".to_owned() });
    let gone = buckets.write_object("nowhere", "a", &file, "application/zip").await.unwrap_err();
    assert_eq!(gone, BucketError::NoSuchBucket("nowhere".to_owned()));
    assert!(matches!(buckets.read_object("nowhere", "a").await, Err(BucketError::NoSuchBucket(_))));
}
