//! The bounds of an AWS API request (`POST /`): how large its body may be and how long the
//! server works on it. A body over the limit and a request over its time are answered in
//! the AWS JSON error shape the clients parse, never as axum's plain text.

use std::future::Future;
use std::time::Duration;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

use crate::error::{ApiError, ErrorKind, json_response};

/// The largest AWS request body: PutFile's 6 MB file (CreateCommit's 7 MB of changes)
/// base64-encoded inside JSON, with room to spare.
pub(crate) const MAX_BODY: usize = 12 * 1024 * 1024;

/// How long the server works on one AWS request before it answers that it gave up. Git
/// runs inside have their own, shorter, bounds (`process::run_bounded`).
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// The middleware of the AWS route: the deadline, and AWS-shaped answers to a body over
/// [`MAX_BODY`].
pub(crate) async fn aws_request(request: Request, next: Next) -> Response {
    let target = request
        .headers()
        .get("x-amz-target")
        .and_then(|it| it.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let response = with_deadline(REQUEST_TIMEOUT, next.run(request)).await;
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE
        && response.headers().get("x-amzn-errortype").is_none()
    {
        return json_response(&too_large(&target));
    }
    response
}

/// What a body over the limit is, for the operation `target` names.
pub(crate) fn too_large(target: &str) -> ApiError {
    let limit = MAX_BODY / (1024 * 1024);
    if target.starts_with("CodeCommit_") {
        return ApiError::client(
            "FileContentSizeLimitExceededException",
            "The file cannot be added because it is too large. The maximum file size is 6 MB, and the combined file content change size is 7 MB. Consider making these changes using a Git client.",
        );
    }
    ApiError::new(
        ErrorKind::TooLarge,
        "RequestEntityTooLargeException",
        format!("The request body is larger than {limit} MiB"),
    )
}

/// `work`'s response, or a timeout error once `limit` has passed (the work is dropped, and
/// with it the git processes it started).
pub(crate) async fn with_deadline(
    limit: Duration,
    work: impl Future<Output = Response>,
) -> Response {
    match tokio::time::timeout(limit, work).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(seconds = limit.as_secs(), "an AWS request timed out");
            json_response(&ApiError::new(
                ErrorKind::Timeout,
                "RequestTimeoutException",
                format!("The request was not finished within {} seconds", limit.as_secs()),
            ))
        }
    }
}

#[cfg(test)]
mod tests;
