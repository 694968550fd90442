//! The AWS Query protocol (form-encoded `Action=…&Version=…`, answered in XML) and S3's XML
//! errors: what STS and IAM clients and S3 clients expect.
//!
//! STS's `GetCallerIdentity` works (it is how people check their credentials); every other
//! Query action, IAM and S3 answer an error in their own XML shape that says they are not
//! available on this server yet, so the CLI prints it instead of "invalid XML received".

use axum::body::Bytes;
use axum::extract::Request;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use quick_xml::escape::escape;

use crate::AppState;
use crate::error::ApiError;

/// STS's XML namespace (API version 2011-06-15).
const STS_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// Whether a `POST /` is a Query request: form-encoded and without `X-Amz-Target`.
pub(super) fn is_query_request(headers: &HeaderMap) -> bool {
    let form = headers
        .get("content-type")
        .and_then(|it| it.to_str().ok())
        .is_some_and(|it| it.trim_start().starts_with("application/x-www-form-urlencoded"));
    form && !headers.contains_key("x-amz-target")
}

pub(super) async fn handle(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    request_id: &str,
) -> Response {
    let service = super::scope_service(headers, uri).unwrap_or("sts").to_owned();
    let result = match body {
        Ok(body) => dispatch(state, &service, method, uri, headers, &body, request_id).await,
        Err(rejection) => Err(ApiError::new(
            rejection.status(),
            "MalformedQueryString",
            format!("The request body could not be read: {}", rejection.body_text()),
        )),
    };
    let (status, xml) = match result {
        Ok(xml) => (StatusCode::OK, xml),
        Err(err) => (err.status, error_xml(&query_code(&err.code), &err.message, request_id)),
    };
    xml_response(status, xml, request_id)
}

async fn dispatch(
    state: &AppState,
    service: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    request_id: &str,
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
            // GetCallerIdentity needs no permission (as on AWS): nothing to authorize.
            let (_, caller) = super::authenticate(state, "sts", method, uri, headers, body).await?;
            if action != "GetCallerIdentity" {
                return Err(ApiError::client(
                    "InvalidAction",
                    format!(
                        "STS's {action} is not available on this server yet; only GetCallerIdentity is."
                    ),
                ));
            }
            Ok(caller_identity_xml(&state.account, &caller.user, &caller.access_key_id, request_id))
        }
        "iam" => Err(ApiError::client(
            "InvalidAction",
            format!("IAM is not available on this server yet (action {action})."),
        )),
        other => Err(ApiError::client(
            "InvalidAction",
            format!("The service '{other}' is not available on this server (action {action})."),
        )),
    }
}

/// The Query protocol's name for an error the JSON protocol names `code`.
fn query_code(code: &str) -> String {
    match code {
        "MissingAuthenticationTokenException" => "MissingAuthenticationToken",
        "IncompleteSignatureException" => "IncompleteSignature",
        "UnrecognizedClientException" => "InvalidClientTokenId",
        "InvalidSignatureException" => "SignatureDoesNotMatch",
        other => other,
    }
    .to_owned()
}

/// `GetCallerIdentity`'s answer for `user`, who signed with `access_key_id`.
pub(super) fn caller_identity_xml(
    account: &str,
    user: &str,
    access_key_id: &str,
    request_id: &str,
) -> String {
    format!(
        "<GetCallerIdentityResponse xmlns=\"{STS_NAMESPACE}\">\
         <GetCallerIdentityResult>\
         <Arn>arn:aws:iam::{}:user/{}</Arn>\
         <UserId>{}</UserId>\
         <Account>{}</Account>\
         </GetCallerIdentityResult>\
         <ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata>\
         </GetCallerIdentityResponse>",
        escape(account),
        escape(user),
        escape(access_key_id),
        escape(account),
        escape(request_id),
    )
}

/// A Query protocol error: `<ErrorResponse><Error><Type>Sender</Type>…`.
pub(super) fn error_xml(code: &str, message: &str, request_id: &str) -> String {
    let kind = if code == "InternalFailure" { "Receiver" } else { "Sender" };
    format!(
        "<ErrorResponse xmlns=\"{STS_NAMESPACE}\"><Error><Type>{kind}</Type><Code>{}</Code>\
         <Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
        escape(code),
        escape(message),
        escape(request_id),
    )
}

fn xml_response(status: StatusCode, xml: String, request_id: &str) -> Response {
    let mut response =
        (status, format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{xml}\n")).into_response();
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("text/xml"));
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", value.clone());
        headers.insert("x-amz-request-id", value);
    }
    response
}

/// Middleware: a request signed for S3 (on any path) answers S3's XML error saying S3 is not
/// available yet; every other request goes on.
pub(crate) async fn s3_not_available(request: Request, next: Next) -> Response {
    if super::scope_service(request.headers(), request.uri()) != Some("s3") {
        return next.run(request).await;
    }
    let request_id = uuid::Uuid::new_v4().to_string();
    let xml = format!(
        "<Error><Code>NotImplemented</Code><Message>S3 is not available on this server yet.</Message>\
         <Resource>{}</Resource><RequestId>{}</RequestId></Error>",
        escape(request.uri().path()),
        escape(request_id.as_str()),
    );
    let mut response = xml_response(StatusCode::NOT_IMPLEMENTED, xml, &request_id);
    response.headers_mut().insert("content-type", HeaderValue::from_static("application/xml"));
    response
}
