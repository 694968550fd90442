//! Retention: the events older than the retention time (90 days by default, as CloudTrail's
//! event history keeps them) are deleted, oldest first, in batches of one transaction each.

use std::time::Duration;

use awsapi::ApiError;
use engine::kinds;
use engine::store::{ListQuery, Store, Write};

use crate::event::Event;

/// CloudTrail's event history keeps 90 days.
pub const DEFAULT_RETENTION_DAYS: u32 = 90;

/// How many events one deletion transaction removes at most.
pub const BATCH: i64 = 500;

/// How often the retention loop looks for old events.
pub const INTERVAL: Duration = Duration::from_secs(600);

/// `days` in milliseconds.
pub fn days_ms(days: u32) -> i64 {
    i64::from(days) * 24 * 60 * 60 * 1000
}

/// Deletes up to `batch` of the oldest events whose time is before `cutoff_ms`, in one
/// transaction; returns how many it deleted (fewer than `batch` says none are left). Events
/// are read in the order they were recorded; the first one that is not older ends the batch.
pub async fn delete_older_than(
    store: &Store,
    cutoff_ms: i64,
    batch: i64,
) -> Result<usize, ApiError> {
    let query = ListQuery {
        kind: kinds::CLOUDTRAIL_EVENT.to_owned(),
        parent: None,
        descending: false,
        after: None,
        limit: batch,
    };
    let page = store.list(&query).await?;
    let mut writes = Vec::new();
    for document in page.documents {
        let time = serde_json::from_value::<Event>(document.body).map_or(0, |it| it.time_ms());
        if time >= cutoff_ms {
            break;
        }
        writes.push(Write::Delete { kind: kinds::CLOUDTRAIL_EVENT.to_owned(), key: document.key });
    }
    let deleted = writes.len();
    if deleted > 0 {
        store.apply(writes).await?;
    }
    Ok(deleted)
}

/// One pass of the retention loop at `now`: deletes every event older than `retention_days`,
/// batch by batch; returns how many it deleted.
pub async fn expire(store: &Store, now: i64, retention_days: u32) -> Result<usize, ApiError> {
    let cutoff = now.saturating_sub(days_ms(retention_days));
    let mut total = 0;
    loop {
        let deleted = delete_older_than(store, cutoff, BATCH).await?;
        total += deleted;
        if deleted < usize::try_from(BATCH).unwrap_or(usize::MAX) {
            return Ok(total);
        }
    }
}

#[cfg(test)]
mod tests;
