//! Tests of access keys through the API: the two-key quota, Active/Inactive as SigV4's
//! lookup sees it, keys of another user, deletion, and last use.

use awsapi::ErrorKind;

use super::*;
use crate::state_snapshot::{caller, changes, identity, snapshot};

/// When the tests look keys up (the key cache's clock).
const NOW: i64 = 1_000;

fn for_user(name: &str) -> CreateAccessKeyRequest {
    CreateAccessKeyRequest { user_name: Some(name.to_owned()) }
}

#[tokio::test]
async fn a_user_has_two_keys_at_most_and_the_caller_is_the_default_user() {
    let (identity, store, _dir) = identity().await;
    identity.create_user("ada", 0).await.unwrap();
    let ada = caller("ada");
    let before = snapshot(&store).await;
    // Without a name, the key is the caller's.
    let first = create_access_key(&identity, &ada, CreateAccessKeyRequest::default(), 10)
        .await
        .unwrap()
        .access_key;
    let after = snapshot(&store).await;
    assert_eq!(
        changes(&before, &after),
        // The user's document is written back (its version only), so that concurrent
        // creations cannot both pass the quota.
        [
            format!("document access-key {} added", first.access_key_id),
            "document user ada changed".into()
        ]
    );
    assert_eq!(after["document user ada"]["body"], before["document user ada"]["body"]);
    assert_eq!((first.user_name.as_str(), first.status.as_str()), ("ada", "Active"));
    assert!(first.access_key_id.starts_with("AKIA") && first.access_key_id.len() == 20);
    assert_eq!(first.secret_access_key.len(), 40);
    assert_eq!(first.create_date, Timestamp(10));
    let key = identity.secret(&first.access_key_id, NOW).await.unwrap().unwrap();
    let (user, secret) = (key.user.to_string(), key.secret.to_string());
    assert_eq!((user.as_str(), secret), ("ada", first.secret_access_key.clone()));

    create_access_key(&identity, &caller("admin"), for_user("ada"), 11).await.unwrap();
    let before = snapshot(&store).await;
    let err = create_access_key(&identity, &ada, for_user("ada"), 12).await.unwrap_err();
    assert_eq!((err.kind, err.code.as_str()), (ErrorKind::EntityConflict, "LimitExceeded"));
    assert_eq!(err.message, "Cannot exceed quota for AccessKeysPerUser: 2");
    assert_eq!(snapshot(&store).await, before);
    let err = create_access_key(&identity, &ada, for_user("nobody"), 12).await.unwrap_err();
    assert_eq!((err.kind, err.code.as_str()), (ErrorKind::EntityNotFound, "NoSuchEntity"));

    let listed = list_access_keys(&identity, &ada, ListAccessKeysRequest::default()).await.unwrap();
    let ids: Vec<&str> =
        listed.access_key_metadata.iter().map(|it| it.user_name.as_str()).collect();
    assert_eq!(ids, ["ada", "ada"]);
    assert_eq!(listed.access_key_metadata[0].access_key_id, first.access_key_id);
}

#[tokio::test]
async fn an_inactive_key_does_not_sign_and_a_deleted_one_is_gone() {
    let (identity, store, _dir) = identity().await;
    identity.create_user("ada", 0).await.unwrap();
    identity.create_user("bob", 0).await.unwrap();
    let admin = caller("admin");
    let key = create_access_key(&identity, &admin, for_user("ada"), 1).await.unwrap().access_key;
    let id = key.access_key_id.clone();
    let update = |user: &str, status: Status| UpdateAccessKeyRequest {
        user_name: Some(user.to_owned()),
        access_key_id: id.clone(),
        status,
    };

    let before = snapshot(&store).await;
    update_access_key(&identity, &admin, update("ada", Status::Inactive)).await.unwrap();
    let after = snapshot(&store).await;
    assert_eq!(changes(&before, &after), [format!("document access-key {id} changed")]);
    assert_eq!(after[&format!("document access-key {id}")]["body"]["status"], "Inactive");
    assert_eq!(identity.secret(&id, NOW).await.unwrap(), None);
    update_access_key(&identity, &admin, update("ada", Status::Active)).await.unwrap();
    assert!(identity.secret(&id, NOW).await.unwrap().is_some());

    // Another user's key is not found, and stays as it is.
    let before = snapshot(&store).await;
    let err =
        update_access_key(&identity, &admin, update("bob", Status::Inactive)).await.unwrap_err();
    assert_eq!(err.code, "NoSuchEntity");
    assert_eq!(err.message, format!("The Access Key with id {id} cannot be found."));
    let delete = |user: &str| DeleteAccessKeyRequest {
        user_name: Some(user.to_owned()),
        access_key_id: id.clone(),
    };
    assert_eq!(
        delete_access_key(&identity, &admin, delete("bob")).await.unwrap_err().code,
        "NoSuchEntity"
    );
    assert_eq!(snapshot(&store).await, before);

    let last = get_access_key_last_used(
        &identity,
        GetAccessKeyLastUsedRequest { access_key_id: id.clone() },
    )
    .await
    .unwrap();
    assert_eq!(last.user_name.as_deref(), Some("ada"));
    assert_eq!(
        last.access_key_last_used,
        AccessKeyLastUsed {
            last_used_date: None,
            service_name: "N/A".into(),
            region: "N/A".into()
        }
    );

    delete_access_key(&identity, &admin, delete("ada")).await.unwrap();
    assert_eq!(
        changes(&before, &snapshot(&store).await),
        [format!("document access-key {id} removed")]
    );
    assert_eq!(identity.secret(&id, NOW).await.unwrap(), None);
    let gone =
        get_access_key_last_used(&identity, GetAccessKeyLastUsedRequest { access_key_id: id })
            .await;
    assert_eq!(gone.unwrap_err().code, "NoSuchEntity");
}
