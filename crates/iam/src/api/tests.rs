//! Tests of what the IAM operations share: names, paths, tags, paging, ids, and IAM's errors.

use awsapi::ErrorKind;

use super::*;

#[test]
fn names_and_paths_follow_iams_patterns() {
    for good in ["ada", "a.b+c=d,e@f_g-h", &"x".repeat(64)] {
        assert!(check_name(good, "userName", 64).is_ok(), "{good}");
    }
    for bad in ["", "a b", "a/b", &"x".repeat(65)] {
        let err = check_name(bad, "userName", 64).unwrap_err();
        assert_eq!(err.code, "ValidationError", "{bad}");
    }
    for good in ["/", "/eng/", "/eng/web/"] {
        assert!(check_path(good, "path").is_ok(), "{good}");
    }
    for bad in ["", "eng", "/eng", "eng/", "//x", "/a b/"] {
        let err = check_path(bad, "path").unwrap_err();
        assert!(err.message.contains(&format!("Value '{bad}' at 'path'")), "{}", err.message);
    }
}

#[test]
fn pages_follow_markers_to_the_end() {
    let items: Vec<u32> = (0..5).collect();
    assert_eq!(page(items.clone(), None, None).unwrap(), (items.clone(), false, None));
    assert_eq!(page(items.clone(), None, Some(2)).unwrap(), (vec![0, 1], true, Some("2".into())));
    assert_eq!(page(items.clone(), Some("4"), Some(2)).unwrap(), (vec![4], false, None));
    assert_eq!(page(items.clone(), Some("9"), Some(2)).unwrap(), (vec![], false, None));
    assert_eq!(page(items.clone(), None, Some(1001)).unwrap_err().code, "ValidationError");
    assert_eq!(page(items, Some("nope"), None).unwrap_err().code, "InvalidInput");
}

#[test]
fn ids_are_fresh_or_derived_the_same_every_time() {
    let a = new_id("AIDA", 21);
    assert!(a.starts_with("AIDA") && a.len() == 21, "{a}");
    assert_ne!(a, new_id("AIDA", 21));
    let derived = derived_id("ACCA", 21, "seed");
    assert_eq!(derived, derived_id("ACCA", 21, "seed"));
    assert_ne!(derived, derived_id("ACCA", 21, "other"));
    assert!(derived.starts_with("ACCA") && derived.len() == 21, "{derived}");
    assert!(derived.bytes().all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)));
}

#[test]
fn identity_errors_become_iams_codes_with_their_statuses() {
    let cases = [
        (IdentityError::UserExists("a".into()), ErrorKind::EntityConflict, "EntityAlreadyExists"),
        (IdentityError::NoSuchUser("a".into()), ErrorKind::EntityNotFound, "NoSuchEntity"),
        (IdentityError::NoSuchKey("AKIA".into()), ErrorKind::EntityNotFound, "NoSuchEntity"),
        (IdentityError::InvalidName("a b".into()), ErrorKind::Client, "ValidationError"),
    ];
    for (err, kind, code) in cases {
        let api: ApiError = err.into();
        assert_eq!((api.kind, api.code.as_str()), (kind, code));
    }
    let conflict = store_error(StoreError::Conflict { kind: "user".into(), key: "a".into() });
    assert_eq!(
        (conflict.kind, conflict.code.as_str()),
        (ErrorKind::EntityConflict, "ConcurrentModification")
    );
    let mut tags = vec![];
    let many = (0..=MAX_TAGS).map(|i| Tag { key: i.to_string(), value: String::new() }).collect();
    assert_eq!(merge_tags(&mut tags, many).unwrap_err().code, "LimitExceeded");
}
