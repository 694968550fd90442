//! The CloudTrail operation table (`com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.*`):
//! `LookupEvents`, over the audit trail the recorder writes (it waits first for the events
//! this process recorded before the call); any other operation is an
//! `UnknownOperationException`.

use awsapi::ApiError;
use awsapi::json::typed;
use cloudtrail::lookup;
use serde_json::Value;

use crate::AppState;
use crate::audit::FLUSH_WAIT;

pub(crate) async fn call(
    state: &AppState,
    operation: &str,
    input: Value,
) -> Result<Value, ApiError> {
    match operation {
        "LookupEvents" => {
            let input = typed(input)?;
            state.audit.flush(FLUSH_WAIT).await;
            let output = lookup::lookup_events(&state.store, input).await?;
            serde_json::to_value(output).map_err(ApiError::internal)
        }
        _ => Err(ApiError::client(
            "UnknownOperationException",
            format!("Slipway does not implement the CloudTrail operation {operation} yet"),
        )),
    }
}
