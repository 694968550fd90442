//! The error every AWS operation answers: a kind, the AWS exception name and a message.

/// What kind of failure an [`ApiError`] is. The server maps each kind to an HTTP status in
/// one place; the AWS JSON protocol answers every client error with 400, whatever its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is wrong (400): invalid input, an unknown operation, a bad signature.
    Client,
    /// What the request names does not exist (400, as AWS answers it).
    NotFound,
    /// The request conflicts with the current state (400, as AWS answers it).
    Conflict,
    /// The caller is asking too often (400, as AWS answers it).
    Throttled,
    /// What the request names does not exist, in a service that answers it with 404 (IAM's
    /// `NoSuchEntity`, `NotSupportedService`).
    EntityNotFound,
    /// The request conflicts with the current state, in a service that answers it with 409
    /// (IAM's `EntityAlreadyExists`, `DeleteConflict`, `LimitExceeded`).
    EntityConflict,
    /// The caller may not do this, in a service that answers it with 403 (IAM's
    /// `AccessDenied`).
    Forbidden,
    /// The request carries no credentials at all (403).
    Unauthenticated,
    /// The request body is larger than the server accepts (413).
    TooLarge,
    /// The server gave up on the request (504).
    Timeout,
    /// The server failed (500); the client learns only that.
    Internal,
}

/// An error answered to an API client: `{"__type": code, "message": …}` in JSON 1.1, or the
/// Query protocol's XML. Codes are the exception names of the botocore service models, so the
/// `aws` CLI and the SDKs report them as AWS would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(kind: ErrorKind, code: &str, message: impl Into<String>) -> ApiError {
        ApiError { kind, code: code.to_owned(), message: message.into() }
    }

    /// A client error with a model exception name.
    pub fn client(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::Client, code, message)
    }

    /// An internal failure: the client learns only that, the log gets the detail.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        tracing::error!(%detail, "internal error");
        ApiError::new(
            ErrorKind::Internal,
            "InternalFailure",
            "The request processing has failed because of an unknown error, exception or failure.",
        )
    }
}
