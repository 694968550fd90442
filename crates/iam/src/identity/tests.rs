//! Tests of console password hashing.

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
