//! CloudTrail: the audit trail of every API call, git push and fetch, console sign-in and
//! console action, kept as CloudTrail events, and `LookupEvents`, which reads them.
//!
//! - [`event`]: the record, with CloudTrail's field names (`eventTime`, `eventSource`,
//!   `userIdentity`, `requestParameters` with secret values removed, `errorCode`, …), and
//!   how the edge describes one request to make it.
//! - [`recorder`]: the bounded in-memory buffer that requests hand their events to, and the
//!   background flush that writes them to the store in batches, in order.
//! - [`chunk`]: how a batch is stored: one document of deflated events with a summary a
//!   search reads to skip it, numbered so that the order holds across replicas.
//! - [`lookup`]: `LookupEvents` (one lookup attribute, a time range, pages, newest first).
//! - [`retention`]: deleting the events older than the retention time, in batches; and the
//!   upgrade of a store from before chunks.
//!
//! **What a crash can lose:** the events recorded since the last flush (at most one flush
//! interval, [`recorder::FLUSH_INTERVAL`]), and any read-only events a full buffer dropped
//! (counted and logged; an event that changes something is never dropped). That is the trade
//! for not slowing the API: one store transaction per request would cost every request a
//! database write, where one transaction per batch costs little per request. A request never
//! waits for the trail. Measured (bench/RESULTS.md, P8): at 15,000-18,000 BatchGetBuilds a
//! second the flush keeps up (one chunk of ~1,500 events per 100 ms, a store write of ~100 KB)
//! and nothing is dropped; the trail costs P8 about a tenth of its throughput.
//!
//! **Boundary:** this crate depends on `engine` and `awsapi` only: it records every other
//! service, so it depends on none of them (and never on the HTTP edge: the server hands it
//! what it knows of a request).

pub mod chunk;
pub mod event;
pub mod lookup;
pub mod recorder;
pub mod retention;

#[cfg(test)]
mod testing;
