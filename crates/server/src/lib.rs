//! The HTTP surfaces (next issue): the AWS JSON API, git smart HTTP, the agent API and the
//! web console.
//!
//! Nothing is here yet; see `ARCHITECTURE.md`.
