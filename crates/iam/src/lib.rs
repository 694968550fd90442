//! IAM and the secrets it guards: users, access keys and console passwords ([`identity`]),
//! the installation's sealing key ([`crypto`]), and the sealed parameters and secrets with
//! the SSM and Secrets Manager operations that set them ([`secrets_store`]).
//!
//! The secrets store lives here rather than in a `secrets` crate of its own: it and the
//! access-key secrets are sealed under the one key [`crypto::SecretBox`] holds, and neither
//! has another user, so one crate keeps the key in one place. (Creating and revoking HTTPS
//! git credentials is still in `server::git::auth` and moves here next; checking a request's
//! credentials stays in the server, at the HTTP edge.)
//!
//! **Boundary:** no HTTP edge: this crate never depends on axum, askama or `server`.

pub mod crypto;
pub mod identity;
pub mod secrets_store;
