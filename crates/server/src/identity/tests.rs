//! Tests of console password hashing.

use super::*;

#[test]
fn a_password_matches_its_hash_and_nothing_else() {
    let hash = hash_password("correct horse");
    assert!(hash.starts_with("pbkdf2-sha256$600000$"), "{hash}");
    assert!(verify_password(&hash, "correct horse"));
    assert!(!verify_password(&hash, "correct horsE"));
    assert!(!verify_password("not a hash", "correct horse"));
    assert!(!verify_password("pbkdf2-sha256$0$00$00", "correct horse"));
    assert!(!verify_password("pbkdf2-sha256$1$0$00", "correct horse"));
    // A fresh salt each time.
    assert_ne!(hash, hash_password("correct horse"));
}
