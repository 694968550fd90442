//! Tests of the recorder: events reach the store in order through the flush; a full buffer
//! drops and counts read-only events instead of waiting, and never drops a change; a flush
//! writes everything waiting, in batches.

use std::time::Duration;

use crate::recorder::{MAX_BATCH, Recorder};
use crate::testing::{call, stored_events, test_store};

/// Long enough for any machine: only a broken flusher makes a test wait this long.
const PATIENCE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn recorded_events_reach_the_store_in_order_on_flush() {
    let (store, _dir) = test_store().await;
    let (recorder, flusher) = Recorder::new(store.clone(), 100);
    let task = tokio::spawn(flusher.run());
    for index in 0..10 {
        recorder.record(call(1000 + index, &format!("Op{index}"), "alice", "web"));
    }
    assert!(recorder.flush(PATIENCE).await);
    let stored = stored_events(&store).await;
    let names: Vec<&str> = stored.iter().map(|(_, it)| it.event_name.as_str()).collect();
    let expected: Vec<String> = (0..10).map(|index| format!("Op{index}")).collect();
    assert_eq!(names, expected);
    // One chunk, the first.
    assert!(stored.iter().all(|(chunk, _)| *chunk == 1));
    assert_eq!(recorder.dropped(), 0);
    drop(recorder);
    // Every recorder gone: the flusher ends.
    tokio::time::timeout(PATIENCE, task).await.unwrap().unwrap();
}

/// More events than one transaction writes wait when the flush is asked for: they are all
/// written, in as many transactions as it takes, in order, before the flush answers.
#[tokio::test]
async fn a_flush_writes_everything_waiting_in_batches() {
    let (store, _dir) = test_store().await;
    let (recorder, flusher) = Recorder::new(store.clone(), 10 * MAX_BATCH);
    let count = 2 * MAX_BATCH + 7;
    // Recorded before the flusher runs: all of it waits in the buffer at once.
    for index in 0..count {
        recorder.record(call(1000, &format!("Op{index}"), "alice", "web"));
    }
    let task = tokio::spawn(flusher.run());
    assert!(recorder.flush(PATIENCE).await);
    let stored = stored_events(&store).await;
    assert_eq!(stored.len(), count);
    // In order, in chunks of at most MAX_BATCH, numbered in order.
    let names: Vec<&str> = stored.iter().map(|(_, it)| it.event_name.as_str()).collect();
    let expected: Vec<String> = (0..count).map(|index| format!("Op{index}")).collect();
    assert_eq!(names, expected);
    let sizes: Vec<(i64, usize)> =
        stored.chunk_by(|a, b| a.0 == b.0).map(|it| (it[0].0, it.len())).collect();
    assert!(sizes.len() >= 3, "{sizes:?}");
    let numbered = sizes.iter().enumerate().all(|(index, (chunk, _))| *chunk == index as i64 + 1);
    assert!(numbered && sizes.iter().all(|(_, size)| *size <= MAX_BATCH), "{sizes:?}");
    drop(recorder);
    tokio::time::timeout(PATIENCE, task).await.unwrap().unwrap();
}

#[tokio::test]
async fn a_full_buffer_drops_reads_without_waiting_and_never_a_change() {
    let (store, _dir) = test_store().await;
    // No flusher runs: the buffer of 3 fills.
    let (recorder, flusher) = Recorder::new(store.clone(), 3);
    for index in 0..5 {
        recorder.record(call(index, "BatchGetBuilds", "alice", "web"));
    }
    assert_eq!(recorder.dropped(), 2);
    // A flood of reads cannot hide a change: those wait in a queue of their own.
    for index in 5..10 {
        recorder.record(call(index, "StartBuild", "alice", "web"));
    }
    assert_eq!(recorder.dropped(), 2);
    // What was kept is written once a flusher runs.
    tokio::spawn(flusher.run());
    assert!(recorder.flush(PATIENCE).await);
    let stored = stored_events(&store).await;
    let names: Vec<&str> = stored.iter().map(|(_, it)| it.event_name.as_str()).collect();
    assert_eq!(names.iter().filter(|name| **name == "BatchGetBuilds").count(), 3, "{names:?}");
    assert_eq!(names.iter().filter(|name| **name == "StartBuild").count(), 5, "{names:?}");
}

#[tokio::test]
async fn a_flusher_that_is_restarted_keeps_the_buffer() {
    let (store, _dir) = test_store().await;
    let (recorder, flusher) = Recorder::new(store.clone(), 10);
    recorder.record(call(1, "StartBuild", "alice", "web"));
    let first = tokio::spawn(flusher.clone().run());
    assert!(recorder.flush(PATIENCE).await);
    first.abort();
    let _ = first.await;
    recorder.record(call(2, "StopBuild", "alice", "web"));
    tokio::spawn(flusher.run());
    assert!(recorder.flush(PATIENCE).await);
    assert_eq!(stored_events(&store).await.len(), 2);
}

#[tokio::test]
async fn flush_without_a_flusher_gives_up() {
    let (store, _dir) = test_store().await;
    let (recorder, flusher) = Recorder::new(store, 10);
    drop(flusher);
    assert!(!recorder.flush(Duration::from_millis(1)).await);
}
