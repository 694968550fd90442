//! Retention: the events older than the retention time (90 days by default, as CloudTrail's
//! event history keeps them) are deleted, oldest first, a chunk (`crate::chunk`) once its
//! latest event is older, in batches of one transaction each. And the upgrade of a store from
//! before chunks: [`chunk_single_events`].

use std::time::Duration;

use awsapi::ApiError;
use engine::kinds;
use engine::store::{ListQuery, Store, Write};

use crate::chunk::{Chunk, Facts, Gathering};
use crate::event::Event;

/// CloudTrail's event history keeps 90 days.
pub const DEFAULT_RETENTION_DAYS: u32 = 90;

/// How many chunks one deletion transaction removes at most.
pub const BATCH: i64 = 20;

/// How often the retention loop looks for old events.
pub const INTERVAL: Duration = Duration::from_secs(600);

/// `days` in milliseconds.
pub fn days_ms(days: u32) -> i64 {
    i64::from(days) * 24 * 60 * 60 * 1000
}

/// Deletes up to `batch` of the oldest chunks whose latest event is before `cutoff_ms`, in one
/// transaction; returns how many chunks it deleted (fewer than `batch` says none are left) and
/// how many events they held. Chunks are read in the order they were written; the first one
/// that is not older ends the batch.
pub async fn delete_older_than(
    store: &Store,
    cutoff_ms: i64,
    batch: i64,
) -> Result<(usize, usize), ApiError> {
    let query = ListQuery {
        kind: kinds::CLOUDTRAIL_CHUNK.to_owned(),
        parent: None,
        descending: false,
        after: None,
        limit: batch,
    };
    let page = store.list(&query).await?;
    let mut writes = Vec::new();
    let mut events = 0;
    for document in page.documents {
        // An unreadable chunk is as old as its neighbours: it goes with them.
        let (time, count) =
            Chunk::from_body(document.body).map_or((0, 0), |it| (it.last_time, it.count));
        if time >= cutoff_ms {
            break;
        }
        events += count;
        writes.push(Write::Delete { kind: kinds::CLOUDTRAIL_CHUNK.to_owned(), key: document.key });
    }
    let deleted = writes.len();
    if deleted > 0 {
        store.apply(writes).await?;
    }
    Ok((deleted, events))
}

/// One pass of the retention loop at `now`: deletes every event older than `retention_days`,
/// batch by batch; returns how many events it deleted.
pub async fn expire(store: &Store, now: i64, retention_days: u32) -> Result<usize, ApiError> {
    let cutoff = now.saturating_sub(days_ms(retention_days));
    let mut total = 0;
    loop {
        let (chunks, events) = delete_older_than(store, cutoff, BATCH).await?;
        total += events;
        if chunks < usize::try_from(BATCH).unwrap_or(usize::MAX) {
            return Ok(total);
        }
    }
}

/// How many single events one upgrade transaction makes a chunk of.
const UPGRADE_BATCH: i64 = 1000;

/// Makes the events a store from before chunks kept one document each
/// ([`kinds::CLOUDTRAIL_EVENT`]) chunks, oldest first, each chunk written and its events'
/// documents deleted in one transaction (a crash in between leaves every event once, in one
/// form or the other); returns how many events it moved. The server runs it when it starts,
/// before its first flush, so the moved events are numbered before any new one.
pub async fn chunk_single_events(store: &Store) -> Result<usize, ApiError> {
    let mut moved = 0;
    loop {
        let query = ListQuery {
            kind: kinds::CLOUDTRAIL_EVENT.to_owned(),
            parent: None,
            descending: false,
            after: None,
            limit: UPGRADE_BATCH,
        };
        let page = store.list(&query).await?;
        if page.documents.is_empty() {
            return Ok(moved);
        }
        let mut chunk = Gathering::default();
        let mut writes = Vec::with_capacity(page.documents.len() + 1);
        for document in page.documents {
            let text = document.body.to_string();
            match serde_json::from_value::<Event>(document.body) {
                Ok(event) => chunk.push(text.as_bytes(), Facts::of(&event)),
                // Kept as it is, found by no attribute but the time 0.
                Err(_) => chunk.push(
                    text.as_bytes(),
                    Facts {
                        time_ms: 0,
                        user_name: None,
                        access_key_id: None,
                        event_source: "",
                        region: "",
                    },
                ),
            }
            writes.push(Write::Delete {
                kind: kinds::CLOUDTRAIL_EVENT.to_owned(),
                key: document.key,
            });
        }
        moved += chunk.len();
        let mut chunk_writes = chunk.writes().map_err(ApiError::internal)?;
        chunk_writes.extend(writes);
        let writes = chunk_writes;
        store.apply(writes).await?;
    }
}

#[cfg(test)]
mod tests;
