//! Tests of multipart uploads over a real store and blob directory: parts in any order make
//! the object S3 makes (its ETag, its bytes), the errors of a wrong completion, abort, parts
//! that survive a restart, listings of uploads and parts, and a part copied from an object.

use md5::{Digest, Md5};

use super::*;
use crate::buckets::{create_bucket, delete_bucket};
use crate::objects::tests::{blobs, body, context, open, read_all};
use crate::objects::{Read, get_object, put_object};

const MIB: usize = 1024 * 1024;

async fn start(ctx: &Context, key: &str) -> Upload {
    create_multipart_upload(
        ctx,
        "ups",
        key,
        Attributes::default(),
        None,
        "arn:aws:iam::0:user/a",
        10,
    )
    .await
    .unwrap()
}

async fn part(ctx: &Context, upload: &Upload, number: u32, bytes: &[u8]) -> Part {
    let key = upload.key.clone();
    upload_part(
        ctx,
        ("ups", &key, &upload.upload_id),
        number,
        BodyChecks::default(),
        body(&[bytes]),
        20,
    )
    .await
    .unwrap()
}

fn completed(parts: &[&Part]) -> Vec<CompletedPart> {
    parts
        .iter()
        .map(|part| CompletedPart { part_number: part.part_number, etag: part.etag.clone() })
        .collect()
}

#[tokio::test]
async fn parts_in_any_order_make_the_object_s3_makes() {
    let (ctx, _dir) = context().await;
    create_bucket(&ctx, "ups", None, 0).await.unwrap();
    let upload = start(&ctx, "big.bin").await;
    let (one, two, three) = (vec![1u8; 5 * MIB], vec![2u8; 5 * MIB], b"tail".to_vec());
    let p3 = part(&ctx, &upload, 3, &three).await;
    let p1 = part(&ctx, &upload, 1, &one).await;
    // Part 2 uploaded twice: the second replaces the first, whose blob goes.
    part(&ctx, &upload, 2, b"first try").await;
    let p2 = part(&ctx, &upload, 2, &two).await;
    // A part uploaded but not named in the completion.
    part(&ctx, &upload, 7, b"unused").await;
    assert_eq!(blobs(&ctx).await.len(), 4);

    let listed = list_parts(&ctx, "ups", "big.bin", &upload.upload_id, 0, 1000).await.unwrap();
    let numbers: Vec<u32> = listed.parts.iter().map(|part| part.part_number).collect();
    assert_eq!(numbers, [1, 2, 3, 7]);
    let page = list_parts(&ctx, "ups", "big.bin", &upload.upload_id, 1, 2).await.unwrap();
    assert_eq!(
        (page.parts.len(), page.truncated, page.next_part_number_marker),
        (2, true, Some(3))
    );

    let object = complete_multipart_upload(
        &ctx,
        "ups",
        "big.bin",
        &upload.upload_id,
        &completed(&[&p1, &p2, &p3]),
        30,
    )
    .await
    .unwrap();
    let mut md5s = Vec::new();
    for bytes in [&one, &two, &three] {
        md5s.extend_from_slice(&Md5::digest(bytes));
    }
    assert_eq!(object.etag, format!("\"{}-3\"", hex::encode(Md5::digest(&md5s))));
    assert_eq!(object.size, (10 * MIB + 4) as u64);
    let answer = get_object(&ctx, "ups", "big.bin", &Read::default()).await.unwrap();
    let whole = read_all(answer).await;
    assert_eq!(whole.len(), 10 * MIB + 4);
    assert!(
        whole[..5 * MIB].iter().all(|b| *b == 1)
            && whole[5 * MIB..10 * MIB].iter().all(|b| *b == 2)
    );
    assert_eq!(&whole[10 * MIB..], b"tail");
    // The upload is gone, and so is the blob of the part it did not use.
    let err = list_parts(&ctx, "ups", "big.bin", &upload.upload_id, 0, 1000).await.unwrap_err();
    assert_eq!(err.code, "NoSuchUpload");
    assert_eq!(blobs(&ctx).await.len(), 3);
}

#[tokio::test]
async fn a_wrong_completion_is_refused_with_s3s_errors() {
    let (ctx, _dir) = context().await;
    create_bucket(&ctx, "ups", None, 0).await.unwrap();
    let upload = start(&ctx, "k").await;
    let small = part(&ctx, &upload, 1, b"small").await;
    let last = part(&ctx, &upload, 2, b"last").await;
    let id = upload.upload_id.clone();
    let complete = |parts: Vec<CompletedPart>| {
        let (ctx, id) = (ctx.clone(), id.clone());
        async move {
            complete_multipart_upload(&ctx, "ups", "k", &id, &parts, 0).await.unwrap_err().code
        }
    };
    assert_eq!(complete(completed(&[&last, &small])).await, "InvalidPartOrder");
    let mut wrong = completed(&[&small]);
    wrong[0].etag = "\"0123\"".to_owned();
    assert_eq!(complete(wrong).await, "InvalidPart");
    let mut missing = completed(&[&small]);
    missing[0].part_number = 5;
    assert_eq!(complete(missing).await, "InvalidPart");
    assert_eq!(complete(completed(&[&small, &last])).await, "EntityTooSmall");
    assert_eq!(complete(Vec::new()).await, "MalformedXML");
    // One small part alone is the last part: that is allowed.
    let object =
        complete_multipart_upload(&ctx, "ups", "k", &id, &completed(&[&small]), 0).await.unwrap();
    assert_eq!(object.size, 5);
    assert_eq!(complete(completed(&[&small])).await, "NoSuchUpload");

    // A part for an upload of another key, or of none.
    let other = start(&ctx, "other").await;
    let err = upload_part(
        &ctx,
        ("ups", "k", &other.upload_id),
        1,
        BodyChecks::default(),
        body(&[b"x"]),
        0,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, "NoSuchUpload");
    let err = upload_part(
        &ctx,
        ("ups", "other", &other.upload_id),
        0,
        BodyChecks::default(),
        body(&[b"x"]),
        0,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, "InvalidArgument");
}

#[tokio::test]
async fn an_abort_leaves_nothing_and_a_bucket_takes_its_uploads_with_it() {
    let (ctx, _dir) = context().await;
    create_bucket(&ctx, "ups", None, 0).await.unwrap();
    let upload = start(&ctx, "k").await;
    part(&ctx, &upload, 1, b"one").await;
    part(&ctx, &upload, 2, b"two").await;
    abort_multipart_upload(&ctx, "ups", "k", &upload.upload_id).await.unwrap();
    assert!(blobs(&ctx).await.is_empty());
    let err = abort_multipart_upload(&ctx, "ups", "k", &upload.upload_id).await.unwrap_err();
    assert_eq!(err.code, "NoSuchUpload");

    let upload = start(&ctx, "k").await;
    part(&ctx, &upload, 1, b"one").await;
    delete_bucket(&ctx, "ups").await.unwrap();
    assert!(blobs(&ctx).await.is_empty());
    let err = list_parts(&ctx, "ups", "k", &upload.upload_id, 0, 10).await.unwrap_err();
    assert_eq!(err.code, "NoSuchBucket");
}

#[tokio::test]
async fn parts_survive_a_restart_until_the_upload_completes() {
    let dir = tempfile::tempdir().unwrap();
    let (upload, first) = {
        let ctx = open(dir.path()).await;
        create_bucket(&ctx, "ups", None, 0).await.unwrap();
        let upload = start(&ctx, "k").await;
        let first = part(&ctx, &upload, 1, &vec![9u8; 5 * MIB]).await;
        ctx.store.close().await;
        (upload, first)
    };
    let ctx = open(dir.path()).await;
    let second = part(&ctx, &upload, 2, b"after the restart").await;
    let parts = completed(&[&first, &second]);
    complete_multipart_upload(&ctx, "ups", "k", &upload.upload_id, &parts, 0).await.unwrap();
    let answer =
        get_object(&ctx, "ups", "k", &Read { range: Some("bytes=-17"), ..Default::default() })
            .await
            .unwrap();
    assert_eq!(read_all(answer).await, b"after the restart");
}

#[tokio::test]
async fn uploads_are_listed_by_key_then_start_with_common_prefixes() {
    let (ctx, _dir) = context().await;
    create_bucket(&ctx, "ups", None, 0).await.unwrap();
    let b1 = start(&ctx, "b").await;
    let a = start(&ctx, "a").await;
    let b2 = start(&ctx, "b").await;
    start(&ctx, "dir/x").await;
    start(&ctx, "dir/y").await;
    let list = |input: ListUploads| {
        let ctx = ctx.clone();
        async move { list_multipart_uploads(&ctx, "ups", &input).await.unwrap() }
    };
    let all = list(ListUploads { max_uploads: 1000, ..Default::default() }).await;
    let keys: Vec<&str> = all.uploads.iter().map(|upload| upload.key.as_str()).collect();
    assert_eq!(keys, ["a", "b", "b", "dir/x", "dir/y"]);
    let delimited = list(ListUploads {
        delimiter: Some("/".to_owned()),
        max_uploads: 1000,
        ..Default::default()
    })
    .await;
    assert_eq!(delimited.uploads.len(), 3);
    assert_eq!(delimited.common_prefixes, ["dir/"]);
    let first = list(ListUploads { max_uploads: 2, ..Default::default() }).await;
    assert!(first.truncated);
    assert_eq!(first.uploads[0].upload_id, a.upload_id);
    let next = list(ListUploads {
        key_marker: first.next_key_marker.clone(),
        upload_id_marker: first.next_upload_id_marker.clone(),
        max_uploads: 1000,
        ..Default::default()
    })
    .await;
    let ids: Vec<&str> =
        first.uploads.iter().chain(&next.uploads).map(|it| it.upload_id.as_str()).collect();
    assert_eq!(ids.len(), 5);
    let b_ids: Vec<&str> =
        ids.iter().copied().filter(|id| *id == b1.upload_id || *id == b2.upload_id).collect();
    assert_eq!(b_ids.len(), 2, "each upload of b once");
}

#[tokio::test]
async fn a_part_is_copied_from_a_range_of_an_object() {
    let (ctx, _dir) = context().await;
    create_bucket(&ctx, "ups", None, 0).await.unwrap();
    let input = crate::objects::PutObject {
        bucket: "ups".to_owned(),
        key: "src".to_owned(),
        ..Default::default()
    };
    put_object(&ctx, input, body(&[b"0123456789"]), 0).await.unwrap();
    let upload = start(&ctx, "dst").await;
    let source = CopyObject {
        source_bucket: "ups".to_owned(),
        source_key: "src".to_owned(),
        ..Default::default()
    };
    let copied =
        upload_part_copy(&ctx, ("ups", "dst", &upload.upload_id), 1, &source, Some("bytes=2-5"), 0)
            .await
            .unwrap();
    assert_eq!(copied.size, 4);
    assert_eq!(copied.etag, format!("\"{}\"", hex::encode(Md5::digest(b"2345"))));
    let err = upload_part_copy(
        &ctx,
        ("ups", "dst", &upload.upload_id),
        2,
        &source,
        Some("bytes=5-10"),
        0,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, "InvalidArgument");
    let parts = completed(&[&copied]);
    complete_multipart_upload(&ctx, "ups", "dst", &upload.upload_id, &parts, 0).await.unwrap();
    let answer = get_object(&ctx, "ups", "dst", &Read::default()).await.unwrap();
    assert_eq!(read_all(answer).await, b"2345");
}
