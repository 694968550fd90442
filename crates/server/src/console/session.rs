//! Console sessions: who is signed in, from a cookie.
//!
//! Signing in creates a session: a random token (256 bits) goes to the browser in an
//! `HttpOnly`, `SameSite=Lax` cookie, and the store keeps only its SHA-256 (kind
//! `console-session`), so a copy of the database opens no session. The session also holds a
//! random anti-forgery token that every form of the console posts back: a request another
//! site makes the browser send carries the cookie but cannot know that token. Sessions are
//! documents like everything else, so they survive restarts and every replica sees them.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use engine::store::{Document, Store, StoreError, Write};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::crypto::random_string;
use engine::kinds::CONSOLE_SESSION;

/// The cookie that carries the session token.
pub(super) const COOKIE_NAME: &str = "slipway_session";

/// How long a session lasts after signing in (AWS console sessions last 12 hours).
pub(super) const LIFETIME_MS: i64 = 12 * 60 * 60 * 1000;

const TOKEN_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A signed-in user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Session {
    pub(crate) user: String,
    /// The anti-forgery token the session's forms carry.
    pub(crate) csrf: String,
    /// Where the request the session came with was sent from (the peer's address: its
    /// `aws:SourceIp` when the console authorizes it); empty when not known. Not stored.
    pub(crate) source_ip: String,
}

impl Session {
    /// Whether a form's anti-forgery token is this session's.
    pub(super) fn accepts(&self, csrf: &str) -> bool {
        bool::from(self.csrf.as_bytes().ct_eq(csrf.as_bytes()))
    }
}

/// Starts a session for `user`; returns it and the token for the cookie. The user's expired
/// sessions go at the same time, so that sessions never presented again do not pile up.
pub(crate) async fn create(
    store: &Store,
    user: &str,
    now_ms: i64,
) -> Result<(Session, String), StoreError> {
    end_sessions(store, user, |document| expires(document) <= now_ms).await?;
    let token = random_string(43, TOKEN_ALPHABET);
    let csrf = random_string(43, TOKEN_ALPHABET);
    let session = Session { user: user.to_owned(), csrf, source_ip: String::new() };
    let document = Document {
        kind: CONSOLE_SESSION.to_owned(),
        key: token_key(&token),
        parent: Some(user.to_owned()),
        sort: now_ms,
        version: 0,
        body: json!({
            "userName": user,
            "csrf": session.csrf,
            "createdMs": now_ms,
            "expiresMs": now_ms + LIFETIME_MS,
        }),
    };
    store.apply(vec![Write::Insert(document)]).await?;
    Ok((session, token))
}

/// The session the request's cookie names, if it exists and has not expired (looked up for
/// `crate::auth`, which decides who a console caller is).
pub(crate) async fn from_request(
    store: &Store,
    headers: &HeaderMap,
    now_ms: i64,
) -> Result<Option<Session>, StoreError> {
    let Some(token) = cookie(headers, COOKIE_NAME) else {
        return Ok(None);
    };
    let Some(document) = store.get(CONSOLE_SESSION, &token_key(&token)).await? else {
        return Ok(None);
    };
    if expires(&document) <= now_ms {
        // Expired: gone for good, so that sessions do not pile up.
        store
            .apply(vec![Write::Delete { kind: CONSOLE_SESSION.to_owned(), key: document.key }])
            .await?;
        return Ok(None);
    }
    let field = |name: &str| document.body[name].as_str().unwrap_or_default().to_owned();
    Ok(Some(Session { user: field("userName"), csrf: field("csrf"), source_ip: String::new() }))
}

/// Ends every session of `user` but the one the request's cookie names (after a password
/// change: whoever knew the old password is signed out everywhere else).
pub(super) async fn end_others(
    store: &Store,
    user: &str,
    headers: &HeaderMap,
) -> Result<(), StoreError> {
    let current = cookie(headers, COOKIE_NAME).map(|token| token_key(&token));
    end_sessions(store, user, |document| Some(&document.key) != current.as_ref()).await
}

/// Deletes the sessions of `user` that `which` selects, in one transaction.
async fn end_sessions(
    store: &Store,
    user: &str,
    which: impl Fn(&Document) -> bool,
) -> Result<(), StoreError> {
    let writes: Vec<Write> = store
        .list_all(CONSOLE_SESSION, Some(user))
        .await?
        .into_iter()
        .filter(|document| which(document))
        .map(|document| Write::Delete { kind: CONSOLE_SESSION.to_owned(), key: document.key })
        .collect();
    if writes.is_empty() { Ok(()) } else { store.apply(writes).await }
}

fn expires(document: &Document) -> i64 {
    document.body["expiresMs"].as_i64().unwrap_or(0)
}

/// Ends the session the request's cookie names (signing out).
pub(super) async fn delete(store: &Store, headers: &HeaderMap) -> Result<(), StoreError> {
    if let Some(token) = cookie(headers, COOKIE_NAME) {
        let key = token_key(&token);
        store.apply(vec![Write::Delete { kind: CONSOLE_SESSION.to_owned(), key }]).await?;
    }
    Ok(())
}

/// The cookie that carries the sign-in form's anti-forgery token before there is a session.
const SIGN_IN_COOKIE: &str = "slipway_sign_in";

/// The sign-in form's anti-forgery token: the request's pre-session cookie if it has a
/// well-formed one (several tabs share it), else a new one; and whether it is new.
pub(super) fn sign_in_token(headers: &HeaderMap) -> (String, bool) {
    match cookie(headers, SIGN_IN_COOKIE) {
        Some(token) if token.len() == 43 && token.bytes().all(|b| TOKEN_ALPHABET.contains(&b)) => {
            (token, false)
        }
        _ => (random_string(43, TOKEN_ALPHABET), true),
    }
}

/// Whether a posted sign-in form's token is the one in the request's pre-session cookie: a
/// form another site makes the browser post cannot read that cookie.
pub(super) fn sign_in_accepts(headers: &HeaderMap, csrf: &str) -> bool {
    cookie(headers, SIGN_IN_COOKIE)
        .is_some_and(|token| bool::from(token.as_bytes().ct_eq(csrf.as_bytes())))
}

/// The `Set-Cookie` value that gives the browser the sign-in form's `token`.
pub(super) fn set_sign_in_cookie(token: &str) -> String {
    format!(
        "{SIGN_IN_COOKIE}={token}; Path=/console/login; HttpOnly; SameSite=Strict; Max-Age=86400"
    )
}

/// The `Set-Cookie` value that gives the browser `token`.
pub(super) fn set_cookie(token: &str) -> String {
    format!(
        "{COOKIE_NAME}={token}; Path=/console; HttpOnly; SameSite=Lax; Max-Age={}",
        LIFETIME_MS / 1000
    )
}

/// The `Set-Cookie` value that makes the browser forget the session.
pub(super) fn clear_cookie() -> String {
    format!("{COOKIE_NAME}=; Path=/console; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// The store key of a session: the token's SHA-256, never the token.
fn token_key(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The value of the cookie `name` among the request's `Cookie` headers.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests;
