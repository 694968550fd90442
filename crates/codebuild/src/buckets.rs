//! What builds need from S3 buckets, as a small trait: a source zip read, artifacts written.
//!
//! CodeBuild never depends on the `s3` crate (services reach each other only through a small
//! trait or the store): the server implements [`Buckets`] over `s3::objects`, so that what a
//! build writes is a real S3 object (listed by `aws s3 ls`, with S3's ETag) and what it reads
//! is the object a user put with `aws s3 cp`.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::io::AsyncWriteExt;

/// A bucket call's answer, boxed so that the trait can be used as `dyn`.
pub type BucketFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, BucketError>> + Send + 'a>>;

/// An object's bytes, streamed.
pub type ObjectBody = BoxStream<'static, Result<Bytes, BucketError>>;

/// Why a bucket or object could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BucketError {
    /// No bucket of that name.
    #[error("the bucket {0} does not exist")]
    NoSuchBucket(String),
    /// No object of that key in the bucket.
    #[error("the object s3://{bucket}/{key} does not exist")]
    NoSuchKey {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
    /// The store, the blob store or a file failed; or S3 refused the request for another
    /// reason (the message says which).
    #[error("{0}")]
    Failed(String),
}

/// What S3 says of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Its size in bytes.
    pub size: u64,
    /// Its ETag, quoted, as S3 sends it.
    pub etag: String,
}

/// The buckets the server serves, as CodeBuild reads and writes them.
pub trait Buckets: Send + Sync {
    /// Whether the bucket exists.
    fn bucket_exists<'a>(&'a self, bucket: &'a str) -> BucketFuture<'a, bool>;

    /// The object `key` of `bucket`, without its bytes.
    fn head_object<'a>(&'a self, bucket: &'a str, key: &'a str) -> BucketFuture<'a, ObjectInfo>;

    /// The object `key` of `bucket` and its bytes, streamed.
    fn read_object<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
    ) -> BucketFuture<'a, (ObjectInfo, ObjectBody)>;

    /// The keys of `bucket` that start with `prefix`, in order: at most the first 1,000.
    fn list_keys<'a>(&'a self, bucket: &'a str, prefix: &'a str) -> BucketFuture<'a, Vec<String>>;

    /// Writes the file `from` as the object `key` of `bucket` (replacing any object of that
    /// key), with the content type `content_type`.
    fn write_object<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
        from: &'a Path,
        content_type: &'a str,
    ) -> BucketFuture<'a, ObjectInfo>;
}

/// Streams the object `key` of `bucket` into the file `to` (created or truncated); its size.
pub async fn download(
    buckets: &dyn Buckets,
    bucket: &str,
    key: &str,
    to: &Path,
) -> Result<u64, BucketError> {
    let (_, mut body) = buckets.read_object(bucket, key).await?;
    let failed = |err: std::io::Error| BucketError::Failed(format!("{}: {err}", to.display()));
    let mut file = tokio::fs::File::create(to).await.map_err(failed)?;
    let mut size = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        size += chunk.len() as u64;
        file.write_all(&chunk).await.map_err(failed)?;
    }
    file.flush().await.map_err(failed)?;
    Ok(size)
}

/// `bucket` and `key` of an object CodeBuild is given as `<bucket>/<key>` or
/// `arn:aws:s3:::<bucket>/<key>` (an S3 source's `location`); `None` without a bucket or a key.
pub fn object_location(location: &str) -> Option<(&str, &str)> {
    let bare = location.strip_prefix("arn:aws:s3:::").unwrap_or(location);
    let (bucket, key) = bare.split_once('/')?;
    (!bucket.is_empty() && !key.is_empty()).then_some((bucket, key))
}

/// The ARN of the object `key` of `bucket`, as IAM policies and CodeBuild's records name it.
pub fn object_arn(bucket: &str, key: &str) -> String {
    format!("arn:aws:s3:::{bucket}/{key}")
}

#[cfg(test)]
mod tests;
