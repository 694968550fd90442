//! The server's clock: the one place the engine and the server read the time.
//!
//! Everything else takes time as an argument, so that state transitions can be tested with
//! any time they like.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
#[allow(clippy::disallowed_methods)]
pub fn now_ms() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// Milliseconds as AWS timestamps are written: seconds since the epoch, as a float.
pub fn aws_timestamp(ms: i64) -> f64 {
    ms as f64 / 1000.0
}
