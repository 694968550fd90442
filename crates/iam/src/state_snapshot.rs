//! Snapshots of every document of the kinds the IAM API writes, for unit tests: a test
//! compares the state before and after one transition and asserts exactly what changed (as
//! `codecommit`'s and the server's `state_snapshot` do); and the identity the tests share.

use awsapi::Caller;
use engine::kinds;
use engine::store::Store;

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
    kinds::STS_SESSION,
    kinds::USER,
];

pub(crate) use engine::store::snapshot::{Snapshot, changes};

/// Every document of [`KINDS`] in the store.
pub(crate) async fn snapshot(store: &Store) -> Snapshot {
    engine::store::snapshot::snapshot(store, KINDS).await.unwrap()
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
