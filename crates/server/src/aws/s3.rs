//! The S3 API's HTTP edge: REST-XML, path-style (`/bucket/key`), signed with SigV4 as S3
//! signs (`auth::s3_user`). A request is S3's when its credential scope names service `s3`
//! (the `Authorization` header or a presigned URL's `X-Amz-Credential`), on any path; an
//! unsigned request for a path whose first segment is a bucket is refused as S3 refuses
//! anonymous requests. Everything else keeps the server's other routes.
//!
//! The edge only translates: `s3::request::classify` says which operation a request is,
//! authorization asks the identity policies with S3's action and ARN (`auth::facts::s3_request`),
//! bodies stream both ways (a signed payload's SHA-256 and aws-chunked signatures checked as
//! they pass, [`body_stream`]), the `s3` crate does the work, and `s3::xml` writes the answers.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use awsapi::ApiError;
use awsapi::ErrorKind;
use awsapi::sigv4::chunked::Decoder;
use awsapi::sigv4::s3::{Payload, S3Signed};
use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt, TryStreamExt};
use s3::checksum::Algorithm;
use s3::object::Conditions;
use s3::objects::{self, Attributes, BodyChecks, Chunk};
use s3::request::{self, Operation};
use s3::xml;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::audit;
use crate::auth::{self, AuthError, Principal, RequestParts};

/// The largest object one PutObject (or part one UploadPart) takes, as S3: 5 GiB.
const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024;

/// The largest XML body taken (DeleteObjects of 1,000 keys of 1,024 bytes fits).
const MAX_XML_BODY: usize = 2 * 1024 * 1024;

/// Middleware: S3's requests (signed for `s3`, or unsigned on an existing bucket's path) are
/// answered here; every other request goes on.
pub(crate) async fn edge(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let signed_for_s3 = super::scope_service(request.headers(), request.uri()) == Some("s3");
    if !signed_for_s3 && signed_with_v2(&request) {
        let request_id = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
        let refused = ApiError::client(
            "InvalidRequest",
            "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
        );
        return error_response(
            &refused,
            request.uri().path(),
            &request_id,
            request.method() == Method::HEAD,
        );
    }
    let unsigned = !signed_for_s3 && !request.headers().contains_key("authorization");
    let unsigned_bucket = unsigned.then(|| bucket_segment(request.uri().path())).flatten();
    let on_bucket = match unsigned_bucket {
        Some(bucket) => bucket_exists(&state, &bucket).await,
        None => false,
    };
    let anonymous_sdk = unsigned && unsigned_sdk_request(&request);
    if !(signed_for_s3 || on_bucket || anonymous_sdk) {
        return next.run(request).await;
    }
    handle(&state, request).await
}

/// Whether a request is signed with S3's older Signature Version 2 (`Authorization: AWS
/// <key>:<signature>`, or a URL presigned with `AWSAccessKeyId` and `Signature`), which S3
/// refuses wherever only SigV4 is taken, as here.
fn signed_with_v2(request: &Request) -> bool {
    let header = request.headers().get("authorization").and_then(|it| it.to_str().ok());
    if header.is_some_and(|it| it.starts_with("AWS ")) {
        return true;
    }
    let query = request.uri().query().unwrap_or_default();
    let names: Vec<&str> =
        query.split('&').map(|pair| pair.split_once('=').map_or(pair, |(name, _)| name)).collect();
    names.contains(&"AWSAccessKeyId") && names.contains(&"Signature")
}

/// Whether an unsigned request comes from an AWS SDK or CLI (they send
/// `amz-sdk-invocation-id` with every request) and is none of the other AWS protocols'
/// (a JSON target, a Query form): an S3 call made without credentials (`--no-sign-request`),
/// refused as S3 refuses anonymous requests rather than answered by the console.
fn unsigned_sdk_request(request: &Request) -> bool {
    let headers = request.headers();
    let form = headers
        .get("content-type")
        .and_then(|it| it.to_str().ok())
        .is_some_and(|it| it.starts_with("application/x-www-form-urlencoded"));
    headers.contains_key("amz-sdk-invocation-id") && !headers.contains_key("x-amz-target") && !form
}

/// The first segment of an unsigned request's path, when it could be a bucket's name (and is
/// no route of the server's own).
fn bucket_segment(path: &str) -> Option<String> {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or_default();
    let possible = s3::bucket::check_name(first).is_ok() && !RESERVED_SEGMENTS.contains(&first);
    possible.then(|| first.to_owned())
}

/// Whether `bucket` exists, so that an unsigned request for it is refused as S3 refuses
/// anonymous requests.
async fn bucket_exists(state: &AppState, bucket: &str) -> bool {
    matches!(state.store.get(engine::kinds::S3_BUCKET, bucket).await, Ok(Some(_)))
}

/// First path segments the server's own routes use (bucket names cannot be these, since the
/// routes would never reach S3 unsigned).
const RESERVED_SEGMENTS: &[&str] = &["console", "agent", "healthz", "v1"];

async fn handle(state: &AppState, request: Request) -> Response {
    let request_id = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    let peer: audit::Peer =
        request.extensions().get::<ConnectInfo<SocketAddr>>().cloned().map(Extension);
    let origin = audit::Origin::of(request.headers(), &peer);
    let (parts, body) = request.into_parts();
    let mut call = audit::ApiCall { signing_name: "s3", ..Default::default() };
    let result = serve(state, &parts, body, &origin, &mut call).await;
    let resource = parts.uri.path().to_owned();
    call.record(state, &parts.headers, &origin, &request_id, result.as_ref().err());
    let mut response = match result {
        Ok(response) => response,
        Err(err) => error_response(&err, &resource, &request_id, parts.method == Method::HEAD),
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amz-request-id", value);
    }
    response
}

/// S3's answer to an error: its XML body (none for `HEAD` and `304`) with the code's status.
fn error_response(err: &ApiError, resource: &str, request_id: &str, head: bool) -> Response {
    let code = match err.kind {
        ErrorKind::Internal => "InternalError",
        _ => err.code.as_str(),
    };
    let status = StatusCode::from_u16(xml::status_of(code)).unwrap_or(StatusCode::BAD_REQUEST);
    if head || status == StatusCode::NOT_MODIFIED {
        return status.into_response();
    }
    let body = awsapi::query::document(&awsapi::query::s3_error_xml(
        code,
        &err.message,
        resource,
        request_id,
    ));
    xml_with_status(status, body)
}

fn xml_with_status(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert("content-type", HeaderValue::from_static("application/xml"));
    response
}

fn xml_response(body: String) -> Result<Response, ApiError> {
    Ok(xml_with_status(StatusCode::OK, body))
}

/// A refused signature, as S3 answers it.
fn auth_error(err: AuthError) -> ApiError {
    match err {
        AuthError::Signature(err) => {
            let message = match err {
                awsapi::sigv4::SignatureError::Missing => "Access Denied".to_owned(),
                _ => err.to_string(),
            };
            ApiError::client(err.s3_code(), message)
        }
        AuthError::Internal(detail) => ApiError::internal(detail),
        AuthError::Missing | AuthError::Invalid(_) => {
            ApiError::client("AccessDenied", "Access Denied")
        }
    }
}

async fn serve(
    state: &AppState,
    parts: &Parts,
    body: Body,
    origin: &audit::Origin,
    call: &mut audit::ApiCall,
) -> Result<Response, ApiError> {
    let headers = &parts.headers;
    // Which operation it is comes first (it is pure), so that even a refused request is
    // recorded under its name; a request that is no operation is not recorded, as CloudTrail
    // records no call of no operation.
    let classified = request::classify(
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query().unwrap_or_default(),
        header(headers, "x-amz-copy-source"),
    );
    match &classified {
        Ok(operation) => call.operation = operation.name().to_owned(),
        Err(_) => call.signing_name = "",
    }
    let request = RequestParts::new(&parts.method, &parts.uri, headers, &[]);
    let (principal, signed) = auth::s3_user(state, &request).await.map_err(auth_error)?;
    let identity = audit::identity(state, &principal).await;
    let initiator = identity.arn.clone().unwrap_or_default();
    call.identity = Some(identity);
    let operation = classified?;
    call.parameters = Some(parameters(&operation, headers));
    let facts = facts(state, &operation, headers, &signed)?;
    call.resources.clone_from(&facts.resources);
    call.data_event = is_data_event(&operation);
    if let (Some(bucket), Some(_)) = (operation.bucket(), operation.key()) {
        // CloudTrail names an object's bucket beside it.
        call.resources.push(format!("arn:aws:s3:::{bucket}"));
    }
    // DeleteObjects is authorized key by key (`s3:DeleteObject` on each object), as S3 does:
    // a user who may delete only some keys gets an answer for each.
    if !matches!(operation, Operation::DeleteObjects { .. }) {
        authorize(state, &principal, facts, origin).await?;
    }
    if let Some(source) = copy_source(&operation) {
        // A copy also reads its source: s3:GetObject on it.
        let place = auth::place(state);
        let facts = auth::facts::s3_request(
            place,
            "GetObject",
            Some(&source.bucket),
            Some(&source.key),
            &[],
        )
        .map_err(ApiError::internal)?;
        authorize(state, &principal, facts, origin).await?;
    }
    let ctx = state.s3();
    let now_ms = engine::clock::now_ms();
    let owner = owner(&state.account);
    match operation {
        Operation::ListBuckets => {
            let buckets = s3::buckets::list_buckets(&ctx).await?;
            xml_response(xml::list_all_my_buckets_result(&owner, &buckets))
        }
        Operation::CreateBucket { bucket } => {
            let body = read_xml_body(headers, &signed, body).await?;
            let constraint = xml::create_bucket_configuration(&body)?;
            s3::buckets::create_bucket(&ctx, &bucket, constraint.as_deref(), now_ms).await?;
            let mut response = StatusCode::OK.into_response();
            set(response.headers_mut(), "location", &format!("/{bucket}"));
            Ok(response)
        }
        Operation::HeadBucket { bucket } => {
            let region = s3::buckets::head_bucket(&ctx, &bucket).await?;
            let mut response = StatusCode::OK.into_response();
            set(response.headers_mut(), "x-amz-bucket-region", &region);
            Ok(response)
        }
        Operation::DeleteBucket { bucket } => {
            s3::buckets::delete_bucket(&ctx, &bucket).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Operation::GetBucketLocation { bucket } => {
            let location = s3::buckets::get_bucket_location(&ctx, &bucket).await?;
            xml_response(xml::location_constraint(location.as_deref()))
        }
        Operation::ListObjects { bucket, params } => {
            let input = objects::ListInput {
                prefix: params.prefix.clone().unwrap_or_default(),
                delimiter: params.delimiter.clone(),
                after: params.marker.clone().filter(|it| !it.is_empty()),
                max_keys: request::page_size(params.max_keys) as usize,
            };
            let listing = objects::list_objects(&ctx, &bucket, &input).await?;
            let page =
                object_page(&listing, listing.truncated.then(|| listing.last.clone()).flatten());
            xml_response(xml::list_bucket_result(&bucket, &params, &page, &owner))
        }
        Operation::ListObjectsV2 { bucket, params } => {
            let after = match &params.continuation_token {
                Some(token) => Some(continuation_key(token)?),
                None => params.start_after.clone().filter(|it| !it.is_empty()),
            };
            let input = objects::ListInput {
                prefix: params.prefix.clone().unwrap_or_default(),
                delimiter: params.delimiter.clone(),
                after,
                max_keys: request::page_size(params.max_keys) as usize,
            };
            let listing = objects::list_objects(&ctx, &bucket, &input).await?;
            let next = listing
                .truncated
                .then(|| listing.last.as_deref().map(continuation_token))
                .flatten();
            let page = object_page(&listing, next);
            xml_response(xml::list_bucket_result_v2(&bucket, &params, &page, &owner))
        }
        Operation::ListMultipartUploads { bucket, params } => {
            let input = s3::multipart::ListUploads {
                prefix: params.prefix.clone().unwrap_or_default(),
                delimiter: params.delimiter.clone(),
                key_marker: params.key_marker.clone().filter(|it| !it.is_empty()),
                upload_id_marker: params.upload_id_marker.clone().filter(|it| !it.is_empty()),
                max_uploads: request::page_size(params.max_uploads) as usize,
            };
            let listed = s3::multipart::list_multipart_uploads(&ctx, &bucket, &input).await?;
            let page = xml::UploadPage {
                uploads: listed
                    .uploads
                    .iter()
                    .map(|upload| xml::UploadEntry {
                        key: upload.key.clone(),
                        upload_id: upload.upload_id.clone(),
                        initiated_ms: upload.initiated_ms,
                    })
                    .collect(),
                common_prefixes: listed.common_prefixes.clone(),
                is_truncated: listed.truncated,
                next_key_marker: listed.next_key_marker.clone(),
                next_upload_id_marker: listed.next_upload_id_marker.clone(),
            };
            xml_response(xml::list_multipart_uploads_result(&bucket, &params, &page, &owner))
        }
        Operation::DeleteObjects { bucket } => {
            let body = read_xml_body(headers, &signed, body).await?;
            let request = xml::delete_objects(&body)?;
            delete_objects(state, &ctx, &principal, origin, &bucket, request).await
        }
        Operation::PutObject { bucket, key } => {
            let input = objects::PutObject {
                bucket,
                key,
                attributes: attributes(headers),
                checks: body_checks(headers)?,
                if_none_match: header(headers, "if-none-match").map(str::to_owned),
                if_match: header(headers, "if-match").map(str::to_owned),
            };
            let stream = body_stream(headers, &signed, body)?;
            let object = objects::put_object(&ctx, input, stream, now_ms).await?;
            let mut response = StatusCode::OK.into_response();
            set(response.headers_mut(), "etag", &object.etag);
            if let Some(checksum) = &object.checksum {
                set(response.headers_mut(), checksum.algorithm.header(), &checksum.value);
            }
            Ok(response)
        }
        Operation::CopyObject { bucket, key, source } => {
            let replace = header(headers, "x-amz-metadata-directive")
                .is_some_and(|it| it.eq_ignore_ascii_case("REPLACE"));
            let input = objects::CopyObject {
                bucket,
                key,
                replace_attributes: replace.then(|| attributes(headers)),
                ..copy_from(&source, headers)
            };
            let object = objects::copy_object(&ctx, input, now_ms).await?;
            xml_response(xml::copy_object_result(object.last_modified_ms, &object.etag))
        }
        Operation::GetObject { bucket, key, part_number, overrides } => {
            let read = read_request(headers, part_number);
            let answer = objects::get_object(&ctx, &bucket, &key, &read).await?;
            Ok(object_response(headers, answer, &overrides))
        }
        Operation::HeadObject { bucket, key, part_number, overrides } => {
            let read = read_request(headers, part_number);
            let answer = objects::head_object(&ctx, &bucket, &key, &read).await?;
            Ok(object_response(headers, answer, &overrides))
        }
        Operation::DeleteObject { bucket, key } => {
            objects::delete_object(&ctx, &bucket, &key).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Operation::CreateMultipartUpload { bucket, key } => {
            let algorithm = match header(headers, "x-amz-checksum-algorithm") {
                Some(name) => Some(Algorithm::parse(name)?),
                None => None,
            };
            let upload = s3::multipart::create_multipart_upload(
                &ctx,
                &bucket,
                &key,
                attributes(headers),
                algorithm,
                &initiator,
                now_ms,
            )
            .await?;
            let mut response = xml_response(xml::initiate_multipart_upload_result(
                &bucket,
                &key,
                &upload.upload_id,
            ))?;
            if let Some(algorithm) = algorithm {
                set(response.headers_mut(), "x-amz-checksum-algorithm", algorithm.name());
            }
            Ok(response)
        }
        Operation::UploadPart { bucket, key, upload_id, part_number } => {
            let checks = body_checks(headers)?;
            let stream = body_stream(headers, &signed, body)?;
            let upload = (bucket.as_str(), key.as_str(), upload_id.as_str());
            let part =
                s3::multipart::upload_part(&ctx, upload, part_number, checks, stream, now_ms)
                    .await?;
            let mut response = StatusCode::OK.into_response();
            set(response.headers_mut(), "etag", &part.etag);
            if let Some(checksum) = &part.checksum {
                set(response.headers_mut(), checksum.algorithm.header(), &checksum.value);
            }
            Ok(response)
        }
        Operation::UploadPartCopy { bucket, key, upload_id, part_number, source } => {
            let range = header(headers, "x-amz-copy-source-range");
            let copy = copy_from(&source, headers);
            let part = s3::multipart::upload_part_copy(
                &ctx,
                (&bucket, &key, &upload_id),
                part_number,
                &copy,
                range,
                now_ms,
            )
            .await?;
            xml_response(xml::copy_part_result(part.last_modified_ms, &part.etag))
        }
        Operation::CompleteMultipartUpload { bucket, key, upload_id } => {
            let body = read_xml_body(headers, &signed, body).await?;
            let completed: Vec<s3::multipart::CompletedPart> =
                xml::complete_multipart_upload(&body)?
                    .into_iter()
                    .map(|part| s3::multipart::CompletedPart {
                        part_number: part.part_number,
                        etag: part.etag,
                    })
                    .collect();
            let object = s3::multipart::complete_multipart_upload(
                &ctx, &bucket, &key, &upload_id, &completed, now_ms,
            )
            .await?;
            let host = header(headers, "host").unwrap_or("localhost");
            let location = format!("http://{host}/{bucket}/{}", percent_encode_key(&key));
            xml_response(xml::complete_multipart_upload_result(
                &location,
                &bucket,
                &key,
                &object.etag,
            ))
        }
        Operation::AbortMultipartUpload { bucket, key, upload_id } => {
            s3::multipart::abort_multipart_upload(&ctx, &bucket, &key, &upload_id).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Operation::ListParts { bucket, key, upload_id, params } => {
            let listed = s3::multipart::list_parts(
                &ctx,
                &bucket,
                &key,
                &upload_id,
                params.part_number_marker.unwrap_or(0),
                request::page_size(params.max_parts) as usize,
            )
            .await?;
            let page = xml::PartPage {
                parts: listed
                    .parts
                    .iter()
                    .map(|part| xml::PartEntry {
                        part_number: part.part_number,
                        last_modified_ms: part.last_modified_ms,
                        etag: part.etag.clone(),
                        size: part.size,
                    })
                    .collect(),
                is_truncated: listed.truncated,
                next_part_number_marker: listed.next_part_number_marker,
            };
            xml_response(xml::list_parts_result(&bucket, &key, &upload_id, &params, &page, &owner))
        }
    }
}

/// Whether CloudTrail records an operation as a data event: what reads or writes objects
/// (bucket-level operations are management events).
fn is_data_event(operation: &Operation) -> bool {
    !matches!(
        operation,
        Operation::ListBuckets
            | Operation::CreateBucket { .. }
            | Operation::DeleteBucket { .. }
            | Operation::HeadBucket { .. }
            | Operation::GetBucketLocation { .. }
    )
}

/// A copy of `source` with the request's `x-amz-copy-source-if-*` conditions (CopyObject
/// sets where it goes; UploadPartCopy names its upload apart).
fn copy_from(source: &request::CopySource, headers: &HeaderMap) -> objects::CopyObject {
    let condition = |name: &str| header(headers, name).map(str::to_owned);
    objects::CopyObject {
        source_bucket: source.bucket.clone(),
        source_key: source.key.clone(),
        if_match: condition("x-amz-copy-source-if-match"),
        if_none_match: condition("x-amz-copy-source-if-none-match"),
        if_modified_since: condition("x-amz-copy-source-if-modified-since"),
        if_unmodified_since: condition("x-amz-copy-source-if-unmodified-since"),
        ..Default::default()
    }
}

/// The copy source an operation reads, if it copies.
fn copy_source(operation: &Operation) -> Option<&request::CopySource> {
    match operation {
        Operation::CopyObject { source, .. } | Operation::UploadPartCopy { source, .. } => {
            Some(source)
        }
        _ => None,
    }
}

/// The one authorization call of an S3 request; a refusal is S3's `AccessDenied`.
async fn authorize(
    state: &AppState,
    principal: &Principal,
    facts: auth::RequestFacts,
    origin: &audit::Origin,
) -> Result<(), ApiError> {
    let facts = facts.arrived(origin.arrival());
    auth::authorize(state, principal, &facts)
        .await
        .map_err(|denied| ApiError::client("AccessDenied", denied.message))
}

/// What an S3 operation asks, with the condition keys S3 defines that the request sets.
fn facts(
    state: &AppState,
    operation: &Operation,
    headers: &HeaderMap,
    signed: &S3Signed,
) -> Result<auth::RequestFacts, ApiError> {
    let mut keys: Vec<(&str, String)> = vec![
        (
            "s3:authType",
            if signed.presigned { "REST-QUERY-STRING" } else { "REST-HEADER" }.to_owned(),
        ),
        ("s3:signatureversion", "AWS4-HMAC-SHA256".to_owned()),
    ];
    if let Some(value) = header(headers, "x-amz-content-sha256") {
        keys.push(("s3:x-amz-content-sha256", value.to_owned()));
    }
    for (key, name) in [
        ("s3:x-amz-copy-source", "x-amz-copy-source"),
        ("s3:x-amz-metadata-directive", "x-amz-metadata-directive"),
        ("s3:if-match", "if-match"),
        ("s3:if-none-match", "if-none-match"),
    ] {
        if let Some(value) = header(headers, name) {
            keys.push((key, value.to_owned()));
        }
    }
    let (prefix, delimiter, max_keys) = match operation {
        Operation::ListObjects { params, .. } => {
            (params.prefix.as_deref(), params.delimiter.as_deref(), params.max_keys)
        }
        Operation::ListObjectsV2 { params, .. } => {
            (params.prefix.as_deref(), params.delimiter.as_deref(), params.max_keys)
        }
        _ => (None, None, None),
    };
    if matches!(operation, Operation::ListObjects { .. } | Operation::ListObjectsV2 { .. }) {
        // `s3:prefix` is set, empty, for a listing of the whole bucket, as S3 sets it.
        keys.push(("s3:prefix", prefix.unwrap_or_default().to_owned()));
    }
    if let Some(delimiter) = delimiter {
        keys.push(("s3:delimiter", delimiter.to_owned()));
    }
    if let Some(max_keys) = max_keys {
        keys.push(("s3:max-keys", max_keys.to_string()));
    }
    let place = auth::place(state);
    auth::facts::s3_request(place, operation.name(), operation.bucket(), operation.key(), &keys)
        .map_err(ApiError::internal)
}

/// What the audit trail records as the request's parameters, as CloudTrail's data events do.
fn parameters(operation: &Operation, headers: &HeaderMap) -> Value {
    let mut parameters = serde_json::Map::new();
    if let Some(bucket) = operation.bucket() {
        parameters.insert("bucketName".to_owned(), json!(bucket));
    }
    if let Some(key) = operation.key() {
        parameters.insert("key".to_owned(), json!(key));
    }
    if let Some(host) = header(headers, "host") {
        parameters.insert("Host".to_owned(), json!(host));
    }
    match operation {
        Operation::UploadPart { upload_id, part_number, .. } => {
            parameters.insert("uploadId".to_owned(), json!(upload_id));
            parameters.insert("partNumber".to_owned(), json!(part_number.to_string()));
        }
        Operation::CompleteMultipartUpload { upload_id, .. }
        | Operation::AbortMultipartUpload { upload_id, .. }
        | Operation::ListParts { upload_id, .. } => {
            parameters.insert("uploadId".to_owned(), json!(upload_id));
        }
        _ => {}
    }
    Value::Object(parameters)
}

/// DeleteObjects: each key authorized for `s3:DeleteObject` on its own (a refusal is that
/// key's `AccessDenied`), then deleted.
async fn delete_objects(
    state: &AppState,
    ctx: &s3::Context,
    principal: &Principal,
    origin: &audit::Origin,
    bucket: &str,
    request: xml::DeleteObjects,
) -> Result<Response, ApiError> {
    let mut allowed = Vec::new();
    let mut errors = Vec::new();
    for object in &request.objects {
        let place = auth::place(state);
        let facts =
            auth::facts::s3_request(place, "DeleteObject", Some(bucket), Some(&object.key), &[])
                .map_err(ApiError::internal)?;
        match authorize(state, principal, facts, origin).await {
            Ok(()) => allowed.push(object.key.clone()),
            Err(err) => errors.push(xml::DeleteError {
                key: object.key.clone(),
                version_id: object.version_id.clone(),
                code: err.code,
                message: err.message,
            }),
        }
    }
    let mut deleted = Vec::new();
    for result in objects::delete_objects(ctx, bucket, &allowed).await? {
        match result {
            objects::Deleted::Deleted { key } => {
                deleted.push(xml::ObjectIdentifier { key, version_id: None });
            }
            objects::Deleted::Failed { key, code, message } => {
                errors.push(xml::DeleteError { key, version_id: None, code, message });
            }
        }
    }
    xml_response(xml::delete_result(request.quiet, &deleted, &errors))
}

/// The account's owner, as S3 lists it: a canonical user id (64 hex digits, derived from the
/// account) and the account as the display name.
fn owner(account: &str) -> xml::Owner {
    xml::Owner {
        id: hex::encode(Sha256::digest(format!("slipway-canonical-user:{account}"))),
        display_name: account.to_owned(),
    }
}

fn object_page(listing: &objects::Listing, next: Option<String>) -> xml::ObjectPage {
    xml::ObjectPage {
        objects: listing
            .objects
            .iter()
            .map(|object| xml::ObjectEntry {
                key: object.key.clone(),
                last_modified_ms: object.last_modified_ms,
                etag: object.etag.clone(),
                size: object.size,
            })
            .collect(),
        common_prefixes: listing.common_prefixes.clone(),
        is_truncated: listing.truncated,
        next,
    }
}

/// ListObjectsV2's continuation token for a page that ended at `last`: opaque to clients.
fn continuation_token(last: &str) -> String {
    awsapi::base64::encode(last.as_bytes())
}

/// The key a continuation token continues after; S3's `InvalidArgument` for one it did not
/// give.
fn continuation_key(token: &str) -> Result<String, ApiError> {
    awsapi::base64::decode(token).and_then(|bytes| String::from_utf8(bytes).ok()).ok_or_else(|| {
        ApiError::client("InvalidArgument", "The continuation token provided is incorrect")
    })
}

/// A request header's value, if it is text.
fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|it| it.to_str().ok())
}

fn set(headers: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::from_str(value)) {
        headers.insert(name, value);
    }
}

/// The attributes a request gives its object: `Content-Type`, `x-amz-meta-*`, and the other
/// headers S3 stores.
fn attributes(headers: &HeaderMap) -> Attributes {
    let mut metadata = BTreeMap::new();
    let mut stored = BTreeMap::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if let Some(meta) = name.as_str().strip_prefix("x-amz-meta-") {
            metadata.insert(meta.to_owned(), value);
        } else if objects::STORED_HEADERS.contains(&name.as_str()) {
            // aws-chunked is how the body travelled, not what the object is.
            if name == "content-encoding" {
                let rest: Vec<&str> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|it| !it.is_empty() && !it.eq_ignore_ascii_case("aws-chunked"))
                    .collect();
                if !rest.is_empty() {
                    stored.insert(name.as_str().to_owned(), rest.join(", "));
                }
                continue;
            }
            stored.insert(name.as_str().to_owned(), value);
        }
    }
    Attributes {
        content_type: header(headers, "content-type").map(str::to_owned),
        metadata,
        headers: stored,
    }
}

/// What a body must be: `Content-MD5` and the `x-amz-checksum-*` header or trailer.
fn body_checks(headers: &HeaderMap) -> Result<BodyChecks, ApiError> {
    let content_md5 = match header(headers, "content-md5") {
        Some(text) => {
            let bytes = awsapi::base64::decode(text.trim()).filter(|it| it.len() == 16);
            let Some(bytes) = bytes else {
                return Err(ApiError::client(
                    "InvalidDigest",
                    "The Content-MD5 you specified was invalid.",
                ));
            };
            let mut md5 = [0u8; 16];
            md5.copy_from_slice(&bytes);
            Some(md5)
        }
        None => None,
    };
    let mut checksum = None;
    for algorithm in Algorithm::ALL {
        if let Some(value) = header(headers, algorithm.header()) {
            if checksum.is_some() {
                return Err(ApiError::client(
                    "InvalidRequest",
                    "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
                ));
            }
            checksum = Some((algorithm, Some(value.trim().to_owned())));
        }
    }
    if checksum.is_none()
        && let Some(trailer) = header(headers, "x-amz-trailer")
    {
        let algorithm = Algorithm::of_header(&trailer.trim().to_ascii_lowercase()).ok_or_else(|| {
            ApiError::client("InvalidRequest", format!("The value specified in the x-amz-trailer header is not supported: {trailer}"))
        })?;
        checksum = Some((algorithm, None));
    }
    if checksum.is_none()
        && let Some(name) = header(headers, "x-amz-sdk-checksum-algorithm")
    {
        checksum = Some((Algorithm::parse(name)?, None));
    }
    Ok(BodyChecks { content_md5, checksum })
}

fn read_request(headers: &HeaderMap, part_number: Option<u32>) -> objects::Read<'_> {
    objects::Read {
        conditions: Conditions {
            if_match: header(headers, "if-match"),
            if_none_match: header(headers, "if-none-match"),
            if_modified_since: header(headers, "if-modified-since"),
            if_unmodified_since: header(headers, "if-unmodified-since"),
        },
        range: header(headers, "range"),
        part_number,
    }
}

/// An object's answer: its headers, and for GetObject its bytes (those of the range, `206`).
fn object_response(
    headers: &HeaderMap,
    answer: objects::Answer,
    overrides: &request::ResponseOverrides,
) -> Response {
    let object = &answer.object;
    let (status, length) = match answer.range {
        Some((first, last)) => (StatusCode::PARTIAL_CONTENT, last - first + 1),
        None => (StatusCode::OK, object.size),
    };
    let mut response = match answer.body {
        Some(body) => {
            Response::new(Body::from_stream(body.map_err(|err| std::io::Error::other(err.message))))
        }
        None => Response::new(Body::empty()),
    };
    *response.status_mut() = status;
    let out = response.headers_mut();
    set(out, "content-length", &length.to_string());
    set(out, "accept-ranges", "bytes");
    set(out, "etag", &object.etag);
    set(out, "last-modified", &s3::object::http_date(object.last_modified_ms));
    set(
        out,
        "content-type",
        object.attributes.content_type.as_deref().unwrap_or(objects::DEFAULT_CONTENT_TYPE),
    );
    for (name, value) in &object.attributes.headers {
        set(out, name, value);
    }
    for (name, value) in &object.attributes.metadata {
        set(out, &format!("x-amz-meta-{name}"), value);
    }
    if let Some((first, last)) = answer.range {
        set(out, "content-range", &format!("bytes {first}-{last}/{}", object.size));
    }
    if let Some(count) = object.parts_count {
        set(out, "x-amz-mp-parts-count", &count.to_string());
    }
    let checksum_mode =
        header(headers, "x-amz-checksum-mode").is_some_and(|it| it.eq_ignore_ascii_case("ENABLED"));
    if checksum_mode
        && answer.range.is_none()
        && let Some(checksum) = &object.checksum
    {
        set(out, checksum.algorithm.header(), &checksum.value);
    }
    for (name, value) in overrides.headers() {
        set(out, name, value);
    }
    response
}

/// A key in a URL path: each `/`-separated segment percent-encoded.
fn percent_encode_key(key: &str) -> String {
    key.split('/')
        .map(|segment| {
            percent_encoding::utf8_percent_encode(segment, percent_encoding::NON_ALPHANUMERIC)
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The size a request says its payload is: `x-amz-decoded-content-length` for an aws-chunked
/// body, `Content-Length` otherwise; `EntityTooLarge` past 5 GiB.
fn declared_length(headers: &HeaderMap, streaming: bool) -> Result<Option<u64>, ApiError> {
    let name = if streaming { "x-amz-decoded-content-length" } else { "content-length" };
    let length = match header(headers, name) {
        Some(text) => Some(text.trim().parse::<u64>().map_err(|_| {
            ApiError::client("InvalidArgument", format!("The {name} header is not a number."))
        })?),
        None => None,
    };
    if length.is_some_and(|length| length > MAX_OBJECT_SIZE) {
        return Err(ApiError::client(
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed object size.",
        ));
    }
    Ok(length)
}

/// The request body as the `s3` crate takes it: the payload's bytes as they arrive, checked
/// against what the signature says of them (a signed payload's SHA-256 once it has ended, an
/// aws-chunked body's chunk signatures as each chunk ends), then an aws-chunked body's
/// trailing headers. The stream's last item is an error when the body is not what was
/// signed, was cut short, or is longer than it said, so that nothing is kept of it.
fn body_stream(
    headers: &HeaderMap,
    signed: &S3Signed,
    body: Body,
) -> Result<impl Stream<Item = Result<Chunk, ApiError>> + Send + Unpin + 'static, ApiError> {
    let streaming = matches!(signed.payload, Payload::Streaming { .. });
    let declared = declared_length(headers, streaming)?;
    let check = match &signed.payload {
        Payload::Sha256(expected) => Check::Sha256(Sha256::new(), expected.clone()),
        Payload::Unsigned => Check::None,
        Payload::Streaming { mode, chunks } => {
            let signing = (mode != "STREAMING-UNSIGNED-PAYLOAD-TRAILER").then(|| chunks.clone());
            let decoder = Decoder::new(mode, signing)
                .map_err(|err| ApiError::client("InvalidRequest", err.to_string()))?;
            Check::Chunked(Box::new(decoder))
        }
    };
    let state =
        BodyState { input: body.into_data_stream(), check: Some(check), received: 0, declared };
    Ok(Box::pin(futures::stream::unfold(state, next_chunk)))
}

/// What a body is checked against as it streams.
enum Check {
    None,
    Sha256(Sha256, String),
    Chunked(Box<Decoder>),
}

struct BodyState {
    input: axum::body::BodyDataStream,
    /// `None` once the body has ended (or failed).
    check: Option<Check>,
    /// Payload bytes handed on so far.
    received: u64,
    declared: Option<u64>,
}

async fn next_chunk(mut state: BodyState) -> Option<(Result<Chunk, ApiError>, BodyState)> {
    loop {
        let check = state.check.as_mut()?;
        match state.input.next().await {
            Some(Ok(bytes)) => {
                let payload = match check {
                    Check::None => bytes,
                    Check::Sha256(hasher, _) => {
                        hasher.update(&bytes);
                        bytes
                    }
                    Check::Chunked(decoder) => {
                        let mut out = Vec::with_capacity(bytes.len());
                        if let Err(err) = decoder.feed(&bytes, &mut out) {
                            state.check = None;
                            return Some((Err(chunked_error(&err)), state));
                        }
                        Bytes::from(out)
                    }
                };
                state.received += payload.len() as u64;
                if state.received > MAX_OBJECT_SIZE
                    || state.declared.is_some_and(|declared| state.received > declared)
                {
                    state.check = None;
                    let err = ApiError::client(
                        "IncompleteBody",
                        "The request body is longer than its declared length.",
                    );
                    return Some((Err(err), state));
                }
                if payload.is_empty() {
                    continue;
                }
                return Some((Ok(Chunk::Data(payload)), state));
            }
            Some(Err(err)) => {
                state.check = None;
                let err = ApiError::client(
                    "IncompleteBody",
                    format!(
                        "You did not provide the number of bytes specified by the Content-Length HTTP header: {err}"
                    ),
                );
                return Some((Err(err), state));
            }
            None => {
                let check = state.check.take()?;
                if state.declared.is_some_and(|declared| state.received != declared) {
                    let err = ApiError::client(
                        "IncompleteBody",
                        "You did not provide the number of bytes specified by the Content-Length HTTP header",
                    );
                    return Some((Err(err), state));
                }
                let last = match check {
                    Check::None => return None,
                    Check::Sha256(hasher, expected) => {
                        if hex::encode(hasher.finalize()) == expected {
                            return None;
                        }
                        Err(ApiError::client(
                            "XAmzContentSHA256Mismatch",
                            "The provided 'x-amz-content-sha256' header does not match what was computed.",
                        ))
                    }
                    Check::Chunked(decoder) => match decoder.finish() {
                        Ok(decoded) => Ok(Chunk::Trailers(decoded.trailers)),
                        Err(err) => Err(chunked_error(&err)),
                    },
                };
                return Some((last, state));
            }
        }
    }
}

fn chunked_error(err: &awsapi::sigv4::chunked::ChunkedError) -> ApiError {
    use awsapi::sigv4::chunked::ChunkedError;
    match err {
        ChunkedError::Signature => ApiError::client("SignatureDoesNotMatch", err.to_string()),
        ChunkedError::Incomplete => ApiError::client("IncompleteBody", err.to_string()),
        ChunkedError::Malformed(_) => ApiError::client("InvalidRequest", err.to_string()),
    }
}

/// A small XML request body (CreateBucket's, DeleteObjects', CompleteMultipartUpload's), read
/// whole through the same checks; `MaxMessageLengthExceeded` past 2 MiB.
async fn read_xml_body(
    headers: &HeaderMap,
    signed: &S3Signed,
    body: Body,
) -> Result<Vec<u8>, ApiError> {
    let mut stream = body_stream(headers, signed, body)?;
    let mut bytes = Vec::new();
    let checks = body_checks(headers)?;
    let mut md5 = s3::object::BodyMd5::default();
    while let Some(chunk) = stream.try_next().await? {
        if let Chunk::Data(data) = chunk {
            if bytes.len() + data.len() > MAX_XML_BODY {
                return Err(ApiError::client(
                    "MaxMessageLengthExceeded",
                    "Your request was too big.",
                ));
            }
            md5.update(&data);
            bytes.extend_from_slice(&data);
        }
    }
    objects::check_content_md5(checks.content_md5, &md5.finish())?;
    Ok(bytes)
}
