//! Snapshots of every document of the kinds IAM writes, for unit tests: a test compares
//! the state before and after one transition and asserts exactly what changed (the server's
//! `state_snapshot` does the same over every kind of the installation).

use std::collections::BTreeMap;

use engine::kinds;
use engine::store::Store;
use serde_json::{Value, json};

/// Every document kind this crate writes.
const KINDS: &[&str] = &[
    kinds::ACCESS_KEY,
    kinds::GIT_CREDENTIAL,
    kinds::GROUP,
    kinds::POLICY,
    kinds::ROLE,
    kinds::USER,
];

/// The state: `document <kind> <key>` to its contents.
pub(crate) type Snapshot = BTreeMap<String, Value>;

/// Every document of [`KINDS`] in the store.
pub(crate) async fn snapshot(store: &Store) -> Snapshot {
    let mut state = Snapshot::new();
    for kind in KINDS {
        for document in store.list_all(kind, None).await.unwrap() {
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
    state
}

/// What differs between two snapshots: each entry's name with `added`, `removed` or
/// `changed`, in order.
pub(crate) fn changes(before: &Snapshot, after: &Snapshot) -> Vec<String> {
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
