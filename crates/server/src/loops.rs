//! The background loops' registry: it starts each loop, restarts one that panics or ends
//! (and logs it), and tells `/healthz` which loops are down.
//!
//! A loop is a future that runs forever (lease expiry, webhooks, triggers, mirrors). Each
//! runs in a task of its own under a supervisor task, so that a panic in one loop ends
//! neither the server nor the other loops.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;

/// How long a loop that panicked waits before it starts again.
pub(crate) const RESTART_AFTER: Duration = Duration::from_secs(5);

/// What `/healthz` knows about one loop.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LoopStatus {
    /// Running now; false while it waits to start again after a panic.
    pub(crate) up: bool,
    /// How many times it panicked or ended since the server started.
    pub(crate) failures: u64,
    /// The last panic's message.
    pub(crate) last_failure: Option<String>,
}

/// The status of every registered loop, shared with the request handlers.
#[derive(Debug, Clone, Default)]
pub(crate) struct LoopHealth(Arc<Mutex<BTreeMap<&'static str, LoopStatus>>>);

impl LoopHealth {
    /// Every loop and its status, by name.
    pub(crate) fn snapshot(&self) -> BTreeMap<&'static str, LoopStatus> {
        self.0.lock().unwrap_or_else(|it| it.into_inner()).clone()
    }

    fn update(&self, name: &'static str, change: impl FnOnce(&mut LoopStatus)) {
        let mut map = self.0.lock().unwrap_or_else(|it| it.into_inner());
        change(map.entry(name).or_default());
    }

    /// The names of the loops that are down, with why; empty when all are up.
    pub(crate) fn down(&self) -> Vec<String> {
        self.snapshot()
            .into_iter()
            .filter(|(_, status)| !status.up)
            .map(|(name, status)| {
                let times = match status.failures {
                    1 => "once".to_owned(),
                    n => format!("{n} times"),
                };
                let last = status.last_failure.unwrap_or_default();
                format!("{name} (failed {times}; last: {last})")
            })
            .collect()
    }
}

/// The running loops; dropping it (or [`Loops::stop`]) stops them all.
pub(crate) struct Loops {
    health: LoopHealth,
    restart_after: Duration,
    supervisors: Vec<JoinHandle<()>>,
}

impl Loops {
    pub(crate) fn new(health: LoopHealth, restart_after: Duration) -> Loops {
        Loops { health, restart_after, supervisors: Vec::new() }
    }

    /// Starts the loop `name`: `make()` gives the loop's future, called again for every
    /// restart.
    pub(crate) fn start<F, Fut>(&mut self, name: &'static str, make: F)
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let health = self.health.clone();
        let restart_after = self.restart_after;
        // Up from the start: its task is spawned below, before anyone can ask.
        health.update(name, |status| status.up = true);
        self.supervisors.push(tokio::spawn(async move {
            loop {
                health.update(name, |status| status.up = true);
                let mut run = AbortOnDrop(tokio::spawn(make()));
                let failure = match run.await_result().await {
                    Ok(()) => "it ended".to_owned(),
                    Err(err) if err.is_panic() => {
                        format!("panicked: {}", crate::panic_message(&*err.into_panic()))
                    }
                    // Cancelled: the server is stopping.
                    Err(_) => return,
                };
                tracing::error!(loop = name, %failure, "a background loop failed; restarting it");
                health.update(name, |status| {
                    status.up = false;
                    status.failures += 1;
                    status.last_failure = Some(failure);
                });
                tokio::time::sleep(restart_after).await;
            }
        }));
    }

    /// Stops every loop.
    pub(crate) fn stop(self) {
        drop(self);
    }
}

impl Drop for Loops {
    fn drop(&mut self) {
        for supervisor in &self.supervisors {
            supervisor.abort();
        }
    }
}

/// A loop's task, aborted when its supervisor is (a task is not cancelled with its handle).
struct AbortOnDrop(JoinHandle<()>);

impl AbortOnDrop {
    async fn await_result(&mut self) -> Result<(), tokio::task::JoinError> {
        (&mut self.0).await
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests;
