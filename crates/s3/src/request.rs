//! Which S3 operation an HTTP request is, path-style (`/bucket/key`), from its method, raw path
//! and raw query (and its `x-amz-copy-source` header, the one header that changes the
//! operation): pure, so the edge only does the I/O. Also the copy headers' forms.
//!
//! Query keys S3 knows for operations we do not serve (`?acl`, `?tagging`, `?versioning`, …)
//! are refused with `NotImplemented` rather than read as the plain operation, so that a client
//! asking for a bucket's versioning is never answered with a listing.

use std::borrow::Cow;

use awsapi::ApiError;

/// The most parts one multipart upload has, and so the largest part number.
pub const MAX_PART_NUMBER: u32 = 10_000;

/// The most keys (uploads, parts) one page of a listing holds, and the default page size.
pub const MAX_PAGE: u32 = 1000;

/// One S3 operation with its parsed inputs. Bucket names are not checked here
/// (`bucket::check_name` does), nor keys (`object::check_key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// `GET /`.
    ListBuckets,
    /// `PUT /bucket`.
    CreateBucket { bucket: String },
    /// `HEAD /bucket`.
    HeadBucket { bucket: String },
    /// `DELETE /bucket`.
    DeleteBucket { bucket: String },
    /// `GET /bucket?location`.
    GetBucketLocation { bucket: String },
    /// `GET /bucket`.
    ListObjects { bucket: String, params: ListObjectsParams },
    /// `GET /bucket?list-type=2`.
    ListObjectsV2 { bucket: String, params: ListObjectsV2Params },
    /// `GET /bucket?uploads`.
    ListMultipartUploads { bucket: String, params: ListMultipartUploadsParams },
    /// `POST /bucket?delete`.
    DeleteObjects { bucket: String },
    /// `PUT /bucket/key`.
    PutObject { bucket: String, key: String },
    /// `PUT /bucket/key` with `x-amz-copy-source`.
    CopyObject { bucket: String, key: String, source: CopySource },
    /// `GET /bucket/key`.
    GetObject {
        bucket: String,
        key: String,
        part_number: Option<u32>,
        overrides: ResponseOverrides,
    },
    /// `HEAD /bucket/key`.
    HeadObject {
        bucket: String,
        key: String,
        part_number: Option<u32>,
        overrides: ResponseOverrides,
    },
    /// `DELETE /bucket/key`.
    DeleteObject { bucket: String, key: String },
    /// `POST /bucket/key?uploads`.
    CreateMultipartUpload { bucket: String, key: String },
    /// `PUT /bucket/key?partNumber=N&uploadId=U`.
    UploadPart { bucket: String, key: String, upload_id: String, part_number: u32 },
    /// `PUT /bucket/key?partNumber=N&uploadId=U` with `x-amz-copy-source`.
    UploadPartCopy {
        bucket: String,
        key: String,
        upload_id: String,
        part_number: u32,
        source: CopySource,
    },
    /// `POST /bucket/key?uploadId=U`.
    CompleteMultipartUpload { bucket: String, key: String, upload_id: String },
    /// `DELETE /bucket/key?uploadId=U`.
    AbortMultipartUpload { bucket: String, key: String, upload_id: String },
    /// `GET /bucket/key?uploadId=U`.
    ListParts { bucket: String, key: String, upload_id: String, params: ListPartsParams },
}

/// ListObjects' (version 1) query parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListObjectsParams {
    pub prefix: Option<String>,
    pub delimiter: Option<String>,
    pub marker: Option<String>,
    /// As asked; [`page_size`] gives the page size S3 uses.
    pub max_keys: Option<u32>,
    /// `encoding-type=url`: keys, prefixes, markers and the delimiter come back URL-encoded.
    pub url_encoding: bool,
}

/// ListObjectsV2's query parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListObjectsV2Params {
    pub prefix: Option<String>,
    pub delimiter: Option<String>,
    /// The opaque token of the page before, as the client sent it back.
    pub continuation_token: Option<String>,
    pub start_after: Option<String>,
    /// As asked; [`page_size`] gives the page size S3 uses.
    pub max_keys: Option<u32>,
    /// `fetch-owner=true`: each object's owner is listed (ListObjectsV2 leaves it out otherwise).
    pub fetch_owner: bool,
    /// `encoding-type=url`: keys, prefixes, `StartAfter` and the delimiter come back URL-encoded.
    pub url_encoding: bool,
}

/// ListMultipartUploads' query parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListMultipartUploadsParams {
    pub prefix: Option<String>,
    pub delimiter: Option<String>,
    pub key_marker: Option<String>,
    pub upload_id_marker: Option<String>,
    /// As asked; [`page_size`] gives the page size S3 uses.
    pub max_uploads: Option<u32>,
    /// `encoding-type=url`: keys, prefixes, key markers and the delimiter come back URL-encoded.
    pub url_encoding: bool,
}

/// ListParts' query parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPartsParams {
    /// As asked; [`page_size`] gives the page size S3 uses.
    pub max_parts: Option<u32>,
    /// List the parts after this part number.
    pub part_number_marker: Option<u32>,
}

/// GetObject's and HeadObject's `response-*` parameters: headers of the answer the request
/// sets itself (S3 takes them only on signed requests, which the caller checks).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseOverrides {
    pub cache_control: Option<String>,
    pub content_disposition: Option<String>,
    pub content_encoding: Option<String>,
    pub content_language: Option<String>,
    pub content_type: Option<String>,
    pub expires: Option<String>,
}

impl ResponseOverrides {
    /// The headers to set on the answer, with their values, in place of the object's own.
    pub fn headers(&self) -> Vec<(&'static str, &str)> {
        [
            ("cache-control", &self.cache_control),
            ("content-disposition", &self.content_disposition),
            ("content-encoding", &self.content_encoding),
            ("content-language", &self.content_language),
            ("content-type", &self.content_type),
            ("expires", &self.expires),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value.as_deref()?)))
        .collect()
    }

    fn is_empty(&self) -> bool {
        self.headers().is_empty()
    }
}

/// The object an `x-amz-copy-source` header names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySource {
    pub bucket: String,
    pub key: String,
    /// `?versionId=…`; we keep one version of each object, so only `null` can match.
    pub version_id: Option<String>,
}

/// The page size a listing uses for `asked` (its `max-keys`, `max-uploads` or `max-parts`):
/// as asked, at most [`MAX_PAGE`], and [`MAX_PAGE`] when not asked.
pub fn page_size(asked: Option<u32>) -> u32 {
    asked.map_or(MAX_PAGE, |asked| asked.min(MAX_PAGE))
}

/// The operation of a request: its `method`, its raw (percent-encoded) `path` and raw `query`,
/// and its `x-amz-copy-source` header, which makes a `PUT` of an object a copy.
///
/// `MethodNotAllowed` (405) for a method the resource has no operation for, `NotImplemented`
/// (501) for a sub-resource we do not serve, `InvalidArgument` (400) for a bad number or
/// copy source, `InvalidURI` (400) for a path that is not UTF-8 once decoded.
pub fn classify(
    method: &str,
    path: &str,
    query: &str,
    copy_source_header: Option<&str>,
) -> Result<Operation, ApiError> {
    let query = Query::parse(query);
    let (bucket, key) = split_path(path)?;
    let Some(bucket) = bucket else {
        return match method {
            "GET" => Ok(Operation::ListBuckets),
            _ => Err(method_not_allowed()),
        };
    };
    match key {
        None => classify_bucket(method, bucket, &query),
        Some(key) => classify_object(method, bucket, key, &query, copy_source_header),
    }
}

fn classify_bucket(method: &str, bucket: String, query: &Query) -> Result<Operation, ApiError> {
    if let Some(name) = query.keys().find(|key| BUCKET_SUBRESOURCES.contains(key)) {
        return Err(not_implemented(name));
    }
    let operation = match method {
        "PUT" => Operation::CreateBucket { bucket },
        "HEAD" => Operation::HeadBucket { bucket },
        "DELETE" => Operation::DeleteBucket { bucket },
        "POST" if query.has("delete") => Operation::DeleteObjects { bucket },
        "GET" if query.has("location") => Operation::GetBucketLocation { bucket },
        "GET" if query.has("uploads") => {
            let params = ListMultipartUploadsParams {
                prefix: query.string("prefix"),
                delimiter: query.non_empty("delimiter"),
                key_marker: query.string("key-marker"),
                upload_id_marker: query.string("upload-id-marker"),
                max_uploads: query.count("max-uploads")?,
                url_encoding: query.url_encoding()?,
            };
            Operation::ListMultipartUploads { bucket, params }
        }
        "GET" => match query.get("list-type") {
            Some("2") => {
                let params = ListObjectsV2Params {
                    prefix: query.string("prefix"),
                    delimiter: query.non_empty("delimiter"),
                    continuation_token: query.string("continuation-token"),
                    start_after: query.string("start-after"),
                    max_keys: query.count("max-keys")?,
                    fetch_owner: query.boolean("fetch-owner")?,
                    url_encoding: query.url_encoding()?,
                };
                Operation::ListObjectsV2 { bucket, params }
            }
            None | Some("1") => {
                let params = ListObjectsParams {
                    prefix: query.string("prefix"),
                    delimiter: query.non_empty("delimiter"),
                    marker: query.string("marker"),
                    max_keys: query.count("max-keys")?,
                    url_encoding: query.url_encoding()?,
                };
                Operation::ListObjects { bucket, params }
            }
            Some(_) => {
                return Err(ApiError::client(
                    "InvalidArgument",
                    "Invalid List Type specified in Request",
                ));
            }
        },
        _ => return Err(method_not_allowed()),
    };
    Ok(operation)
}

fn classify_object(
    method: &str,
    bucket: String,
    key: String,
    query: &Query,
    copy_source_header: Option<&str>,
) -> Result<Operation, ApiError> {
    if let Some(name) = query.keys().find(|key| OBJECT_SUBRESOURCES.contains(key)) {
        return Err(not_implemented(name));
    }
    let upload_id = query.get("uploadId").map(str::to_owned);
    let operation = match (method, upload_id) {
        ("PUT", Some(upload_id)) => {
            let part_number = part_number(query.get("partNumber").unwrap_or(""))?;
            match copy_source_header {
                Some(header) => Operation::UploadPartCopy {
                    bucket,
                    key,
                    upload_id,
                    part_number,
                    source: copy_source(header)?,
                },
                None => Operation::UploadPart { bucket, key, upload_id, part_number },
            }
        }
        ("PUT", None) => {
            if query.has("partNumber") {
                return Err(ApiError::client(
                    "InvalidArgument",
                    "A part number needs an uploadId: the upload it is a part of",
                ));
            }
            match copy_source_header {
                Some(header) => Operation::CopyObject { bucket, key, source: copy_source(header)? },
                None => Operation::PutObject { bucket, key },
            }
        }
        ("GET", Some(upload_id)) => {
            let params = ListPartsParams {
                max_parts: query.count("max-parts")?,
                part_number_marker: query.count("part-number-marker")?,
            };
            Operation::ListParts { bucket, key, upload_id, params }
        }
        ("POST", Some(upload_id)) => Operation::CompleteMultipartUpload { bucket, key, upload_id },
        ("DELETE", Some(upload_id)) => Operation::AbortMultipartUpload { bucket, key, upload_id },
        ("POST", None) if query.has("uploads") => Operation::CreateMultipartUpload { bucket, key },
        ("GET" | "HEAD", None) => {
            let part_number = query.get("partNumber").map(part_number).transpose()?;
            let overrides = ResponseOverrides {
                cache_control: query.string("response-cache-control"),
                content_disposition: query.string("response-content-disposition"),
                content_encoding: query.string("response-content-encoding"),
                content_language: query.string("response-content-language"),
                content_type: query.string("response-content-type"),
                expires: query.string("response-expires"),
            };
            if method == "GET" {
                Operation::GetObject { bucket, key, part_number, overrides }
            } else {
                Operation::HeadObject { bucket, key, part_number, overrides }
            }
        }
        ("DELETE", None) => Operation::DeleteObject { bucket, key },
        _ => return Err(method_not_allowed()),
    };
    Ok(operation)
}

impl Operation {
    /// The operation's name in botocore's model (`PutObject`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Operation::ListBuckets => "ListBuckets",
            Operation::CreateBucket { .. } => "CreateBucket",
            Operation::HeadBucket { .. } => "HeadBucket",
            Operation::DeleteBucket { .. } => "DeleteBucket",
            Operation::GetBucketLocation { .. } => "GetBucketLocation",
            Operation::ListObjects { .. } => "ListObjects",
            Operation::ListObjectsV2 { .. } => "ListObjectsV2",
            Operation::ListMultipartUploads { .. } => "ListMultipartUploads",
            Operation::DeleteObjects { .. } => "DeleteObjects",
            Operation::PutObject { .. } => "PutObject",
            Operation::CopyObject { .. } => "CopyObject",
            Operation::GetObject { .. } => "GetObject",
            Operation::HeadObject { .. } => "HeadObject",
            Operation::DeleteObject { .. } => "DeleteObject",
            Operation::CreateMultipartUpload { .. } => "CreateMultipartUpload",
            Operation::UploadPart { .. } => "UploadPart",
            Operation::UploadPartCopy { .. } => "UploadPartCopy",
            Operation::CompleteMultipartUpload { .. } => "CompleteMultipartUpload",
            Operation::AbortMultipartUpload { .. } => "AbortMultipartUpload",
            Operation::ListParts { .. } => "ListParts",
        }
    }

    /// The IAM action that authorizes the operation, as the Service Authorization Reference
    /// for S3 lists it. A copy also needs `s3:GetObject` on its source, which the caller checks.
    pub fn action(&self) -> &'static str {
        match self {
            Operation::ListBuckets => "s3:ListAllMyBuckets",
            Operation::CreateBucket { .. } => "s3:CreateBucket",
            Operation::HeadBucket { .. }
            | Operation::ListObjects { .. }
            | Operation::ListObjectsV2 { .. } => "s3:ListBucket",
            Operation::DeleteBucket { .. } => "s3:DeleteBucket",
            Operation::GetBucketLocation { .. } => "s3:GetBucketLocation",
            Operation::ListMultipartUploads { .. } => "s3:ListBucketMultipartUploads",
            Operation::DeleteObjects { .. } | Operation::DeleteObject { .. } => "s3:DeleteObject",
            Operation::PutObject { .. }
            | Operation::CopyObject { .. }
            | Operation::CreateMultipartUpload { .. }
            | Operation::UploadPart { .. }
            | Operation::UploadPartCopy { .. }
            | Operation::CompleteMultipartUpload { .. } => "s3:PutObject",
            Operation::GetObject { .. } | Operation::HeadObject { .. } => "s3:GetObject",
            Operation::AbortMultipartUpload { .. } => "s3:AbortMultipartUpload",
            Operation::ListParts { .. } => "s3:ListMultipartUploadParts",
        }
    }

    /// The bucket the operation is on (`None` for ListBuckets).
    pub fn bucket(&self) -> Option<&str> {
        match self {
            Operation::ListBuckets => None,
            Operation::CreateBucket { bucket }
            | Operation::HeadBucket { bucket }
            | Operation::DeleteBucket { bucket }
            | Operation::GetBucketLocation { bucket }
            | Operation::ListObjects { bucket, .. }
            | Operation::ListObjectsV2 { bucket, .. }
            | Operation::ListMultipartUploads { bucket, .. }
            | Operation::DeleteObjects { bucket }
            | Operation::PutObject { bucket, .. }
            | Operation::CopyObject { bucket, .. }
            | Operation::GetObject { bucket, .. }
            | Operation::HeadObject { bucket, .. }
            | Operation::DeleteObject { bucket, .. }
            | Operation::CreateMultipartUpload { bucket, .. }
            | Operation::UploadPart { bucket, .. }
            | Operation::UploadPartCopy { bucket, .. }
            | Operation::CompleteMultipartUpload { bucket, .. }
            | Operation::AbortMultipartUpload { bucket, .. }
            | Operation::ListParts { bucket, .. } => Some(bucket),
        }
    }

    /// The object key the operation is on (`None` for the bucket operations; DeleteObjects'
    /// keys are in its body).
    pub fn key(&self) -> Option<&str> {
        match self {
            Operation::ListBuckets
            | Operation::CreateBucket { .. }
            | Operation::HeadBucket { .. }
            | Operation::DeleteBucket { .. }
            | Operation::GetBucketLocation { .. }
            | Operation::ListObjects { .. }
            | Operation::ListObjectsV2 { .. }
            | Operation::ListMultipartUploads { .. }
            | Operation::DeleteObjects { .. } => None,
            Operation::PutObject { key, .. }
            | Operation::CopyObject { key, .. }
            | Operation::GetObject { key, .. }
            | Operation::HeadObject { key, .. }
            | Operation::DeleteObject { key, .. }
            | Operation::CreateMultipartUpload { key, .. }
            | Operation::UploadPart { key, .. }
            | Operation::UploadPartCopy { key, .. }
            | Operation::CompleteMultipartUpload { key, .. }
            | Operation::AbortMultipartUpload { key, .. }
            | Operation::ListParts { key, .. } => Some(key),
        }
    }

    /// Whether GetObject or HeadObject sets headers of its answer (`response-*`).
    pub fn has_overrides(&self) -> bool {
        match self {
            Operation::GetObject { overrides, .. } | Operation::HeadObject { overrides, .. } => {
                !overrides.is_empty()
            }
            _ => false,
        }
    }
}

/// The object an `x-amz-copy-source` header names: `bucket/key` or `/bucket/key`, URL-encoded,
/// with an optional `?versionId=…`. `InvalidArgument` when the bucket or the key is missing.
pub fn copy_source(header: &str) -> Result<CopySource, ApiError> {
    let invalid = || {
        ApiError::client(
            "InvalidArgument",
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
        )
    };
    let (path, version_id) = match header.split_once('?') {
        Some((path, query)) => {
            let version_id = form_urlencoded::parse(query.as_bytes())
                .find(|(name, _)| name == "versionId")
                .map(|(_, value)| value.into_owned());
            (path, version_id)
        }
        None => (header, None),
    };
    let path = decode(path)?;
    let path = path.strip_prefix('/').unwrap_or(&path);
    let (bucket, key) = path.split_once('/').ok_or_else(invalid)?;
    if bucket.is_empty() || key.is_empty() {
        return Err(invalid());
    }
    Ok(CopySource { bucket: bucket.to_owned(), key: key.to_owned(), version_id })
}

/// The bytes an `x-amz-copy-source-range` header (`bytes=first-last`) names of a source of
/// `size` bytes, inclusive. `InvalidArgument` when it is not of that form or not within the
/// source.
pub fn copy_source_range(header: &str, size: u64) -> Result<(u64, u64), ApiError> {
    let range = header.trim().strip_prefix("bytes=").and_then(|range| {
        let (first, last) = range.split_once('-')?;
        let first = parse_digits(first)?;
        let last = parse_digits(last)?;
        (first <= last).then_some((first, last))
    });
    let Some((first, last)) = range else {
        return Err(ApiError::client(
            "InvalidArgument",
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first \
             and last are the zero-based offsets of the first and last bytes to copy",
        ));
    };
    if last >= size {
        return Err(ApiError::client(
            "InvalidArgument",
            format!("Range specified is not valid for source object of size: {size}"),
        ));
    }
    Ok((first, last))
}

/// Query keys of bucket operations we do not serve.
const BUCKET_SUBRESOURCES: &[&str] = &[
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "encryption",
    "intelligent-tiering",
    "inventory",
    "lifecycle",
    "logging",
    "metadataConfiguration",
    "metadataTable",
    "metrics",
    "notification",
    "object-lock",
    "ownershipControls",
    "policy",
    "policyStatus",
    "publicAccessBlock",
    "replication",
    "requestPayment",
    "session",
    "tagging",
    "versioning",
    "versions",
    "website",
];

/// Query keys of object operations we do not serve.
const OBJECT_SUBRESOURCES: &[&str] = &[
    "acl",
    "attributes",
    "legal-hold",
    "renameObject",
    "restore",
    "retention",
    "select",
    "tagging",
    "torrent",
];

/// The path's bucket and key, each percent-decoded once; `/` is no bucket, `/bucket` and
/// `/bucket/` no key.
fn split_path(path: &str) -> Result<(Option<String>, Option<String>), ApiError> {
    let path = path.strip_prefix('/').unwrap_or(path);
    let (bucket, key) = match path.split_once('/') {
        Some((bucket, key)) => (bucket, key),
        None => (path, ""),
    };
    if bucket.is_empty() {
        return Ok((None, None));
    }
    let key = if key.is_empty() { None } else { Some(decode(key)?) };
    Ok((Some(decode(bucket)?), key))
}

/// `text` percent-decoded once; `InvalidURI` when that is not UTF-8.
fn decode(text: &str) -> Result<String, ApiError> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(Cow::into_owned)
        .map_err(|_| ApiError::client("InvalidURI", "Couldn't parse the specified URI."))
}

/// A part number: 1 to [`MAX_PART_NUMBER`].
fn part_number(text: &str) -> Result<u32, ApiError> {
    parse_digits(text)
        .and_then(|number| u32::try_from(number).ok())
        .filter(|number| (1..=MAX_PART_NUMBER).contains(number))
        .ok_or_else(|| {
            ApiError::client(
                "InvalidArgument",
                "Part number must be an integer between 1 and 10000, inclusive",
            )
        })
}

/// Decimal digits only (no sign, no spaces) as a number.
fn parse_digits(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn method_not_allowed() -> ApiError {
    ApiError::client(
        "MethodNotAllowed",
        "The specified method is not allowed against this resource.",
    )
}

fn not_implemented(subresource: &str) -> ApiError {
    ApiError::client(
        "NotImplemented",
        format!(
            "A header or query you provided implies functionality that is not implemented: {subresource}"
        ),
    )
}

/// A query string's parameters, decoded; a key without `=` has the value `""`.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(query: &str) -> Query {
        Query(form_urlencoded::parse(query.as_bytes()).into_owned().collect())
    }

    fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(key, _)| key.as_str())
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(name, _)| name == key).map(|(_, value)| value.as_str())
    }

    fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    fn string(&self, key: &str) -> Option<String> {
        self.get(key).map(str::to_owned)
    }

    /// A value that means nothing when empty (an empty delimiter groups nothing, and S3
    /// leaves it out of the answer).
    fn non_empty(&self, key: &str) -> Option<String> {
        self.get(key).filter(|value| !value.is_empty()).map(str::to_owned)
    }

    /// A count (`max-keys`, `part-number-marker`, …): a non-negative 32-bit integer.
    fn count(&self, key: &str) -> Result<Option<u32>, ApiError> {
        let Some(text) = self.get(key) else { return Ok(None) };
        parse_digits(text)
            .and_then(|number| u32::try_from(number).ok())
            .filter(|number| i32::try_from(*number).is_ok())
            .map(Some)
            .ok_or_else(|| {
                ApiError::client(
                    "InvalidArgument",
                    format!("Provided {key} not an integer or within integer range"),
                )
            })
    }

    fn boolean(&self, key: &str) -> Result<bool, ApiError> {
        match self.get(key) {
            None => Ok(false),
            Some(text) if text.eq_ignore_ascii_case("true") => Ok(true),
            Some(text) if text.eq_ignore_ascii_case("false") => Ok(false),
            Some(_) => Err(ApiError::client("InvalidArgument", format!("Invalid {key} value"))),
        }
    }

    /// `encoding-type`: `url` or nothing.
    fn url_encoding(&self) -> Result<bool, ApiError> {
        match self.get("encoding-type") {
            None => Ok(false),
            Some("url") => Ok(true),
            Some(_) => Err(ApiError::client(
                "InvalidArgument",
                "Invalid Encoding Method specified in Request",
            )),
        }
    }
}

#[cfg(test)]
mod tests;
