//! The state of the world (next issue): pure state machines for builds, pipeline executions
//! and deployments, the scheduler, the store (SQLite and PostgreSQL) and the blob store.
//!
//! Nothing is here yet; see `ARCHITECTURE.md`.
