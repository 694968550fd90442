//! Snapshots of the documents of some kinds, for tests that check one transition: the state
//! before and after, and exactly what changed (`document <kind> <key> added|removed|changed`).
//! Each service crate's `state_snapshot` names its kinds; the server's adds jobs and logs.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Store, StoreError};

/// The state: `document <kind> <key>` to its parent, sort, version and body.
pub type Snapshot = BTreeMap<String, Value>;

/// Every document of `kinds` in the store.
pub async fn snapshot(store: &Store, kinds: &[&str]) -> Result<Snapshot, StoreError> {
    let mut state = Snapshot::new();
    for kind in kinds {
        for document in store.list_all(kind, None).await? {
            state.insert(
                format!("document {kind} {}", document.key),
                json!({
                    "parent": document.parent,
                    "sort": document.sort,
                    "version": document.version,
                    "body": document.body,
                }),
            );
        }
    }
    Ok(state)
}

/// What differs between two snapshots: each entry's name with `added`, `removed` or
/// `changed`, in order.
pub fn changes(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    let mut entries: Vec<&String> = before.keys().chain(after.keys()).collect();
    entries.sort();
    entries.dedup();
    entries
        .into_iter()
        .filter_map(|name| {
            let what = match (before.get(name), after.get(name)) {
                (None, Some(_)) => "added",
                (Some(_), None) => "removed",
                (Some(old), Some(new)) if old != new => "changed",
                _ => return None,
            };
            Some(format!("{name} {what}"))
        })
        .collect()
}
