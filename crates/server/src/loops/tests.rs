//! Tests of the loop registry: a loop that panics is restarted and reported down meanwhile.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::*;

/// Polls `condition` until it holds, for at most a minute.
async fn eventually(what: &str, condition: impl Fn() -> bool) {
    for _ in 0..6_000 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never: {what}");
}

#[tokio::test]
async fn a_loop_that_panics_is_restarted_and_the_others_keep_running() {
    let health = LoopHealth::default();
    let mut loops = Loops::new(health.clone(), Duration::ZERO);
    let runs = Arc::new(AtomicU32::new(0));
    let counted = runs.clone();
    loops.start("flaky", move || {
        let runs = counted.clone();
        async move {
            if runs.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("first run fails");
            }
            std::future::pending::<()>().await;
        }
    });
    loops.start("steady", std::future::pending::<()>);
    eventually("the flaky loop ran twice", || runs.load(Ordering::SeqCst) == 2).await;
    eventually("both loops are up", || health.down().is_empty()).await;
    let flaky = &health.snapshot()["flaky"];
    assert_eq!(flaky.failures, 1);
    assert_eq!(flaky.last_failure.as_deref(), Some("panicked: first run fails"));
    assert_eq!(health.snapshot()["steady"], LoopStatus { up: true, ..LoopStatus::default() });
    loops.stop();
}

#[tokio::test]
async fn a_loop_waiting_to_restart_is_reported_down() {
    let health = LoopHealth::default();
    // An hour: the loop stays down for the whole test.
    let mut loops = Loops::new(health.clone(), Duration::from_secs(3_600));
    loops.start("webhooks", || async { panic!("boom") });
    eventually("the loop is down", || !health.down().is_empty()).await;
    assert_eq!(health.down(), ["webhooks (failed once; last: panicked: boom)"]);
}

#[tokio::test]
async fn stopping_the_registry_stops_the_loops() {
    let health = LoopHealth::default();
    let mut loops = Loops::new(health.clone(), Duration::ZERO);
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<()>(1);
    loops.start("holder", move || {
        let sender = sender.clone();
        async move {
            // Holds its sender until it is aborted.
            let _sender = sender;
            std::future::pending::<()>().await;
        }
    });
    eventually("the loop is up", || health.down().is_empty()).await;
    loops.stop();
    // Every sender is dropped once the loop's task and its supervisor are gone.
    assert_eq!(tokio::time::timeout(Duration::from_secs(60), receiver.recv()).await, Ok(None));
}
