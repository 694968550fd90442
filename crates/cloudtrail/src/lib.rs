//! CloudTrail: the audit trail of every API call, git push and fetch, console sign-in and
//! console action, kept as CloudTrail events, and `LookupEvents`, which reads them.
//!
//! - [`event`]: the record, with CloudTrail's field names (`eventTime`, `eventSource`,
//!   `userIdentity`, `requestParameters` with secret values removed, `errorCode`, …), and
//!   how the edge describes one request to make it.
//! - [`recorder`]: the bounded in-memory buffer that requests hand their events to, and the
//!   background flush that writes them to the store in batches, in order
//!   (`Write::InsertNumbered`, so the order holds across replicas).
//! - [`lookup`]: `LookupEvents` (one lookup attribute, a time range, pages, newest first).
//! - [`retention`]: deleting the events older than the retention time, in batches.
//!
//! **What a crash can lose:** the events recorded since the last flush (at most one flush
//! interval, [`recorder::FLUSH_INTERVAL`]), and any a full buffer dropped (counted and
//! logged). That is the trade for not slowing the API: one store transaction per request
//! would cost every request a database write (P8 measures 15k requests a second of
//! BatchGetBuilds; the write would dominate them), where one transaction per batch costs
//! almost nothing per request. A request never waits for the trail.
//!
//! **Boundary:** this crate depends on `engine` and `awsapi` only: it records every other
//! service, so it depends on none of them (and never on the HTTP edge: the server hands it
//! what it knows of a request).

pub mod event;
pub mod lookup;
pub mod recorder;
pub mod retention;

#[cfg(test)]
mod testing;
