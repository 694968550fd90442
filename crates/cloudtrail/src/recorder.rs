//! The recorder: requests hand their events to a bounded in-memory buffer (never waiting), and
//! one background task flushes the buffer to the store in batches, one `Store::apply` each.
//! An event becomes its JSON text where it is recorded, on the request's own thread; the
//! flusher makes each batch one chunk (`crate::chunk`: one document, deflated, made on a
//! blocking thread) and writes it in one transaction.
//!
//! A flush happens [`FLUSH_INTERVAL`] after the first event of a batch arrived, and at once on
//! demand ([`Recorder::flush`], which `LookupEvents` and the console's audit page call so that
//! they see what this process recorded before them); it writes every event waiting then, in
//! chunks of at most [`MAX_BATCH`], a transaction each. Between flushes the flusher sleeps on its timer, not
//! on the buffer: a request's event wakes no task (under load, one wake-up per interval
//! instead of one per request, which cost every request's thread its caches). When the buffer is full a read-only event is dropped, counted
//! ([`Recorder::dropped`]) and logged: a request never blocks on the trail. An event that
//! changes something (`readOnly` false) is never dropped: it goes by a queue of its own,
//! without a bound (those requests each wait for their own store transaction, so they cannot
//! outrun the flusher), so a flood of reads cannot hide a write from the trail. What a crash
//! can lose is said in the crate's documentation.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use engine::store::Store;
use tokio::sync::{Mutex, Notify, mpsc, oneshot};

use crate::chunk::{Chunk, Recorded};
use crate::event::Event;

/// How long a batch gathers events after its first one.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// The most events one chunk (one store transaction) holds.
pub const MAX_BATCH: usize = 1000;

/// How many events the buffer holds before new ones are dropped: several flush intervals at
/// the request rate P8 measures (15k a second).
pub const BUFFER: usize = 20_000;

/// What travels through the buffer.
#[derive(Debug)]
enum Message {
    Event(Box<Recorded>),
    /// Write everything sent before this, then answer.
    Flush(oneshot::Sender<()>),
}

/// The requests' side of the trail. Cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    sender: mpsc::Sender<Message>,
    /// Events that change something: never dropped.
    changes: mpsc::UnboundedSender<Box<Recorded>>,
    dropped: Arc<AtomicU64>,
    /// Ends the flusher's wait for a batch to gather: someone waits for a flush.
    flush_wanted: Arc<Notify>,
}

/// The background side: [`Flusher::run`] is the loop that writes the buffer to the store. It
/// can be run again after a panic (the buffer's receiving end is shared, not moved).
#[derive(Clone)]
pub struct Flusher {
    store: Store,
    receivers: Arc<Mutex<Receivers>>,
    flush_wanted: Arc<Notify>,
}

/// The flusher's ends of the two queues.
struct Receivers {
    messages: mpsc::Receiver<Message>,
    changes: mpsc::UnboundedReceiver<Box<Recorded>>,
}

impl Receivers {
    /// What is waiting now, into `messages` until it holds [`MAX_BATCH`] events (changes
    /// first: their queue has no bound); whether something was left.
    fn take(&mut self, messages: &mut Vec<Message>) -> bool {
        while messages.len() < MAX_BATCH {
            match self.changes.try_recv() {
                Ok(event) => messages.push(Message::Event(event)),
                Err(_) => break,
            }
        }
        while messages.len() < MAX_BATCH {
            match self.messages.try_recv() {
                Ok(message) => messages.push(message),
                Err(_) => break,
            }
        }
        !self.changes.is_empty() || !self.messages.is_empty()
    }
}

impl Recorder {
    /// A recorder with a buffer of `capacity` events, and the flusher that writes them to
    /// `store`.
    pub fn new(store: Store, capacity: usize) -> (Recorder, Flusher) {
        let (sender, messages) = mpsc::channel(capacity.max(1));
        let (changes, changes_receiver) = mpsc::unbounded_channel();
        let flush_wanted = Arc::new(Notify::new());
        let recorder = Recorder {
            sender,
            changes,
            dropped: Arc::default(),
            flush_wanted: flush_wanted.clone(),
        };
        let receivers = Receivers { messages, changes: changes_receiver };
        let flusher = Flusher { store, receivers: Arc::new(Mutex::new(receivers)), flush_wanted };
        (recorder, flusher)
    }

    /// Hands `event` to the buffer without waiting; drops a read-only one (counted and
    /// logged) if the buffer is full, and any if the flusher is gone.
    pub fn record(&self, event: Event) {
        let document = match Recorded::of(&event) {
            Ok(document) => Box::new(document),
            Err(err) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::error!(%err, "a CloudTrail event could not be written");
                return;
            }
        };
        if !event.read_only {
            if self.changes.send(document).is_err() {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("a CloudTrail event dropped: the recorder is stopped");
            }
            return;
        }
        if let Err(err) = self.sender.try_send(Message::Event(document)) {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            let why = match err {
                mpsc::error::TrySendError::Full(_) => "the buffer is full",
                mpsc::error::TrySendError::Closed(_) => "the recorder is stopped",
            };
            // Once per thousand drops, so that a flood of drops does not flood the log.
            if dropped % 1000 == 1 {
                tracing::warn!(dropped, why, "CloudTrail events dropped");
            }
        }
    }

    /// How many events were dropped since the recorder was made.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Waits until every event recorded before this call is written (or could not be). Waits
    /// at most `timeout` (the flusher may be restarting), and returns whether it was done.
    pub async fn flush(&self, timeout: Duration) -> bool {
        let (done, wait) = oneshot::channel();
        let flushed = async {
            if self.sender.send(Message::Flush(done)).await.is_err() {
                return false;
            }
            // The flusher may be letting a batch gather: it stops waiting (or, if it is
            // writing, does not wait next time).
            self.flush_wanted.notify_one();
            wait.await.is_ok()
        };
        tokio::time::timeout(timeout, flushed).await.unwrap_or(false)
    }
}

impl Flusher {
    /// Writes the buffer's events to the store in batches until every [`Recorder`] is gone.
    pub async fn run(self) {
        let mut receivers = self.receivers.lock().await;
        let receivers = &mut *receivers;
        let mut messages = Vec::with_capacity(MAX_BATCH);
        loop {
            messages.clear();
            // Idle until a batch's first event (or flush) arrives.
            tokio::select! {
                got = receivers.messages.recv_many(&mut messages, MAX_BATCH) => {
                    if got == 0 {
                        return;
                    }
                }
                Some(event) = receivers.changes.recv() => messages.push(Message::Event(event)),
            }
            // Let the batch gather on the timer alone, unless a flush is wanted.
            if !has_flush(&messages) {
                let _ = tokio::time::timeout(FLUSH_INTERVAL, self.flush_wanted.notified()).await;
            }
            // Everything waiting now, a chunk per MAX_BATCH. A flush answers once all of it is
            // written: for every change recorded before it, wherever it waited.
            let mut flushes = Vec::new();
            loop {
                let more = receivers.take(&mut messages);
                self.write(&mut messages, &mut flushes).await;
                if !more {
                    break;
                }
            }
            for done in flushes {
                // The caller may have stopped waiting.
                let _ = done.send(());
            }
        }
    }

    /// Writes the events among `messages` as one chunk in one transaction; the flushes among
    /// them into `flushes`.
    async fn write(&self, messages: &mut Vec<Message>, flushes: &mut Vec<oneshot::Sender<()>>) {
        let mut events = Vec::new();
        for message in messages.drain(..) {
            match message {
                Message::Event(event) => events.push(*event),
                Message::Flush(done) => flushes.push(done),
            }
        }
        if !events.is_empty() {
            let count = events.len();
            // Deflating a chunk takes a few milliseconds: not on a request's thread.
            let written = match tokio::task::spawn_blocking(move || Chunk::of(&events)).await {
                Ok(chunk) => match chunk.write() {
                    Ok(write) => self.store.apply(vec![write]).await.map_err(|err| err.to_string()),
                    Err(err) => Err(err.to_string()),
                },
                Err(err) => Err(err.to_string()),
            };
            if let Err(err) = written {
                tracing::error!(%err, count, "CloudTrail events were lost: the store refused them");
            }
        }
    }
}

fn has_flush(messages: &[Message]) -> bool {
    messages.iter().any(|message| matches!(message, Message::Flush(_)))
}

#[cfg(test)]
mod tests;
