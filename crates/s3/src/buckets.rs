//! The bucket operations: CreateBucket, HeadBucket, GetBucketLocation, DeleteBucket and
//! ListBuckets, over the store (one `s3-bucket` document each). Every bucket is the one
//! account's, so S3's `BucketAlreadyExists` (another account's) never happens; creating one's
//! own bucket again is what S3 answers in the server's region: `200` in `us-east-1`,
//! `BucketAlreadyOwnedByYou` elsewhere.

use awsapi::ApiError;
use engine::kinds::{S3_BUCKET, S3_OBJECT, S3_PART, S3_UPLOAD};
use engine::store::{Document, ListQuery, StoreError, Write};
use serde_json::json;

use crate::Context;
use crate::bucket::check_name;
use crate::objects::no_such_bucket;

/// The region whose endpoint takes buckets without a `LocationConstraint`, and answers a
/// bucket's location with none.
const US_EAST_1: &str = "us-east-1";

/// A bucket as ListBuckets lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    pub name: String,
    /// Milliseconds since the epoch.
    pub creation_date_ms: i64,
}

/// CreateBucket of `name` at `now_ms`, with the `LocationConstraint` of its body if any.
pub async fn create_bucket(
    ctx: &Context,
    name: &str,
    location_constraint: Option<&str>,
    now_ms: i64,
) -> Result<(), ApiError> {
    check_name(name)?;
    check_location(&ctx.region, location_constraint)?;
    let document = Document {
        kind: S3_BUCKET.to_owned(),
        key: name.to_owned(),
        parent: None,
        sort: now_ms,
        version: 0,
        body: json!({ "name": name, "creationDateMs": now_ms, "region": ctx.region }),
    };
    match ctx.store.apply(vec![Write::Insert(document)]).await {
        Ok(()) => Ok(()),
        Err(StoreError::AlreadyExists { .. }) if ctx.region == US_EAST_1 => Ok(()),
        Err(StoreError::AlreadyExists { .. }) => Err(ApiError::client(
            "BucketAlreadyOwnedByYou",
            "Your previous request to create the named bucket succeeded and you already own it.",
        )),
        Err(err) => Err(err.into()),
    }
}

/// What S3 says of a `LocationConstraint` at the endpoint of `region`.
fn check_location(region: &str, constraint: Option<&str>) -> Result<(), ApiError> {
    let constraint = constraint.filter(|it| !it.is_empty());
    match constraint {
        Some(US_EAST_1) if region == US_EAST_1 => Err(ApiError::client(
            "InvalidLocationConstraint",
            "The specified location-constraint is not valid",
        )),
        Some(given) if given != region => Err(ApiError::client(
            "IllegalLocationConstraintException",
            format!(
                "The {given} location constraint is incompatible for the region specific endpoint this request was sent to."
            ),
        )),
        None if region != US_EAST_1 => Err(ApiError::client(
            "IllegalLocationConstraintException",
            "The unspecified location constraint is incompatible for the region specific endpoint this request was sent to.",
        )),
        _ => Ok(()),
    }
}

/// The bucket `name`'s document, or S3's `NoSuchBucket`.
async fn existing(ctx: &Context, name: &str) -> Result<Document, ApiError> {
    ctx.store.get(S3_BUCKET, name).await?.ok_or_else(no_such_bucket)
}

/// HeadBucket: the bucket's region, or `NoSuchBucket`.
pub async fn head_bucket(ctx: &Context, name: &str) -> Result<String, ApiError> {
    let document = existing(ctx, name).await?;
    Ok(document.body["region"].as_str().unwrap_or(&ctx.region).to_owned())
}

/// GetBucketLocation: the bucket's `LocationConstraint`, none for `us-east-1`.
pub async fn get_bucket_location(ctx: &Context, name: &str) -> Result<Option<String>, ApiError> {
    let region = head_bucket(ctx, name).await?;
    Ok((region != US_EAST_1).then_some(region))
}

/// DeleteBucket: refused while it holds an object (`BucketNotEmpty`); its multipart uploads in
/// progress are aborted with it.
pub async fn delete_bucket(ctx: &Context, name: &str) -> Result<(), ApiError> {
    // Decided again when something was written into the bucket between the look and the
    // delete: it may not be empty any more.
    for _ in 0..DELETE_ATTEMPTS {
        match delete_once(ctx, name).await? {
            Some(()) => return Ok(()),
            None => continue,
        }
    }
    Err(crate::objects::operation_aborted())
}

/// How many times DeleteBucket looks again when the bucket changed under it.
const DELETE_ATTEMPTS: usize = 20;

/// One attempt of [`delete_bucket`]: `None` when the bucket changed before the delete
/// committed.
async fn delete_once(ctx: &Context, name: &str) -> Result<Option<()>, ApiError> {
    let document = existing(ctx, name).await?;
    let query = ListQuery {
        kind: S3_OBJECT.to_owned(),
        parent: Some(name.to_owned()),
        descending: false,
        after: None,
        limit: 1,
    };
    if !ctx.store.list(&query).await?.documents.is_empty() {
        return Err(ApiError::client(
            "BucketNotEmpty",
            "The bucket you tried to delete is not empty",
        ));
    }
    // Version-checked, so that an object written into the bucket since (its write updates the
    // bucket's document in its own transaction) keeps the bucket.
    // Uploads in progress go with the bucket, their parts' blobs after the commit.
    let uploads = ctx.store.list_all(S3_UPLOAD, Some(name)).await?;
    let mut blobs = Vec::new();
    let expected_version = document.version;
    let mut writes = vec![
        Write::Update { document, expected_version },
        Write::Delete { kind: S3_BUCKET.to_owned(), key: name.to_owned() },
        Write::DeleteChildren { kind: S3_UPLOAD.to_owned(), parent: name.to_owned() },
    ];
    for upload in &uploads {
        for part in ctx.store.list_all(S3_PART, Some(&upload.key)).await? {
            blobs.extend(part.body["blob"].as_str().map(str::to_owned));
        }
        writes.push(Write::DeleteChildren { kind: S3_PART.to_owned(), parent: upload.key.clone() });
    }
    match ctx.store.apply(writes).await {
        Ok(()) => {
            crate::objects::delete_blobs(&ctx.blobs, &blobs).await;
            Ok(Some(()))
        }
        Err(StoreError::Conflict { .. }) => Ok(None),
        Err(StoreError::NotFound { .. }) => Err(no_such_bucket()),
        Err(err) => Err(err.into()),
    }
}

/// ListBuckets: every bucket, by name.
pub async fn list_buckets(ctx: &Context) -> Result<Vec<Bucket>, ApiError> {
    let documents = ctx.store.list_all(S3_BUCKET, None).await?;
    let mut buckets: Vec<Bucket> = documents
        .into_iter()
        .map(|document| Bucket {
            creation_date_ms: document.body["creationDateMs"].as_i64().unwrap_or(document.sort),
            name: document.key,
        })
        .collect();
    buckets.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(buckets)
}

#[cfg(test)]
mod tests;
