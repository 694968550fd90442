//! Multipart uploads: CreateMultipartUpload, UploadPart, UploadPartCopy,
//! CompleteMultipartUpload, AbortMultipartUpload, ListParts and ListMultipartUploads.
//!
//! An upload is an `s3-upload` document (its bucket the parent); each part an `s3-part`
//! document (the upload the parent) and a blob, so parts survive a restart until the upload
//! is completed or aborted. Every change to an upload's parts commits with a version-checked
//! update of the upload's document, so a part never lands in an upload that was completed or
//! aborted meanwhile. Completing one makes an object whose pieces are the parts' blobs, in
//! order: nothing is copied.

use awsapi::ApiError;
use engine::kinds::{S3_BUCKET, S3_PART, S3_UPLOAD};
use engine::store::{Document, StoreError, Write};
use futures::Stream;
use serde::{Deserialize, Serialize};

use crate::Context;
use crate::checksum::{Algorithm, Checksum};
use crate::object;
use crate::objects::{
    self, Attributes, BodyChecks, Change, Chunk, CopyObject, Object, Piece, commit_in_bucket,
    delete_blobs, existing, new_blob, no_such_bucket, operation_aborted, receive, replace,
};

/// The smallest a part may be, but for the last: 5 MiB.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

/// How many times a part's commit retries when another change to its upload came between.
const COMMIT_ATTEMPTS: usize = 100;

/// An upload in progress, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Upload {
    pub upload_id: String,
    pub bucket: String,
    pub key: String,
    pub initiated_ms: i64,
    /// The ARN of who started it (ListParts' `Initiator`).
    pub initiator: String,
    #[serde(flatten)]
    pub attributes: Attributes,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_algorithm: Option<Algorithm>,
}

/// A part uploaded, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Part {
    pub part_number: u32,
    /// Quoted: the MD5 of the part's bytes.
    pub etag: String,
    pub size: u64,
    pub last_modified_ms: i64,
    pub blob: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<Checksum>,
}

fn no_such_upload() -> ApiError {
    ApiError::client(
        "NoSuchUpload",
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
    )
}

fn upload_document(upload: &Upload) -> Document {
    Document {
        kind: S3_UPLOAD.to_owned(),
        key: upload.upload_id.clone(),
        parent: Some(upload.bucket.clone()),
        sort: upload.initiated_ms,
        version: 0,
        body: serde_json::to_value(upload).unwrap_or_default(),
    }
}

fn part_key(upload_id: &str, part_number: u32) -> String {
    format!("{upload_id}/{part_number:05}")
}

fn part_document(upload_id: &str, part: &Part) -> Document {
    Document {
        kind: S3_PART.to_owned(),
        key: part_key(upload_id, part.part_number),
        parent: Some(upload_id.to_owned()),
        sort: i64::from(part.part_number),
        version: 0,
        body: serde_json::to_value(part).unwrap_or_default(),
    }
}

/// The upload `upload_id` of `key` in `bucket` with its document, or `NoSuchUpload`
/// (`NoSuchBucket` when the bucket is missing).
async fn stored_upload(
    ctx: &Context,
    bucket: &str,
    key: &str,
    upload_id: &str,
) -> Result<(Upload, Document), ApiError> {
    let document = ctx.store.get(S3_UPLOAD, upload_id).await?;
    let upload = match &document {
        Some(document) => Some(
            serde_json::from_value::<Upload>(document.body.clone()).map_err(ApiError::internal)?,
        ),
        None => None,
    };
    match (upload, document) {
        (Some(upload), Some(document)) if upload.bucket == bucket && upload.key == key => {
            Ok((upload, document))
        }
        _ if ctx.store.get(S3_BUCKET, bucket).await?.is_none() => Err(no_such_bucket()),
        _ => Err(no_such_upload()),
    }
}

async fn parts(ctx: &Context, upload_id: &str) -> Result<Vec<Part>, ApiError> {
    ctx.store
        .list_all(S3_PART, Some(upload_id))
        .await?
        .iter()
        .map(|document| serde_json::from_value(document.body.clone()).map_err(ApiError::internal))
        .collect()
}

/// CreateMultipartUpload: a new upload of `key` into `bucket`.
pub async fn create_multipart_upload(
    ctx: &Context,
    bucket: &str,
    key: &str,
    attributes: Attributes,
    checksum_algorithm: Option<Algorithm>,
    initiator: &str,
    now_ms: i64,
) -> Result<Upload, ApiError> {
    object::check_key(key)?;
    let upload = Upload {
        upload_id: uuid::Uuid::new_v4().simple().to_string(),
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        initiated_ms: now_ms,
        initiator: initiator.to_owned(),
        attributes,
        checksum_algorithm,
    };
    let Some(bucket_document) = ctx.store.get(S3_BUCKET, bucket).await? else {
        return Err(no_such_bucket());
    };
    // Version-checked against the bucket, like every object's write, so that DeleteBucket
    // never leaves an upload behind in a bucket that is gone.
    let expected_version = bucket_document.version;
    let writes = vec![
        Write::Update { document: bucket_document, expected_version },
        Write::Insert(upload_document(&upload)),
    ];
    match ctx.store.apply(writes).await {
        Ok(()) => Ok(upload),
        Err(StoreError::Conflict { .. } | StoreError::NotFound { .. }) => Err(operation_aborted()),
        Err(err) => Err(err.into()),
    }
}

/// Commits `part` into the upload (replacing a part of its number), version-checked against
/// the upload's document; the replaced part's blob is deleted after.
async fn commit_part(
    ctx: &Context,
    bucket: &str,
    key: &str,
    upload_id: &str,
    part: &Part,
) -> Result<(), ApiError> {
    for _ in 0..COMMIT_ATTEMPTS {
        let (_, upload_document) = stored_upload(ctx, bucket, key, upload_id).await?;
        let replaced = ctx.store.get(S3_PART, &part_key(upload_id, part.part_number)).await?;
        let expected_version = upload_document.version;
        let writes = vec![
            Write::Update { document: upload_document, expected_version },
            Write::Put(part_document(upload_id, part)),
        ];
        match ctx.store.apply(writes).await {
            Ok(()) => {
                if let Some(replaced) = replaced
                    && let Some(blob) = replaced.body["blob"].as_str()
                {
                    delete_blobs(&ctx.blobs, &[blob.to_owned()]).await;
                }
                return Ok(());
            }
            Err(StoreError::Conflict { .. }) => continue,
            Err(StoreError::NotFound { .. }) => return Err(no_such_upload()),
            Err(err) => return Err(err.into()),
        }
    }
    Err(ApiError::client("SlowDown", "Please reduce your request rate."))
}

fn check_part_number(part_number: u32) -> Result<(), ApiError> {
    if (1..=crate::request::MAX_PART_NUMBER).contains(&part_number) {
        return Ok(());
    }
    Err(ApiError::client(
        "InvalidArgument",
        "Part number must be an integer between 1 and 10000, inclusive",
    ))
}

/// UploadPart: streams `body` into a new blob, then makes it part `part_number` of the upload
/// `(bucket, key, upload id)`.
pub async fn upload_part<B>(
    ctx: &Context,
    upload: (&str, &str, &str),
    part_number: u32,
    checks: BodyChecks,
    body: B,
    now_ms: i64,
) -> Result<Part, ApiError>
where
    B: Stream<Item = Result<Chunk, ApiError>> + Send + Unpin,
{
    let (bucket, key, upload_id) = upload;
    check_part_number(part_number)?;
    stored_upload(ctx, bucket, key, upload_id).await?;
    let blob = new_blob(bucket);
    let received = receive(&ctx.blobs, &blob, body, &checks).await?;
    let part = Part {
        part_number,
        etag: object::etag(&received.md5),
        size: received.size,
        last_modified_ms: now_ms,
        blob: blob.clone(),
        checksum: received.checksum,
    };
    if let Err(err) = commit_part(ctx, bucket, key, upload_id, &part).await {
        delete_blobs(&ctx.blobs, &[blob]).await;
        return Err(err);
    }
    Ok(part)
}

/// UploadPartCopy: part `part_number` of the upload `(bucket, key, upload id)` is the bytes of
/// the source object its `x-amz-copy-source-range` header `range` names (all of them when
/// `None`).
pub async fn upload_part_copy(
    ctx: &Context,
    upload: (&str, &str, &str),
    part_number: u32,
    source: &CopyObject,
    range: Option<&str>,
    now_ms: i64,
) -> Result<Part, ApiError> {
    let (bucket, key, upload_id) = upload;
    check_part_number(part_number)?;
    stored_upload(ctx, bucket, key, upload_id).await?;
    let object = existing(ctx, &source.source_bucket, &source.source_key).await?;
    objects::check_copy_conditions(source, &object)?;
    let (first, length) = match range {
        Some(header) => {
            let (first, last) = crate::request::copy_source_range(header, object.size)?;
            (first, last - first + 1)
        }
        None => (0, object.size),
    };
    let bytes = objects::stream_pieces(ctx.blobs.clone(), &object.pieces, first, length);
    let body = futures::StreamExt::map(bytes, |it| it.map(Chunk::Data));
    let blob = new_blob(bucket);
    let received = receive(&ctx.blobs, &blob, body, &BodyChecks::default()).await?;
    let part = Part {
        part_number,
        etag: object::etag(&received.md5),
        size: received.size,
        last_modified_ms: now_ms,
        blob: blob.clone(),
        checksum: None,
    };
    if let Err(err) = commit_part(ctx, bucket, key, upload_id, &part).await {
        delete_blobs(&ctx.blobs, &[blob]).await;
        return Err(err);
    }
    Ok(part)
}

/// A part as CompleteMultipartUpload's request names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedPart {
    pub part_number: u32,
    pub etag: String,
}

fn bare(etag: &str) -> &str {
    etag.trim().trim_matches('"')
}

/// CompleteMultipartUpload: the object made of the parts named, in order, each as uploaded
/// (its ETag must match); the upload and the parts it did not name are gone afterwards.
pub async fn complete_multipart_upload(
    ctx: &Context,
    bucket: &str,
    key: &str,
    upload_id: &str,
    completed: &[CompletedPart],
    now_ms: i64,
) -> Result<Object, ApiError> {
    if completed.is_empty() {
        return Err(ApiError::client(
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema",
        ));
    }
    if completed.windows(2).any(|pair| pair[0].part_number >= pair[1].part_number) {
        return Err(ApiError::client(
            "InvalidPartOrder",
            "The list of parts was not in ascending order. Parts must be ordered by part number.",
        ));
    }
    for _ in 0..COMMIT_ATTEMPTS {
        match complete_once(ctx, bucket, key, upload_id, completed, now_ms).await {
            Err(err) if err.code == "OperationAborted" => continue,
            other => return other,
        }
    }
    Err(operation_aborted())
}

/// [`complete_multipart_upload`] with the upload as it is now; `OperationAborted` when a part
/// was uploaded again in the meantime.
async fn complete_once(
    ctx: &Context,
    bucket: &str,
    key: &str,
    upload_id: &str,
    completed: &[CompletedPart],
    now_ms: i64,
) -> Result<Object, ApiError> {
    let (upload, upload_document) = stored_upload(ctx, bucket, key, upload_id).await?;
    let uploaded = parts(ctx, upload_id).await?;
    let mut chosen: Vec<&Part> = Vec::with_capacity(completed.len());
    for want in completed {
        let found = uploaded.iter().find(|part| part.part_number == want.part_number);
        match found {
            Some(part) if bare(&part.etag) == bare(&want.etag) => chosen.push(part),
            _ => {
                return Err(ApiError::client(
                    "InvalidPart",
                    "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
                ));
            }
        }
    }
    if chosen[..chosen.len() - 1].iter().any(|part| part.size < MIN_PART_SIZE) {
        return Err(ApiError::client(
            "EntityTooSmall",
            "Your proposed upload is smaller than the minimum allowed object size.",
        ));
    }
    let md5s: Vec<[u8; 16]> = chosen
        .iter()
        .map(|part| {
            let mut md5 = [0u8; 16];
            hex::decode_to_slice(bare(&part.etag), &mut md5).map(|()| md5)
        })
        .collect::<Result<_, _>>()
        .map_err(ApiError::internal)?;
    let object = Object {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        size: chosen.iter().map(|part| part.size).sum(),
        etag: object::multipart_etag(&md5s),
        last_modified_ms: now_ms,
        attributes: upload.attributes.clone(),
        checksum: None,
        parts_count: u32::try_from(chosen.len()).ok(),
        pieces: chosen
            .iter()
            .map(|part| Piece { blob: part.blob.clone(), size: part.size })
            .collect(),
    };
    let left_over: Vec<String> = uploaded
        .iter()
        .filter(|part| !chosen.iter().any(|it| it.part_number == part.part_number))
        .map(|part| part.blob.clone())
        .collect();
    commit_in_bucket(ctx, bucket, key, |current| {
        let (write, mut unused_blobs) = replace(&object, current);
        unused_blobs.extend(left_over.iter().cloned());
        let expected_version = upload_document.version;
        let writes = vec![
            // The upload as read: a part uploaded since is a conflict, decided again.
            Write::Update { document: upload_document.clone(), expected_version },
            Write::Delete { kind: S3_UPLOAD.to_owned(), key: upload_id.to_owned() },
            Write::DeleteChildren { kind: S3_PART.to_owned(), parent: upload_id.to_owned() },
            write,
        ];
        Ok(Change { writes, unused_blobs, result: () })
    })
    .await?;
    Ok(object)
}

/// AbortMultipartUpload: the upload and its parts are gone.
pub async fn abort_multipart_upload(
    ctx: &Context,
    bucket: &str,
    key: &str,
    upload_id: &str,
) -> Result<(), ApiError> {
    for _ in 0..COMMIT_ATTEMPTS {
        let (_, document) = stored_upload(ctx, bucket, key, upload_id).await?;
        let blobs: Vec<String> =
            parts(ctx, upload_id).await?.into_iter().map(|it| it.blob).collect();
        let expected_version = document.version;
        let writes = vec![
            Write::Update { document, expected_version },
            Write::Delete { kind: S3_UPLOAD.to_owned(), key: upload_id.to_owned() },
            Write::DeleteChildren { kind: S3_PART.to_owned(), parent: upload_id.to_owned() },
        ];
        match ctx.store.apply(writes).await {
            Ok(()) => {
                delete_blobs(&ctx.blobs, &blobs).await;
                return Ok(());
            }
            Err(StoreError::Conflict { .. }) => continue,
            Err(StoreError::NotFound { .. }) => return Err(no_such_upload()),
            Err(err) => return Err(err.into()),
        }
    }
    Err(ApiError::client("SlowDown", "Please reduce your request rate."))
}

/// A page of ListParts.
#[derive(Debug, Clone, PartialEq)]
pub struct PartsPage {
    pub upload: Upload,
    pub parts: Vec<Part>,
    pub truncated: bool,
    pub next_part_number_marker: Option<u32>,
}

/// ListParts: the upload's parts after `marker`, at most `max_parts` (up to 1,000).
pub async fn list_parts(
    ctx: &Context,
    bucket: &str,
    key: &str,
    upload_id: &str,
    marker: u32,
    max_parts: usize,
) -> Result<PartsPage, ApiError> {
    let (upload, _) = stored_upload(ctx, bucket, key, upload_id).await?;
    let max_parts = max_parts.min(1000);
    let mut parts: Vec<Part> =
        parts(ctx, upload_id).await?.into_iter().filter(|part| part.part_number > marker).collect();
    let truncated = parts.len() > max_parts;
    parts.truncate(max_parts);
    let next_part_number_marker = parts.last().map(|part| part.part_number);
    Ok(PartsPage { upload, parts, truncated, next_part_number_marker })
}

/// A page of ListMultipartUploads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UploadsPage {
    pub uploads: Vec<Upload>,
    pub common_prefixes: Vec<String>,
    pub truncated: bool,
    /// Where the next page starts: the last upload's key and id (or a common prefix).
    pub next_key_marker: Option<String>,
    pub next_upload_id_marker: Option<String>,
}

/// What ListMultipartUploads asks.
#[derive(Debug, Clone, Default)]
pub struct ListUploads {
    pub prefix: String,
    pub delimiter: Option<String>,
    pub key_marker: Option<String>,
    pub upload_id_marker: Option<String>,
    pub max_uploads: usize,
}

/// ListMultipartUploads: the bucket's uploads in progress, by key and then by when they
/// began, after the markers, those whose key has the delimiter after the prefix rolled up.
pub async fn list_multipart_uploads(
    ctx: &Context,
    bucket: &str,
    input: &ListUploads,
) -> Result<UploadsPage, ApiError> {
    if ctx.store.get(S3_BUCKET, bucket).await?.is_none() {
        return Err(no_such_bucket());
    }
    let mut uploads: Vec<Upload> = ctx
        .store
        .list_all(S3_UPLOAD, Some(bucket))
        .await?
        .iter()
        .map(|document| serde_json::from_value(document.body.clone()).map_err(ApiError::internal))
        .collect::<Result<_, _>>()?;
    uploads.sort_by(|a, b| {
        (&a.key, a.initiated_ms, &a.upload_id).cmp(&(&b.key, b.initiated_ms, &b.upload_id))
    });
    let max = input.max_uploads.min(1000);
    let delimiter = input.delimiter.as_deref().filter(|it| !it.is_empty());
    let mut page = UploadsPage::default();
    let mut seen_id_marker = input.upload_id_marker.is_none();
    for upload in uploads {
        if !upload.key.starts_with(&input.prefix) {
            continue;
        }
        if let Some(marker) = &input.key_marker {
            match (upload.key.as_str().cmp(marker.as_str()), &input.upload_id_marker) {
                (std::cmp::Ordering::Less, _) => continue,
                (std::cmp::Ordering::Equal, None) => continue,
                (std::cmp::Ordering::Equal, Some(id)) => {
                    if !seen_id_marker {
                        seen_id_marker = upload.upload_id == *id;
                        continue;
                    }
                }
                (std::cmp::Ordering::Greater, _) => {}
            }
        }
        let common = delimiter.and_then(|delimiter| {
            let rest = &upload.key[input.prefix.len()..];
            rest.find(delimiter)
                .map(|at| upload.key[..input.prefix.len() + at + delimiter.len()].to_owned())
        });
        if let Some(common) = &common
            && (page.common_prefixes.last() == Some(common)
                || input.key_marker.as_deref().is_some_and(|it| it.starts_with(common.as_str())))
        {
            continue;
        }
        if page.uploads.len() + page.common_prefixes.len() >= max {
            page.truncated = true;
            break;
        }
        match common {
            Some(common) => {
                page.next_key_marker = Some(common.clone());
                page.next_upload_id_marker = None;
                page.common_prefixes.push(common);
            }
            None => {
                page.next_key_marker = Some(upload.key.clone());
                page.next_upload_id_marker = Some(upload.upload_id.clone());
                page.uploads.push(upload);
            }
        }
    }
    Ok(page)
}

#[cfg(test)]
mod tests;
