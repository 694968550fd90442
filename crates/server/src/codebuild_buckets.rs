//! The server's S3 buckets as CodeBuild reads and writes them: `codebuild::Buckets` over the
//! `s3` crate's object operations, so that a build's source is the object a user put and its
//! artifacts are real objects (listed by `aws s3 ls`, with S3's ETags).

use std::path::Path;

use awsapi::ApiError;
use codebuild::buckets::{BucketError, BucketFuture, Buckets, ObjectBody, ObjectInfo};
use futures::{StreamExt, TryStreamExt};
use s3::objects::{self, Attributes, Chunk, PutObject, Read};
use tokio::io::AsyncReadExt;

/// How much of a file goes into one chunk of a PutObject body.
const CHUNK: usize = 256 * 1024;

/// The S3 buckets of the server: the S3 API's context over its state.
pub(crate) struct ServedBuckets {
    pub(crate) s3: s3::Context,
}

/// An S3 error as CodeBuild sees it: the bucket or the object missing, or a failure.
fn bucket_error(err: ApiError, bucket: &str, key: &str) -> BucketError {
    match err.code.as_str() {
        "NoSuchBucket" => BucketError::NoSuchBucket(bucket.to_owned()),
        "NoSuchKey" => BucketError::NoSuchKey { bucket: bucket.to_owned(), key: key.to_owned() },
        _ => BucketError::Failed(format!("s3://{bucket}/{key}: {}", err.message)),
    }
}

fn info(object: &objects::Object) -> ObjectInfo {
    ObjectInfo { size: object.size, etag: object.etag.clone() }
}

impl Buckets for ServedBuckets {
    fn bucket_exists<'a>(&'a self, bucket: &'a str) -> BucketFuture<'a, bool> {
        Box::pin(async move {
            match s3::buckets::head_bucket(&self.s3, bucket).await {
                Ok(_) => Ok(true),
                Err(err) if err.code == "NoSuchBucket" => Ok(false),
                Err(err) => Err(BucketError::Failed(format!("bucket {bucket}: {}", err.message))),
            }
        })
    }

    fn head_object<'a>(&'a self, bucket: &'a str, key: &'a str) -> BucketFuture<'a, ObjectInfo> {
        Box::pin(async move {
            let answer = objects::head_object(&self.s3, bucket, key, &Read::default()).await;
            answer.map(|it| info(&it.object)).map_err(|err| bucket_error(err, bucket, key))
        })
    }

    fn read_object<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
    ) -> BucketFuture<'a, (ObjectInfo, ObjectBody)> {
        Box::pin(async move {
            let answer = objects::get_object(&self.s3, bucket, key, &Read::default())
                .await
                .map_err(|err| bucket_error(err, bucket, key))?;
            let (bucket_name, key_name) = (bucket.to_owned(), key.to_owned());
            let body: ObjectBody = match answer.body {
                Some(body) => {
                    body.map_err(move |err| bucket_error(err, &bucket_name, &key_name)).boxed()
                }
                None => futures::stream::empty().boxed(),
            };
            Ok((info(&answer.object), body))
        })
    }

    fn list_keys<'a>(&'a self, bucket: &'a str, prefix: &'a str) -> BucketFuture<'a, Vec<String>> {
        Box::pin(async move {
            let input = objects::ListInput {
                prefix: prefix.to_owned(),
                delimiter: None,
                after: None,
                max_keys: objects::MAX_KEYS,
            };
            let listing = objects::list_objects(&self.s3, bucket, &input)
                .await
                .map_err(|err| bucket_error(err, bucket, prefix))?;
            Ok(listing.objects.into_iter().map(|it| it.key).collect())
        })
    }

    fn write_object<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
        from: &'a Path,
        content_type: &'a str,
    ) -> BucketFuture<'a, ObjectInfo> {
        Box::pin(async move {
            let file = tokio::fs::File::open(from)
                .await
                .map_err(|err| BucketError::Failed(format!("{}: {err}", from.display())))?;
            // The file, read a chunk at a time, as the body of a PutObject.
            let body = futures::stream::try_unfold(file, |mut file| async move {
                let mut buffer = vec![0; CHUNK];
                let read = file.read(&mut buffer).await.map_err(ApiError::internal)?;
                if read == 0 {
                    return Ok(None);
                }
                buffer.truncate(read);
                Ok(Some((Chunk::Data(buffer.into()), file)))
            });
            let input = PutObject {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                attributes: Attributes {
                    content_type: Some(content_type.to_owned()),
                    ..Attributes::default()
                },
                checks: Default::default(),
                if_none_match: None,
                if_match: None,
            };
            let now = engine::clock::now_ms();
            let object = objects::put_object(&self.s3, input, Box::pin(body), now)
                .await
                .map_err(|err| bucket_error(err, bucket, key))?;
            Ok(info(&object))
        })
    }
}

#[cfg(test)]
mod tests;
