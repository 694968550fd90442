//! The store's conformance suite, run against every backend: SQLite in a file, SQLite in
//! memory, and PostgreSQL when `SLIPWAY_TEST_DATABASE_URL` names a server (`cargo xtask test`
//! starts one). Under `CI` a missing PostgreSQL is a failure, so CI never skips it silently.
//!
//! Each part of the suite uses its own document kinds, job kinds, counters and log streams,
//! so the parts share one store without seeing each other.

// The tests read the environment (which database) and the clock (unique database names).
#![allow(clippy::disallowed_methods)]

use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU32, Ordering};

use futures::FutureExt;
use serde_json::json;

use super::*;

// ---------------------------------------------------------------------------------------
// The backends.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    // A directory that does not exist yet: connect creates it.
    let url = format!("sqlite:{}", dir.path().join("data/slipway.db").display());
    let store = Store::connect(&url).await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    store_suite(&store).await;
    reopening_keeps_data_and_migrations_are_a_no_op(store, &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_memory_store_conforms() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    store_suite(&store).await;
    // Each in-memory store is its own database.
    let other = Store::connect("sqlite::memory:").await.unwrap();
    assert!(store.get("doc", "a").await.unwrap().is_some());
    assert_eq!(other.get("doc", "a").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_conforms() {
    let Some(server_url) = postgres_url() else { return };
    let database = TestDatabase::create(&server_url).await;
    let store = Store::connect(&database.url).await.unwrap();
    assert_eq!(store.backend(), Backend::Postgres);
    // The database is dropped whether the suite passes or not.
    let outcome = AssertUnwindSafe(async {
        store_suite(&store).await;
        // Connecting again runs the migrations again: a no-op.
        let again = Store::connect(&database.url).await.unwrap();
        assert_eq!(migration_count(&again).await, POSTGRES_MIGRATIONS.len());
        again.close().await;
    })
    .catch_unwind()
    .await;
    store.close().await;
    database.remove().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Two stores on one file do not share the writer lock, so this is SQLite's own locking at
/// work: `BEGIN IMMEDIATE` and the busy timeout must turn contention into waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sqlite_stores_on_one_file_never_fail_busy() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("shared.db").display());
    let first = Store::connect(&url).await.unwrap();
    let second = Store::connect(&url).await.unwrap();
    let mut tasks = Vec::new();
    for task in 0..8 {
        let store = if task % 2 == 0 { first.clone() } else { second.clone() };
        tasks.push(tokio::spawn(async move { hammer(&store, "busy", task).await }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let page = first.list(&list_query("busy-doc", None, false, None, 1000)).await.unwrap();
    assert_eq!(page.documents.len(), 8 * 10);
}

/// A file database is read without sqlx (`sqlite/readers.rs`): reads go on while every one of
/// sqlx's connections is taken, and a write made through another store on the same file (as
/// another process would) is seen at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_reads_need_no_sqlx_connection() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("reads.db").display());
    let store = Store::connect(&url).await.unwrap();
    let other = Store::connect(&url).await.unwrap();
    let Inner::Sqlite(sqlite) = &store.inner else { unreachable!("a SQLite URL") };
    let mut taken = Vec::new();
    for _ in 0..sqlite.pool().options().get_max_connections() {
        taken.push(sqlite.pool().acquire().await.unwrap());
    }
    for round in 0..20 {
        let key = format!("k{round}");
        other
            .apply(vec![Write::Put(document("reads", &key, None, round, json!({"r": round})))])
            .await
            .unwrap();
        let read =
            tokio::time::timeout(std::time::Duration::from_secs(30), store.get("reads", &key));
        let found = read.await.expect("a read waited for sqlx's pool").unwrap();
        assert_eq!(found.map(|it| it.body), Some(json!({"r": round})));
    }
    drop(taken);
    // After close, reads fail as sqlx's do.
    store.close().await;
    let err = store.get("reads", "k0").await.unwrap_err();
    assert!(matches!(err, StoreError::Database(sqlx::Error::PoolClosed)), "{err}");
    assert!(other.get("reads", "k0").await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_urls_are_refused() {
    for url in ["mysql://localhost/db", "", "file.db"] {
        let err = Store::connect(url).await.unwrap_err();
        assert!(matches!(err, StoreError::BadUrl(_)), "{url}: {err}");
    }
    let err = Store::connect("postgres://user:secret@[bad").await.unwrap_err();
    assert!(matches!(&err, StoreError::BadUrl(message) if !message.contains("secret")), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watched_kinds_count_the_batches_that_write_them() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let keys = store.watch("watched-key");
    // Asking again, or through a clone, gives the same counter.
    let same = store.clone().watch("watched-key");
    let document = |kind: &str, key: &str| Document {
        kind: kind.to_owned(),
        key: key.to_owned(),
        parent: None,
        sort: 0,
        version: 0,
        body: json!({}),
    };
    assert_eq!(keys.current(), 0);
    store.apply(vec![Write::Put(document("other-kind", "a"))]).await.unwrap();
    assert_eq!(keys.current(), 0, "another kind's write does not count");
    store.apply(vec![Write::Insert(document("watched-key", "a"))]).await.unwrap();
    assert_eq!((keys.current(), same.current()), (1, 1));
    // A failed batch counts too (it may have been the one that committed, for all a reader
    // knows), and so do deletes.
    store.apply(vec![Write::Insert(document("watched-key", "a"))]).await.unwrap_err();
    assert_eq!(keys.current(), 2);
    let delete = Write::Delete { kind: "watched-key".into(), key: "a".into() };
    store.apply(vec![delete, Write::DeleteLog { stream: "s".into() }]).await.unwrap();
    assert_eq!(keys.current(), 3);
    let children = Write::DeleteChildren { kind: "watched-key".into(), parent: "p".into() };
    store.apply(vec![children]).await.unwrap();
    assert_eq!(keys.current(), 4);
}

// ---------------------------------------------------------------------------------------
// The suite.

async fn store_suite(store: &Store) {
    documents(store).await;
    batches_are_all_or_nothing(store).await;
    listing(store).await;
    counters(store).await;
    numbered_inserts(store).await;
    queue_matching(store).await;
    queue_leases(store).await;
    queue_concurrency(store).await;
    concurrent_writers(store).await;
    logs(store).await;
    batched_leases_and_logs(store).await;
    reads_see_every_committed_write(store).await;
}

async fn documents(store: &Store) {
    let a = document("doc", "a", Some("p"), 5, json!({"name": "a", "n": [1, 2.5, null]}));
    let b = document("doc", "b", None, -3, json!({"name": "b"}));
    // Text SQLite accepts must survive PostgreSQL too (jsonb would refuse the NUL).
    let c = document("doc", "c", None, 0, json!({"text": "nul \u{0} é 🚢", "big": i64::MAX}));
    // A version on an insert is ignored: the store sets 1.
    let mut a_with_version = a.clone();
    a_with_version.version = 42;
    store
        .apply(vec![
            Write::Insert(a_with_version),
            Write::Insert(b.clone()),
            Write::Insert(c.clone()),
        ])
        .await
        .unwrap();
    assert_eq!(store.get("doc", "a").await.unwrap(), Some(versioned(&a, 1)));
    assert_eq!(store.get("doc", "c").await.unwrap(), Some(versioned(&c, 1)));
    assert_eq!(store.get("doc", "missing").await.unwrap(), None);
    assert_eq!(store.get("other-kind", "a").await.unwrap(), None);

    let keys = ["c", "missing", "a", "b", "a"].map(str::to_owned);
    let many = store.get_many("doc", &keys).await.unwrap();
    assert_eq!(keys_of(&many), ["c", "a", "b", "a"]);
    assert!(store.get_many("doc", &[]).await.unwrap().is_empty());
    // The same documents with their bodies as JSON text, which parses to what was stored.
    let raw = store.get_many_raw("doc", &keys).await.unwrap();
    let parsed: Vec<Document> = raw.iter().map(|it| it.parse().unwrap()).collect();
    assert_eq!(parsed, many);
    let body: serde_json::Value = serde_json::from_str(raw[0].body.get()).unwrap();
    assert_eq!(body, c.body);

    let err = store.apply(vec![Write::Insert(a.clone())]).await.unwrap_err();
    assert!(is_error(&err, "AlreadyExists", "doc", "a"), "{err}");

    // Update: the expected version must match; every field but the key may change.
    let a2 = document("doc", "a", Some("q"), 6, json!({"name": "a2"}));
    store.apply(vec![Write::Update { document: a2.clone(), expected_version: 1 }]).await.unwrap();
    assert_eq!(store.get("doc", "a").await.unwrap(), Some(versioned(&a2, 2)));
    let err = store.apply(vec![Write::Update { document: a.clone(), expected_version: 1 }]).await;
    assert!(is_error(&err.unwrap_err(), "Conflict", "doc", "a"));
    assert_eq!(store.get("doc", "a").await.unwrap(), Some(versioned(&a2, 2)));
    let ghost = document("doc", "ghost", None, 0, json!({}));
    let err = store.apply(vec![Write::Update { document: ghost, expected_version: 1 }]).await;
    assert!(is_error(&err.unwrap_err(), "NotFound", "doc", "ghost"));

    // Put inserts or replaces, bumping the version.
    let d = document("doc", "d", None, 1, json!("just a string"));
    store.apply(vec![Write::Put(d.clone())]).await.unwrap();
    assert_eq!(store.get("doc", "d").await.unwrap(), Some(versioned(&d, 1)));
    let d2 = document("doc", "d", Some("p"), 2, json!({"replaced": true}));
    store.apply(vec![Write::Put(d2.clone())]).await.unwrap();
    assert_eq!(store.get("doc", "d").await.unwrap(), Some(versioned(&d2, 2)));
    store.apply(vec![Write::Put(a.clone())]).await.unwrap();
    assert_eq!(store.get("doc", "a").await.unwrap(), Some(versioned(&a, 3)));

    // Delete, also of what is not there.
    store.apply(vec![Write::Delete { kind: "doc".to_owned(), key: "a".to_owned() }]).await.unwrap();
    assert_eq!(store.get("doc", "a").await.unwrap(), None);
    store.apply(vec![Write::Delete { kind: "doc".to_owned(), key: "a".to_owned() }]).await.unwrap();
    // A deleted document can be inserted again, from version 1.
    store.apply(vec![Write::Insert(a.clone())]).await.unwrap();
    assert_eq!(store.get("doc", "a").await.unwrap(), Some(versioned(&a, 1)));
    // An empty batch is fine.
    store.apply(Vec::new()).await.unwrap();
}

async fn batches_are_all_or_nothing(store: &Store) {
    let existing = document("atomic", "existing", None, 0, json!({"v": 1}));
    let keep = document("atomic", "keep", None, 0, json!({"keep": true}));
    store.apply(vec![Write::Insert(existing.clone()), Write::Insert(keep.clone())]).await.unwrap();

    // The failing write comes last: the ones before it must be undone.
    let err = store
        .apply(vec![
            Write::Insert(document("atomic", "x1", None, 0, json!({}))),
            Write::Put(document("atomic", "x2", None, 0, json!({}))),
            Write::Update {
                document: document("atomic", "existing", None, 9, json!({"v": 2})),
                expected_version: 1,
            },
            Write::Delete { kind: "atomic".to_owned(), key: "keep".to_owned() },
            Write::Enqueue(job("atomic-job", "atomic", &[], 1)),
            Write::Insert(document("atomic", "existing", None, 0, json!({}))),
        ])
        .await
        .unwrap_err();
    assert!(is_error(&err, "AlreadyExists", "atomic", "existing"), "{err}");
    assert_eq!(store.get("atomic", "x1").await.unwrap(), None);
    assert_eq!(store.get("atomic", "x2").await.unwrap(), None);
    assert_eq!(store.get("atomic", "existing").await.unwrap(), Some(versioned(&existing, 1)));
    assert_eq!(store.get("atomic", "keep").await.unwrap(), Some(versioned(&keep, 1)));
    assert!(!queued_ids(store, "atomic").await.contains(&"atomic-job".to_owned()));

    // A conflict in the middle undoes a completed job and an earlier insert.
    store.apply(vec![Write::Enqueue(job("atomic-job", "atomic", &[], 1))]).await.unwrap();
    let err = store
        .apply(vec![
            Write::CompleteJob { job_id: "atomic-job".to_owned() },
            Write::Insert(document("atomic", "x3", None, 0, json!({}))),
            Write::Update { document: existing.clone(), expected_version: 7 },
            Write::Insert(document("atomic", "x4", None, 0, json!({}))),
        ])
        .await
        .unwrap_err();
    assert!(is_error(&err, "Conflict", "atomic", "existing"), "{err}");
    assert_eq!(store.get("atomic", "x3").await.unwrap(), None);
    assert_eq!(queued_ids(store, "atomic").await, ["atomic-job"]);

    // A duplicate job fails the batch like a duplicate document.
    let err = store
        .apply(vec![
            Write::Insert(document("atomic", "x5", None, 0, json!({}))),
            Write::Enqueue(job("atomic-job", "atomic", &[], 2)),
        ])
        .await
        .unwrap_err();
    assert!(is_error(&err, "AlreadyExists", "job", "atomic-job"), "{err}");
    assert_eq!(store.get("atomic", "x5").await.unwrap(), None);

    // And the same writes without the failing one all land.
    store
        .apply(vec![
            Write::Insert(document("atomic", "x1", None, 0, json!({}))),
            Write::CompleteJob { job_id: "atomic-job".to_owned() },
            Write::CompleteJob { job_id: "no-such-job".to_owned() },
            Write::ReleaseJob { job_id: "no-such-job".to_owned() },
        ])
        .await
        .unwrap();
    assert!(store.get("atomic", "x1").await.unwrap().is_some());
    assert!(queued_ids(store, "atomic").await.is_empty());
}

async fn listing(store: &Store) {
    // Ties on sort are broken by key; keys compare bytewise ("B" < "a" < "b" < "é").
    let specs: &[(&str, Option<&str>, i64)] = &[
        ("k01", Some("p1"), 10),
        ("k02", Some("p2"), 10),
        ("a", Some("p1"), 10),
        ("B", Some("p1"), 10),
        ("é", Some("p2"), 10),
        ("k03", None, -7),
        ("k04", Some("p1"), 3),
        ("k05", Some("p2"), 99),
        ("k06", Some("p1"), 99),
        ("k07", None, 0),
        ("k:08", Some("p1"), 3),
    ];
    let writes = specs
        .iter()
        .map(|(key, parent, sort)| {
            Write::Insert(document("listed", key, *parent, *sort, json!({"key": key})))
        })
        .collect();
    store.apply(writes).await.unwrap();
    // Another kind with the same parents must not show up.
    store
        .apply(vec![Write::Insert(document("unlisted", "x", Some("p1"), 0, json!({})))])
        .await
        .unwrap();

    let mut expected: Vec<(i64, &str)> = specs.iter().map(|(key, _, sort)| (*sort, *key)).collect();
    expected.sort_by(|x, y| x.0.cmp(&y.0).then(x.1.as_bytes().cmp(y.1.as_bytes())));
    let expected: Vec<&str> = expected.into_iter().map(|(_, key)| key).collect();
    let mut reversed = expected.clone();
    reversed.reverse();
    let p1: Vec<&str> = expected
        .iter()
        .copied()
        .filter(|key| specs.iter().any(|(k, parent, _)| k == key && *parent == Some("p1")))
        .collect();

    for limit in [1, 3, 4, 11, 50] {
        assert_eq!(
            paged_keys(store, "listed", None, false, limit).await,
            expected,
            "limit {limit}"
        );
        assert_eq!(paged_keys(store, "listed", None, true, limit).await, reversed, "limit {limit}");
        assert_eq!(
            paged_keys(store, "listed", Some("p1"), false, limit).await,
            p1,
            "limit {limit}"
        );
    }
    let keys = |documents: Vec<Document>| -> Vec<String> {
        documents.into_iter().map(|document| document.key).collect()
    };
    assert_eq!(keys(store.list_all("listed", None).await.unwrap()), expected);
    assert_eq!(keys(store.list_all("listed", Some("p1")).await.unwrap()), p1);
    let mut p1_reversed = p1.clone();
    p1_reversed.reverse();
    assert_eq!(paged_keys(store, "listed", Some("p1"), true, 2).await, p1_reversed);

    // Pages are full until the last, which has no cursor: 11 documents by 4 are 4, 4, 3.
    let first = store.list(&list_query("listed", None, false, None, 4)).await.unwrap();
    assert_eq!(first.documents.len(), 4);
    let second =
        store.list(&list_query("listed", None, false, first.next.clone(), 4)).await.unwrap();
    let third =
        store.list(&list_query("listed", None, false, second.next.clone(), 4)).await.unwrap();
    assert_eq!((second.documents.len(), third.documents.len()), (4, 3));
    assert_eq!(third.next, None);
    // Documents come back whole.
    assert_eq!(first.documents[0].body, json!({"key": expected[0]}));
    assert_eq!(first.documents[0].version, 1);
    // From a remembered place on: the same as the store's own cursor.
    let fourth = &first.documents[3];
    let cursor = super::cursor_after(fourth.sort, &fourth.key);
    assert_eq!(Some(&cursor), first.next.as_ref());
    let rest = store.list_all_after("listed", None, Some(cursor)).await.unwrap();
    assert_eq!(keys(rest), expected[4..]);
    // An exact fit has no cursor either.
    let exact = store.list(&list_query("listed", None, false, None, 11)).await.unwrap();
    assert_eq!((exact.documents.len(), exact.next), (11, None));
    // Limits out of range are clamped.
    let clamped = store.list(&list_query("listed", None, false, None, 0)).await.unwrap();
    assert_eq!(clamped.documents.len(), 1);

    let empty = store.list(&list_query("nothing-here", None, false, None, 10)).await.unwrap();
    assert_eq!(empty, Page { documents: Vec::new(), next: None });
    let none = store.list(&list_query("listed", Some("p9"), true, None, 10)).await.unwrap();
    assert!(none.documents.is_empty());

    for bad in ["zz", "abc", "3a", "", "ffff"] {
        let err = store.list(&list_query("listed", None, false, Some(bad.to_owned()), 3)).await;
        assert!(matches!(err, Err(StoreError::BadCursor)), "cursor {bad:?}");
    }
}

async fn numbered_inserts(store: &Store) {
    let numbered = |key: &str| Write::InsertNumbered {
        counter: "events/r".to_owned(),
        document: document("numbered", key, Some("r"), 0, json!({ "key": key })),
    };
    // Numbers in batch order, in the key (zero-padded) and the sort.
    store.apply(vec![numbered("r/"), numbered("r/")]).await.unwrap();
    let page = store.list(&list_query("numbered", Some("r"), false, None, 10)).await.unwrap();
    let found: Vec<(String, i64)> =
        page.documents.iter().map(|it| (it.key.clone(), it.sort)).collect();
    assert_eq!(found, [("r/000000000001".to_owned(), 1), ("r/000000000002".to_owned(), 2)]);
    // A batch that fails takes no number with it.
    let failing = vec![
        numbered("r/"),
        Write::Insert(document("numbered", "r/000000000001", Some("r"), 0, json!({}))),
    ];
    assert!(matches!(store.apply(failing).await, Err(StoreError::AlreadyExists { .. })));
    assert_eq!(store.next_counter("events/r").await.unwrap(), 3);
    // Concurrent batches share out the numbers without a gap or a repeat.
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let store = store.clone();
        let write = numbered("r/");
        tasks.push(tokio::spawn(async move { store.apply(vec![write]).await.unwrap() }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let page = store.list(&list_query("numbered", Some("r"), false, None, 100)).await.unwrap();
    let sorts: Vec<i64> = page.documents.iter().map(|it| it.sort).collect();
    assert_eq!(sorts, [1, 2].into_iter().chain(4..=13).collect::<Vec<_>>());

    // A batch of one counter: numbered on from there, in order, across several multi-row
    // inserts (250 rows: three statements), with their own bodies.
    let documents: Vec<RawDocument> = (0..250)
        .map(|index| raw(document("numbered-batch", "b/", Some("b"), 0, json!({ "index": index }))))
        .collect();
    let batch = Write::InsertNumberedBatch { counter: "events/r".to_owned(), documents };
    store.apply(vec![batch, numbered("r/")]).await.unwrap();
    let all = store.list_all("numbered-batch", Some("b")).await.unwrap();
    assert_eq!(all.len(), 250);
    for (index, found) in all.iter().enumerate() {
        let number = 14 + index as i64;
        assert_eq!((found.sort, found.body["index"].as_i64()), (number, Some(index as i64)));
        assert_eq!(found.key, numbered_key("b/", number));
        assert_eq!(found.version, 1);
    }
    assert_eq!(store.next_counter("events/r").await.unwrap(), 265);
    // One taken key fails the whole batch, and it takes no number.
    let taken = vec![
        raw(document("numbered-batch", "c/", Some("b"), 0, json!({}))),
        raw(document("numbered-batch", "c/", Some("b"), 0, json!({}))),
    ];
    let clash = Write::Insert(document("numbered-batch", "c/000000000267", None, 0, json!({})));
    let batch = Write::InsertNumberedBatch { counter: "events/r".to_owned(), documents: taken };
    assert!(matches!(store.apply(vec![clash, batch]).await, Err(StoreError::AlreadyExists { .. })));
    assert_eq!(store.next_counter("events/r").await.unwrap(), 266);
    assert_eq!(store.list_all("numbered-batch", Some("b")).await.unwrap().len(), 250);
    // An empty batch is nothing.
    let empty = Write::InsertNumberedBatch { counter: "events/r".to_owned(), documents: vec![] };
    store.apply(vec![empty]).await.unwrap();
}

async fn counters(store: &Store) {
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move { store.next_counter("build-numbers").await.unwrap() }));
    }
    let mut numbers = Vec::new();
    for task in tasks {
        numbers.push(task.await.unwrap());
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=20).collect::<Vec<i64>>());
    assert_eq!(store.next_counter("build-numbers").await.unwrap(), 21);
    assert_eq!(store.next_counter("another-counter").await.unwrap(), 1);
    assert_eq!(store.next_counter("another-counter").await.unwrap(), 2);
}

async fn queue_matching(store: &Store) {
    // Enqueued newest first, to show that the order is enqueued_at's, not insertion's.
    store
        .apply(vec![
            Write::Enqueue(job("m-gpu", "match", &[("os", "linux"), ("gpu", "yes")], 50)),
            Write::Enqueue(job("m-any", "match", &[], 40)),
            Write::Enqueue(job("m-windows", "match", &[("os", "windows")], 30)),
            Write::Enqueue(job("m-linux", "match", &[("os", "linux")], 20)),
            Write::Enqueue(job("m-other-kind", "match-other", &[], 10)),
        ])
        .await
        .unwrap();
    let queued = store.queued_jobs().await.unwrap();
    let linux = queued.iter().find(|queued| queued.id == "m-linux").unwrap();
    assert_eq!(linux, &job("m-linux", "match", &[("os", "linux")], 20));
    assert_eq!(
        queued_ids(store, "match").await,
        ["m-linux", "m-windows", "m-any", "m-gpu"],
        "oldest first"
    );

    let agent = |labels: &[(&str, &str)], kinds: &[&str]| LeaseRequest {
        agent_id: "agent-m".to_owned(),
        labels: labels_of(labels),
        kinds: kinds.iter().map(|kind| (*kind).to_owned()).collect(),
        now: 1_000,
        lease_until: 100_000,
    };
    let linux_agent = agent(&[("os", "linux"), ("arch", "x86_64")], &["match"]);
    // The oldest job the agent matches, then the next; never the ones needing other labels.
    assert_eq!(leased_id(store, &linux_agent).await.as_deref(), Some("m-linux"));
    assert_eq!(leased_id(store, &linux_agent).await.as_deref(), Some("m-any"));
    assert_eq!(leased_id(store, &linux_agent).await, None);
    // A label with another value is no match; no kinds, no jobs.
    assert_eq!(leased_id(store, &agent(&[("os", "Windows")], &["match"])).await, None);
    assert_eq!(leased_id(store, &agent(&[("os", "windows")], &[])).await, None);
    assert_eq!(leased_id(store, &agent(&[], &["unknown-kind"])).await, None);
    assert_eq!(
        leased_id(store, &agent(&[("gpu", "yes"), ("os", "linux"), ("x", "y")], &["match"]))
            .await
            .as_deref(),
        Some("m-gpu")
    );
    assert_eq!(
        leased_id(store, &agent(&[("os", "windows")], &["nope", "match"])).await.as_deref(),
        Some("m-windows")
    );
    // Several kinds: the oldest of any of them.
    store.apply(vec![Write::Enqueue(job("m-late", "match", &[], 5))]).await.unwrap();
    assert_eq!(
        leased_id(store, &agent(&[], &["match", "match-other"])).await.as_deref(),
        Some("m-late")
    );
    assert_eq!(
        leased_id(store, &agent(&[], &["match", "match-other"])).await.as_deref(),
        Some("m-other-kind")
    );
    assert!(queued_ids(store, "match").await.is_empty());
    assert!(queued_ids(store, "match-other").await.is_empty());
    complete_all(store, &["m-gpu", "m-any", "m-windows", "m-linux", "m-other-kind", "m-late"])
        .await;

    assert!(labels_match(&labels_of(&[]), &labels_of(&[("a", "1")])));
    assert!(labels_match(&labels_of(&[("a", "1")]), &labels_of(&[("a", "1"), ("b", "2")])));
    assert!(!labels_match(&labels_of(&[("a", "1")]), &labels_of(&[("a", "2")])));
    assert!(!labels_match(&labels_of(&[("a", "1")]), &labels_of(&[])));
}

async fn queue_leases(store: &Store) {
    store.apply(vec![Write::Enqueue(job("l-1", "lease", &[], 1_000))]).await.unwrap();
    let request = |agent: &str, now: i64, lease_until: i64| LeaseRequest {
        agent_id: agent.to_owned(),
        labels: BTreeMap::new(),
        kinds: vec!["lease".to_owned()],
        now,
        lease_until,
    };
    let leased = store.lease(&request("agent-a", 2_000, 3_000)).await.unwrap().unwrap();
    assert_eq!(leased.job, job("l-1", "lease", &[], 1_000));
    assert_eq!(
        (leased.agent_id.as_str(), leased.lease_until, leased.attempts),
        ("agent-a", 3_000, 1)
    );
    assert!(queued_ids(store, "lease").await.is_empty(), "a leased job is not queued");

    // Held until it ends: at lease_until itself it is still held.
    assert!(store.lease(&request("agent-b", 2_500, 9_000)).await.unwrap().is_none());
    assert!(store.lease(&request("agent-b", 3_000, 9_000)).await.unwrap().is_none());
    assert!(expired_ids(store, 3_000, "lease").await.is_empty());
    let expired = store.expired_leases(3_001).await.unwrap();
    let expired: Vec<&LeasedJob> = expired.iter().filter(|it| it.job.kind == "lease").collect();
    assert_eq!(expired, [&leased]);
    // Looking at expired leases changes nothing.
    assert_eq!(expired_ids(store, 3_001, "lease").await, ["l-1"]);

    // Only the holder renews.
    assert!(!store.renew("l-1", "agent-b", 10_000).await.unwrap());
    assert!(store.renew("l-1", "agent-a", 4_000).await.unwrap());
    assert!(expired_ids(store, 3_001, "lease").await.is_empty());
    assert!(!store.renew("no-such-job", "agent-a", 4_000).await.unwrap());

    // Expired: another agent takes it, and the old holder has lost it.
    assert!(store.lease(&request("agent-b", 4_000, 9_000)).await.unwrap().is_none());
    let again = store.lease(&request("agent-b", 4_001, 9_000)).await.unwrap().unwrap();
    assert_eq!((again.agent_id.as_str(), again.lease_until, again.attempts), ("agent-b", 9_000, 2));
    assert!(!store.renew("l-1", "agent-a", 20_000).await.unwrap());
    assert!(store.renew("l-1", "agent-b", 20_000).await.unwrap());

    // Released: queued again, at once, keeping its attempts.
    store.apply(vec![Write::ReleaseJob { job_id: "l-1".to_owned() }]).await.unwrap();
    assert_eq!(queued_ids(store, "lease").await, ["l-1"]);
    assert!(!store.renew("l-1", "agent-b", 30_000).await.unwrap(), "a released lease is gone");
    let third = store.lease(&request("agent-c", 5_000, 6_000)).await.unwrap().unwrap();
    assert_eq!((third.agent_id.as_str(), third.attempts), ("agent-c", 3));

    // Completed: gone for good.
    store.apply(vec![Write::CompleteJob { job_id: "l-1".to_owned() }]).await.unwrap();
    assert!(!store.renew("l-1", "agent-c", 7_000).await.unwrap());
    assert!(expired_ids(store, i64::MAX, "lease").await.is_empty());
    assert!(store.lease(&request("agent-c", i64::MAX, i64::MAX)).await.unwrap().is_none());
    assert!(queued_ids(store, "lease").await.is_empty());
}

async fn queue_concurrency(store: &Store) {
    let jobs = (0..50).map(|n| Write::Enqueue(job(&format!("c-{n:02}"), "many", &[], n))).collect();
    store.apply(jobs).await.unwrap();
    let mut tasks = Vec::new();
    for agent in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let request = LeaseRequest {
                agent_id: format!("agent-{agent}"),
                labels: BTreeMap::new(),
                kinds: vec!["many".to_owned()],
                now: 1_000,
                lease_until: 1_000_000,
            };
            let mut leased = Vec::new();
            // Bounded: 50 jobs cannot take more than 50 successful leases.
            for _ in 0..=50 {
                match store.lease(&request).await.unwrap() {
                    Some(job) => {
                        assert_eq!(job.attempts, 1);
                        leased.push(job.job.id);
                        tokio::task::yield_now().await;
                    }
                    None => break,
                }
            }
            leased
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let distinct: BTreeSet<&String> = all.iter().collect();
    assert_eq!((all.len(), distinct.len()), (50, 50), "each job leased exactly once");
    let ids: Vec<String> = all.clone();
    assert_eq!(expired_ids(store, 1_000_001, "many").await.len(), 50);
    complete_all(store, &ids.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert!(expired_ids(store, i64::MAX, "many").await.is_empty());
}

/// Many tasks writing at once (batches, counters, leases, logs) all succeed: on SQLite none
/// of them may see `SQLITE_BUSY`.
async fn concurrent_writers(store: &Store) {
    let mut tasks = Vec::new();
    for task in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move { hammer(&store, "crowd", task).await }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let page = store.list(&list_query("crowd-doc", None, false, None, 1000)).await.unwrap();
    assert_eq!(page.documents.len(), 16 * 10);
    assert_eq!(store.next_counter("crowd-counter").await.unwrap(), 16 * 10 + 1);
}

/// Ten rounds of every kind of write, under names made from `prefix` and `task`.
async fn hammer(store: &Store, prefix: &str, task: usize) {
    let kind = format!("{prefix}-job");
    for round in 0..10 {
        let key = format!("{task}-{round}");
        let id = format!("{prefix}-{key}");
        store
            .apply(vec![
                Write::Insert(document(&format!("{prefix}-doc"), &key, None, 0, json!({}))),
                Write::Enqueue(job(&id, &kind, &[], 0)),
            ])
            .await
            .unwrap();
        store.next_counter(&format!("{prefix}-counter")).await.unwrap();
        let request = LeaseRequest {
            agent_id: id.clone(),
            labels: BTreeMap::new(),
            kinds: vec![kind.clone()],
            now: 0,
            lease_until: 10,
        };
        if let Some(leased) = store.lease(&request).await.unwrap() {
            assert!(store.renew(&leased.job.id, &id, 20).await.unwrap());
            store.apply(vec![Write::CompleteJob { job_id: leased.job.id }]).await.unwrap();
        }
        store.append_log(&id, 0, b"line\n").await.unwrap();
        store.read_log(&id, 0, 10).await.unwrap();
        store.delete_log(&id).await.unwrap();
    }
}

/// Read-your-writes, many times and from several tasks at once: whatever a write returned
/// from is what the very next read of any kind sees, on this task and on one told about it.
async fn reads_see_every_committed_write(store: &Store) {
    let mut tasks = Vec::new();
    for task in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let kind = format!("ryw-{task}");
            let job_kind = format!("ryw-job-{task}");
            let (told, mut heard) = tokio::sync::mpsc::channel::<i64>(1);
            let watcher = {
                let (store, kind) = (store.clone(), kind.clone());
                tokio::spawn(async move {
                    while let Some(round) = heard.recv().await {
                        // The writer may be a round further on already, never behind.
                        let seen = store.get(&kind, "doc").await.unwrap().unwrap();
                        let seen = seen.body["round"].as_i64().unwrap();
                        assert!(
                            seen >= round,
                            "told of round {round} after its commit, saw {seen}"
                        );
                    }
                })
            };
            let mut current = document(&kind, "doc", Some("p"), 0, json!({"round": 0}));
            store.apply(vec![Write::Insert(current.clone())]).await.unwrap();
            for round in 1..=50_i64 {
                let next = document(&kind, "doc", Some("p"), round, json!({"round": round}));
                store
                    .apply(vec![
                        Write::Update { document: next.clone(), expected_version: round },
                        Write::Enqueue(job(&format!("{kind}-{round}"), &job_kind, &[], round)),
                    ])
                    .await
                    .unwrap();
                current = versioned(&next, round + 1);
                assert_eq!(store.get(&kind, "doc").await.unwrap().as_ref(), Some(&current));
                let many = store.get_many(&kind, &["doc".to_owned()]).await.unwrap();
                assert_eq!(many, vec![current.clone()]);
                let page =
                    store.list(&list_query(&kind, Some("p"), false, None, 10)).await.unwrap();
                assert_eq!(page.documents, vec![current.clone()]);
                let queued = queued_ids(&store, &job_kind).await;
                assert_eq!(queued.len(), usize::try_from(round).unwrap(), "round {round}");
                store.append_log(&kind, round, &round.to_be_bytes()).await.unwrap();
                let chunks = store.read_log(&kind, round, 10).await.unwrap();
                assert_eq!(chunks, vec![LogChunk { seq: round, data: round.to_be_bytes().into() }]);
                told.send(round).await.unwrap();
            }
            drop(told);
            watcher.await.unwrap();
            let ids: Vec<String> = (1..=50).map(|round| format!("{kind}-{round}")).collect();
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            complete_all(&store, &ids).await;
            store.delete_log(&kind).await.unwrap();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

async fn logs(store: &Store) {
    // Out of order, as retried uploads may arrive; binary data survives byte for byte.
    for seq in [2, 0, 1, 4, 3] {
        store.append_log("build-1", seq, format!("chunk {seq}\n").as_bytes()).await.unwrap();
    }
    store.append_log("build-1", 5, &[0, 255, 10, 0]).await.unwrap();
    store.append_log("build-1", 6, &[]).await.unwrap();
    store.append_log("build-2", 0, b"other stream").await.unwrap();

    let all = store.read_log("build-1", 0, 100).await.unwrap();
    assert_eq!(all.iter().map(|chunk| chunk.seq).collect::<Vec<_>>(), [0, 1, 2, 3, 4, 5, 6]);
    assert_eq!(all[3], LogChunk { seq: 3, data: b"chunk 3\n".to_vec() });
    assert_eq!(all[5].data, [0, 255, 10, 0]);
    assert!(all[6].data.is_empty());
    let middle = store.read_log("build-1", 2, 2).await.unwrap();
    assert_eq!(middle.iter().map(|chunk| chunk.seq).collect::<Vec<_>>(), [2, 3]);
    assert!(store.read_log("build-1", 7, 10).await.unwrap().is_empty());
    assert!(store.read_log("build-1", 0, 0).await.unwrap().is_empty());
    assert!(store.read_log("no-such-stream", 0, 10).await.unwrap().is_empty());

    // A chunk sent twice is detected, and the first copy kept.
    let err = store.append_log("build-1", 3, b"again").await.unwrap_err();
    assert!(is_error(&err, "AlreadyExists", "log chunk", "build-1/3"), "{err}");
    assert_eq!(store.read_log("build-1", 3, 1).await.unwrap()[0].data, b"chunk 3\n");

    store.delete_log("build-1").await.unwrap();
    assert!(store.read_log("build-1", 0, 100).await.unwrap().is_empty());
    store.delete_log("build-1").await.unwrap();
    assert_eq!(store.read_log("build-2", 0, 100).await.unwrap().len(), 1);
    // A deleted stream can be written again from the start.
    store.append_log("build-1", 0, b"new").await.unwrap();
}

/// The queue and log writes of a batch: a lease, its renewal and a log chunk commit with the
/// documents they go with, or not at all.
async fn batched_leases_and_logs(store: &Store) {
    store
        .apply(vec![Write::Enqueue(job("b-1", "batched", &[("os", "linux")], 1_000))])
        .await
        .unwrap();
    let request = |agent: &str, now: i64, labels: &[(&str, &str)]| LeaseRequest {
        agent_id: agent.to_owned(),
        labels: labels_of(labels),
        kinds: vec!["batched".to_owned()],
        now,
        lease_until: now + 1_000,
    };
    // The candidate is what `lease` would take, and looking leases nothing.
    assert!(store.lease_candidate(&request("agent-a", 2_000, &[])).await.unwrap().is_none());
    let candidate =
        store.lease_candidate(&request("agent-a", 2_000, &[("os", "linux")])).await.unwrap();
    let candidate = candidate.unwrap();
    assert_eq!(candidate.job.id, "b-1");
    assert_eq!(
        (candidate.agent_id.as_str(), candidate.lease_until, candidate.attempts),
        ("agent-a", 3_000, 1)
    );
    assert_eq!(queued_ids(store, "batched").await, ["b-1"]);

    // A lease whose batch fails leases nothing.
    let lease = |agent: &str, now: i64| Write::LeaseJob {
        job_id: "b-1".to_owned(),
        agent_id: agent.to_owned(),
        now,
        lease_until: now + 1_000,
    };
    let taken = document("batched-doc", "t", None, 0, json!({}));
    store.apply(vec![Write::Insert(taken.clone())]).await.unwrap();
    let err = store.apply(vec![lease("agent-a", 2_000), Write::Insert(taken.clone())]).await;
    assert!(is_error(&err.unwrap_err(), "AlreadyExists", "batched-doc", "t"));
    assert_eq!(queued_ids(store, "batched").await, ["b-1"]);

    // Leased with a document, in one batch; a second agent then conflicts.
    let with = document("batched-doc", "u", None, 0, json!({}));
    store.apply(vec![lease("agent-a", 2_000), Write::Insert(with)]).await.unwrap();
    assert!(queued_ids(store, "batched").await.is_empty());
    assert_eq!(expired_ids(store, 3_001, "batched").await, ["b-1"]);
    assert!(
        store
            .lease_candidate(&request("agent-b", 2_500, &[("os", "linux")]))
            .await
            .unwrap()
            .is_none()
    );
    let err = store.apply(vec![lease("agent-b", 2_500)]).await.unwrap_err();
    assert!(is_error(&err, "Conflict", "job", "b-1"), "{err}");
    let missing = Write::LeaseJob {
        job_id: "no-such-job".to_owned(),
        agent_id: "agent-b".to_owned(),
        now: 0,
        lease_until: 1,
    };
    let err = store.apply(vec![missing]).await.unwrap_err();
    assert!(is_error(&err, "NotFound", "job", "no-such-job"), "{err}");

    // Renewal and a log chunk, in one batch, only by the holder.
    let renew = |agent: &str, until: i64| Write::RenewLease {
        job_id: "b-1".to_owned(),
        agent_id: agent.to_owned(),
        lease_until: until,
    };
    let chunk = |seq: i64| Write::AppendLog { stream: "b-1".to_owned(), seq, data: vec![b'x', 0] };
    let err = store.apply(vec![chunk(0), renew("agent-b", 9_000)]).await.unwrap_err();
    assert!(is_error(&err, "Conflict", "job", "b-1"), "{err}");
    assert!(store.read_log("b-1", 0, 10).await.unwrap().is_empty(), "a failed batch logs nothing");
    store.apply(vec![renew("agent-a", 5_000), chunk(0)]).await.unwrap();
    assert!(expired_ids(store, 3_001, "batched").await.is_empty());
    assert_eq!(
        store.read_log("b-1", 0, 10).await.unwrap(),
        [LogChunk { seq: 0, data: vec![b'x', 0] }]
    );
    // A chunk that is there fails the batch, renewal included.
    let err = store.apply(vec![renew("agent-a", 8_000), chunk(0)]).await.unwrap_err();
    assert!(is_error(&err, "AlreadyExists", "log chunk", "b-1/0"), "{err}");
    assert_eq!(expired_ids(store, 5_001, "batched").await, ["b-1"]);

    // Expired: another agent leases it in a batch, counting the attempt.
    let again =
        store.lease_candidate(&request("agent-b", 5_001, &[("os", "linux")])).await.unwrap();
    assert_eq!(again.map(|it| it.attempts), Some(2));
    store.apply(vec![lease("agent-b", 5_001)]).await.unwrap();
    let held = store.expired_leases(i64::MAX).await.unwrap();
    let held: Vec<_> = held.into_iter().filter(|it| it.job.id == "b-1").collect();
    assert_eq!((held[0].agent_id.as_str(), held[0].attempts), ("agent-b", 2));

    // A build's end: its log and its children go with it.
    let child =
        |key: &str, parent: &str| document("batched-child", key, Some(parent), 0, json!({}));
    store
        .apply(vec![
            Write::Insert(child("c1", "b-1")),
            Write::Insert(child("c2", "b-1")),
            Write::Insert(child("c3", "b-2")),
        ])
        .await
        .unwrap();
    store
        .apply(vec![
            Write::DeleteChildren { kind: "batched-child".to_owned(), parent: "b-1".to_owned() },
            Write::DeleteLog { stream: "b-1".to_owned() },
            Write::CompleteJob { job_id: "b-1".to_owned() },
        ])
        .await
        .unwrap();
    assert_eq!(keys_of(&store.list_all("batched-child", None).await.unwrap()), ["c3"]);
    assert!(store.read_log("b-1", 0, 10).await.unwrap().is_empty());
    assert!(expired_ids(store, i64::MAX, "batched").await.is_empty());
}

/// Closing and reopening a SQLite file keeps everything, and migrating again changes nothing.
async fn reopening_keeps_data_and_migrations_are_a_no_op(store: Store, url: &str) {
    let before = store.get("doc", "c").await.unwrap().unwrap();
    let counter = store.next_counter("build-numbers").await.unwrap();
    store.close().await;

    let reopened = Store::connect(url).await.unwrap();
    assert_eq!(reopened.get("doc", "c").await.unwrap(), Some(before));
    assert_eq!(reopened.next_counter("build-numbers").await.unwrap(), counter + 1);
    assert_eq!(reopened.read_log("build-1", 0, 10).await.unwrap().len(), 1);
    assert_eq!(migration_count(&reopened).await, SQLITE_MIGRATIONS.len());
    let Inner::Sqlite(sqlite) = &reopened.inner else { unreachable!("a sqlite URL") };
    let mode: String =
        sqlx::query_scalar("PRAGMA journal_mode").fetch_one(sqlite.pool()).await.unwrap();
    assert_eq!(mode, "wal");
    reopened.close().await;
}

// ---------------------------------------------------------------------------------------
// Shared pieces that are not about a backend.

#[test]
fn cursors_round_trip_and_reject_garbage() {
    for (sort, key) in [(0, "a"), (-5, "k:with:colons"), (i64::MAX, "é🚢"), (i64::MIN, "")] {
        let cursor = encode_cursor(sort, key);
        assert!(cursor.bytes().all(|byte| byte.is_ascii_hexdigit()), "{cursor}");
        assert_eq!(decode_cursor(&cursor).unwrap(), Cursor { sort, key: key.to_owned() });
    }
    for bad in ["", "0", "zz", "6162", "ff3a61", "3a61"] {
        assert!(matches!(decode_cursor(bad), Err(StoreError::BadCursor)), "{bad}");
    }
}

#[test]
fn list_statements_number_their_parameters_in_order() {
    assert_eq!(
        list_sql(true, true, true),
        "SELECT kind, key, parent, sort, version, CAST(body AS TEXT) FROM documents \
         WHERE kind = $1 AND parent = $2 AND (sort, key) < ($3, $4) \
         ORDER BY sort DESC, key DESC LIMIT $5"
    );
    assert!(list_sql(false, false, false).ends_with("ORDER BY sort ASC, key ASC LIMIT $2"));
}

/// `sqlx::migrate!` would read the folders; the embedded lists must say the same.
#[test]
fn every_migration_file_is_embedded() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    for (backend, embedded) in [("sqlite", SQLITE_MIGRATIONS), ("postgres", POSTGRES_MIGRATIONS)] {
        let mut files: Vec<String> = std::fs::read_dir(root.join(backend))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        let listed: Vec<String> = embedded
            .iter()
            .map(|(version, description, _)| {
                format!("{version:04}_{}.sql", description.replace(' ', "_"))
            })
            .collect();
        assert_eq!(files, listed, "migrations/{backend} and the list in store.rs differ");
        for (file, (_, _, sql)) in files.iter().zip(embedded.iter()) {
            let on_disk = std::fs::read_to_string(root.join(backend).join(file)).unwrap();
            assert_eq!(&on_disk, sql, "{backend}/{file}");
        }
    }
}

#[test]
fn passwords_are_left_out_of_messages() {
    assert_eq!(redact("postgres://me:secret@host/db"), "postgres://me:***@host/db");
    assert_eq!(redact("postgres://me@host/db"), "postgres://me@host/db");
    assert_eq!(redact("sqlite:x.db"), "sqlite:x.db");
}

// ---------------------------------------------------------------------------------------
// Helpers.

/// `document` with its body as JSON text, as [`Write::InsertNumberedBatch`] takes it.
fn raw(document: Document) -> RawDocument {
    RawDocument {
        kind: document.kind,
        key: document.key,
        parent: document.parent,
        sort: document.sort,
        version: document.version,
        body: serde_json::value::to_raw_value(&document.body).unwrap(),
    }
}

fn document(
    kind: &str,
    key: &str,
    parent: Option<&str>,
    sort: i64,
    body: serde_json::Value,
) -> Document {
    Document {
        kind: kind.to_owned(),
        key: key.to_owned(),
        parent: parent.map(str::to_owned),
        sort,
        version: 0,
        body,
    }
}

fn versioned(document: &Document, version: i64) -> Document {
    Document { version, ..document.clone() }
}

fn job(id: &str, kind: &str, labels: &[(&str, &str)], enqueued_at: i64) -> QueuedJob {
    QueuedJob {
        id: id.to_owned(),
        kind: kind.to_owned(),
        labels: labels_of(labels),
        payload: json!({"job": id, "steps": ["make", "make test"]}),
        enqueued_at,
    }
}

fn labels_of(labels: &[(&str, &str)]) -> BTreeMap<String, String> {
    labels.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect()
}

fn keys_of(documents: &[Document]) -> Vec<&str> {
    documents.iter().map(|document| document.key.as_str()).collect()
}

fn list_query(
    kind: &str,
    parent: Option<&str>,
    descending: bool,
    after: Option<String>,
    limit: i64,
) -> ListQuery {
    ListQuery { kind: kind.to_owned(), parent: parent.map(str::to_owned), descending, after, limit }
}

/// Every key of a listing, page by page (at most 100 pages).
async fn paged_keys(
    store: &Store,
    kind: &str,
    parent: Option<&str>,
    descending: bool,
    limit: i64,
) -> Vec<String> {
    let mut keys = Vec::new();
    let mut after = None;
    for _ in 0..100 {
        let page = store.list(&list_query(kind, parent, descending, after, limit)).await.unwrap();
        assert!(page.documents.len() <= usize::try_from(limit).unwrap());
        keys.extend(page.documents.into_iter().map(|document| document.key));
        match page.next {
            Some(next) => after = Some(next),
            None => return keys,
        }
    }
    panic!("more than 100 pages of {kind}");
}

fn is_error(err: &StoreError, variant: &str, expected_kind: &str, expected_key: &str) -> bool {
    let (actual, kind, key) = match err {
        StoreError::AlreadyExists { kind, key } => ("AlreadyExists", kind, key),
        StoreError::NotFound { kind, key } => ("NotFound", kind, key),
        StoreError::Conflict { kind, key } => ("Conflict", kind, key),
        _ => return false,
    };
    actual == variant && kind == expected_kind && key == expected_key
}

async fn queued_ids(store: &Store, kind: &str) -> Vec<String> {
    let jobs = store.queued_jobs().await.unwrap();
    jobs.into_iter().filter(|job| job.kind == kind).map(|job| job.id).collect()
}

async fn expired_ids(store: &Store, now: i64, kind: &str) -> Vec<String> {
    let leases = store.expired_leases(now).await.unwrap();
    leases.into_iter().filter(|lease| lease.job.kind == kind).map(|lease| lease.job.id).collect()
}

async fn leased_id(store: &Store, request: &LeaseRequest) -> Option<String> {
    store.lease(request).await.unwrap().map(|leased| leased.job.id)
}

async fn complete_all(store: &Store, ids: &[&str]) {
    let writes = ids.iter().map(|id| Write::CompleteJob { job_id: (*id).to_owned() }).collect();
    store.apply(writes).await.unwrap();
}

async fn migration_count(store: &Store) -> usize {
    let sql = "SELECT COUNT(*) FROM _sqlx_migrations WHERE success";
    let count: i64 = match &store.inner {
        Inner::Sqlite(sqlite) => sqlx::query_scalar(sql).fetch_one(sqlite.pool()).await.unwrap(),
        Inner::Postgres(postgres) => {
            sqlx::query_scalar(sql).fetch_one(postgres.pool()).await.unwrap()
        }
    };
    usize::try_from(count).unwrap()
}

/// The PostgreSQL server to test against, if any: see the module documentation.
fn postgres_url() -> Option<String> {
    if let Ok(url) = std::env::var("SLIPWAY_TEST_DATABASE_URL")
        && !url.is_empty()
    {
        return Some(url);
    }
    let in_ci = std::env::var_os("CI").is_some_and(|value| !value.is_empty());
    assert!(
        !in_ci,
        "CI is set but SLIPWAY_TEST_DATABASE_URL is not: the PostgreSQL store tests cannot be \
         skipped in CI (`cargo xtask test` starts a server and sets it)"
    );
    eprintln!(
        "skipped: the PostgreSQL store tests \
         (set SLIPWAY_TEST_DATABASE_URL, or run `cargo xtask test`)"
    );
    None
}

/// A database of its own for one test run, so that reruns and parallel runs never meet.
struct TestDatabase {
    server_url: String,
    name: String,
    url: String,
}

impl TestDatabase {
    async fn create(server_url: &str) -> TestDatabase {
        static SEQUENCE: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!(
            "slipway_test_{}_{nanos}_{}",
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        );
        let admin = sqlx::PgPool::connect(server_url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
        TestDatabase {
            server_url: server_url.to_owned(),
            url: with_database(server_url, &name),
            name,
        }
    }

    async fn remove(self) {
        let admin = sqlx::PgPool::connect(&self.server_url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&admin)
        .await
        .unwrap();
        admin.close().await;
    }
}

/// `url` with its database (the path) replaced by `database`, keeping any parameters.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |index| index + 3);
    let authority_end =
        base[authority_start..].find('/').map_or(base.len(), |index| authority_start + index);
    format!("{}/{database}{query}", &base[..authority_end])
}

#[test]
fn test_databases_replace_the_path() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
        "postgres://postgres@127.0.0.1:5432/t1"
    );
    assert_eq!(with_database("postgres://h", "t1"), "postgres://h/t1");
    assert_eq!(
        with_database("postgresql://u:p@h/db?sslmode=disable", "t1"),
        "postgresql://u:p@h/t1?sslmode=disable"
    );
}
