//! The AWS JSON 1.1 protocol's wire forms: the content type, the error body, and the rule
//! for what a request body may be.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::ApiError;

/// The `Content-Type` of every JSON 1.1 answer.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// An error's body: `{"__type": code, "message": …}` (the code also goes in the
/// `x-amzn-errortype` header).
pub fn error_body(err: &ApiError) -> String {
    serde_json::json!({ "__type": err.code, "message": err.message }).to_string()
}

/// A request body as the operation's input: a JSON object, where an empty (or blank) body
/// is `{}`.
pub fn input(body: &[u8]) -> Result<Value, ApiError> {
    let input: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(body).map_err(|err| {
            ApiError::client(
                "SerializationException",
                format!("The request body is not valid JSON: {err}"),
            )
        })?
    };
    if !input.is_object() {
        return Err(ApiError::client(
            "SerializationException",
            "The request body must be a JSON object",
        ));
    }
    Ok(input)
}

/// An operation's input as its typed struct (the struct's fields carry the botocore member
/// names). A member of the wrong type is a `SerializationException` that names the member by
/// its path (`environment.environmentVariables[0].value`); required members are the
/// operation's own business, since each service has its own error for a missing one.
pub fn typed<T: DeserializeOwned>(input: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(input).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let message = if path == "." {
            format!("The request body does not match the operation's input: {inner}")
        } else {
            format!("The request member {path} is not valid: {inner}")
        };
        ApiError::client("SerializationException", message)
    })
}

#[cfg(test)]
mod tests;
