//! The CodeCommit operation table: an operation's JSON input to the `codecommit` crate's
//! function for it, and its output back to JSON.

use serde_json::Value;

use crate::AppState;
use awsapi::{ApiError, Caller};

/// Runs the CodeCommit `operation` on its JSON `input`.
pub(crate) async fn call(
    state: &AppState,
    caller: &Caller,
    operation: &str,
    input: Value,
) -> Result<Value, ApiError> {
    codecommit::api::call(&state.codecommit(), caller, operation, input).await
}
