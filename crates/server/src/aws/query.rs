//! The HTTP side of the AWS Query protocol (form-encoded `Action=…&Version=…`, answered in
//! XML) and of S3's XML errors: what STS and IAM clients and S3 clients expect. The XML
//! itself is written by `awsapi::query`.
//!
//! IAM's actions go to their table ([`super::iam`]), STS's to theirs ([`super::sts`]); every
//! other Query action and S3 answer an error in their own XML shape that says they are not
//! available on this server yet, so the CLI prints it instead of "invalid XML received".

use awsapi::query::{IAM_NAMESPACE, STS_NAMESPACE, document, error_xml, query_code};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::{ApiError, body_kind};

/// Whether a `POST /` is a Query request: form-encoded and without `X-Amz-Target`.
pub(super) fn is_query_request(headers: &HeaderMap) -> bool {
    let content_type = headers.get("content-type").and_then(|it| it.to_str().ok());
    awsapi::query::is_query_request(content_type, headers.contains_key("x-amz-target"))
}

pub(super) async fn handle(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    request_id: &str,
    origin: &crate::audit::Origin,
) -> Response {
    let service = super::scope_service(headers, uri).unwrap_or("sts").to_owned();
    let result = match &body {
        Ok(body) => dispatch(state, &service, method, uri, headers, body, request_id, origin).await,
        Err(rejection) => Err(ApiError::new(
            body_kind(rejection.status()),
            "MalformedQueryString",
            format!("The request body could not be read: {}", rejection.body_text()),
        )),
    };
    let (form, error) = (body.as_deref().unwrap_or_default(), result.as_ref().err());
    crate::audit::record_query(
        state, origin, &service, method, uri, headers, form, request_id, error,
    )
    .await;
    let namespace = if service == "iam" { IAM_NAMESPACE } else { STS_NAMESPACE };
    let (status, xml) = match result {
        Ok(xml) => (StatusCode::OK, xml),
        Err(err) => (
            crate::error::status(err.kind),
            error_xml(namespace, &query_code(&err.code), &err.message, request_id),
        ),
    };
    xml_response(status, xml, request_id)
}

#[allow(clippy::too_many_arguments)]
async fn dispatch(
    state: &AppState,
    service: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    request_id: &str,
    origin: &crate::audit::Origin,
) -> Result<String, ApiError> {
    let form: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let Some(action) = field("Action").filter(|it| !it.is_empty()) else {
        return Err(ApiError::client(
            "MissingAction",
            "The request must contain the parameter Action.",
        ));
    };
    match service {
        "sts" => {
            let (principal, _) =
                super::authenticate(state, "sts", method, uri, headers, body).await?;
            super::sts::call(state, &principal, action, &form, request_id).await
        }
        "iam" => {
            let (principal, caller) =
                super::authenticate(state, "iam", method, uri, headers, body).await?;
            let arrival = origin.arrival();
            super::iam::call(state, &principal, &caller, action, &form, request_id, arrival).await
        }
        other => Err(ApiError::client(
            "InvalidAction",
            format!("The service '{other}' is not available on this server (action {action})."),
        )),
    }
}

fn xml_response(status: StatusCode, xml: String, request_id: &str) -> Response {
    let mut response = (status, document(&xml)).into_response();
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("text/xml"));
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", value.clone());
        headers.insert("x-amz-request-id", value);
    }
    response
}
