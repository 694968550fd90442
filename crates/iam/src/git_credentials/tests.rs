//! Tests of HTTPS git credentials: created, listed, checked, revoked, and read back from the
//! format existing installations stored.

use engine::kinds::GIT_CREDENTIAL;
use engine::store::{Document, Store, Write};
use serde_json::json;

use super::*;
use crate::crypto::SecretBox;

/// An identity over a private in-memory store, with the user `alice`.
async fn identity() -> (Identity, Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let secrets = SecretBox::load_or_create(&dir.path().join("master.key"), true).unwrap();
    let identity = Identity::new(store.clone(), secrets, "000000000000");
    identity.create_user("alice", 0).await.unwrap();
    (identity, store, dir)
}

#[tokio::test]
async fn created_credentials_check_until_revoked_and_only_with_their_password() {
    let (identity, store, _dir) = identity().await;
    let (name, password) = identity.create_git_credentials("alice", 1_000).await.unwrap();
    assert!(name.starts_with("alice-at-") && name.len() == "alice-at-".len() + 6, "{name}");
    assert!(name["alice-at-".len()..].bytes().all(|b| b.is_ascii_digit()), "{name}");
    assert_eq!(password.len(), 40);
    assert!(password.bytes().all(|b| b.is_ascii_alphanumeric()), "{password}");

    let stored = store.get(GIT_CREDENTIAL, &name).await.unwrap().unwrap();
    assert_eq!(stored.parent.as_deref(), Some("alice"));
    assert_eq!(stored.body["userName"], "alice");
    assert_eq!(stored.body["status"], "Active");
    assert_eq!(stored.body["createdMs"], 1_000);
    assert!(!stored.body.to_string().contains(&password));

    let check = |name: &str, password: &str| {
        let (identity, name, password) = (identity.clone(), name.to_owned(), password.to_owned());
        async move { identity.check_git_credentials(&name, &password).await.unwrap() }
    };
    assert_eq!(check(&name, &password).await.as_deref(), Some("alice"));
    assert_eq!(check(&name, &password.to_lowercase()).await, None);
    assert_eq!(check(&name, "").await, None);
    assert_eq!(check("alice-at-nope", &password).await, None);

    identity.revoke_git_credentials(&name).await.unwrap();
    assert_eq!(check(&name, &password).await, None);
    let stored = store.get(GIT_CREDENTIAL, &name).await.unwrap().unwrap();
    assert_eq!(stored.body["status"], "Inactive");
}

#[tokio::test]
async fn unknown_users_and_credentials_are_errors() {
    let (identity, _store, _dir) = identity().await;
    let created = identity.create_git_credentials("nobody", 0).await;
    assert!(matches!(created, Err(IdentityError::NoSuchUser(user)) if user == "nobody"));
    let revoked = identity.revoke_git_credentials("alice-at-000000").await;
    assert!(
        matches!(&revoked, Err(IdentityError::NoSuchGitCredentials(name)) if name == "alice-at-000000"),
        "{revoked:?}"
    );
}

#[tokio::test]
async fn a_users_list_holds_their_own_credentials_oldest_first() {
    let (identity, _store, _dir) = identity().await;
    identity.create_user("bob", 0).await.unwrap();
    let (first, _) = identity.create_git_credentials("alice", 10).await.unwrap();
    let (second, _) = identity.create_git_credentials("alice", 20).await.unwrap();
    identity.create_git_credentials("bob", 15).await.unwrap();
    identity.revoke_git_credentials(&first).await.unwrap();

    let listed = identity.list_git_credentials("alice").await.unwrap();
    let credential = |git_user_name: &str, active, created_ms| GitCredential {
        git_user_name: git_user_name.to_owned(),
        user: "alice".to_owned(),
        active,
        created_ms,
    };
    assert_eq!(listed, [credential(&first, false, 10), credential(&second, true, 20)]);
    assert_eq!(
        identity.git_credential(&second).await.unwrap(),
        Some(credential(&second, true, 20))
    );
    assert_eq!(identity.git_credential("alice-at-nope").await.unwrap(), None);
    assert!(identity.list_git_credentials("carol").await.unwrap().is_empty());
}

/// Credentials as existing installations stored them (salt 00112233…eeff, password
/// `correct horse`, the hash computed elsewhere with Python's `hashlib.sha256`) still check.
#[tokio::test]
async fn credentials_in_the_stored_format_check() {
    let (identity, store, _dir) = identity().await;
    assert_eq!(
        password_hash(&hex::decode("00112233445566778899aabbccddeeff").unwrap(), "correct horse"),
        "45696a7b84e9eb106109744e5fbfb29e78e426967c48f3b00e9e90ea602e5e3d"
    );
    let document = Document {
        kind: GIT_CREDENTIAL.to_owned(),
        key: "alice-at-123456".to_owned(),
        parent: Some("alice".to_owned()),
        sort: 5,
        version: 0,
        body: json!({
            "userName": "alice",
            "passwordHash": "45696a7b84e9eb106109744e5fbfb29e78e426967c48f3b00e9e90ea602e5e3d",
            "salt": "00112233445566778899aabbccddeeff",
            "status": "Active",
            "createdMs": 5,
        }),
    };
    store.apply(vec![Write::Insert(document)]).await.unwrap();
    let check =
        |password: &'static str| identity.check_git_credentials("alice-at-123456", password);
    assert_eq!(check("correct horse").await.unwrap().as_deref(), Some("alice"));
    assert_eq!(check("correct horsE").await.unwrap(), None);
}

#[test]
fn a_damaged_credential_matches_no_password() {
    let body = |salt: serde_json::Value, hash: serde_json::Value| json!({ "userName": "alice", "passwordHash": hash, "salt": salt, "status": "Active" });
    let hash = json!(password_hash(b"salt", "pw"));
    assert!(password_matches(&body(json!(hex::encode(b"salt")), hash.clone()), "pw"));
    assert!(!password_matches(&body(json!("not hex"), hash.clone()), "pw"));
    assert!(!password_matches(&body(json!(null), hash), "pw"));
    assert!(!password_matches(&body(json!(hex::encode(b"salt")), json!(null)), "pw"));
}
