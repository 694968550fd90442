//! Tests of console sessions: cookies, anti-forgery tokens, expiry and signing out.

use super::*;

fn headers(cookies: &[&str]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for value in cookies {
        headers.append(COOKIE, value.parse().unwrap());
    }
    headers
}

#[test]
fn the_session_cookie_is_found_among_others() {
    let found = cookie(&headers(&["a=1; slipway_session=abc; b=2"]), COOKIE_NAME);
    assert_eq!(found.as_deref(), Some("abc"));
    let found = cookie(&headers(&["a=1", "slipway_session=xyz"]), COOKIE_NAME);
    assert_eq!(found.as_deref(), Some("xyz"));
    assert_eq!(cookie(&headers(&["slipway_session="]), COOKIE_NAME), None);
    assert_eq!(cookie(&headers(&["other_slipway_session=abc"]), COOKIE_NAME), None);
    assert_eq!(cookie(&headers(&[]), COOKIE_NAME), None);
}

#[test]
fn a_form_token_must_be_the_sessions() {
    let session =
        Session { user: "admin".to_owned(), csrf: "token".to_owned(), source_ip: String::new() };
    assert!(session.accepts("token"));
    assert!(!session.accepts("toke"));
    assert!(!session.accepts(""));
}

#[tokio::test]
async fn sessions_are_found_by_token_and_end_on_expiry_or_sign_out() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let (session, token) = create(&store, "admin", 1_000).await.unwrap();
    let request = headers(&[&format!("{COOKIE_NAME}={token}")]);
    let found = from_request(&store, &request, 2_000).await.unwrap();
    assert_eq!(found, Some(session.clone()));
    // The token itself is not a key in the store.
    assert!(store.get(CONSOLE_SESSION, &token).await.unwrap().is_none());
    // Another token opens nothing.
    let forged = headers(&[&format!("{COOKIE_NAME}={}", "x".repeat(43))]);
    assert_eq!(from_request(&store, &forged, 2_000).await.unwrap(), None);
    // Past its lifetime the session is gone, and stays gone.
    let expired = from_request(&store, &request, 1_000 + LIFETIME_MS).await.unwrap();
    assert_eq!(expired, None);
    assert!(store.get(CONSOLE_SESSION, &token_key(&token)).await.unwrap().is_none());

    let (_, token) = create(&store, "admin", 5_000).await.unwrap();
    let request = headers(&[&format!("{COOKIE_NAME}={token}")]);
    delete(&store, &request).await.unwrap();
    assert_eq!(from_request(&store, &request, 6_000).await.unwrap(), None);
}

#[tokio::test]
async fn a_new_session_clears_expired_ones_and_a_password_change_ends_the_others() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let (_, old) = create(&store, "admin", 0).await.unwrap();
    let (_, other) = create(&store, "admin", LIFETIME_MS - 10).await.unwrap();
    let (_, bobs) = create(&store, "bob", 0).await.unwrap();
    // Signing in after the first one expired removes it, and only it.
    let (_, current) = create(&store, "admin", LIFETIME_MS + 1).await.unwrap();
    assert!(store.get(CONSOLE_SESSION, &token_key(&old)).await.unwrap().is_none());
    assert!(store.get(CONSOLE_SESSION, &token_key(&other)).await.unwrap().is_some());
    assert!(store.get(CONSOLE_SESSION, &token_key(&bobs)).await.unwrap().is_some());

    let request = headers(&[&format!("{COOKIE_NAME}={current}")]);
    end_others(&store, "admin", &request).await.unwrap();
    assert!(store.get(CONSOLE_SESSION, &token_key(&other)).await.unwrap().is_none());
    assert!(store.get(CONSOLE_SESSION, &token_key(&current)).await.unwrap().is_some());
    assert!(store.get(CONSOLE_SESSION, &token_key(&bobs)).await.unwrap().is_some());
}
