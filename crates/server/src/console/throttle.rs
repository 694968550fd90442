//! Slowing down password guessing on the sign-in form.
//!
//! Failed sign-ins are counted per user name. After a few, every further attempt for that name
//! waits before it is checked, longer with each failure (up to [`MAX_DELAY`]), and attempts for
//! one name are checked one at a time, so sending many at once does not help. A success, or
//! [`QUIET_MS`] without a failure, forgets the name. Nobody is locked out: the right password
//! still signs in, only later. The counts live in this process (a replica counts its own), and
//! at most [`MAX_NAMES`] names are remembered.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::OwnedMutexGuard;

/// Failures that cost nothing; a typo or two should not slow anyone down.
const FREE_FAILURES: u32 = 3;
/// The longest wait before an attempt is checked.
const MAX_DELAY: Duration = Duration::from_secs(8);
/// How long after its last failure a name is forgotten.
const QUIET_MS: i64 = 15 * 60 * 1000;
/// How many names are remembered at most; beyond, the quiet ones are forgotten first.
const MAX_NAMES: usize = 10_000;

/// The failures of every user name (see the module documentation).
#[derive(Default)]
pub(crate) struct Throttle {
    names: Mutex<HashMap<String, Arc<Name>>>,
}

/// One user name's failures.
#[derive(Default)]
struct Name {
    /// Held while an attempt for this name waits and is checked.
    turn: Arc<tokio::sync::Mutex<()>>,
    /// `(failures, time of the last one in ms)`.
    failures: Mutex<(u32, i64)>,
}

/// One attempt in progress: it holds its name's turn until it is dropped.
pub(super) struct Attempt {
    name: Arc<Name>,
    _turn: OwnedMutexGuard<()>,
}

impl Throttle {
    /// Waits for this name's turn and then its delay; report the outcome to the returned
    /// attempt's [`Attempt::failed`], or to [`Throttle::succeeded`].
    pub(super) async fn attempt(&self, user: &str, now_ms: i64) -> Attempt {
        let name = self.name(user, now_ms);
        let turn = Arc::clone(&name.turn).lock_owned().await;
        let wait = delay(name.failures(now_ms));
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        Attempt { name, _turn: turn }
    }

    /// The right password: the name's failures are forgotten.
    pub(super) fn succeeded(&self, user: &str) {
        self.names.lock().expect("not poisoned").remove(user);
    }

    fn name(&self, user: &str, now_ms: i64) -> Arc<Name> {
        let mut names = self.names.lock().expect("not poisoned");
        if names.len() >= MAX_NAMES && !names.contains_key(user) {
            names.retain(|_, name| name.failures(now_ms) > 0);
            if names.len() >= MAX_NAMES {
                names.clear();
            }
        }
        Arc::clone(names.entry(user.to_owned()).or_default())
    }
}

impl Attempt {
    /// A wrong password.
    pub(super) fn failed(&self, now_ms: i64) {
        let count = self.name.failures(now_ms);
        *self.name.failures.lock().expect("not poisoned") = (count.saturating_add(1), now_ms);
    }
}

impl Name {
    /// Recent failures: none once the name has been quiet long enough.
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
