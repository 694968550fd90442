//! API errors on the wire: the one place an [`ApiError`]'s kind becomes an HTTP status, and
//! the AWS JSON 1.1 error response.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

pub(crate) use awsapi::{ApiError, ErrorKind};

/// The HTTP status each kind of error answers.
pub(crate) fn status(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Client | ErrorKind::NotFound | ErrorKind::Conflict | ErrorKind::Throttled => {
            StatusCode::BAD_REQUEST
        }
        ErrorKind::Unauthenticated | ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::EntityNotFound => StatusCode::NOT_FOUND,
        ErrorKind::EntityConflict => StatusCode::CONFLICT,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The kind of error a body axum could not read is: too large, or broken off.
pub(crate) fn body_kind(status: StatusCode) -> ErrorKind {
    if status == StatusCode::PAYLOAD_TOO_LARGE { ErrorKind::TooLarge } else { ErrorKind::Client }
}

/// `err` in the AWS JSON 1.1 protocol: `{"__type": code, "message": …}` with its status.
pub(crate) fn json_response(err: &ApiError) -> Response {
    let mut response = (status(err.kind), awsapi::json::error_body(err)).into_response();
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static(awsapi::json::CONTENT_TYPE));
    if let Ok(code) = HeaderValue::from_str(&err.code) {
        headers.insert("x-amzn-errortype", code);
    }
    response
}
