//! The sign-in throttle: delays by failures, forgetting, one attempt at a time per (address,
//! name), no lock-out from another address, and bounded memory that keeps the pair attacked.

use std::net::Ipv4Addr;

use futures::FutureExt;

use super::*;

const ATTACKER: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));
const ADMIN: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));

#[test]
fn a_few_failures_cost_nothing_then_waits_double_up_to_eight_seconds() {
    let waits: Vec<u64> = (0..=8).map(|failures| delay(failures).as_secs()).collect();
    assert_eq!(waits, [0, 0, 0, 1, 2, 4, 8, 8, 8]);
    assert_eq!(delay(u32::MAX), MAX_DELAY);
}

/// Fails `count` times for `user` from `from`, at `at` ms, without waiting for the delays
/// (the counts are what is tested; the waits follow from them).
fn fail(throttle: &Throttle, from: IpAddr, user: &str, count: u32, at: i64) {
    for _ in 0..count {
        let entry = throttle.entry(from, user, at);
        let turn = Arc::clone(&entry.turn).try_lock_owned().expect("no attempt in progress");
        Attempt { entry, _turn: turn }.failed(at);
    }
}

#[tokio::test]
async fn failures_are_counted_per_address_and_name_and_forgotten_on_success_or_quiet() {
    let throttle = Throttle::default();
    for at in [0, 10, 20] {
        // Under the free failures, an attempt does not wait.
        let attempt = throttle.attempt(ATTACKER, "alice", at).now_or_never().expect("no wait");
        attempt.failed(at);
    }
    assert_eq!(throttle.entry(ATTACKER, "alice", 30).failures(30), 3);
    assert_eq!(throttle.entry(ATTACKER, "bob", 30).failures(30), 0);
    assert_eq!(throttle.entry(ADMIN, "alice", 30).failures(30), 0);
    // Quiet for long enough: nothing is held against the pair any more.
    let later = 20 + QUIET_MS + 1;
    assert_eq!(throttle.entry(ATTACKER, "alice", later).failures(later), 0);
    // A success forgets the pair at once.
    throttle.succeeded(ATTACKER, "alice");
    assert_eq!(throttle.entry(ATTACKER, "alice", 40).failures(40), 0);
}

#[tokio::test]
async fn guesses_from_one_address_never_delay_the_same_name_from_another() {
    let throttle = Throttle::default();
    fail(&throttle, ATTACKER, "admin", 50, 1_000);
    // The attacker's next guess waits the longest delay ...
    assert_eq!(delay(throttle.entry(ATTACKER, "admin", 1_000).failures(1_000)), MAX_DELAY);
    assert!(throttle.attempt(ATTACKER, "admin", 1_000).now_or_never().is_none());
    // ... while the real admin, from elsewhere, signs in at once.
    let attempt = throttle.attempt(ADMIN, "admin", 1_000).now_or_never();
    assert!(attempt.is_some(), "the admin is not slowed down by someone else's guesses");
}

#[tokio::test]
async fn a_full_table_forgets_the_least_failed_pairs_never_the_one_under_attack() {
    let throttle = Throttle::with_capacity(100);
    fail(&throttle, ATTACKER, "admin", 20, 0);
    // Many other names, each with a failure or two, newer than the attack.
    for i in 0..1_000u32 {
        fail(&throttle, ATTACKER, &format!("user{i}"), 1 + i % 2, 10 + i64::from(i));
    }
    let entries = throttle.entries.lock().unwrap().len();
    assert!(entries <= 100, "{entries} entries");
    assert_eq!(throttle.entry(ATTACKER, "admin", 2_000).failures(2_000), 20);
    // The pairs kept beside it are those with the most failures.
    let kept = throttle.entries.lock().unwrap();
    let twos = kept.values().filter(|entry| entry.failures(2_000) == 2).count();
    assert!(twos >= 90, "{twos} pairs with two failures kept");
}

#[tokio::test]
async fn attempts_for_one_pair_take_turns() {
    let throttle = Throttle::default();
    let first = throttle.attempt(ATTACKER, "alice", 0).await;
    assert!(throttle.attempt(ATTACKER, "alice", 0).now_or_never().is_none(), "turn taken");
    assert!(throttle.attempt(ATTACKER, "bob", 0).now_or_never().is_some(), "bob has his own");
    assert!(throttle.attempt(ADMIN, "alice", 0).now_or_never().is_some(), "so has elsewhere");
    drop(first);
    assert!(throttle.attempt(ATTACKER, "alice", 0).now_or_never().is_some());
}
