//! Snapshots of every document of the kinds the IAM API writes, for unit tests: a test
//! compares the state before and after one transition and asserts exactly what changed (as
//! `codecommit`'s and the server's `state_snapshot` do); and the identity the tests share.

use std::collections::BTreeMap;

use awsapi::Caller;
use engine::kinds;
use engine::store::Store;
use serde_json::{Value, json};

use crate::crypto::SecretBox;
use crate::identity::Identity;

/// Every document kind the IAM API writes (console sessions: it ends them).
const KINDS: &[&str] = &[
    kinds::ACCESS_KEY,
    kinds::CONSOLE_SESSION,
    kinds::GIT_CREDENTIAL,
    kinds::GROUP,
    kinds::POLICY,
    kinds::ROLE,
    kinds::SSH_PUBLIC_KEY,
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

/// An identity over a private in-memory store (account `000000000000`), with no user yet.
pub(crate) async fn identity() -> (Identity, Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let secrets = SecretBox::load_or_create(&dir.path().join("master.key"), true).unwrap();
    (Identity::new(store.clone(), secrets, "000000000000"), store, dir)
}

/// The caller `user`, signing with no particular key.
pub(crate) fn caller(user: &str) -> Caller {
    Caller { user: user.to_owned(), access_key_id: String::new(), host: "localhost".to_owned() }
}
