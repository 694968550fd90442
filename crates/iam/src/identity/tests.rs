//! Tests of console password hashing and of the access-key cache.

use super::*;

#[test]
fn a_password_matches_its_hash_and_nothing_else() {
    let hash = hash_password("correct horse");
    assert!(hash.starts_with("$pbkdf2-sha256$i=600000,l=32$"), "{hash}");
    assert!(verify_password(&hash, "correct horse"));
    assert!(!verify_password(&hash, "correct horsE"));
    assert!(!verify_password("not a hash", "correct horse"));
    assert!(!verify_password("pbkdf2-sha256$0$00$00", "correct horse"));
    assert!(!verify_password("pbkdf2-sha256$1$0$00", "correct horse"));
    assert!(!verify_password("$pbkdf2-sha256$i=600000,l=32$AAAA$AAAA", "correct horse"));
    // A fresh salt each time.
    assert_ne!(hash, hash_password("correct horse"));
}

/// The PHC string is the standard one: a hash computed elsewhere (Python's
/// `hashlib.pbkdf2_hmac`, salt 00112233…eeff) verifies.
#[test]
fn a_standard_phc_string_verifies() {
    let phc = "$pbkdf2-sha256$i=600000,l=32$ABEiM0RVZneImaq7zN3u/w$yG3J5Y4VoARQyffTMQxRoWt3FCsk3nrHnHNeoRjFz1A";
    assert!(verify_password(phc, "correct horse"));
    assert!(!verify_password(phc, "correct horsE"));
}

/// Hashes stored before the PHC format (`pbkdf2-sha256$ROUNDS$SALT$HASH`, hex) still sign in.
#[test]
fn a_hash_in_the_old_format_still_verifies() {
    let old = "pbkdf2-sha256$600000$00112233445566778899aabbccddeeff$\
               c86dc9e58e15a00450c9f7d3310c51a16b77142b24de7ac79c735ea118c5cf50";
    assert!(verify_password(old, "correct horse"));
    assert!(!verify_password(old, "correct horsE"));
    assert!(!verify_password(&old.replace("$600000$", "$600001$"), "correct horse"));
}

/// Two handles on one SQLite file, as two replicas would have, with an identity over each.
async fn two_replicas() -> (tempfile::TempDir, Identity, Identity) {
    let dir = tempfile::tempdir().unwrap();
    let secrets = SecretBox::load_or_create(&dir.path().join("key"), true).unwrap();
    let url = format!("sqlite:{}", dir.path().join("slipway.db").display());
    let one = Store::connect(&url).await.unwrap();
    let two = Store::connect(&url).await.unwrap();
    let account = "123456789012";
    (dir, Identity::new(one, secrets.clone(), account), Identity::new(two, secrets, account))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_read_once_is_answered_from_the_cache() {
    let (_dir, identity, _) = two_replicas().await;
    identity.create_user("bob", 0).await.unwrap();
    let key = identity.create_access_key("bob", 0).await.unwrap();
    let now = 1_000_000;
    let found = identity.secret(&key.access_key_id, now).await.unwrap().unwrap();
    assert_eq!((&*found.user, &*found.secret), ("bob", key.secret_access_key.as_str()));
    // With the user's id, as GetUser names it.
    let (user, _) = identity.user("bob").await.unwrap().unwrap();
    assert!(user.user_id.starts_with("AIDA"), "{}", user.user_id);
    assert_eq!(&*found.user_id, user.user_id.as_str());
    // Cached: the same answer, even while the store cannot be read.
    identity.store.close().await;
    assert_eq!(identity.secret(&key.access_key_id, now + 1).await.unwrap(), Some(found));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivating_a_key_here_takes_effect_at_once() {
    let (_dir, identity, _) = two_replicas().await;
    identity.create_user("bob", 0).await.unwrap();
    let key = identity.create_access_key("bob", 0).await.unwrap();
    assert!(identity.secret(&key.access_key_id, 10).await.unwrap().is_some());
    identity.revoke_access_key(&key.access_key_id).await.unwrap();
    assert_eq!(identity.secret(&key.access_key_id, 11).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_replicas_change_is_seen_once_the_entry_is_old() {
    let (_dir, here, there) = two_replicas().await;
    here.create_user("bob", 0).await.unwrap();
    let key = here.create_access_key("bob", 0).await.unwrap();
    let read_at = 5_000;
    assert!(here.secret(&key.access_key_id, read_at).await.unwrap().is_some());
    there.revoke_access_key(&key.access_key_id).await.unwrap();
    // This process did not write: the entry stands until it is KEY_CACHE_MS old.
    let last_trusted = read_at + KEY_CACHE_MS - 1;
    assert!(here.secret(&key.access_key_id, last_trusted).await.unwrap().is_some());
    assert_eq!(here.secret(&key.access_key_id, read_at + KEY_CACHE_MS).await.unwrap(), None);
    // A clock that went back does not make an entry young.
    let (_dir, here, there) = two_replicas().await;
    here.create_user("bob", 0).await.unwrap();
    let key = here.create_access_key("bob", 0).await.unwrap();
    assert!(here.secret(&key.access_key_id, read_at).await.unwrap().is_some());
    there.revoke_access_key(&key.access_key_id).await.unwrap();
    assert_eq!(here.secret(&key.access_key_id, read_at - 1).await.unwrap(), None);
}
