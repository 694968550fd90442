//! The sign-in throttle: delays by failures, forgetting, and one attempt at a time per name.

use futures::FutureExt;

use super::*;

#[test]
fn a_few_failures_cost_nothing_then_waits_double_up_to_eight_seconds() {
    let waits: Vec<u64> = (0..=8).map(|failures| delay(failures).as_secs()).collect();
    assert_eq!(waits, [0, 0, 0, 1, 2, 4, 8, 8, 8]);
    assert_eq!(delay(u32::MAX), MAX_DELAY);
}

#[tokio::test]
async fn failures_are_counted_per_name_and_forgotten_on_success_or_quiet() {
    let throttle = Throttle::default();
    for at in [0, 10, 20] {
        // Under the free failures, an attempt does not wait.
        let attempt = throttle.attempt("alice", at).now_or_never().expect("no wait yet");
        attempt.failed(at);
    }
    assert_eq!(throttle.name("alice", 30).failures(30), 3);
    assert_eq!(throttle.name("bob", 30).failures(30), 0);
    // Quiet for long enough: nothing is held against the name any more.
    assert_eq!(throttle.name("alice", 20 + QUIET_MS + 1).failures(20 + QUIET_MS + 1), 0);
    // A success forgets the name at once.
    throttle.succeeded("alice");
    assert_eq!(throttle.name("alice", 40).failures(40), 0);
}

#[tokio::test]
async fn attempts_for_one_name_take_turns() {
    let throttle = Throttle::default();
    let first = throttle.attempt("alice", 0).await;
    assert!(throttle.attempt("alice", 0).now_or_never().is_none(), "alice's turn is taken");
    assert!(throttle.attempt("bob", 0).now_or_never().is_some(), "bob has his own turn");
    drop(first);
    assert!(throttle.attempt("alice", 0).now_or_never().is_some());
}
