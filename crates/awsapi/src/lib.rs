//! What every AWS service Slipway serves shares, and nothing else: the error type
//! ([`ApiError`], a [`ErrorKind`], the AWS code and message; the HTTP status of each kind is
//! the server's business), paging tokens ([`paging`]), ARNs ([`arn`]), base64 ([`base64`]),
//! the SigV4 verifier ([`sigv4`]) and the wire helpers of the AWS protocols ([`json`] for
//! JSON 1.1, [`query`] for the Query protocol's and S3's XML).
//!
//! **Boundary:** this crate knows no HTTP library (no axum, hyper or http types) and none of
//! our other crates; the server turns requests into the plain values these functions take.

pub mod arn;
pub mod base64;
mod error;
pub mod json;
pub mod paging;
pub mod query;
pub mod sigv4;

pub use error::{ApiError, ErrorKind};

/// Who made a request, as a service function sees it: the user it acts for (a build's token
/// acts for its initiator), the access key that signed it (empty when none did: the console,
/// git credentials), and the `Host` it was sent to, for links back to this server. The server
/// derives it from the authenticated principal after `authorize` allowed the operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user: String,
    pub access_key_id: String,
    pub host: String,
}
