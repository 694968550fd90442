//! Tests of retention: older chunks go, in batches; newer ones, and a chunk with one newer
//! event, stay. And the upgrade: single events become chunks, in order, and are found.

use engine::kinds;
use engine::store::{Document, Write};

use crate::lookup::{Search, find};
use crate::retention::{chunk_single_events, days_ms, delete_older_than, expire};
use crate::testing::{call, store_events, stored_events, test_store};

/// The names of the events the store's chunks hold, oldest first.
async fn stored_names(store: &engine::store::Store) -> Vec<String> {
    stored_events(store).await.into_iter().map(|(_, it)| it.event_name).collect()
}

#[tokio::test]
async fn events_older_than_the_retention_are_deleted_in_batches() {
    let (store, _dir) = test_store().await;
    let day = days_ms(1);
    // A chunk a day, then one chunk with an old event and a new one.
    for index in 0..10 {
        store_events(&store, &[call(index * day, &format!("Op{index}"), "alice", "web")]).await;
    }
    let mixed =
        [call(day, "OldInMixed", "alice", "web"), call(11 * day, "NewInMixed", "bob", "web")];
    store_events(&store, &mixed).await;
    // A batch of 3 deletes the 3 oldest only.
    assert_eq!(delete_older_than(&store, 7 * day, 3).await.unwrap(), (3, 3));
    assert_eq!(store.list_all(kinds::CLOUDTRAIL_CHUNK, None).await.unwrap().len(), 8);
    // A pass at day 12 with 5 days' retention keeps days 7, 8 and 9, and the mixed chunk,
    // whose latest event is newer.
    assert_eq!(expire(&store, 12 * day, 5).await.unwrap(), 4);
    assert_eq!(stored_names(&store).await, ["Op7", "Op8", "Op9", "OldInMixed", "NewInMixed"]);
    // Nothing more to do.
    assert_eq!(expire(&store, 12 * day, 5).await.unwrap(), 0);
}

#[tokio::test]
async fn single_events_of_an_older_store_become_chunks_in_order() {
    let (store, _dir) = test_store().await;
    // 1,500 events as versions before chunks wrote them: one numbered document each.
    let writes: Vec<Write> = (0..1500)
        .map(|index| {
            let user = if index % 2 == 0 { "alice" } else { "bob" };
            let event = call(1000 + index, &format!("Op{index}"), user, "web");
            Write::InsertNumbered {
                counter: "cloudtrail-event".to_owned(),
                document: Document {
                    kind: kinds::CLOUDTRAIL_EVENT.to_owned(),
                    key: String::new(),
                    parent: Some(user.to_owned()),
                    sort: 0,
                    version: 0,
                    body: serde_json::to_value(&event).unwrap(),
                },
            }
        })
        .collect();
    store.apply(writes).await.unwrap();
    assert_eq!(chunk_single_events(&store).await.unwrap(), 1500);
    assert!(store.list_all(kinds::CLOUDTRAIL_EVENT, None).await.unwrap().is_empty());
    let expected: Vec<String> = (0..1500).map(|index| format!("Op{index}")).collect();
    assert_eq!(stored_names(&store).await, expected);
    // A search by user finds them, newest first.
    let search =
        Search { attributes: vec![("Username".to_owned(), "bob".to_owned())], ..Search::default() };
    let found = find(&store, &search, None, 2).await.unwrap();
    let names: Vec<&str> = found.events.iter().map(|it| it.event_name.as_str()).collect();
    assert_eq!(names, ["Op1499", "Op1497"]);
    // The keys' last use came with them: the newest event's time (2,499 ms, kept to the
    // second as eventTime writes it).
    let used = crate::lookup::access_key_last_used(&store, "AKIAEXAMPLE").await.unwrap().unwrap();
    assert_eq!(used.time_ms, 2000);
    // Again: nothing left to move.
    assert_eq!(chunk_single_events(&store).await.unwrap(), 0);
}

#[test]
fn days_in_milliseconds() {
    assert_eq!(days_ms(90), 90 * 86_400_000);
}
