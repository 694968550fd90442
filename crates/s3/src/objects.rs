//! Objects in buckets: PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects,
//! CopyObject, ListObjects and ListObjectsV2, over the store (one `s3-object` document per
//! object, its bucket the parent) and the blob store (its bytes, as one or more pieces).
//!
//! An object's bytes are the blobs of its pieces, in order: one for an object put whole, one
//! per part for a completed multipart upload (so completing one copies nothing). Blobs are
//! named `s3/<bucket>/<random id>`, never by the object's key, so a key S3 takes but a file
//! system would not (`../a`, `a//b`, a trailing `/`) is only text in the store, and a new
//! version never overwrites the bytes a reader may be streaming.
//!
//! Every change to a bucket's objects commits in one transaction that also bumps the bucket
//! document's version ([`commit_in_bucket`]): DeleteBucket, version-checked, never removes a
//! bucket an object is being written into, and a writer that read the object it replaces
//! knows it is still the one there. Blobs a change leaves unused (the replaced version's) are
//! deleted after the commit; a crash in between leaves them orphaned, never an object
//! without its bytes.

use std::collections::BTreeMap;

use awsapi::ApiError;
use bytes::Bytes;
use engine::blob::BlobStore;
use engine::kinds::{S3_BUCKET, S3_OBJECT};
use engine::store::{Document, ListQuery, StoreError, Write, cursor_after};
use futures::stream::{self, BoxStream, Stream, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use crate::Context;
use crate::checksum::{self, Algorithm, Checksum};
use crate::object::{self, BodyMd5, Conditions, Precondition};

/// How many times a change retries when another change to the same bucket committed between
/// its read and its write.
const COMMIT_ATTEMPTS: usize = 100;

/// An object as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Object {
    pub bucket: String,
    pub key: String,
    pub size: u64,
    /// Quoted, as S3 sends it.
    pub etag: String,
    pub last_modified_ms: i64,
    #[serde(flatten)]
    pub attributes: Attributes,
    /// The checksum the object was stored with, if its request named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<Checksum>,
    /// How many parts a multipart upload made it of; `None` for an object put whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts_count: Option<u32>,
    /// Its bytes, in order.
    pub pieces: Vec<Piece>,
}

/// One blob of an object's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Piece {
    pub blob: String,
    pub size: u64,
}

/// What an object carries besides its bytes: its content type, its user metadata
/// (`x-amz-meta-*`, names lower-cased and without the prefix) and the other headers S3 keeps
/// and answers (`Content-Encoding`, `Content-Disposition`, `Content-Language`,
/// `Cache-Control`, `Expires`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attributes {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

/// The headers besides `Content-Type` that S3 stores with an object and answers, lower-case.
pub const STORED_HEADERS: &[&str] =
    &["cache-control", "content-disposition", "content-encoding", "content-language", "expires"];

/// The content type of an object put without one.
pub const DEFAULT_CONTENT_TYPE: &str = "binary/octet-stream";

/// A piece of a request body as the edge decodes it: bytes, then (for aws-chunked bodies with
/// a trailer) the trailing headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk {
    Data(Bytes),
    Trailers(Vec<(String, String)>),
}

/// What a body must be for its request to succeed: the `Content-MD5` and `x-amz-checksum-*`
/// its request sent.
#[derive(Debug, Clone, Default)]
pub struct BodyChecks {
    pub content_md5: Option<[u8; 16]>,
    /// The checksum to compute, and its value when the headers carry it (`None` when it comes
    /// in a trailer, or when only `x-amz-sdk-checksum-algorithm` asks for it to be stored).
    pub checksum: Option<(Algorithm, Option<String>)>,
}

/// A body stored as a blob, and what was computed over it.
pub(crate) struct Received {
    pub(crate) size: u64,
    pub(crate) md5: [u8; 16],
    pub(crate) checksum: Option<Checksum>,
}

/// Streams `body` into a new blob `blob`, checking it against `checks` before it is published;
/// on any failure nothing is published.
pub(crate) async fn receive<B>(
    blobs: &BlobStore,
    blob: &str,
    mut body: B,
    checks: &BodyChecks,
) -> Result<Received, ApiError>
where
    B: Stream<Item = Result<Chunk, ApiError>> + Send + Unpin,
{
    let mut writer = blobs.writer(blob).await.map_err(ApiError::internal)?;
    let mut digests = Digests::start(checks.checksum.as_ref().map(|(algorithm, _)| *algorithm))?;
    let mut trailers = Vec::new();
    let streamed: Result<(), ApiError> = async {
        while let Some(chunk) = body.next().await {
            match chunk? {
                Chunk::Data(bytes) => {
                    digests.update(bytes.clone()).await?;
                    writer.write(bytes).await.map_err(ApiError::internal)?;
                }
                Chunk::Trailers(more) => trailers.extend(more),
            }
        }
        Ok(())
    }
    .await;
    if let Err(err) = streamed {
        abort(writer).await;
        return Err(err);
    }
    let (md5, checksum) = match digests.finish().await {
        Ok(done) => done,
        Err(err) => {
            abort(writer).await;
            return Err(err);
        }
    };
    if let Err(err) = check_content_md5(checks.content_md5, &md5) {
        abort(writer).await;
        return Err(err);
    }
    if let (Some(computed), Some((algorithm, sent))) = (&checksum, &checks.checksum) {
        let from_trailer = trailers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(algorithm.header()))
            .map(|(_, value)| value.trim().to_owned());
        if let Some(expected) = sent.clone().or(from_trailer)
            && expected != computed.value
        {
            abort(writer).await;
            return Err(checksum::mismatch(*algorithm));
        }
    }
    let size = writer.finish().await.map_err(ApiError::internal)?;
    Ok(Received { size, md5, checksum })
}

/// The `Content-MD5` check: S3's `BadDigest` when the request sent one that is not the
/// body's.
pub fn check_content_md5(sent: Option<[u8; 16]>, md5: &[u8; 16]) -> Result<(), ApiError> {
    if sent.is_some_and(|sent| sent != *md5) {
        return Err(ApiError::client(
            "BadDigest",
            "The Content-MD5 you specified did not match what we received.",
        ));
    }
    Ok(())
}

/// How many bytes of a body [`Digests`] hands its thread at a time (fewer, larger handoffs:
/// waking the thread for every small chunk the connection delivers costs more than it saves).
const DIGEST_BATCH: usize = 256 * 1024;

/// How many batches may wait for [`Digests`]' thread: at most 2 MiB of a body in flight.
const DIGEST_QUEUE: usize = 8;

/// The digests of a body — its MD5 for the ETag and the checksum its request names —
/// computed on a thread of their own as the body arrives, so that hashing one part of it
/// overlaps with writing the next (MD5 is the slowest step of an upload, and one body's bytes
/// can only be hashed in order).
struct Digests {
    batches: futures::channel::mpsc::Sender<Vec<Bytes>>,
    batch: Vec<Bytes>,
    batched: usize,
    result: futures::channel::oneshot::Receiver<([u8; 16], Option<Checksum>)>,
}

impl Digests {
    fn start(algorithm: Option<Algorithm>) -> Result<Digests, ApiError> {
        let (batches, mut queue) = futures::channel::mpsc::channel::<Vec<Bytes>>(DIGEST_QUEUE);
        let (done, result) = futures::channel::oneshot::channel();
        std::thread::Builder::new()
            .name("s3-digests".to_owned())
            .spawn(move || {
                let mut md5 = BodyMd5::default();
                let mut running = algorithm.map(checksum::Running::new);
                while let Some(batch) = futures::executor::block_on(queue.next()) {
                    for bytes in batch {
                        md5.update(&bytes);
                        if let Some(running) = &mut running {
                            running.update(&bytes);
                        }
                    }
                }
                let _ = done.send((md5.finish(), running.map(checksum::Running::finish)));
            })
            .map_err(ApiError::internal)?;
        Ok(Digests { batches, batch: Vec::new(), batched: 0, result })
    }

    async fn update(&mut self, bytes: Bytes) -> Result<(), ApiError> {
        self.batched += bytes.len();
        self.batch.push(bytes);
        if self.batched < DIGEST_BATCH {
            return Ok(());
        }
        self.batched = 0;
        let batch = std::mem::take(&mut self.batch);
        futures::SinkExt::send(&mut self.batches, batch).await.map_err(ApiError::internal)
    }

    /// The MD5 and the checksum, once every byte is hashed.
    async fn finish(mut self) -> Result<([u8; 16], Option<Checksum>), ApiError> {
        if !self.batch.is_empty() {
            let batch = std::mem::take(&mut self.batch);
            futures::SinkExt::send(&mut self.batches, batch).await.map_err(ApiError::internal)?;
        }
        drop(self.batches);
        self.result.await.map_err(ApiError::internal)
    }
}

async fn abort(writer: engine::blob::BlobWriter) {
    if let Err(err) = writer.abort().await {
        tracing::warn!(%err, "abandoning an S3 body's blob");
    }
}

/// A new blob name in `bucket`.
pub(crate) fn new_blob(bucket: &str) -> String {
    format!("s3/{bucket}/{}", uuid::Uuid::new_v4().simple())
}

/// The store key of the object `key` in `bucket`.
pub(crate) fn document_key(bucket: &str, key: &str) -> String {
    format!("{bucket}/{key}")
}

/// The object's store document, its version `version`.
fn document(object: &Object) -> Document {
    Document {
        kind: S3_OBJECT.to_owned(),
        key: document_key(&object.bucket, &object.key),
        parent: Some(object.bucket.clone()),
        sort: 0,
        version: 0,
        body: serde_json::to_value(object).unwrap_or_default(),
    }
}

fn parse(document: &Document) -> Result<Object, ApiError> {
    serde_json::from_value(document.body.clone()).map_err(ApiError::internal)
}

pub(crate) fn no_such_bucket() -> ApiError {
    ApiError::client("NoSuchBucket", "The specified bucket does not exist")
}

fn no_such_key() -> ApiError {
    ApiError::client("NoSuchKey", "The specified key does not exist.")
}

/// The object `key` of `bucket` with its store version, `None` if there is none.
async fn stored(ctx: &Context, bucket: &str, key: &str) -> Result<Option<(Object, i64)>, ApiError> {
    match ctx.store.get(S3_OBJECT, &document_key(bucket, key)).await? {
        Some(document) => Ok(Some((parse(&document)?, document.version))),
        None => Ok(None),
    }
}

/// The object `key` of `bucket`, or `NoSuchKey` (`NoSuchBucket` when the bucket is missing).
pub(crate) async fn existing(ctx: &Context, bucket: &str, key: &str) -> Result<Object, ApiError> {
    object::check_key(key)?;
    match stored(ctx, bucket, key).await? {
        Some((object, _)) => Ok(object),
        None if ctx.store.get(S3_BUCKET, bucket).await?.is_none() => Err(no_such_bucket()),
        None => Err(no_such_key()),
    }
}

/// What a change to a bucket's object decides once it has read what is there.
pub(crate) struct Change<T> {
    /// The writes besides the bucket's version bump.
    pub(crate) writes: Vec<Write>,
    /// Blobs to delete once the writes commit.
    pub(crate) unused_blobs: Vec<String>,
    pub(crate) result: T,
}

/// Commits a change to the object `key` of `bucket`: `decide` reads the object there (with
/// its store version) and says what to write; the writes commit with a version-checked update
/// of the bucket's document, and are decided again if another change to the bucket came
/// between. `NoSuchBucket` when the bucket is missing.
pub(crate) async fn commit_in_bucket<T, F>(
    ctx: &Context,
    bucket: &str,
    key: &str,
    mut decide: F,
) -> Result<T, ApiError>
where
    F: FnMut(Option<(Object, i64)>) -> Result<Change<T>, ApiError>,
{
    for _ in 0..COMMIT_ATTEMPTS {
        let Some(bucket_document) = ctx.store.get(S3_BUCKET, bucket).await? else {
            return Err(no_such_bucket());
        };
        let current = stored(ctx, bucket, key).await?;
        let change = decide(current)?;
        let expected_version = bucket_document.version;
        let mut writes = vec![Write::Update { document: bucket_document, expected_version }];
        writes.extend(change.writes);
        match ctx.store.apply(writes).await {
            Ok(()) => {
                delete_blobs(&ctx.blobs, &change.unused_blobs).await;
                return Ok(change.result);
            }
            Err(StoreError::Conflict { kind, .. }) if kind == S3_BUCKET || kind == S3_OBJECT => {
                continue;
            }
            Err(StoreError::NotFound { kind, .. }) if kind == S3_BUCKET => {
                return Err(no_such_bucket());
            }
            // Something else the writes depend on changed: the caller decides again.
            Err(StoreError::Conflict { .. } | StoreError::NotFound { .. }) => {
                return Err(operation_aborted());
            }
            Err(err) => return Err(err.into()),
        }
    }
    Err(ApiError::client("SlowDown", "Please reduce your request rate."))
}

/// S3's answer to a change that lost a race with another (the client may retry).
pub(crate) fn operation_aborted() -> ApiError {
    ApiError::client(
        "OperationAborted",
        "A conflicting conditional operation is currently in progress against this resource. Please try again.",
    )
}

/// Deletes blobs no object uses any more; a failure only leaves them orphaned.
pub(crate) async fn delete_blobs(blobs: &BlobStore, names: &[String]) {
    for name in names {
        if let Err(err) = blobs.delete(name).await {
            tracing::warn!(%err, blob = %name, "deleting an S3 object's unused blob");
        }
    }
}

/// The writes that put `object` where `current` is (replacing it, version-checked), and the
/// blobs the replaced version leaves unused.
pub(crate) fn replace(object: &Object, current: Option<(Object, i64)>) -> (Write, Vec<String>) {
    let document = document(object);
    match current {
        Some((old, version)) => (
            Write::Update { document, expected_version: version },
            old.pieces.into_iter().map(|piece| piece.blob).collect(),
        ),
        None => (Write::Insert(document), Vec::new()),
    }
}

/// PutObject's input besides the body.
#[derive(Debug, Clone, Default)]
pub struct PutObject {
    pub bucket: String,
    pub key: String,
    pub attributes: Attributes,
    pub checks: BodyChecks,
    /// `If-None-Match: *`: only if no object has the key. `If-Match`: only if the object has
    /// this ETag.
    pub if_none_match: Option<String>,
    pub if_match: Option<String>,
}

/// PutObject: streams `body` into the blob store, then makes it the object `key` of
/// `bucket`.
pub async fn put_object<B>(
    ctx: &Context,
    input: PutObject,
    body: B,
    now_ms: i64,
) -> Result<Object, ApiError>
where
    B: Stream<Item = Result<Chunk, ApiError>> + Send + Unpin,
{
    object::check_key(&input.key)?;
    // A missing bucket is refused before the body is read, as S3 does.
    if ctx.store.get(S3_BUCKET, &input.bucket).await?.is_none() {
        return Err(no_such_bucket());
    }
    let blob = new_blob(&input.bucket);
    let received = receive(&ctx.blobs, &blob, body, &input.checks).await?;
    let object = Object {
        bucket: input.bucket.clone(),
        key: input.key.clone(),
        size: received.size,
        etag: object::etag(&received.md5),
        last_modified_ms: now_ms,
        attributes: input.attributes.clone(),
        checksum: received.checksum,
        parts_count: None,
        pieces: vec![Piece { blob: blob.clone(), size: received.size }],
    };
    let committed = commit_in_bucket(ctx, &input.bucket, &input.key, |current| {
        check_put_conditions(input.if_match.as_deref(), input.if_none_match.as_deref(), &current)?;
        let (write, unused_blobs) = replace(&object, current);
        Ok(Change { writes: vec![write], unused_blobs, result: () })
    })
    .await;
    if let Err(err) = committed {
        delete_blobs(&ctx.blobs, &[blob]).await;
        return Err(err);
    }
    Ok(object)
}

/// S3's answer (412) to a request whose conditions do not hold.
fn precondition_failed() -> ApiError {
    ApiError::client(
        "PreconditionFailed",
        "At least one of the pre-conditions you specified did not hold",
    )
}

/// S3's conditional writes: `If-None-Match: *` and `If-Match: <etag>`.
pub(crate) fn check_put_conditions(
    if_match: Option<&str>,
    if_none_match: Option<&str>,
    current: &Option<(Object, i64)>,
) -> Result<(), ApiError> {
    let failed = precondition_failed;
    if if_none_match.is_some_and(|it| it.trim() == "*") && current.is_some() {
        return Err(failed());
    }
    if let Some(tag) = if_match {
        match current {
            Some((object, _))
                if Conditions { if_match: Some(tag), ..Default::default() }
                    .evaluate(&object.etag, 0)
                    == Precondition::Proceed => {}
            Some(_) => return Err(failed()),
            None => return Err(no_such_key()),
        }
    }
    Ok(())
}

/// A GetObject or HeadObject: the conditional headers, `Range`, and `partNumber`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Read<'a> {
    pub conditions: Conditions<'a>,
    pub range: Option<&'a str>,
    pub part_number: Option<u32>,
}

/// What GetObject and HeadObject answer: the object, the bytes of it answered (first and last,
/// included) when a range or part was asked for, and (GetObject) those bytes.
pub struct Answer {
    pub object: Object,
    pub range: Option<(u64, u64)>,
    pub body: Option<BoxStream<'static, Result<Bytes, ApiError>>>,
}

/// HeadObject: what GetObject would answer, without the body.
pub async fn head_object(
    ctx: &Context,
    bucket: &str,
    key: &str,
    read: &Read<'_>,
) -> Result<Answer, ApiError> {
    let object = existing(ctx, bucket, key).await?;
    decide_read(object, read)
}

/// GetObject: the object's bytes (those the range or part asks for), streamed from its blobs.
pub async fn get_object(
    ctx: &Context,
    bucket: &str,
    key: &str,
    read: &Read<'_>,
) -> Result<Answer, ApiError> {
    let mut answer = head_object(ctx, bucket, key, read).await?;
    let (first, last) = answer.range.unwrap_or((0, answer.object.size.saturating_sub(1)));
    let length = if answer.object.size == 0 { 0 } else { last - first + 1 };
    answer.body = Some(stream_pieces(ctx.blobs.clone(), &answer.object.pieces, first, length));
    Ok(answer)
}

fn decide_read(object: Object, read: &Read<'_>) -> Result<Answer, ApiError> {
    match read.conditions.evaluate(&object.etag, object.last_modified_ms.div_euclid(1000)) {
        Precondition::Proceed => {}
        Precondition::NotModified => {
            return Err(ApiError::client("NotModified", "Not Modified"));
        }
        Precondition::Failed => return Err(precondition_failed()),
    }
    let range = match read.part_number {
        Some(number) => Some(part_range(&object, number)?),
        None => object::range(read.range, object.size)?,
    };
    Ok(Answer { object, range, body: None })
}

/// The bytes of part `number` of an object: a multipart upload's part, or (part 1) the whole of
/// an object put whole.
fn part_range(object: &Object, number: u32) -> Result<(u64, u64), ApiError> {
    let count = object.parts_count.map_or(1, |count| count as usize);
    let index = (number as usize).checked_sub(1).filter(|index| *index < count);
    let Some(index) = index else {
        return Err(ApiError::client(
            "InvalidPartNumber",
            "The requested partnumber is not satisfiable",
        ));
    };
    if object.parts_count.is_none() {
        return Ok((0, object.size.saturating_sub(1)));
    }
    let first: u64 = object.pieces[..index].iter().map(|piece| piece.size).sum();
    let size = object.pieces.get(index).map_or(0, |piece| piece.size);
    Ok((first, (first + size).saturating_sub(1)))
}

/// `length` bytes from byte `first` of the concatenation of `pieces`, read as the consumer
/// pulls.
pub(crate) fn stream_pieces(
    blobs: BlobStore,
    pieces: &[Piece],
    first: u64,
    length: u64,
) -> BoxStream<'static, Result<Bytes, ApiError>> {
    let mut segments = Vec::new();
    let (mut offset, end) = (0u64, first + length);
    for piece in pieces {
        let (start, stop) = (offset.max(first), (offset + piece.size).min(end));
        if start < stop {
            segments.push((piece.blob.clone(), (start - offset)..(stop - offset)));
        }
        offset += piece.size;
    }
    stream::iter(segments)
        .then(move |(blob, range)| {
            let blobs = blobs.clone();
            async move { blobs.get_stream(&blob, Some(range)).await }
        })
        .try_flatten()
        .map_err(ApiError::internal)
        .boxed()
}

/// DeleteObject: removes the object; deleting what is not there succeeds (`NoSuchBucket` when
/// the bucket is missing).
pub async fn delete_object(ctx: &Context, bucket: &str, key: &str) -> Result<(), ApiError> {
    object::check_key(key)?;
    commit_in_bucket(ctx, bucket, key, |current| {
        let Some((object, version)) = current else {
            return Ok(Change { writes: Vec::new(), unused_blobs: Vec::new(), result: () });
        };
        let document = document(&object);
        let writes = vec![
            Write::Update { document, expected_version: version },
            Write::Delete { kind: S3_OBJECT.to_owned(), key: document_key(bucket, key) },
        ];
        let unused_blobs = object.pieces.into_iter().map(|piece| piece.blob).collect();
        Ok(Change { writes, unused_blobs, result: () })
    })
    .await
}

/// What DeleteObjects says of one key.
#[derive(Debug, Clone, PartialEq)]
pub enum Deleted {
    Deleted { key: String },
    Failed { key: String, code: String, message: String },
}

/// DeleteObjects: [`delete_object`] of each key, each answered on its own; `NoSuchBucket` for
/// the whole request when the bucket is missing.
pub async fn delete_objects(
    ctx: &Context,
    bucket: &str,
    keys: &[String],
) -> Result<Vec<Deleted>, ApiError> {
    if ctx.store.get(S3_BUCKET, bucket).await?.is_none() {
        return Err(no_such_bucket());
    }
    let mut results = Vec::with_capacity(keys.len());
    for key in keys {
        results.push(match delete_object(ctx, bucket, key).await {
            Ok(()) => Deleted::Deleted { key: key.clone() },
            Err(err) => {
                Deleted::Failed { key: key.clone(), code: err.code.clone(), message: err.message }
            }
        });
    }
    Ok(results)
}

/// CopyObject's input.
#[derive(Debug, Clone, Default)]
pub struct CopyObject {
    pub source_bucket: String,
    pub source_key: String,
    pub bucket: String,
    pub key: String,
    /// `x-amz-metadata-directive: REPLACE`: the copy takes these attributes; otherwise the
    /// source's.
    pub replace_attributes: Option<Attributes>,
    /// The `x-amz-copy-source-if-*` headers.
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
    pub if_modified_since: Option<String>,
    pub if_unmodified_since: Option<String>,
}

/// CopyObject: a new object `key` of `bucket` with the bytes (and, unless replaced, the
/// attributes) of the source; the copy's blobs are its own.
pub async fn copy_object(
    ctx: &Context,
    input: CopyObject,
    now_ms: i64,
) -> Result<Object, ApiError> {
    object::check_key(&input.key)?;
    let source = existing(ctx, &input.source_bucket, &input.source_key).await?;
    check_copy_conditions(&input, &source)?;
    if input.source_bucket == input.bucket
        && input.source_key == input.key
        && input.replace_attributes.is_none()
    {
        return Err(ApiError::client(
            "InvalidRequest",
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
        ));
    }
    if ctx.store.get(S3_BUCKET, &input.bucket).await?.is_none() {
        return Err(no_such_bucket());
    }
    let mut pieces = Vec::with_capacity(source.pieces.len());
    for piece in &source.pieces {
        let blob = new_blob(&input.bucket);
        if let Err(err) = ctx.blobs.copy(&piece.blob, &blob).await {
            delete_blobs(
                &ctx.blobs,
                &pieces.iter().map(|it: &Piece| it.blob.clone()).collect::<Vec<_>>(),
            )
            .await;
            return Err(ApiError::internal(err));
        }
        pieces.push(Piece { blob, size: piece.size });
    }
    let object = Object {
        bucket: input.bucket.clone(),
        key: input.key.clone(),
        size: source.size,
        etag: source.etag.clone(),
        last_modified_ms: now_ms,
        attributes: input.replace_attributes.clone().unwrap_or_else(|| source.attributes.clone()),
        checksum: source.checksum.clone(),
        parts_count: source.parts_count,
        pieces,
    };
    let committed = commit_in_bucket(ctx, &input.bucket, &input.key, |current| {
        let (write, unused_blobs) = replace(&object, current);
        Ok(Change { writes: vec![write], unused_blobs, result: () })
    })
    .await;
    if let Err(err) = committed {
        let blobs: Vec<String> = object.pieces.iter().map(|piece| piece.blob.clone()).collect();
        delete_blobs(&ctx.blobs, &blobs).await;
        return Err(err);
    }
    Ok(object)
}

/// The `x-amz-copy-source-if-*` conditions: any that fails is `PreconditionFailed` (S3 answers
/// 412 for a failed `if-none-match` and `if-modified-since` too).
pub(crate) fn check_copy_conditions(input: &CopyObject, source: &Object) -> Result<(), ApiError> {
    let conditions = Conditions {
        if_match: input.if_match.as_deref(),
        if_none_match: input.if_none_match.as_deref(),
        if_modified_since: input.if_modified_since.as_deref(),
        if_unmodified_since: input.if_unmodified_since.as_deref(),
    };
    match conditions.evaluate(&source.etag, source.last_modified_ms.div_euclid(1000)) {
        Precondition::Proceed => Ok(()),
        Precondition::NotModified | Precondition::Failed => Err(precondition_failed()),
    }
}

/// A listing's input, the same for ListObjects (v1) and ListObjectsV2.
#[derive(Debug, Clone, Default)]
pub struct ListInput {
    pub prefix: String,
    pub delimiter: Option<String>,
    /// Only keys after this one: v1's `marker`, v2's `start-after` or continuation token.
    pub after: Option<String>,
    pub max_keys: usize,
}

/// A page of a bucket's keys.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Listing {
    pub objects: Vec<Object>,
    pub common_prefixes: Vec<String>,
    pub truncated: bool,
    /// The last key or common prefix of the page, where the next one starts after.
    pub last: Option<String>,
}

/// The most keys one listing answers, whatever `max-keys` asks: a page of S3's.
pub const MAX_KEYS: usize = crate::request::MAX_PAGE as usize;

/// ListObjects and ListObjectsV2: the keys of `bucket` under the prefix, after the marker, in
/// UTF-8 binary order, with keys that contain the delimiter after the prefix rolled up into
/// common prefixes (each counted once against `max_keys`).
pub async fn list_objects(
    ctx: &Context,
    bucket: &str,
    input: &ListInput,
) -> Result<Listing, ApiError> {
    if ctx.store.get(S3_BUCKET, bucket).await?.is_none() {
        return Err(no_such_bucket());
    }
    let max_keys = input.max_keys.min(MAX_KEYS);
    let mut listing = Listing::default();
    let delimiter = input.delimiter.as_deref().filter(|it| !it.is_empty());
    let after = input.after.as_deref().filter(|after| *after >= input.prefix.as_str());
    // Listing starts after the marker, or at the prefix: the object named exactly the prefix
    // first, then what follows it.
    let mut cursor = match after {
        Some(after) => after.to_owned(),
        None => {
            if !input.prefix.is_empty()
                && let Some((object, _)) = stored(ctx, bucket, &input.prefix).await?
            {
                if max_keys == 0 {
                    listing.truncated = true;
                    return Ok(listing);
                }
                listing.last = Some(object.key.clone());
                listing.objects.push(object);
            }
            input.prefix.clone()
        }
    };
    let mut starting = input.prefix.is_empty() && after.is_none();
    loop {
        let remaining =
            max_keys.saturating_sub(listing.objects.len() + listing.common_prefixes.len());
        let query = ListQuery {
            kind: S3_OBJECT.to_owned(),
            parent: Some(bucket.to_owned()),
            descending: false,
            after: (!starting).then(|| cursor_after(0, &document_key(bucket, &cursor))),
            limit: i64::try_from(remaining + 1).unwrap_or(1000).min(1000),
        };
        starting = false;
        let page = ctx.store.list(&query).await?;
        let done = page.next.is_none();
        for document in &page.documents {
            let object = parse(document)?;
            if !object.key.starts_with(&input.prefix) {
                return Ok(listing);
            }
            let rolled_up = delimiter.and_then(|delimiter| {
                let rest = &object.key[input.prefix.len()..];
                rest.find(delimiter)
                    .map(|at| object.key[..input.prefix.len() + at + delimiter.len()].to_owned())
            });
            // A common prefix the marker is inside was answered on an earlier page.
            if let Some(common) = &rolled_up
                && input.after.as_deref().is_some_and(|after| after.starts_with(common.as_str()))
            {
                cursor = past(common);
                break;
            }
            if listing.objects.len() + listing.common_prefixes.len() >= max_keys {
                listing.truncated = true;
                return Ok(listing);
            }
            match rolled_up {
                Some(common) => {
                    cursor = past(&common);
                    listing.last = Some(common.clone());
                    listing.common_prefixes.push(common);
                    break;
                }
                None => {
                    cursor.clone_from(&object.key);
                    listing.last = Some(object.key.clone());
                    listing.objects.push(object);
                }
            }
        }
        if done && cursor_is_last(&page.documents, bucket, &cursor) {
            return Ok(listing);
        }
    }
}

/// Whether a page that was the last ended where the cursor is (so no key follows it), rather
/// than being cut short by a jump past a common prefix.
fn cursor_is_last(documents: &[Document], bucket: &str, cursor: &str) -> bool {
    documents.last().is_none_or(|last| last.key == document_key(bucket, cursor))
}

/// A key after every key that begins with `prefix`: keys are at most 1,024 bytes, so `prefix`
/// followed by more than that of the largest character is.
fn past(prefix: &str) -> String {
    let mut key = String::with_capacity(prefix.len() + object::MAX_KEY_BYTES + 4);
    key.push_str(prefix);
    while key.len() <= prefix.len() + object::MAX_KEY_BYTES {
        key.push(char::MAX);
    }
    key
}

#[cfg(test)]
pub(crate) mod tests;
