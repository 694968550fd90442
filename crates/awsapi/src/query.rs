//! The AWS Query protocol's wire forms (form-encoded `Action=…&Version=…`, answered in
//! XML) and S3's XML error: what STS and IAM clients and S3 clients expect. Requests become
//! typed inputs ([`input`]), typed outputs become XML ([`response`]).

use quick_xml::escape::escape;
use serde::Serialize;

use crate::ApiError;

mod decode;
mod encode;

pub use decode::input;
pub use encode::{EncodeError, Timestamp, contents};

/// STS's XML namespace (API version 2011-06-15).
pub const STS_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// IAM's XML namespace (API version 2010-05-08).
pub const IAM_NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

/// Whether a `POST /` is a Query request: form-encoded and without `X-Amz-Target`.
pub fn is_query_request(content_type: Option<&str>, has_target: bool) -> bool {
    let form = content_type
        .is_some_and(|it| it.trim_start().starts_with("application/x-www-form-urlencoded"));
    form && !has_target
}

/// The Query protocol's name for an error the JSON protocol names `code`.
pub fn query_code(code: &str) -> String {
    match code {
        "MissingAuthenticationTokenException" => "MissingAuthenticationToken",
        "IncompleteSignatureException" => "IncompleteSignature",
        "UnrecognizedClientException" => "InvalidClientTokenId",
        "ExpiredTokenException" => "ExpiredToken",
        "InvalidSignatureException" => "SignatureDoesNotMatch",
        other => other,
    }
    .to_owned()
}

/// The answer to `action` with its typed `result` (`None` for the actions whose output
/// is empty): `<ActionResponse xmlns=…><ActionResult>…</ActionResult><ResponseMetadata>…`.
pub fn response<T: Serialize>(
    namespace: &str,
    action: &str,
    result: Option<&T>,
    request_id: &str,
) -> Result<String, ApiError> {
    let mut xml = format!("<{action}Response xmlns=\"{namespace}\">");
    if let Some(result) = result {
        let contents = encode::contents(result).map_err(ApiError::internal)?.unwrap_or_default();
        xml.push_str(&format!("<{action}Result>{contents}</{action}Result>"));
    }
    xml.push_str(&format!(
        "<ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{action}Response>",
        escape(request_id)
    ));
    Ok(xml)
}

/// A Query protocol error in the service's `namespace`:
/// `<ErrorResponse><Error><Type>Sender</Type>…` (`Receiver` for the server's own failures).
pub fn error_xml(namespace: &str, code: &str, message: &str, request_id: &str) -> String {
    let kind =
        if code == "InternalFailure" || code == "ServiceFailure" { "Receiver" } else { "Sender" };
    format!(
        "<ErrorResponse xmlns=\"{namespace}\"><Error><Type>{kind}</Type><Code>{}</Code>\
         <Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
        escape(code),
        escape(message),
        escape(request_id),
    )
}

/// S3's XML error for the request of `resource` (its path).
pub fn s3_error_xml(code: &str, message: &str, resource: &str, request_id: &str) -> String {
    format!(
        "<Error><Code>{}</Code><Message>{}</Message>\
         <Resource>{}</Resource><RequestId>{}</RequestId></Error>",
        escape(code),
        escape(message),
        escape(resource),
        escape(request_id),
    )
}

/// An XML answer's whole body: the declaration, then `xml`.
pub fn document(xml: &str) -> String {
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{xml}\n")
}

#[cfg(test)]
mod tests;
