//! The recorder: requests add their events to a bounded in-memory batch (never waiting), and
//! one background task writes the batch to the store, a chunk (`crate::chunk`: one document,
//! deflated on a blocking thread) of at most [`MAX_BATCH`] events per `Store::apply`.
//!
//! An event is written as JSON text, on the request's own thread, into a buffer of that thread
//! and then appended to the batch's lines under a short lock: no allocation per event, no
//! queue, no task woken (the first event of a batch wakes the idle flusher; while a batch
//! gathers, only a flush asked for ends its wait).
//!
//! A flush happens [`FLUSH_INTERVAL`] after the first event of a batch, and at once on demand
//! ([`Recorder::flush`], which `LookupEvents` and the console's audit page call so that they
//! see what this process recorded before them). When the batch holds [`BUFFER`] events a
//! read-only one is dropped, counted ([`Recorder::dropped`]) and logged: a request never
//! blocks on the trail. An event that changes something (`readOnly` false) is never dropped
//! (those requests each wait for their own store transaction, so they cannot outrun the
//! flusher), so a flood of reads cannot hide a write from the trail. Events keep the order
//! they were recorded in. What a crash can lose is said in the crate's documentation.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use engine::store::Store;
use tokio::sync::{Notify, watch};

use crate::chunk::Gathering;
use crate::event::Event;

/// How long a batch gathers events after its first one.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// The most events one chunk (one store transaction) holds.
pub const MAX_BATCH: usize = 1000;

/// How many events the batch holds before new read-only ones are dropped: several flush
/// intervals at the request rate P8 measures (15k a second).
pub const BUFFER: usize = 20_000;

/// The requests' side of the trail. Cheap to clone; when every clone is gone, the flusher
/// writes what is left and ends.
#[derive(Clone)]
pub struct Recorder {
    alive: Arc<Alive>,
}

/// Held by every [`Recorder`]; its drop tells the flusher that no more events will come.
struct Alive(Arc<Shared>);

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::SeqCst);
        self.0.urgent.notify_one();
    }
}

/// The background side: [`Flusher::run`] is the loop that writes the batch to the store. It
/// can be run again after a panic (the batch is shared, not moved).
#[derive(Clone)]
pub struct Flusher {
    store: Store,
    shared: Arc<Shared>,
}

/// What both sides share.
struct Shared {
    batch: Mutex<Batch>,
    /// Wakes the idle flusher: a batch's first event.
    first_event: Notify,
    /// Ends the flusher's wait, idle or gathering: a flush wanted, the last recorder gone.
    urgent: Notify,
    /// How many batches the flusher has taken and written (or failed to write).
    written: watch::Sender<u64>,
    closed: AtomicBool,
    dropped: AtomicU64,
    capacity: usize,
}

/// The events recorded since the flusher last took them.
#[derive(Default)]
struct Batch {
    /// A chunk each, the last one filling.
    chunks: Vec<Gathering>,
    events: usize,
    /// How many batches the flusher has taken: this one is number `taken + 1`.
    taken: u64,
    flush_wanted: bool,
}

/// The most of its capacity a thread's event buffer keeps between events.
const KEPT_TEXT_CAPACITY: usize = 64 * 1024;

thread_local! {
    /// A request thread's buffer for an event's JSON text, reused from event to event.
    static TEXT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl Recorder {
    /// A recorder whose batch holds up to `capacity` read-only events, and the flusher that
    /// writes them to `store`.
    pub fn new(store: Store, capacity: usize) -> (Recorder, Flusher) {
        let shared = Arc::new(Shared {
            batch: Mutex::default(),
            first_event: Notify::new(),
            urgent: Notify::new(),
            written: watch::Sender::new(0),
            closed: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
            capacity: capacity.max(1),
        });
        let recorder = Recorder { alive: Arc::new(Alive(shared.clone())) };
        (recorder, Flusher { store, shared })
    }

    fn shared(&self) -> &Shared {
        &self.alive.0
    }

    /// Adds `event` to the batch without waiting; drops a read-only one (counted and logged)
    /// if the batch is full.
    pub fn record(&self, event: Event) {
        TEXT.with_borrow_mut(|text| {
            text.clear();
            self.add(&event, text);
            // A large event (a PutFile's content, say) does not keep its buffer's memory.
            if text.capacity() > KEPT_TEXT_CAPACITY {
                *text = Vec::new();
            }
        });
    }

    /// [`Recorder::record`] with `text`, an empty buffer to write the event's JSON in.
    fn add(&self, event: &Event, text: &mut Vec<u8>) {
        let shared = self.shared();
        if let Err(err) = serde_json::to_writer(&mut *text, event) {
            shared.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::error!(%err, "a CloudTrail event could not be written");
            return;
        }
        let facts = crate::chunk::Facts::of(event);
        let first = {
            let mut batch = shared.batch.lock().unwrap_or_else(PoisonError::into_inner);
            if event.read_only && batch.events >= shared.capacity {
                drop(batch);
                let dropped = shared.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                // Once per thousand drops, so that a flood of drops does not flood the log.
                if dropped % 1000 == 1 {
                    tracing::warn!(dropped, "CloudTrail events dropped: the buffer is full");
                }
                return;
            }
            if batch.chunks.last().is_none_or(|it| it.len() >= MAX_BATCH) {
                batch.chunks.push(Gathering::default());
            }
            if let Some(chunk) = batch.chunks.last_mut() {
                chunk.push(text, facts);
            }
            batch.events += 1;
            batch.events == 1
        };
        if first {
            shared.first_event.notify_one();
        }
    }

    /// How many events were dropped since the recorder was made.
    pub fn dropped(&self) -> u64 {
        self.shared().dropped.load(Ordering::Relaxed)
    }

    /// Waits until every event recorded before this call is written (or could not be). Waits
    /// at most `timeout` (the flusher may be restarting), and returns whether it was done.
    pub async fn flush(&self, timeout: Duration) -> bool {
        let shared = self.shared();
        let mut written = shared.written.subscribe();
        let target = {
            let mut batch = shared.batch.lock().unwrap_or_else(PoisonError::into_inner);
            batch.flush_wanted = true;
            batch.taken + 1
        };
        shared.urgent.notify_one();
        let done = written.wait_for(|written| *written >= target);
        matches!(tokio::time::timeout(timeout, done).await, Ok(Ok(_)))
    }
}

impl Flusher {
    /// Writes the batch to the store, flush after flush, until every [`Recorder`] is gone.
    pub async fn run(self) {
        let shared = &*self.shared;
        loop {
            // Idle until a batch's first event, a flush wanted, or the end.
            loop {
                let closed = shared.closed.load(Ordering::SeqCst);
                let waiting = {
                    let batch = shared.batch.lock().unwrap_or_else(PoisonError::into_inner);
                    batch.events > 0 || batch.flush_wanted
                };
                if waiting {
                    break;
                }
                if closed {
                    return;
                }
                tokio::select! {
                    () = shared.first_event.notified() => {}
                    () = shared.urgent.notified() => {}
                }
            }
            // Let the batch gather on the timer, unless a flush is wanted (or the end came).
            let wanted = shared.batch.lock().unwrap_or_else(PoisonError::into_inner).flush_wanted;
            if !wanted && !shared.closed.load(Ordering::SeqCst) {
                let _ = tokio::time::timeout(FLUSH_INTERVAL, shared.urgent.notified()).await;
            }
            let (chunks, number) = {
                let mut batch = shared.batch.lock().unwrap_or_else(PoisonError::into_inner);
                batch.events = 0;
                batch.flush_wanted = false;
                batch.taken += 1;
                (std::mem::take(&mut batch.chunks), batch.taken)
            };
            for chunk in chunks {
                self.write(chunk).await;
            }
            shared.written.send_replace(number);
        }
    }

    /// Writes one chunk, and its access keys' last use, in one transaction.
    async fn write(&self, gathered: Gathering) {
        if gathered.is_empty() {
            return;
        }
        let count = gathered.len();
        // Deflating a chunk takes a few milliseconds: not on a request's thread.
        let written = match tokio::task::spawn_blocking(move || gathered.writes()).await {
            Ok(Ok(writes)) => self.store.apply(writes).await.map_err(|err| err.to_string()),
            Ok(Err(err)) => Err(err.to_string()),
            Err(err) => Err(err.to_string()),
        };
        if let Err(err) = written {
            tracing::error!(%err, count, "CloudTrail events were lost: the store refused them");
        }
    }
}

#[cfg(test)]
mod tests;
