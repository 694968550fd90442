//! Tests of the bucket operations: create, head, location, list, delete, with S3's errors, in
//! `us-east-1` and in another region.

use engine::kinds::S3_OBJECT;
use engine::store::{Document, Store, Write};
use serde_json::json;

use crate::Context;
use crate::buckets::{
    create_bucket, delete_bucket, get_bucket_location, head_bucket, list_buckets,
};

async fn context(region: &str) -> (Context, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Store::connect(&format!("sqlite:{}", dir.path().join("state.db").display())).await.unwrap();
    let blobs = engine::blob::BlobStore::local(&dir.path().join("blobs")).unwrap();
    (Context { store, blobs, region: region.to_owned() }, dir)
}

#[tokio::test]
async fn buckets_are_created_listed_and_deleted_as_s3_answers() {
    let (ctx, _dir) = context("us-east-1").await;
    create_bucket(&ctx, "zebra", None, 2000).await.unwrap();
    create_bucket(&ctx, "apples", None, 1000).await.unwrap();
    // Again, one's own, in us-east-1: S3 answers 200 and the bucket is as it was.
    create_bucket(&ctx, "apples", None, 3000).await.unwrap();
    let listed: Vec<(String, i64)> = list_buckets(&ctx)
        .await
        .unwrap()
        .into_iter()
        .map(|it| (it.name, it.creation_date_ms))
        .collect();
    assert_eq!(listed, [("apples".to_owned(), 1000), ("zebra".to_owned(), 2000)]);
    assert_eq!(head_bucket(&ctx, "apples").await.unwrap(), "us-east-1");
    assert_eq!(get_bucket_location(&ctx, "apples").await.unwrap(), None);
    assert_eq!(head_bucket(&ctx, "missing").await.unwrap_err().code, "NoSuchBucket");
    assert_eq!(
        create_bucket(&ctx, "Bad_Name", None, 1).await.unwrap_err().code,
        "InvalidBucketName"
    );
    // In us-east-1, naming us-east-1 is S3's InvalidLocationConstraint; another region is
    // incompatible with this endpoint.
    let err = create_bucket(&ctx, "located", Some("us-east-1"), 1).await.unwrap_err();
    assert_eq!(err.code, "InvalidLocationConstraint");
    let err = create_bucket(&ctx, "located", Some("eu-west-1"), 1).await.unwrap_err();
    assert_eq!(err.code, "IllegalLocationConstraintException");
    // A bucket holding an object stays; empty, it goes.
    let object = Document {
        kind: S3_OBJECT.to_owned(),
        key: "zebra/a.txt".to_owned(),
        parent: Some("zebra".to_owned()),
        sort: 0,
        version: 0,
        body: json!({}),
    };
    ctx.store.apply(vec![Write::Insert(object)]).await.unwrap();
    assert_eq!(delete_bucket(&ctx, "zebra").await.unwrap_err().code, "BucketNotEmpty");
    delete_bucket(&ctx, "apples").await.unwrap();
    assert_eq!(delete_bucket(&ctx, "apples").await.unwrap_err().code, "NoSuchBucket");
    let names: Vec<String> =
        list_buckets(&ctx).await.unwrap().into_iter().map(|it| it.name).collect();
    assert_eq!(names, ["zebra"]);
}

#[tokio::test]
async fn in_another_region_a_bucket_names_it_and_is_not_created_twice() {
    let (ctx, _dir) = context("eu-west-1").await;
    let err = create_bucket(&ctx, "logs", None, 1).await.unwrap_err();
    assert_eq!(err.code, "IllegalLocationConstraintException");
    create_bucket(&ctx, "logs", Some("eu-west-1"), 1).await.unwrap();
    assert_eq!(get_bucket_location(&ctx, "logs").await.unwrap().as_deref(), Some("eu-west-1"));
    let err = create_bucket(&ctx, "logs", Some("eu-west-1"), 2).await.unwrap_err();
    assert_eq!(err.code, "BucketAlreadyOwnedByYou");
}
