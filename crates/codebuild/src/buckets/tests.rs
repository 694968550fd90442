//! Tests of how S3 object locations are read and named.

use super::*;

#[test]
fn an_object_location_is_bucket_and_key_or_their_arn() {
    assert_eq!(object_location("src/app/source.zip"), Some(("src", "app/source.zip")));
    assert_eq!(object_location("arn:aws:s3:::src/source.zip"), Some(("src", "source.zip")));
    // A bucket alone, or a bucket and a slash, names no object.
    assert_eq!(object_location("src"), None);
    assert_eq!(object_location("src/"), None);
    assert_eq!(object_location("arn:aws:s3:::src"), None);
    assert_eq!(object_location("/source.zip"), None);
    assert_eq!(object_arn("src", "a/b.zip"), "arn:aws:s3:::src/a/b.zip");
}

#[tokio::test]
async fn download_streams_an_object_into_a_file() {
    let buckets = crate::testing::MemoryBuckets::with_bucket("src");
    buckets.put("src", "a.bin", b"hello");
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("a.bin");
    assert_eq!(download(&buckets, "src", "a.bin", &to).await, Ok(5));
    assert_eq!(std::fs::read(&to).unwrap(), b"hello");
    let missing = download(&buckets, "src", "b.bin", &to).await;
    assert_eq!(
        missing,
        Err(BucketError::NoSuchKey { bucket: "src".to_owned(), key: "b.bin".to_owned() })
    );
    let missing = download(&buckets, "gone", "a.bin", &to).await;
    assert_eq!(missing, Err(BucketError::NoSuchBucket("gone".to_owned())));
}
