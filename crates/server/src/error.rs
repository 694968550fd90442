//! API errors in the AWS JSON protocol's shape.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// An error answered to an API client: `{"__type": code, "message": …}` with an HTTP status.
/// Codes are the exception names of the botocore service models, so the `aws` CLI and the
/// SDKs report them as AWS would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: String,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError { status, code: code.to_owned(), message: message.into() }
    }

    /// A client error (400) with a model exception name.
    pub(crate) fn client(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// An internal failure: the client learns only that, the log gets the detail.
    pub(crate) fn internal(detail: impl std::fmt::Display) -> ApiError {
        tracing::error!(%detail, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalFailure",
            "The request processing has failed because of an unknown error, exception or failure.",
        )
    }
}

impl From<engine::store::StoreError> for ApiError {
    fn from(err: engine::store::StoreError) -> ApiError {
        ApiError::internal(err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "__type": self.code, "message": self.message }).to_string();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert("content-type", HeaderValue::from_static("application/x-amz-json-1.1"));
        if let Ok(code) = HeaderValue::from_str(&self.code) {
            headers.insert("x-amzn-errortype", code);
        }
        response
    }
}
