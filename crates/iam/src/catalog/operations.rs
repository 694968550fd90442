//! The API operations whose IAM action is neither the action of their own name nor one the
//! Service Authorization Reference's data documents with that operation: a small table, each
//! entry with the place AWS documents it.
//!
//! Most operations need no entry: `StartBuild` is `codebuild:StartBuild`, and the reference
//! documents `s3:ListBucket` with `ListObjectsV2`, `s3:ListMultipartUploadParts` with
//! `ListParts` and `s3:ListAllMyBuckets` with `ListBuckets` (the `documented_operation` of
//! `crates/iam/data/service-authorization.json`). The S3 entries below come from the
//! "Permissions" section of each operation's page of the Amazon S3 API Reference (the same
//! text is the operation's documentation in botocore's `s3` model), and from the Amazon S3
//! User Guide's "Required permissions for Amazon S3 API operations" and "Multipart upload API
//! and permissions"; all name actions of "Actions, resources, and condition keys for Amazon
//! S3" in the Service Authorization Reference. An operation that needs more than one action
//! (CopyObject also reads its source) maps to the action on the resource the request names;
//! the caller checks the other.

/// One operation and the action it is authorized as.
pub(super) struct Exception {
    /// The service's IAM prefix.
    pub(super) service: &'static str,
    /// The operation's name as the SDKs send it (or, for git, the git service).
    pub(super) operation: &'static str,
    /// The action's name, without the prefix.
    pub(super) action: &'static str,
}

const fn exception(
    service: &'static str,
    operation: &'static str,
    action: &'static str,
) -> Exception {
    Exception { service, operation, action }
}

pub(super) const EXCEPTIONS: &[Exception] = &[
    // HeadObject, "Permissions": "To use HEAD, you must have the s3:GetObject permission."
    exception("s3", "HeadObject", "GetObject"),
    // HeadBucket, "Permissions": the s3:ListBucket permission.
    exception("s3", "HeadBucket", "ListBucket"),
    // ListObjects (version 1) is authorized like ListObjectsV2: s3:ListBucket ("Grants
    // permission to list some or all of the objects in an Amazon S3 bucket").
    exception("s3", "ListObjects", "ListBucket"),
    // "Multipart upload API and permissions": creating a multipart upload, uploading its
    // parts (UploadPart, UploadPartCopy) and completing it need s3:PutObject on the object.
    exception("s3", "CreateMultipartUpload", "PutObject"),
    exception("s3", "UploadPart", "PutObject"),
    exception("s3", "UploadPartCopy", "PutObject"),
    exception("s3", "CompleteMultipartUpload", "PutObject"),
    // CopyObject, "Permissions": s3:PutObject on the target (and s3:GetObject on the source).
    exception("s3", "CopyObject", "PutObject"),
    // DeleteObjects, "Permissions": s3:DeleteObject for each key (s3:DeleteObjectVersion for
    // a version).
    exception("s3", "DeleteObjects", "DeleteObject"),
    // SelectObjectContent, "Permissions": s3:GetObject.
    exception("s3", "SelectObjectContent", "GetObject"),
    // The Delete… operations of a bucket's subresources need the permission that puts it:
    // DeleteBucketCors s3:PutBucketCORS, DeleteBucketEncryption
    // s3:PutEncryptionConfiguration, DeleteBucketLifecycle s3:PutLifecycleConfiguration,
    // DeleteBucketReplication s3:PutReplicationConfiguration, DeleteBucketTagging
    // s3:PutBucketTagging, DeletePublicAccessBlock s3:PutBucketPublicAccessBlock,
    // DeleteBucketOwnershipControls s3:PutBucketOwnershipControls, and the analytics,
    // inventory and metrics configurations theirs (each page's "Permissions").
    exception("s3", "DeleteBucketCors", "PutBucketCORS"),
    exception("s3", "DeleteBucketEncryption", "PutEncryptionConfiguration"),
    exception("s3", "DeleteBucketLifecycle", "PutLifecycleConfiguration"),
    exception("s3", "DeleteBucketReplication", "PutReplicationConfiguration"),
    exception("s3", "DeleteBucketTagging", "PutBucketTagging"),
    exception("s3", "DeletePublicAccessBlock", "PutBucketPublicAccessBlock"),
    exception("s3", "DeleteBucketOwnershipControls", "PutBucketOwnershipControls"),
    exception("s3", "DeleteBucketAnalyticsConfiguration", "PutAnalyticsConfiguration"),
    exception("s3", "DeleteBucketInventoryConfiguration", "PutInventoryConfiguration"),
    exception("s3", "DeleteBucketMetricsConfiguration", "PutMetricsConfiguration"),
    // GetBucketLifecycle and PutBucketLifecycle (the deprecated forms), "Permissions":
    // s3:GetLifecycleConfiguration and s3:PutLifecycleConfiguration.
    exception("s3", "GetBucketLifecycle", "GetLifecycleConfiguration"),
    exception("s3", "PutBucketLifecycle", "PutLifecycleConfiguration"),
    // The List… operations of those configurations need the permission that gets one.
    exception("s3", "ListBucketAnalyticsConfigurations", "GetAnalyticsConfiguration"),
    exception("s3", "ListBucketInventoryConfigurations", "GetInventoryConfiguration"),
    exception("s3", "ListBucketMetricsConfigurations", "GetMetricsConfiguration"),
    // GetBucketNotificationConfiguration and PutBucketNotificationConfiguration, "Permissions":
    // s3:GetBucketNotification and s3:PutBucketNotification.
    exception("s3", "GetBucketNotificationConfiguration", "GetBucketNotification"),
    exception("s3", "PutBucketNotificationConfiguration", "PutBucketNotification"),
    // Git over HTTPS or SSH is authorized as codecommit:GitPull (git-upload-pack: clone,
    // fetch, pull) and codecommit:GitPush (git-receive-pack: push): the AWS CodeCommit User
    // Guide's "CodeCommit permissions reference", "Required permissions for Git client
    // commands", and the reference's GitPull and GitPush rows.
    exception("codecommit", "git-upload-pack", "GitPull"),
    exception("codecommit", "git-receive-pack", "GitPush"),
];
