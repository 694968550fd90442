//! Tests of retention: older events go, in batches; newer ones stay.

use engine::kinds;

use crate::retention::{days_ms, delete_older_than, expire};
use crate::testing::{call, store_events, test_store};

#[tokio::test]
async fn events_older_than_the_retention_are_deleted_in_batches() {
    let (store, _dir) = test_store().await;
    let day = days_ms(1);
    let events: Vec<_> =
        (0..10).map(|index| call(index * day, &format!("Op{index}"), "alice", "web")).collect();
    store_events(&store, &events).await;
    // A batch of 3 deletes the 3 oldest only.
    assert_eq!(delete_older_than(&store, 7 * day, 3).await.unwrap(), 3);
    assert_eq!(store.list_all(kinds::CLOUDTRAIL_EVENT, None).await.unwrap().len(), 7);
    // A pass at day 12 with 5 days' retention keeps days 7, 8 and 9.
    assert_eq!(expire(&store, 12 * day, 5).await.unwrap(), 4);
    let left = store.list_all(kinds::CLOUDTRAIL_EVENT, None).await.unwrap();
    let names: Vec<&str> = left.iter().map(|it| it.body["eventName"].as_str().unwrap()).collect();
    assert_eq!(names, ["Op7", "Op8", "Op9"]);
    // Nothing more to do.
    assert_eq!(expire(&store, 12 * day, 5).await.unwrap(), 0);
}

#[test]
fn days_in_milliseconds() {
    assert_eq!(days_ms(90), 90 * 86_400_000);
}
