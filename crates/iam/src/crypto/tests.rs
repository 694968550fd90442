//! Sealing and opening secrets; the key file's creation and permissions.

use std::os::unix::fs::PermissionsExt;

use super::{SecretBox, random_string};

#[test]
fn sealed_values_open_only_under_the_same_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("master.key");
    let secrets = SecretBox::load_or_create(&key, true).unwrap();
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    let sealed = secrets.seal("s3cret");
    assert!(!sealed.contains("s3cret"));
    assert_ne!(sealed, secrets.seal("s3cret"), "a fresh nonce every time");
    // The same key file, loaded again, opens it; another key does not.
    assert_eq!(SecretBox::load_or_create(&key, true).unwrap().open(&sealed).unwrap(), "s3cret");
    let other = SecretBox::load_or_create(&dir.path().join("other.key"), true).unwrap();
    assert!(other.open(&sealed).is_err());
    assert!(secrets.open("zz").is_err());
}

#[test]
fn a_key_file_readable_by_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("master.key");
    SecretBox::load_or_create(&key, true).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = SecretBox::load_or_create(&key, true).err().unwrap().to_string();
    assert!(err.contains("readable by others"), "{err}");
}

#[test]
fn random_strings_use_the_alphabet() {
    let text = random_string(40, b"AB");
    assert_eq!(text.len(), 40);
    assert!(text.chars().all(|c| c == 'A' || c == 'B'));
}
