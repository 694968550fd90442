//! Snapshots of every document of the kinds CodeCommit writes, for unit tests: a test compares
//! the state before and after one transition and asserts exactly what changed (the server's
//! `state_snapshot` does the same over every kind of the installation).

use engine::kinds;
use engine::store::Store;

/// Every document kind this crate writes.
const KINDS: &[&str] = &[
    kinds::APPROVAL_RULE_TEMPLATE,
    kinds::APPROVAL_RULE_TEMPLATE_ASSOCIATION,
    kinds::BRANCH_PROTECTION,
    kinds::MIRROR,
    kinds::MIRROR_CURSOR,
    kinds::PULL_REQUEST,
    kinds::PULL_REQUEST_COMMENT,
    kinds::REF_EVENT,
    kinds::REPOSITORY,
    kinds::REPOSITORY_TRIGGERS,
    kinds::TRIGGER_CURSOR,
    kinds::TRIGGER_DELIVERY,
];

pub(crate) use engine::store::snapshot::{Snapshot, changes};

/// Every document of [`KINDS`] in the store.
pub(crate) async fn snapshot(store: &Store) -> Snapshot {
    engine::store::snapshot::snapshot(store, KINDS).await.unwrap()
}
