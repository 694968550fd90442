//! The agent's clock: the one place that reads the time.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, with millisecond precision (AWS timestamps).
#[allow(clippy::disallowed_methods)]
pub(crate) fn now() -> f64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    (since.as_millis() as f64) / 1000.0
}

/// A monotonic instant, for timeouts.
#[allow(clippy::disallowed_methods)]
pub(crate) fn instant() -> Instant {
    Instant::now()
}

/// Nanoseconds since the Unix epoch, for ordering cache entries by when they were saved.
#[allow(clippy::disallowed_methods)]
pub(crate) fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX))
}
