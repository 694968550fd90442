//! The AWS Query protocol's wire forms (form-encoded `Action=…&Version=…`, answered in
//! XML) and S3's XML error: what STS and IAM clients and S3 clients expect.

use quick_xml::escape::escape;

use crate::arn;

/// STS's XML namespace (API version 2011-06-15).
pub const STS_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

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
        "InvalidSignatureException" => "SignatureDoesNotMatch",
        other => other,
    }
    .to_owned()
}

/// `GetCallerIdentity`'s answer for `user`, who signed with `access_key_id`.
pub fn caller_identity_xml(
    account: &str,
    user: &str,
    access_key_id: &str,
    request_id: &str,
) -> String {
    format!(
        "<GetCallerIdentityResponse xmlns=\"{STS_NAMESPACE}\">\
         <GetCallerIdentityResult>\
         <Arn>{}</Arn>\
         <UserId>{}</UserId>\
         <Account>{}</Account>\
         </GetCallerIdentityResult>\
         <ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata>\
         </GetCallerIdentityResponse>",
        escape(arn::iam_user(account, user).as_str()),
        escape(access_key_id),
        escape(account),
        escape(request_id),
    )
}

/// A Query protocol error: `<ErrorResponse><Error><Type>Sender</Type>…`.
pub fn error_xml(code: &str, message: &str, request_id: &str) -> String {
    let kind = if code == "InternalFailure" { "Receiver" } else { "Sender" };
    format!(
        "<ErrorResponse xmlns=\"{STS_NAMESPACE}\"><Error><Type>{kind}</Type><Code>{}</Code>\
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
