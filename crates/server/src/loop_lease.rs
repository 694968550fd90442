//! Which replica runs each background loop (webhooks, triggers, mirrors, lease and queue
//! expiry): a `loop-lease` document per loop names its holder and until when it holds it.
//!
//! A pass of a loop begins with [`hold`]: the holder renews its lease, another replica takes
//! it only once it has expired (its holder died), and the claim is a version-checked write,
//! so two replicas never both hold one loop, on SQLite or PostgreSQL alike. Within a pass the
//! loops still move their cursors with version-checked writes, so even a pass that outlives
//! its lease cannot act twice on one event.

use engine::kinds::LOOP_LEASE;
use engine::store::{Document, Store, StoreError, Write};
use serde_json::json;

/// How long a lease lasts without renewal: a replica killed with -9 hands its loops over
/// after at most this long.
pub(crate) const LEASE_MS: i64 = 10_000;

/// Claims or renews the lease of the loop `name` for `holder` at `now_ms`; `false` when
/// another replica holds it.
pub(crate) async fn hold(
    store: &Store,
    name: &str,
    holder: &str,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let body = json!({ "holder": holder, "untilMs": now_ms + LEASE_MS });
    let write = match store.get(LOOP_LEASE, name).await? {
        Some(document) => {
            let mine = document.body["holder"] == holder;
            let expired = document.body["untilMs"].as_i64().unwrap_or(0) <= now_ms;
            if !mine && !expired {
                return Ok(false);
            }
            let expected_version = document.version;
            Write::Update { document: Document { body, ..document }, expected_version }
        }
        None => Write::Insert(Document {
            kind: LOOP_LEASE.to_owned(),
            key: name.to_owned(),
            parent: None,
            sort: 0,
            version: 0,
            body,
        }),
    };
    match store.apply(vec![write]).await {
        Ok(()) => Ok(true),
        Err(StoreError::Conflict { .. } | StoreError::AlreadyExists { .. }) => Ok(false),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests;
