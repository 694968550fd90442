//! Slowing down password guessing on the sign-in form.
//!
//! Failed sign-ins are counted per source address and user name. After a few, every further
//! attempt from that address for that name waits before it is checked, longer with each failure
//! (up to [`MAX_DELAY`]), and attempts for one (address, name) are checked one at a time, so
//! sending many at once does not help. A success, or [`QUIET_MS`] without a failure, forgets
//! the pair. Guessing from one address stays slow, and failures from one address never slow
//! the same name's sign-in from another: nobody can lock a user out from elsewhere. The counts
//! live in this process (a replica counts its own), and at most [`MAX_ENTRIES`] pairs are
//! remembered: beyond, the quiet ones are forgotten first, then those with the fewest failures
//! (the oldest first among equals), so the pair under attack, which has the most, stays.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::OwnedMutexGuard;

/// Failures that cost nothing; a typo or two should not slow anyone down.
const FREE_FAILURES: u32 = 3;
/// The longest wait before an attempt is checked.
const MAX_DELAY: Duration = Duration::from_secs(8);
/// How long after its last failure a pair is forgotten.
const QUIET_MS: i64 = 15 * 60 * 1000;
/// How many (address, name) pairs are remembered at most.
const MAX_ENTRIES: usize = 10_000;

/// Who is trying: the peer's address and the user name typed.
type Key = (IpAddr, String);

/// The failures of every (address, name) pair (see the module documentation).
pub(crate) struct Throttle {
    entries: Mutex<HashMap<Key, Arc<Entry>>>,
    capacity: usize,
}

impl Default for Throttle {
    fn default() -> Throttle {
        Throttle::with_capacity(MAX_ENTRIES)
    }
}

/// One pair's failures.
#[derive(Default)]
struct Entry {
    /// Held while an attempt for this pair waits and is checked.
    turn: Arc<tokio::sync::Mutex<()>>,
    /// `(failures, time of the last one in ms)`.
    failures: Mutex<(u32, i64)>,
}

/// One attempt in progress: it holds its pair's turn until it is dropped.
pub(super) struct Attempt {
    entry: Arc<Entry>,
    _turn: OwnedMutexGuard<()>,
}

impl Throttle {
    fn with_capacity(capacity: usize) -> Throttle {
        Throttle { entries: Mutex::default(), capacity: capacity.max(1) }
    }

    /// Waits for this pair's turn and then its delay; report the outcome to the returned
    /// attempt's [`Attempt::failed`], or to [`Throttle::succeeded`].
    pub(super) async fn attempt(&self, from: IpAddr, user: &str, now_ms: i64) -> Attempt {
        let entry = self.entry(from, user, now_ms);
        let turn = Arc::clone(&entry.turn).lock_owned().await;
        let wait = delay(entry.failures(now_ms));
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        Attempt { entry, _turn: turn }
    }

    /// The right password: the pair's failures are forgotten.
    pub(super) fn succeeded(&self, from: IpAddr, user: &str) {
        self.entries.lock().expect("not poisoned").remove(&(from, user.to_owned()));
    }

    fn entry(&self, from: IpAddr, user: &str, now_ms: i64) -> Arc<Entry> {
        let key = (from, user.to_owned());
        let mut entries = self.entries.lock().expect("not poisoned");
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            entries.retain(|_, entry| entry.failures(now_ms) > 0);
            if entries.len() >= self.capacity {
                // The fewest failures, and among those the longest quiet, go first.
                let evicted = entries
                    .iter()
                    .map(|(key, entry)| {
                        let (count, last) = *entry.failures.lock().expect("not poisoned");
                        ((count, last), key.clone())
                    })
                    .min_by_key(|(rank, _)| *rank)
                    .map(|(_, key)| key);
                if let Some(evicted) = evicted {
                    entries.remove(&evicted);
                }
            }
        }
        Arc::clone(entries.entry(key).or_default())
    }
}

#[cfg(test)]
impl Throttle {
    /// The recent failures of `user` from `from`, for tests elsewhere.
    pub(super) fn failures(&self, from: IpAddr, user: &str, now_ms: i64) -> u32 {
        let entries = self.entries.lock().expect("not poisoned");
        entries.get(&(from, user.to_owned())).map_or(0, |entry| entry.failures(now_ms))
    }
}

impl Attempt {
    /// A wrong password.
    pub(super) fn failed(&self, now_ms: i64) {
        let count = self.entry.failures(now_ms);
        *self.entry.failures.lock().expect("not poisoned") = (count.saturating_add(1), now_ms);
    }
}

impl Entry {
    /// Recent failures: none once the pair has been quiet long enough.
    fn failures(&self, now_ms: i64) -> u32 {
        let (count, last) = *self.failures.lock().expect("not poisoned");
        if now_ms - last > QUIET_MS { 0 } else { count }
    }
}

/// How long an attempt waits after `failures` recent failures: nothing for the first few,
/// then 1 s, 2 s, 4 s, 8 s, 8 s, …
fn delay(failures: u32) -> Duration {
    match failures.checked_sub(FREE_FAILURES) {
        None => Duration::ZERO,
        Some(extra) => Duration::from_secs(1u64 << extra.min(3)).min(MAX_DELAY),
    }
}

#[cfg(test)]
mod tests;
