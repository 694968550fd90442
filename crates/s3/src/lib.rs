//! S3: the S3 API over the blob store (issue 11), built here piece by piece. So far the rules
//! every operation shares, pure and tested against S3's documented behaviour:
//!
//! - [`bucket`]: which bucket names S3 takes (`InvalidBucketName` otherwise).
//! - [`buckets`]: the bucket operations over the store (CreateBucket, HeadBucket,
//!   GetBucketLocation, DeleteBucket, ListBuckets), typed; the edge's XML comes next.
//! - [`object`]: object keys, ETags as S3 computes them (the MD5 of the body; for a multipart
//!   upload the MD5 of its parts' MD5s with `-N`), the `Range` header, and the conditional
//!   headers (`If-Match`, `If-None-Match`, `If-Modified-Since`, `If-Unmodified-Since`).
//!
//! SigV4 as S3 signs (signed headers, presigned URLs, aws-chunked bodies) is in
//! `awsapi::sigv4::s3` and `awsapi::sigv4::chunked`; S3's XML errors in `awsapi::query`.
//!
//! **Boundary:** this crate depends on `awsapi` and `engine` only; like every service crate,
//! never on the HTTP edge.

use engine::blob::BlobStore;
use engine::store::Store;

pub mod bucket;
pub mod buckets;
pub mod checksum;
pub mod multipart;
pub mod object;
pub mod objects;
pub mod request;
pub mod xml;

/// What the S3 operations work with.
#[derive(Clone)]
pub struct Context {
    pub store: Store,
    /// Where objects' bytes are kept, under `s3/<bucket>/`.
    pub blobs: BlobStore,
    /// The region this server serves (S3's location constraint is checked against it).
    pub region: String,
}
