//! The AWS route's deadline and its answer to an oversized body.

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;

#[tokio::test]
async fn a_request_past_its_deadline_answers_an_aws_timeout_error() {
    let never = std::future::pending::<axum::response::Response>();
    let response = super::with_deadline(Duration::from_millis(10), never).await;
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(response.headers()["x-amzn-errortype"], "RequestTimeoutException");
    let done = async { (StatusCode::OK, "fine").into_response() };
    let response = super::with_deadline(Duration::from_secs(600), done).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[test]
fn an_oversized_body_is_the_services_own_error() {
    assert_eq!(
        super::too_large("CodeCommit_20150413.PutFile").code,
        "FileContentSizeLimitExceededException"
    );
    assert_eq!(super::too_large("AmazonSSM.PutParameter").code, "RequestEntityTooLargeException");
}
