//! Base64 round trips, the standard vectors, and what decoding refuses.

use super::{decode, encode};

#[test]
fn standard_vectors_and_round_trips() {
    let vectors = [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];
    for (plain, encoded) in vectors {
        assert_eq!(encode(plain.as_bytes()), encoded, "{plain}");
        assert_eq!(decode(encoded), Some(plain.as_bytes().to_vec()), "{encoded}");
    }
    assert_eq!(encode(&[0xff, 0xfe, 0xfd]), "//79");
    let bytes: Vec<u8> = (0..=255).collect();
    assert_eq!(decode(&encode(&bytes)), Some(bytes));
}

#[test]
fn decoding_is_lenient_only_about_padding_and_line_breaks() {
    assert_eq!(decode("aGk"), Some(b"hi".to_vec()));
    assert_eq!(decode("aG\nk="), Some(b"hi".to_vec()));
    assert_eq!(decode("a"), None);
    assert_eq!(decode("aGk*"), None);
    assert_eq!(decode("aG=k"), None);
    assert_eq!(decode("a*b"), None);
}
