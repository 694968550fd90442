//! The state of the world: where everything Slipway knows is kept.
//!
//! - [`store`]: documents, counters, the job queue with leases, and log chunks, in SQLite or
//!   PostgreSQL, with one conformance suite for both.
//! - [`blob`]: artifacts, caches and other large objects, in a local directory or an
//!   S3-compatible object store, with one conformance suite for both.
//! - [`build`]: a build record's transitions from SUBMITTED to COMPLETED (pure).
//!
//! State machines for pipeline executions and deployments, and the scheduler, will join them
//! here. **Boundary:** the engine knows nothing about HTTP or agents.

mod api_error;
pub mod blob;
pub mod build;
pub mod clock;
pub mod kinds;
pub mod store;
