//! Parameters and secrets written by many requests at once, and the bounds of their names.

use serde_json::json;

use super::{SecretsStore, ssm};
use crate::crypto::SecretBox;

/// A secrets store over a private in-memory store and a fresh key.
async fn secrets_store() -> (SecretsStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = engine::store::Store::connect("sqlite::memory:").await.unwrap();
    let sealer = SecretBox::load_or_create(&dir.path().join("master.key"), true).unwrap();
    (SecretsStore::new(store, sealer), dir)
}

/// Secrets Manager in the region and account the server tests used.
async fn secrets_manager(
    secrets: &SecretsStore,
    operation: &str,
    input: serde_json::Value,
) -> Result<serde_json::Value, awsapi::ApiError> {
    super::secrets_manager(secrets, "us-east-1", "000000000000", operation, input).await
}

#[tokio::test]
async fn parallel_overwrites_all_succeed_and_parallel_creations_give_one_secret() {
    let (state, _dir) = secrets_store().await;
    let puts: Vec<_> = (0..50)
        .map(|i| {
            let state = state.clone();
            tokio::spawn(async move {
                let input =
                    json!({ "Name": "/db/password", "Value": format!("v{i}"), "Overwrite": true });
                ssm(&state, "PutParameter", input).await
            })
        })
        .collect();
    let mut versions = std::collections::BTreeSet::new();
    for put in puts {
        match put.await.unwrap() {
            Ok(output) => assert!(versions.insert(output["Version"].as_i64().unwrap())),
            Err(err) => assert_eq!(err.code, "TooManyUpdates", "{err:?}"),
        }
    }
    assert!(!versions.is_empty());
    let got = ssm(&state, "GetParameter", json!({ "Name": "/db/password" })).await.unwrap();
    assert_eq!(got["Parameter"]["Version"].as_i64(), versions.last().copied());

    let creates: Vec<_> = (0..50)
        .map(|i| {
            let state = state.clone();
            tokio::spawn(async move {
                let input = json!({ "Name": "token", "SecretString": format!("s{i}") });
                secrets_manager(&state, "CreateSecret", input).await
            })
        })
        .collect();
    let mut created = 0;
    for create in creates {
        match create.await.unwrap() {
            Ok(_) => created += 1,
            Err(err) => assert_eq!(err.code, "ResourceExistsException", "{err:?}"),
        }
    }
    assert_eq!(created, 1);
}

#[tokio::test]
async fn names_are_bounded_as_aws_bounds_them() {
    let (state, _dir) = secrets_store().await;
    let code = |result: Result<serde_json::Value, awsapi::ApiError>| result.unwrap_err().code;
    let long = "a".repeat(2049);
    let put = |name: &str| json!({ "Name": name, "Value": "v" });
    assert_eq!(code(ssm(&state, "PutParameter", put(&long)).await), "ValidationException");
    assert_eq!(code(ssm(&state, "PutParameter", put("a b")).await), "ValidationException");
    assert_eq!(code(ssm(&state, "PutParameter", put("/aws/x")).await), "ValidationException");
    ssm(&state, "PutParameter", put(&"a".repeat(2048))).await.unwrap();
    let secret = |name: &str| json!({ "Name": name, "SecretString": "s" });
    let long = "a".repeat(513);
    assert_eq!(
        code(secrets_manager(&state, "CreateSecret", secret(&long)).await),
        "ValidationException"
    );
    assert_eq!(
        code(secrets_manager(&state, "CreateSecret", secret("a b")).await),
        "ValidationException"
    );
    secrets_manager(&state, "CreateSecret", secret(&"a".repeat(512))).await.unwrap();
}
