//! Tests of how the agent API reads request bodies: rejections come in the agent protocol's
//! JSON error shape, never as axum's plain text.

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use protocol::agent::{AgentApiError, RegisterRequest};

use super::{AgentBody, AgentJson};

async fn error_of(response: axum::response::Response) -> (StatusCode, AgentApiError) {
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn a_body_over_the_limit_is_too_large_in_the_protocols_shape() {
    // Without the router's layer, axum's default limit (2 MB) applies.
    let request = Request::new(Body::from(vec![b' '; 3 << 20]));
    let Err(rejection) = AgentBody::from_request(request, &()).await else {
        panic!("a 3 MB body passed the default limit");
    };
    let (status, error) = error_of(rejection.into_response()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error.code, "TooLarge");
}

#[tokio::test]
async fn malformed_json_is_a_bad_request_naming_the_problem() {
    let request = Request::new(Body::from(r#"{"name": 1}"#));
    let Err(rejection) = AgentJson::<RegisterRequest>::from_request(request, &()).await else {
        panic!("a malformed registration was accepted");
    };
    let (status, error) = error_of(rejection.into_response()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error.code, "BadRequest");
    assert!(error.message.contains("invalid type"), "{}", error.message);
}
