//! S3's XML bodies: the three request bodies S3 reads (CreateBucketConfiguration, Delete,
//! CompleteMultipartUpload) parsed into typed values, the answers written from typed values as
//! S3 sends them (declaration, then a root element in S3's namespace), and the HTTP status of
//! each error code S3 answers with.
//!
//! Writers are plain functions over plain structs the caller fills; element names and order
//! follow S3's answers and botocore's model. Dates are ISO 8601 with milliseconds
//! (`2026-12-03T18:00:00.000Z`), ETags are written as given (already quoted).

use awsapi::ApiError;
use quick_xml::NsReader;
use quick_xml::escape::escape;
use quick_xml::events::Event;
use quick_xml::name::{Namespace, ResolveResult};

use crate::buckets::Bucket;
use crate::request::{
    ListMultipartUploadsParams, ListObjectsParams, ListObjectsV2Params, ListPartsParams, page_size,
};

/// S3's XML namespace (API version 2006-03-01).
pub const NAMESPACE: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// The most objects one DeleteObjects request names.
pub const MAX_DELETE_OBJECTS: usize = 1000;

/// The storage class of everything we store.
const STANDARD: &str = "STANDARD";

// ---------------------------------------------------------------------------------------------
// Request bodies.

/// One object a DeleteObjects request names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectIdentifier {
    pub key: String,
    pub version_id: Option<String>,
}

/// A DeleteObjects request's body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteObjects {
    /// Answer only the objects that could not be deleted.
    pub quiet: bool,
    pub objects: Vec<ObjectIdentifier>,
}

/// One part a CompleteMultipartUpload request lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompletedPart {
    pub part_number: u32,
    /// As the client sent it (normally quoted, as UploadPart answered it).
    pub etag: String,
    pub checksum_crc32: Option<String>,
    pub checksum_crc32c: Option<String>,
    pub checksum_sha1: Option<String>,
    pub checksum_sha256: Option<String>,
}

/// CreateBucket's body: its `LocationConstraint`, if any (an empty body has none).
pub fn create_bucket_configuration(body: &[u8]) -> Result<Option<String>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let root = parse(body, "CreateBucketConfiguration")?;
    Ok(root
        .child("LocationConstraint")
        .map(|it| it.text.trim().to_owned())
        .filter(|it| !it.is_empty()))
}

/// DeleteObjects' body: `<Delete><Object><Key>…</Key></Object>…<Quiet>true</Quiet></Delete>`,
/// 1 to [`MAX_DELETE_OBJECTS`] objects.
pub fn delete_objects(body: &[u8]) -> Result<DeleteObjects, ApiError> {
    let root = parse(body, "Delete")?;
    let quiet = match root.child("Quiet") {
        None => false,
        Some(quiet) => boolean(&quiet.text)?,
    };
    let objects = root
        .children("Object")
        .map(|object| {
            Ok(ObjectIdentifier {
                key: object.child("Key").ok_or_else(malformed_xml)?.text.clone(),
                version_id: object.child("VersionId").map(|it| it.text.clone()),
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    if objects.is_empty() || objects.len() > MAX_DELETE_OBJECTS {
        return Err(malformed_xml());
    }
    Ok(DeleteObjects { quiet, objects })
}

/// CompleteMultipartUpload's body: `<CompleteMultipartUpload><Part><PartNumber>…</PartNumber>
/// <ETag>…</ETag></Part>…`, at least one part, in the order given (whether that is ascending
/// is the caller's `InvalidPartOrder` to find).
pub fn complete_multipart_upload(body: &[u8]) -> Result<Vec<CompletedPart>, ApiError> {
    let root = parse(body, "CompleteMultipartUpload")?;
    let optional =
        |part: &Element, name: &str| part.child(name).map(|it| it.text.trim().to_owned());
    let parts = root
        .children("Part")
        .map(|part| {
            let number = part.child("PartNumber").ok_or_else(malformed_xml)?;
            Ok(CompletedPart {
                part_number: number.text.trim().parse().map_err(|_| malformed_xml())?,
                etag: part.child("ETag").ok_or_else(malformed_xml)?.text.trim().to_owned(),
                checksum_crc32: optional(part, "ChecksumCRC32"),
                checksum_crc32c: optional(part, "ChecksumCRC32C"),
                checksum_sha1: optional(part, "ChecksumSHA1"),
                checksum_sha256: optional(part, "ChecksumSHA256"),
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    if parts.is_empty() {
        return Err(malformed_xml());
    }
    Ok(parts)
}

fn malformed_xml() -> ApiError {
    ApiError::client(
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

fn boolean(text: &str) -> Result<bool, ApiError> {
    match text.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(malformed_xml()),
    }
}

/// An element of a request body: its local name, its text (unescaped, untrimmed) and its
/// child elements.
#[derive(Debug, Default)]
struct Element {
    name: String,
    text: String,
    children: Vec<Element>,
}

impl Element {
    fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|child| child.name == name)
    }

    fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |child| child.name == name)
    }
}

/// How deep the elements of a request body nest at most (S3's nest three deep); deeper is
/// malformed, which also bounds the tree's recursive drop.
const MAX_DEPTH: usize = 8;

/// The body as a tree whose root is `root`; `MalformedXML` when it is not well-formed, has
/// another root, or has an element in a namespace other than S3's (none is S3's too).
fn parse(body: &[u8], root: &str) -> Result<Element, ApiError> {
    let text = std::str::from_utf8(body).map_err(|_| malformed_xml())?;
    let mut reader = NsReader::from_str(text);
    let mut open: Vec<Element> = Vec::new();
    let mut done: Option<Element> = None;
    loop {
        let (namespace, event) = reader.read_resolved_event().map_err(|_| malformed_xml())?;
        let in_namespace = match namespace {
            ResolveResult::Unbound => true,
            ResolveResult::Bound(Namespace(namespace)) => namespace == NAMESPACE,
            ResolveResult::Unknown(_) => false,
        };
        match event {
            Event::Start(ref start) | Event::Empty(ref start) if in_namespace && done.is_none() => {
                let name = start.local_name().as_ref().to_owned();
                if open.is_empty() && name != root {
                    return Err(malformed_xml());
                }
                if open.len() == MAX_DEPTH {
                    return Err(malformed_xml());
                }
                open.push(Element { name, ..Element::default() });
                if matches!(event, Event::Empty(_)) {
                    close(&mut open, &mut done);
                }
            }
            Event::Start(_) | Event::Empty(_) => return Err(malformed_xml()),
            Event::End(_) => close(&mut open, &mut done),
            Event::Text(text) => push_text(&mut open, &text.xml10_content())?,
            Event::CData(data) => push_text(&mut open, &data.xml10_content())?,
            Event::GeneralRef(reference) => {
                let character = match reference.resolve_char_ref() {
                    Ok(Some(character)) => character.to_string(),
                    Ok(None) => quick_xml::escape::resolve_predefined_entity(&reference)
                        .ok_or_else(malformed_xml)?
                        .to_owned(),
                    Err(_) => return Err(malformed_xml()),
                };
                push_text(&mut open, &character)?;
            }
            Event::DocType(_) => return Err(malformed_xml()),
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    match done {
        Some(root) if open.is_empty() => Ok(root),
        _ => Err(malformed_xml()),
    }
}

/// Closes the innermost open element: into its parent, or as the finished root.
fn close(open: &mut Vec<Element>, done: &mut Option<Element>) {
    if let Some(element) = open.pop() {
        match open.last_mut() {
            Some(parent) => parent.children.push(element),
            None => *done = Some(element),
        }
    }
}

/// Text inside the open element; outside the root only whitespace is allowed.
fn push_text(open: &mut [Element], text: &str) -> Result<(), ApiError> {
    match open.last_mut() {
        Some(element) => element.text.push_str(text),
        None if text.trim().is_empty() => {}
        None => return Err(malformed_xml()),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Answers.

/// A bucket's owner, or an object's, or an upload's initiator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub id: String,
    pub display_name: String,
}

/// An object as the listings list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEntry {
    pub key: String,
    /// Milliseconds since the epoch.
    pub last_modified_ms: i64,
    /// Quoted, as S3 writes it.
    pub etag: String,
    pub size: u64,
}

/// One page of ListObjects or ListObjectsV2.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectPage {
    pub objects: Vec<ObjectEntry>,
    /// The prefixes up to the delimiter that the page rolled up, each once.
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    /// Where the next page starts: ListObjects' `NextMarker` (written only with a delimiter,
    /// as S3 does; without one, clients go on from the last key), ListObjectsV2's opaque
    /// `NextContinuationToken`. `None` on the last page.
    pub next: Option<String>,
}

/// A multipart upload as ListMultipartUploads lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadEntry {
    pub key: String,
    pub upload_id: String,
    /// Milliseconds since the epoch.
    pub initiated_ms: i64,
}

/// One page of ListMultipartUploads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadPage {
    pub uploads: Vec<UploadEntry>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    /// Where the next page starts, when truncated.
    pub next_key_marker: Option<String>,
    pub next_upload_id_marker: Option<String>,
}

/// A part as ListParts lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartEntry {
    pub part_number: u32,
    /// Milliseconds since the epoch.
    pub last_modified_ms: i64,
    /// Quoted, as S3 writes it.
    pub etag: String,
    pub size: u64,
}

/// One page of ListParts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartPage {
    pub parts: Vec<PartEntry>,
    pub is_truncated: bool,
    /// The last part number of the page, when truncated.
    pub next_part_number_marker: Option<u32>,
}

/// An object DeleteObjects could not delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteError {
    pub key: String,
    pub version_id: Option<String>,
    pub code: String,
    pub message: String,
}

/// ListBuckets' answer.
pub fn list_all_my_buckets_result(owner: &Owner, buckets: &[Bucket]) -> String {
    let mut xml = Xml::new("ListAllMyBucketsResult");
    xml.owner("Owner", owner);
    xml.open("Buckets");
    for bucket in buckets {
        xml.open("Bucket");
        xml.element("Name", &bucket.name);
        xml.element("CreationDate", &iso8601(bucket.creation_date_ms));
        xml.close("Bucket");
    }
    xml.close("Buckets");
    xml.finish("ListAllMyBucketsResult")
}

/// ListObjects' (version 1) answer for `params` on `bucket`; each object's owner is `owner`.
pub fn list_bucket_result(
    bucket: &str,
    params: &ListObjectsParams,
    page: &ObjectPage,
    owner: &Owner,
) -> String {
    let encode = |text: &str| key_text(text, params.url_encoding);
    let mut xml = Xml::new("ListBucketResult");
    xml.element("Name", bucket);
    xml.element("Prefix", &encode(params.prefix.as_deref().unwrap_or("")));
    xml.element("Marker", &encode(params.marker.as_deref().unwrap_or("")));
    if params.delimiter.is_some() {
        xml.optional("NextMarker", page.next.as_deref().map(encode).as_deref());
    }
    xml.element("MaxKeys", &page_size(params.max_keys).to_string());
    xml.optional("Delimiter", params.delimiter.as_deref().map(encode).as_deref());
    if params.url_encoding {
        xml.element("EncodingType", "url");
    }
    xml.element("IsTruncated", bool_text(page.is_truncated));
    xml.objects(page, Some(owner), params.url_encoding);
    xml.finish("ListBucketResult")
}

/// ListObjectsV2's answer for `params` on `bucket`; each object's owner is `owner`, listed only
/// with `fetch-owner=true`.
pub fn list_bucket_result_v2(
    bucket: &str,
    params: &ListObjectsV2Params,
    page: &ObjectPage,
    owner: &Owner,
) -> String {
    let encode = |text: &str| key_text(text, params.url_encoding);
    let mut xml = Xml::new("ListBucketResult");
    xml.element("Name", bucket);
    xml.element("Prefix", &encode(params.prefix.as_deref().unwrap_or("")));
    xml.optional("ContinuationToken", params.continuation_token.as_deref());
    xml.optional("NextContinuationToken", page.next.as_deref());
    xml.optional("StartAfter", params.start_after.as_deref().map(encode).as_deref());
    let key_count = page.objects.len() + page.common_prefixes.len();
    xml.element("KeyCount", &key_count.to_string());
    xml.element("MaxKeys", &page_size(params.max_keys).to_string());
    xml.optional("Delimiter", params.delimiter.as_deref().map(encode).as_deref());
    if params.url_encoding {
        xml.element("EncodingType", "url");
    }
    xml.element("IsTruncated", bool_text(page.is_truncated));
    xml.objects(page, params.fetch_owner.then_some(owner), params.url_encoding);
    xml.finish("ListBucketResult")
}

/// ListMultipartUploads' answer for `params` on `bucket`; each upload's initiator and owner is
/// `owner`.
pub fn list_multipart_uploads_result(
    bucket: &str,
    params: &ListMultipartUploadsParams,
    page: &UploadPage,
    owner: &Owner,
) -> String {
    let encode = |text: &str| key_text(text, params.url_encoding);
    let mut xml = Xml::new("ListMultipartUploadsResult");
    xml.element("Bucket", bucket);
    xml.element("KeyMarker", &encode(params.key_marker.as_deref().unwrap_or("")));
    xml.element("UploadIdMarker", params.upload_id_marker.as_deref().unwrap_or(""));
    xml.optional("NextKeyMarker", page.next_key_marker.as_deref().map(encode).as_deref());
    xml.optional("NextUploadIdMarker", page.next_upload_id_marker.as_deref());
    xml.optional("Delimiter", params.delimiter.as_deref().map(encode).as_deref());
    xml.element("Prefix", &encode(params.prefix.as_deref().unwrap_or("")));
    xml.element("MaxUploads", &page_size(params.max_uploads).to_string());
    if params.url_encoding {
        xml.element("EncodingType", "url");
    }
    xml.element("IsTruncated", bool_text(page.is_truncated));
    for upload in &page.uploads {
        xml.open("Upload");
        xml.element("Key", &encode(&upload.key));
        xml.element("UploadId", &upload.upload_id);
        xml.owner("Initiator", owner);
        xml.owner("Owner", owner);
        xml.element("StorageClass", STANDARD);
        xml.element("Initiated", &iso8601(upload.initiated_ms));
        xml.close("Upload");
    }
    xml.common_prefixes(&page.common_prefixes, params.url_encoding);
    xml.finish("ListMultipartUploadsResult")
}

/// ListParts' answer for `params` on upload `upload_id` of `key` in `bucket`; the upload's
/// initiator and owner is `owner`.
pub fn list_parts_result(
    bucket: &str,
    key: &str,
    upload_id: &str,
    params: &ListPartsParams,
    page: &PartPage,
    owner: &Owner,
) -> String {
    let mut xml = Xml::new("ListPartsResult");
    xml.element("Bucket", bucket);
    xml.element("Key", key);
    xml.element("UploadId", upload_id);
    xml.element("PartNumberMarker", &params.part_number_marker.unwrap_or(0).to_string());
    if let Some(next) = page.next_part_number_marker {
        xml.element("NextPartNumberMarker", &next.to_string());
    }
    xml.element("MaxParts", &page_size(params.max_parts).to_string());
    xml.element("IsTruncated", bool_text(page.is_truncated));
    for part in &page.parts {
        xml.open("Part");
        xml.element("PartNumber", &part.part_number.to_string());
        xml.element("LastModified", &iso8601(part.last_modified_ms));
        xml.element("ETag", &part.etag);
        xml.element("Size", &part.size.to_string());
        xml.close("Part");
    }
    xml.owner("Initiator", owner);
    xml.owner("Owner", owner);
    xml.element("StorageClass", STANDARD);
    xml.finish("ListPartsResult")
}

/// CreateMultipartUpload's answer.
pub fn initiate_multipart_upload_result(bucket: &str, key: &str, upload_id: &str) -> String {
    let mut xml = Xml::new("InitiateMultipartUploadResult");
    xml.element("Bucket", bucket);
    xml.element("Key", key);
    xml.element("UploadId", upload_id);
    xml.finish("InitiateMultipartUploadResult")
}

/// CompleteMultipartUpload's answer; `location` is the object's URL.
pub fn complete_multipart_upload_result(
    location: &str,
    bucket: &str,
    key: &str,
    etag: &str,
) -> String {
    let mut xml = Xml::new("CompleteMultipartUploadResult");
    xml.element("Location", location);
    xml.element("Bucket", bucket);
    xml.element("Key", key);
    xml.element("ETag", etag);
    xml.finish("CompleteMultipartUploadResult")
}

/// CopyObject's answer: the new object's date and ETag.
pub fn copy_object_result(last_modified_ms: i64, etag: &str) -> String {
    copy_result("CopyObjectResult", last_modified_ms, etag)
}

/// UploadPartCopy's answer: the new part's date and ETag.
pub fn copy_part_result(last_modified_ms: i64, etag: &str) -> String {
    copy_result("CopyPartResult", last_modified_ms, etag)
}

fn copy_result(root: &str, last_modified_ms: i64, etag: &str) -> String {
    let mut xml = Xml::new(root);
    xml.element("LastModified", &iso8601(last_modified_ms));
    xml.element("ETag", etag);
    xml.finish(root)
}

/// DeleteObjects' answer: the objects deleted (left out when `quiet`), then those that could
/// not be.
pub fn delete_result(quiet: bool, deleted: &[ObjectIdentifier], errors: &[DeleteError]) -> String {
    let mut xml = Xml::new("DeleteResult");
    if !quiet {
        for object in deleted {
            xml.open("Deleted");
            xml.element("Key", &object.key);
            xml.optional("VersionId", object.version_id.as_deref());
            xml.close("Deleted");
        }
    }
    for error in errors {
        xml.open("Error");
        xml.element("Key", &error.key);
        xml.optional("VersionId", error.version_id.as_deref());
        xml.element("Code", &error.code);
        xml.element("Message", &error.message);
        xml.close("Error");
    }
    xml.finish("DeleteResult")
}

/// GetBucketLocation's answer: the bucket's region, an empty element for `us-east-1` (or no
/// region), as S3 answers.
pub fn location_constraint(region: Option<&str>) -> String {
    let region = region.filter(|region| *region != "us-east-1");
    let mut xml = Xml::new("LocationConstraint");
    if let Some(region) = region {
        xml.text(region);
    }
    xml.finish("LocationConstraint")
}

/// `ms` since the epoch as S3 writes dates: `2026-12-03T18:00:00.000Z`.
pub fn iso8601(ms: i64) -> String {
    let date = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        date.year(),
        u8::from(date.month()),
        date.day(),
        date.hour(),
        date.minute(),
        date.second(),
        ms.rem_euclid(1000),
    )
}

/// A key (prefix, marker, delimiter) of a listing, URL-encoded when the request asked for
/// `encoding-type=url`: every byte but letters, digits, `-_.~` and `/` as `%XX` (a space as
/// `%20`, which botocore's `unquote_plus` and plain percent-decoding both read back).
pub fn key_text(key: &str, url_encoding: bool) -> String {
    if url_encoding {
        percent_encoding::utf8_percent_encode(key, KEY_ENCODE_SET).to_string()
    } else {
        key.to_owned()
    }
}

/// The bytes [`key_text`] encodes.
const KEY_ENCODE_SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

fn bool_text(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}

/// An answer being written: elements appended, text escaped.
struct Xml(String);

impl Xml {
    /// The declaration and the `root` element opened in S3's namespace.
    fn new(root: &str) -> Xml {
        Xml(format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{root} xmlns=\"{NAMESPACE}\">"))
    }

    fn open(&mut self, name: &str) {
        self.0.push('<');
        self.0.push_str(name);
        self.0.push('>');
    }

    fn close(&mut self, name: &str) {
        self.0.push_str("</");
        self.0.push_str(name);
        self.0.push('>');
    }

    /// `text` escaped: `<&>"'`, and a carriage return as a reference, which XML parsers
    /// would otherwise read as a line feed.
    fn text(&mut self, text: &str) {
        let escaped = escape(text);
        if escaped.contains('\r') {
            self.0.push_str(&escaped.replace('\r', "&#13;"));
        } else {
            self.0.push_str(&escaped);
        }
    }

    /// `<name>text</name>`.
    fn element(&mut self, name: &str, text: &str) {
        self.open(name);
        self.text(text);
        self.close(name);
    }

    /// `<name>text</name>`, or nothing for `None`.
    fn optional(&mut self, name: &str, text: Option<&str>) {
        if let Some(text) = text {
            self.element(name, text);
        }
    }

    fn owner(&mut self, name: &str, owner: &Owner) {
        self.open(name);
        self.element("ID", &owner.id);
        self.element("DisplayName", &owner.display_name);
        self.close(name);
    }

    /// A listing's `Contents` and `CommonPrefixes`; each object's `Owner` when `owner` is given.
    fn objects(&mut self, page: &ObjectPage, owner: Option<&Owner>, url_encoding: bool) {
        for object in &page.objects {
            self.open("Contents");
            self.element("Key", &key_text(&object.key, url_encoding));
            self.element("LastModified", &iso8601(object.last_modified_ms));
            self.element("ETag", &object.etag);
            self.element("Size", &object.size.to_string());
            if let Some(owner) = owner {
                self.owner("Owner", owner);
            }
            self.element("StorageClass", STANDARD);
            self.close("Contents");
        }
        self.common_prefixes(&page.common_prefixes, url_encoding);
    }

    fn common_prefixes(&mut self, prefixes: &[String], url_encoding: bool) {
        for prefix in prefixes {
            self.open("CommonPrefixes");
            self.element("Prefix", &key_text(prefix, url_encoding));
            self.close("CommonPrefixes");
        }
    }

    fn finish(mut self, root: &str) -> String {
        self.close(root);
        self.0
    }
}

// ---------------------------------------------------------------------------------------------
// Errors.

/// The HTTP status S3 answers an error `code` with (S3's error-code list); 400 for codes not
/// listed here.
pub fn status_of(code: &str) -> u16 {
    match code {
        "NotModified" => 304,
        "AccessDenied"
        | "AccountProblem"
        | "AllAccessDisabled"
        | "InvalidAccessKeyId"
        | "InvalidObjectState"
        | "RequestTimeTooSkewed"
        | "SignatureDoesNotMatch" => 403,
        "NoSuchBucket" | "NoSuchKey" | "NoSuchUpload" | "NoSuchVersion" => 404,
        "MethodNotAllowed" => 405,
        "BucketAlreadyExists"
        | "BucketAlreadyOwnedByYou"
        | "BucketNotEmpty"
        | "InvalidBucketState"
        | "OperationAborted" => 409,
        "MissingContentLength" => 411,
        "PreconditionFailed" => 412,
        "InvalidRange" | "InvalidPartNumber" => 416,
        "InternalError" | "InternalFailure" => 500,
        "NotImplemented" => 501,
        "ServiceUnavailable" | "SlowDown" => 503,
        // InvalidArgument, InvalidBucketName, InvalidPart, InvalidPartOrder, EntityTooSmall,
        // EntityTooLarge, MalformedXML, InvalidDigest, BadDigest, KeyTooLongError,
        // InvalidRequest, InvalidURI, XAmzContentSHA256Mismatch, IncompleteBody,
        // InvalidLocationConstraint, IllegalLocationConstraintException, ExpiredToken, …
        _ => 400,
    }
}

#[cfg(test)]
mod tests;
