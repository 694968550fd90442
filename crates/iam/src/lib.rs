//! IAM and the secrets it guards: users, access keys and console passwords ([`identity`]),
//! HTTPS git credentials ([`git_credentials`]), the IAM API's operations on them ([`api`]:
//! [`users`], [`access_keys`], [`login_profiles`], [`groups`], [`ssh_keys`],
//! [`service_credentials`], [`roles`], managed and inline [`policies`], [`simulation`],
//! [`authorization_details`]), STS's temporary credentials ([`sessions`]), the policies that
//! apply to a principal, cached for the server's every request ([`effective`]), a role as an
//! AWS service acts as it ([`service_roles`]), the installation's sealing key ([`crypto`]),
//! and the sealed parameters and secrets with the SSM and Secrets Manager operations that set
//! them ([`secrets_store`]); the IAM policy documents that say who may do what, with their
//! evaluation ([`policy`]); and AWS's tables of actions, resource types, condition keys and
//! managed policies for the services we serve, generated from published data ([`catalog`]).
//!
//! The secrets store lives here rather than in a `secrets` crate of its own: it and the
//! access-key secrets are sealed under the one key [`crypto::SecretBox`] holds, and neither
//! has another user, so one crate keeps the key in one place. Reading a request's credentials
//! (Basic headers, the credential helper's signed password) stays in the server, at the HTTP
//! edge; it asks this crate whom they stand for.
//!
//! **Boundary:** no HTTP edge: this crate never depends on axum, askama or `server`.

pub mod access_keys;
pub mod api;
pub mod authorization_details;
pub mod catalog;
pub mod crypto;
pub mod effective;
pub mod git_credentials;
pub mod groups;
pub mod identity;
pub mod login_profiles;
pub mod policies;
pub mod policy;
pub mod roles;
pub mod secrets_store;
pub mod service_credentials;
pub mod service_roles;
pub mod sessions;
pub mod simulation;
pub mod ssh_keys;
pub mod users;

#[cfg(test)]
mod state_snapshot;
