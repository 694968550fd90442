//! Tests of the object operations over a real store and blob directory: what is stored and
//! answered, what a failed upload leaves (nothing), listings with prefixes, delimiters and
//! markers, copies and conditional writes.

use bytes::Bytes;
use engine::blob::BlobStore;
use engine::store::Store;
use futures::stream::{self, BoxStream, StreamExt};
use md5::{Digest, Md5};

use super::*;
use crate::buckets::{create_bucket, delete_bucket};
use crate::checksum::Running;

pub(crate) async fn context() -> (Context, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let ctx = open(dir.path()).await;
    (ctx, dir)
}

/// The context over the store and blobs in `dir`, as a server started there has it.
pub(crate) async fn open(dir: &std::path::Path) -> Context {
    let store =
        Store::connect(&format!("sqlite:{}", dir.join("state.db").display())).await.unwrap();
    let blobs = BlobStore::local(&dir.join("blobs")).unwrap();
    Context { store, blobs, region: "us-east-1".to_owned() }
}

pub(crate) fn body(pieces: &[&[u8]]) -> BoxStream<'static, Result<Chunk, ApiError>> {
    let chunks: Vec<Result<Chunk, ApiError>> =
        pieces.iter().map(|piece| Ok(Chunk::Data(Bytes::copy_from_slice(piece)))).collect();
    stream::iter(chunks).boxed()
}

pub(crate) async fn read_all(answer: Answer) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut body = answer.body.expect("a body");
    while let Some(chunk) = body.next().await {
        bytes.extend_from_slice(&chunk.unwrap());
    }
    bytes
}

/// Every blob the S3 objects keep.
pub(crate) async fn blobs(ctx: &Context) -> Vec<String> {
    ctx.blobs.list("s3").await.unwrap().into_iter().map(|meta| meta.key).collect()
}

fn put(bucket: &str, key: &str) -> PutObject {
    PutObject { bucket: bucket.to_owned(), key: key.to_owned(), ..Default::default() }
}

async fn put_text(ctx: &Context, bucket: &str, key: &str, text: &str) -> Object {
    put_object(ctx, put(bucket, key), body(&[text.as_bytes()]), 1_000).await.unwrap()
}

#[tokio::test]
async fn an_object_is_stored_answered_replaced_and_deleted() {
    let (ctx, _dir) = context().await;
    create_bucket(&ctx, "photos", None, 0).await.unwrap();
    let mut input = put("photos", "2026/cat.txt");
    input.attributes.content_type = Some("text/plain".to_owned());
    input.attributes.metadata.insert("colour".to_owned(), "grey".to_owned());
    let object = put_object(&ctx, input, body(&[b"meow, ", b"meow"]), 5_000).await.unwrap();
    // The MD5 of "meow, meow".
    assert_eq!(object.etag, format!("\"{}\"", hex::encode(Md5::digest(b"meow, meow"))));
    assert_eq!(object.size, 10);

    let answer = get_object(&ctx, "photos", "2026/cat.txt", &Read::default()).await.unwrap();
    assert_eq!(answer.object.attributes.content_type.as_deref(), Some("text/plain"));
    assert_eq!(answer.object.attributes.metadata["colour"], "grey");
    assert_eq!(answer.object.last_modified_ms, 5_000);
    assert_eq!(read_all(answer).await, b"meow, meow");

    // Replacing it leaves only the new version's blob.
    put_text(&ctx, "photos", "2026/cat.txt", "purr").await;
    let answer = get_object(&ctx, "photos", "2026/cat.txt", &Read::default()).await.unwrap();
    assert_eq!(answer.object.attributes.content_type, None);
    assert_eq!(read_all(answer).await, b"purr");
    assert_eq!(blobs(&ctx).await.len(), 1);

    delete_object(&ctx, "photos", "2026/cat.txt").await.unwrap();
    let gone = head_object(&ctx, "photos", "2026/cat.txt", &Read::default()).await;
    assert_eq!(gone.err().unwrap().code, "NoSuchKey");
    assert!(blobs(&ctx).await.is_empty());
    // Deleting what is not there succeeds; in a bucket that is not there, it does not.
    delete_object(&ctx, "photos", "2026/cat.txt").await.unwrap();
    let missing = delete_object(&ctx, "nowhere", "a").await.unwrap_err();
    assert_eq!(missing.code, "NoSuchBucket");
    let missing = head_object(&ctx, "nowhere", "a", &Read::default()).await.err().unwrap();
    assert_eq!(missing.code, "NoSuchBucket");
}

#[tokio::test]
async fn keys_a_file_system_would_refuse_are_only_text() {
    let (ctx, _dir) = context().await;
    create_bucket(&ctx, "odd", None, 0).await.unwrap();
    for key in ["../escape", "a//b", "trailing/", "/leading", ".tmp/x", "spaces and ünïcode"] {
        put_text(&ctx, "odd", key, key).await;
        let answer = get_object(&ctx, "odd", key, &Read::default()).await.unwrap();
        assert_eq!(read_all(answer).await, key.as_bytes());
    }
    let long = "k".repeat(1025);
    let refused = put_object(&ctx, put("odd", &long), body(&[b"x"]), 0).await.unwrap_err();
    assert_eq!(refused.code, "KeyTooLongError");
}

#[tokio::test]
async fn a_body_that_fails_its_checks_or_breaks_off_leaves_nothing() {
    let (ctx, _dir) = context().await;
    create_bucket(&ctx, "checked", None, 0).await.unwrap();

    let mut input = put("checked", "md5");
    input.checks.content_md5 = Some([0; 16]);
    let refused = put_object(&ctx, input, body(&[b"data"]), 0).await.unwrap_err();
    assert_eq!(refused.code, "BadDigest");

    let mut input = put("checked", "crc");
    input.checks.checksum = Some((Algorithm::Crc32, Some("AAAAAA==".to_owned())));
    let refused = put_object(&ctx, input, body(&[b"data"]), 0).await.unwrap_err();
    assert_eq!(refused.code, "BadDigest");

    // A checksum sent in the trailer, as the CLI's aws-chunked uploads send it.
    let mut input = put("checked", "trailer");
    input.checks.checksum = Some((Algorithm::Crc32c, None));
    let chunks = vec![
        Ok(Chunk::Data(Bytes::from_static(b"data"))),
        Ok(Chunk::Trailers(vec![("x-amz-checksum-crc32c".to_owned(), "AAAAAA==".to_owned())])),
    ];
    let refused = put_object(&ctx, input, stream::iter(chunks).boxed(), 0).await.unwrap_err();
    assert_eq!(refused.code, "BadDigest");

    // A body that breaks off.
    let chunks = vec![
        Ok(Chunk::Data(Bytes::from_static(b"half"))),
        Err(ApiError::client("IncompleteBody", "cut")),
    ];
    let refused =
        put_object(&ctx, put("checked", "cut"), stream::iter(chunks).boxed(), 0).await.unwrap_err();
    assert_eq!(refused.code, "IncompleteBody");

    for key in ["md5", "crc", "trailer", "cut"] {
        let gone = head_object(&ctx, "checked", key, &Read::default()).await.err().unwrap();
        assert_eq!(gone.code, "NoSuchKey");
    }
    assert!(blobs(&ctx).await.is_empty());
    assert!(ctx.blobs.list("").await.unwrap().is_empty(), "no temporary file either");

    // The right checksum is kept with the object.
    let mut running = Running::new(Algorithm::Sha256);
    running.update(b"data");
    let expected = running.finish();
    let mut input = put("checked", "good");
    input.checks.checksum = Some((Algorithm::Sha256, Some(expected.value.clone())));
    input.checks.content_md5 = Some(Md5::digest(b"data").into());
    let object = put_object(&ctx, input, body(&[b"data"]), 0).await.unwrap();
    assert_eq!(object.checksum, Some(expected));
}

#[tokio::test]
async fn a_put_into_a_missing_bucket_reads_no_body() {
    let (ctx, _dir) = context().await;
    let never = stream::poll_fn(|_| -> std::task::Poll<Option<Result<Chunk, ApiError>>> {
        panic!("the body was read")
    })
    .boxed();
    let refused = put_object(&ctx, put("nowhere", "k"), never, 0).await.unwrap_err();
    assert_eq!(refused.code, "NoSuchBucket");
}

#[tokio::test]
async fn conditional_reads_and_writes_answer_as_s3() {
    let (ctx, _dir) = context().await;
    create_bucket(&ctx, "cond", None, 0).await.unwrap();
    let object = put_text(&ctx, "cond", "k", "v1").await;
    let read = |conditions| Read { conditions, ..Default::default() };
    let etag = object.etag.clone();
    let matching = Conditions { if_none_match: Some(&etag), ..Default::default() };
    let err = get_object(&ctx, "cond", "k", &read(matching)).await.err().unwrap();
    assert_eq!(err.code, "NotModified");
    let failing = Conditions { if_match: Some("\"other\""), ..Default::default() };
    let err = get_object(&ctx, "cond", "k", &read(failing)).await.err().unwrap();
    assert_eq!(err.code, "PreconditionFailed");

    let mut input = put("cond", "k");
    input.if_none_match = Some("*".to_owned());
    let err = put_object(&ctx, input, body(&[b"v2"]), 0).await.unwrap_err();
    assert_eq!(err.code, "PreconditionFailed");
    let mut input = put("cond", "k");
    input.if_match = Some(etag);
    put_object(&ctx, input, body(&[b"v2"]), 0).await.unwrap();
    assert_eq!(blobs(&ctx).await.len(), 1, "the refused writes left no blob");
}

#[tokio::test]
async fn ranges_and_parts_are_read_across_pieces() {
    let (ctx, _dir) = context().await;
    create_bucket(&ctx, "pieces", None, 0).await.unwrap();
    // An object of three pieces, as a completed multipart upload is.
    let mut pieces = Vec::new();
    for text in ["abc", "defg", "hi"] {
        let blob = new_blob("pieces");
        ctx.blobs.put(&blob, Bytes::from(text)).await.unwrap();
        pieces.push(Piece { blob, size: text.len() as u64 });
    }
    let object = Object {
        bucket: "pieces".to_owned(),
        key: "k".to_owned(),
        size: 9,
        etag: "\"x-3\"".to_owned(),
        last_modified_ms: 0,
        attributes: Attributes::default(),
        checksum: None,
        parts_count: Some(3),
        pieces,
    };
    ctx.store.apply(vec![Write::Insert(super::document(&object))]).await.unwrap();
    let ranged = |range| Read { range: Some(range), ..Default::default() };
    for (range, expected, first_last) in [
        ("bytes=2-6", "cdefg", (2, 6)),
        ("bytes=-3", "ghi", (6, 8)),
        ("bytes=7-", "hi", (7, 8)),
        ("bytes=0-100", "abcdefghi", (0, 8)),
    ] {
        let answer = get_object(&ctx, "pieces", "k", &ranged(range)).await.unwrap();
        assert_eq!(answer.range, Some(first_last), "{range}");
        assert_eq!(read_all(answer).await, expected.as_bytes(), "{range}");
    }
    let err = get_object(&ctx, "pieces", "k", &ranged("bytes=9-")).await.err().unwrap();
    assert_eq!(err.code, "InvalidRange");
    let part = |number| Read { part_number: Some(number), ..Default::default() };
    let answer = get_object(&ctx, "pieces", "k", &part(2)).await.unwrap();
    assert_eq!(read_all(answer).await, b"defg");
    let err = get_object(&ctx, "pieces", "k", &part(4)).await.err().unwrap();
    assert_eq!(err.code, "InvalidPartNumber");
}

fn keys(listing: &Listing) -> (Vec<&str>, Vec<&str>) {
    (
        listing.objects.iter().map(|object| object.key.as_str()).collect(),
        listing.common_prefixes.iter().map(String::as_str).collect(),
    )
}

#[tokio::test]
async fn listings_take_prefixes_delimiters_markers_and_pages() {
    let (ctx, _dir) = context().await;
    create_bucket(&ctx, "tree", None, 0).await.unwrap();
    for key in ["a", "a/1", "a/2", "a/b/3", "ab", "b/1", "b/2", "c", "é"] {
        put_text(&ctx, "tree", key, key).await;
    }
    let list = |prefix: &str, delimiter: Option<&str>, after: Option<&str>, max_keys| ListInput {
        prefix: prefix.to_owned(),
        delimiter: delimiter.map(str::to_owned),
        after: after.map(str::to_owned),
        max_keys,
    };
    let all = list_objects(&ctx, "tree", &list("", None, None, 1000)).await.unwrap();
    assert_eq!(keys(&all).0, ["a", "a/1", "a/2", "a/b/3", "ab", "b/1", "b/2", "c", "é"]);
    assert!(!all.truncated);

    let top = list_objects(&ctx, "tree", &list("", Some("/"), None, 1000)).await.unwrap();
    assert_eq!(keys(&top), (vec!["a", "ab", "c", "é"], vec!["a/", "b/"]));

    let under_a = list_objects(&ctx, "tree", &list("a/", Some("/"), None, 1000)).await.unwrap();
    assert_eq!(keys(&under_a), (vec!["a/1", "a/2"], vec!["a/b/"]));

    let prefixed = list_objects(&ctx, "tree", &list("a", None, None, 1000)).await.unwrap();
    assert_eq!(keys(&prefixed).0, ["a", "a/1", "a/2", "a/b/3", "ab"]);

    // Pages of two, each after the last: a common prefix counts once and is not repeated.
    let mut seen = (Vec::new(), Vec::new());
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let page =
            list_objects(&ctx, "tree", &list("", Some("/"), after.as_deref(), 2)).await.unwrap();
        pages += 1;
        let (objects, prefixes) = keys(&page);
        assert!(objects.len() + prefixes.len() <= 2);
        seen.0.extend(objects.into_iter().map(str::to_owned));
        seen.1.extend(prefixes.into_iter().map(str::to_owned));
        if !page.truncated {
            break;
        }
        after = page.last.clone();
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen,
        (vec!["a".into(), "ab".into(), "c".into(), "é".into()], vec!["a/".into(), "b/".into()])
    );

    let after_b = list_objects(&ctx, "tree", &list("", None, Some("b/1"), 1000)).await.unwrap();
    assert_eq!(keys(&after_b).0, ["b/2", "c", "é"]);
    let none = list_objects(&ctx, "tree", &list("zzz", None, None, 1000)).await.unwrap();
    assert_eq!(none, Listing::default());
    let err = list_objects(&ctx, "nowhere", &list("", None, None, 1000)).await.unwrap_err();
    assert_eq!(err.code, "NoSuchBucket");

    let refused = delete_bucket(&ctx, "tree").await.unwrap_err();
    assert_eq!(refused.code, "BucketNotEmpty");
}

#[tokio::test]
async fn a_copy_has_its_own_bytes_and_takes_or_replaces_attributes() {
    let (ctx, _dir) = context().await;
    create_bucket(&ctx, "src", None, 0).await.unwrap();
    create_bucket(&ctx, "dst", None, 0).await.unwrap();
    let mut input = put("src", "k");
    input.attributes.content_type = Some("text/plain".to_owned());
    let source = put_object(&ctx, input, body(&[b"copied"]), 0).await.unwrap();
    let copy = |bucket: &str, key: &str| CopyObject {
        source_bucket: "src".to_owned(),
        source_key: "k".to_owned(),
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        ..Default::default()
    };
    let copied = copy_object(&ctx, copy("dst", "k2"), 9_000).await.unwrap();
    assert_eq!((copied.etag.as_str(), copied.last_modified_ms), (source.etag.as_str(), 9_000));
    assert_eq!(copied.attributes.content_type.as_deref(), Some("text/plain"));
    delete_object(&ctx, "src", "k").await.unwrap();
    let answer = get_object(&ctx, "dst", "k2", &Read::default()).await.unwrap();
    assert_eq!(read_all(answer).await, b"copied");

    let mut onto_itself = copy("dst", "k2");
    onto_itself.source_bucket = "dst".to_owned();
    onto_itself.source_key = "k2".to_owned();
    let err = copy_object(&ctx, onto_itself.clone(), 0).await.unwrap_err();
    assert_eq!(err.code, "InvalidRequest");
    onto_itself.replace_attributes = Some(Attributes::default());
    let replaced = copy_object(&ctx, onto_itself, 0).await.unwrap();
    assert_eq!(replaced.attributes.content_type, None);
    assert_eq!(blobs(&ctx).await.len(), 1);

    let mut conditional = copy("dst", "k3");
    conditional.source_bucket = "dst".to_owned();
    conditional.source_key = "k2".to_owned();
    conditional.if_match = Some("\"nope\"".to_owned());
    let err = copy_object(&ctx, conditional, 0).await.unwrap_err();
    assert_eq!(err.code, "PreconditionFailed");
}

#[tokio::test]
async fn delete_objects_answers_each_key() {
    let (ctx, _dir) = context().await;
    create_bucket(&ctx, "many", None, 0).await.unwrap();
    put_text(&ctx, "many", "a", "a").await;
    let keys = vec!["a".to_owned(), "missing".to_owned(), "k".repeat(1025)];
    let results = delete_objects(&ctx, "many", &keys).await.unwrap();
    assert_eq!(results[0], Deleted::Deleted { key: "a".to_owned() });
    assert_eq!(results[1], Deleted::Deleted { key: "missing".to_owned() });
    assert!(matches!(&results[2], Deleted::Failed { code, .. } if code == "KeyTooLongError"));
    delete_bucket(&ctx, "many").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_to_one_bucket_all_commit_and_keep_one_version_each() {
    let (ctx, _dir) = context().await;
    create_bucket(&ctx, "busy", None, 0).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let ctx = ctx.clone();
        tasks.push(tokio::spawn(async move {
            // Ten keys, each written twice at once.
            let key = format!("k{}", i % 10);
            put_object(&ctx, put("busy", &key), body(&[format!("v{i}").as_bytes()]), i).await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let listed = list_objects(&ctx, "busy", &ListInput { max_keys: 1000, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(listed.objects.len(), 10);
    // The losing version of each key left no blob behind.
    assert_eq!(blobs(&ctx).await.len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_deleted_while_an_object_is_written_keeps_neither_half() {
    for round in 0..10 {
        let (ctx, _dir) = context().await;
        create_bucket(&ctx, "racing", None, 0).await.unwrap();
        let writer = {
            let ctx = ctx.clone();
            tokio::spawn(async move {
                put_object(&ctx, put("racing", "k"), body(&[b"bytes"]), round).await
            })
        };
        let deleted = delete_bucket(&ctx, "racing").await;
        let written = writer.await.unwrap();
        match (&deleted, &written) {
            // The object was written first: the bucket stays, with it.
            (Err(err), Ok(_)) => {
                assert_eq!(err.code, "BucketNotEmpty");
                assert_eq!(blobs(&ctx).await.len(), 1);
            }
            // The bucket went first: the write was refused and left no blob.
            (Ok(()), Err(err)) => {
                assert_eq!(err.code, "NoSuchBucket");
                assert!(blobs(&ctx).await.is_empty(), "round {round}");
            }
            other => panic!("round {round}: {other:?}"),
        }
    }
}
