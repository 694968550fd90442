//! The recorder: requests hand their events to a bounded in-memory buffer (never waiting), and
//! one background task flushes the buffer to the store in batches, one `Store::apply` each.
//! An event becomes its stored JSON text where it is recorded, on the request's own thread, so
//! the flusher only binds texts (one allocation per event crosses threads, not its tree).
//!
//! A flush happens when [`MAX_BATCH`] events have gathered or [`FLUSH_INTERVAL`] after the
//! first event of a batch arrived, whichever comes first, and on demand ([`Recorder::flush`],
//! which `LookupEvents` and the console's audit page call so that they see what this process
//! recorded before them). When the buffer is full a read-only event is dropped, counted
//! ([`Recorder::dropped`]) and logged: a request never blocks on the trail. An event that
//! changes something (`readOnly` false) is never dropped: it goes by a queue of its own,
//! without a bound (those requests each wait for their own store transaction, so they cannot
//! outrun the flusher), so a flood of reads cannot hide a write from the trail. What a crash
//! can lose is said in the crate's documentation.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use engine::kinds;
use engine::store::{Document, RawDocument, Store, Write};
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::event::Event;

/// How long a batch waits for more events after its first one.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// The most events one flush writes (one store transaction).
pub const MAX_BATCH: usize = 1000;

/// How many events the buffer holds before new ones are dropped: several flush intervals at
/// the request rate P8 measures (15k a second).
pub const BUFFER: usize = 20_000;

/// What travels through the buffer.
#[derive(Debug)]
enum Message {
    Event(Box<RawDocument>),
    /// Write everything sent before this, then answer.
    Flush(oneshot::Sender<()>),
}

/// The requests' side of the trail. Cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    sender: mpsc::Sender<Message>,
    /// Events that change something: never dropped.
    changes: mpsc::UnboundedSender<Box<RawDocument>>,
    dropped: Arc<AtomicU64>,
}

/// The background side: [`Flusher::run`] is the loop that writes the buffer to the store. It
/// can be run again after a panic (the buffer's receiving end is shared, not moved).
#[derive(Clone)]
pub struct Flusher {
    store: Store,
    receivers: Arc<Mutex<Receivers>>,
}

/// The flusher's ends of the two queues.
struct Receivers {
    messages: mpsc::Receiver<Message>,
    changes: mpsc::UnboundedReceiver<Box<RawDocument>>,
}

impl Receivers {
    /// Every event that changes something and is waiting now, into `messages`.
    fn take_changes(&mut self, messages: &mut Vec<Message>) {
        while let Ok(event) = self.changes.try_recv() {
            messages.push(Message::Event(event));
        }
    }
}

impl Recorder {
    /// A recorder with a buffer of `capacity` events, and the flusher that writes them to
    /// `store`.
    pub fn new(store: Store, capacity: usize) -> (Recorder, Flusher) {
        let (sender, messages) = mpsc::channel(capacity.max(1));
        let (changes, changes_receiver) = mpsc::unbounded_channel();
        let recorder = Recorder { sender, changes, dropped: Arc::default() };
        let receivers = Receivers { messages, changes: changes_receiver };
        let flusher = Flusher { store, receivers: Arc::new(Mutex::new(receivers)) };
        (recorder, flusher)
    }

    /// Hands `event` to the buffer without waiting; drops a read-only one (counted and
    /// logged) if the buffer is full, and any if the flusher is gone.
    pub fn record(&self, event: Event) {
        let document = match raw_event_document(&event) {
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
        let flushed =
            async { self.sender.send(Message::Flush(done)).await.is_ok() && wait.await.is_ok() };
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
            tokio::select! {
                got = receivers.messages.recv_many(&mut messages, MAX_BATCH) => {
                    if got == 0 {
                        return;
                    }
                }
                Some(event) = receivers.changes.recv() => messages.push(Message::Event(event)),
            }
            let deadline = tokio::time::Instant::now() + FLUSH_INTERVAL;
            while messages.len() < MAX_BATCH && !has_flush(&messages) {
                receivers.take_changes(&mut messages);
                let room = MAX_BATCH.saturating_sub(messages.len()).max(1);
                let more = async {
                    tokio::select! {
                        got = receivers.messages.recv_many(&mut messages, room) => got,
                        Some(event) = receivers.changes.recv() => {
                            messages.push(Message::Event(event));
                            1
                        }
                    }
                };
                match tokio::time::timeout_at(deadline, more).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
            // A flush answers for every change recorded before it, wherever it waited.
            receivers.take_changes(&mut messages);
            self.write(&mut messages).await;
        }
    }

    /// Writes the events among `messages` in one transaction, then answers the flushes.
    async fn write(&self, messages: &mut Vec<Message>) {
        let mut documents = Vec::new();
        let mut flushes = Vec::new();
        for message in messages.drain(..) {
            match message {
                Message::Event(document) => documents.push(*document),
                Message::Flush(done) => flushes.push(done),
            }
        }
        if !documents.is_empty() {
            let count = documents.len();
            let counter = kinds::CLOUDTRAIL_EVENT_COUNTER.to_owned();
            let batch = Write::InsertNumberedBatch { counter, documents };
            if let Err(err) = self.store.apply(vec![batch]).await {
                tracing::error!(%err, count, "CloudTrail events were lost: the store refused them");
            }
        }
        for done in flushes {
            // The caller may have stopped waiting.
            let _ = done.send(());
        }
    }
}

fn has_flush(messages: &[Message]) -> bool {
    messages.iter().any(|message| matches!(message, Message::Flush(_)))
}

/// The store write of one event: the next number of the events' counter, with the name a
/// lookup by `Username` matches (`UserIdentity::lookup_name`) as the parent (so that such a
/// lookup reads only that user's events).
pub fn event_write(event: &Event) -> Result<Write, serde_json::Error> {
    let counter = kinds::CLOUDTRAIL_EVENT_COUNTER.to_owned();
    Ok(Write::InsertNumbered { counter, document: event_document(event)? })
}

/// The document of one event, numbered when it is written, with its body as JSON text.
fn raw_event_document(event: &Event) -> Result<RawDocument, serde_json::Error> {
    Ok(RawDocument {
        kind: kinds::CLOUDTRAIL_EVENT.to_owned(),
        key: String::new(),
        parent: event.user_identity.lookup_name().map(str::to_owned),
        sort: 0,
        version: 0,
        body: serde_json::value::to_raw_value(event)?,
    })
}

/// The document of one event, numbered when it is written.
fn event_document(event: &Event) -> Result<Document, serde_json::Error> {
    Ok(Document {
        kind: kinds::CLOUDTRAIL_EVENT.to_owned(),
        key: String::new(),
        parent: event.user_identity.lookup_name().map(str::to_owned),
        sort: 0,
        version: 0,
        body: serde_json::to_value(event)?,
    })
}

#[cfg(test)]
mod tests;
