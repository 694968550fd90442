//! A store failure as an AWS API error: to a client it is an internal failure (the log gets
//! the detail), so service functions can use `?` on store calls.

use awsapi::ApiError;

use crate::store::StoreError;

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> ApiError {
        ApiError::internal(err)
    }
}
